//! The WireGuard data plane on the running kernel (`BPF_PROG_TEST_RUN`):
//! its messages held to the reference both ways, every refusal with its
//! counter and verdict, the keypairs' life (confirmation, clearing,
//! limits), the self-talk keying the bench and the fuzzer use, and its
//! costs (printed, not asserted: they are the host's, not a contract).
//! Each test loads its own data plane; without root they skip.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::provision::KeypairState;
use super::{Wireguard, reference};
use crate::dataplane::abi::{
    TC_ACT_SHOT, WG_F_CONFIRMED, WG_F_SEND, WG_NO_SLOT, WgAllowedIp, WgPeer, is_pass,
};
use crate::dataplane::format::{Keys, WireFormat, raw};
use crate::dataplane::{DataPlane, DataPlaneError, EGRESS_PROG, INGRESS_PROG, test_run_fd};
use crate::domain::{Algorithm, Build, Direction, Mode};
use crate::net::{ETH_HLEN, checksum};

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
    let dp = DataPlane::load(Build::of(Mode::Wireguard, false)).unwrap_or_else(|e| panic!("{e}"));
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
    let mut pseudo = src.octets().to_vec();
    pseudo.extend(dst.octets());
    pseudo.extend([0, 17]);
    pseudo.extend((len as u16).to_be_bytes());
    pseudo.extend(&udp);
    let c = match checksum(&pseudo) {
        0 => 0xffff,
        c => c,
    };
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
    let mut p = A.octets().to_vec();
    p.extend(B.octets());
    p.extend([0, proto]);
    p.extend((segment.len() as u16).to_be_bytes());
    p.extend(segment);
    checksum(&p)
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

#[test]
fn egress_seals_udp_and_icmp_as_the_reference_opens_them() {
    let Some(dp) = keyed("egress_seals_udp_and_icmp_as_the_reference_opens_them") else {
        return;
    };
    let frames = [
        udp_frame(300, A, B, 1),
        icmp_frame(),
        udp_frame(1520, A, B, 2),
        udp_frame(36, A, B, 3),
    ];
    for (counter, frame) in frames.iter().enumerate() {
        let r = run(&dp, Direction::Egress, frame);
        r.passed_counting(&[
            ("encrypted", 1),
            ("encrypted_bytes", (frame.len() - ETH_HLEN - 20) as u64),
        ]);
        let sent = &frame[ETH_HLEN..];
        assert_tunnelled(&r.out, frame, sent, REMOTE_INDEX, counter as u64);
    }
    let k = dp.wg_control().unwrap().keypair(0).unwrap();
    assert_eq!(k.send_counter, frames.len() as u64);
}

#[test]
fn egress_completes_partial_tcp_and_udp_checksums() {
    let Some(dp) = keyed("egress_completes_partial_tcp_and_udp_checksums") else {
        return;
    };
    for (counter, proto) in [17u8, 6].into_iter().enumerate() {
        let (partial, complete) = partial_checksum_frame(proto);
        let r = run(&dp, Direction::Egress, &partial);
        assert!(r.passed(), "{:?}", r.delta);
        assert_tunnelled(
            &r.out,
            &partial,
            &complete[ETH_HLEN..],
            REMOTE_INDEX,
            counter as u64,
        );
    }
}

#[test]
fn two_egress_runs_send_counters_0_and_1() {
    let Some(dp) = keyed("two_egress_runs_send_counters_0_and_1") else {
        return;
    };
    let frame = udp_frame(100, A, B, 9);
    for counter in 0..2u64 {
        let r = run(&dp, Direction::Egress, &frame);
        let msg = &r.out[ETH_HLEN + 28..];
        assert_eq!(msg[8..16], counter.to_le_bytes());
        assert_eq!(reference::open(&SEND_KEY, msg).unwrap().counter, counter);
    }
}

