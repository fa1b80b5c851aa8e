//! Ingress: what it delivers, and every refusal with its counter.

use super::*;

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
        // The fuzzer's `forged` check lets them pass too.
        assert!(Wireguard.passes_unauthenticated(&frame));
    }
    // Not a message type (reserved bytes set), to our port: dropped.
    let mut frame = ETH.to_vec();
    frame.extend(reference::udp_ipv4(
        ENDPOINT,
        LOCAL,
        &[4, 1, 0, 0, 0, 0, 0, 0],
    ));
    run(&dp, Direction::Ingress, &frame).dropped_as("dropped_invalid");
    assert!(!Wireguard.passes_unauthenticated(&frame));
    // Cleartext: from the allowed IPs dropped, from elsewhere passed.
    let cleartext = udp_frame(200, B, A, 1);
    run(&dp, Direction::Ingress, &cleartext).dropped_as("dropped_invalid");
    assert!(!Wireguard.passes_unauthenticated(&cleartext));
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
