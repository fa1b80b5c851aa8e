//! End to end on the running kernel: the ping scenario through the real
//! data plane in real namespaces, the pcap read back by tcpdump, and the
//! cleanup on failure and Ctrl-C.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn ping_scenario_passes_and_wire_is_encrypted() {
    if skip_without_host("ping_scenario_passes_and_wire_is_encrypted") {
        return;
    }
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let out = lab(&["run", "scenarios/ping.yaml"], results.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = run_dirs(results.path());
    assert_eq!(runs.len(), 1, "one result folder: {runs:?}");
    let s = summary(&runs[0]);
    assert_eq!(s["verdict"], "pass");
    assert_eq!(s["backend"], "host");
    assert_eq!(s["failed"], 0);
    assert!(s["passed"].as_u64().unwrap() >= 4);
    for a in s["report"]["assertions"].as_array().unwrap() {
        assert!(
            a["expected"].is_string() && a["observed"].is_string() && a["pass"] == true,
            "{a}"
        );
    }
    assert!(
        s["report"]["counters"]["left"]["encrypted"]
            .as_u64()
            .unwrap()
            >= 5
    );
    assert!(
        s["report"]["counters"]["right"]["decrypted"]
            .as_u64()
            .unwrap()
            >= 5
    );
    assert!(
        !dataplane_loaded(),
        "data plane programs left loaded after the run"
    );

    // tcpdump reads the pcap: the IP header is clear, the ICMP is not.
    let pcap = runs[0].join("wire.pcap");
    match std::process::Command::new("tcpdump")
        .args(["-nn", "-v", "-r"])
        .arg(&pcap)
        .arg("icmp")
        .output()
    {
        Ok(o) if o.status.success() => {
            let t = String::from_utf8_lossy(&o.stdout);
            assert!(t.contains("198.18.0.1 > 198.18.0.2"), "{t}");
            assert!(t.contains("proto ICMP (1)"), "{t}");
            // A ciphertext whose first byte is 8 reads as an echo request (1 in
            // 256 per packet); plaintext would also carry a valid checksum.
            let plain: Vec<&str> = t
                .lines()
                .filter(|l| l.contains("echo request") && !l.contains("wrong icmp cksum"))
                .collect();
            assert!(
                plain.is_empty(),
                "tcpdump decoded an echo request with a valid checksum: plaintext on the wire\n{t}"
            );
            assert!(t.contains("wrong icmp cksum"), "{t}");
        }
        Ok(o) => panic!(
            "tcpdump could not read {}: {}",
            pcap.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => {
            eprintln!("tcpdump not installed ({e}); pcap checked by the lab's own reader only")
        }
    }
}

#[test]
fn failing_assertion_gives_nonzero_exit_and_a_complete_result() {
    if skip_without_host("failing_assertion_gives_nonzero_exit_and_a_complete_result") {
        return;
    }
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let out = lab(
        &["run", "lab/tests/fixtures/ping-expect-nokey-drops.yaml"],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let runs = run_dirs(results.path());
    assert_eq!(runs.len(), 1);
    let s = summary(&runs[0]);
    assert_eq!(s["verdict"], "fail");
    let failed: Vec<&serde_json::Value> = s["report"]["assertions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["pass"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["name"], "counter left.dropped_nokey");
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));
    assert!(!dataplane_loaded());
}

#[test]
fn bad_scenario_is_located_and_leaves_nothing() {
    let results = tempfile::tempdir().unwrap();
    let out = lab(
        &["run", "lab/tests/fixtures/bad-address.yaml"],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad-address.yaml:9:"), "{err}");
    assert!(err.contains("topology.right.address"), "{err}");
    assert!(
        run_dirs(results.path()).is_empty(),
        "no result for a bad scenario"
    );
}

#[test]
fn ctrl_c_cleans_up() {
    if skip_without_host("ctrl_c_cleans_up") {
        return;
    }
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    // Interrupt once the data plane is attached and traffic flows.
    let out = interrupt_lab(
        &["run", "lab/tests/fixtures/ping-long.yaml"],
        results.path(),
        || {
            let loaded = dataplane_loaded();
            if loaded {
                std::thread::sleep(Duration::from_millis(500));
            }
            loaded
        },
    );
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        run_dirs(results.path()).is_empty(),
        "interrupted run left {:?}",
        run_dirs(results.path())
    );
    assert!(
        !dataplane_loaded(),
        "interrupted run left BPF programs loaded"
    );
}

#[test]
fn host_run_records_its_phases_step_by_step() {
    if skip_without_host("host_run_records_its_phases_step_by_step") {
        return;
    }
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let out = lab(&["run", "scenarios/rekey.yaml"], results.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = run_dirs(results.path());
    let s = summary(&runs[0]);
    let list = phases(&s);
    let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
    // On the host the VM phases are absent.
    assert_eq!(names, job_phase_names(&["udp", "rekey", "wait", "ping"]));
    // 1000 datagrams 1 ms apart in the background, waited for by step 3;
    // 3 pings 20 ms apart.
    let flows: u64 = ["step 1: udp", "step 2: rekey", "step 3: wait"]
        .iter()
        .map(|n| phase_ms(&list, n))
        .sum();
    assert!(flows >= 900, "{list:?}");
    assert!(phase_ms(&list, "step 4: ping") >= 40, "{list:?}");
    let report = std::fs::read_to_string(runs[0].join("report.md")).unwrap();
    assert!(report.contains("## Time") && report.contains("| step 2: rekey |"));
    assert!(text(&out).contains("time: support check and probe "));
}

#[test]
fn baseline_phases_are_named_as_such() {
    if skip_without_host("baseline_phases_are_named_as_such") {
        return;
    }
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let out = lab(&["run", "scenarios/esp-tamper.yaml"], results.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = summary(&run_dirs(results.path())[0]);
    let names: Vec<String> = phases(&s).into_iter().map(|(n, _)| n).collect();
    // esp-tamper: tamper, udp, tamper (the ICV), udp, tamper (its last
    // byte), udp; tamper.yaml: tamper, udp.
    let own = job_phase_names(&["tamper", "udp", "tamper", "udp", "tamper", "udp"]);
    let base: Vec<String> = job_phase_names(&["tamper", "udp"])[1..]
        .iter()
        .map(|n| format!("baseline {n}"))
        .collect();
    assert_eq!(names, [own, base].concat());
}