#[test]
fn egress_passes_what_is_not_for_the_tunnel_and_drops_what_it_cannot_seal() {
    let Some(dp) = keyed("egress_passes_what_is_not_for_the_tunnel") else {
        return;
    };
    let mut arp = ETH.to_vec();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    arp.extend([0u8; 28]);
    let elsewhere = udp_frame(200, A, STRANGER, 1);
    for frame in [&arp, &elsewhere] {
        let r = run(&dp, Direction::Egress, frame);
        r.passed_counting(&[("passed", 1)]);
        assert_eq!(&r.out, frame, "untouched");
    }
    run(&dp, Direction::Egress, &udp_frame(1521, A, B, 1)).dropped_as("dropped_unsupported");
    let gso = egress_with_gso(&dp, &udp_frame(1000, A, B, 1));
    gso.dropped_as("dropped_unsupported");
    assert_eq!(
        dp.wg_control().unwrap().keypair(0).unwrap().send_counter,
        0,
        "no counter spent"
    );
}

/// Egress of `frame` as a GSO super-packet (`gso_size` set through the
/// test run's `__sk_buff` context).
fn egress_with_gso(dp: &DataPlane, frame: &[u8]) -> Ran {
    let before = dp.counters().unwrap();
    let mut ctx = [0u64; 192 / 8]; // struct __sk_buff
    ctx[176 / 8] = 1448; // gso_size (its low half; gso_segs at 164 stays 0)
    let mut out = vec![0u8; 4096];
    // SAFETY: zeroed is a valid bpf_test_run_opts; we set sz.
    let mut opts: libbpf_sys::bpf_test_run_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _;
    opts.data_in = frame.as_ptr().cast();
    opts.data_size_in = frame.len() as u32;
    opts.data_out = out.as_mut_ptr().cast();
    opts.data_size_out = out.len() as u32;
    opts.ctx_in = ctx.as_ptr().cast();
    opts.ctx_size_in = std::mem::size_of_val(&ctx) as u32;
    opts.repeat = 1;
    let fd = dp.prog_fd(EGRESS_PROG).unwrap();
    // SAFETY: fd is a loaded program; the buffers live for the call.
    let rc = unsafe { libbpf_sys::bpf_prog_test_run_opts(fd, &mut opts) };
    assert_eq!(rc, 0, "test run with a GSO context");
    let after = dp.counters().unwrap();
    Ran {
        retval: opts.retval,
        out: Vec::new(),
        delta: after
            .iter()
            .filter(|(k, v)| before[*k] != **v)
            .map(|(k, v)| (k.clone(), v - before[k]))
            .collect(),
    }
}

#[test]
fn ingress_delivers_the_inner_packet_of_a_reference_message() {
    let Some(dp) = keyed("ingress_delivers_the_inner_packet_of_a_reference_message") else {
        return;
    };
    for (counter, size) in [(5u64, 200u32), (6, 1520), (7, 21)] {
        let packet = if size == 21 {
            let mut p = test_frame(1, &[0x2a])[ETH_HLEN..].to_vec();
            p[12..16].copy_from_slice(&B.octets());
            p
        } else {
            inner(size, B, A)
        };
        let r = run(
            &dp,
            Direction::Ingress,
            &message(&RECV_KEY, LOCAL_INDEX, counter, &packet),
        );
        r.passed_counting(&[
            ("decrypted", 1),
            ("decrypted_bytes", (packet.len() - 20) as u64),
        ]);
        assert_eq!(r.out[..ETH_HLEN], ETH);
        assert_eq!(r.out[ETH_HLEN..], packet, "the inner packet as it was sent");
    }
    let k = dp.wg_control().unwrap().keypair(0).unwrap();
    assert_eq!((k.received, k.replay_top), (3, 8));
}

