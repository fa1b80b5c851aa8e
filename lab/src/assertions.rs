//! Evaluates a plan's checks against what a run observed. Pure logic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::wire::WireSummary;
use crate::dataplane::Counters;
use crate::plan::{Check, IfAddr, PlanAssertion};
use crate::scenario::Side;
use crate::traffic::icmp::{Delivered, PingOutcome};

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
            payload: p.to_vec(),
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
