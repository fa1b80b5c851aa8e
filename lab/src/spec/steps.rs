//! Validation of scenario steps: one function per step kind.

use serde_saphyr::{Location, Spanned};

use super::error::SpecError;
use super::fields::Fields;
use super::limits::{
    self, MAX_DATAGRAMS, MAX_GSO_SEGS, MAX_INTERVAL_MS, MAX_PING_COUNT, MAX_PING_SIZE, MAX_REKEYS,
    MAX_STEP_MS, MAX_TAMPER_OFFSET, MAX_TCP_BYTES, MAX_UDP_PAYLOAD, MIN_PING_SIZE,
};
use super::plan::{PingPlan, PlanStep, TcpPlan, UdpPlan, WaitFor};
use super::scenario_file::{
    OffloadsStep, PingStep, RekeyStep, SetKeyStep, Step, TamperStep, TcpStep, UdpStep, WaitStep,
};
use crate::dataplane::abi::COUNTER_NAMES;
use crate::dataplane::format::WireFormat;
use crate::domain::Stack;

/// What step validation needs besides the step.
pub(crate) struct StepContext<'a> {
    /// Validators for the file.
    pub(crate) fields: Fields<'a>,
    /// The scenario's key, for the defaults and lengths of later keys.
    pub(crate) key: &'a [u8],
    /// The wire format.
    pub(crate) format: &'static dyn WireFormat,
}

/// A handshake step's default wait: two REKEY_TIMEOUTs (5 s), so one lost
/// initiation is sent again in time.
const HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

/// Validates step `i`.
pub(crate) fn step(
    cx: &StepContext,
    i: usize,
    step: &Spanned<Step>,
) -> Result<PlanStep, SpecError> {
    let field = format!("steps[{i}]");
    let f = &cx.fields;
    match &step.value {
        Step::Ping(p) => ping(f, &format!("{field}.ping"), step.referenced, p),
        Step::Udp(u) => udp(f, &format!("{field}.udp"), (i, step.referenced), u),
        Step::Tcp(t) => tcp(f, &format!("{field}.tcp"), i, t),
        Step::Offloads(o) => offloads(f, &format!("{field}.offloads"), o),
        Step::Rekey(_) | Step::SetKey(_) if cx.format.handshake() => Err(f.err(
            step.referenced,
            &field,
            "keys of `mode: wireguard` come from its handshake: use a `handshake` step \
             (or shorten `wireguard.rekey_after_time_ms`)",
        )),
        Step::Rekey(r) => rekey(cx, &format!("{field}.rekey"), step.referenced, r),
        Step::SetKey(k) => set_key(cx, &format!("{field}.set_key"), k),
        Step::ClearKey(c) => Ok(PlanStep::ClearKey {
            sides: c.side.list(),
        }),
        Step::Tamper(t) => tamper(f, &format!("{field}.tamper"), t),
        Step::Wait(w) => wait(f, &format!("{field}.wait"), step.referenced, w),
        Step::Stack(st) => {
            let stack = st.stack.value;
            if stack != Stack::Bpf && cx.format.kernel_peer() != Some(stack) {
                let why = match cx.format.kernel_peer() {
                    Some(k) => format!(
                        "`mode: {}` has `{}` as the kernel's peer, not `{}`",
                        cx.format.name(),
                        k.as_str(),
                        stack.as_str()
                    ),
                    None => format!(
                        "no kernel stack speaks `mode: {}`; `xfrm` speaks `mode: esp`, `wireguard` `mode: wireguard`",
                        cx.format.name()
                    ),
                };
                return Err(f.err(st.stack.referenced, &format!("{field}.stack.use"), why));
            }
            Ok(PlanStep::Stack {
                side: st.side,
                stack,
            })
        }
        Step::Handshake(h) => {
            if !cx.format.handshake() {
                return Err(f.err(
                    step.referenced,
                    &format!("{field}.handshake"),
                    format!(
                        "`mode: {}` has no handshake; only `mode: wireguard` does",
                        cx.format.name()
                    ),
                ));
            }
            let timeout_ms = f.range(
                &h.timeout_ms,
                100,
                MAX_STEP_MS,
                HANDSHAKE_TIMEOUT_MS,
                &format!("{field}.handshake.timeout_ms"),
            )?;
            Ok(PlanStep::Handshake {
                from: h.from,
                timeout_ms,
            })
        }
    }
}

