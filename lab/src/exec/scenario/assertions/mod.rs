//! Evaluates a plan's checks against what a run observed: one function
//! (or, for a check that looks at packets, one fold) per check kind. The
//! capture is read once, packet by packet, by [`evaluate`].

pub(crate) mod bounds;
pub(crate) mod folds;
pub(crate) mod kernel;
pub(crate) mod known;
pub(crate) mod observations;
pub(crate) mod oracle;
pub(crate) mod traffic;
pub(crate) mod uniqueness;
pub(crate) mod verdict;
pub(crate) mod wire;

pub(crate) use observations::{Observations, TcpFlow, UdpFlow};

use std::path::Path;

use crate::exec::analysis::wire::{self as capture, WireError, WireSummary};
use crate::job::run_report::AssertionResult;
use crate::spec::plan::{Check, PlanAssertion};
use folds::WireFolds;
use verdict::Judged;

/// Reads the capture `pcap` once, each packet folded into the checks that
/// look at packets, and evaluates every assertion in order.
pub(crate) fn evaluate(
    checks: &[PlanAssertion],
    obs: &Observations,
    pcap: &Path,
) -> Result<(WireSummary, Vec<AssertionResult>), WireError> {
    let mut folds = WireFolds::new(checks, obs);
    let wire = capture::analyse(pcap, &mut |p| folds.packet(p))?;
    let results = checks
        .iter()
        .enumerate()
        .map(|(i, a)| evaluate_one(a, obs, &wire, folds.judge(i, &wire)))
        .collect();
    Ok((wire, results))
}

fn evaluate_one(
    a: &PlanAssertion,
    obs: &Observations,
    wire: &WireSummary,
    folded: Option<Judged>,
) -> AssertionResult {
    let j = match (folded, &a.check) {
        (Some(j), _) => j,
        (None, Check::EchoReplies { min, max }) => traffic::echo_replies(obs, *min, *max),
        (None, Check::PlaintextDelivered) => traffic::plaintext_delivered(obs),
        (None, Check::UdpDelivered(r)) => traffic::udp_delivered(obs, r),
        (None, Check::UdpReceived(r)) => traffic::udp_received(obs, r),
        (None, Check::TcpDelivered(r)) => traffic::tcp_delivered(obs, r),
        (None, Check::NoPlaintextOnWire) => wire::no_plaintext_on_wire(wire),
        (None, Check::KernelLog { max_warnings }) => kernel::kernel_log(obs, *max_warnings),
        (None, Check::XfrmStat { max }) => kernel::xfrm_stat(obs, *max),
        (
            None,
            Check::Counter {
                side,
                name,
                min,
                max,
            },
        ) => traffic::counter(obs, *side, name, *min, *max),
        (
            None,
            Check::IpHeaderCleartext
            | Check::PayloadEncrypted { .. }
            | Check::Expect { .. }
            | Check::RepeatedBlocks { .. }
            | Check::UniqueIvs
            | Check::KeysUsed
            | Check::EspSequence
            | Check::Oracle { .. },
        ) => Judged::new(
            "the wire packets folded in".into(),
            "the check had no fold".into(),
            false,
        ),
    };
    AssertionResult {
        name: a.name.clone(),
        expected: j.expected,
        observed: j.observed,
        pass: j.pass,
    }
}

