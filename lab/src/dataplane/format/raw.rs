//! The raw format (`ebpf/crypto_dp.bpf.c`): the talk's private format, the
//! IPv4 header kept and its payload replaced by the IV (CBC) and the
//! encrypted payload with PKCS#7 padding, no integrity. One crypto context
//! per end, replaced in place by a rotation. The reference cipher is
//! RustCrypto's `aes` with `cbc`/`ecb`.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use aes::{Aes128, Aes256};

use super::interface::{Abi, Keys, Variant, WireFormat, differs};
use crate::dataplane::abi::{BPFCRYPT_OVERHEAD, RAW_COUNTERS};
use crate::dataplane::embed::{Flavor, embedded};
use crate::dataplane::{DataPlane, DataPlaneError};
use crate::domain::{Algorithm, BenchVariant, CipherSpec, Direction, Mode};
use crate::net::{ETH_HLEN, IP_HLEN, checksum, ipv4_payload};

/// The raw format.
pub(crate) struct Raw;

/// AES block bytes.
const BLOCK: u32 = 16;

/// Payload bytes the cipher processes for an IPv4 packet of `size` bytes:
/// the payload plus 1..=16 bytes of PKCS#7 padding.
pub(crate) fn cipher_len(size: u32) -> u32 {
    let plain = size - IP_HLEN as u32;
    plain + (BLOCK - plain % BLOCK)
}

/// The bench variants, in report order.
const VARIANTS: &[Variant] = &[
    variant(Algorithm::EcbAes, false, ("ecb(aes)", "ecb"), (230, 120, 10)),
    variant(Algorithm::CbcAes, false, ("cbc(aes)", "cbc"), (200, 30, 40)),
    variant(Algorithm::EcbAes, true, ("ecb(aes) in place", "ecb ip"), (250, 180, 90)),
    variant(Algorithm::CbcAes, true, ("cbc(aes) in place", "cbc ip"), (240, 110, 120)),
];

const fn variant(
    algorithm: Algorithm,
    in_place: bool,
    (name, short): (&'static str, &'static str),
    rgb: (u8, u8, u8),
) -> Variant {
    Variant {
        algorithm,
        in_place,
        name,
        short,
        rgb,
    }
}

/// The raw format's name in files.
const NAME: &str = "raw";

/// The raw variants by the names plans, reports and tests use.
#[allow(non_upper_case_globals)]
impl BenchVariant {
    /// The raw data plane with `ecb(aes)`.
    pub(crate) const Ecb: Self = Self::raw(Algorithm::EcbAes, false);
    /// The raw data plane with `cbc(aes)`.
    pub(crate) const Cbc: Self = Self::raw(Algorithm::CbcAes, false);
    /// The raw data plane with `cbc(aes)`, in place (the tests' name).
    #[cfg(test)]
    pub(crate) const CbcInPlace: Self = Self::raw(Algorithm::CbcAes, true);

    /// The raw data plane with `algorithm`, bounced or in place.
    pub(crate) const fn raw(algorithm: Algorithm, in_place: bool) -> Self {
        Self::Lab {
            format: Mode::named(NAME),
            algorithm,
            in_place,
        }
    }
}

