//! The WireGuard data plane on the running kernel (`BPF_PROG_TEST_RUN`):
//! its messages held to the reference both ways, every refusal with its
//! counter and verdict, the keypairs' life (confirmation, clearing,
//! limits), the self-talk keying the bench and the fuzzer use, and its
//! costs (printed, not asserted: they are the host's, not a contract).
//! Each test loads its own data plane; without root they skip. This file
//! holds the frames, messages and runs the tests share; `egress.rs`,
//! `ingress.rs` and `keying.rs` the tests.

mod egress;
mod ingress;
mod keying;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::provision::KeypairState;
use super::{Wireguard, reference};
use super::abi::{WG_F_CONFIRMED, WG_F_SEND, WG_NO_SLOT, WgAllowedIp, WgPeer};
use crate::dataplane::abi::{TC_ACT_SHOT, is_pass};
use crate::dataplane::format::{Keys, WireFormat, raw};
use crate::dataplane::{
    DataPlane, DataPlaneError, EGRESS_PROG, INGRESS_PROG, test_run_fd, test_run_with_ctx,
};
use crate::domain::{Algorithm, Build, Direction};
use crate::net::{self, ETH_HLEN, checksum};

/// Our end and the peer's, on the underlay.
const LOCAL: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 9, 0, 1), 51820);
const ENDPOINT: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 9, 0, 2), 51000);
/// Hosts in the tunnel (198.18.0.0/24, the peer's allowed IPs), and one
/// outside it.
const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const STRANGER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);
/// The keypair of slot 0: its indexes and keys.
const LOCAL_INDEX: u32 = 0x1111_0001;
const REMOTE_INDEX: u32 = 0x2222_0002;
const SEND_KEY: [u8; 32] = [1; 32];
const RECV_KEY: [u8; 32] = [2; 32];
/// The replay window (`WG_REPLAY_WINDOW`).
const WINDOW: u64 = 127 * 64;

fn be(a: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(a.octets())
}

/// The peer at ENDPOINT with `allowed` (network, prefix length).
fn peer(allowed: &[(Ipv4Addr, u32)]) -> WgPeer {
    let mut p = WgPeer {
        local_addr: be(LOCAL.0),
        endpoint_addr: be(ENDPOINT.0),
        local_port: LOCAL.1.to_be(),
        endpoint_port: ENDPOINT.1.to_be(),
        n_allowed: allowed.len() as u32,
        ..Default::default()
    };
    for (slot, &(addr, prefix_len)) in p.allowed.iter_mut().zip(allowed) {
        *slot = WgAllowedIp {
            addr: be(addr),
            prefix_len,
        };
    }
    p
}

/// The tunnel's peer: 198.18.0.0/24 allowed.
fn tunnel_peer() -> WgPeer {
    peer(&[(Ipv4Addr::new(198, 18, 0, 0), 24)])
}

/// A loaded data plane with `p` as its peer and no keypair, or `None`
/// (printed) when this process cannot load BPF programs.
fn plane_with(test: &str, p: &WgPeer) -> Option<DataPlane> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED {test}: not root: loading BPF programs needs CAP_BPF");
        return None;
    }
    let dp = DataPlane::load(Build::of(Wireguard.mode(), false)).unwrap_or_else(|e| panic!("{e}"));
    dp.wg_control().unwrap().set_peer(p).unwrap();
    Some(dp)
}

/// [`plane_with`] the tunnel's peer and slot 0's keypair, confirmed and
/// sending.
fn keyed(test: &str) -> Option<DataPlane> {
    let dp = plane_with(test, &tunnel_peer())?;
    install(
        &dp,
        0,
        (LOCAL_INDEX, REMOTE_INDEX),
        WG_F_CONFIRMED | WG_F_SEND,
    );
    Some(dp)
}

fn install(dp: &DataPlane, slot: u32, (local, remote): (u32, u32), flags: u32) {
    dp.wg_control()
        .unwrap()
        .install(slot, local, remote, &SEND_KEY, &RECV_KEY, flags)
        .unwrap();
}

