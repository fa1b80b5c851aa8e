//! The reference WireGuard transport data message (the WireGuard paper,
//! 5.4.6), from RustCrypto's `chacha20poly1305`: what a correct sender
//! makes of an inner packet, and the reading of one, independent of the
//! BPF C the data plane runs.

use std::net::Ipv4Addr;

use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};

use crate::net::{IP_HLEN, UDP_HLEN, checksum};

/// Message type of a transport data message.
pub(crate) const DATA: u32 = 4;
/// Type, reserved, receiver index, counter.
pub(crate) const HEADER: usize = 16;
/// The Poly1305 tag.
pub(crate) const TAG: usize = 16;
/// The inner packet is zero-padded to a multiple of this.
pub(crate) const PAD: usize = 16;

/// Why a message does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Shorter than a header and a tag.
    Length,
    /// Not a transport data message (type 4, reserved bytes zero).
    Type,
    /// The tag does not match the key.
    Tag,
}

/// An opened transport data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Opened {
    /// The receiver index.
    pub(crate) receiver: u32,
    /// The counter (the nonce).
    pub(crate) counter: u64,
    /// The plaintext: the inner packet and its padding (empty: a
    /// keepalive).
    pub(crate) plaintext: Vec<u8>,
}

/// The AEAD nonce of a counter: 4 zero bytes, then the counter
/// little-endian.
pub(crate) fn nonce(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n
}

/// ChaCha20-Poly1305 of `msg` under `key` and the counter's nonce: the
/// ciphertext and its tag.
fn seal_raw(key: &[u8; 32], counter: u64, aad: &[u8], msg: &[u8]) -> Vec<u8> {
    ChaCha20Poly1305::new(key.into())
        .encrypt(&nonce(counter).into(), Payload { msg, aad })
        .expect("ChaCha20-Poly1305 seals any length the lab sends")
}

fn open_raw(key: &[u8], counter: u64, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new_from_slice(key).ok()?;
    cipher
        .decrypt(&nonce(counter).into(), Payload { msg: sealed, aad })
        .ok()
}

/// `packet` zero-padded to a multiple of [`PAD`].
pub(crate) fn padded(packet: &[u8]) -> Vec<u8> {
    let mut p = packet.to_vec();
    p.resize(packet.len().div_ceil(PAD) * PAD, 0);
    p
}

/// The transport data message (the UDP payload) a sender makes of
/// `packet` (empty: a keepalive) for `receiver` with `counter`: header,
/// then the padded packet sealed with an empty AAD.
pub(crate) fn seal(key: &[u8; 32], receiver: u32, counter: u64, packet: &[u8]) -> Vec<u8> {
    let mut m = DATA.to_le_bytes().to_vec();
    m.extend(receiver.to_le_bytes());
    m.extend(counter.to_le_bytes());
    m.extend(seal_raw(key, counter, &[], &padded(packet)));
    m
}

/// Reads a transport data message (a UDP payload) with one key.
pub(crate) fn open(key: &[u8], msg: &[u8]) -> Result<Opened, Refusal> {
    if msg.len() < HEADER + TAG {
        return Err(Refusal::Length);
    }
    let word = |at: usize| u32::from_le_bytes(msg[at..at + 4].try_into().expect("4 bytes"));
    if word(0) != DATA {
        return Err(Refusal::Type);
    }
    let counter = u64::from_le_bytes(msg[8..16].try_into().expect("8 bytes"));
    let plaintext = open_raw(key, counter, &[], &msg[HEADER..]).ok_or(Refusal::Tag)?;
    Ok(Opened {
        receiver: word(4),
        counter,
        plaintext,
    })
}

/// The IPv4 packet at the start of a plaintext (up to its total length),
/// if it holds one.
pub(crate) fn inner_ipv4(plaintext: &[u8]) -> Option<&[u8]> {
    let first = *plaintext.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*plaintext.get(2)?, *plaintext.get(3)?]));
    (first >> 4 == 4 && ihl >= IP_HLEN && total >= ihl && total <= plaintext.len())
        .then(|| &plaintext[..total])
}