impl WireFormat for Raw {
    fn name(&self) -> &'static str {
        NAME
    }

    fn algorithms(&self) -> &'static [Algorithm] {
        &[Algorithm::CbcAes, Algorithm::EcbAes]
    }

    fn variants(&self) -> &'static [Variant] {
        VARIANTS
    }

    fn cipher_label(&self, algorithm: Algorithm) -> String {
        algorithm.kernel_name().to_string()
    }

    fn object_name(&self, in_place: bool) -> &'static str {
        if in_place { "crypto_inplace" } else { "crypto" }
    }

    fn object(&self, in_place: bool, flavor: Flavor) -> Option<&'static [u8]> {
        Some(match (in_place, flavor) {
            (false, Flavor::Plain) => embedded!("crypto"),
            (true, Flavor::Plain) => embedded!("crypto_inplace"),
            (false, Flavor::TestIv) => embedded!("crypto_testiv"),
            (true, Flavor::TestIv) => embedded!("crypto_inplace_testiv"),
            (false, Flavor::ExtraCopy) => embedded!("crypto_extracopy"),
            (true, Flavor::ExtraCopy) => embedded!("crypto_inplace_extracopy"),
        })
    }

    fn has_in_place(&self) -> bool {
        true
    }

    fn abi(&self) -> Abi {
        Abi {
            provision: "bpfcrypt_provision",
            stats: "bpfcrypt_stats",
            counters: RAW_COUNTERS,
            cipher_probe: true,
            layouts: Vec::new,
        }
    }

    fn overhead(&self) -> u32 {
        BPFCRYPT_OVERHEAD
    }

    fn egress_frame_len(&self, algorithm: Algorithm, size: u32) -> usize {
        ETH_HLEN + IP_HLEN + algorithm.iv_len() as usize + cipher_len(size) as usize
    }

    fn provision(&self, dp: &DataPlane, keys: &Keys) -> Result<(), DataPlaneError> {
        let alg = keys.algorithm;
        match keys.driver {
            Some(d) => dp.provision_raw(&alg.with_driver(d), keys.key, alg.iv_len())?,
            None => dp.provision(&CipherSpec {
                algorithm: alg,
                key: keys.key.to_vec(),
            })?,
        };
        Ok(())
    }

    fn clear(&self, dp: &DataPlane) -> Result<(), DataPlaneError> {
        dp.clear_key().map(drop)
    }

    /// First, in every packet (fragments are encrypted on their own);
    /// ECB has none.
    fn iv_at(&self, algorithm: Algorithm) -> Option<(usize, Option<u8>)> {
        (algorithm.iv_len() > 0).then_some((0, None))
    }

    fn cipher_passes(&self, dir: Direction) -> &'static [Direction] {
        match dir {
            Direction::Egress => &[Direction::Egress],
            Direction::Ingress => &[Direction::Ingress],
        }
    }

    fn ingress_once(&self) -> bool {
        false
    }

    /// No integrity: any frame may pass.
    fn passes_unauthenticated(&self, _: &[u8]) -> bool {
        true
    }

    fn completes_checksums(&self) -> bool {
        false
    }

    fn reference_name(&self) -> &'static str {
        "a reference AES"
    }

    fn check_egress(&self, keys: &Keys, input: &[u8], out: &[u8]) -> Result<(), String> {
        let size = (input.len() - ETH_HLEN) as u32;
        let want = self.egress_frame_len(keys.algorithm, size);
        if out.len() != want {
            return Err(format!(
                "egress output is {} bytes, the wire format needs {want}",
                out.len()
            ));
        }
        let (ih, oh) = (
            &input[ETH_HLEN..ETH_HLEN + IP_HLEN],
            &out[ETH_HLEN..ETH_HLEN + IP_HLEN],
        );
        if checksum(oh) != 0 {
            return Err("egress output has a bad IPv4 header checksum".into());
        }
        if u16::from_be_bytes([oh[2], oh[3]]) as usize != want - ETH_HLEN {
            return Err("egress output IPv4 total length does not match the frame".into());
        }
        if ih[9] != oh[9] || ih[12..20] != oh[12..20] {
            return Err("egress changed the IPv4 protocol or addresses".into());
        }
        let plain = &input[ETH_HLEN + IP_HLEN..];
        let wire = &out[ETH_HLEN + IP_HLEN..];
        if wire
            .windows(plain.len().min(16))
            .any(|w| plain.starts_with(w))
        {
            return Err("plaintext visible in the egress output".into());
        }
        match decrypt(keys.algorithm, keys.key, wire) {
            Some(p) if p == plain => Ok(()),
            Some(_) => Err("reference AES decrypts the egress output to something else".into()),
            None => Err("reference AES cannot decrypt the egress output (bad padding)".into()),
        }
    }

    /// The IPv4 payload is exactly [`encrypt`] of the input's.
    fn reference(&self, keys: &Keys, iv: [u8; 16], input: &[u8], out: &[u8]) -> Result<(), String> {
        let (Some(plain), Some(wire)) = (ipv4_payload(input), ipv4_payload(out)) else {
            return Err("egress counted an encryption but its output has no IPv4 payload".into());
        };
        let want = encrypt(keys.algorithm, keys.key, iv, plain)
            .ok_or("no reference for this key length")?;
        differs("the reference encryption", wire, &want)
    }

    fn open(&self, keys: &Keys, protocol: u8, payload: &[u8]) -> Option<(u8, Vec<u8>)> {
        decrypt(keys.algorithm, keys.key, payload).map(|pt| (protocol, pt))
    }

    /// Its provisioning takes any algorithm name, `cbc(aes-generic)` too.
    fn takes_aes_driver(&self) -> bool {
        true
    }
}

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
        Algorithm::ChaCha20Poly1305 => None,
    }
}

/// Reference encryption of one IPv4 payload: CBC: the IV, then
/// `CBC(payload ‖ PKCS#7)`; ECB: `ECB(payload ‖ PKCS#7)`. With the data
/// plane's IV fixed, its output must equal this byte for byte. `None` for
/// a key that is not 16 or 32 bytes.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hex;

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
    fn cipher_lengths_follow_pkcs7() {
        assert_eq!(cipher_len(64), 48); // 44 + 4
        assert_eq!(cipher_len(52), 48); // 32 + a whole pad block
        assert_eq!(cipher_len(1500), 1488); // 1480 + 8
        assert_eq!(
            Raw.egress_frame_len(Algorithm::CbcAes, 1500),
            14 + 20 + 16 + 1488
        );
        assert_eq!(Raw.egress_frame_len(Algorithm::EcbAes, 64), 14 + 20 + 48);
    }
}
