//! WireGuard (`ebpf/wg_dp.bpf.c`): transport data messages in UDP in IPv4,
//! ChaCha20-Poly1305 in BPF C. A handshake in userspace keys it with
//! keypairs (`provision`: the peer, three keypair slots, the sending one);
//! [`WireFormat::provision`] is the self-talk keying of the bench and the
//! fuzzer. `reference` is the independent sealing and reading of its
//! messages (RustCrypto).

pub(crate) mod abi;
pub(crate) mod handshake;
pub(crate) mod provision;
pub(crate) mod reference;
#[cfg(test)]
mod tests;

use std::net::Ipv4Addr;

use super::interface::{Abi, Keys, Variant, WireFormat, differs};
use abi::{
    WG_COUNTERS, WG_F_CONFIRMED, WG_F_SEND, WG_MAX_ALLOWED, WG_OVERHEAD, WgAllowedIp, WgPeer,
};
use crate::dataplane::embed::{Flavor, embedded};
use crate::dataplane::{DataPlane, DataPlaneError};
use crate::domain::{Algorithm, Direction, KernelStack, Stack};
use crate::net::{ETH_HLEN, IP_HLEN, UDP_HLEN, ipv4_payload, l4_checksum_at};

/// The WireGuard format.
pub(crate) struct Wireguard;

/// WireGuard's customary port: both ends of the self-talk keying.
const PORT: u16 = 51820;
/// The underlay address of both ends of the self-talk keying (TEST-NET-1).
const SELF_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The self-talk keypair: its slot, and both its indexes.
const SELF_SLOT: u32 = 0;
const SELF_INDEX: u32 = 1;
/// UDP protocol number, the outer packets'.
const UDP: u8 = 17;

/// The outer bytes of a message around its padded inner packet:
/// IPv4, UDP, message header, tag.
const ENCAP: usize = IP_HLEN + UDP_HLEN + reference::HEADER + reference::TAG;

/// The self-talk peer: one end that receives what it sends, every IPv4
/// address in the tunnel.
fn self_peer() -> WgPeer {
    // 0.0.0.0/0: the first entry, zero.
    let allowed = [WgAllowedIp::default(); WG_MAX_ALLOWED];
    WgPeer {
        local_addr: u32::from_ne_bytes(SELF_ADDR.octets()),
        endpoint_addr: u32::from_ne_bytes(SELF_ADDR.octets()),
        local_port: PORT.to_be(),
        endpoint_port: PORT.to_be(),
        n_allowed: 1,
        allowed,
        ..Default::default()
    }
}

/// The 32-byte key of `keys` (ChaCha20 has no other length).
fn key32(keys: &Keys) -> Result<[u8; 32], DataPlaneError> {
    keys.key.try_into().map_err(|_| DataPlaneError::Provision {
        what: format!("a {}-byte key (ChaCha20-Poly1305 takes 32)", keys.key.len()),
        errno: libc::EINVAL,
    })
}

/// The IPv4 packet of an Ethernet frame: header and payload, up to its
/// total length.
fn ipv4_packet(frame: &[u8]) -> Option<&[u8]> {
    ipv4_payload(frame)?;
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    frame.get(ETH_HLEN..ETH_HLEN + total)
}

/// A UDP datagram's ports and payload (the WireGuard message).
struct Datagram<'a> {
    source_port: u16,
    dest_port: u16,
    message: &'a [u8],
}

/// `udp` (header and payload) split, if it holds a header.
fn datagram(udp: &[u8]) -> Option<Datagram<'_>> {
    let port = |at: usize| u16::from_be_bytes([udp[at], udp[at + 1]]);
    (udp.len() >= UDP_HLEN).then(|| Datagram {
        source_port: port(0),
        dest_port: port(2),
        message: &udp[UDP_HLEN..],
    })
}

