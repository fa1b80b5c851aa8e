//! Test frames for the micro level (Ethernet + IPv4 + UDP of an exact IPv4
//! size), the payload pattern shared with the end-to-end receivers, and
//! the checks that a program's output is what the wire format says.

use std::net::Ipv4Addr;

use crate::dataplane::format;
use crate::domain::BenchVariant;
pub(crate) use crate::net::{ETH_HLEN, IP_HLEN, UDP_HLEN};
use crate::net::{checksum, l4_checksum};

/// Payload bytes the cipher processes for an IPv4 packet of `size` bytes
/// in the cipher-only figures: the raw format's (the probe runs on a raw
/// build's context).
pub(crate) use crate::dataplane::format::raw::cipher_len;

/// Frame length variant `v`'s egress program leaves: its wire format's,
/// unchanged without a cipher.
pub(crate) fn egress_frame_len(v: BenchVariant, size: u32) -> usize {
    match format::of_variant(v) {
        Some((f, alg)) => f.egress_frame_len(alg, size),
        None => ETH_HLEN + size as usize,
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
    let c = checksum(&ip);
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
    let c = l4_checksum(src, dst, 17, &udp);
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&udp);
    f
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
            assert_eq!(checksum(&f[ETH_HLEN..ETH_HLEN + IP_HLEN]), 0);
            assert_eq!(check_payload(&f[ETH_HLEN + IP_HLEN + UDP_HLEN..]), Some(7));
        }
    }

    #[test]
    fn frame_lengths_are_the_formats() {
        assert_eq!(
            egress_frame_len(BenchVariant::Cbc, 1500),
            14 + 20 + 16 + 1488
        );
        assert_eq!(egress_frame_len(BenchVariant::Ecb, 64), 14 + 20 + 48);
        assert_eq!(egress_frame_len(BenchVariant::Copy, 64), 78);
        assert_eq!(
            egress_frame_len(BenchVariant::EspInPlace, 1500),
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
}
