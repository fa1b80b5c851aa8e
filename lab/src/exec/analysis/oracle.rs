//! The independent correctness oracle: decrypt captured ciphertext with a
//! reference AES (RustCrypto `aes` + `cbc`/`ecb`), using the scenario keys
//! and the wire format's IV rule (CBC: the first 16 payload bytes are the
//! IV), strip PKCS#7 and compare with what the lab sent.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, KeyInit, KeyIvInit};
use aes::{Aes128, Aes256};

use crate::domain::Algorithm;

/// Reference decryption of one wire payload with one key; `None` when the
/// length or the padding is wrong.
pub(crate) fn decrypt(alg: Algorithm, key: &[u8], payload: &[u8]) -> Option<Vec<u8>> {
    match alg {
        Algorithm::CbcAes => {
            if payload.len() < 32 || !payload.len().is_multiple_of(16) {
                return None;
            }
            let (iv, ct) = payload.split_at(16);
            match key.len() {
                16 => cbc::Decryptor::<Aes128>::new_from_slices(key, iv)
                    .ok()?
                    .decrypt_padded_vec::<Pkcs7>(ct)
                    .ok(),
                32 => cbc::Decryptor::<Aes256>::new_from_slices(key, iv)
                    .ok()?
                    .decrypt_padded_vec::<Pkcs7>(ct)
                    .ok(),
                _ => None,
            }
        }
        Algorithm::EcbAes => {
            if payload.is_empty() || !payload.len().is_multiple_of(16) {
                return None;
            }
            match key.len() {
                16 => ecb::Decryptor::<Aes128>::new_from_slice(key)
                    .ok()?
                    .decrypt_padded_vec::<Pkcs7>(payload)
                    .ok(),
                32 => ecb::Decryptor::<Aes256>::new_from_slice(key)
                    .ok()?
                    .decrypt_padded_vec::<Pkcs7>(payload)
                    .ok(),
                _ => None,
            }
        }
    }
}

/// Number of 16-byte ciphertext blocks that repeat an earlier block of the
/// same payload (the IV, for CBC, is not a ciphertext block).
/// Linear in the payload: a 64 KiB packet has 4096 blocks.
pub(crate) fn repeated_blocks(alg: Algorithm, payload: &[u8]) -> usize {
    let ct = &payload[(alg.iv_len() as usize).min(payload.len())..];
    let mut seen = std::collections::HashSet::with_capacity(ct.len() / 16);
    ct.chunks_exact(16).filter(|b| !seen.insert(*b)).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockModeEncrypt;

    #[test]
    fn roundtrip_against_reference_encryption() {
        let key = [7u8; 16];
        let iv = [9u8; 16];
        let pt = b"a plaintext that is not block aligned".to_vec();
        let ct = cbc::Encryptor::<Aes128>::new_from_slices(&key, &iv)
            .unwrap()
            .encrypt_padded_vec::<Pkcs7>(&pt);
        let mut wire = iv.to_vec();
        wire.extend_from_slice(&ct);
        assert_eq!(decrypt(Algorithm::CbcAes, &key, &wire), Some(pt.clone()));
        assert_eq!(
            decrypt(Algorithm::CbcAes, &[8u8; 16], &wire),
            None,
            "wrong key: padding fails (almost surely)"
        );

        let key256 = [3u8; 32];
        let ct = ecb::Encryptor::<Aes256>::new_from_slice(&key256)
            .unwrap()
            .encrypt_padded_vec::<Pkcs7>(&pt);
        assert_eq!(decrypt(Algorithm::EcbAes, &key256, &ct), Some(pt));
    }

    #[test]
    fn ecb_repeats_blocks_cbc_does_not() {
        let key = [1u8; 16];
        let pt = [0x41u8; 64];
        let e = ecb::Encryptor::<Aes128>::new_from_slice(&key)
            .unwrap()
            .encrypt_padded_vec::<Pkcs7>(&pt);
        assert_eq!(repeated_blocks(Algorithm::EcbAes, &e), 3);
        let mut c = vec![0u8; 16];
        c.extend(
            cbc::Encryptor::<Aes128>::new_from_slices(&key, &[0u8; 16])
                .unwrap()
                .encrypt_padded_vec::<Pkcs7>(&pt),
        );
        assert_eq!(repeated_blocks(Algorithm::CbcAes, &c), 0);
    }
}