fn ping(f: &Fields, field: &str, at: Location, p: &PingStep) -> Result<PlanStep, SpecError> {
    let count = f.range(&p.count, 1, MAX_PING_COUNT, 5, &format!("{field}.count"))?;
    let interval_ms = f.range(
        &p.interval_ms,
        0,
        MAX_INTERVAL_MS,
        100,
        &format!("{field}.interval_ms"),
    )?;
    limits::pacing(
        f,
        paced_at(field, at, ("count", &p.count), &p.interval_ms),
        u64::from(count),
        interval_ms,
    )?;
    Ok(PlanStep::Ping(PingPlan {
        from: p.from,
        count,
        size: f.range(
            &p.size,
            MIN_PING_SIZE,
            MAX_PING_SIZE,
            56,
            &format!("{field}.size"),
        )?,
        interval_ms,
        timeout_ms: f.range(
            &p.timeout_ms,
            1,
            MAX_STEP_MS,
            2_000,
            &format!("{field}.timeout_ms"),
        )?,
    }))
}

/// Where a pacing error points: the interval if written, else the count
/// (written as `name`), else the step.
fn paced_at<A, B>(
    field: &str,
    step: Location,
    (name, count): (&str, &Option<Spanned<A>>),
    interval: &Option<Spanned<B>>,
) -> (Location, String) {
    match (interval, count) {
        (Some(i), _) => (i.referenced, format!("{field}.interval_ms")),
        (None, Some(c)) => (c.referenced, format!("{field}.{name}")),
        (None, None) => (step, field.to_string()),
    }
}

fn udp(
    f: &Fields,
    field: &str,
    (i, at): (usize, Location),
    u: &UdpStep,
) -> Result<PlanStep, SpecError> {
    let sizes = match &u.sizes {
        None => vec![64],
        Some(v) if v.value.is_empty() => {
            return Err(f.err(
                v.referenced,
                &format!("{field}.sizes"),
                "give at least one size",
            ));
        }
        Some(v) => {
            if let Some((k, bad)) = v
                .value
                .iter()
                .enumerate()
                .find(|(_, s)| !(1..=MAX_UDP_PAYLOAD).contains(*s))
            {
                return Err(f.err(
                    v.referenced,
                    &format!("{field}.sizes[{k}]"),
                    format!(
                        "{bad} is outside 1..={MAX_UDP_PAYLOAD} (the largest UDP payload in IPv4)"
                    ),
                ));
            }
            v.value.clone()
        }
    };
    let replay = u.replay.as_ref().is_some_and(|r| r.value);
    if let Some(r) = &u.replay
        && r.value
        && u.background
    {
        return Err(f.err(
            r.referenced,
            &format!("{field}.replay"),
            "a replayed step cannot run in the background",
        ));
    }
    let max_count = MAX_DATAGRAMS as u32;
    let count = f.range(&u.count, 1, max_count, 3, &format!("{field}.count"))?;
    let datagrams = u64::from(count) * sizes.len() as u64;
    if datagrams > MAX_DATAGRAMS {
        let (loc, name) = match (&u.count, &u.sizes) {
            (Some(c), _) => (c.referenced, format!("{field}.count")),
            (None, Some(v)) => (v.referenced, format!("{field}.sizes")),
            (None, None) => (at, field.to_string()),
        };
        return Err(f.err(
            loc,
            &name,
            format!(
                "{count} × {} sizes is {datagrams} datagrams; a scenario sends at most {MAX_DATAGRAMS}",
                sizes.len()
            ),
        ));
    }
    let interval_ms = f.range(
        &u.interval_ms,
        0,
        MAX_INTERVAL_MS,
        1,
        &format!("{field}.interval_ms"),
    )?;
    limits::pacing(
        f,
        paced_at(field, at, ("count", &u.count), &u.interval_ms),
        datagrams,
        interval_ms,
    )?;
    Ok(PlanStep::Udp(UdpPlan {
        from: u.from,
        sizes,
        count,
        interval_ms,
        port: f.range(&u.port, 1, 65535, 4000 + i as u16, &format!("{field}.port"))?,
        background: u.background,
        replay,
    }))
}

