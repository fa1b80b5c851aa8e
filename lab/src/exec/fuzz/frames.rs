//! Reproducible frames for the fuzzer: case `i` of seed `s` is always the
//! same frame. Well-formed IPv4 (UDP, TCP, ICMP) of every payload size up to
//! past the data plane's maximum, and malformed ones: IP options, bad IHL,
//! total length shorter or longer than the frame, fragments, TTL 0, VLAN
//! tags, IPv6, ARP, truncated headers, random bytes.

use std::net::Ipv4Addr;

use crate::net::checksum;

/// A small, fast, seedable generator (SplitMix64).
pub(crate) struct Rng(u64);

impl Rng {
    /// The generator of case `i` under `seed`.
    pub(crate) fn for_case(seed: u64, i: u64) -> Self {
        let mut r = Rng(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next();
        r
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// Largest IPv4 payload the data plane encrypts.
const MAX_PLAIN: usize = 2032;

/// A payload length: boundaries of the block size and of the data plane's
/// limit are likely, anything up to past the limit possible.
fn payload_len(r: &mut Rng) -> usize {
    const EDGES: &[usize] = &[
        0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 1472, 2016, 2031, 2032, 2033, 2048,
    ];
    match r.below(3) {
        0 => EDGES[r.below(EDGES.len())],
        1 => r.below(64),
        _ => r.below(MAX_PLAIN + 64),
    }
}

fn ethernet(ethertype: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// An IPv4 header of `ihl` words for `payload` bytes of `proto`.
fn ipv4_header(r: &mut Rng, ihl: usize, proto: u8, total: usize) -> Vec<u8> {
    let mut h = vec![0u8; ihl * 4];
    h[0] = 0x40 | (ihl as u8 & 0x0f);
    h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    h[4..6].copy_from_slice(&(r.next() as u16).to_be_bytes());
    h[6] = 0x40;
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&SRC.octets());
    h[16..20].copy_from_slice(&DST.octets());
    for b in h.iter_mut().skip(20) {
        *b = 1; // NOP options
    }
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// A well-formed IPv4 packet with `ihl` header words and a random payload.
fn ipv4(r: &mut Rng, ihl: usize) -> Vec<u8> {
    let proto = [17u8, 6, 1, 47][r.below(4)];
    let len = payload_len(r);
    let payload = r.bytes(len);
    let mut f = ethernet(0x0800);
    f.extend(ipv4_header(r, ihl, proto, ihl * 4 + payload.len()));
    f.extend(payload);
    f
}

/// Case `i` of `seed`.
pub(crate) fn case(seed: u64, i: u64) -> Vec<u8> {
    let mut r = Rng::for_case(seed, i);
    let kind = r.below(16);
    let mut f = match kind {
        0..=5 => ipv4(&mut r, 5),
        6 => {
            let ihl = 6 + r.below(10);
            ipv4(&mut r, ihl)
        }
        _ => ipv4(&mut r, 5),
    };
    mangle(&mut r, kind, &mut f);
    f
}

/// Breaks a well-formed frame in the way of `kind` (6 and below stay
/// well formed).
fn mangle(r: &mut Rng, kind: usize, f: &mut Vec<u8>) {
    let ip = 14;
    match kind {
        7 => f[ip] = 0x40 | r.below(5) as u8, // IHL below 5
        8 => {
            let short = (f.len() - ip).saturating_sub(1 + r.below(40)) as u16;
            f[ip + 2..ip + 4].copy_from_slice(&short.to_be_bytes()); // total length < frame
        }
        9 => {
            let long = (f.len() - ip + 1 + r.below(3000)) as u16;
            f[ip + 2..ip + 4].copy_from_slice(&long.to_be_bytes()); // total length > frame
        }
        10 => {
            let off = (r.below(0x2000) as u16) | if r.below(2) == 0 { 0x2000 } else { 0 };
            f[ip + 6..ip + 8].copy_from_slice(&off.to_be_bytes()); // fragment
        }
        11 => f[ip + 8] = 0, // TTL 0
        12 => {
            let tag = [0x81, 0x00, 0x00, r.below(256) as u8]; // VLAN tag
            f.splice(12..12, tag);
        }
        13 => {
            let t = [0x86dd_u16, 0x0806, 0x88cc][r.below(3)]; // IPv6, ARP, LLDP
            f[12..14].copy_from_slice(&t.to_be_bytes());
        }
        14 => f.truncate(14 + r.below(20)), // truncated IP header
        15 => {
            let n = f.len() - 14;
            let noise = r.bytes(n);
            f[14..].copy_from_slice(&noise); // random after Ethernet
            if r.below(2) == 0 {
                f[14] = 0x45;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_reproducible_and_varied() {
        assert_eq!(case(7, 42), case(7, 42));
        assert_ne!(case(7, 42), case(7, 43));
        assert_ne!(case(7, 42), case(8, 42));
        let frames: Vec<Vec<u8>> = (0..2000).map(|i| case(1, i)).collect();
        assert!(frames.iter().all(|f| f.len() >= 14));
        let ethertype = |f: &Vec<u8>| u16::from_be_bytes([f[12], f[13]]);
        assert!(frames.iter().any(|f| ethertype(f) == 0x86dd));
        assert!(frames.iter().any(|f| ethertype(f) == 0x8100));
        assert!(frames.iter().any(|f| f.len() > 14 + 20 + MAX_PLAIN));
        assert!(frames.iter().any(|f| f.len() == 14 + 20));
        let well_formed = frames
            .iter()
            .filter(|f| ethertype(f) == 0x0800 && f.len() >= 34 && checksum(&f[14..34]) == 0)
            .count();
        assert!(well_formed > 600, "{well_formed}");
    }
}
