//! Checks across the packets of a capture that a single packet cannot
//! show: an IV that repeats (`unique_ivs`) and an ESP sequence number that
//! does not increase (`esp_sequence`). A packet that is byte for byte one
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
/// IP protocol of ESP.
const ESP: u8 = 50;

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

/// `esp_sequence`: ESP packets whose sequence number is not above the last
/// one of their sender and SPI, replays aside, counted.
#[derive(Debug, Default)]
pub(crate) struct Sequences {
    last: HashMap<(Ipv4Addr, u32), u32>,
    packets: HashSet<u64>,
    checked: u64,
    backwards: u64,
    examples: Vec<String>,
}

impl Sequences {
    pub(crate) fn add(&mut self, p: &WirePacket) {
        if p.protocol != ESP || p.frag_offset > 0 || p.payload.len() < 8 {
            return;
        }
        let word = |at: usize| u32::from_be_bytes(p.payload[at..at + 4].try_into().expect("4"));
        let (spi, seq) = (word(0), word(4));
        if !self.packets.insert(digest(p.payload)) {
            return; // the same packet again: a replay
        }
        self.checked += 1;
        let last = self.last.entry((p.src, spi)).or_insert(0);
        if seq > *last {
            *last = seq;
            return;
        }
        self.backwards += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(format!(
                "#{} {}→{} SPI {spi:#x}: sequence {seq} after {last}",
                p.index, p.src, p.dst
            ));
        }
    }

    pub(crate) fn judge(&self) -> Judged {
        let o = if self.backwards == 0 {
            format!(
                "{} ESP packets over {} sender/SPI pairs, each above the last",
                self.checked,
                self.last.len()
            )
        } else {
            format!(
                "{} of {} ESP packets not above their sender's last: {}",
                self.backwards,
                self.checked,
                self.examples.join("; ")
            )
        };
        Judged::new(
            "sequence numbers strictly increasing per sender and SPI, replays aside (≥ 1 ESP packet)"
                .into(),
            o,
            self.checked > 0 && self.backwards == 0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Algorithm, Mode};
    use crate::exec::analysis::wire::{parse_frame, test_frame};

    fn esp(spi: u32, seq: u32, iv: u8, body: u8) -> Vec<u8> {
        let mut v = spi.to_be_bytes().to_vec();
        v.extend(seq.to_be_bytes());
        v.extend([iv; 16]);
        v.extend([body; 44]);
        test_frame(ESP, &v)
    }

    fn esp_obs() -> Observations {
        Observations {
            mode: Mode::Esp,
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
        let mut f = Sequences::default();
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
}
