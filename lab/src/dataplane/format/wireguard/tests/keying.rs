//! The keypairs' limits, provisioning's refusals, the self-talk keying
//! and the cost.

use super::*;

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
    let dp = DataPlane::load(Build::of(Wireguard.mode(), false)).unwrap();
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

    let raw_dp = DataPlane::load(Build::of(raw::Raw.mode(), false)).unwrap();
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
