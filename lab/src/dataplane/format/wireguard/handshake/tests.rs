//! Our initiator against our responder: matching sessions, and each kind
//! of bad message refused with its own error.

use std::time::Duration;

use super::cookie::{self, mac2_of, seal_reply};
use super::error::{HandshakeError, Sealed};
use super::initiator::{PendingInitiation, initiate, initiate_with_ephemeral};
use super::keylog::{KeyKind, handshake_lines, parse};
use super::keys::{Identity, PeerKeys, random_private};
use super::messages::{INITIATION_LEN, Kind, MessageError, RESPONSE_LEN};
use super::responder::Responder;
use super::session::Session;
use super::tai64n::Tai64n;

struct Pair {
    a: Identity,
    b: Identity,
    /// What A knows of B, and B of A.
    a_peer: PeerKeys,
    b_peer: PeerKeys,
}

fn pair(psk: [u8; 32]) -> Pair {
    let a = Identity {
        private: random_private().unwrap(),
    };
    let b = Identity {
        private: random_private().unwrap(),
    };
    Pair {
        a_peer: PeerKeys {
            remote_public: b.public(),
            psk,
        },
        b_peer: PeerKeys {
            remote_public: a.public(),
            psk,
        },
        a,
        b,
    }
}

fn at(secs: u64) -> Tai64n {
    Tai64n::from_unix(Duration::from_secs(1_700_000_000 + secs))
}

fn initiation(p: &Pair, index: u32, secs: u64) -> (PendingInitiation, [u8; INITIATION_LEN]) {
    initiate(&p.a, &p.a_peer, index, at(secs), None).unwrap()
}

/// A handshake from A (index 11) to B (index 22).
fn handshake(p: &Pair) -> (Session, Session) {
    let (pending, init) = initiation(p, 11, 0);
    let (b_session, response) = Responder::new(&p.b, &p.b_peer).respond(&init, 22).unwrap();
    (pending.consume_response(&response).unwrap(), b_session)
}

fn flip(msg: &[u8], at: usize) -> Vec<u8> {
    let mut m = msg.to_vec();
    m[at] ^= 0x01;
    m
}

#[test]
fn sessions_match_with_and_without_psk() {
    for psk in [[0u8; 32], random_private().unwrap()] {
        let p = pair(psk);
        let (a, b) = handshake(&p);
        assert_eq!(a.send_key, b.recv_key);
        assert_eq!(a.recv_key, b.send_key);
        assert_ne!(a.send_key, a.recv_key);
        assert_eq!((a.local_index, a.remote_index, a.initiator), (11, 22, true));
        assert_eq!(
            (b.local_index, b.remote_index, b.initiator),
            (22, 11, false)
        );
    }
}

/// The preshared key is mixed in: the same handshake (same ephemerals)
/// with another preshared key derives other keys.
#[test]
fn the_psk_changes_the_keys() {
    let keys_with = |p: &Pair| {
        let (pending, init) =
            initiate_with_ephemeral(&p.a, &p.a_peer, 1, at(0), None, [5; 32]).unwrap();
        let (_, response) = Responder::new(&p.b, &p.b_peer)
            .respond_with_ephemeral(&init, 2, [6; 32])
            .unwrap();
        pending.consume_response(&response).unwrap().send_key
    };
    let mut p = pair([0; 32]);
    let without = keys_with(&p);
    assert_eq!(keys_with(&p), without, "same inputs, same keys");
    p.a_peer.psk = [9; 32];
    p.b_peer.psk = [9; 32];
    assert_ne!(keys_with(&p), without);
}

#[test]
fn a_wrong_psk_fails_at_the_response() {
    let mut p = pair([1; 32]);
    p.b_peer.psk = [2; 32];
    let (pending, init) = initiation(&p, 11, 0);
    let (_, response) = Responder::new(&p.b, &p.b_peer).respond(&init, 22).unwrap();
    assert_eq!(
        pending.consume_response(&response),
        Err(HandshakeError::DecryptionFailed(Sealed::Empty))
    );
}

#[test]
fn a_flipped_mac1_byte_is_refused() {
    let p = pair([0; 32]);
    let (pending, init) = initiation(&p, 11, 0);
    let mut responder = Responder::new(&p.b, &p.b_peer);
    assert_eq!(
        responder.respond(&flip(&init, 116), 22).map(|_| ()),
        Err(HandshakeError::BadMac1(Kind::Initiation))
    );
    let (_, response) = responder.respond(&init, 22).unwrap();
    assert_eq!(
        pending.consume_response(&flip(&response, 60)),
        Err(HandshakeError::BadMac1(Kind::Response))
    );
}

