//! Evaluates a plan's checks against what a run observed. Pure logic: one
//! function per check kind, dispatched by [`evaluate`].

pub(crate) mod bounds;
pub(crate) mod kernel;
pub(crate) mod observations;
pub(crate) mod oracle;
pub(crate) mod traffic;
pub(crate) mod verdict;
pub(crate) mod wire;

pub(crate) use observations::{Observations, TcpFlow, UdpFlow};

use crate::job::run_report::AssertionResult;
use crate::spec::plan::{Check, PlanAssertion};

/// Evaluates every assertion in order.
pub(crate) fn evaluate(checks: &[PlanAssertion], obs: &Observations) -> Vec<AssertionResult> {
    checks.iter().map(|a| evaluate_one(a, obs)).collect()
}

fn evaluate_one(a: &PlanAssertion, obs: &Observations) -> AssertionResult {
    let j = match &a.check {
        Check::EchoReplies { min, max } => traffic::echo_replies(obs, *min, *max),
        Check::IpHeaderCleartext => wire::ip_header_cleartext(obs),
        Check::PayloadEncrypted { min_entropy } => wire::payload_encrypted(obs, *min_entropy),
        Check::PlaintextDelivered => traffic::plaintext_delivered(obs),
        Check::UdpDelivered(r) => traffic::udp_delivered(obs, r),
        Check::TcpDelivered(r) => traffic::tcp_delivered(obs, r),
        Check::NoPlaintextOnWire => wire::no_plaintext_on_wire(obs),
        Check::Expect {
            from,
            matches,
            min,
            max,
        } => wire::expect(obs, *from, matches, (*min, *max)),
        Check::RepeatedBlocks { min, max } => wire::repeated_blocks(obs, *min, *max),
        Check::Oracle { min_ratio } => oracle::check(obs, *min_ratio),
        Check::KernelLog { max_warnings } => kernel::kernel_log(obs, *max_warnings),
        Check::XfrmStat { max } => kernel::xfrm_stat(obs, *max),
        Check::Counter {
            side,
            name,
            min,
            max,
        } => traffic::counter(obs, *side, name, *min, *max),
    };
    AssertionResult {
        name: a.name.clone(),
        expected: j.expected,
        observed: j.observed,
        pass: j.pass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IfAddr, Side};
    use crate::exec::analysis::wire::{WirePacket, WireSummary};
    use crate::sys::traffic::icmp::{Delivered, PingOutcome};
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
        let payload = crate::sys::traffic::payload::marker_payload(32);
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
        o.wire.ipv4[1].payload = crate::sys::traffic::payload::marker_payload(64);
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
