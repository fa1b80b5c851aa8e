//! Reads a wire pcap back one frame at a time and folds what an observer on
//! the wire saw into a [`WireSummary`]; whoever reads the capture folds its
//! own findings from the same packets. Nothing of a packet is kept, so the
//! memory used does not grow with the capture.

use std::net::Ipv4Addr;
use std::path::Path;

use etherparse::{EtherType, Ethernet2HeaderSlice, Ipv4HeaderSlice};
use pcap_file::pcap::PcapReader;

use super::entropy::ByteHistogram;
use crate::sys::traffic::payload::contains_marker;

/// Shortest Ethernet frame (without FCS): shorter IPv4 packets are padded.
const ETH_ZLEN: usize = 60;

/// One IPv4 packet seen on the wire, borrowed from the frame being read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WirePacket<'a> {
    /// Position among the capture's IPv4 packets, from 0.
    pub(crate) index: u64,
    /// Source address.
    pub(crate) src: Ipv4Addr,
    /// Destination address.
    pub(crate) dst: Ipv4Addr,
    /// IP protocol number.
    pub(crate) protocol: u8,
    /// Header well formed: version 4, IHL ≥ 5, and a total length that is
    /// the frame's IP bytes (Ethernet's minimum-frame padding aside).
    pub(crate) header_ok: bool,
    /// Header checksum valid.
    pub(crate) checksum_ok: bool,
    /// Fragment offset in bytes.
    pub(crate) frag_offset: u32,
    /// More-fragments flag.
    pub(crate) more_fragments: bool,
    /// Payload after the IP header (up to the total length).
    pub(crate) payload: &'a [u8],
    /// The packet from its IP header on (as captured).
    pub(crate) ip: &'a [u8],
}

/// What the whole capture showed, folded packet by packet.
#[derive(Debug, Clone, Default)]
pub(crate) struct WireSummary {
    /// Frames in the file.
    pub(crate) frames: u64,
    /// IPv4 packets.
    pub(crate) ipv4: u64,
    /// Non-IPv4 frames (ARP etc.).
    pub(crate) other_frames: u64,
    /// Every IPv4 payload byte, counted.
    payload: ByteHistogram,
    /// IPv4 packets whose payload contains the plaintext marker.
    marker_leaks: u64,
}

impl WireSummary {
    /// Folds in one IPv4 packet.
    fn add(&mut self, p: &WirePacket) {
        self.ipv4 += 1;
        self.payload.add(p.payload);
        self.marker_leaks += u64::from(contains_marker(p.payload));
    }

    /// Entropy of all IPv4 payload bytes, bits per byte.
    pub(crate) fn payload_entropy(&self) -> f64 {
        self.payload.entropy()
    }

    /// IPv4 packets whose payload contains the plaintext marker.
    pub(crate) fn marker_leaks(&self) -> u64 {
        self.marker_leaks
    }
}

/// Errors reading a capture.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    /// The file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a readable pcap.
    #[error("{path} is not a readable pcap: {source}")]
    Pcap {
        /// File.
        path: String,
        /// Cause.
        source: pcap_file::PcapError,
    },
}

/// Reads a pcap file of Ethernet frames frame by frame: each IPv4 packet
/// goes to `each` and into the summary.
pub(crate) fn analyse(
    path: &Path,
    each: &mut dyn FnMut(&WirePacket),
) -> Result<WireSummary, WireError> {
    let p = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| WireError::Open {
        path: p.clone(),
        source,
    })?;
    let mut reader = PcapReader::new(file).map_err(|source| WireError::Pcap {
        path: p.clone(),
        source,
    })?;
    let mut out = WireSummary::default();
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.map_err(|source| WireError::Pcap {
            path: p.clone(),
            source,
        })?;
        out.frames += 1;
        match parse_frame(&pkt.data) {
            Some(mut w) => {
                w.index = out.ipv4;
                each(&w);
                out.add(&w);
            }
            None => out.other_frames += 1,
        }
    }
    Ok(out)
}

