//! The ESP data plane seen from outside: tshark's ESP dissector reads and
//! decrypts the captures (ours and, in a VM, the kernel's IPsec packets),
//! and the replay step really replays (the raw format delivers the copies).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;

const KEY: &str = "000102030405060708090a0b0c0d0e0f";
const MARKER: &[u8] = b"bpfcrypt-marker!";

/// The payload of UDP datagram `seq` of step `step` (the lab's format:
/// seq, step, two zero bytes, then the marker, cut to `size`).
fn datagram(step: u16, seq: u32, size: usize) -> Vec<u8> {
    let mut d = seq.to_be_bytes().to_vec();
    d.extend(step.to_be_bytes());
    d.extend([0, 0]);
    d.extend(MARKER.iter().cycle().take(size.saturating_sub(8)));
    d.truncate(size);
    d
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Why tshark cannot run here, if it cannot.
fn tshark_missing() -> Option<String> {
    match Command::new("tshark").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("tshark is not installed (./scripts/setup installs it)".into()),
    }
}

/// The name of the ESP decryption preference: Wireshark 4.2 renamed it.
fn decrypt_pref() -> &'static str {
    let prefs = Command::new("tshark")
        .args(["-G", "defaultprefs"])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&prefs.stdout).contains("esp.enable_encryption_dissection") {
        "esp.enable_encryption_dissection"
    } else {
        "esp.enable_encryption_decode"
    }
}

/// One captured IPv4 packet as tshark dissected it.
#[derive(Debug)]
struct Dissected {
    spi: Option<u32>,
    seq: Option<u32>,
    udp_port: Option<u16>,
    data: Vec<u8>,
}

/// tshark's reading of `pcap`, given the SAs `(src, dst, spi)` (AES-CBC
/// with `KEY`, "ANY 96 bit authentication [no checking]").
fn dissect(pcap: &Path, sas: &[(&str, &str, u32)]) -> Vec<Dissected> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-r", pcap.to_str().unwrap(), "-Y", "ip"]);
    cmd.args(["-o", &format!("{}:TRUE", decrypt_pref())]);
    for (src, dst, spi) in sas {
        cmd.args([
            "-o",
            &format!(
                r#"uat:esp_sa:"IPv4","{src}","{dst}","{spi:#010x}","AES-CBC [RFC3602]","0x{KEY}","ANY 96 bit authentication [no checking]","""#
            ),
        ]);
    }
    cmd.args(["-T", "fields", "-E", "separator=;"]);
    for f in ["esp.spi", "esp.sequence", "udp.dstport", "data.data"] {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(';').collect();
            let num = |s: &str| (!s.is_empty()).then(|| s.trim_start_matches("0x").to_string());
            Dissected {
                spi: num(f[0]).map(|s| u32::from_str_radix(&s, 16).unwrap()),
                seq: num(f[1]).map(|s| s.parse().unwrap()),
                udp_port: num(f[2]).map(|s| s.parse().unwrap()),
                data: hex(f[3]),
            }
        })
        .collect()
}

/// Every packet is ESP with a known SPI, and each SPI's sequence numbers
/// count 1, 2, 3, … in capture order.
fn check_esp_headers(packets: &[Dissected], spis: &[u32]) {
    let mut next: BTreeMap<u32, u32> = BTreeMap::new();
    for p in packets {
        let spi = p.spi.unwrap_or_else(|| panic!("not ESP: {p:?}"));
        assert!(spis.contains(&spi), "unexpected SPI {spi:#x}");
        let want = next.entry(spi).or_insert(1);
        assert_eq!(p.seq, Some(*want), "SPI {spi:#x}: {p:?}");
        *want += 1;
    }
}

