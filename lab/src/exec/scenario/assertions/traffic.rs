//! Checks of what the traffic steps delivered.

use super::bounds::{self, ratio_ok, ratio_text};
use super::observations::{Observations, TcpFlow};
use super::verdict::Judged;
use crate::domain::Side;
use crate::spec::plan::Ratio;
use crate::sys::traffic::udp::match_delivered;

/// Echo replies received by the senders, over all ping steps.
pub(crate) fn echo_replies(obs: &Observations, min: Option<u64>, max: Option<u64>) -> Judged {
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
    Judged::new(
        format!("replies {}", bounds::text(min, max)),
        o,
        bounds::within(replies, min, max),
    )
}

/// Every echo request's plaintext arrived intact on the far side.
pub(crate) fn plaintext_delivered(obs: &Observations) -> Judged {
    let mut total = 0usize;
    let mut intact = 0usize;
    for (side, p) in &obs.pings {
        for (seq, data) in p.payloads.iter().enumerate() {
            total += 1;
            let ok = obs.delivered.iter().any(|(s, d)| {
                *s == side.peer() && d.id == p.id && usize::from(d.seq) == seq && d.data == *data
            });
            intact += usize::from(ok);
        }
    }
    Judged::new(
        "every request delivered intact on the far side".into(),
        format!("{intact} of {total} delivered intact"),
        total > 0 && intact == total,
    )
}

/// UDP datagrams delivered intact (of one step, or all).
pub(crate) fn udp_delivered(obs: &Observations, r: &Ratio) -> Judged {
    let (mut intact, mut corrupt, mut dups, mut total, mut errors) = (0u64, 0, 0, 0, 0);
    for f in obs
        .udp
        .iter()
        .filter(|f| r.step.is_none_or(|s| s == f.step))
    {
        let m = match_delivered(&f.sent.payloads, &f.delivered);
        intact += m.intact as u64;
        dups += m.duplicates as u64;
        corrupt += m.corrupted as u64;
        total += f.sent.payloads.len() as u64;
        errors += u64::from(f.sent.send_errors);
    }
    let mut o = format!("{intact} of {total} datagrams delivered intact");
    if dups > 0 {
        o.push_str(&format!(", {dups} delivered twice or more (replayed)"));
    }
    if corrupt > 0 {
        o.push_str(&format!(", {corrupt} delivered corrupted"));
    }
    if errors > 0 {
        o.push_str(&format!(", {errors} send errors"));
    }
    // Delivered means delivered once: a duplicate is a replay the receiver
    // accepted, whatever the ratio.
    Judged::new(
        format!("delivered {}, none twice", ratio_text(r)),
        o,
        ratio_ok(r, intact, total) && dups == 0,
    )
}

/// UDP datagrams the receivers got at all (of one step, or all): intact,
/// corrupted and duplicate deliveries alike, so that `{max: 0}` means
/// nothing arrived, where `udp_delivered` counts only intact ones.
pub(crate) fn udp_received(obs: &Observations, r: &Ratio) -> Judged {
    let (mut received, mut intact, mut total) = (0u64, 0u64, 0u64);
    for f in obs
        .udp
        .iter()
        .filter(|f| r.step.is_none_or(|s| s == f.step))
    {
        received += f.delivered.len() as u64;
        intact += match_delivered(&f.sent.payloads, &f.delivered).intact as u64;
        total += f.sent.payloads.len() as u64;
    }
    Judged::new(
        format!("received {}", ratio_text(r)),
        format!(
            "{received} datagrams received ({intact} intact, {} corrupted or repeated) of {total} sent",
            received - intact.min(received)
        ),
        ratio_ok(r, received, total),
    )
}

/// TCP bytes delivered intact (of one step, or all).
pub(crate) fn tcp_delivered(obs: &Observations, r: &Ratio) -> Judged {
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
    Judged::new(
        format!("bytes {}", ratio_text(r)),
        o,
        ratio_ok(r, intact, bytes),
    )
}

/// A data plane counter of one end within bounds.
pub(crate) fn counter(
    obs: &Observations,
    side: Side,
    name: &str,
    min: Option<u64>,
    max: Option<u64>,
) -> Judged {
    let expected = bounds::text(min, max);
    match obs.counters.get(side.as_str()).and_then(|c| c.get(name)) {
        Some(v) => Judged::new(expected, v.to_string(), bounds::within(*v, min, max)),
        None => Judged::new(expected, "counter not read".into(), false),
    }
}
