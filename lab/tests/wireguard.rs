//! The WireGuard data plane seen from outside: tshark's WireGuard dissector
//! decrypts the captures with the key log the lab writes (our messages
//! and, in a VM, the kernel's WireGuard's), and the kernel's WireGuard
//! talks to it in both roles and accepts its rekeys.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// Why tshark cannot run here, if it cannot.
fn tshark_missing() -> Option<String> {
    match Command::new("tshark").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("tshark is not installed (./scripts/setup installs it)".into()),
    }
}

/// One transport message (type 4) as tshark read it: the outer UDP
/// source port and, when it decrypted one, the inner packet's source.
#[derive(Debug, PartialEq, Eq)]
struct Message {
    port: u16,
    inner_src: Option<String>,
}

/// tshark's reading of the transport messages of `pcap`, with the key log
/// `keylog` (`None`: without one). Both ends' ports are WireGuard's.
fn dissect(pcap: &Path, keylog: Option<&Path>) -> Vec<Message> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(pcap);
    if let Some(k) = keylog {
        cmd.arg("-o").arg(format!("wg.keylog_file:{}", k.display()));
    }
    let out = cmd
        .args(["-d", "udp.port==51821,wg", "-Y", "wg.type == 4"])
        .args(["-T", "fields", "-E", "separator=|"])
        .args(["-e", "udp.srcport", "-e", "ip.src"])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (port, src) = l.split_once('|').expect("two fields");
            // A decrypted message shows the outer and the inner packet:
            // two of each field.
            let port = port.split(',').next().unwrap().parse().unwrap();
            let inner_src = src.split(',').nth(1).map(str::to_string);
            Message { port, inner_src }
        })
        .collect()
}

/// Messages of `ms` from `port` tshark decrypted to an inner packet from
/// `inner`, and the keepalives and undecrypted ones.
fn decrypted_from(ms: &[Message], port: u16, inner: &str) -> (usize, usize) {
    let from: Vec<&Message> = ms.iter().filter(|m| m.port == port).collect();
    let ok = (from.iter())
        .filter(|m| m.inner_src.as_deref() == Some(inner))
        .count();
    (ok, from.len() - ok)
}

#[test]
fn tshark_decrypts_the_data_planes_wireguard_with_the_key_log() {
    if skip_without_host("tshark_decrypts_the_data_planes_wireguard_with_the_key_log") {
        return;
    }
    if let Some(why) = tshark_missing() {
        eprintln!("SKIPPED tshark_decrypts_the_data_planes_wireguard_with_the_key_log: {why}");
        return;
    }
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let out = lab(&["run", "-q", "scenarios/wg-ping.yaml"], results.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dir = &run_dirs(results.path())[0];
    let (pcap, keylog) = (dir.join("wire.pcap"), dir.join("wireguard.keylog"));
    let log = std::fs::read_to_string(&keylog).unwrap();
    assert_eq!(
        log.matches("LOCAL_EPHEMERAL_PRIVATE_KEY").count(),
        2,
        "{log}"
    );
    let mode = std::fs::metadata(&keylog).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077,
        0,
        "keys are the owner's"
    );
    // 5 pings each way (requests and replies) and 20 datagrams each way:
    // 30 messages from each end, each decrypted; the initiator's
    // keepalive is the one message without a packet.
    let ms = dissect(&pcap, Some(&keylog));
    assert_eq!(decrypted_from(&ms, 51820, "10.77.0.1"), (30, 1), "{ms:?}");
    assert_eq!(decrypted_from(&ms, 51821, "10.77.0.2"), (30, 0), "{ms:?}");
    // Without the key log nothing decrypts: the packets are on the wire
    // encrypted only.
    let blind = dissect(&pcap, None);
    assert_eq!(blind.len(), 61);
    assert!(blind.iter().all(|m| m.inner_src.is_none()), "{blind:?}");
}

