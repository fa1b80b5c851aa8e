//! The independent check: boringtun (a maintained WireGuard
//! implementation with its own handshake code) as the other end. Our
//! initiator against its responder and its initiator against our
//! responder; each session then carries a transport message each way,
//! sealed and opened with the keys we derived. Cookies too: boringtun
//! under load (a rate limit of zero) answers with cookie replies and checks
//! mac2.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519;

use super::crypto::{open, seal};
use super::error::{HandshakeError, Sealed};
use super::initiator::initiate;
use super::keys::{Identity, PeerKeys, random_private};
use super::messages::{COOKIE_REPLY_LEN, Kind, RESPONSE_LEN};
use super::responder::Responder;
use super::session::Session;
use super::tai64n::Tai64n;

/// The source address boringtun binds its cookies to.
const PEER_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

struct Ends {
    ours: Identity,
    theirs: Identity,
    psk: [u8; 32],
}

impl Ends {
    fn new(psk: [u8; 32]) -> Self {
        Self {
            ours: Identity {
                private: random_private().unwrap(),
            },
            theirs: Identity {
                private: random_private().unwrap(),
            },
            psk,
        }
    }

    /// What we know of boringtun's end.
    fn peer(&self) -> PeerKeys {
        PeerKeys {
            remote_public: self.theirs.public(),
            psk: self.psk,
        }
    }

    /// boringtun's end, its peer being ours; `limiter` set puts it under
    /// load.
    fn tunn(&self, limiter: Option<Arc<RateLimiter>>) -> Tunn {
        Tunn::new(
            x25519::StaticSecret::from(self.theirs.private),
            x25519::PublicKey::from(self.ours.public()),
            Some(self.psk),
            None,
            0x51,
            limiter,
        )
    }

    /// A rate limiter that finds boringtun's end always under load.
    fn loaded(&self) -> Arc<RateLimiter> {
        Arc::new(RateLimiter::new(
            &x25519::PublicKey::from(self.theirs.public()),
            0,
        ))
    }
}

fn psks() -> [[u8; 32]; 2] {
    [[0; 32], random_private().unwrap()]
}

/// The bytes boringtun asks to send, or a panic naming what it did.
fn to_network(r: TunnResult<'_>) -> Vec<u8> {
    match r {
        TunnResult::WriteToNetwork(b) => b.to_vec(),
        other => panic!("boringtun did not send: {other:?}"),
    }
}

/// A 48-byte IPv4/UDP packet (a multiple of 16: WireGuard pads to 16,
/// boringtun does not, so both read the same bytes).
fn ip_packet(tag: u8) -> Vec<u8> {
    let mut p = vec![0u8; 48];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&48u16.to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&[10, 0, 0, 2]);
    p[28..].fill(tag);
    p
}

/// A transport message (type 4) of `session` (paper §5.4.6).
fn seal_transport(session: &Session, counter: u64, packet: &[u8]) -> Vec<u8> {
    let mut m = vec![4, 0, 0, 0];
    m.extend_from_slice(&session.remote_index.to_le_bytes());
    m.extend_from_slice(&counter.to_le_bytes());
    m.extend(seal(&session.send_key, counter, packet, &[]));
    m
}

/// The packet in a transport message to `session`, checking its header.
fn open_transport(session: &Session, msg: &[u8], counter: u64) -> Vec<u8> {
    assert_eq!(msg[..4], [4, 0, 0, 0], "a transport message");
    assert_eq!(msg[4..8], session.local_index.to_le_bytes(), "to our index");
    assert_eq!(msg[8..16], counter.to_le_bytes());
    open(&session.recv_key, counter, &msg[16..], &[]).expect("opens with our receive key")
}

/// A transport message each way: ours to boringtun first (a responder
/// sends only once the initiator's first message confirmed the keys),
/// then boringtun's answer, after any keepalive it already sent.
fn exchange(tunn: &mut Tunn, session: &Session, their_counter: u64) {
    let mut buf = vec![0u8; 2048];
    let packet = ip_packet(0xa1);
    match tunn.decapsulate(None, &seal_transport(session, 0, &packet), &mut buf) {
        TunnResult::WriteToTunnelV4(got, src) => {
            assert_eq!(got, &packet[..]);
            assert_eq!(src, Ipv4Addr::new(10, 0, 0, 1));
        }
        other => panic!("boringtun did not take our transport message: {other:?}"),
    }
    let packet = ip_packet(0xb2);
    let msg = to_network(tunn.encapsulate(&packet, &mut buf));
    assert_eq!(open_transport(session, &msg, their_counter), packet);
}