/// One program run: its verdict, output frame and counter changes.
struct Ran {
    retval: u32,
    out: Vec<u8>,
    delta: BTreeMap<String, u64>,
}

impl Ran {
    fn passed(&self) -> bool {
        is_pass(self.retval)
    }

    /// Passed, and exactly these counters moved, by these amounts.
    fn passed_counting(&self, want: &[(&str, u64)]) {
        assert!(self.passed(), "dropped: {:?}", self.delta);
        self.counted(want);
    }

    /// Dropped (`TC_ACT_SHOT`), and exactly this counter moved, by one.
    fn dropped_as(&self, counter: &str) {
        assert_eq!(self.retval as i32, TC_ACT_SHOT, "passed: {:?}", self.delta);
        self.counted(&[(counter, 1)]);
    }

    fn counted(&self, want: &[(&str, u64)]) {
        let want: BTreeMap<String, u64> = want.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert_eq!(self.delta, want);
    }
}

fn run(dp: &DataPlane, dir: Direction, frame: &[u8]) -> Ran {
    let before = dp.counters().unwrap();
    let mut out = vec![0u8; 4096];
    let t = dp.test_run(dir, frame, &mut out, 1).unwrap();
    out.truncate(t.data_out_len);
    let after = dp.counters().unwrap();
    let delta = after
        .iter()
        .filter(|(k, v)| before[*k] != **v)
        .map(|(k, v)| (k.clone(), v - before[k]))
        .collect();
    Ran {
        retval: t.retval,
        out,
        delta,
    }
}

/// The Ethernet header of every frame.
const ETH: [u8; 14] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];

/// A frame of an IPv4 packet of `proto` from `src` to `dst` with
/// `payload`, DF set, its header checksum valid.
fn ipv4_frame(proto: u8, (src, dst): (Ipv4Addr, Ipv4Addr), id: u16, payload: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0];
    ip[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip.extend(src.octets());
    ip.extend(dst.octets());
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = ETH.to_vec();
    f.extend(ip);
    f.extend(payload);
    f
}

/// A frame of `proto` with `payload` from A to B.
fn test_frame(proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_frame(proto, (A, B), 1, payload)
}

/// A frame of a UDP packet of exactly `size` bytes (IPv4 header on,
/// `size >= 28`) from `src` to `dst`, its payload from `seq`, its checksum
/// complete.
fn udp_frame(size: u32, src: Ipv4Addr, dst: Ipv4Addr, seq: u64) -> Vec<u8> {
    let len = size as usize - 20;
    let mut udp = vec![0x9c, 0x40, 0x14, 0x51];
    udp.extend((len as u16).to_be_bytes());
    udp.extend([0, 0]);
    udp.extend((0..len - 8).map(|i| (i as u64 * 131 + seq) as u8));
    let c = net::l4_checksum(src, dst, 17, &udp);
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    ipv4_frame(17, (src, dst), seq as u16, &udp)
}

/// A frame of a transport data message from the peer to us: `packet`
/// sealed by a reference sender.
fn message(key: &[u8; 32], receiver: u32, counter: u64, packet: &[u8]) -> Vec<u8> {
    let mut f = ETH.to_vec();
    f.extend(reference::udp_ipv4(
        ENDPOINT,
        LOCAL,
        &reference::seal(key, receiver, counter, packet),
    ));
    f
}

/// A UDP packet (IPv4 header on) from `src` to `dst` of `size` bytes, its
/// checksum complete.
fn inner(size: u32, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    udp_frame(size, src, dst, u64::from(size))[ETH_HLEN..].to_vec()
}

/// An ICMP echo request from A to B.
fn icmp_frame() -> Vec<u8> {
    let mut echo = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    echo.extend((0..40).map(|i| i as u8));
    let c = checksum(&echo);
    echo[2..4].copy_from_slice(&c.to_be_bytes());
    test_frame(1, &echo)
}

