//! Reads a wire pcap back and summarises what an observer on the wire saw.

use std::net::Ipv4Addr;
use std::path::Path;

use etherparse::{EtherType, Ethernet2HeaderSlice, Ipv4HeaderSlice};
use pcap_file::pcap::PcapReader;
use serde::{Deserialize, Serialize};

use super::entropy::shannon;
use crate::sys::traffic::payload::contains_marker;

/// One IPv4 packet seen on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WirePacket {
    /// Source address.
    pub(crate) src: Ipv4Addr,
    /// Destination address.
    pub(crate) dst: Ipv4Addr,
    /// IP protocol number.
    pub(crate) protocol: u8,
    /// Header well formed (version 4, IHL ≥ 5, total length fits the frame).
    pub(crate) header_ok: bool,
    /// Header checksum valid.
    pub(crate) checksum_ok: bool,
    /// Fragment offset in bytes.
    pub(crate) frag_offset: u32,
    /// More-fragments flag.
    pub(crate) more_fragments: bool,
    /// Payload after the IP header.
    #[serde(skip)]
    pub(crate) payload: Vec<u8>,
    /// The packet from its IP header on (as captured).
    #[serde(skip)]
    pub(crate) ip: Vec<u8>,
}

/// Summary of a capture.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct WireSummary {
    /// Frames in the file.
    pub(crate) frames: u64,
    /// IPv4 packets.
    pub(crate) ipv4: Vec<WirePacket>,
    /// Non-IPv4 frames (ARP etc.).
    pub(crate) other_frames: u64,
}

impl WireSummary {
    /// All IPv4 payload bytes, concatenated.
    pub(crate) fn payload_bytes(&self) -> Vec<u8> {
        self.ipv4
            .iter()
            .flat_map(|p| p.payload.iter().copied())
            .collect()
    }

    /// Entropy of all IPv4 payload bytes, bits per byte.
    pub(crate) fn payload_entropy(&self) -> f64 {
        shannon(&self.payload_bytes())
    }

    /// IPv4 packets whose payload contains the plaintext marker.
    pub(crate) fn marker_leaks(&self) -> usize {
        self.ipv4
            .iter()
            .filter(|p| contains_marker(&p.payload))
            .count()
    }

    /// IPv4 packets whose payload contains any of the given plaintexts.
    pub(crate) fn plaintext_leaks(&self, plaintexts: &[Vec<u8>]) -> usize {
        self.ipv4
            .iter()
            .filter(|p| {
                plaintexts
                    .iter()
                    .any(|pt| !pt.is_empty() && p.payload.windows(pt.len()).any(|w| w == pt))
            })
            .count()
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

/// Reads and summarises a pcap file of Ethernet frames.
pub(crate) fn analyse(path: &Path) -> Result<WireSummary, WireError> {
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
            Some(w) => out.ipv4.push(w),
            None => out.other_frames += 1,
        }
    }
    Ok(out)
}

/// Parses one Ethernet frame; `None` unless it carries IPv4.
pub(crate) fn parse_frame(frame: &[u8]) -> Option<WirePacket> {
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
                let fits = total >= hlen && total <= ip.len();
                let payload = ip[hlen..total.min(ip.len()).max(hlen)].to_vec();
                let checksum_ok = crate::sys::traffic::icmp::inet_checksum(h.slice()) == 0;
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
                    Vec::new(),
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
        src,
        dst,
        protocol,
        header_ok,
        checksum_ok,
        frag_offset: u32::from(frag & 0x1fff) * 8,
        more_fragments: frag & 0x2000 != 0,
        payload,
        ip: ip.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::traffic::icmp::inet_checksum;

    fn frame(payload: &[u8], break_csum: bool) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = (20 + payload.len()) as u16;
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 1, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
        ];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        let c = inet_checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        if break_csum {
            ip[11] ^= 0xff;
        }
        f.extend_from_slice(&ip);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn parses_header_and_checksum() {
        let w = parse_frame(&frame(b"0123456789abcdef", false)).unwrap();
        assert!(w.header_ok && w.checksum_ok);
        assert_eq!(w.src, Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(w.protocol, 1);
        assert_eq!(w.payload, b"0123456789abcdef");
        let bad = parse_frame(&frame(b"x", true)).unwrap();
        assert!(!bad.checksum_ok);
    }

    #[test]
    fn non_ip_is_other() {
        let mut arp = frame(b"", false);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(parse_frame(&arp).is_none());
    }

    #[test]
    fn pcap_roundtrip_and_leak_search() {
        use pcap_file::pcap::{PcapPacket, PcapWriter};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.pcap");
        let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
        let leak = crate::sys::traffic::payload::marker_payload(40);
        for f in [frame(&leak, false), frame(&[0x5a; 32], false)] {
            w.write_packet(&PcapPacket::new(
                std::time::Duration::ZERO,
                f.len() as u32,
                &f,
            ))
            .unwrap();
        }
        drop(w);
        let s = analyse(&path).unwrap();
        assert_eq!(s.frames, 2);
        assert_eq!(s.marker_leaks(), 1);
        assert_eq!(s.plaintext_leaks(std::slice::from_ref(&leak)), 1);
        assert!(s.payload_entropy() < 5.0);
    }
}