#[test]
fn a_flipped_tag_or_ciphertext_byte_fails_authentication() {
    let Some(dp) = keyed("a_flipped_tag_or_ciphertext_byte_fails_authentication") else {
        return;
    };
    let good = message(&RECV_KEY, LOCAL_INDEX, 1, &inner(200, B, A));
    for at in [ETH_HLEN + 28 + 16, ETH_HLEN + 28 + 100, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        run(&dp, Direction::Ingress, &bad).dropped_as("auth_failed");
    }
    // A genuine message under another key, and a counter changed in the
    // header (another nonce), fail too.
    run(
        &dp,
        Direction::Ingress,
        &message(&SEND_KEY, LOCAL_INDEX, 1, &inner(200, B, A)),
    )
    .dropped_as("auth_failed");
    let mut bad = good.clone();
    bad[ETH_HLEN + 28 + 8] ^= 1;
    run(&dp, Direction::Ingress, &bad).dropped_as("auth_failed");
    let k = dp.wg_control().unwrap().keypair(0).unwrap();
    assert_eq!(
        (k.received, k.replay_top),
        (0, 0),
        "the window did not move"
    );
    run(&dp, Direction::Ingress, &good)
        .passed_counting(&[("decrypted", 1), ("decrypted_bytes", 180)]);
}

#[test]
fn the_same_message_twice_is_a_replay() {
    let Some(dp) = keyed("the_same_message_twice_is_a_replay") else {
        return;
    };
    let m = message(&RECV_KEY, LOCAL_INDEX, 3, &inner(100, B, A));
    assert!(run(&dp, Direction::Ingress, &m).passed());
    run(&dp, Direction::Ingress, &m).dropped_as("replayed");
}

#[test]
fn counters_left_of_the_window_are_replays_and_those_in_it_are_not() {
    let Some(dp) = keyed("counters_left_of_the_window_are_replays") else {
        return;
    };
    let packet = inner(60, B, A);
    let deliver = |counter: u64| {
        run(
            &dp,
            Direction::Ingress,
            &message(&RECV_KEY, LOCAL_INDEX, counter, &packet),
        )
    };
    let top = 20_000;
    for counter in [1, top] {
        assert!(deliver(counter).passed(), "{counter}");
    }
    // The oldest counter the window still tracks is top - WINDOW.
    assert!(deliver(top - WINDOW).passed(), "the window's oldest");
    deliver(top - WINDOW - 1).dropped_as("replayed");
    deliver(2).dropped_as("replayed");
    deliver(1).dropped_as("replayed");
    assert!(deliver(top - 1).passed(), "behind the top, unseen");
    // A jump past a whole window forgets everything before it.
    assert!(deliver(top + 3 * WINDOW).passed());
    deliver(top + 1).dropped_as("replayed");
    assert!(
        deliver(top + 2 * WINDOW + 100).passed(),
        "in the new window"
    );
    assert_eq!(
        dp.wg_control().unwrap().keypair(0).unwrap().replay_top,
        top + 3 * WINDOW + 1
    );
}

#[test]
fn an_unknown_receiver_index_is_refused() {
    let Some(dp) = keyed("an_unknown_receiver_index_is_refused") else {
        return;
    };
    run(
        &dp,
        Direction::Ingress,
        &message(&RECV_KEY, LOCAL_INDEX + 1, 0, &inner(100, B, A)),
    )
    .dropped_as("unknown_spi");
}

#[test]
fn an_inner_source_outside_the_allowed_ips_is_refused() {
    let Some(dp) = keyed("an_inner_source_outside_the_allowed_ips_is_refused") else {
        return;
    };
    run(
        &dp,
        Direction::Ingress,
        &message(&RECV_KEY, LOCAL_INDEX, 0, &inner(100, STRANGER, A)),
    )
    .dropped_as("not_allowed");
}

#[test]
fn an_inner_packet_that_is_not_sane_ipv4_is_refused() {
    let Some(dp) = keyed("an_inner_packet_that_is_not_sane_ipv4_is_refused") else {
        return;
    };
    let mut long = inner(100, B, A);
    long[2..4].copy_from_slice(&200u16.to_be_bytes()); // more than it holds
    run(
        &dp,
        Direction::Ingress,
        &message(&RECV_KEY, LOCAL_INDEX, 0, &long),
    )
    .dropped_as("dropped_invalid");
    let mut v6 = inner(100, B, A);
    v6[0] = 0x60;
    run(
        &dp,
        Direction::Ingress,
        &message(&RECV_KEY, LOCAL_INDEX, 1, &v6),
    )
    .dropped_as("dropped_unsupported");
    run(
        &dp,
        Direction::Ingress,
        &message(&RECV_KEY, LOCAL_INDEX, 2, &[0x45; 12]),
    )
    .dropped_as("dropped_invalid");
}