/// The outer IPv4 packet a sender puts `msg` in: UDP from `src` to `dst`
/// without a checksum, IPv4 with DF, identification 0, TTL 64 (the data
/// plane's choices, `ebpf/wg_dp.bpf.c`).
pub(crate) fn udp_ipv4(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), msg: &[u8]) -> Vec<u8> {
    let total = (IP_HLEN + UDP_HLEN + msg.len()) as u16;
    let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p.extend(src.0.octets());
    p.extend(dst.0.octets());
    let c = checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend(src.1.to_be_bytes());
    p.extend(dst.1.to_be_bytes());
    p.extend(((UDP_HLEN + msg.len()) as u16).to_be_bytes());
    p.extend([0, 0]);
    p.extend(msg);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hex;

    /// RFC 8439 A.5: its nonce, 00000000 0102030405060708, is WireGuard's
    /// for the counter 0x0807060504030201, which checks the nonce's layout
    /// (its AAD is not WireGuard's, so it goes through the AEAD directly).
    #[test]
    fn the_counter_nonce_opens_rfc_8439_a_5() {
        let key = hex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
        let aad = hex("f33388860000000000004e91");
        let counter = 0x0807_0605_0403_0201;
        assert_eq!(nonce(counter).to_vec(), hex("000000000102030405060708"));
        let mut sealed = hex(
            "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2
             4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf
             332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855
             9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4
             b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e
             af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a
             0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10
             49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29
             a6ad5cb4022b02709b",
        );
        sealed.extend(hex("eead9d67890cbb22392336fea1851f38"));
        let text = open_raw(&key, counter, &aad, &sealed).expect("opens");
        assert!(text.starts_with(b"Internet-Drafts are draft documents"));
        assert_eq!(open_raw(&key, counter + 1, &aad, &sealed), None);
    }

    #[test]
    fn a_message_has_its_header_padding_and_tag_and_opens_to_its_packet() {
        let key = [7u8; 32];
        let packet: Vec<u8> = (0..37).collect();
        let m = seal(&key, 0x0102_0304, 9, &packet);
        assert_eq!(m[..8], [4, 0, 0, 0, 4, 3, 2, 1]);
        assert_eq!(m[8..16], 9u64.to_le_bytes());
        assert_eq!(m.len(), HEADER + 48 + TAG);
        let o = open(&key, &m).unwrap();
        assert_eq!((o.receiver, o.counter), (0x0102_0304, 9));
        assert_eq!(o.plaintext, padded(&packet));
        assert_eq!(o.plaintext[37..], [0; 11]);
        let keepalive = seal(&key, 1, 10, &[]);
        assert_eq!(keepalive.len(), HEADER + TAG);
        assert_eq!(open(&key, &keepalive).unwrap().plaintext, b"");

        let mut bad = m.clone();
        bad[20] ^= 1;
        assert_eq!(open(&key, &bad), Err(Refusal::Tag));
        let mut bad = m.clone();
        bad[8] ^= 1; // another counter, another nonce
        assert_eq!(open(&key, &bad), Err(Refusal::Tag));
        assert_eq!(open(&[8u8; 32], &m), Err(Refusal::Tag));
        let mut bad = m.clone();
        bad[1] = 1; // a reserved byte
        assert_eq!(open(&key, &bad), Err(Refusal::Type));
        assert_eq!(open(&key, &m[..HEADER + TAG - 1]), Err(Refusal::Length));
    }

    #[test]
    fn the_inner_packet_is_cut_at_its_total_length() {
        let mut p = vec![0x45, 0, 0, 24, 0, 0, 0, 0, 64, 1, 0, 0];
        p.extend([1, 1, 1, 1, 2, 2, 2, 2, 8, 0, 0, 0]);
        let plain = padded(&p);
        assert_eq!(inner_ipv4(&plain), Some(&p[..]));
        let mut long = p.clone();
        long[3] = 33; // more than the plaintext holds
        assert_eq!(inner_ipv4(&padded(&long)), None);
        let mut v6 = p.clone();
        v6[0] = 0x60;
        assert_eq!(inner_ipv4(&v6), None);
        assert_eq!(inner_ipv4(&[]), None);
    }

    #[test]
    fn the_outer_headers_are_valid() {
        let a = (Ipv4Addr::new(192, 0, 2, 1), 51820);
        let b = (Ipv4Addr::new(192, 0, 2, 2), 51821);
        let p = udp_ipv4(a, b, b"msg");
        assert_eq!(p.len(), 20 + 8 + 3);
        assert_eq!(checksum(&p[..20]), 0);
        assert_eq!(u16::from_be_bytes([p[2], p[3]]), 31);
        assert_eq!((p[6], p[8], p[9]), (0x40, 64, 17));
        assert_eq!(p[20..28], [0xca, 0x6c, 0xca, 0x6d, 0, 11, 0, 0]);
    }
}
