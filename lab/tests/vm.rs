//! The qemu backend on a real pinned kernel under TCG (or KVM where it
//! works): ping passes, the matrix and the capability probe run, and each
//! failure class (timeout, kernel panic, unsupported kernel, missing
//! kernel, bad scenario) is reported as such.

mod common;

use std::process::Command;

use common::*;

const KERNEL: &str = "debian-6.12";

/// Why VM tests cannot run here, if they cannot.
fn vm_skip_reason() -> Option<String> {
    if Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("qemu-system-x86_64 is not installed (run ./scripts/setup)".into());
    }
    None
}

fn skip(test: &str) -> bool {
    match vm_skip_reason() {
        Some(why) => {
            eprintln!("SKIPPED {test}: {why}");
            true
        }
        None => false,
    }
}

#[test]
fn ping_passes_on_pinned_kernel() {
    if skip("ping_passes_on_pinned_kernel") {
        return;
    }
    ensure_kernel(KERNEL);
    let results = tempfile::tempdir().unwrap();
    let out = lab(
        &["run", "--kernel", KERNEL, "scenarios/ping.yaml"],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = run_dirs(results.path());
    assert_eq!(runs.len(), 1);
    let s = summary(&runs[0]);
    assert_eq!(s["verdict"], "pass", "{s}");
    assert_eq!(s["backend"], "qemu");
    assert_eq!(s["kernel_name"], KERNEL);
    assert!(s["kernel"].as_str().unwrap().starts_with("6.12."), "{s}");
    assert!(matches!(s["accelerator"].as_str(), Some("tcg" | "kvm")));
    assert!(
        s["report"]["counters"]["right"]["decrypted"]
            .as_u64()
            .unwrap()
            >= 5
    );
    assert!(runs[0].join("console.log").is_file());
    let pcap = std::fs::read(runs[0].join("wire.pcap")).unwrap();
    assert!(pcap.len() > 24 + 10 * 16, "the guest's pcap came back");
}

#[test]
fn matrix_runs_every_kernel_with_probe() {
    if skip("matrix_runs_every_kernel_with_probe") {
        return;
    }
    ensure_kernel(KERNEL);
    let results = tempfile::tempdir().unwrap();
    let out = lab(
        &[
            "matrix",
            "--no-host",
            "--kernels",
            KERNEL,
            "scenarios/ping.yaml",
        ],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = run_dirs(results.path());
    assert_eq!(runs.len(), 1);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runs[0].join("matrix.json")).unwrap()).unwrap();
    let rows = m["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["summary"]["verdict"], "pass");
    let probe = rows[0]["summary"]["probe"]["Ok"]["entries"]
        .as_array()
        .unwrap();
    let get = |c: &str| probe.iter().find(|e| e["cipher"] == c).unwrap().clone();
    assert_eq!(get("cbc(aes)")["ok"], true);
    assert_eq!(get("ecb(aes)")["ok"], true);
    assert_eq!(get("ctr(aes)")["ok"], false, "bpf_crypto refuses ctr(aes)");
    assert!(get("ctr(aes)")["errno"].as_i64().unwrap() > 0);
    // What the kernel resolved cbc(aes) to, as bpf_crypto uses it.
    let resolved = rows[0]["summary"]["probe"]["Ok"]["resolved"]
        .as_array()
        .unwrap();
    let cbc = resolved.iter().find(|r| r["name"] == "cbc(aes)").unwrap();
    assert_eq!(cbc["kind"], "lskcipher", "{cbc}");
    assert!(cbc["driver"].as_str().unwrap().contains("aes"), "{cbc}");
    // The bpf_crypto types: skcipher takes cbc(aes); aead is asked about,
    // and a kernel without it answers ENOENT (no such type).
    let types = rows[0]["summary"]["probe"]["Ok"]["types"]
        .as_array()
        .unwrap();
    let ty = |n: &str| types.iter().find(|t| t["name"] == n).unwrap().clone();
    assert_eq!(ty("skcipher")["registered"], true, "{types:?}");
    assert!(ty("skcipher")["error"].is_null(), "{types:?}");
    let aead = ty("aead");
    assert_eq!(
        aead["registered"] == false,
        aead["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("ENOENT")),
        "{aead}"
    );
    assert!(runs[0].join(KERNEL).join("summary.json").is_file());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("| debian-6.12 |") && table.contains("EINVAL"),
        "{table}"
    );
}

#[test]
fn timeout_is_reported_with_console_log() {
    if skip("timeout_is_reported_with_console_log") {
        return;
    }
    ensure_kernel(KERNEL);
    let results = tempfile::tempdir().unwrap();
    // One second cannot boot a kernel under TCG, nor under KVM with this initramfs.
    let out = lab(
        &[
            "run",
            "--kernel",
            KERNEL,
            "--timeout",
            "1",
            "scenarios/ping.yaml",
        ],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let runs = run_dirs(results.path());
    assert_eq!(runs.len(), 1);
    let s = summary(&runs[0]);
    assert_eq!(s["verdict"], "error");
    assert!(
        s["error"].as_str().unwrap().contains("timed out after 1 s"),
        "{s}"
    );
    assert!(runs[0].join("console.log").is_file(), "console log kept");
}

#[test]
fn kernel_panic_is_reported() {
    if skip("kernel_panic_is_reported") {
        return;
    }
    ensure_kernel(KERNEL);
    let results = tempfile::tempdir().unwrap();
    // No init: a real "Kernel panic - not syncing: No working init found".
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["run", "--kernel", KERNEL, "scenarios/ping.yaml"])
        .current_dir(repo())
        .env("LAB_RESULTS_DIR", results.path())
        .env("LAB_KERNEL_APPEND", "rdinit=/does-not-exist")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let runs = run_dirs(results.path());
    let s = summary(&runs[0]);
    assert_eq!(s["verdict"], "error");
    let err = s["error"].as_str().unwrap();
    assert!(
        err.starts_with("kernel panic: ") && err.contains("Kernel panic - not syncing"),
        "{err}"
    );
    let console = std::fs::read_to_string(runs[0].join("console.log")).unwrap();
    assert!(console.contains("Kernel panic"), "{console}");
}

#[test]
fn kernel_without_bpf_crypto_is_unsupported() {
    if skip("kernel_without_bpf_crypto_is_unsupported") {
        return;
    }
    ensure_kernel("debian-6.1");
    let results = tempfile::tempdir().unwrap();
    let out = lab(
        &["run", "--kernel", "debian-6.1", "scenarios/ping.yaml"],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let s = summary(&run_dirs(results.path())[0]);
    assert_eq!(s["verdict"], "unsupported", "{s}");
    assert!(s["kernel"].as_str().unwrap().starts_with("6.1."));
    assert!(
        s["error"].as_str().unwrap().contains("no bpf_crypto"),
        "{s}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("UNSUPPORTED"));
}

#[test]
fn verifier_rejection_is_saved_in_the_results() {
    if skip("verifier_rejection_is_saved_in_the_results") {
        return;
    }
    ensure_kernel("debian-6.1");
    let results = tempfile::tempdir().unwrap();
    // Force a load on a kernel without bpf_crypto: the real verifier refuses.
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["run", "--kernel", "debian-6.1", "scenarios/ping.yaml"])
        .current_dir(repo())
        .env("LAB_RESULTS_DIR", results.path())
        .env("LAB_KERNEL_APPEND", "LAB_FORCE_LOAD=1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let dir = run_dirs(results.path()).pop().unwrap();
    let s = summary(&dir);
    assert_eq!(s["verdict"], "error");
    assert!(
        s["error"]
            .as_str()
            .unwrap()
            .contains("full log in verifier.log"),
        "{s}"
    );
    let log = std::fs::read_to_string(dir.join("verifier.log")).unwrap();
    assert!(log.contains("BEGIN PROG LOAD LOG"), "{log}");
    assert!(dir.join("console.log").is_file());
}

#[test]
fn kernel_not_in_cache_is_a_clear_error() {
    let results = tempfile::tempdir().unwrap();
    let empty_cache = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["run", "--kernel", KERNEL, "scenarios/ping.yaml"])
        .current_dir(repo())
        .env("LAB_RESULTS_DIR", results.path())
        .env("LAB_CACHE_DIR", empty_cache.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lab kernels fetch debian-6.12"), "{err}");
    assert!(run_dirs(results.path()).is_empty());

    let out = lab(
        &["run", "--kernel", "no-such-kernel", "scenarios/ping.yaml"],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-kernel"));
}

#[test]
fn bad_scenario_fails_before_booting() {
    let results = tempfile::tempdir().unwrap();
    let out = lab(
        &[
            "run",
            "--kernel",
            KERNEL,
            "lab/tests/fixtures/bad-address.yaml",
        ],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad-address.yaml:9:"));
    assert!(run_dirs(results.path()).is_empty());
}

#[test]
fn vm_run_records_host_and_guest_phases() {
    if skip("vm_run_records_host_and_guest_phases") {
        return;
    }
    ensure_kernel(KERNEL);
    let results = tempfile::tempdir().unwrap();
    let out = lab(
        &["run", "--kernel", KERNEL, "scenarios/ping.yaml"],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = summary(&run_dirs(results.path())[0]);
    let list = phases(&s);
    let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
    let mut want: Vec<String> = ["initramfs build", "qemu start", "kernel boot to PID 1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    want.push("module loading".into());
    want.extend(job_phase_names(&["ping"]));
    want.push("result transfer".into());
    want.push("power-off".into());
    assert_eq!(names, want);
    // A kernel boots in more than 100 ms even under KVM; 5 pings 100 ms
    // apart take 400 ms at least.
    assert!(phase_ms(&list, "kernel boot to PID 1") > 100, "{list:?}");
    assert!(phase_ms(&list, "step 1: ping") >= 400, "{list:?}");
    // The guest's phases cover most of the run: nothing big goes unlisted.
    let sum: u64 = list.iter().map(|(_, ms)| ms).sum();
    assert!(
        sum * 10 >= s["duration_ms"].as_u64().unwrap() * 8,
        "{list:?}"
    );
}

/// Whether catalog kernel `name` is in the kernel cache (`lab kernels list`).
fn cached(name: &str) -> bool {
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["kernels", "list"])
        .current_dir(repo())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name) && l.contains(" yes "))
}

#[test]
fn parallel_matrix_keeps_one_result_per_kernel() {
    const OLD: &str = "debian-6.1";
    if skip("parallel_matrix_keeps_one_result_per_kernel") {
        return;
    }
    if !(cached(KERNEL) && cached(OLD)) {
        eprintln!(
            "SKIPPED parallel_matrix_keeps_one_result_per_kernel: {KERNEL} and {OLD} are not both cached (lab kernels fetch)"
        );
        return;
    }
    let results = tempfile::tempdir().unwrap();
    let kernels = format!("{KERNEL},{OLD}");
    let args = [
        "matrix",
        "--no-host",
        "--kernels",
        &kernels,
        "scenarios/ping.yaml",
    ];
    let out = lab(&args, results.path());
    // 6.12 passes, 6.1 has no bpf_crypto: both verdicts are acceptable.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = run_dirs(results.path());
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runs[0].join("matrix.json")).unwrap()).unwrap();
    let rows = m["rows"].as_array().unwrap();
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            let s = &r["summary"];
            (
                r["target"].as_str().unwrap(),
                s["verdict"].as_str().unwrap(),
                s["kernel"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!((got[0].0, got[0].1), (KERNEL, "pass"), "{got:?}");
    assert!(got[0].2.starts_with("6.12."), "{got:?}");
    assert_eq!((got[1].0, got[1].1), (OLD, "unsupported"), "{got:?}");
    assert!(got[1].2.starts_with("6.1."), "{got:?}");
    for k in [KERNEL, OLD] {
        let s = summary(&runs[0].join(k));
        assert_eq!(s["kernel_name"], k, "each folder holds its own kernel");
    }
    // Interleaved output stays attributable: every guest line is tagged.
    let log = text(&out);
    let steps: Vec<&str> = log.lines().filter(|l| l.contains("step 1: ping")).collect();
    assert!(!steps.is_empty(), "{log}");
    assert!(
        steps.iter().all(|l| l.contains(&format!("[{KERNEL}]"))),
        "{log}"
    );
}

#[test]
fn probe_shows_the_aes_library_driver_that_7x_kernels_resolve_to() {
    let test = "probe_shows_the_aes_library_driver_that_7x_kernels_resolve_to";
    if skip(test) {
        return;
    }
    // 7.0 replaced aes-generic, aes-fixed-time and aes-aesni by aes-lib.
    ensure_kernel("debian-7.3");
    let results = tempfile::tempdir().unwrap();
    let out = lab(&["probe", "--kernel", "debian-7.3"], results.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = |start: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no `{start}` line in:\n{stdout}"))
            .to_string()
    };
    assert!(line("cbc(aes-lib)").ends_with("ok"), "{stdout}");
    assert!(line("cbc(aes-generic)").contains("EOPNOTSUPP"), "{stdout}");
    assert!(stdout.contains("resolved by the kernel"), "{stdout}");
    let cbc = stdout
        .lines()
        .skip_while(|l| !l.starts_with("resolved by the kernel"))
        .find(|l| l.trim_start().starts_with("cbc(aes) "))
        .unwrap_or_else(|| panic!("no resolved cbc(aes) in:\n{stdout}"));
    assert!(
        cbc.contains("aes-lib") && cbc.contains("lskcipher"),
        "{cbc}"
    );
}