#[test]
fn tshark_decrypts_the_data_planes_esp() {
    if skip_without_host("tshark_decrypts_the_data_planes_esp") {
        return;
    }
    if let Some(why) = tshark_missing() {
        eprintln!("SKIPPED tshark_decrypts_the_data_planes_esp: {why}");
        return;
    }
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let out = lab(&["run", "-q", "scenarios/esp-replay.yaml"], results.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let pcap = run_dirs(results.path())[0].join("wire.pcap");
    let packets = dissect(&pcap, &[("198.18.0.1", "198.18.0.2", 0x1000)]);
    assert_eq!(packets.len(), 25, "{packets:?}");
    check_esp_headers(&packets, &[0x1000]);
    // The inner datagrams, decrypted by tshark, are the ones sent.
    let mut got: Vec<(u16, Vec<u8>)> = packets
        .iter()
        .map(|p| (p.udp_port.expect("decrypted to UDP"), p.data.clone()))
        .collect();
    let mut want: Vec<(u16, Vec<u8>)> = (0..20)
        .map(|s| (4000, datagram(1, s, 100)))
        .chain((0..5).map(|s| (4001, datagram(2, s, 100))))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

/// In a VM the kernel's IPsec is the peer: tshark reads its packets and
/// ours alike (esp-interop: SPIs 0x3000 + 2 per renewal + 1 for right).
#[test]
fn tshark_decrypts_kernel_and_data_plane_esp_on_debian_6_12() {
    let why = tshark_missing().or_else(|| {
        Command::new("qemu-system-x86_64")
            .arg("--version")
            .output()
            .is_err()
            .then(|| "qemu-system-x86_64 is not installed".to_string())
    });
    if let Some(why) = why {
        eprintln!("SKIPPED tshark_decrypts_kernel_and_data_plane_esp_on_debian_6_12: {why}");
        return;
    }
    ensure_kernel("debian-6.12");
    let results = tempfile::tempdir().unwrap();
    let out = lab(
        &[
            "run",
            "-q",
            "--kernel",
            "debian-6.12",
            "scenarios/esp-interop.yaml",
        ],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let pcap = run_dirs(results.path())[0].join("wire.pcap");
    // Three renewals (one per `stack` step): generations 1 to 3 carry traffic.
    let mut sas = Vec::new();
    let mut spis = Vec::new();
    for g in 1..=3u32 {
        let left = 0x3000 + 2 * g;
        sas.push(("198.18.0.1", "198.18.0.2", left));
        sas.push(("198.18.0.2", "198.18.0.1", left + 1));
        spis.extend([left, left + 1]);
    }
    let packets = dissect(&pcap, &sas);
    assert_eq!(
        packets.len(),
        120,
        "20 pings and 40 datagrams each round, both ways"
    );
    check_esp_headers(&packets, &spis);
    let udp: Vec<&Dissected> = packets.iter().filter(|p| p.udp_port.is_some()).collect();
    assert_eq!(udp.len(), 80);
    for p in udp {
        assert!(
            p.data.len() < 9 || p.data[8..].starts_with(&MARKER[..(p.data.len() - 8).min(16)]),
            "decrypted datagram is not the lab's: {p:?}"
        );
    }
}

/// The raw format has no sequence numbers: the same replay step delivers
/// every datagram twice (once the checksums are complete on the wire).
#[test]
fn the_raw_format_delivers_replayed_packets() {
    if skip_without_host("the_raw_format_delivers_replayed_packets") {
        return;
    }
    let _lock = BpfLock::acquire();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("raw-replay.yaml");
    std::fs::write(
        &scenario,
        format!(
            "version: 1\nname: raw-replay\ntopology:\n  left: {{ address: 198.18.0.1/24 }}\n  right: {{ address: 198.18.0.2/24 }}\ncipher:\n  algorithm: cbc(aes)\n  key: {KEY}\nsteps:\n  - offloads: {{ side: left, tso: false, gso: false, tx_csum: false }}\n  - udp: {{ from: left, sizes: [100], count: 20, replay: true }}\nassertions:\n  - udp_delivered: {{ min_ratio: 1.0 }}\n"
        ),
    )
    .unwrap();
    let results = tempfile::tempdir().unwrap();
    let out = lab(&["run", "-q", scenario.to_str().unwrap()], results.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let s = summary(&run_dirs(results.path())[0]);
    let u = &s["report"]["udp"][0];
    assert_eq!(
        (u["intact"].as_u64(), u["duplicates"].as_u64()),
        (Some(20), Some(20)),
        "{u}"
    );
    assert!(
        s["report"]["assertions"][0]["observed"]
            .as_str()
            .unwrap()
            .contains("20 delivered twice or more (replayed)"),
        "{s}"
    );
}