/// An initiation made for another responder's key fails mac1 before any
/// Diffie-Hellman.
#[test]
fn an_initiation_for_another_key_fails_mac1() {
    let p = pair([0; 32]);
    let other = pair([0; 32]);
    let (_, init) = initiation(&p, 11, 0);
    assert_eq!(
        Responder::new(&other.b, &p.b_peer)
            .respond(&init, 22)
            .map(|_| ()),
        Err(HandshakeError::BadMac1(Kind::Initiation))
    );
}

/// A flipped byte in a sealed field, mac1 made anew over it (as an
/// attacker who knows the receiver's public key can): the AEAD refuses.
#[test]
fn a_flipped_encrypted_byte_is_refused() {
    let p = pair([0; 32]);
    let (pending, init) = initiation(&p, 11, 0);
    let mut responder = Responder::new(&p.b, &p.b_peer);
    for (offset, sealed) in [(40, Sealed::Static), (100, Sealed::Timestamp)] {
        let mut bad = flip(&init, offset);
        cookie::stamp(&mut bad, &p.b.public(), None);
        assert_eq!(
            responder.respond(&bad, 22).map(|_| ()),
            Err(HandshakeError::DecryptionFailed(sealed))
        );
    }
    let (_, response) = responder.respond(&init, 22).unwrap();
    let mut bad = flip(&response, 50);
    cookie::stamp(&mut bad, &p.a.public(), None);
    assert_eq!(
        pending.consume_response(&bad),
        Err(HandshakeError::DecryptionFailed(Sealed::Empty))
    );
}

/// The same initiation twice, or an older one, is refused; a refusal
/// leaves the last accepted timestamp as it was.
#[test]
fn a_replayed_initiation_is_refused() {
    let p = pair([0; 32]);
    let mut responder = Responder::new(&p.b, &p.b_peer);
    let (_, init) = initiation(&p, 11, 10);
    responder.respond(&init, 22).unwrap();
    assert_eq!(
        responder.respond(&init, 23).map(|_| ()),
        Err(HandshakeError::ReplayedTimestamp {
            got: at(10),
            last: at(10)
        })
    );
    let (_, older) = initiation(&p, 12, 9);
    assert!(matches!(
        responder.respond(&older, 24),
        Err(HandshakeError::ReplayedTimestamp { .. })
    ));
    let (_, newer) = initiation(&p, 13, 11);
    assert!(responder.respond(&newer, 25).is_ok());
}

#[test]
fn a_response_to_another_index_is_refused() {
    let p = pair([0; 32]);
    let (first, _) = initiation(&p, 1, 0);
    let (_, second) = initiation(&p, 2, 1);
    let (_, response) = Responder::new(&p.b, &p.b_peer)
        .respond(&second, 22)
        .unwrap();
    assert_eq!(
        first.consume_response(&response),
        Err(HandshakeError::UnexpectedReceiverIndex {
            kind: Kind::Response,
            expected: 1,
            got: 2
        })
    );
}

#[test]
fn an_unknown_static_key_is_refused() {
    let p = pair([0; 32]);
    let stranger = Identity {
        private: random_private().unwrap(),
    };
    let (_, init) = initiate(&stranger, &p.a_peer, 11, at(0), None).unwrap();
    assert_eq!(
        Responder::new(&p.b, &p.b_peer)
            .respond(&init, 22)
            .map(|_| ()),
        Err(HandshakeError::UnknownStaticKey {
            got: stranger.public()
        })
    );
}

#[test]
fn wrong_sizes_and_types_are_refused() {
    let p = pair([0; 32]);
    let (pending, init) = initiation(&p, 11, 0);
    let mut responder = Responder::new(&p.b, &p.b_peer);
    assert_eq!(
        responder.respond(&init[..RESPONSE_LEN], 22).map(|_| ()),
        Err(HandshakeError::Message(MessageError::WrongSize {
            kind: Kind::Initiation,
            got: RESPONSE_LEN
        }))
    );
    let mut typed = init;
    typed[0] = 2;
    assert!(matches!(
        responder.respond(&typed, 22),
        Err(HandshakeError::Message(MessageError::WrongType {
            got: 2,
            ..
        }))
    ));
    assert!(matches!(
        pending.consume_response(&init),
        Err(HandshakeError::Message(MessageError::WrongSize { .. }))
    ));
}

