//! `lab bench` against what a user would pick instead: the kernel's ESP and
//! WireGuard beside our raw and ESP builds (bounce and in place) and our
//! WireGuard (ChaCha20-Poly1305 in BPF C), the AES driver dimension, the
//! userspace hardware reference (AES and ChaCha20-Poly1305), and the
//! Findings written from the numbers. On the host (no ESP, no WireGuard here) the
//! kernel's stacks must be listed as unavailable with a reason; in the
//! debian-6.12 VM they must be measured.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

const BENCH: &str = "lab/tests/fixtures/bench-alternatives.yaml";
const KERNEL_STACKS: [&str; 3] = ["xfrm cbc+cmac", "xfrm gcm", "wireguard"];
const OURS: [&str; 5] = [
    "cbc(aes)",
    "cbc(aes) in place",
    "esp",
    "esp in place",
    "wireguard (bpf)",
];

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

fn median(v: &Value) -> f64 {
    v["median"]
        .as_f64()
        .unwrap_or_else(|| panic!("no median: {v}"))
}

fn udp<'a>(t: &'a Value, variant: &str) -> Option<&'a Value> {
    t["udp"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["variant"] == variant)
}

fn unavailable<'a>(t: &'a Value, what: &str) -> Option<&'a str> {
    t["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["what"] == what)
        .map(|u| u["reason"].as_str().unwrap())
}

/// A measured UDP figure: checks passed, every datagram intact, packets/s
/// and CPU per packet recorded.
fn assert_measured(t: &Value, variant: &str) {
    let u = udp(t, variant).unwrap_or_else(|| panic!("{variant}: no UDP figure"));
    assert_eq!(u["check"]["ok"], true, "{variant}: {}", u["check"]);
    assert!(median(&u["pps"]) > 0.0, "{variant}: {u}");
    assert!(median(&u["cpu_ns_per_packet"]) > 0.0, "{variant}: {u}");
    assert_eq!(u["corrupt"], 0, "{variant}");
}

/// Every variant is measured or listed as unavailable with a reason, never
/// dropped; our builds have micro figures that passed their checks.
fn assert_complete(t: &Value) {
    for v in OURS.iter().chain(KERNEL_STACKS.iter()) {
        match unavailable(t, v) {
            Some(reason) => assert!(!reason.is_empty(), "{v}: empty reason"),
            None => assert_measured(t, v),
        }
    }
    for v in OURS {
        for dir in ["egress", "ingress"] {
            let m = t["micro"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["variant"] == v && m["direction"] == dir && m["driver"].is_null())
                .unwrap_or_else(|| panic!("{v} {dir}: no micro figure"));
            assert_eq!(m["check"]["ok"], true, "{v} {dir}: {}", m["check"]);
        }
    }
    // Each named driver: measured, or unavailable with the kernel's errno.
    for d in ["aes-generic", "aes-aesni"] {
        let name = format!("cbc({d})");
        let measured = t["micro"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["driver"] == d);
        assert!(
            measured || unavailable(t, &name).is_some_and(|r| r.contains("bpf_crypto_ctx_create")),
            "driver {d}: neither measured nor unavailable with a reason"
        );
    }
    let hw = t["hardware"].as_array().unwrap();
    for alg in ["cbc(aes)", "chacha20-poly1305"] {
        assert!(
            hw.iter()
                .any(|h| h["algorithm"] == alg && median(&h["ns"]) > 0.0),
            "hardware reference of {alg}: {hw:?}"
        );
    }
}

/// The micro median of `variant`'s egress program, as the Findings print
/// it (`7.1 µs`).
fn egress_us(t: &Value, variant: &str) -> String {
    let m = t["micro"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["variant"] == variant && m["direction"] == "egress" && m["driver"].is_null())
        .unwrap_or_else(|| panic!("{variant}: no egress figure"));
    format!("{:.1} µs", median(&m["ns"]) / 1000.0)
}