#[test]
fn a_keepalive_is_counted_confirms_and_is_dropped() {
    let Some(dp) = plane_with(
        "a_keepalive_is_counted_confirms_and_is_dropped",
        &tunnel_peer(),
    ) else {
        return;
    };
    install(&dp, 2, (LOCAL_INDEX, REMOTE_INDEX), 0);
    run(
        &dp,
        Direction::Ingress,
        &message(&RECV_KEY, LOCAL_INDEX, 0, &[]),
    )
    .dropped_as("keepalives");
    let k = dp.wg_control().unwrap().keypair(2).unwrap();
    assert!(k.confirmed);
    assert_eq!((k.received, k.replay_top), (1, 1));
    assert_eq!(dp.wg_control().unwrap().peer_state().unwrap().send_slot, 2);
}

#[test]
fn without_a_sending_keypair_egress_drops() {
    let Some(dp) = plane_with("without_a_sending_keypair_egress_drops", &tunnel_peer()) else {
        return;
    };
    let frame = udp_frame(100, A, B, 1);
    assert_eq!(
        dp.wg_control().unwrap().peer_state().unwrap().send_slot,
        WG_NO_SLOT
    );
    run(&dp, Direction::Egress, &frame).dropped_as("dropped_nokey");
    // Installed but neither confirmed nor chosen; chosen but unconfirmed.
    install(&dp, 0, (LOCAL_INDEX, REMOTE_INDEX), 0);
    run(&dp, Direction::Egress, &frame).dropped_as("dropped_nokey");
    dp.wg_control().unwrap().send(0).unwrap();
    run(&dp, Direction::Egress, &frame).dropped_as("dropped_nokey");
    // Cleared: both ways fail closed.
    install(
        &dp,
        0,
        (LOCAL_INDEX, REMOTE_INDEX),
        WG_F_CONFIRMED | WG_F_SEND,
    );
    assert!(run(&dp, Direction::Egress, &frame).passed());
    Wireguard.clear(&dp).unwrap();
    assert_eq!(
        dp.wg_control().unwrap().peer_state().unwrap().send_slot,
        WG_NO_SLOT
    );
    assert!(!dp.wg_control().unwrap().keypair(0).unwrap().valid);
    run(&dp, Direction::Egress, &frame).dropped_as("dropped_nokey");
    run(
        &dp,
        Direction::Ingress,
        &message(&RECV_KEY, LOCAL_INDEX, 0, &inner(100, B, A)),
    )
    .dropped_as("unknown_spi");
}

#[test]
fn an_unconfirmed_keypair_sends_after_one_authenticated_message() {
    let Some(dp) = keyed("an_unconfirmed_keypair_sends_after_one_authenticated_message") else {
        return;
    };
    let (next_local, next_remote) = (0x3333_0003, 0x4444_0004);
    let (next_send, next_recv) = ([5u8; 32], [6u8; 32]);
    dp.wg_control()
        .unwrap()
        .install(1, next_local, next_remote, &next_send, &next_recv, 0)
        .unwrap();
    let frame = udp_frame(100, A, B, 1);
    let receiver =
        |r: &Ran| u32::from_le_bytes(r.out[ETH_HLEN + 32..ETH_HLEN + 36].try_into().unwrap());
    assert_eq!(receiver(&run(&dp, Direction::Egress, &frame)), REMOTE_INDEX);
    assert!(!dp.wg_control().unwrap().keypair(1).unwrap().confirmed);
    // A forged message under it confirms nothing.
    run(
        &dp,
        Direction::Ingress,
        &message(&RECV_KEY, next_local, 0, &inner(100, B, A)),
    )
    .dropped_as("auth_failed");
    assert_eq!(dp.wg_control().unwrap().peer_state().unwrap().send_slot, 0);
    let r = run(
        &dp,
        Direction::Ingress,
        &message(&next_recv, next_local, 0, &inner(100, B, A)),
    );
    assert!(r.passed(), "{:?}", r.delta);
    let k: KeypairState = dp.wg_control().unwrap().keypair(1).unwrap();
    assert!(k.confirmed && k.valid);
    assert_eq!(k.received, 1);
    assert_eq!(dp.wg_control().unwrap().peer_state().unwrap().send_slot, 1);
    let r = run(&dp, Direction::Egress, &frame);
    assert_eq!(receiver(&r), next_remote);
    let o = reference::open(&next_send, &r.out[ETH_HLEN + 28..]).unwrap();
    assert_eq!(o.counter, 0, "the new keypair counts from 0");
    // The old keypair still receives.
    assert!(
        run(
            &dp,
            Direction::Ingress,
            &message(&RECV_KEY, LOCAL_INDEX, 0, &inner(100, B, A))
        )
        .passed()
    );
}