/// A cookie reply to our initiation: its cookie keys mac2 of the next
/// initiation, which the responder still accepts. A reply to another
/// index or sealed to another mac1 is refused.
#[test]
fn a_cookie_reply_keys_mac2_of_the_next_initiation() {
    let p = pair([0; 32]);
    let (pending, init) = initiation(&p, 11, 0);
    let mac1: [u8; 16] = init[116..132].try_into().unwrap();
    let value = [0xc0; 16];
    let reply = seal_reply(11, &p.b.public(), &mac1, [7; 24], value).encode();
    let cookie = pending.consume_cookie_reply(&reply).unwrap();

    let (_, again) = initiate(&p.a, &p.a_peer, 12, at(1), Some(&cookie)).unwrap();
    assert_eq!(again[132..], mac2_of(&again, &value));
    assert!(Responder::new(&p.b, &p.b_peer).respond(&again, 22).is_ok());

    let elsewhere = seal_reply(99, &p.b.public(), &mac1, [7; 24], value).encode();
    assert!(matches!(
        pending.consume_cookie_reply(&elsewhere),
        Err(HandshakeError::UnexpectedReceiverIndex {
            kind: Kind::CookieReply,
            got: 99,
            ..
        })
    ));
    let other_mac1 = seal_reply(11, &p.b.public(), &[0; 16], [7; 24], value).encode();
    assert_eq!(
        pending.consume_cookie_reply(&other_mac1),
        Err(HandshakeError::DecryptionFailed(Sealed::Cookie))
    );
}

/// The responder takes a cookie reply to its last response and uses it in
/// mac2 of the next one; one before any response is unsolicited.
#[test]
fn a_responder_takes_a_cookie_reply_to_its_response() {
    let p = pair([0; 32]);
    let mut responder = Responder::new(&p.b, &p.b_peer);
    let value = [0xc1; 16];
    let early = seal_reply(22, &p.a.public(), &[0; 16], [7; 24], value).encode();
    assert_eq!(
        responder.consume_cookie_reply(&early),
        Err(HandshakeError::UnsolicitedCookieReply)
    );
    let (_, init) = initiation(&p, 11, 0);
    let (_, response) = responder.respond(&init, 22).unwrap();
    assert_eq!(response[76..], [0; 16], "no cookie yet");
    let mac1: [u8; 16] = response[60..76].try_into().unwrap();
    let reply = seal_reply(22, &p.a.public(), &mac1, [7; 24], value).encode();
    responder.consume_cookie_reply(&reply).unwrap();
    let (_, init) = initiation(&p, 12, 1);
    let (_, response) = responder.respond(&init, 23).unwrap();
    assert_eq!(response[76..], mac2_of(&response, &value));
}

/// The key log of each side's handshake parses back to its keys: ours,
/// the peer's public, this handshake's ephemeral, the preshared key.
#[test]
fn keylog_lines_of_both_sides_parse_back() {
    let p = pair(random_private().unwrap());
    let (pending, init) = initiation(&p, 11, 0);
    let mut responder = Responder::new(&p.b, &p.b_peer);
    let (_, response) = responder.respond(&init, 22).unwrap();
    let sides = [
        (&p.a, &p.a_peer, pending.ephemeral_private()),
        (&p.b, &p.b_peer, responder.last_ephemeral_private().unwrap()),
    ];
    for (identity, peer, ephemeral) in sides {
        let lines = parse(&handshake_lines(identity, peer, &ephemeral)).unwrap();
        let got: Vec<_> = lines.iter().map(|l| (l.kind, l.key)).collect();
        assert_eq!(
            got,
            [
                (KeyKind::LocalStaticPrivate, identity.private),
                (KeyKind::RemoteStaticPublic, peer.remote_public),
                (KeyKind::LocalEphemeralPrivate, ephemeral),
                (KeyKind::Preshared, peer.psk),
            ]
        );
    }
    // The logged ephemerals are the ones on the wire.
    let public = |private| Identity { private }.public();
    assert_eq!(init[8..40], public(sides[0].2));
    assert_eq!(response[12..44], public(sides[1].2));
}
