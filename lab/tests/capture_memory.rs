//! A run's capture stays bounded: `lab check` and `lab run` refuse a
//! scenario whose traffic is past the limits (exit 2, the file, line,
//! column and field named, nothing in the results folder). That the
//! capture is then analysed in bounded memory is the unit test
//! `exec::scenario::assertions::capture_memory` (it reaches crate-private
//! code).

mod common;

use common::{lab, run_dirs, text};

/// A scenario with one step.
fn scenario(step: &str) -> String {
    format!(
        "version: 1
name: big
topology:
  left:  {{ address: 198.18.0.1/24 }}
  right: {{ address: 198.18.0.2/24 }}
cipher:
  algorithm: cbc(aes)
  key: 000102030405060708090a0b0c0d0e0f
steps:
  - {step}
assertions:
  - payload_encrypted: {{}}
"
    )
}

#[test]
fn scenarios_past_the_limits_are_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let cases = [
        (
            "udp: { from: left, sizes: [65000], count: 100000 }",
            ":10:5: field `steps[0].udp`: brings the scenario's UDP and ping payload to 6.1 GiB; at most 256 MiB",
        ),
        (
            "tcp: { from: left, bytes: 4294967296 }",
            ":10:31: field `steps[0].tcp.bytes`: 4294967296 is outside 1..=1073741824",
        ),
    ];
    for (step, want) in cases {
        let file = dir.path().join("big.yaml");
        std::fs::write(&file, scenario(step)).unwrap();
        let f = file.to_str().unwrap();
        for cmd in [vec!["check", f], vec!["run", "-q", f]] {
            let out = lab(&cmd, &results);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd:?} {step}: {}", text(&out));
            assert!(
                err.contains(&format!("{f}{want}")),
                "{cmd:?}: {}",
                text(&out)
            );
            assert!(
                run_dirs(&results).is_empty(),
                "{cmd:?} left a results folder"
            );
        }
    }
    // The largest step within the limits is accepted.
    let file = dir.path().join("ok.yaml");
    let step = "udp: { from: left, sizes: [65507], count: 4096, interval_ms: 0 }";
    std::fs::write(&file, scenario(step)).unwrap();
    let out = lab(&["check", file.to_str().unwrap()], &results);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
