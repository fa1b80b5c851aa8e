//! What an observer learns from ciphertext without the key: ECB shows
//! repeated plaintext blocks as repeated ciphertext blocks. The reference
//! decryption itself is each wire format's (`dataplane::format`).

use crate::domain::Algorithm;

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
    use aes::Aes128;
    use aes::cipher::block_padding::Pkcs7;
    use aes::cipher::{BlockModeEncrypt, KeyInit, KeyIvInit};

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
