//! The oracle check: an independent reference cipher decrypts every captured
//! packet with every key the scenario installed, and the inner message must
//! be one the lab sent. The reading is the wire format's (ESP packets must
//! also carry a valid ICV and trailer).

use super::known::Known;
use super::observations::Observations;
use super::verdict::Judged;
use crate::dataplane::format::{self, Keys, WireFormat};
use crate::domain::Algorithm;
use crate::exec::analysis::wire::{WirePacket, WireSummary};
use crate::sys::traffic::payload::MARKER;

/// What the reference decryption made of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// The oracle's fold: each packet read as it comes, the readings counted.
#[derive(Debug)]
pub(crate) struct Oracle<'a> {
    format: &'static dyn WireFormat,
    algorithm: Option<Algorithm>,
    keys: &'a [Vec<u8>],
    auth: &'a [u8],
    known: Known<'a>,
    /// Packets by [`Reading`], in its order.
    readings: [u64; 4],
    /// The format's control packets (handshakes, keepalives): no message.
    control: u64,
    /// Packets matched under each key, in the order of `keys`.
    by_key: Vec<u64>,
}

impl<'a> Oracle<'a> {
    pub(crate) fn new(obs: &'a Observations) -> Self {
        Self {
            format: format::of(obs.mode),
            algorithm: obs.algorithm,
            keys: &obs.keys,
            auth: obs.auth_key.as_deref().unwrap_or_default(),
            known: Known::of(obs),
            readings: [0; 4],
            control: 0,
            by_key: vec![0; obs.keys.len()],
        }
    }

    pub(crate) fn add(&mut self, p: &WirePacket) {
        let Some(alg) = self.algorithm else { return };
        if !self.format.carries_message(p.protocol, p.payload) {
            self.control += 1;
            return;
        }
        let (r, key) = read(self.format, alg, (self.keys, self.auth), p, &self.known);
        self.readings[r as usize] += 1;
        if let Some(k) = key {
            self.by_key[k] += 1;
        }
    }

    /// At least `min_ratio` of the wire packets decrypt to what was sent.
    pub(crate) fn judge(&self, wire: &WireSummary, min_ratio: f64) -> Judged {
        let count = |r: Reading| self.readings[r as usize];
        let (matched, ambiguous) = (count(Reading::Matched), count(Reading::Ambiguous));
        let (other, undecryptable) = (count(Reading::Other), count(Reading::Undecryptable));
        let n = wire.ipv4 - self.control.min(wire.ipv4);
        let ratio = if n == 0 {
            0.0
        } else {
            matched as f64 / n as f64
        };
        let mut observed = format!(
            "{matched} of {n} match, {other} decrypt to something else, {undecryptable} do not decrypt"
        );
        if self.control > 0 {
            observed.push_str(&format!(
                " ({} control packets without a message not counted)",
                self.control
            ));
        }
        if ambiguous > 0 {
            observed.push_str(&format!(
                ", {ambiguous} ambiguous (several keys give messages that were sent)"
            ));
        }
        Judged::new(
            format!(
                "{} decrypts >= {:.0}% of wire packets to what was sent",
                self.format.reference_name().trim_start_matches("a "),
                min_ratio * 100.0
            ),
            observed,
            n > 0 && ratio >= min_ratio,
        )
    }
}

/// Tries every key (with the authentication key, where the format has
/// one). The padding alone cannot pick the key (a wrong key gives valid
/// padding about once in 256 packets), nor can ESP's trailer (a wrong key's
/// names a random protocol), so the inner message decides, under the
/// protocol each key's reading claims.
fn read(
    f: &dyn WireFormat,
    alg: Algorithm,
    (keys, auth): (&[Vec<u8>], &[u8]),
    p: &WirePacket,
    known: &Known,
) -> (Reading, Option<usize>) {
    let opened: Vec<(usize, (u8, Vec<u8>))> = (keys.iter().enumerate())
        .filter_map(|(i, k)| Some((i, f.open(&Keys::new(alg, k, auth), p.protocol, p.payload)?)))
        .collect();
    let sent: Vec<usize> = (opened.iter())
        .filter(|(_, (protocol, pt))| plaintext_known(p, *protocol, pt, known))
        .map(|(i, _)| *i)
        .collect();
    let key = match sent.as_slice() {
        [i] => Some(*i),
        _ => None,
    };
    let plains = opened.into_iter().map(|(_, o)| o).collect();
    (judge(p, plains, known), key)
}