#[test]
fn handshake_messages_pass_unchanged_and_cleartext_from_the_tunnel_does_not() {
    let Some(dp) = keyed("handshake_messages_pass_unchanged") else {
        return;
    };
    for ty in 1..=3u8 {
        let mut msg = vec![ty, 0, 0, 0];
        msg.extend([0x77; 144]);
        let mut frame = ETH.to_vec();
        frame.extend(reference::udp_ipv4(ENDPOINT, LOCAL, &msg));
        let r = run(&dp, Direction::Ingress, &frame);
        r.passed_counting(&[("handshakes", 1), ("passed", 1)]);
        assert_eq!(r.out, frame);
    }
    // Not a message type (reserved bytes set), to our port: dropped.
    let mut frame = ETH.to_vec();
    frame.extend(reference::udp_ipv4(
        ENDPOINT,
        LOCAL,
        &[4, 1, 0, 0, 0, 0, 0, 0],
    ));
    run(&dp, Direction::Ingress, &frame).dropped_as("dropped_invalid");
    // Cleartext: from the allowed IPs dropped, from elsewhere passed.
    run(&dp, Direction::Ingress, &udp_frame(200, B, A, 1)).dropped_as("dropped_invalid");
    let r = run(&dp, Direction::Ingress, &udp_frame(200, STRANGER, A, 1));
    r.passed_counting(&[("passed", 1)]);
}

#[test]
fn the_handshake_goes_out_in_the_clear_even_when_the_tunnel_covers_the_endpoint() {
    let everything = peer(&[(Ipv4Addr::UNSPECIFIED, 0)]);
    let Some(dp) = plane_with("the_handshake_goes_out_in_the_clear", &everything) else {
        return;
    };
    install(
        &dp,
        0,
        (LOCAL_INDEX, REMOTE_INDEX),
        WG_F_CONFIRMED | WG_F_SEND,
    );
    let mut frame = ETH.to_vec();
    frame.extend(reference::udp_ipv4(
        LOCAL,
        ENDPOINT,
        &[1, 0, 0, 0, 9, 9, 9, 9],
    ));
    let r = run(&dp, Direction::Egress, &frame);
    r.passed_counting(&[("passed", 1)]);
    assert_eq!(r.out, frame);
    // The same datagram with a data message's type is tunnelled.
    let mut frame = ETH.to_vec();
    frame.extend(reference::udp_ipv4(
        LOCAL,
        ENDPOINT,
        &[4, 0, 0, 0, 9, 9, 9, 9],
    ));
    assert_eq!(run(&dp, Direction::Egress, &frame).delta["encrypted"], 1);
}

#[test]
fn expired_keypairs_and_exhausted_counters_are_refused() {
    let mut short = tunnel_peer();
    short.reject_after_ns = 1;
    let Some(dp) = plane_with(
        "expired_keypairs_and_exhausted_counters_are_refused",
        &short,
    ) else {
        return;
    };
    install(
        &dp,
        0,
        (LOCAL_INDEX, REMOTE_INDEX),
        WG_F_CONFIRMED | WG_F_SEND,
    );
    let frame = udp_frame(100, A, B, 1);
    run(&dp, Direction::Egress, &frame).dropped_as("expired");
    let m = |c| message(&RECV_KEY, LOCAL_INDEX, c, &inner(100, B, A));
    run(&dp, Direction::Ingress, &m(0)).dropped_as("expired");

    let mut few = tunnel_peer();
    few.reject_after_messages = 2;
    dp.wg_control().unwrap().set_peer(&few).unwrap();
    for _ in 0..2 {
        assert!(run(&dp, Direction::Egress, &frame).passed());
    }
    run(&dp, Direction::Egress, &frame).dropped_as("seq_exhausted");
    run(&dp, Direction::Ingress, &m(2)).dropped_as("seq_exhausted");
    assert!(run(&dp, Direction::Ingress, &m(1)).passed());
}

