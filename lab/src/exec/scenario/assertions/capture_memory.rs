//! The capture is analysed in bounded memory: a 1 GiB pcap of
//! encrypted-looking frames, read once with every wire check folding it,
//! grows the process' peak RSS by at most [`MAX_GROWTH`]. The test runs
//! alone in a child process (the other unit tests run in threads of this
//! one and would count).

use std::io::BufWriter;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pcap_file::pcap::{PcapPacket, PcapWriter};

use super::evaluate;
use super::observations::{Observations, UdpFlow};
use crate::domain::{Algorithm, IfAddr, Side};
use crate::net::checksum;
use crate::spec::plan::{Check, PacketMatch, PlanAssertion};
use crate::sys::traffic::icmp::PingOutcome;
use crate::sys::traffic::payload::marker_payload;
use crate::sys::traffic::udp::{UdpSent, datagram};

/// Size of the capture.
const CAPTURE_BYTES: u64 = 1 << 30;
/// Largest accepted growth of the peak RSS while it is analysed.
const MAX_GROWTH: u64 = 256 << 20;
/// Set in the child that does the work.
const CHILD: &str = "LAB_CAPTURE_MEMORY_CHILD";

const LEFT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const RIGHT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// A kernel figure of `/proc/self/status` (`VmRSS`, `VmHWM`), in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib * 1024
}

/// Free bytes of the file system holding `dir`.
fn free_bytes(dir: &Path) -> u64 {
    let s = nix::sys::statvfs::statvfs(dir).unwrap();
    s.blocks_available() as u64 * s.fragment_size() as u64
}

/// Writes `bytes` of raw-format frames (IPv4, 16-byte IV, whole AES
/// blocks) both ways, their payloads cut from a pool of pseudo-random
/// bytes (as cheap as copying); returns the frames and how many the left
/// end sent.
fn write_capture(path: &Path, bytes: u64) -> (u64, u64) {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let pool: Vec<u8> = (0..1 << 17)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut w = PcapWriter::new(file).unwrap();
    let (mut written, mut frames, mut from_left) = (24u64, 0u64, 0u64);
    let mut frame = Vec::with_capacity(2048);
    while written < bytes {
        let len = [1456usize, 1456, 1456, 208, 48][frames as usize % 5];
        let left = frames % 2 == 0;
        let (src, dst) = if left { (LEFT, RIGHT) } else { (RIGHT, LEFT) };
        let mut ip = [0u8; 20];
        ip[..4].copy_from_slice(&[0x45, 0, 0, 0]);
        ip[2..4].copy_from_slice(&((20 + len) as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&(frames as u16).to_be_bytes());
        ip[8..10].copy_from_slice(&[64, 17]);
        ip[12..16].copy_from_slice(&src.octets());
        ip[16..20].copy_from_slice(&dst.octets());
        let c = checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let at = (frames as usize * 4099) % (pool.len() - len);
        frame.clear();
        frame.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0]);
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&pool[at..at + len]);
        // A fresh IV per packet, as a correct sender makes: the pool repeats.
        for (b, n) in frame[34..42].iter_mut().zip(frames.to_le_bytes()) {
            *b ^= n;
        }
        w.write_packet(&PcapPacket::new(Duration::ZERO, frame.len() as u32, &frame))
            .unwrap();
        written += 16 + frame.len() as u64;
        frames += 1;
        from_left += u64::from(left);
    }
    w.into_writer().into_inner().unwrap().sync_all().unwrap();
    (frames, from_left)
}

/// What a run of pings and UDP datagrams with two keys observed.
fn observations() -> Observations {
    let addr = |addr| IfAddr { addr, prefix: 24 };
    let ping = PingOutcome {
        id: 7,
        sent: 5,
        payloads: vec![marker_payload(56); 5],
        ..Default::default()
    };
    let sent = UdpSent {
        sent: 1000,
        payloads: (0..1000).map(|i| datagram(2, i, 1400)).collect(),
        ..Default::default()
    };
    Observations {
        pings: vec![(Side::Left, ping)],
        udp: vec![UdpFlow {
            step: 1,
            sent,
            delivered: Vec::new(),
        }],
        addresses: vec![addr(LEFT), addr(RIGHT)],
        algorithm: Some(Algorithm::CbcAes),
        keys: vec![vec![1; 16], vec![2; 16]],
        ..Default::default()
    }
}

/// Every check that reads the wire.
fn checks() -> Vec<PlanAssertion> {
    let udp = PacketMatch {
        offset: 9,
        value: vec![17],
        mask: vec![0xff],
    };
    [
        Check::IpHeaderCleartext,
        Check::PayloadEncrypted { min_entropy: 7.0 },
        Check::NoPlaintextOnWire,
        Check::Expect {
            from: Some(Side::Left),
            matches: vec![udp],
            min: Some(1),
            max: None,
        },
        Check::RepeatedBlocks {
            min: None,
            max: Some(0),
        },
        Check::Oracle { min_ratio: 0.0 },
        Check::UniqueIvs,
    ]
    .into_iter()
    .map(|check| PlanAssertion {
        name: "t".into(),
        check,
    })
    .collect()
}

#[test]
fn a_1_gib_capture_is_analysed_in_bounded_memory() {
    let name = "a_1_gib_capture_is_analysed_in_bounded_memory";
    if std::env::var_os(CHILD).is_none() {
        let path = module_path!().split_once("::").unwrap().1;
        let out = Command::new(std::env::current_exe().unwrap())
            .args([&format!("{path}::{name}"), "--exact", "--nocapture"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            out.status.success(),
            "the child test failed: {}",
            out.status
        );
        return;
    }
    let tmp = std::env::temp_dir();
    let free = free_bytes(&tmp);
    if free < CAPTURE_BYTES + (100 << 20) {
        println!(
            "SKIPPED {name}: {} has {} MiB free; the capture needs 1.1 GiB",
            tmp.display(),
            free >> 20
        );
        return;
    }
    let dir = tempfile::tempdir_in(&tmp).unwrap();
    let pcap = dir.path().join("wire.pcap");
    let t = Instant::now();
    let (frames, from_left) = write_capture(&pcap, CAPTURE_BYTES);
    let written = t.elapsed();
    let (obs, checks) = (observations(), checks());
    // Peak RSS from here on: "5" resets VmHWM to the current RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_bytes("VmRSS");
    let t = Instant::now();
    let (wire, results) = evaluate(&checks, &obs, &pcap).unwrap();
    let analysed = t.elapsed();
    let peak = status_bytes("VmHWM");
    let growth = peak.saturating_sub(before);
    println!(
        "capture_memory: {:.2} GiB, {frames} frames written in {:.1} s, analysed in {:.1} s; \
         RSS {} MiB before, peak {} MiB, growth {} MiB (limit {} MiB)",
        std::fs::metadata(&pcap).unwrap().len() as f64 / f64::from(1 << 30),
        written.as_secs_f64(),
        analysed.as_secs_f64(),
        before >> 20,
        peak >> 20,
        growth >> 20,
        MAX_GROWTH >> 20
    );
    drop(dir);
    assert_eq!((wire.frames, wire.ipv4), (frames, frames));
    for r in &results {
        assert!(r.pass, "{r:?}");
    }
    assert_eq!(results[3].observed, format!("{from_left} matching"));
    assert!(
        results[5]
            .observed
            .starts_with(&format!("0 of {frames} match")),
        "{:?}",
        results[5]
    );
    assert!(
        growth <= MAX_GROWTH,
        "analysing 1 GiB grew the peak RSS by {} MiB",
        growth >> 20
    );
}
