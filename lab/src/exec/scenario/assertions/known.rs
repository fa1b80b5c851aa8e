//! The L4 messages the lab knows it sent (ICMP echoes and UDP datagrams),
//! borrowed from what the run kept and indexed, so that the oracle finds
//! the message a decrypted packet claims to be without trying them all.

use std::collections::{BTreeMap, HashMap};

use super::observations::Observations;
use crate::sys::traffic::icmp::echo_message;

/// Bytes of an L4 header: ICMP echo's and UDP's are both 8.
const HEAD: usize = 8;

/// One message: its L4 header, then the data the lab kept. The first
/// `skip` bytes (a header the kernel fills in) are not compared.
#[derive(Debug)]
struct Message<'a> {
    head: [u8; HEAD],
    data: &'a [u8],
    skip: usize,
}

impl Message<'_> {
    fn len(&self) -> usize {
        HEAD + self.data.len()
    }

    /// Whether `pt` is this message from byte `off` on: up to its end, or
    /// a piece of it when `more` fragments follow.
    fn holds(&self, off: usize, pt: &[u8], more: bool) -> bool {
        let end = off + pt.len();
        if end > self.len() || (!more && end != self.len()) {
            return false;
        }
        // Compared: bytes from..end, in the header up to HEAD, then the data.
        let from = off.max(self.skip).min(end);
        let head_end = end.min(HEAD);
        let data_from = from.max(HEAD);
        (from >= head_end || pt[from - off..head_end - off] == self.head[from..head_end])
            && (data_from >= end
                || pt[data_from - off..] == self.data[data_from - HEAD..end - HEAD])
    }

    /// The 8 bytes from `skip` on, the first ones compared.
    fn key(&self) -> Option<[u8; 8]> {
        let mut k = [0u8; 8];
        for (j, b) in k.iter_mut().enumerate() {
            let i = self.skip + j;
            *b = if i < HEAD {
                self.head[i]
            } else {
                *self.data.get(i - HEAD)?
            };
        }
        Some(k)
    }
}

/// The messages, indexed by their first compared bytes (for a whole
/// message or a first fragment) and by length (for later fragments).
#[derive(Debug, Default)]
pub(crate) struct Known<'a> {
    messages: Vec<Message<'a>>,
    by_key: HashMap<(usize, [u8; 8]), Vec<usize>>,
    /// Messages too short for a key: always tried.
    short: Vec<usize>,
    by_len: BTreeMap<usize, Vec<usize>>,
    /// The `skip`s in use.
    skips: Vec<usize>,
}

impl<'a> Known<'a> {
    /// Every echo request and reply of the ping steps, and every datagram
    /// of the UDP steps.
    pub(crate) fn of(obs: &'a Observations) -> Self {
        let mut messages = Vec::new();
        for (_, p) in &obs.pings {
            for (seq, data) in p.payloads.iter().enumerate() {
                for kind in [8, 0] {
                    // The header's checksum covers the data too.
                    let whole = echo_message(kind, p.id, seq as u16, data);
                    let mut head = [0u8; HEAD];
                    head.copy_from_slice(&whole[..HEAD]);
                    messages.push(Message {
                        head,
                        data,
                        skip: 0,
                    });
                }
            }
        }
        for f in &obs.udp {
            for d in &f.sent.payloads {
                messages.push(Message {
                    head: [0; HEAD],
                    data: d,
                    skip: HEAD,
                });
            }
        }
        Self::index(messages)
    }

    fn index(messages: Vec<Message<'a>>) -> Self {
        let mut k = Known::default();
        for (i, m) in messages.iter().enumerate() {
            match m.key() {
                Some(key) => k.by_key.entry((m.skip, key)).or_default().push(i),
                None => k.short.push(i),
            }
            k.by_len.entry(m.len()).or_default().push(i);
            if !k.skips.contains(&m.skip) {
                k.skips.push(m.skip);
            }
        }
        k.messages = messages;
        k
    }

    /// Whether `pt`, found at byte `off` of its L4 message (with `more`
    /// fragments following), is a message the lab sent or a piece of one.
    pub(crate) fn contains(&self, off: usize, pt: &[u8], more: bool) -> bool {
        let holds = |i: &usize| self.messages[*i].holds(off, pt, more);
        let end = off + pt.len();
        if off == 0 && self.skips.iter().all(|s| pt.len() >= s + 8) {
            // A message holding `pt` has the key `pt` has at its `skip`.
            return self.short.iter().any(holds)
                || self.skips.iter().any(|&s| {
                    let key: [u8; 8] = pt[s..s + 8].try_into().expect("8 bytes");
                    self.by_key
                        .get(&(s, key))
                        .is_some_and(|v| v.iter().any(holds))
                });
        }
        if more {
            self.by_len.range(end..).any(|(_, v)| v.iter().any(holds))
        } else {
            self.by_len.get(&end).is_some_and(|v| v.iter().any(holds))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index finds exactly what trying every message finds.
    #[test]
    fn index_agrees_with_trying_every_message() {
        let data: Vec<Vec<u8>> = (0..40u32)
            .map(|i| crate::sys::traffic::udp::datagram(1, i, [1, 7, 16, 40, 100][i as usize % 5]))
            .collect();
        let echo = crate::sys::traffic::payload::marker_payload(24);
        let mut messages: Vec<Message> = data
            .iter()
            .map(|d| Message {
                head: [0; HEAD],
                data: d,
                skip: HEAD,
            })
            .collect();
        let whole = echo_message(8, 7, 3, &echo);
        messages.push(Message {
            head: whole[..HEAD].try_into().unwrap(),
            data: &echo,
            skip: 0,
        });
        let mut wires: Vec<Vec<u8>> = data.iter().map(|d| [&[9u8; 8][..], d].concat()).collect();
        wires.push(whole.clone());
        let mut bent = whole.clone();
        bent[12] ^= 1;
        wires.push(bent);
        // The definition, byte by byte on the whole message.
        let defined = |m: &Message, off: usize, pt: &[u8], more: bool| {
            let b = [&m.head[..], m.data].concat();
            let end = off + pt.len();
            end <= b.len()
                && (more || end == b.len())
                && pt
                    .iter()
                    .enumerate()
                    .all(|(j, x)| off + j < m.skip || *x == b[off + j])
        };
        let known = Known::index(messages);
        let (mut found, mut pieces) = (0, 0);
        for w in &wires {
            for off in (0..w.len()).step_by(8) {
                let mut ends = [off, off + 1, off + 8, off + 20, w.len()].map(|e| e.min(w.len()));
                ends.sort_unstable();
                let mut ends = ends.to_vec();
                ends.dedup();
                for end in ends {
                    for more in [false, true] {
                        let pt = &w[off..end];
                        let mut every = false;
                        for m in &known.messages {
                            let held = m.holds(off, pt, more);
                            assert_eq!(held, defined(m, off, pt, more), "{off}..{end} {more}");
                            every |= held;
                        }
                        assert_eq!(known.contains(off, pt, more), every, "{off}..{end} {more}");
                        found += usize::from(every && off == 0 && end == w.len());
                        pieces += usize::from(every && off > 0);
                    }
                }
            }
        }
        // Each whole datagram and the intact echo (with and without `more`).
        assert_eq!(found, 2 * 41);
        assert!(pieces > 40);
        // A wrong byte in the data is no message.
        assert!(!known.contains(0, &wires[41], false));
    }
}
