//! Egress: what it seals, passes and drops.

use super::*;

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
    let mut ctx = [0u8; 192]; // struct __sk_buff
    ctx[176..180].copy_from_slice(&1448u32.to_ne_bytes()); // gso_size (gso_segs at 164 stays 0)
    let mut out = vec![0u8; 4096];
    let fd = dp.prog_fd(EGRESS_PROG).unwrap();
    let t = test_run_with_ctx(fd, frame, &mut out, 1, &ctx).expect("test run with a GSO context");
    let after = dp.counters().unwrap();
    Ran {
        retval: t.retval,
        out: Vec::new(),
        delta: after
            .iter()
            .filter(|(k, v)| before[*k] != **v)
            .map(|(k, v)| (k.clone(), v - before[k]))
            .collect(),
    }
}
