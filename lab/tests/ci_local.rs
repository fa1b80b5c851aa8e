//! `scripts/ci-local`, the workflow's `run:` steps replayed in a fresh
//! Debian 12 root: what it would replay, and its refusal without root.
//! The full replay (a fresh root, setup, a release build into its own
//! target dir, every scenario on one kernel: minutes to tens of minutes)
//! is not a test here but its own recipe, `just ci-local`, which `.ci/run`
//! runs after `just test`; the `just ci-local` recipe is checked below.

mod common;

use std::process::Command;

use common::*;

const SCRIPT: &str = "scripts/ci-local";

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

/// `just ci-local` runs the full replay (passing its arguments on), and
/// `.ci/run` runs it after `just test`.
#[test]
fn ci_local_is_its_own_recipe_run_by_ci() {
    let out = Command::new("just")
        .args(["--dry-run", "ci-local", "--kernel", "debian-7.3"])
        .current_dir(repo())
        .output();
    let Ok(out) = out else {
        eprintln!("SKIPPED ci_local_is_its_own_recipe_run_by_ci: just is not installed");
        return;
    };
    assert!(out.status.success(), "{}", text(&out));
    let dry = String::from_utf8_lossy(&out.stderr);
    assert_eq!(dry.trim(), format!("./{SCRIPT} --kernel debian-7.3"));
    let run = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    let steps: Vec<&str> = run.lines().map(str::trim).collect();
    let test = steps.iter().position(|l| *l == "just test");
    let replay = steps.iter().position(|l| *l == "just ci-local");
    assert!(
        matches!((test, replay), (Some(t), Some(r)) if t < r),
        ".ci/run does not run `just test`, then `just ci-local`:\n{run}"
    );
}
