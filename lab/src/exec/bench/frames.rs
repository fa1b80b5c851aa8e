//! Test frames for the micro level (Ethernet + IPv4 + UDP of an exact IPv4
//! size), the payload pattern shared with the end-to-end receivers, and
//! the checks that a program's output is what the wire format says.

use std::net::Ipv4Addr;

use crate::domain::{Algorithm, BenchVariant};
use crate::exec::analysis::{esp, oracle};

/// Ethernet header bytes.
pub(crate) const ETH_HLEN: usize = 14;
/// IPv4 header bytes (no options).
pub(crate) const IP_HLEN: usize = 20;
/// UDP header bytes.
pub(crate) const UDP_HLEN: usize = 8;
/// AES block bytes.
pub(crate) const BLOCK: u32 = 16;

/// Payload bytes the cipher processes for an IPv4 packet of `size` bytes:
/// the payload plus 1..=16 bytes of PKCS#7 padding.
pub(crate) fn cipher_len(size: u32) -> u32 {
    let plain = size - IP_HLEN as u32;
    plain + (BLOCK - plain % BLOCK)
}

/// ESP's ciphertext bytes for an IPv4 packet of `size` bytes: the payload,
/// padding 1, 2, 3, …, pad length and next header, to whole blocks.
pub(crate) fn esp_cipher_len(size: u32) -> u32 {
    let plain = size - IP_HLEN as u32 + 2;
    plain.div_ceil(BLOCK) * BLOCK
}

/// SPI, sequence number and IV in front of ESP's ciphertext; the ICV after.
const ESP_PREFIX: usize = 8 + 16;
const ESP_ICV: usize = esp::ICV;

/// Frame length variant `v`'s egress program leaves: unchanged without a
/// cipher, header + IV (CBC) + padded ciphertext for the raw format,
/// header + ESP for ESP.
pub(crate) fn egress_frame_len(v: BenchVariant, size: u32) -> usize {
    match v.algorithm() {
        _ if v.is_esp() => {
            ETH_HLEN + IP_HLEN + ESP_PREFIX + esp_cipher_len(size) as usize + ESP_ICV
        }
        None => ETH_HLEN + size as usize,
        Some(a) => ETH_HLEN + IP_HLEN + a.iv_len() as usize + cipher_len(size) as usize,
    }
}

/// The payload pattern: `seq` (8 bytes, little endian) then bytes that
/// depend on their position, so a receiver can check every byte.
pub(crate) fn payload(len: usize, seq: u64) -> Vec<u8> {
    let mut p: Vec<u8> = (0..len).map(pattern_byte).collect();
    let n = len.min(8);
    p[..n].copy_from_slice(&seq.to_le_bytes()[..n]);
    p
}

/// Byte `i` of the pattern (after the sequence number).
pub(crate) fn pattern_byte(i: usize) -> u8 {
    (i.wrapping_mul(131).wrapping_add(17) & 0xff) as u8
}

/// The pattern's first 64 KiB + 256 bytes (it repeats every 256 bytes).
pub(crate) fn pattern() -> &'static [u8] {
    static P: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    P.get_or_init(|| (0..(1usize << 16) + 256).map(pattern_byte).collect())
}

/// Bytes of `got` that differ from the pattern starting at stream offset `off`.
pub(crate) fn pattern_mismatches(got: &[u8], off: u64) -> u64 {
    let mut bad = 0;
    let mut o = off;
    for chunk in got.chunks(1 << 16) {
        let at = (o % 256) as usize;
        let want = &pattern()[at..at + chunk.len()];
        if chunk != want {
            bad += chunk.iter().zip(want).filter(|(a, b)| a != b).count() as u64;
        }
        o += chunk.len() as u64;
    }
    bad
}

/// Whether `p` is an intact pattern payload; returns its sequence number.
pub(crate) fn check_payload(p: &[u8]) -> Option<u64> {
    if p.len() < 8 || pattern_mismatches(&p[8..], 8) != 0 {
        return None;
    }
    Some(u64::from_le_bytes(p[..8].try_into().ok()?))
}

/// RFC 1071 checksum of an IPv4 header.
pub(crate) fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame carrying an IPv4/UDP packet of exactly `size` bytes
/// (`size >= 36`) from `src` to `dst`.
pub(crate) fn udp_frame(size: u32, src: Ipv4Addr, dst: Ipv4Addr, seq: u64) -> Vec<u8> {
    let size = size as usize;
    let mut f = Vec::with_capacity(ETH_HLEN + size);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]);
    let mut ip = [0u8; IP_HLEN];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(size as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&(seq as u16).to_be_bytes());
    ip[6] = 0x40; // DF
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let c = ipv4_checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    let udp_len = (size - IP_HLEN) as u16;
    let mut udp = Vec::with_capacity(udp_len as usize);
    udp.extend_from_slice(&40000u16.to_be_bytes());
    udp.extend_from_slice(&5201u16.to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(&payload(size - IP_HLEN - UDP_HLEN, seq));
    // A complete checksum: ESP completes it before encrypting, so the
    // frame it restores is then this one byte for byte.
    let c = udp_checksum(src, dst, &udp);
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&udp);
    f
}

