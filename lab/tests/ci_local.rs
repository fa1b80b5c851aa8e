//! `scripts/ci-local`: the workflow's `run:` steps replayed in a fresh
//! Debian 12 root. The full replay is slow (a fresh root, setup, a release
//! build into its own target dir, every scenario on one kernel); it is
//! skipped, with the reason, without root or debootstrap, and inside
//! ci-local itself.

mod common;

use std::process::Command;
use std::time::Instant;

use common::*;

const SCRIPT: &str = "scripts/ci-local";

/// Why the full replay cannot run here, if it cannot.
fn replay_skip_reason() -> Option<String> {
    if std::env::var_os("LAB_CI_LOCAL").is_some() {
        return Some("running inside scripts/ci-local (LAB_CI_LOCAL is set)".into());
    }
    if !nix::unistd::geteuid().is_root() {
        return Some("not root: debootstrap, chroot and bind mounts need it".into());
    }
    if Command::new("debootstrap")
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("debootstrap is not installed (./scripts/setup installs it)".into());
    }
    None
}

/// The last `n` lines of a long output, for assertion messages.
fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `--list` prints every `run:` step of the plan and kernel jobs, in the
/// workflow's order, with `matrix.kernel` substituted; it needs no root.
#[test]
fn ci_local_lists_the_workflow_steps() {
    let catalog = lab::kernels::Catalog::load(&repo()).unwrap();
    let first = catalog.names()[0].clone();
    let out = Command::new(repo().join(SCRIPT))
        .arg("--list")
        .current_dir(repo())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("needs python3 with PyYAML") {
        eprintln!(
            "SKIPPED ci_local_lists_the_workflow_steps: {}",
            stderr.trim()
        );
        return;
    }
    assert!(out.status.success(), "{}", text(&out));
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains(&format!("matrix.kernel={first}")), "{list}");
    // Every run step of the workflow, in order.
    let wf: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(repo().join(".github/workflows/lab.yml")).unwrap(),
    )
    .unwrap();
    let mut at = 0;
    for job in ["plan", "kernel"] {
        for step in wf["jobs"][job]["steps"].as_array().unwrap() {
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            let first_line = run
                .lines()
                .next()
                .unwrap()
                .replace("${{ matrix.kernel }}", &first);
            let found = list[at..]
                .find(&first_line)
                .unwrap_or_else(|| panic!("step `{first_line}` missing or out of order:\n{list}"));
            at += found + first_line.len();
        }
    }
    // The stop option names a step; a bad one is refused.
    let out = Command::new(repo().join(SCRIPT))
        .args(["--list", "--until", "no such step"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such step"));
}

/// Without root it stops at once with the reason (run as `nobody`).
#[test]
fn ci_local_refuses_without_root() {
    let mut cmd = if nix::unistd::geteuid().is_root() {
        if Command::new("setpriv").arg("--version").output().is_err() {
            eprintln!("SKIPPED ci_local_refuses_without_root: setpriv (util-linux) is missing");
            return;
        }
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c.arg(repo().join(SCRIPT));
        c
    } else {
        Command::new(repo().join(SCRIPT))
    };
    // A PATH without root's own tools: the system python3 reads the workflow.
    let out = cmd
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env_remove("LAB_CI_LOCAL")
        .current_dir("/")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("needs python3 with PyYAML") {
        eprintln!("SKIPPED ci_local_refuses_without_root: {}", stderr.trim());
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr.contains("must run as root"), "{stderr}");
}

/// The full replay passes: plan job, then the kernel job on the first
/// catalog kernel (setup, build, fetch, every scenario).
#[test]
fn ci_local_replays_the_workflow() {
    if let Some(why) = replay_skip_reason() {
        eprintln!("SKIPPED ci_local_replays_the_workflow: {why}");
        return;
    }
    let t0 = Instant::now();
    let out = Command::new(repo().join(SCRIPT))
        .current_dir(repo())
        .output()
        .unwrap();
    let took = t0.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/ci-local failed after {took:?} (status {:?}):\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}",
        out.status.code(),
        tail(&out.stdout, 60),
        tail(&out.stderr, 120)
    );
    assert!(
        stderr.contains("ci-local: ok: replayed plan kernel"),
        "{}",
        tail(&out.stderr, 40)
    );
    eprintln!(
        "ci_local_replays_the_workflow: full replay in {:.0} s",
        took.as_secs_f64()
    );
}