#[cfg(test)]
mod capture_memory;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Algorithm, IfAddr, Side};
    use crate::exec::analysis::wire::{test_frame, write_pcap};
    use crate::spec::plan::PacketMatch;
    use crate::sys::traffic::icmp::{Delivered, PingOutcome};
    use crate::sys::traffic::payload::marker_payload;
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
        let payload = marker_payload(32);
        let ping = PingOutcome {
            id: 9,
            sent: 2,
            replies: 2,
            payloads: vec![payload.clone(), payload.clone()],
            ..Default::default()
        };
        let delivered = |seq| {
            (
                Side::Right,
                Delivered {
                    id: 9,
                    seq,
                    data: payload.clone(),
                },
            )
        };
        Observations {
            pings: vec![(Side::Left, ping)],
            delivered: vec![delivered(0), delivered(1)],
            counters: [("left".to_string(), [("encrypted".to_string(), 2)].into())].into(),
            addresses: vec![l, r],
            algorithm: Some(Algorithm::CbcAes),
            ..Default::default()
        }
    }

    /// Two ICMP packets of random-looking bytes, left to right.
    fn frames() -> Vec<Vec<u8>> {
        let random: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        vec![
            test_frame(1, &random[..2048]),
            test_frame(1, &random[2048..]),
        ]
    }

    /// One check evaluated on `frames` as a capture.
    fn eval(check: Check, o: &Observations, frames: &[Vec<u8>]) -> AssertionResult {
        let dir = tempfile::tempdir().unwrap();
        let pcap = dir.path().join("wire.pcap");
        write_pcap(&pcap, frames);
        let (_, mut r) = evaluate(&[a(check)], o, &pcap).unwrap();
        r.remove(0)
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
            Check::NoPlaintextOnWire,
            Check::RepeatedBlocks {
                min: None,
                max: Some(0),
            },
        ] {
            let r = eval(c, &o, &frames());
            assert!(r.pass, "{r:?}");
        }
    }

    #[test]
    fn each_check_can_fail() {
        let mut o = obs();
        o.pings[0].1.replies = 1;
        let replies = Check::EchoReplies {
            min: Some(2),
            max: None,
        };
        assert!(!eval(replies, &o, &frames()).pass);

        let o = obs();
        let mut f = frames();
        f[0][14 + 11] ^= 1;
        assert!(!eval(Check::IpHeaderCleartext, &o, &f).pass);
        assert!(
            !eval(Check::IpHeaderCleartext, &o, &[]).pass,
            "no packets is not a pass"
        );

        let mut f = frames();
        f[1] = test_frame(1, &marker_payload(64));
        let r = eval(Check::PayloadEncrypted { min_entropy: 0.0 }, &o, &f);
        assert!(!r.pass && r.observed.contains("1 with the marker"), "{r:?}");
        let r = eval(Check::NoPlaintextOnWire, &o, &f);
        assert!(
            !r.pass && r.observed == "1 of 2 packets carry the marker",
            "{r:?}"
        );
        assert!(!eval(Check::PayloadEncrypted { min_entropy: 8.0 }, &o, &frames()).pass);

        let mut o = obs();
        o.delivered[1].1.data[0] ^= 1;
        let r = eval(Check::PlaintextDelivered, &o, &frames());
        assert_eq!(
            (r.pass, r.observed.as_str()),
            (false, "1 of 2 delivered intact")
        );

        let o = obs();
        for (side, min, max) in [(Side::Right, Some(1), None), (Side::Left, None, Some(1))] {
            let c = Check::Counter {
                side,
                name: "encrypted".into(),
                min,
                max,
            };
            assert!(!eval(c, &o, &frames()).pass);
        }
    }

    /// The ICMP data of a sent request on the wire is a leak even without
    /// the marker (it is too short to hold 12 bytes of it).
    #[test]
    fn a_sent_plaintext_on_the_wire_is_found() {
        let mut o = obs();
        let short = b"bpfcrypt".to_vec();
        o.pings[0].1.payloads.push(short.clone());
        let mut f = frames();
        f[1] = test_frame(1, &[&[0u8; 8][..], &short, &[1u8; 5]].concat());
        let r = eval(Check::PayloadEncrypted { min_entropy: 0.0 }, &o, &f);
        assert!(
            !r.pass && r.observed.contains("0 with the marker, 1 carrying"),
            "{r:?}"
        );
    }

    /// A bad header is counted, and only a few are described.
    #[test]
    fn header_findings_are_counted_with_a_few_examples() {
        let o = obs();
        let mut f: Vec<Vec<u8>> = (0..10).map(|_| frames().remove(0)).collect();
        for frame in &mut f {
            frame.extend_from_slice(&[0; 16]); // bytes the total length does not count
        }
        let r = eval(Check::IpHeaderCleartext, &o, &f);
        assert!(!r.pass, "{r:?}");
        assert!(r.observed.starts_with("10 of 10 invalid: #0 "), "{r:?}");
        assert_eq!(r.observed.matches("header_ok=false").count(), 3, "{r:?}");
    }

    #[test]
    fn expect_counts_matching_packets_of_one_end() {
        let o = obs();
        let icmp = vec![PacketMatch {
            offset: 9,
            value: vec![1],
            mask: vec![0xff],
        }];
        let expect = |from, min, max| Check::Expect {
            from,
            matches: icmp.clone(),
            min,
            max,
        };
        let r = eval(expect(Some(Side::Left), Some(2), Some(2)), &o, &frames());
        assert!(r.pass && r.observed == "2 matching", "{r:?}");
        let r = eval(expect(Some(Side::Right), None, Some(0)), &o, &frames());
        assert!(r.pass && r.observed == "0 matching", "{r:?}");
        assert!(!eval(expect(None, Some(3), None), &o, &frames()).pass);
    }
}
