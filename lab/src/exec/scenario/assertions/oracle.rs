//! The oracle check: an independent reference AES decrypts every captured
//! packet with every key the scenario installed, and the inner message must
//! be one the lab sent. ESP packets must also carry a valid ICV and trailer.

use super::observations::Observations;
use super::verdict::Judged;
use crate::domain::Algorithm;
use crate::exec::analysis::wire::WirePacket;
use crate::exec::analysis::{esp, oracle};
use crate::sys::traffic::icmp::echo_message;
use crate::sys::traffic::payload::MARKER;

/// What the reference decryption made of one packet.
#[derive(Debug, PartialEq, Eq)]
enum Reading {
    /// Exactly one key gives a message the lab sent.
    Matched,
    /// Several keys give different messages the lab sent.
    Ambiguous,
    /// Some key gives valid padding, but no message the lab sent.
    Other,
    /// No key gives valid padding.
    Undecryptable,
}

/// At least `min_ratio` of the wire packets decrypt to what was sent.
pub(crate) fn check(obs: &Observations, min_ratio: f64) -> Judged {
    let known = known_messages(obs);
    let readings: Vec<Reading> = match obs.algorithm {
        Some(alg) => obs
            .wire
            .ipv4
            .iter()
            .map(|p| match &obs.esp_auth_key {
                None => read(alg, &obs.keys, p, &known),
                Some(auth) => read_esp(&obs.keys, auth, p, &known),
            })
            .collect(),
        None => Vec::new(),
    };
    let count = |r: Reading| readings.iter().filter(|x| **x == r).count() as u64;
    let (matched, ambiguous) = (count(Reading::Matched), count(Reading::Ambiguous));
    let (other, undecryptable) = (count(Reading::Other), count(Reading::Undecryptable));
    let n = obs.wire.ipv4.len() as u64;
    let ratio = if n == 0 {
        0.0
    } else {
        matched as f64 / n as f64
    };
    let mut observed = format!(
        "{matched} of {n} match, {other} decrypt to something else, {undecryptable} do not decrypt"
    );
    if ambiguous > 0 {
        observed.push_str(&format!(
            ", {ambiguous} ambiguous (several keys give messages that were sent)"
        ));
    }
    Judged::new(
        format!(
            "reference AES decrypts >= {:.0}% of wire packets to what was sent",
            min_ratio * 100.0
        ),
        observed,
        n > 0 && ratio >= min_ratio,
    )
}

/// Tries every key. The padding alone cannot pick the key (a wrong key
/// gives valid padding about once in 256 packets), so the inner message
/// decides.
fn read(alg: Algorithm, keys: &[Vec<u8>], p: &WirePacket, known: &[(Vec<u8>, usize)]) -> Reading {
    let plains: Vec<(u8, Vec<u8>)> = keys
        .iter()
        .filter_map(|k| oracle::decrypt(alg, k, &p.payload))
        .map(|pt| (p.protocol, pt))
        .collect();
    judge(p, plains, known)
}

/// An ESP packet: protocol 50, a valid ICV, and a key whose trailer parses
/// and whose inner message (of that trailer's protocol: a wrong key's
/// trailer names a random one) the lab sent.
fn read_esp(keys: &[Vec<u8>], auth: &[u8], p: &WirePacket, known: &[(Vec<u8>, usize)]) -> Reading {
    if p.protocol != 50 {
        return Reading::Undecryptable;
    }
    let plains: Vec<(u8, Vec<u8>)> = keys
        .iter()
        .filter_map(|k| esp::open(k, auth, &p.payload).ok())
        .map(|o| (o.next_header, o.inner))
        .collect();
    judge(p, plains, known)
}