/// RFC 768 checksum of a UDP datagram (checksum field zero) from `src` to `dst`.
fn udp_checksum(src: Ipv4Addr, dst: Ipv4Addr, udp: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(12 + udp.len());
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&(udp.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(udp);
    match ipv4_checksum(&pseudo) {
        0 => 0xffff,
        c => c,
    }
}

/// Checks an ESP egress output: the IPv4 header kept but for protocol 50,
/// length and checksum, and the ESP payload opening (reference AES-CMAC
/// and AES-CBC) to the input's UDP datagram.
pub(crate) fn check_esp(
    key: &[u8],
    auth_key: &[u8],
    input: &[u8],
    out: &[u8],
) -> Result<(), String> {
    let size = (input.len() - ETH_HLEN) as u32;
    let want = egress_frame_len(BenchVariant::Esp, size);
    if out.len() != want {
        return Err(format!(
            "egress output is {} bytes, ESP needs {want}",
            out.len()
        ));
    }
    let (ih, oh) = (
        &input[ETH_HLEN..ETH_HLEN + IP_HLEN],
        &out[ETH_HLEN..ETH_HLEN + IP_HLEN],
    );
    if ipv4_checksum(oh) != 0 || oh[9] != 50 || ih[12..20] != oh[12..20] {
        return Err(
            "egress output's IPv4 header is not ESP's (checksum, protocol 50, addresses)".into(),
        );
    }
    match esp::open(key, auth_key, &out[ETH_HLEN + IP_HLEN..]) {
        Ok(o) if o.next_header == 17 && o.inner == input[ETH_HLEN + IP_HLEN..] => Ok(()),
        Ok(_) => Err("reference AES opens the ESP packet to something else".into()),
        Err(why) => Err(format!(
            "reference AES-CMAC/AES-CBC refuses the ESP packet: {why:?}"
        )),
    }
}

/// Checks an egress output frame against the wire format: the IPv4 header
/// kept, lengths and checksum updated, and the payload decrypting (with a
/// reference AES) to the input's payload.
pub(crate) fn check_ciphertext(
    alg: Algorithm,
    key: &[u8],
    input: &[u8],
    out: &[u8],
) -> Result<(), String> {
    let want = ETH_HLEN
        + IP_HLEN
        + alg.iv_len() as usize
        + cipher_len((input.len() - ETH_HLEN) as u32) as usize;
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
    if ipv4_checksum(oh) != 0 {
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
    match oracle::decrypt(alg, key, wire) {
        Some(p) if p == plain => Ok(()),
        Some(_) => Err("reference AES decrypts the egress output to something else".into()),
        None => Err("reference AES cannot decrypt the egress output (bad padding)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_exact_sizes_and_valid_headers() {
        let (a, b) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2));
        for size in [48u32, 64, 1500] {
            let f = udp_frame(size, a, b, 7);
            assert_eq!(f.len(), ETH_HLEN + size as usize);
            assert_eq!(ipv4_checksum(&f[ETH_HLEN..ETH_HLEN + IP_HLEN]), 0);
            assert_eq!(check_payload(&f[ETH_HLEN + IP_HLEN + UDP_HLEN..]), Some(7));
        }
    }

    #[test]
    fn cipher_lengths_follow_pkcs7() {
        assert_eq!(cipher_len(64), 48); // 44 + 4
        assert_eq!(cipher_len(52), 48); // 32 + a whole pad block
        assert_eq!(cipher_len(1500), 1488); // 1480 + 8
        assert_eq!(
            egress_frame_len(BenchVariant::Cbc, 1500),
            14 + 20 + 16 + 1488
        );
        assert_eq!(egress_frame_len(BenchVariant::Ecb, 64), 14 + 20 + 48);
        assert_eq!(egress_frame_len(BenchVariant::Copy, 64), 78);
        // ESP: 1480 + 2 -> 1488; SPI, seq, IV, ICV around it.
        assert_eq!(esp_cipher_len(1500), 1488);
        assert_eq!(esp_cipher_len(34), 16);
        assert_eq!(
            egress_frame_len(BenchVariant::Esp, 1500),
            14 + 20 + 24 + 1488 + 12
        );
    }

    #[test]
    fn corrupted_payloads_are_detected() {
        let mut p = payload(100, 3);
        assert_eq!(check_payload(&p), Some(3));
        p[50] ^= 1;
        assert_eq!(check_payload(&p), None);
        let stream: Vec<u8> = (1000..1000 + 200_000).map(pattern_byte).collect();
        assert_eq!(pattern_mismatches(&stream, 1000), 0);
        assert_eq!(pattern_mismatches(&stream, 1001), 200_000);
    }

    #[test]
    fn ciphertext_check_rejects_plaintext_output() {
        let f = udp_frame(
            64,
            Ipv4Addr::new(198, 18, 0, 1),
            Ipv4Addr::new(198, 18, 0, 2),
            1,
        );
        assert!(check_ciphertext(Algorithm::EcbAes, &[0u8; 16], &f, &f).is_err());
    }
}