impl WireFormat for Wireguard {
    fn name(&self) -> &'static str {
        "wireguard"
    }

    fn algorithms(&self) -> &'static [Algorithm] {
        &[Algorithm::ChaCha20Poly1305]
    }

    /// Named apart from the kernel's `wireguard` it is measured against.
    fn variants(&self) -> &'static [Variant] {
        &[Variant {
            algorithm: Algorithm::ChaCha20Poly1305,
            in_place: false,
            name: "wireguard (bpf)",
            short: "wg bpf",
            rgb: (188, 189, 34),
        }]
    }

    fn cipher_label(&self, algorithm: Algorithm) -> String {
        format!("wireguard {}", algorithm.kernel_name())
    }

    fn object_name(&self, _: bool) -> &'static str {
        "wireguard"
    }

    /// One build, bounced: the cipher reads and writes whole words of map
    /// memory, and in place would save only a copy next to its cost. The
    /// nonce is the counter, so no fixed-IV test build either.
    fn object(&self, in_place: bool, flavor: Flavor) -> Option<&'static [u8]> {
        match (in_place, flavor) {
            (false, Flavor::Plain) => Some(embedded!("wireguard")),
            _ => None,
        }
    }

    fn has_in_place(&self) -> bool {
        false
    }

    fn kernel_peer(&self) -> Option<Stack> {
        Some(Stack::Wireguard)
    }

    fn handshake(&self) -> bool {
        true
    }

    /// ChaCha20-Poly1305 is BPF C.
    fn needs_bpf_crypto(&self) -> bool {
        false
    }

    /// Receiver index and counter of a transport message (little-endian).
    fn sequence(&self, protocol: u8, payload: &[u8]) -> Option<(u32, u64)> {
        let m = (protocol == UDP).then(|| datagram(payload))??.message;
        if m.first() != Some(&(reference::DATA as u8)) || m.len() < reference::HEADER {
            return None;
        }
        let receiver = u32::from_le_bytes(m[4..8].try_into().ok()?);
        Some((receiver, u64::from_le_bytes(m[8..16].try_into().ok()?)))
    }

    /// A session's first message carries counter 0.
    fn sequence_names(&self) -> (&'static str, &'static str, u64) {
        ("receiver index", "counter", 0)
    }

    /// Transport messages with an inner packet; handshake messages and
    /// keepalives carry none.
    fn carries_message(&self, protocol: u8, payload: &[u8]) -> bool {
        protocol == UDP
            && datagram(payload).is_some_and(|d| {
                d.message.first() == Some(&(reference::DATA as u8))
                    && d.message.len() > reference::HEADER + reference::TAG
            })
    }

    fn abi(&self) -> Abi {
        Abi {
            provision: "wg_provision",
            stats: "wg_stats",
            counters: WG_COUNTERS,
            cipher_probe: false,
            layouts: abi::layouts,
        }
    }

    fn overhead(&self) -> u32 {
        WG_OVERHEAD
    }

    /// The inner packet padded to 16 bytes, in its message, UDP and IPv4.
    fn egress_frame_len(&self, _: Algorithm, size: u32) -> usize {
        ETH_HLEN + ENCAP + (size as usize).div_ceil(reference::PAD) * reference::PAD
    }

    /// Self-talk: the peer is this end (192.0.2.1, port 51820 both ways,
    /// every IPv4 address allowed), and one confirmed sending keypair in
    /// slot 0 with both keys `keys.key` and both indexes 1, so that
    /// ingress opens what egress seals. Again, it replaces the keypair
    /// (counters and window afresh).
    fn provision(&self, dp: &DataPlane, keys: &Keys) -> Result<(), DataPlaneError> {
        let key = key32(keys)?;
        let c = dp.wg_control()?;
        c.set_peer(&self_peer())?;
        c.install(
            SELF_SLOT,
            SELF_INDEX,
            SELF_INDEX,
            &key,
            &key,
            WG_F_CONFIRMED | WG_F_SEND,
        )?;
        Ok(())
    }

    /// No IV: the nonce is the message counter, in the clear.
    fn iv_at(&self, _: Algorithm) -> Option<(usize, Option<u8>)> {
        None
    }

    /// Every keypair slot emptied: tunnelled traffic is dropped both ways.
    fn clear(&self, dp: &DataPlane) -> Result<(), DataPlaneError> {
        dp.wg_control()?.clear(None).map(drop)
    }

    /// No kfunc: the cipher is BPF C, inside the program's own time.
    fn cipher_passes(&self, _: Direction) -> &'static [Direction] {
        &[]
    }

    fn ingress_once(&self) -> bool {
        true
    }

    /// What is not IPv4 (or too short to read as such) is the stack's, and
    /// handshake messages (types 1 to 3) to our port go to userspace; IPv4
    /// from the peer's allowed IPs (every address, for the fuzzer's
    /// self-talk peer) comes through the tunnel or not at all.
    fn passes_unauthenticated(&self, frame: &[u8]) -> bool {
        if frame.get(12..14) != Some(&[0x08, 0x00]) || frame.len() < ETH_HLEN + IP_HLEN {
            return true;
        }
        let ihl = usize::from(frame[ETH_HLEN] & 0x0f) * 4;
        let udp = frame.get(ETH_HLEN + ihl..).and_then(datagram);
        frame[ETH_HLEN + 9] == UDP
            && udp.is_some_and(|d| d.dest_port == PORT && matches!(d.message.first(), Some(1..=3)))
    }

    /// Egress completes TCP/UDP checksums and rewrites the inner IPv4
    /// header checksum.
    fn completes_checksums(&self) -> bool {
        true
    }

    fn reference_name(&self) -> &'static str {
        "reference ChaCha20-Poly1305"
    }

    /// The frame is the input's Ethernet header, an IPv4 packet with a
    /// valid header carrying UDP, and its message opens with the key to
    /// the input's IPv4 packet.
    fn check_egress(&self, keys: &Keys, input: &[u8], out: &[u8]) -> Result<(), String> {
        let size = (input.len() - ETH_HLEN) as u32;
        let want = self.egress_frame_len(keys.algorithm, size);
        if out.len() != want {
            return Err(format!(
                "egress output is {} bytes, WireGuard needs {want}",
                out.len()
            ));
        }
        let oh = &out[ETH_HLEN..ETH_HLEN + IP_HLEN];
        if out[..ETH_HLEN] != input[..ETH_HLEN]
            || crate::net::checksum(oh) != 0
            || oh[9] != UDP
            || usize::from(u16::from_be_bytes([oh[2], oh[3]])) != want - ETH_HLEN
        {
            return Err(
                "egress output's headers are not WireGuard's (Ethernet, IPv4 checksum, UDP, length)"
                    .into(),
            );
        }
        let msg = &out[ETH_HLEN + IP_HLEN + UDP_HLEN..];
        match reference::open(keys.key, msg) {
            Ok(o) if reference::inner_ipv4(&o.plaintext) == ipv4_packet(input) => Ok(()),
            Ok(_) => Err("reference ChaCha20-Poly1305 opens the message to something else".into()),
            Err(why) => Err(format!(
                "reference ChaCha20-Poly1305 refuses the message: {why:?}"
            )),
        }
    }

    /// The output opens to the input's IPv4 packet (TCP/UDP and IPv4
    /// header checksums aside: egress completes them), and its IPv4 packet
    /// is exactly what a reference sender makes of what it opened to, with
    /// the output's addresses, ports, receiver index and counter. No IV:
    /// `_iv` is unused.
    fn reference(
        &self,
        keys: &Keys,
        _iv: [u8; 16],
        input: &[u8],
        out: &[u8],
    ) -> Result<(), String> {
        let (Some(sent), Some(udp)) = (ipv4_packet(input), ipv4_payload(out)) else {
            return Err("egress counted an encryption but its output has no IPv4 payload".into());
        };
        let Some(d) = datagram(udp) else {
            return Err("egress's output is too short for UDP".into());
        };
        let key = key32(keys).map_err(|e| e.to_string())?;
        let opened = reference::open(&key, d.message)
            .map_err(|why| format!("the reference reading refuses egress's output: {why:?}"))?;
        let inner = reference::inner_ipv4(&opened.plaintext)
            .ok_or("egress's message holds no IPv4 packet")?;
        let (mut got, mut want) = (inner.to_vec(), sent.to_vec());
        for p in [&mut got, &mut want] {
            p[10..12].fill(0);
            let hl = usize::from(p[0] & 0x0f) * 4;
            if let Some(at) = l4_checksum_at(p[9], p.len().saturating_sub(hl)) {
                p[hl + at..hl + at + 2].fill(0);
            }
        }
        differs("the packet sent", &got, &want)?;
        let oh = &out[ETH_HLEN..ETH_HLEN + IP_HLEN];
        let addr = |at: usize| Ipv4Addr::new(oh[at], oh[at + 1], oh[at + 2], oh[at + 3]);
        let message = reference::seal(&key, opened.receiver, opened.counter, inner);
        let want =
            reference::udp_ipv4((addr(12), d.source_port), (addr(16), d.dest_port), &message);
        differs("the reference WireGuard packet", &out[ETH_HLEN..], &want)
    }

    /// UDP whose payload is a data message that opens with the key and
    /// holds an IPv4 packet: its protocol and payload.
    fn open(&self, keys: &Keys, protocol: u8, payload: &[u8]) -> Option<(u8, Vec<u8>)> {
        if protocol != UDP {
            return None;
        }
        let o = reference::open(keys.key, datagram(payload)?.message).ok()?;
        let inner = reference::inner_ipv4(&o.plaintext)?;
        let hl = usize::from(inner[0] & 0x0f) * 4;
        Some((inner[9], inner[hl..].to_vec()))
    }

    /// An AEAD, and no kfunc: its cipher is the program's own code.
    fn bench_adds(&self) -> Option<&'static str> {
        Some("ChaCha20-Poly1305 in BPF C")
    }

    /// The kernel's WireGuard, the same protocol.
    fn bench_rivals(&self) -> &'static [KernelStack] {
        &[KernelStack::WireGuard]
    }

    /// The target set for it: at 1500 B, at most half the raw `cbc(aes)`
    /// egress program's time.
    fn egress_target(&self) -> Option<(u32, f64)> {
        Some((1500, 0.5))
    }
}