/// Sorts the candidate plaintexts of one packet, each with the protocol it
/// claims, into a [`Reading`].
fn judge(p: &WirePacket, plains: Vec<(u8, Vec<u8>)>, known: &[(Vec<u8>, usize)]) -> Reading {
    let mut sent: Vec<&Vec<u8>> = plains
        .iter()
        .filter(|(protocol, pt)| plaintext_known(p, *protocol, pt, known))
        .map(|(_, pt)| pt)
        .collect();
    sent.sort();
    sent.dedup();
    match (sent.len(), plains.is_empty()) {
        (1, _) => Reading::Matched,
        (0, true) => Reading::Undecryptable,
        (0, false) => Reading::Other,
        _ => Reading::Ambiguous,
    }
}

/// L4 messages the lab knows it sent: bytes, and how many leading bytes
/// (headers the kernel fills in) are not compared.
pub(crate) fn known_messages(obs: &Observations) -> Vec<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    for (_, p) in &obs.pings {
        for (seq, data) in p.payloads.iter().enumerate() {
            out.push((echo_message(8, p.id, seq as u16, data), 0));
            out.push((echo_message(0, p.id, seq as u16, data), 0));
        }
    }
    for f in &obs.udp {
        for d in &f.sent.payloads {
            let mut m = vec![0u8; 8];
            m.extend_from_slice(d);
            out.push((m, 8));
        }
    }
    out
}

/// Whether a decrypted (fragment of an) L4 message is something we sent.
/// `protocol` is the message's: the packet's own, or ESP's next header.
fn plaintext_known(p: &WirePacket, protocol: u8, pt: &[u8], known: &[(Vec<u8>, usize)]) -> bool {
    if protocol == 6 && p.frag_offset == 0 && !p.more_fragments {
        // TCP: the header is the kernel's; the data must follow the stream pattern.
        let doff = pt.get(12).map_or(0, |b| usize::from(b >> 4) * 4);
        let data = pt.get(doff..).unwrap_or_default();
        return doff >= 20
            && (data.is_empty()
                || (0..MARKER.len()).any(|k| {
                    data.iter()
                        .enumerate()
                        .all(|(j, b)| *b == MARKER[(k + j) % MARKER.len()])
                }));
    }
    let off = p.frag_offset as usize;
    known.iter().any(|(m, skip)| {
        off + pt.len() <= m.len()
            && (p.more_fragments || off + pt.len() == m.len())
            && pt
                .iter()
                .enumerate()
                .all(|(j, b)| off + j < *skip || *b == m[off + j])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::analysis::esp::seal;

    /// A wrong key that happens to give a valid trailer names a random
    /// next header: the right key's message must still be recognised.
    #[test]
    fn esp_packets_are_judged_under_each_keys_own_protocol() {
        let (right, wrong, auth) = ([1u8; 16], [2u8; 16], [3u8; 16]);
        let msg = {
            let mut m = vec![0u8; 8];
            m.extend(b"the datagram the lab sent");
            m
        };
        let known = vec![(msg.clone(), 8)];
        let packet = (0..=u16::MAX)
            .map(|i| {
                let mut iv = [0u8; 16];
                iv[..2].copy_from_slice(&i.to_be_bytes());
                seal(&right, &auth, iv, &msg, 17)
            })
            .find(|p| esp::open(&wrong, &auth, p).is_ok_and(|o| o.next_header != 17))
            .expect("some IV gives the wrong key a valid trailer");
        let wire = WirePacket {
            src: "198.18.0.1".parse().unwrap(),
            dst: "198.18.0.2".parse().unwrap(),
            protocol: 50,
            header_ok: true,
            checksum_ok: true,
            frag_offset: 0,
            more_fragments: false,
            payload: packet,
            ip: Vec::new(),
        };
        let keys = vec![right.to_vec(), wrong.to_vec()];
        assert_eq!(read_esp(&keys, &auth, &wire, &known), Reading::Matched);
        assert_eq!(read_esp(&keys[1..], &auth, &wire, &known), Reading::Other);
        assert_eq!(
            read_esp(&keys, &[4u8; 16], &wire, &known),
            Reading::Undecryptable
        );
    }
}