#[test]
fn provisioning_refuses_what_cannot_work() {
    let Some(dp) = keyed("provisioning_refuses_what_cannot_work") else {
        return;
    };
    let errno = |r: Result<u64, DataPlaneError>| match r {
        Err(DataPlaneError::Provision { errno, .. }) => errno,
        other => panic!("{other:?}"),
    };
    let k = (&SEND_KEY, &RECV_KEY);
    assert_eq!(
        errno(dp.wg_control().unwrap().install(3, 9, 9, k.0, k.1, 0)),
        libc::EINVAL
    );
    assert_eq!(
        errno(
            dp.wg_control()
                .unwrap()
                .install(1, LOCAL_INDEX, 9, k.0, k.1, 0)
        ),
        libc::EEXIST,
        "the local index of slot 0"
    );
    assert_eq!(errno(dp.wg_control().unwrap().send(2)), libc::ENOENT);
    assert_eq!(errno(dp.wg_control().unwrap().clear(Some(3))), libc::EINVAL);
    let mut p = tunnel_peer();
    p.n_allowed = 9;
    assert_eq!(errno(dp.wg_control().unwrap().set_peer(&p)), libc::EINVAL);
    let mut p = tunnel_peer();
    p.allowed[0].prefix_len = 33;
    assert_eq!(errno(dp.wg_control().unwrap().set_peer(&p)), libc::EINVAL);
    // Reinstalling slot 0 under its own index is a rekey, not a clash.
    let before = dp.wg_control().unwrap().peer_state().unwrap().generation;
    install(
        &dp,
        0,
        (LOCAL_INDEX, REMOTE_INDEX),
        WG_F_CONFIRMED | WG_F_SEND,
    );
    assert_eq!(
        dp.wg_control().unwrap().peer_state().unwrap().generation,
        before + 1
    );
}

/// The self-talk keying of the bench and the fuzzer: egress's output is
/// what the format's checks take, and ingress opens it to the frame.
#[test]
fn self_talk_round_trips_and_passes_the_formats_checks() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED self_talk_round_trips: not root");
        return;
    }
    let dp = DataPlane::load(Build::of(Mode::Wireguard, false)).unwrap();
    let key = [9u8; 32];
    let keys = Keys::new(Algorithm::ChaCha20Poly1305, &key, &[]);
    assert!(
        Wireguard
            .provision(
                &dp,
                &Keys::new(Algorithm::ChaCha20Poly1305, &key[..16], &[])
            )
            .is_err()
    );
    Wireguard.provision(&dp, &keys).unwrap();
    let (partial, complete) = partial_checksum_frame(17);
    let big = udp_frame(1500, A, B, 1);
    // (input, what ingress delivers of egress's output)
    for (frame, delivered) in [(&big, &big), (&complete, &complete), (&partial, &complete)] {
        let out = run(&dp, Direction::Egress, frame).out;
        // The bench's check compares with its input as it is (its frames'
        // checksums are complete); the fuzzer's reference, checksums aside.
        assert_eq!(
            Wireguard.check_egress(&keys, frame, &out).is_ok(),
            frame == delivered
        );
        assert_eq!(Wireguard.reference(&keys, [0; 16], frame, &out), Ok(()));
        let (proto, payload) = Wireguard.open(&keys, 17, &out[ETH_HLEN + 20..]).unwrap();
        assert_eq!((proto, &payload[..]), (17, &delivered[ETH_HLEN + 20..]));
        let back = run(&dp, Direction::Ingress, &out);
        assert!(back.passed(), "{:?}", back.delta);
        assert_eq!(&back.out, delivered);
        let mut bad = out.clone();
        bad[60] ^= 1;
        assert!(Wireguard.reference(&keys, [0; 16], frame, &bad).is_err());
        assert!(Wireguard.check_egress(&keys, frame, &bad).is_err());
        assert_eq!(Wireguard.open(&keys, 17, &bad[ETH_HLEN + 20..]), None);
    }
    // Keyed again: a fresh keypair, counters from 0.
    Wireguard.provision(&dp, &keys).unwrap();
    assert_eq!(dp.wg_control().unwrap().keypair(0).unwrap().send_counter, 0);
}