impl Oracle<'_> {
    /// `keys_used`: each key the scenario installed opened at least one
    /// packet to a message that was sent. A rekey that leaves the old key
    /// in force (both ends keep it) passes every delivery check, and shows
    /// here: the new key never reaches the wire.
    pub(crate) fn judge_keys(&self) -> Judged {
        let unused: Vec<String> = (self.by_key.iter().enumerate())
            .filter(|(_, n)| **n == 0)
            .map(|(i, _)| {
                let k = &self.keys[i];
                let hex: String = k.iter().take(4).map(|b| format!("{b:02x}")).collect();
                format!("key {} ({hex}…)", i + 1)
            })
            .collect();
        let counts: Vec<String> = self.by_key.iter().map(u64::to_string).collect();
        let observed = if unused.is_empty() {
            format!("packets opened per key: {}", counts.join(", "))
        } else {
            format!(
                "{} never encrypted a packet on the wire (packets per key: {})",
                unused.join(", "),
                counts.join(", ")
            )
        };
        Judged::new(
            format!(
                "each of the {} keys installed encrypts packets on the wire",
                self.keys.len()
            ),
            observed,
            unused.is_empty() && !self.keys.is_empty(),
        )
    }
}

/// Sorts the candidate plaintexts of one packet, each with the protocol it
/// claims, into a [`Reading`].
fn judge(p: &WirePacket, plains: Vec<(u8, Vec<u8>)>, known: &Known) -> Reading {
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

/// Whether a decrypted (fragment of an) L4 message is something we sent.
/// `protocol` is the message's: the packet's own, or ESP's next header.
fn plaintext_known(p: &WirePacket, protocol: u8, pt: &[u8], known: &Known) -> bool {
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
    known.contains(p.frag_offset as usize, pt, p.more_fragments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::format::esp::Esp;
    use crate::dataplane::format::esp::reference::{open, seal};
    use crate::exec::analysis::wire::{parse_frame, test_frame};
    use crate::exec::scenario::assertions::observations::UdpFlow;
    use crate::sys::traffic::udp::UdpSent;

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
        let obs = Observations {
            udp: vec![UdpFlow {
                sent: UdpSent {
                    payloads: vec![msg[8..].to_vec()],
                    ..Default::default()
                },
                ..Default::default()
            }],
            ..Default::default()
        };
        let known = Known::of(&obs);
        let packet = (0..=u16::MAX)
            .map(|i| {
                let mut iv = [0u8; 16];
                iv[..2].copy_from_slice(&i.to_be_bytes());
                seal(&right, &auth, iv, &msg, 17)
            })
            .find(|p| open(&wrong, &auth, p).is_ok_and(|o| o.next_header != 17))
            .expect("some IV gives the wrong key a valid trailer");
        let frame = test_frame(50, &packet);
        let wire = parse_frame(&frame).unwrap();
        let keys = vec![right.to_vec(), wrong.to_vec()];
        let esp = |keys: &[Vec<u8>], auth: &[u8]| {
            read(&Esp, Algorithm::CbcAes, (keys, auth), &wire, &known)
        };
        // The right key (the first) is the one that matched.
        assert_eq!(esp(&keys, &auth), (Reading::Matched, Some(0)));
        assert_eq!(esp(&keys[1..], &auth), (Reading::Other, None));
        assert_eq!(esp(&keys, &[4u8; 16]), (Reading::Undecryptable, None));
    }
}