/// Parses one Ethernet frame; `None` unless it carries IPv4.
pub(crate) fn parse_frame(frame: &[u8]) -> Option<WirePacket<'_>> {
    let eth = Ethernet2HeaderSlice::from_slice(frame).ok()?;
    if eth.ether_type() != EtherType::IPV4 {
        return None;
    }
    let ip = &frame[eth.slice().len()..];
    let (header_ok, checksum_ok, payload, src, dst, protocol) =
        match Ipv4HeaderSlice::from_slice(ip) {
            Ok(h) => {
                let hlen = h.slice().len();
                let total = usize::from(h.total_len());
                // The total length names the frame's IP bytes exactly: a
                // data plane that grows or cuts a packet must rewrite it.
                let padded = frame.len() <= ETH_ZLEN && total < ip.len();
                let fits = total >= hlen && (total == ip.len() || padded);
                let payload = &ip[hlen..total.min(ip.len()).max(hlen)];
                let checksum_ok = crate::net::checksum(h.slice()) == 0;
                (
                    fits,
                    checksum_ok,
                    payload,
                    h.source_addr(),
                    h.destination_addr(),
                    h.protocol().0,
                )
            }
            Err(_) => {
                let addr = |o: usize| {
                    ip.get(o..o + 4)
                        .map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3]))
                };
                let src = addr(12).unwrap_or(Ipv4Addr::UNSPECIFIED);
                let dst = addr(16).unwrap_or(Ipv4Addr::UNSPECIFIED);
                (
                    false,
                    false,
                    &[][..],
                    src,
                    dst,
                    ip.get(9).copied().unwrap_or(0),
                )
            }
        };
    let frag = ip
        .get(6..8)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .unwrap_or(0);
    Some(WirePacket {
        index: 0,
        src,
        dst,
        protocol,
        header_ok,
        checksum_ok,
        frag_offset: u32::from(frag & 0x1fff) * 8,
        more_fragments: frag & 0x2000 != 0,
        payload,
        ip,
    })
}

/// An Ethernet frame of an IPv4 packet from 198.18.0.1 to 198.18.0.2 with
/// `payload`, a right total length and checksum: the tests' wire packets.
#[cfg(test)]
pub(crate) fn test_frame(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = (20 + payload.len()) as u16;
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, protocol, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
    ];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let c = crate::net::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(payload);
    f
}

/// Writes `frames` as a pcap file: the tests' captures.
#[cfg(test)]
pub(crate) fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    use pcap_file::pcap::{PcapPacket, PcapWriter};
    let mut w = PcapWriter::new(std::fs::File::create(path).unwrap()).unwrap();
    for f in frames {
        let p = PcapPacket::new(std::time::Duration::ZERO, f.len() as u32, f);
        w.write_packet(&p).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8], break_csum: bool) -> Vec<u8> {
        let mut f = test_frame(1, payload);
        if break_csum {
            f[14 + 11] ^= 0xff;
        }
        f
    }

    #[test]
    fn parses_header_and_checksum() {
        let f = frame(b"0123456789abcdef", false);
        let w = parse_frame(&f).unwrap();
        assert!(w.header_ok && w.checksum_ok);
        assert_eq!(w.src, Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(w.protocol, 1);
        assert_eq!(w.payload, b"0123456789abcdef");
        let f = frame(b"x", true);
        let bad = parse_frame(&f).unwrap();
        assert!(!bad.checksum_ok);
    }

    #[test]
    fn total_length_must_be_the_frames() {
        // Grown after the header was written: bytes the header does not count.
        let mut long = frame(&[0x5a; 100], false);
        long.extend_from_slice(&[0; 16]);
        let w = parse_frame(&long).unwrap();
        assert!(!w.header_ok && w.checksum_ok, "{w:?}");
        assert_eq!(w.payload.len(), 100);
        // Cut: the header promises more than the frame has.
        let f = frame(&[0x5a; 100], false);
        assert!(!parse_frame(&f[..f.len() - 1]).unwrap().header_ok);
        // Padded to Ethernet's 60 bytes: fine.
        let mut short = frame(b"ping", false);
        short.resize(ETH_ZLEN, 0);
        let w = parse_frame(&short).unwrap();
        assert!(w.header_ok, "{w:?}");
        assert_eq!(w.payload, b"ping");
    }

    #[test]
    fn non_ip_is_other() {
        let mut arp = frame(b"", false);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(parse_frame(&arp).is_none());
    }

    #[test]
    fn pcap_is_read_frame_by_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.pcap");
        let leak = crate::sys::traffic::payload::marker_payload(40);
        let mut arp = frame(b"", false);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        write_pcap(
            &path,
            &[frame(&leak, false), arp, frame(&[0x5a; 32], false)],
        );
        let mut seen = Vec::new();
        let s = analyse(&path, &mut |p| seen.push((p.index, p.payload.len()))).unwrap();
        assert_eq!((s.frames, s.ipv4, s.other_frames), (3, 2, 1));
        assert_eq!(seen, [(0, 40), (1, 32)]);
        assert_eq!(s.marker_leaks(), 1);
        assert!(s.payload_entropy() < 5.0);
    }
}