fn tcp(f: &Fields, field: &str, i: usize, t: &TcpStep) -> Result<PlanStep, SpecError> {
    Ok(PlanStep::Tcp(TcpPlan {
        from: t.from,
        bytes: f.range(
            &t.bytes,
            1,
            MAX_TCP_BYTES,
            262_144,
            &format!("{field}.bytes"),
        )?,
        port: f.range(&t.port, 1, 65535, 5000 + i as u16, &format!("{field}.port"))?,
        timeout_ms: f.range(
            &t.timeout_ms,
            1,
            MAX_STEP_MS,
            5_000,
            &format!("{field}.timeout_ms"),
        )?,
    }))
}

fn offloads(f: &Fields, field: &str, o: &OffloadsStep) -> Result<PlanStep, SpecError> {
    let gso_max_segs = match &o.gso_max_segs {
        None => None,
        Some(v) => Some(f.within(v, 1, MAX_GSO_SEGS, &format!("{field}.gso_max_segs"))?),
    };
    Ok(PlanStep::Offloads {
        sides: o.side.list(),
        tso: o.tso,
        gso: o.gso,
        tx_csum: o.tx_csum,
        gso_max_segs,
    })
}

fn rekey(
    cx: &StepContext,
    field: &str,
    at: Location,
    r: &RekeyStep,
) -> Result<PlanStep, SpecError> {
    let f = &cx.fields;
    let mut keys = Vec::new();
    for (k, v) in r.keys.iter().enumerate() {
        keys.push(f.key_like(v, &format!("{field}.keys[{k}]"), cx.key.len())?);
    }
    if keys.is_empty() {
        keys = vec![cx.key.iter().map(|b| !b).collect(), cx.key.to_vec()];
    }
    let times = f.range(&r.times, 1, MAX_REKEYS, 10, &format!("{field}.times"))?;
    let interval_ms = f.range(
        &r.interval_ms,
        0,
        MAX_INTERVAL_MS,
        10,
        &format!("{field}.interval_ms"),
    )?;
    limits::pacing(
        f,
        paced_at(field, at, ("times", &r.times), &r.interval_ms),
        u64::from(times),
        interval_ms,
    )?;
    Ok(PlanStep::Rekey {
        times,
        interval_ms,
        keys,
    })
}

fn set_key(cx: &StepContext, field: &str, k: &SetKeyStep) -> Result<PlanStep, SpecError> {
    Ok(PlanStep::SetKey {
        sides: k.side.list(),
        key: cx
            .fields
            .key_like(&k.key, &format!("{field}.key"), cx.key.len())?,
    })
}

fn tamper(f: &Fields, field: &str, t: &TamperStep) -> Result<PlanStep, SpecError> {
    Ok(PlanStep::Tamper {
        side: t.side,
        offset: f.within(&t.offset, 0, MAX_TAMPER_OFFSET, &format!("{field}.offset"))?,
        xor: f.range(&t.xor, 1, 255, 0x01, &format!("{field}.xor"))?,
    })
}

fn wait(f: &Fields, field: &str, at: Location, w: &WaitStep) -> Result<PlanStep, SpecError> {
    let until = match (&w.counter, w.flows_done) {
        (Some(c), false) => {
            counter_name(f, &c.name, &format!("{field}.counter.name"))?;
            f.bounds(at, &format!("{field}.counter"), c.min, c.max)?;
            WaitFor::Counter {
                side: c.side,
                name: c.name.value.clone(),
                min: c.min,
                max: c.max,
            }
        }
        (None, true) => WaitFor::FlowsDone,
        _ => {
            return Err(f.err(
                at,
                field,
                "give exactly one of `counter` or `flows_done: true`",
            ));
        }
    };
    let timeout_ms = f.range(
        &w.timeout_ms,
        1,
        MAX_STEP_MS,
        5_000,
        &format!("{field}.timeout_ms"),
    )?;
    Ok(PlanStep::Wait { until, timeout_ms })
}

/// A data plane counter name.
pub(crate) fn counter_name(
    f: &Fields,
    name: &Spanned<String>,
    field: &str,
) -> Result<(), SpecError> {
    if COUNTER_NAMES.contains(&name.value.as_str()) {
        return Ok(());
    }
    Err(f.err(
        name.referenced,
        field,
        format!(
            "unknown counter `{}`; known: {}",
            name.value,
            COUNTER_NAMES.join(", ")
        ),
    ))
}
