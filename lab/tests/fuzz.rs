//! `lab fuzz` against the real data plane: generated frames on the host and
//! in the 6.12 and 7.3 VMs, and a replay of saved frames.

mod common;

use std::process::Command;

use common::*;

fn fuzz_json(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("fuzz.json")).unwrap()).unwrap()
}

/// The report is clean; `generated` cases must have seen both verdicts.
fn check_report(
    out: &std::process::Output,
    results: &std::path::Path,
    cases: u64,
    generated: bool,
) {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    let runs = run_dirs(results);
    assert_eq!(runs.len(), 1);
    let r = fuzz_json(&runs[0]);
    assert_eq!(r["cases"], cases);
    assert_eq!(r["violations"].as_array().unwrap().len(), 0, "{r}");
    assert!(r["kernel_warnings"].as_array().unwrap().is_empty(), "{r}");
    assert!(
        r["round_trips"].as_u64().unwrap() > 0,
        "egress encrypted something: {r}"
    );
    assert!(
        r["twin_runs"].as_u64().unwrap() >= 2 * cases,
        "every frame compared between the bounce and in-place builds: {r}"
    );
    let verdicts = r["verdicts"].as_array().unwrap();
    let names: Vec<&str> = verdicts.iter().map(|v| v[0].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "egress cbc(aes)",
            "ingress cbc(aes)",
            "egress ecb(aes)",
            "ingress ecb(aes)",
            "egress esp cbc(aes)",
            "ingress esp cbc(aes)",
            "egress wireguard chacha20-poly1305",
            "ingress wireguard chacha20-poly1305"
        ],
        "egress and ingress, raw with each cipher, ESP and WireGuard: {r}"
    );
    for v in verdicts.iter().filter(|_| generated) {
        let (pass, drop) = (v[1].as_u64().unwrap(), v[2].as_u64().unwrap());
        assert!(pass > 0 && drop > 0, "both verdicts seen: {v}");
    }
    assert!(!runs[0].join("failures.pcap").exists());
}

#[test]
fn fuzz_passes_on_the_host() {
    if skip_without_host("fuzz_passes_on_the_host") {
        return;
    }
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let out = lab(&["fuzz", "-q", "--seed", "42"], results.path());
    check_report(&out, results.path(), 10_000, true);
    assert!(!dataplane_loaded());
}

#[test]
fn saved_frames_replay() {
    if skip_without_host("saved_frames_replay") {
        return;
    }
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let out = lab(&["run", "-q", "scenarios/udp-sizes.yaml"], results.path());
    assert!(out.status.success(), "{}", text(&out));
    let wire = run_dirs(results.path())[0].join("wire.pcap");
    let frames = Command::new("tcpdump")
        .args(["-r", wire.to_str().unwrap(), "-qn"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().count() as u64)
        .unwrap_or(0);
    let replay = tempfile::tempdir().unwrap();
    let out = lab(
        &["fuzz", "-q", "--replay", wire.to_str().unwrap()],
        replay.path(),
    );
    check_report(&out, replay.path(), frames.max(1), false);
}

fn fuzz_on(kernel: &str) {
    if Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED fuzz on {kernel}: qemu-system-x86_64 is not installed");
        return;
    }
    ensure_kernel(kernel);
    let results = tempfile::tempdir().unwrap();
    let out = lab(
        &["fuzz", "-q", "--kernel", kernel, "--seed", "7"],
        results.path(),
    );
    check_report(&out, results.path(), 10_000, true);
}

#[test]
fn fuzz_passes_on_debian_6_12() {
    fuzz_on("debian-6.12");
}

#[test]
fn fuzz_passes_on_debian_7_3() {
    fuzz_on("debian-7.3");
}
