//! The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s transcript as WireGuard runs
//! it (paper §5.4): the chaining key C and the hash H both ends carry
//! through the two messages, and what each step mixes into them.

use super::crypto::{KEY_LEN, OpenFailed, hash, kdf, open, seal};
use x25519_dalek::{PublicKey, StaticSecret};

/// Noise's protocol name, the first input of C.
const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
/// WireGuard's prologue, mixed into H.
const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";

/// A Diffie-Hellman result of all zeros: the other key is a low-order
/// point, which would make the handshake's secrets public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LowOrderPoint;

/// DH(private, public), refused when non-contributory (as the kernel does).
pub(crate) fn dh(private: &StaticSecret, public: &[u8; 32]) -> Result<[u8; 32], LowOrderPoint> {
    let shared = private.diffie_hellman(&PublicKey::from(*public));
    if shared.was_contributory() {
        Ok(shared.to_bytes())
    } else {
        Err(LowOrderPoint)
    }
}

/// C and H of one handshake.
#[derive(Clone)]
pub(crate) struct Transcript {
    chaining_key: [u8; KEY_LEN],
    hash: [u8; KEY_LEN],
}

impl Transcript {
    /// C = HASH(CONSTRUCTION), H = HASH(HASH(C ‖ IDENTIFIER) ‖ S_r^pub):
    /// both ends start from the responder's static public key (IK: the
    /// initiator knows it beforehand).
    pub(crate) fn new(responder_public: &[u8; 32]) -> Self {
        let chaining_key = hash(&[CONSTRUCTION]);
        let h = hash(&[&chaining_key, IDENTIFIER]);
        Self {
            chaining_key,
            hash: hash(&[&h, responder_public]),
        }
    }

    /// H = HASH(H ‖ data).
    fn mix_hash(&mut self, data: &[u8]) {
        self.hash = hash(&[&self.hash, data]);
    }

    /// An ephemeral public key, sent in clear: C = KDF1(C, E^pub),
    /// H = HASH(H ‖ E^pub).
    pub(crate) fn mix_ephemeral(&mut self, ephemeral_public: &[u8; 32]) {
        [self.chaining_key] = kdf(&self.chaining_key, ephemeral_public);
        self.mix_hash(ephemeral_public);
    }

    /// C = KDF1(C, dh): the response's two DH results.
    pub(crate) fn mix_key(&mut self, dh: &[u8; 32]) {
        [self.chaining_key] = kdf(&self.chaining_key, dh);
    }

    /// (C, k) = KDF2(C, dh): the initiation's two DH results; `k` seals
    /// what follows.
    pub(crate) fn mix_key_for_seal(&mut self, dh: &[u8; 32]) -> [u8; KEY_LEN] {
        let [c, k] = kdf(&self.chaining_key, dh);
        self.chaining_key = c;
        k
    }

    /// (C, τ, k) = KDF3(C, Q), H = HASH(H ‖ τ): the preshared key Q (psk2,
    /// mixed in the response).
    pub(crate) fn mix_psk(&mut self, psk: &[u8; 32]) -> [u8; KEY_LEN] {
        let [c, tau, k] = kdf(&self.chaining_key, psk);
        self.chaining_key = c;
        self.mix_hash(&tau);
        k
    }

    /// AEAD(k, 0, plain, H), then H = HASH(H ‖ sealed).
    pub(crate) fn seal(&mut self, key: &[u8; KEY_LEN], plain: &[u8]) -> Vec<u8> {
        let sealed = seal(key, 0, plain, &self.hash);
        self.mix_hash(&sealed);
        sealed
    }

    /// The inverse of [`Self::seal`]; H moves on only if the tag verifies.
    pub(crate) fn open(
        &mut self,
        key: &[u8; KEY_LEN],
        sealed: &[u8],
    ) -> Result<Vec<u8>, OpenFailed> {
        let plain = open(key, 0, sealed, &self.hash)?;
        self.mix_hash(sealed);
        Ok(plain)
    }

    /// (T_i^send = T_r^recv, T_i^recv = T_r^send) = KDF2(C, ε): the
    /// transport keys as (send, receive) for the side asking.
    pub(crate) fn split(self, initiator: bool) -> ([u8; KEY_LEN], [u8; KEY_LEN]) {
        let [first, second] = kdf(&self.chaining_key, &[]);
        if initiator {
            (first, second)
        } else {
            (second, first)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The initial chaining key and hash against Python's hashlib (an
    /// implementation of its own):
    /// `c = blake2s(CONSTRUCTION)`, `h = blake2s(blake2s(c + IDENTIFIER) + pub)`.
    #[test]
    fn initial_state_matches_python() {
        let t = Transcript::new(&[0x42; 32]);
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(&t.chaining_key),
            "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36"
        );
        assert_eq!(
            hex(&t.hash),
            "c1da6c710f455833d0f5a5d9e7a87b63b1ea42b5e98072c2dd47887a60873dea"
        );
    }

    #[test]
    fn low_order_points_are_refused() {
        let zero = [0u8; 32];
        assert_eq!(dh(&StaticSecret::from([5; 32]), &zero), Err(LowOrderPoint));
        assert!(dh(&StaticSecret::from([5; 32]), &[9; 32]).is_ok());
    }

    #[test]
    fn split_swaps_for_the_responder() {
        let t = Transcript::new(&[1; 32]);
        let (s, r) = t.clone().split(true);
        assert_eq!(t.split(false), (r, s));
        assert_ne!(s, r);
    }
}
