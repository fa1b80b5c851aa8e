//! The reference reading of an ESP packet (RFC 4303 transport mode,
//! AES-CBC with AES-CMAC-96, RFC 4494), from RustCrypto's `aes`, `cbc` and
//! `cmac`: the ICV is checked first, then the CBC decryption and the
//! trailer (monotonic padding 1, 2, 3, …, pad length, next header).

use aes::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::NoPadding};
use aes::{Aes128, Aes192, Aes256};
use cmac::{Cmac, KeyInit, Mac};

/// SPI and sequence number.
const HEADER: usize = 8;
/// The CBC IV.
const IV: usize = 16;
/// AES-CMAC-96.
pub(crate) const ICV: usize = 12;

/// Why a packet does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Too short, or the ciphertext is not whole blocks.
    Length,
    /// The ICV does not match the authentication key.
    Icv,
    /// The trailer's padding is not 1, 2, 3, ….
    Padding,
}

/// An opened ESP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Opened {
    /// The SPI.
    pub(crate) spi: u32,
    /// The (low 32 bits of the) sequence number.
    pub(crate) seq: u32,
    /// The trailer's next header: the inner protocol.
    pub(crate) next_header: u8,
    /// The inner L4 message.
    pub(crate) inner: Vec<u8>,
}

/// AES-CMAC-96 of `data`, or `None` for a key that is not 16, 24 or 32 bytes.
pub(crate) fn icv(auth_key: &[u8], data: &[u8]) -> Option<[u8; ICV]> {
    let tag = match auth_key.len() {
        16 => mac::<Cmac<Aes128>>(auth_key, data)?,
        24 => mac::<Cmac<Aes192>>(auth_key, data)?,
        32 => mac::<Cmac<Aes256>>(auth_key, data)?,
        _ => return None,
    };
    tag[..ICV].try_into().ok()
}

fn mac<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let mut m = <M as KeyInit>::new_from_slice(key).ok()?;
    m.update(data);
    Some(m.finalize().into_bytes().to_vec())
}

/// Opens the IP payload `esp` with one pair of keys.
pub(crate) fn open(enc_key: &[u8], auth_key: &[u8], esp: &[u8]) -> Result<Opened, Refusal> {
    if esp.len() < HEADER + IV + 16 + ICV || !(esp.len() - HEADER - IV - ICV).is_multiple_of(16) {
        return Err(Refusal::Length);
    }
    let (authenticated, tag) = esp.split_at(esp.len() - ICV);
    if icv(auth_key, authenticated).ok_or(Refusal::Icv)? != tag {
        return Err(Refusal::Icv);
    }
    let iv = &authenticated[HEADER..HEADER + IV];
    let ct = &authenticated[HEADER + IV..];
    let pt = cbc_decrypt(enc_key, iv, ct).ok_or(Refusal::Length)?;
    let (pad_len, next_header) = (usize::from(pt[pt.len() - 2]), pt[pt.len() - 1]);
    let Some(body) = pt.len().checked_sub(2 + pad_len) else {
        return Err(Refusal::Padding);
    };
    let monotonic = pt[body..body + pad_len]
        .iter()
        .enumerate()
        .all(|(i, b)| usize::from(*b) == i + 1);
    if !monotonic {
        return Err(Refusal::Padding);
    }
    Ok(Opened {
        spi: u32::from_be_bytes(esp[0..4].try_into().expect("4 bytes")),
        seq: u32::from_be_bytes(esp[4..8].try_into().expect("4 bytes")),
        next_header,
        inner: pt[..body].to_vec(),
    })
}

fn cbc_decrypt(key: &[u8], iv: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
    match key.len() {
        16 => cbc::Decryptor::<Aes128>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec::<NoPadding>(ct)
            .ok(),
        24 => cbc::Decryptor::<Aes192>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec::<NoPadding>(ct)
            .ok(),
        32 => cbc::Decryptor::<Aes256>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec::<NoPadding>(ct)
            .ok(),
        _ => None,
    }
}

/// An ESP packet (SPI 0x1000, sequence 5) of `inner`, as a sender holding
/// the keys makes it: the test counterpart of [`open`].
#[cfg(test)]
pub(crate) fn seal(enc: &[u8], auth: &[u8], iv: [u8; 16], inner: &[u8], next: u8) -> Vec<u8> {
    seal_as(enc, auth, (0x1000, 5), iv, inner, next).expect("16-byte keys")
}

/// The ESP packet a correct sender makes of `inner` with SPI and sequence
/// number `(spi, seq)` and the CBC IV `iv`: the reference the fuzzer holds
/// the data plane's output to under a fixed IV. `None` for a key that is
/// not 16, 24 or 32 bytes.
pub(crate) fn seal_as(
    enc: &[u8],
    auth: &[u8],
    (spi, seq): (u32, u32),
    iv: [u8; 16],
    inner: &[u8],
    next: u8,
) -> Option<Vec<u8>> {
    let mut pt = inner.to_vec();
    let pad = (16 - (pt.len() + 2) % 16) % 16;
    pt.extend(1..=pad as u8);
    pt.extend([pad as u8, next]);
    let ct = cbc_encrypt(enc, iv, &pt)?;
    let mut esp = spi.to_be_bytes().to_vec();
    esp.extend(seq.to_be_bytes());
    esp.extend(iv);
    esp.extend(ct);
    let tag = icv(auth, &esp)?;
    esp.extend(tag);
    Some(esp)
}

/// AES-CBC of whole blocks, for any AES key length.
fn cbc_encrypt(key: &[u8], iv: [u8; 16], pt: &[u8]) -> Option<Vec<u8>> {
    use aes::cipher::BlockModeEncrypt;
    Some(match key.len() {
        16 => cbc::Encryptor::<Aes128>::new_from_slices(key, &iv)
            .ok()?
            .encrypt_padded_vec::<NoPadding>(pt),
        24 => cbc::Encryptor::<Aes192>::new_from_slices(key, &iv)
            .ok()?
            .encrypt_padded_vec::<NoPadding>(pt),
        32 => cbc::Encryptor::<Aes256>::new_from_slices(key, &iv)
            .ok()?
            .encrypt_padded_vec::<NoPadding>(pt),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hex;

    /// RFC 4493 section 4, example 2 (16-byte message), truncated to 96 bits.
    #[test]
    fn cmac_matches_rfc_4493() {
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
        let msg = hex("6bc1bee22e409f96e93d7e117393172a");
        assert_eq!(
            icv(&key, &msg).unwrap().to_vec(),
            hex("070a16b46b4d4144f79bdd9d")
        );
    }

    #[test]
    fn opens_what_was_sealed_and_refuses_changes() {
        let (enc, auth) = ([1u8; 16], [2u8; 16]);
        let esp = seal(&enc, &auth, [7; 16], b"hello, esp", 17);
        let o = open(&enc, &auth, &esp).unwrap();
        assert_eq!((o.spi, o.seq, o.next_header), (0x1000, 5, 17));
        assert_eq!(o.inner, b"hello, esp");
        let mut bad = esp.clone();
        bad[30] ^= 1;
        assert_eq!(open(&enc, &auth, &bad), Err(Refusal::Icv));
        assert_eq!(open(&enc, &[3u8; 16], &esp), Err(Refusal::Icv));
        assert_eq!(
            open(&enc, &auth, &esp[..esp.len() - 1]),
            Err(Refusal::Length)
        );
        // Right MAC, wrong encryption key: the trailer does not parse.
        assert!(open(&[9u8; 16], &auth, &esp).is_err());
    }
}