/// The WireGuard Findings weigh `wireguard (bpf)` against the raw
/// `cbc(aes)` reference and userspace ChaCha20-Poly1305, quoting both
/// egress figures, and say whether the 1500 B target was met.
fn assert_wireguard_findings(findings: &str, t: &Value) {
    let (wg, cbc) = (egress_us(t, "wireguard (bpf)"), egress_us(t, "cbc(aes)"));
    let line = findings
        .lines()
        .find(|l| l.contains("- wireguard (bpf) (ChaCha20-Poly1305 in BPF C) against the raw"))
        .unwrap_or_else(|| panic!("no WireGuard line:\n{findings}"));
    for want in [
        format!("wireguard (bpf) egress {wg}"),
        format!("cbc(aes) egress {cbc}"),
        "userspace chacha20-poly1305".into(),
    ] {
        assert!(line.contains(&want), "`{want}` not in: {line}");
    }
    let target = findings
        .lines()
        .find(|l| l.contains("wireguard (bpf) egress target at 1500 B"))
        .unwrap_or_else(|| panic!("no target line:\n{findings}"));
    assert!(
        target.contains(&format!("wireguard (bpf) {wg} against cbc(aes) {cbc}"))
            && (target.contains(": met (") || target.contains(": missed (")),
        "{target}"
    );
}

/// The Findings say what bench.json holds: each UDP figure quoted in the
/// alternatives sentence is the JSON's median, as printed.
fn assert_findings_agree(run: &Path, t: &Value) {
    let findings = std::fs::read_to_string(run.join("findings.md")).unwrap();
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        report.contains("## Findings"),
        "report.md opens with Findings"
    );
    assert!(
        report.find("## Findings") < report.find("## How it was measured"),
        "Findings come first"
    );
    let mut quoted = 0;
    for v in OURS.iter().chain(KERNEL_STACKS.iter()) {
        let Some(u) = udp(t, v).filter(|u| u["check"]["ok"] == true) else {
            continue;
        };
        let want = format!("{v} {:.1} kpps", median(&u["pps"]) / 1000.0);
        assert!(
            findings.contains(&want),
            "findings lack `{want}`:\n{findings}"
        );
        quoted += 1;
    }
    assert!(quoted >= 2, "findings quote the UDP figures:\n{findings}");
    assert!(findings.contains("hardware limit"), "{findings}");
    assert_wireguard_findings(&findings, t);
    for v in KERNEL_STACKS {
        if let Some(reason) = unavailable(t, v) {
            assert!(
                findings.contains(&format!("Unavailable on this kernel: {v} ({reason})")),
                "{v} unavailable but not said:\n{findings}"
            );
        }
    }
    assert!(
        run.join(format!(
            "alternatives-{}.svg",
            t["target"].as_str().unwrap()
        ))
        .is_file()
    );
}

fn bench(args: &[&str]) -> (tempfile::TempDir, std::path::PathBuf, Value) {
    let results = tempfile::tempdir().unwrap();
    let out = lab(args, results.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = run_dirs(results.path());
    assert_eq!(runs.len(), 1, "{runs:?}");
    let doc = read_json(&runs[0].join("bench.json"));
    let run = runs[0].clone();
    (results, run, doc)
}

#[test]
fn alternatives_on_the_host() {
    if skip_without_host("alternatives_on_the_host") {
        return;
    }
    let _lock = BpfLock::acquire();
    let (_results, run, doc) = bench(&["bench", BENCH]);
    let t = &doc["targets"][0];
    assert_complete(t);
    for v in ["cbc(aes)", "esp", "esp in place"] {
        assert_measured(t, v);
    }
    // This host kernel has neither ESP nor WireGuard: said, with the reason.
    let has_esp = std::fs::read_to_string("/proc/net/protocols")
        .map(|p| p.contains("ESP"))
        .unwrap_or(false);
    if !has_esp && !Path::new("/sys/module/esp4").exists() {
        for v in ["xfrm cbc+cmac", "xfrm gcm"] {
            assert!(unavailable(t, v).is_some(), "{v} on a kernel without ESP");
        }
    }
    assert_findings_agree(&run, t);
}

#[test]
fn alternatives_in_the_debian_6_12_vm() {
    if Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIPPED alternatives_in_the_debian_6_12_vm: qemu-system-x86_64 is not installed (run ./scripts/setup)"
        );
        return;
    }
    ensure_kernel("debian-6.12");
    let _lock = BpfLock::acquire();
    let (_results, run, doc) = bench(&["bench", "--kernel", "debian-6.12", BENCH]);
    let t = &doc["targets"][0];
    assert_complete(t);
    // The catalog kernel has ESP, GCM and WireGuard: measured, not estimated.
    for v in OURS.iter().chain(KERNEL_STACKS.iter()) {
        assert_measured(t, v);
    }
    assert_findings_agree(&run, t);
    if t["env"]["emulated"] == true {
        let f = std::fs::read_to_string(run.join("findings.md")).unwrap();
        assert!(f.contains("TCG caveat"), "{f}");
    }
}
