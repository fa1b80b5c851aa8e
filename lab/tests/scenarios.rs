//! The scenario library, run for real: every scenario in `scenarios/`
//! passes on the host kernel and on the pinned VM kernels, and the
//! observations behind the adversarial ones say what they claim.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// Every scenario file except the bench ones.
fn scenario_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "yaml")
                && !p
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("bench")
        })
        .collect();
    v.sort();
    assert!(
        v.len() >= 9,
        "the library has ping, udp-sizes, tcp, rekey, failclosed, tamper, wrong-key, ecb-vs-cbc (x2)"
    );
    v
}

/// A repository file's path relative to the repository root.
fn relative(f: &std::path::Path) -> String {
    f.strip_prefix(repo())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn run(args: &[&str], results: &std::path::Path) -> serde_json::Value {
    let out = lab(args, results);
    let runs = run_dirs(results);
    let last = runs
        .last()
        .unwrap_or_else(|| panic!("no result for {args:?}: {}", text(&out)));
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(last.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        s["verdict"],
        "pass",
        "{args:?}: {}\n{}",
        text(&out),
        serde_json::to_string_pretty(&s["report"]["assertions"]).unwrap()
    );
    assert_eq!(out.status.code(), Some(0));
    s
}

fn observed(s: &serde_json::Value, name: &str) -> String {
    s["report"]["assertions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no assertion {name}"))["observed"]
        .as_str()
        .unwrap()
        .to_string()
}

fn check_details(name: &str, s: &serde_json::Value) {
    match name {
        "tamper" => {
            let u = &s["report"]["udp"][0];
            assert_eq!(
                u["intact"], 0,
                "tampered ciphertext must not decrypt to the original"
            );
            assert_eq!(
                u["corrupted"], 20,
                "CBC without integrity delivers corrupted datagrams: {u}"
            );
            assert!(
                observed(s, "oracle").starts_with("0 of 20 match, 20 decrypt to something else")
            );
        }
        "esp-tamper" => {
            let u = &s["report"]["udp"][0];
            assert_eq!(
                (&u["intact"], &u["corrupted"]),
                (&0.into(), &0.into()),
                "ESP delivers nothing tampered: {u}"
            );
        }
        "esp-replay" => {
            let u = &s["report"]["udp"][0];
            assert_eq!(u["duplicates"], 0, "no replayed copy delivered: {u}");
            assert_eq!(u["intact"], 20, "{u}");
            assert_eq!(s["report"]["counters"]["right"]["replayed"], 20);
            assert!(s["report"]["notes"].as_array().unwrap().iter().any(|n| {
                n.as_str()
                    .unwrap()
                    .contains("20 of 20 captured frames sent again")
            }));
        }
        "esp-rekey" => assert!(
            observed(s, "udp_delivered").starts_with("2000 of 2000 datagrams delivered intact")
        ),
        "wg-tamper" => {
            for u in s["report"]["udp"].as_array().unwrap() {
                assert_eq!(
                    (&u["intact"], &u["corrupted"]),
                    (&0.into(), &0.into()),
                    "{u}"
                );
            }
        }
        "wg-replay" => {
            let u = &s["report"]["udp"][0];
            assert_eq!(
                (&u["duplicates"], &u["intact"]),
                (&0.into(), &20.into()),
                "{u}"
            );
            assert_eq!(s["report"]["counters"]["right"]["replayed"], 20);
        }
        "wg-rekey" => assert!(
            observed(s, "udp_delivered").starts_with("1800 of 1800 datagrams delivered intact")
        ),
        "ecb-vs-cbc" => assert!(observed(s, "repeated_blocks").starts_with("10 of 10")),
        "ecb-vs-cbc.cbc" => assert!(observed(s, "repeated_blocks").starts_with("0 of 10")),
        "udp-sizes" | "ping" => assert!(s["report"]["wire"]["marker_leaks"] == 0),
        "tcp" => {
            let steps: Vec<u64> = s["report"]["tcp"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["server"]["intact"].as_u64().unwrap())
                .collect();
            assert_eq!(
                steps[2], 1_000_000,
                "one segment per packet completes: {steps:?}"
            );
            assert_eq!(steps[3], 0, "checksum written into ciphertext: {steps:?}");
        }
        "failclosed" => assert!(
            s["report"]["counters"]["left"]["dropped_nokey"]
                .as_u64()
                .unwrap()
                >= 13
        ),
        "wrong-key" => assert!(
            s["report"]["counters"]["right"]["dropped_invalid"]
                .as_u64()
                .unwrap()
                >= 20
        ),
        _ => {}
    }
}

#[test]
fn every_scenario_passes_on_the_host() {
    if skip_without_host("every_scenario_passes_on_the_host") {
        return;
    }
    let _lock = BpfLock::acquire();
    for f in scenario_files() {
        let results = tempfile::tempdir().unwrap();
        let rel = relative(&f);
        if let Some(why) = host_without_ipsec(&rel) {
            eprintln!("SKIPPED {rel} on the host: {why}");
            continue;
        }
        let s = run(&["run", "-q", &rel], results.path());
        check_details(s["scenario"]["name"].as_str().unwrap(), &s);
        assert!(results.path().read_dir().unwrap().count() == 1);
    }
    assert!(!dataplane_loaded());
}

/// esp-interop needs the kernel's IPsec as the peer, wg-interop and
/// wg-rekey its WireGuard: a host kernel without it ends the run as
/// unsupported (exit 3) with that reason, which is checked here; `None`
/// when the scenario ran (or is another one).
fn host_without_ipsec(rel: &str) -> Option<String> {
    let needs = [
        ("esp-interop.yaml", "the kernel's IPsec"),
        ("wg-interop.yaml", "the kernel's WireGuard"),
        ("wg-rekey.yaml", "the kernel's WireGuard"),
    ];
    let (_, words) = needs.iter().find(|(f, _)| rel.ends_with(f))?;
    let results = tempfile::tempdir().unwrap();
    let out = lab(&["run", "-q", rel], results.path());
    let dir = run_dirs(results.path()).pop().expect("a result folder");
    let s = summary(&dir);
    if s["verdict"] == "pass" {
        return None;
    }
    assert_eq!(s["verdict"], "unsupported", "{}", text(&out));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let why = s["error"].as_str().unwrap().to_string();
    assert!(why.contains(words), "{why}");
    Some(why)
}

fn every_scenario_on(kernel: &str) {
    if Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED scenarios on {kernel}: qemu-system-x86_64 is not installed");
        return;
    }
    ensure_kernel(kernel);
    for f in scenario_files() {
        let results = tempfile::tempdir().unwrap();
        let rel = relative(&f);
        let s = run(&["run", "-q", "--kernel", kernel, &rel], results.path());
        assert_eq!(s["kernel_name"], kernel);
        check_details(s["scenario"]["name"].as_str().unwrap(), &s);
        let dir = run_dirs(results.path()).pop().unwrap();
        for file in ["wire.pcap", "console.log", "kernel.log", "summary.json"] {
            assert!(
                dir.join(file).is_file(),
                "{file} missing for {rel} on {kernel}"
            );
        }
    }
}

#[test]
fn every_scenario_passes_on_debian_6_12() {
    every_scenario_on("debian-6.12");
}

#[test]
fn every_scenario_passes_on_debian_7_3() {
    every_scenario_on("debian-7.3");
}