/// The kernel's WireGuard as the peer, both roles (wg-interop); tshark
/// decrypts the kernel's messages with the key log of our end.
#[test]
fn kernel_wireguard_interoperates_and_tshark_decrypts_it_on_debian_6_12() {
    let test = "kernel_wireguard_interoperates_and_tshark_decrypts_it_on_debian_6_12";
    if qemu_missing(test) {
        return;
    }
    if let Some(why) = tshark_missing() {
        eprintln!("SKIPPED {test}: {why}");
        return;
    }
    ensure_kernel("debian-6.12");
    let results = tempfile::tempdir().unwrap();
    let args = ["run", "-q", "--kernel", "debian-6.12"];
    let out = lab(
        &[&args[..], &["scenarios/wg-interop.yaml"]].concat(),
        results.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dir = &run_dirs(results.path())[0];
    let ms = dissect(&dir.join("wire.pcap"), Some(&dir.join("wireguard.keylog")));
    // Each round 30 messages each way carry a packet; the left end is the
    // data plane in the first round and the kernel in the second, so each
    // port has 30 of ours and 30 of the kernel's, all decrypted. Keepalives
    // are ours (the data plane initiates the second round) and the
    // kernel's (its confirmation of the first).
    for (port, inner) in [(51820, "10.77.0.1"), (51821, "10.77.0.2")] {
        let (ok, other) = decrypted_from(&ms, port, inner);
        assert_eq!(ok, 60, "port {port}: {ms:?}");
        assert!(other <= 2, "port {port}: {other} without a packet");
    }
    let s = summary(dir);
    let notes = s.to_string();
    assert!(
        notes.contains("kernel WireGuard") && notes.contains("last handshake done"),
        "the kernel's counters are in the notes: {notes}"
    );

    // Rekeys under traffic: ours with a shortened REKEY_AFTER_TIME, then
    // initiations the kernel accepts as responder; nothing lost.
    let out = lab(
        &[&args[..], &["scenarios/wg-rekey.yaml"]].concat(),
        results.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dir = run_dirs(results.path())
        .into_iter()
        .find(|d| d.to_string_lossy().contains("wg-rekey"))
        .unwrap();
    let log = std::fs::read_to_string(dir.join("wireguard.keylog")).unwrap();
    assert!(
        log.matches("LOCAL_EPHEMERAL_PRIVATE_KEY").count() >= 8,
        "several handshakes: {log}"
    );
}

/// On a kernel without WireGuard a scenario that needs it as the peer is
/// `unsupported` (exit 3) before any step, with the reason.
#[test]
fn a_kernel_without_wireguard_is_unsupported_not_failed() {
    if skip_without_host("a_kernel_without_wireguard_is_unsupported_not_failed") {
        return;
    }
    let has_wg = Path::new("/sys/module/wireguard").exists()
        || Command::new("modprobe")
            .args(["-n", "wireguard"])
            .status()
            .is_ok_and(|s| s.success());
    if has_wg {
        eprintln!(
            "SKIPPED a_kernel_without_wireguard_is_unsupported_not_failed: this host has WireGuard"
        );
        return;
    }
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let out = lab(&["run", "-q", "scenarios/wg-interop.yaml"], results.path());
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("WireGuard"), "{}", text(&out));
}

/// The WireGuard build needs no bpf_crypto: on debian-6.1 it is loaded,
/// and the verifier's refusal makes the run `unsupported` (exit 3) with
/// the verifier's reason, its log kept.
#[test]
fn debian_6_1_refuses_it_in_the_verifier_and_the_run_says_why() {
    let test = "debian_6_1_refuses_it_in_the_verifier_and_the_run_says_why";
    if qemu_missing(test) {
        return;
    }
    ensure_kernel("debian-6.1");
    let results = tempfile::tempdir().unwrap();
    let out = lab(
        &[
            "run",
            "-q",
            "--kernel",
            "debian-6.1",
            "scenarios/wg-ping.yaml",
        ],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let dir = &run_dirs(results.path())[0];
    let why = summary(dir)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        why.contains("needs no bpf_crypto") && why.contains("loading the wireguard data plane"),
        "{why}"
    );
    assert!(
        dir.join("verifier.log").is_file(),
        "the verifier's log is kept"
    );
}
