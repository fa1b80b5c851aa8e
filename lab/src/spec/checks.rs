//! Validation of scenario assertions: one function per assertion kind.

use serde_saphyr::{Location, Spanned};

use super::error::SpecError;
use super::fields::Fields;
use super::limits::MAX_IPV4_PACKET;
use super::plan::{Check, DEFAULT_MIN_ENTROPY, PacketMatch, PlanAssertion, PlanStep, Ratio};
use super::scenario_file::{
    Assertion, Bounds, ByteMatch, CounterCheck, EncryptedCheck, ExpectCheck, ExpectNoneCheck,
    OracleCheck, RatioBounds,
};
use super::steps::counter_name;

/// What assertion validation needs besides the assertion.
pub(crate) struct CheckContext<'a> {
    /// Validators for the file.
    pub(crate) fields: Fields<'a>,
    /// The validated steps, for checks that name one.
    pub(crate) steps: &'a [PlanStep],
}

/// Validates assertion `i`.
pub(crate) fn assertion(
    cx: &CheckContext,
    i: usize,
    a: &Spanned<Assertion>,
) -> Result<PlanAssertion, SpecError> {
    let field = format!("assertions[{i}]");
    let (f, at) = (&cx.fields, a.referenced);
    let (name, check): (String, Check) = match &a.value {
        Assertion::EchoReplies(b) => ("echo_replies".into(), echo_replies(f, at, &field, b)?),
        Assertion::IpHeaderCleartext {} => ("ip_header_cleartext".into(), Check::IpHeaderCleartext),
        Assertion::PayloadEncrypted(e) => {
            ("payload_encrypted".into(), encrypted(f, at, &field, e)?)
        }
        Assertion::PlaintextDelivered {} => {
            ("plaintext_delivered".into(), Check::PlaintextDelivered)
        }
        Assertion::Counter(c) => counter(f, at, &field, c)?,
        Assertion::UdpDelivered(r) => (
            "udp_delivered".into(),
            Check::UdpDelivered(ratio(cx, at, &format!("{field}.udp_delivered"), r, "udp")?),
        ),
        Assertion::UdpReceived(r) => (
            "udp_received".into(),
            Check::UdpReceived(ratio(cx, at, &format!("{field}.udp_received"), r, "udp")?),
        ),
        Assertion::TcpDelivered(r) => (
            "tcp_delivered".into(),
            Check::TcpDelivered(ratio(cx, at, &format!("{field}.tcp_delivered"), r, "tcp")?),
        ),
        Assertion::NoPlaintextOnWire {} => {
            ("no_plaintext_on_wire".into(), Check::NoPlaintextOnWire)
        }
        Assertion::Expect(e) => ("expect".into(), expect(f, at, &field, e)?),
        Assertion::ExpectNone(e) => ("expect_none".into(), expect_none(f, at, &field, e)?),
        Assertion::RepeatedBlocks(b) => ("repeated_blocks".into(), repeated(f, at, &field, b)?),
        Assertion::Oracle(o) => ("oracle".into(), oracle(f, at, &field, o)?),
        Assertion::UniqueIvs {} => ("unique_ivs".into(), Check::UniqueIvs),
        Assertion::KeysUsed {} => ("keys_used".into(), Check::KeysUsed),
        Assertion::EspSequence {} => ("esp_sequence".into(), Check::EspSequence),
        Assertion::XfrmStat(x) => (
            "xfrm_stat".into(),
            Check::XfrmStat {
                max: x.max.unwrap_or(0),
            },
        ),
        Assertion::KernelLog(k) => (
            "kernel_log".into(),
            Check::KernelLog {
                max_warnings: k.max_warnings.unwrap_or(0),
            },
        ),
    };
    Ok(PlanAssertion { name, check })
}

fn echo_replies(f: &Fields, at: Location, field: &str, b: &Bounds) -> Result<Check, SpecError> {
    f.bounds(at, field, b.min, b.max)?;
    Ok(Check::EchoReplies {
        min: b.min,
        max: b.max,
    })
}

fn encrypted(
    f: &Fields,
    at: Location,
    field: &str,
    e: &EncryptedCheck,
) -> Result<Check, SpecError> {
    let min_entropy = e.min_entropy.unwrap_or(DEFAULT_MIN_ENTROPY);
    if !(0.0..=8.0).contains(&min_entropy) {
        return Err(f.err(
            at,
            &format!("{field}.payload_encrypted.min_entropy"),
            format!("{min_entropy} is outside 0..=8 bits per byte"),
        ));
    }
    Ok(Check::PayloadEncrypted { min_entropy })
}

fn counter(
    f: &Fields,
    at: Location,
    field: &str,
    c: &CounterCheck,
) -> Result<(String, Check), SpecError> {
    counter_name(f, &c.name, &format!("{field}.counter.name"))?;
    f.bounds(at, field, c.min, c.max)?;
    Ok((
        format!("counter {}.{}", c.side.as_str(), c.name.value),
        Check::Counter {
            side: c.side,
            name: c.name.value.clone(),
            min: c.min,
            max: c.max,
        },
    ))
}

