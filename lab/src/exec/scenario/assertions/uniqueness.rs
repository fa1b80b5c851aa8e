//! Checks across the packets of a capture that a single packet cannot
//! show: an IV that repeats (`unique_ivs`) and a sequence number (ESP's,
//! WireGuard's counter) that does not increase (`esp_sequence`). A packet that is byte for byte one
//! seen before (the replay step's copies) is a replay, not a reuse: only
//! different packets that share an IV, or go backwards in sequence, count.
//! Each fold keeps one IV and one payload hash per packet (24 bytes plus the
//! table's overhead), not the packets.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::net::Ipv4Addr;

use super::observations::Observations;
use super::verdict::Judged;
use crate::dataplane::format;
use crate::exec::analysis::wire::WirePacket;

/// Offending packets a finding describes, at most.
const EXAMPLES: usize = 3;

fn digest(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// `unique_ivs`: encrypted packets whose IV an earlier, different packet
/// already used, counted.
#[derive(Debug)]
pub(crate) struct Ivs {
    /// IV offset and the protocol that carries it (`None`: every packet),
    /// as the scenario's wire format places it.
    at: Option<(usize, Option<u8>)>,
    /// IV → digest of the payload that first used it.
    seen: HashMap<[u8; 16], u64>,
    checked: u64,
    reused: u64,
    examples: Vec<String>,
}

impl Ivs {
    pub(crate) fn new(obs: &Observations) -> Self {
        Self {
            at: obs.algorithm.and_then(|a| format::of(obs.mode).iv_at(a)),
            seen: HashMap::new(),
            checked: 0,
            reused: 0,
            examples: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, p: &WirePacket) {
        let Some((at, protocol)) = self.at else {
            return;
        };
        // Raw: every packet, fragments too (each is encrypted on its own).
        if protocol.is_some_and(|pr| pr != p.protocol) {
            return;
        }
        let Some(iv) = p.payload.get(at..at + 16) else {
            return;
        };
        let iv: [u8; 16] = iv.try_into().expect("16 bytes");
        self.checked += 1;
        let d = digest(p.payload);
        match self.seen.get(&iv) {
            None => {
                self.seen.insert(iv, d);
            }
            Some(first) if *first == d => {} // the same packet again: a replay
            Some(_) => {
                self.reused += 1;
                if self.examples.len() < EXAMPLES {
                    let hex: String = iv.iter().map(|b| format!("{b:02x}")).collect();
                    self.examples
                        .push(format!("#{} {}→{} IV {hex}", p.index, p.src, p.dst));
                }
            }
        }
    }

    pub(crate) fn judge(&self) -> Judged {
        let expected = "no IV used by two different packets (≥ 1 packet)".to_string();
        if self.at.is_none() {
            return Judged::new(expected, "ecb(aes) has no IV".into(), false);
        }
        let o = if self.reused == 0 {
            format!("{} packets, every IV fresh", self.checked)
        } else {
            format!(
                "{} of {} packets reuse an IV: {}",
                self.reused,
                self.checked,
                self.examples.join("; ")
            )
        };
        Judged::new(expected, o, self.checked > 0 && self.reused == 0)
    }
}

/// `esp_sequence`: packets whose sequence number (the format's: ESP's per
/// SPI, WireGuard's counter per receiver index) is not above the last one
/// of their sender and stream, replays aside, counted.
#[derive(Debug)]
pub(crate) struct Sequences {
    format: &'static dyn format::WireFormat,
    /// The last number of each sender and stream.
    last: HashMap<(Ipv4Addr, u32), u64>,
    packets: HashSet<u64>,
    checked: u64,
    backwards: u64,
    examples: Vec<String>,
}

impl Sequences {
    pub(crate) fn new(obs: &Observations) -> Self {
        Self {
            format: format::of(obs.mode),
            last: HashMap::new(),
            packets: HashSet::new(),
            checked: 0,
            backwards: 0,
            examples: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, p: &WirePacket) {
        if p.frag_offset > 0 {
            return;
        }
        let Some((stream, seq)) = self.format.sequence(p.protocol, p.payload) else {
            return;
        };
        if !self.packets.insert(digest(p.payload)) {
            return; // the same packet again: a replay
        }
        self.checked += 1;
        let (s, n, first) = self.format.sequence_names();
        let last = self.last.get(&(p.src, stream)).copied();
        if last.map_or(seq >= first, |l| seq > l) {
            self.last.insert((p.src, stream), seq);
            return;
        }
        self.backwards += 1;
        if self.examples.len() < EXAMPLES {
            let after = last.map_or(format!("a first {n} below {first}"), |l| {
                format!("after {l}")
            });
            self.examples.push(format!(
                "#{} {}→{} {s} {stream:#x}: {n} {seq} {after}",
                p.index, p.src, p.dst
            ));
        }
    }

    pub(crate) fn judge(&self) -> Judged {
        let (s, n, _) = self.format.sequence_names();
        let o = if self.backwards == 0 {
            format!(
                "{} packets over {} sender/{s} pairs, each above the last",
                self.checked,
                self.last.len()
            )
        } else {
            format!(
                "{} of {} packets not above their sender's last: {}",
                self.backwards,
                self.checked,
                self.examples.join("; ")
            )
        };
        Judged::new(
            format!("{n}s strictly increasing per sender and {s}, replays aside (≥ 1 packet)"),
            o,
            self.checked > 0 && self.backwards == 0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::format::{WireFormat, esp, wireguard};
    use crate::domain::Algorithm;
    use crate::exec::analysis::wire::{parse_frame, test_frame};

    /// IP protocol of ESP.
    const ESP: u8 = 50;

    fn esp(spi: u32, seq: u32, iv: u8, body: u8) -> Vec<u8> {
        let mut v = spi.to_be_bytes().to_vec();
        v.extend(seq.to_be_bytes());
        v.extend([iv; 16]);
        v.extend([body; 44]);
        test_frame(ESP, &v)
    }

    fn esp_obs() -> Observations {
        Observations {
            mode: esp::Esp.mode(),
            algorithm: Some(Algorithm::CbcAes),
            auth_key: Some(vec![1; 16]),
            ..Default::default()
        }
    }

    #[test]
    fn a_repeated_iv_is_found_and_a_replayed_packet_is_not() {
        let mut f = Ivs::new(&esp_obs());
        for frame in [
            esp(0x100, 1, 1, 9),
            esp(0x100, 2, 2, 9),
            esp(0x100, 1, 1, 9),
        ] {
            f.add(&parse_frame(&frame).unwrap());
        }
        assert!(f.judge().pass, "{:?}", f.judge());
        f.add(&parse_frame(&esp(0x100, 3, 2, 7)).unwrap());
        let j = f.judge();
        assert!(
            !j.pass && j.observed.contains("1 of 4 packets reuse an IV"),
            "{j:?}"
        );
        let raw_ecb = Observations {
            algorithm: Some(Algorithm::EcbAes),
            ..Default::default()
        };
        assert!(Ivs::new(&raw_ecb).judge().observed.contains("no IV"));
        assert!(
            !Ivs::new(&esp_obs()).judge().pass,
            "no packet is no evidence"
        );
    }

    #[test]
    fn raw_cbc_ivs_are_the_first_16_bytes() {
        let obs = Observations {
            algorithm: Some(Algorithm::CbcAes),
            ..Default::default()
        };
        let mut f = Ivs::new(&obs);
        let pkt = |iv: u8, body: u8| test_frame(17, &[[iv; 16], [body; 16]].concat());
        f.add(&parse_frame(&pkt(1, 1)).unwrap());
        f.add(&parse_frame(&pkt(2, 1)).unwrap());
        assert!(f.judge().pass);
        f.add(&parse_frame(&pkt(1, 2)).unwrap());
        assert!(!f.judge().pass);
    }

    #[test]
    fn a_sequence_number_going_back_is_found_per_sender_and_spi() {
        let mut f = Sequences::new(&esp_obs());
        for frame in [
            esp(0x100, 1, 1, 1),
            esp(0x100, 2, 2, 1),
            esp(0x200, 1, 3, 1), // another SPI starts again at 1
            esp(0x100, 1, 1, 1), // a replay of the first packet
        ] {
            f.add(&parse_frame(&frame).unwrap());
        }
        assert!(f.judge().pass, "{:?}", f.judge());
        f.add(&parse_frame(&esp(0x100, 2, 4, 1)).unwrap()); // 2 again, other bytes
        let j = f.judge();
        assert!(
            !j.pass && j.observed.contains("sequence 2 after 2"),
            "{j:?}"
        );
    }

    /// WireGuard: counters per sender and receiver index, from 0.
    #[test]
    fn a_wireguard_counter_going_back_is_found_per_receiver_index() {
        let obs = Observations {
            mode: wireguard::Wireguard.mode(),
            ..Default::default()
        };
        let msg = |receiver: u32, counter: u64, body: u8| {
            let mut m = vec![4, 0, 0, 0];
            m.extend(receiver.to_le_bytes());
            m.extend(counter.to_le_bytes());
            m.extend([body; 32]);
            let mut udp = vec![0xca, 0x6c, 0xca, 0x6d];
            udp.extend((8 + m.len() as u16).to_be_bytes());
            udp.extend([0, 0]);
            udp.extend(m);
            test_frame(17, &udp)
        };
        let mut f = Sequences::new(&obs);
        for frame in [msg(7, 0, 1), msg(7, 1, 2), msg(9, 0, 3), msg(7, 1, 2)] {
            f.add(&parse_frame(&frame).unwrap());
        }
        assert!(f.judge().pass, "{:?}", f.judge());
        // Counter 1 again, other bytes: a nonce reused.
        f.add(&parse_frame(&msg(7, 1, 5)).unwrap());
        let j = f.judge();
        assert!(
            !j.pass && j.observed.contains("receiver index 0x7: counter 1 after 1"),
            "{j:?}"
        );
    }
}
