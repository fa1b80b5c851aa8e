//! Evaluates a plan's checks against what a run observed. Pure logic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::oracle;
use crate::analysis::wire::{WirePacket, WireSummary};
use crate::dataplane::Counters;
use crate::kmsg;
use crate::plan::{Algorithm, Check, IfAddr, PacketMatch, PlanAssertion, Ratio};
use crate::scenario::Side;
use crate::traffic::icmp::{Delivered, PingOutcome, echo_message};
use crate::traffic::payload::MARKER;
use crate::traffic::tcp::{TcpClientReport, TcpServerReport};
use crate::traffic::udp::{UdpSent, match_delivered};

/// Everything a run observed that checks look at.
#[derive(Debug, Default)]
pub struct Observations {
    /// Each ping step's outcome, with its sending side.
    pub pings: Vec<(Side, PingOutcome)>,
    /// Echo requests delivered, by receiving side.
    pub delivered: Vec<(Side, Delivered)>,
    /// The wire capture.
    pub wire: WireSummary,
    /// Data plane counters by side (`left`, `right`).
    pub counters: BTreeMap<String, Counters>,
    /// The two addresses of the topology.
    pub addresses: Vec<IfAddr>,
    /// The cipher.
    pub algorithm: Option<Algorithm>,
    /// Every key the scenario installed.
    pub keys: Vec<Vec<u8>>,
    /// UDP flows.
    pub udp: Vec<UdpFlow>,
    /// TCP transfers.
    pub tcp: Vec<TcpFlow>,
    /// Kernel log lines logged during the run.
    pub kernel_log: Vec<String>,
}

/// One `udp` step's traffic.
#[derive(Debug, Clone, Default)]
pub struct UdpFlow {
    /// Step index.
    pub step: usize,
    /// Destination port.
    pub port: u16,
    /// What was sent.
    pub sent: UdpSent,
    /// Payloads the receiver got.
    pub delivered: Vec<Vec<u8>>,
}

/// One `tcp` step's transfer.
#[derive(Debug, Clone, Default)]
pub struct TcpFlow {
    /// Step index.
    pub step: usize,
    /// Bytes the step meant to send.
    pub bytes: u64,
    /// Client side.
    pub client: TcpClientReport,
    /// Server side.
    pub server: TcpServerReport,
}

/// One check's verdict.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AssertionResult {
    /// Check label.
    pub name: String,
    /// What was expected, in words.
    pub expected: String,
    /// What was observed, in words.
    pub observed: String,
    /// Whether it held.
    pub pass: bool,
}

fn bounds_text(min: Option<u64>, max: Option<u64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) if a == b => format!("= {a}"),
        (Some(a), Some(b)) => format!("{a}..={b}"),
        (Some(a), None) => format!(">= {a}"),
        (None, Some(b)) => format!("<= {b}"),
        (None, None) => "any".into(),
    }
}

fn within(v: u64, min: Option<u64>, max: Option<u64>) -> bool {
    min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)
}

/// Evaluates every assertion in order.
pub fn evaluate(checks: &[PlanAssertion], obs: &Observations) -> Vec<AssertionResult> {
    checks.iter().map(|a| evaluate_one(a, obs)).collect()
}

fn ratio_text(r: &Ratio) -> String {
    let mut parts = Vec::new();
    if let Some(s) = r.step {
        parts.push(format!("(step {})", s + 1));
    }
    if r.min.is_some() || r.max.is_some() {
        parts.push(bounds_text(r.min, r.max));
    }
    match (r.min_ratio, r.max_ratio) {
        (Some(a), Some(b)) => parts.push(format!("ratio {a}..={b}")),
        (Some(a), None) => parts.push(format!("ratio >= {a}")),
        (None, Some(b)) => parts.push(format!("ratio <= {b}")),
        (None, None) => {}
    }
    parts.join(", ")
}

fn ratio_ok(r: &Ratio, count: u64, total: u64) -> bool {
    let ratio = if total == 0 {
        0.0
    } else {
        count as f64 / total as f64
    };
    within(count, r.min, r.max)
        && r.min_ratio.is_none_or(|m| total > 0 && ratio >= m)
        && r.max_ratio.is_none_or(|m| ratio <= m)
}

fn sent_by(obs: &Observations, side: Option<Side>, p: &WirePacket) -> bool {
    match side {
        None => true,
        Some(Side::Left) => obs.addresses.first().is_some_and(|a| a.addr == p.src),
        Some(Side::Right) => obs.addresses.get(1).is_some_and(|a| a.addr == p.src),
    }
}