#[test]
fn our_initiator_against_boringtuns_responder() {
    for psk in psks() {
        let ends = Ends::new(psk);
        let mut tunn = ends.tunn(None);
        let (pending, init) = initiate(&ends.ours, &ends.peer(), 11, Tai64n::now(), None).unwrap();
        let mut buf = vec![0u8; 2048];
        let response = to_network(tunn.decapsulate(None, &init, &mut buf));
        assert_eq!(Kind::of(&response), Some(Kind::Response));
        let session = pending.consume_response(&response).unwrap();
        assert!(session.initiator);
        exchange(&mut tunn, &session, 0);
    }
}

#[test]
fn boringtuns_initiator_against_our_responder() {
    for psk in psks() {
        let ends = Ends::new(psk);
        let mut tunn = ends.tunn(None);
        let mut buf = vec![0u8; 2048];
        let init = to_network(tunn.format_handshake_initiation(&mut buf, false));
        let mut responder = Responder::new(&ends.ours, &ends.peer());
        let (session, response) = responder.respond(&init, 22).unwrap();
        assert!(!session.initiator);
        // boringtun confirms the session with a keepalive: an empty
        // transport message, counter 0.
        let keepalive = to_network(tunn.decapsulate(None, &response, &mut buf));
        assert_eq!(open_transport(&session, &keepalive, 0), b"");
        exchange(&mut tunn, &session, 1);
    }
}

/// A wrong preshared key on boringtun's side: its response does not open.
#[test]
fn boringtun_with_another_psk_is_refused() {
    let mut ends = Ends::new([1; 32]);
    let peer = ends.peer();
    ends.psk = [2; 32];
    let mut tunn = ends.tunn(None);
    let (pending, init) = initiate(&ends.ours, &peer, 11, Tai64n::now(), None).unwrap();
    let mut buf = vec![0u8; 2048];
    let response = to_network(tunn.decapsulate(None, &init, &mut buf));
    assert_eq!(
        pending.consume_response(&response),
        Err(HandshakeError::DecryptionFailed(Sealed::Empty))
    );
}

/// boringtun under load answers our initiation with a cookie reply; our
/// next initiation carries mac2 from that cookie, which boringtun checks
/// before it responds.
#[test]
fn boringtuns_cookie_keys_our_mac2() {
    let ends = Ends::new([0; 32]);
    let mut tunn = ends.tunn(Some(ends.loaded()));
    let base = Duration::from_secs(1_700_000_000);
    let mut buf = vec![0u8; 2048];

    let (pending, init) =
        initiate(&ends.ours, &ends.peer(), 11, Tai64n::from_unix(base), None).unwrap();
    let reply = to_network(tunn.decapsulate(Some(PEER_ADDR), &init, &mut buf));
    assert_eq!(reply.len(), COOKIE_REPLY_LEN);
    let cookie = pending.consume_cookie_reply(&reply).unwrap();

    let later = Tai64n::from_unix(base + Duration::from_secs(1));
    let (pending, init) = initiate(&ends.ours, &ends.peer(), 12, later, Some(&cookie)).unwrap();
    let response = to_network(tunn.decapsulate(Some(PEER_ADDR), &init, &mut buf));
    assert_eq!(response.len(), RESPONSE_LEN);
    pending.consume_response(&response).unwrap();
}

/// boringtun's initiator under load answers our response with a cookie
/// reply; our response to its next initiation carries mac2 from it, and
/// boringtun takes that response.
#[test]
fn our_responder_uses_boringtuns_cookie() {
    let ends = Ends::new([0; 32]);
    let mut tunn = ends.tunn(Some(ends.loaded()));
    let mut responder = Responder::new(&ends.ours, &ends.peer());
    let mut buf = vec![0u8; 2048];

    let init = to_network(tunn.format_handshake_initiation(&mut buf, false));
    let (_, response) = responder.respond(&init, 22).unwrap();
    let reply = to_network(tunn.decapsulate(Some(PEER_ADDR), &response, &mut buf));
    assert_eq!(reply.len(), COOKIE_REPLY_LEN);
    responder.consume_cookie_reply(&reply).unwrap();

    let init = to_network(tunn.format_handshake_initiation(&mut buf, true));
    let (session, response) = responder.respond(&init, 23).unwrap();
    let keepalive = to_network(tunn.decapsulate(Some(PEER_ADDR), &response, &mut buf));
    assert_eq!(open_transport(&session, &keepalive, 0), b"");
}
