//! The primitives of the WireGuard paper (§5.4), each one call into a
//! RustCrypto crate: HASH (BLAKE2s-256), MAC (keyed BLAKE2s, 16 bytes),
//! HMAC (HMAC-BLAKE2s), KDF1..3 (HKDF on that HMAC), AEAD
//! (ChaCha20-Poly1305 with a 64-bit counter nonce) and XAEAD
//! (XChaCha20-Poly1305, for cookie replies).

use blake2::digest::consts::U16;
use blake2::digest::{Digest, KeyInit, Mac};
use blake2::{Blake2s256, Blake2sMac};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use hmac::SimpleHmac;

/// Bytes of a key, a hash and a chaining key.
pub(crate) const KEY_LEN: usize = 32;
/// Bytes of an AEAD tag.
pub(crate) const TAG_LEN: usize = 16;

/// An AEAD tag that did not verify: wrong key, wrong associated data or
/// altered bytes (the AEAD cannot tell which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpenFailed;

/// HASH(parts[0] ‖ parts[1] ‖ …).
pub(crate) fn hash(parts: &[&[u8]]) -> [u8; KEY_LEN] {
    let mut h = Blake2s256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// MAC(key, parts…): keyed BLAKE2s with a 16-byte output (mac1 with a
/// 32-byte key, mac2 with the 16-byte cookie).
pub(crate) fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    keyed(key, parts).finalize().into_bytes().into()
}

/// Whether `tag` is MAC(key, parts…), compared in constant time.
pub(crate) fn mac_matches(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    keyed(key, parts).verify_slice(tag).is_ok()
}

/// Keyed BLAKE2s-128 over `parts`, not yet finalized.
fn keyed(key: &[u8], parts: &[&[u8]]) -> Blake2sMac<U16> {
    let mut m = <Blake2sMac<U16> as KeyInit>::new_from_slice(key)
        .expect("BLAKE2s takes keys of 1 to 32 bytes; callers pass 16 or 32");
    for p in parts {
        m.update(p);
    }
    m
}

/// HMAC(key, parts…) on BLAKE2s (RFC 2104; BLAKE2s's 64-byte block).
fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; KEY_LEN] {
    let mut m = <SimpleHmac<Blake2s256> as KeyInit>::new_from_slice(key)
        .expect("HMAC takes a key of any length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// KDFn(key, input): τ0 = HMAC(key, input), τ1 = HMAC(τ0, 0x1),
/// τi = HMAC(τ0, τi-1 ‖ i); returns τ1..τn (n is 1, 2 or 3).
pub(crate) fn kdf<const N: usize>(key: &[u8; KEY_LEN], input: &[u8]) -> [[u8; KEY_LEN]; N] {
    let t0 = hmac(key, &[input]);
    let mut out = [[0u8; KEY_LEN]; N];
    let mut prev: &[u8] = &[];
    for (i, slot) in out.iter_mut().enumerate() {
        let counter = [u8::try_from(i + 1).expect("KDF1..3")];
        *slot = hmac(&t0, &[prev, &counter]);
        prev = slot;
    }
    out
}

/// The AEAD's 12-byte nonce: 32 zero bits, then the counter little-endian.
fn nonce(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n
}

/// AEAD(key, counter, plain, aad): ChaCha20-Poly1305, tag appended.
pub(crate) fn seal(key: &[u8; KEY_LEN], counter: u64, plain: &[u8], aad: &[u8]) -> Vec<u8> {
    ChaCha20Poly1305::new(key.into())
        .encrypt(&nonce(counter).into(), Payload { msg: plain, aad })
        .expect("ChaCha20-Poly1305 seals any handshake-sized input")
}

/// The inverse of [`seal`]: the plaintext, or [`OpenFailed`].
pub(crate) fn open(
    key: &[u8; KEY_LEN],
    counter: u64,
    sealed: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, OpenFailed> {
    ChaCha20Poly1305::new(key.into())
        .decrypt(&nonce(counter).into(), Payload { msg: sealed, aad })
        .map_err(|_| OpenFailed)
}

/// XAEAD(key, nonce, plain, aad): XChaCha20-Poly1305, tag appended.
#[cfg(test)]
pub(crate) fn xseal(key: &[u8; KEY_LEN], nonce: &[u8; 24], plain: &[u8], aad: &[u8]) -> Vec<u8> {
    XChaCha20Poly1305::new(key.into())
        .encrypt(nonce.into(), Payload { msg: plain, aad })
        .expect("XChaCha20-Poly1305 seals a cookie")
}

/// The inverse of XAEAD: the plaintext, or [`OpenFailed`].
pub(crate) fn xopen(
    key: &[u8; KEY_LEN],
    nonce: &[u8; 24],
    sealed: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, OpenFailed> {
    XChaCha20Poly1305::new(key.into())
        .decrypt(nonce.into(), Payload { msg: sealed, aad })
        .map_err(|_| OpenFailed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hex;

    /// RFC 7693 Appendix C: BLAKE2s-256("abc").
    #[test]
    fn hash_is_blake2s_256() {
        assert_eq!(
            hash(&[b"a", b"bc"]).to_vec(),
            hex("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982")
        );
    }

    /// Known answers from Python's `hashlib.blake2s(key=…, digest_size=16)`
    /// and `hmac.new(…, hashlib.blake2s)`, an implementation of its own.
    #[test]
    fn mac_and_kdf_match_python() {
        assert_eq!(
            mac(&[1; 32], &[b"a", b"bc"]).to_vec(),
            hex("6c5a9b2dd4324520e222cce7e29e8711")
        );
        let [t1, t2, t3] = kdf::<3>(&[7; 32], b"in");
        assert_eq!(
            t1.to_vec(),
            hex("ccfc9e6ebfaf5e302cb0feea65c096de28c898666c1e4fce43eab352cb9a9c77")
        );
        assert_eq!(
            t2.to_vec(),
            hex("a38e0344fdcbfcafc7cac185857541165995ed46cc45f4b59419f9a42e7740fb")
        );
        assert_eq!(
            t3.to_vec(),
            hex("297bcdd6b6e170f769562c23195cbcadda101ea78791fabaaca2b7101e0f44f7")
        );
        assert_eq!(kdf::<1>(&[7; 32], b"in"), [t1]);
        assert_eq!(kdf::<2>(&[7; 32], b"in"), [t1, t2]);
    }

    #[test]
    fn aead_round_trips_and_binds_counter_and_aad() {
        let key = [3u8; 32];
        let sealed = seal(&key, 5, b"hello", b"aad");
        assert_eq!(sealed.len(), 5 + TAG_LEN);
        assert_eq!(open(&key, 5, &sealed, b"aad").unwrap(), b"hello");
        assert_eq!(open(&key, 6, &sealed, b"aad"), Err(OpenFailed));
        assert_eq!(open(&key, 5, &sealed, b"aaD"), Err(OpenFailed));
        let n = [9u8; 24];
        let x = xseal(&key, &n, b"cookie", b"mac1");
        assert_eq!(xopen(&key, &n, &x, b"mac1").unwrap(), b"cookie");
        assert_eq!(xopen(&key, &[8; 24], &x, b"mac1"), Err(OpenFailed));
    }
}