fn matches_all(ms: &[PacketMatch], p: &WirePacket) -> bool {
    ms.iter().all(|m| m.matches(&p.ip))
}

/// L4 messages the lab knows it sent: bytes, and how many leading bytes
/// (headers the kernel fills in) are not compared.
fn known_messages(obs: &Observations) -> Vec<(Vec<u8>, usize)> {
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
fn plaintext_known(p: &WirePacket, pt: &[u8], known: &[(Vec<u8>, usize)]) -> bool {
    if p.protocol == 6 && p.frag_offset == 0 && !p.more_fragments {
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

fn evaluate_one(a: &PlanAssertion, obs: &Observations) -> AssertionResult {
    let (expected, observed, pass) = match &a.check {
        Check::EchoReplies { min, max } => {
            let replies: u64 = obs.pings.iter().map(|(_, p)| u64::from(p.replies)).sum();
            let sent: u64 = obs.pings.iter().map(|(_, p)| u64::from(p.sent)).sum();
            let corrupt: u64 = obs
                .pings
                .iter()
                .map(|(_, p)| u64::from(p.corrupt_replies))
                .sum();
            let mut o = format!("{replies} of {sent} requests answered");
            if corrupt > 0 {
                o.push_str(&format!(", {corrupt} corrupt replies"));
            }
            (
                format!("replies {}", bounds_text(*min, *max)),
                o,
                within(replies, *min, *max),
            )
        }
        Check::IpHeaderCleartext => {
            let n = obs.wire.ipv4.len();
            let ours = |ip| obs.addresses.iter().any(|a| a.addr == ip);
            let bad: Vec<String> = obs
                .wire
                .ipv4
                .iter()
                .enumerate()
                .filter(|(_, p)| !(p.header_ok && p.checksum_ok && ours(p.src) && ours(p.dst)))
                .map(|(i, p)| {
                    format!(
                        "#{i} {}→{} header_ok={} checksum_ok={}",
                        p.src, p.dst, p.header_ok, p.checksum_ok
                    )
                })
                .collect();
            let o = if bad.is_empty() {
                format!("{n} IPv4 packets, all valid")
            } else {
                format!(
                    "{} of {n} invalid: {}",
                    bad.len(),
                    bad.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
                )
            };
            (
                "every IPv4 header valid, checksummed, addressed as planned (≥ 1 packet)".into(),
                o,
                n > 0 && bad.is_empty(),
            )
        }
        Check::PayloadEncrypted { min_entropy } => {
            let n = obs.wire.ipv4.len();
            let plaintexts: Vec<Vec<u8>> = obs
                .pings
                .iter()
                .flat_map(|(_, p)| p.payloads.iter().filter(|d| d.len() >= 8).cloned())
                .collect();
            let markers = obs.wire.marker_leaks();
            let copies = obs.wire.plaintext_leaks(&plaintexts);
            let entropy = obs.wire.payload_entropy();
            let o = format!(
                "{n} packets, {markers} with the marker, {copies} carrying a sent plaintext, entropy {entropy:.2} bits/byte"
            );
            let pass = n > 0 && markers == 0 && copies == 0 && entropy >= *min_entropy;
            (
                format!("no plaintext on the wire, entropy >= {min_entropy:.2} bits/byte"),
                o,
                pass,
            )
        }
        Check::PlaintextDelivered => {
            let mut total = 0usize;
            let mut intact = 0usize;
            for (side, p) in &obs.pings {
                for (seq, data) in p.payloads.iter().enumerate() {
                    total += 1;
                    let ok = obs.delivered.iter().any(|(s, d)| {
                        *s == side.peer()
                            && d.id == p.id
                            && usize::from(d.seq) == seq
                            && d.data == *data
                    });
                    intact += usize::from(ok);
                }
            }
            (
                "every request delivered intact on the far side".into(),
                format!("{intact} of {total} delivered intact"),
                total > 0 && intact == total,
            )
        }
        Check::UdpDelivered(r) => {
            let (mut intact, mut corrupt, mut total, mut errors) = (0u64, 0u64, 0u64, 0u64);
            for f in obs
                .udp
                .iter()
                .filter(|f| r.step.is_none_or(|s| s == f.step))
            {
                let (i, c) = match_delivered(&f.sent.payloads, &f.delivered);
                intact += i as u64;
                corrupt += c as u64;
                total += f.sent.payloads.len() as u64;
                errors += u64::from(f.sent.send_errors);
            }
            let mut o = format!("{intact} of {total} datagrams delivered intact");
            if corrupt > 0 {
                o.push_str(&format!(", {corrupt} delivered corrupted"));
            }
            if errors > 0 {
                o.push_str(&format!(", {errors} send errors"));
            }
            (
                format!("delivered {}", ratio_text(r)),
                o,
                ratio_ok(r, intact, total),
            )
        }
        Check::TcpDelivered(r) => {
            let flows: Vec<&TcpFlow> = obs
                .tcp
                .iter()
                .filter(|f| r.step.is_none_or(|s| s == f.step))
                .collect();
            let bytes: u64 = flows.iter().map(|t| t.bytes).sum();
            let intact: u64 = flows.iter().map(|t| t.server.intact).sum();
            let received: u64 = flows.iter().map(|t| t.server.received).sum();
            let notes: Vec<String> = flows
                .iter()
                .filter_map(|t| {
                    t.client
                        .error
                        .as_ref()
                        .map(|e| format!("step {}: {e}", t.step + 1))
                })
                .collect();
            let mut o = format!("{intact} of {bytes} bytes delivered intact ({received} received)");
            if !notes.is_empty() {
                o.push_str(&format!("; {}", notes.join("; ")));
            }
            (
                format!("bytes {}", ratio_text(r)),
                o,
                ratio_ok(r, intact, bytes),
            )
        }
        Check::NoPlaintextOnWire => {
            let n = obs.wire.ipv4.len();
            let leaks = obs.wire.marker_leaks();
            (
                "the marker never on the wire".into(),
                format!("{leaks} of {n} packets carry the marker"),
                leaks == 0,
            )
        }
        Check::Expect {
            from,
            matches,
            min,
            max,
        } => {
            let n = obs
                .wire
                .ipv4
                .iter()
                .filter(|p| sent_by(obs, *from, p) && matches_all(matches, p))
                .count() as u64;
            let side = from
                .map(|s| format!(" from {}", s.as_str()))
                .unwrap_or_default();
            (
                format!("matching packets{side} {}", bounds_text(*min, *max)),
                format!("{n} matching"),
                within(n, *min, *max),
            )
        }
        Check::RepeatedBlocks { min, max } => match obs.algorithm {
            Some(alg) => {
                let n = obs
                    .wire
                    .ipv4
                    .iter()
                    .filter(|p| oracle::repeated_blocks(alg, &p.payload) > 0)
                    .count() as u64;
                (
                    format!(
                        "packets with a repeated ciphertext block {}",
                        bounds_text(*min, *max)
                    ),
                    format!("{n} of {} packets", obs.wire.ipv4.len()),
                    within(n, *min, *max),
                )
            }
            None => ("a cipher".into(), "no cipher".into(), false),
        },
        Check::Oracle { min_ratio } => {
            let known = known_messages(obs);
            let (mut matched, mut other, mut undecryptable) = (0u64, 0u64, 0u64);
            for p in &obs.wire.ipv4 {
                match obs
                    .algorithm
                    .and_then(|alg| oracle::decrypt_any(alg, &obs.keys, &p.payload))
                {
                    Some(pt) if plaintext_known(p, &pt, &known) => matched += 1,
                    Some(_) => other += 1,
                    None => undecryptable += 1,
                }
            }
            let n = obs.wire.ipv4.len() as u64;
            let ratio = if n == 0 {
                0.0
            } else {
                matched as f64 / n as f64
            };
            (
                format!(
                    "reference AES decrypts >= {:.0}% of wire packets to what was sent",
                    min_ratio * 100.0
                ),
                format!(
                    "{matched} of {n} match, {other} decrypt to something else, {undecryptable} do not decrypt"
                ),
                n > 0 && ratio >= *min_ratio,
            )
        }
        Check::KernelLog { max_warnings } => {
            let warnings: Vec<&String> = obs
                .kernel_log
                .iter()
                .filter(|l| kmsg::is_warning(l))
                .collect();
            let mut o = format!(
                "{} warning lines in {} kernel log lines",
                warnings.len(),
                obs.kernel_log.len()
            );
            if let Some(first) = warnings.first() {
                o.push_str(&format!("; first: {first}"));
            }
            (
                format!("<= {max_warnings} WARNING/BUG/Oops lines"),
                o,
                warnings.len() as u64 <= *max_warnings,
            )
        }
        Check::Counter {
            side,
            name,
            min,
            max,
        } => match obs.counters.get(side.as_str()).and_then(|c| c.get(name)) {
            Some(v) => (
                bounds_text(*min, *max),
                v.to_string(),
                within(*v, *min, *max),
            ),
            None => (bounds_text(*min, *max), "counter not read".into(), false),
        },
    };
    AssertionResult {
        name: a.name.clone(),
        expected,
        observed,
        pass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::wire::WirePacket;
    use std::net::Ipv4Addr;

    fn a(check: Check) -> PlanAssertion {
        PlanAssertion {
            name: "t".into(),
            check,
        }
    }

    fn obs() -> Observations {
        let l = IfAddr {
            addr: Ipv4Addr::new(198, 18, 0, 1),
            prefix: 24,
        };
        let r = IfAddr {
            addr: Ipv4Addr::new(198, 18, 0, 2),
            prefix: 24,
        };
        let payload = crate::traffic::payload::marker_payload(32);
        let ping = PingOutcome {
            id: 9,
            sent: 2,
            replies: 2,
            payloads: vec![payload.clone(), payload.clone()],
            ..Default::default()
        };
        let random: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let pkt = |p: &[u8]| WirePacket {
            src: l.addr,
            dst: r.addr,
            protocol: 1,
            header_ok: true,
            checksum_ok: true,
            frag_offset: 0,
            more_fragments: false,
            payload: p.to_vec(),
            ip: Vec::new(),
        };
        Observations {
            pings: vec![(Side::Left, ping)],
            delivered: vec![
                (
                    Side::Right,
                    Delivered {
                        id: 9,
                        seq: 0,
                        data: payload.clone(),
                    },
                ),
                (
                    Side::Right,
                    Delivered {
                        id: 9,
                        seq: 1,
                        data: payload,
                    },
                ),
            ],
            wire: WireSummary {
                frames: 2,
                ipv4: vec![pkt(&random[..2048]), pkt(&random[2048..])],
                other_frames: 0,
            },
            counters: [("left".to_string(), [("encrypted".to_string(), 2)].into())].into(),
            addresses: vec![l, r],
            ..Default::default()
        }
    }

    #[test]
    fn all_pass_on_good_observations() {
        let o = obs();
        for c in [
            Check::EchoReplies {
                min: Some(2),
                max: None,
            },
            Check::IpHeaderCleartext,
            Check::PayloadEncrypted { min_entropy: 7.0 },
            Check::PlaintextDelivered,
            Check::Counter {
                side: Side::Left,
                name: "encrypted".into(),
                min: Some(2),
                max: Some(2),
            },
        ] {
            let r = evaluate_one(&a(c), &o);
            assert!(r.pass, "{r:?}");
        }
    }

    #[test]
    fn each_check_can_fail() {
        let mut o = obs();
        o.pings[0].1.replies = 1;
        assert!(
            !evaluate_one(
                &a(Check::EchoReplies {
                    min: Some(2),
                    max: None
                }),
                &o
            )
            .pass
        );

        let mut o = obs();
        o.wire.ipv4[0].checksum_ok = false;
        assert!(!evaluate_one(&a(Check::IpHeaderCleartext), &o).pass);
        o.wire.ipv4.clear();
        assert!(
            !evaluate_one(&a(Check::IpHeaderCleartext), &o).pass,
            "no packets is not a pass"
        );

        let mut o = obs();
        o.wire.ipv4[1].payload = crate::traffic::payload::marker_payload(64);
        let r = evaluate_one(&a(Check::PayloadEncrypted { min_entropy: 0.0 }), &o);
        assert!(!r.pass && r.observed.contains("1 with the marker"), "{r:?}");
        let o = obs();
        assert!(!evaluate_one(&a(Check::PayloadEncrypted { min_entropy: 8.0 }), &o).pass);

        let mut o = obs();
        o.delivered[1].1.data[0] ^= 1;
        let r = evaluate_one(&a(Check::PlaintextDelivered), &o);
        assert_eq!(
            (r.pass, r.observed.as_str()),
            (false, "1 of 2 delivered intact")
        );

        let o = obs();
        assert!(
            !evaluate_one(
                &a(Check::Counter {
                    side: Side::Right,
                    name: "encrypted".into(),
                    min: Some(1),
                    max: None
                }),
                &o
            )
            .pass
        );
        assert!(
            !evaluate_one(
                &a(Check::Counter {
                    side: Side::Left,
                    name: "encrypted".into(),
                    min: None,
                    max: Some(1)
                }),
                &o
            )
            .pass
        );
    }
}
