//! mac1 and mac2, and cookies (paper §5.4.4, §5.4.7). Every handshake
//! message carries mac1, keyed by the receiver's public key, so a
//! responder spends no Diffie-Hellman on a message not made for it. A
//! responder under load answers a message without a valid mac2 with a
//! cookie reply; the sender then puts MAC(cookie, …) in mac2 of its next
//! messages for 120 s. We take cookies and use them; we never send cookie
//! replies (a lab's daemon is never under load), nor check mac2.

use std::time::{Duration, Instant};

use super::crypto::{KEY_LEN, hash, mac, mac_matches, xopen};
use super::error::{HandshakeError, Sealed};
use super::messages::{COOKIE_LEN, CookieReply, MAC_LEN};

const LABEL_MAC1: &[u8] = b"mac1----";
const LABEL_COOKIE: &[u8] = b"cookie--";

/// How long a received cookie is used (the paper's 120 s; the kernel
/// stops 5 s earlier to allow for latency).
pub(crate) const COOKIE_LIFETIME: Duration = Duration::from_secs(120);

/// A cookie received in a cookie reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cookie {
    value: [u8; COOKIE_LEN],
    received: Instant,
}

impl Cookie {
    pub(crate) fn new(value: [u8; COOKIE_LEN], received: Instant) -> Self {
        Self { value, received }
    }

    /// Whether it still keys mac2 at `now`.
    pub(crate) fn is_fresh(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.received) < COOKIE_LIFETIME
    }
}

/// The key of mac1 for messages to `receiver_public`: HASH("mac1----" ‖ S^pub).
fn mac1_key(receiver_public: &[u8; 32]) -> [u8; KEY_LEN] {
    hash(&[LABEL_MAC1, receiver_public])
}

/// Fills the last 32 bytes of a type 1 or 2 message: mac1 over what
/// precedes it, keyed for `receiver_public`; mac2 over what precedes it
/// with a fresh cookie, zeros without one. Returns mac1 (a cookie reply
/// to this message is sealed to it).
pub(crate) fn stamp(
    msg: &mut [u8],
    receiver_public: &[u8; 32],
    cookie: Option<&Cookie>,
) -> [u8; MAC_LEN] {
    let mac1_at = msg.len() - 2 * MAC_LEN;
    let mac2_at = msg.len() - MAC_LEN;
    let mac1 = mac(&mac1_key(receiver_public), &[&msg[..mac1_at]]);
    msg[mac1_at..mac2_at].copy_from_slice(&mac1);
    let mac2 = match cookie.filter(|c| c.is_fresh(Instant::now())) {
        Some(c) => mac(&c.value, &[&msg[..mac2_at]]),
        None => [0; MAC_LEN],
    };
    msg[mac2_at..].copy_from_slice(&mac2);
    mac1
}

/// Whether a type 1 or 2 message's mac1 is the one keyed for
/// `our_public` (compared in constant time).
pub(crate) fn mac1_is_valid(msg: &[u8], our_public: &[u8; 32]) -> bool {
    let mac1_at = msg.len() - 2 * MAC_LEN;
    mac_matches(
        &mac1_key(our_public),
        &[&msg[..mac1_at]],
        &msg[mac1_at..mac1_at + MAC_LEN],
    )
}

/// The cookie of a reply from `sender_public` to our message whose mac1
/// was `sent_mac1`: XAEAD(HASH("cookie--" ‖ S^pub), nonce, cookie, mac1).
pub(crate) fn open_reply(
    reply: &CookieReply,
    sender_public: &[u8; 32],
    sent_mac1: &[u8; MAC_LEN],
) -> Result<Cookie, HandshakeError> {
    let key = hash(&[LABEL_COOKIE, sender_public]);
    let value = xopen(&key, &reply.nonce, &reply.encrypted_cookie, sent_mac1)
        .map_err(|_| HandshakeError::DecryptionFailed(Sealed::Cookie))?;
    let value = value
        .try_into()
        .expect("a cookie reply's sealed cookie is 16 bytes and a tag");
    Ok(Cookie::new(value, Instant::now()))
}

/// A responder's side, for tests: the cookie reply a loaded peer with
/// `public` would send to our message with `mac1`.
#[cfg(test)]
pub(crate) fn seal_reply(
    receiver: u32,
    public: &[u8; 32],
    mac1: &[u8; MAC_LEN],
    nonce: [u8; 24],
    cookie: [u8; COOKIE_LEN],
) -> CookieReply {
    let key = hash(&[LABEL_COOKIE, public]);
    let sealed = super::crypto::xseal(&key, &nonce, &cookie, mac1);
    CookieReply {
        receiver,
        nonce,
        encrypted_cookie: sealed.try_into().unwrap(),
    }
}

/// mac2 of a message as a loaded responder checks it, for tests.
#[cfg(test)]
pub(crate) fn mac2_of(msg: &[u8], cookie: &[u8; COOKIE_LEN]) -> [u8; MAC_LEN] {
    mac(cookie, &[&msg[..msg.len() - MAC_LEN]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac1_is_keyed_by_the_receiver_and_covers_the_message() {
        let public = [7u8; 32];
        let mut msg = [0x55u8; 92];
        let mac1 = stamp(&mut msg, &public, None);
        assert_eq!(msg[60..76], mac1);
        assert_eq!(msg[76..], [0; 16], "no cookie, mac2 zero");
        assert!(mac1_is_valid(&msg, &public));
        assert!(!mac1_is_valid(&msg, &[8; 32]));
        msg[3] ^= 1;
        assert!(!mac1_is_valid(&msg, &public));
    }

    #[test]
    fn mac2_uses_a_fresh_cookie_only() {
        let public = [7u8; 32];
        let value = [0xc0; 16];
        let mut msg = [0x55u8; 148];
        stamp(&mut msg, &public, Some(&Cookie::new(value, Instant::now())));
        assert_eq!(msg[132..], mac2_of(&msg, &value));
        assert_ne!(msg[132..], [0; 16]);
        let old = Instant::now()
            .checked_sub(COOKIE_LIFETIME + Duration::from_secs(1))
            .expect("the monotonic clock is past two minutes");
        stamp(&mut msg, &public, Some(&Cookie::new(value, old)));
        assert_eq!(msg[132..], [0; 16], "an expired cookie is not used");
    }

    #[test]
    fn a_cookie_reply_opens_only_for_its_message() {
        let public = [7u8; 32];
        let reply = seal_reply(5, &public, &[1; 16], [2; 24], [0xc0; 16]);
        let cookie = open_reply(&reply, &public, &[1; 16]).unwrap();
        assert_eq!(cookie.value, [0xc0; 16]);
        assert_eq!(
            open_reply(&reply, &public, &[9; 16]),
            Err(HandshakeError::DecryptionFailed(Sealed::Cookie))
        );
        assert_eq!(
            open_reply(&reply, &[8; 32], &[1; 16]),
            Err(HandshakeError::DecryptionFailed(Sealed::Cookie))
        );
    }
}
