//! The independent correctness oracle: decrypt captured ciphertext with a
//! reference AES (RustCrypto `aes` + `cbc`/`ecb`), using the scenario keys
//! and the wire format's IV rule (CBC: the first 16 payload bytes are the
//! IV), strip PKCS#7 and compare with what the lab sent.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
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

/// Reference encryption of one IPv4 payload in the raw wire format: CBC:
/// the IV, then `CBC(payload ‖ PKCS#7)`; ECB: `ECB(payload ‖ PKCS#7)`.
/// With the data plane's IV fixed, its output must equal this byte for
/// byte. `None` for a key that is not 16 or 32 bytes.
pub(crate) fn encrypt(alg: Algorithm, key: &[u8], iv: [u8; 16], payload: &[u8]) -> Option<Vec<u8>> {
    Some(match (alg, key.len()) {
        (Algorithm::CbcAes, 16) => [
            iv.as_slice(),
            &cbc::Encryptor::<Aes128>::new_from_slices(key, &iv)
                .ok()?
                .encrypt_padded_vec::<Pkcs7>(payload),
        ]
        .concat(),
        (Algorithm::CbcAes, 32) => [
            iv.as_slice(),
            &cbc::Encryptor::<Aes256>::new_from_slices(key, &iv)
                .ok()?
                .encrypt_padded_vec::<Pkcs7>(payload),
        ]
        .concat(),
        (Algorithm::EcbAes, 16) => ecb::Encryptor::<Aes128>::new_from_slice(key)
            .ok()?
            .encrypt_padded_vec::<Pkcs7>(payload),
        (Algorithm::EcbAes, 32) => ecb::Encryptor::<Aes256>::new_from_slice(key)
            .ok()?
            .encrypt_padded_vec::<Pkcs7>(payload),
        _ => return None,
    })
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

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn encryption_matches_sp800_38a_and_decryption_undoes_it() {
        // NIST SP 800-38A F.2.1 (CBC-AES128.Encrypt), first block; PKCS#7
        // adds a whole block of padding after it.
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
        let iv: [u8; 16] = hex("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let pt = hex("6bc1bee22e409f96e93d7e117393172a");
        let wire = encrypt(Algorithm::CbcAes, &key, iv, &pt).unwrap();
        assert_eq!(wire.len(), 16 + 32);
        assert_eq!(wire[..16], iv);
        assert_eq!(wire[16..32], hex("7649abac8119b246cee98e9b12e9197d"));
        assert_eq!(decrypt(Algorithm::CbcAes, &key, &wire), Some(pt.clone()));
        assert_eq!(
            decrypt(Algorithm::CbcAes, &[8u8; 16], &wire),
            None,
            "wrong key: padding fails (almost surely)"
        );
        // NIST SP 800-38A F.1.1 (ECB-AES128.Encrypt), first block.
        let ecb = encrypt(Algorithm::EcbAes, &key, [0; 16], &pt).unwrap();
        assert_eq!(ecb[..16], hex("3ad77bb40d7a3660a89ecaf32466ef97"));
        let odd = b"a plaintext that is not block aligned".to_vec();
        let key256 = [3u8; 32];
        let ct = encrypt(Algorithm::EcbAes, &key256, [0; 16], &odd).unwrap();
        assert_eq!(decrypt(Algorithm::EcbAes, &key256, &ct), Some(odd));
        assert_eq!(encrypt(Algorithm::CbcAes, &[0; 24], iv, &pt), None);
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