/// The 10th percentile and the median of `ns` (sorted in place).
fn typical(ns: &mut [u32]) -> (u32, u32) {
    ns.sort_unstable();
    (ns[ns.len() / 10], ns[ns.len() / 2])
}

fn verified_insns(dp: &DataPlane, prog: &'static str) -> u32 {
    let fd = dp.prog_fd(prog).unwrap();
    // SAFETY: zeroed is a valid bpf_prog_info; fd is a loaded program and
    // len the size of the struct the kernel may fill.
    unsafe {
        let mut info: libbpf_sys::bpf_prog_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
        assert_eq!(
            libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len),
            0
        );
        info.verified_insns
    }
}

/// The verifier's work and the time per 1500-byte packet (10th
/// percentile and median of 2000 single runs: a repeated run would take
/// its own output), next to the raw `cbc(aes)` build's egress. The runs
/// must still give what the reference gives.
#[test]
fn cost_at_1500_bytes() {
    let Some(dp) = keyed("cost_at_1500_bytes") else {
        return;
    };
    const RUNS: u64 = 2000;
    for prog in [EGRESS_PROG, INGRESS_PROG] {
        eprintln!(
            "wireguard {prog}: {} verified instructions",
            verified_insns(&dp, prog)
        );
    }
    let frame = udp_frame(1500, A, B, 1);
    let mut out = vec![0u8; 4096];
    let fd = dp.prog_fd(EGRESS_PROG).unwrap();
    let mut egress: Vec<u32> = (0..RUNS)
        .map(|_| test_run_fd(fd, &frame, &mut out, 1).unwrap().duration_ns)
        .collect();
    let last = run(&dp, Direction::Egress, &frame);
    assert_tunnelled(&last.out, &frame, &frame[ETH_HLEN..], REMOTE_INDEX, RUNS);

    let packet = inner(1500, B, A);
    let fd = dp.prog_fd(INGRESS_PROG).unwrap();
    let mut ingress: Vec<u32> = (0..RUNS)
        .map(|c| {
            let m = message(&RECV_KEY, LOCAL_INDEX, c, &packet);
            let t = test_run_fd(fd, &m, &mut out, 1).unwrap();
            assert!(is_pass(t.retval));
            t.duration_ns
        })
        .collect();
    assert_eq!(out[ETH_HLEN..ETH_HLEN + packet.len()], packet);

    let raw_dp = DataPlane::load(Build::of(Mode::Raw, false)).unwrap();
    let raw_key = [3u8; 16];
    raw::Raw
        .provision(&raw_dp, &Keys::new(Algorithm::CbcAes, &raw_key, &[]))
        .unwrap();
    eprintln!(
        "raw cbc(aes) {EGRESS_PROG}: {} verified instructions",
        verified_insns(&raw_dp, EGRESS_PROG)
    );
    let fd = raw_dp.prog_fd(EGRESS_PROG).unwrap();
    let mut cbc: Vec<u32> = (0..RUNS)
        .map(|_| {
            let t = test_run_fd(fd, &frame, &mut out, 1).unwrap();
            assert!(is_pass(t.retval));
            t.duration_ns
        })
        .collect();
    for (what, ns) in [
        ("wireguard egress", &mut egress),
        ("wireguard ingress", &mut ingress),
        ("raw cbc(aes) egress", &mut cbc),
    ] {
        let (p10, median) = typical(ns);
        eprintln!("{what} at 1500 B: p10 {p10} ns, median {median} ns ({RUNS} runs)");
    }
}