/// Count and ratio bounds, optionally of one step, which must be a step
/// of `kind` (`udp` or `tcp`).
fn ratio(
    cx: &CheckContext,
    at: Location,
    field: &str,
    r: &RatioBounds,
    kind: &str,
) -> Result<Ratio, SpecError> {
    let f = &cx.fields;
    for v in [r.min_ratio, r.max_ratio].into_iter().flatten() {
        f.fraction(at, field, v)
            .map_err(|_| f.err(at, field, format!("ratio {v} is outside 0..=1")))?;
    }
    if r.min.is_none() && r.max.is_none() && r.min_ratio.is_none() && r.max_ratio.is_none() {
        return Err(f.err(at, field, "give `min`, `max`, `min_ratio` or `max_ratio`"));
    }
    f.bounds(at, field, r.min.or(Some(0)), r.max)?;
    if let (Some(lo), Some(hi)) = (r.min_ratio, r.max_ratio)
        && lo > hi
    {
        return Err(f.err(
            at,
            field,
            format!("min_ratio {lo} is greater than max_ratio {hi}"),
        ));
    }
    let step = match r.step {
        None => None,
        Some(n) => Some(step_of_kind(cx, at, &format!("{field}.step"), n, kind)?),
    };
    Ok(Ratio {
        step,
        min: r.min,
        max: r.max,
        min_ratio: r.min_ratio,
        max_ratio: r.max_ratio,
    })
}

/// The 0-based index of step `n` (numbered from 1), which must exist and be
/// a `kind` step.
fn step_of_kind(
    cx: &CheckContext,
    at: Location,
    field: &str,
    n: usize,
    kind: &str,
) -> Result<usize, SpecError> {
    let f = &cx.fields;
    if n == 0 {
        return Err(f.err(at, field, "steps are numbered from 1"));
    }
    let matches = |s: &PlanStep| {
        matches!(
            (s, kind),
            (PlanStep::Udp(_), "udp") | (PlanStep::Tcp(_), "tcp")
        )
    };
    match cx.steps.get(n - 1) {
        Some(s) if matches(s) => Ok(n - 1),
        Some(_) => Err(f.err(at, field, format!("step {n} is not a {kind} step"))),
        None => Err(f.err(
            at,
            field,
            format!(
                "there is no step {n}; the scenario has {} steps",
                cx.steps.len()
            ),
        )),
    }
}

fn expect(f: &Fields, at: Location, field: &str, e: &ExpectCheck) -> Result<Check, SpecError> {
    let min = e.min.or(Some(1));
    f.bounds(at, field, min, e.max)?;
    Ok(Check::Expect {
        from: e.from,
        matches: packet_matches(f, at, &format!("{field}.expect"), &e.matches)?,
        min,
        max: e.max,
    })
}

fn expect_none(
    f: &Fields,
    at: Location,
    field: &str,
    e: &ExpectNoneCheck,
) -> Result<Check, SpecError> {
    Ok(Check::Expect {
        from: e.from,
        matches: packet_matches(f, at, &format!("{field}.expect_none"), &e.matches)?,
        min: None,
        max: Some(0),
    })
}

fn repeated(f: &Fields, at: Location, field: &str, b: &Bounds) -> Result<Check, SpecError> {
    f.bounds(at, field, b.min, b.max)?;
    Ok(Check::RepeatedBlocks {
        min: b.min,
        max: b.max,
    })
}

fn oracle(f: &Fields, at: Location, field: &str, o: &OracleCheck) -> Result<Check, SpecError> {
    let min_ratio = f.fraction(
        at,
        &format!("{field}.oracle.min_ratio"),
        o.min_ratio.unwrap_or(1.0),
    )?;
    Ok(Check::Oracle { min_ratio })
}

fn packet_matches(
    f: &Fields,
    at: Location,
    field: &str,
    items: &[ByteMatch],
) -> Result<Vec<PacketMatch>, SpecError> {
    if items.is_empty() {
        return Err(f.err(at, field, "`match` needs at least one pattern"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, m)| packet_match(f, &format!("{field}.match[{i}]"), m))
        .collect()
}

fn packet_match(f: &Fields, field: &str, m: &ByteMatch) -> Result<PacketMatch, SpecError> {
    let value = f.hex(&m.value, &format!("{field}.value"), "value")?;
    let mask = match &m.mask {
        None => vec![0xff; value.len()],
        Some(mk) => {
            let mask = f.hex(mk, &format!("{field}.mask"), "mask")?;
            if mask.len() != value.len() {
                return Err(f.err(
                    mk.referenced,
                    &format!("{field}.mask"),
                    format!("mask has {} bytes, value has {}", mask.len(), value.len()),
                ));
            }
            mask
        }
    };
    // A pattern past the largest IPv4 packet could never match.
    let end = u64::from(m.offset.value) + value.len() as u64;
    if end > u64::from(MAX_IPV4_PACKET) {
        return Err(f.err(
            m.offset.referenced,
            &format!("{field}.offset"),
            format!(
                "the pattern ends at byte {end}, past the largest IPv4 packet ({MAX_IPV4_PACKET} bytes)"
            ),
        ));
    }
    Ok(PacketMatch {
        offset: m.offset.value,
        value,
        mask,
    })
}