/// The L4 checksum `proto` needs over `segment` from A to B (its field zero).
fn l4_checksum(proto: u8, segment: &[u8]) -> u16 {
    net::l4_checksum(A, B, proto, segment)
}

/// A frame of `proto` from A to B whose checksum is left to egress (0, as
/// a CHECKSUM_PARTIAL skb holds it but for the pseudo-header sum), and
/// the frame with it complete.
fn partial_checksum_frame(proto: u8) -> (Vec<u8>, Vec<u8>) {
    let (mut seg, at) = match proto {
        17 => (vec![0x9c, 0x40, 0x14, 0x51, 0, 0, 0, 0], 6),
        _ => {
            let mut tcp = vec![0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18];
            tcp.extend([0xff, 0xff, 0, 0, 0, 0]);
            (tcp, 16)
        }
    };
    seg.extend(b"checksum me, please: 37 odd bytes....".iter());
    if proto == 17 {
        let len = (seg.len() as u16).to_be_bytes();
        seg[4..6].copy_from_slice(&len);
    }
    let partial = test_frame(proto, &seg);
    let c = l4_checksum(proto, &seg);
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
    (partial, test_frame(proto, &seg))
}

/// Checks every header egress wrote around a message from A to B, and
/// that the message is exactly the reference sender's of `sent` (the IPv4
/// packet) with `counter`.
fn assert_tunnelled(out: &[u8], frame: &[u8], sent: &[u8], receiver: u32, counter: u64) {
    let clen = sent.len().div_ceil(16) * 16;
    assert_eq!(
        out.len(),
        Wireguard.egress_frame_len(Algorithm::ChaCha20Poly1305, (frame.len() - ETH_HLEN) as u32)
    );
    assert_eq!(out.len(), ETH_HLEN + 20 + 8 + 16 + clen + 16);
    assert_eq!(out[..ETH_HLEN], frame[..ETH_HLEN], "Ethernet header kept");
    let ip = &out[ETH_HLEN..ETH_HLEN + 20];
    assert_eq!(checksum(ip), 0, "outer IPv4 checksum");
    assert_eq!(ip[0], 0x45);
    assert_eq!(ip[1], 0, "TOS");
    assert_eq!(
        usize::from(u16::from_be_bytes([ip[2], ip[3]])),
        out.len() - ETH_HLEN
    );
    assert_eq!(ip[4..6], [0, 0], "identification");
    assert_eq!(ip[6..8], [0x40, 0], "DF, no fragment");
    assert_eq!((ip[8], ip[9]), (64, 17), "TTL, UDP");
    assert_eq!(ip[12..16], LOCAL.0.octets());
    assert_eq!(ip[16..20], ENDPOINT.0.octets());
    let udp = &out[ETH_HLEN + 20..ETH_HLEN + 28];
    assert_eq!(udp[..2], LOCAL.1.to_be_bytes());
    assert_eq!(udp[2..4], ENDPOINT.1.to_be_bytes());
    assert_eq!(
        usize::from(u16::from_be_bytes([udp[4], udp[5]])),
        8 + 16 + clen + 16
    );
    assert_eq!(udp[6..8], [0, 0], "no UDP checksum");
    let msg = &out[ETH_HLEN + 28..];
    assert_eq!(msg[..4], [4, 0, 0, 0], "type 4, reserved zero");
    let opened = reference::open(&SEND_KEY, msg).expect("the reference opens it");
    assert_eq!((opened.receiver, opened.counter), (receiver, counter));
    assert_eq!(
        opened.plaintext,
        reference::padded(sent),
        "zero-padded to 16"
    );
    assert_eq!(
        out[ETH_HLEN..],
        reference::udp_ipv4(
            LOCAL,
            ENDPOINT,
            &reference::seal(&SEND_KEY, receiver, counter, sent)
        ),
        "the reference sender's packet"
    );
}
