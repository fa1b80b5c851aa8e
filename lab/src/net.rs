//! Packet arithmetic every layer shares: the Internet checksum, the header
//! sizes of the frames the lab builds and reads, and where an IPv4 frame's
//! payload and L4 checksum sit. It uses nothing else of the crate, so the
//! data plane's wire formats, the traffic generators and the checks all
//! compute these one way.

use std::net::Ipv4Addr;

/// Ethernet header bytes.
pub(crate) const ETH_HLEN: usize = 14;
/// IPv4 header bytes (no options).
pub(crate) const IP_HLEN: usize = 20;
/// UDP header bytes.
pub(crate) const UDP_HLEN: usize = 8;

/// The Internet checksum (RFC 1071) of `data`: 0 over a header that
/// carries a valid one.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The IPv4 payload of an Ethernet frame (after the header, up to the
/// total length or the frame's end), if it is IPv4.
pub(crate) fn ipv4_payload(frame: &[u8]) -> Option<&[u8]> {
    if frame.len() < ETH_HLEN + IP_HLEN || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    let end = (ETH_HLEN + total).min(frame.len());
    frame.get(ETH_HLEN + ihl..end).filter(|_| ihl >= IP_HLEN)
}

/// Where the checksum of an L4 message of `protocol` sits, if it has one
/// within `len` bytes (TCP 16, UDP 6).
pub(crate) fn l4_checksum_at(protocol: u8, len: usize) -> Option<usize> {
    let at = match protocol {
        6 => 16,
        17 => 6,
        _ => return None,
    };
    (len >= at + 2).then_some(at)
}

/// The TCP or UDP checksum of `segment` (its checksum field zero) from
/// `src` to `dst`: over the pseudo-header and the segment, and for UDP
/// 0xffff instead of 0, which would mean "no checksum" (RFC 768).
pub(crate) fn l4_checksum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, segment: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(12 + segment.len());
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, protocol]);
    pseudo.extend_from_slice(&(segment.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(segment);
    match checksum(&pseudo) {
        0 if protocol == 17 => 0xffff,
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
        let mut h = [
            0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
        ];
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&h), 0);
        assert_eq!(checksum(&[0xff]), !0xff00);
    }

    /// A segment with its checksum in place sums to zero over the
    /// pseudo-header; UDP never sends 0.
    #[test]
    fn l4_checksums_verify_over_the_pseudo_header() {
        let (a, b) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2));
        for (protocol, at) in [(17u8, 6), (6, 16)] {
            let mut seg: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37)).collect();
            seg[at..at + 2].fill(0);
            let c = l4_checksum(a, b, protocol, &seg);
            seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
            let mut pseudo = [a.octets(), b.octets()].concat();
            pseudo.extend([0, protocol, 0, 40]);
            pseudo.extend(&seg);
            assert_eq!(checksum(&pseudo), 0, "protocol {protocol}");
        }
        // A UDP datagram whose sum comes out 0 is sent with 0xffff.
        let mut udp = vec![0, 0, 0, 0, 0, 10, 0, 0, 0, 0];
        let c = l4_checksum(a, b, 17, &udp);
        udp[8..10].copy_from_slice(&c.to_be_bytes());
        assert_eq!(l4_checksum(a, b, 17, &udp), 0xffff);
    }

    #[test]
    fn payload_and_l4_checksum_are_located() {
        let mut f = vec![0u8; 14];
        f[12] = 0x08;
        f.extend([
            0x45, 0, 0, 24, 0, 0, 0, 0, 64, 17, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
        ]);
        f.extend([9, 8, 7, 6, 0xee]); // one byte of Ethernet padding
        assert_eq!(ipv4_payload(&f), Some(&[9u8, 8, 7, 6][..]));
        f[14] = 0x44; // IHL 4
        assert_eq!(ipv4_payload(&f), None);
        assert_eq!(l4_checksum_at(17, 8), Some(6));
        assert_eq!(l4_checksum_at(6, 17), None);
        assert_eq!(l4_checksum_at(1, 64), None);
    }
}
