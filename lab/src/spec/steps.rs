//! Validation of scenario steps: one function per step kind.

use serde_saphyr::{Location, Spanned};

use super::error::SpecError;
use super::fields::Fields;
use super::plan::{PingPlan, PlanStep, TcpPlan, UdpPlan, WaitFor};
use super::scenario_file::{
    OffloadsStep, PingStep, RekeyStep, SetKeyStep, Step, TamperStep, TcpStep, UdpStep, WaitStep,
};
use crate::dataplane::abi::COUNTER_NAMES;

/// Largest UDP payload the lab sends.
pub(crate) const MAX_UDP_PAYLOAD: u32 = 65_000;

/// What step validation needs besides the step.
pub(crate) struct StepContext<'a> {
    /// Validators for the file.
    pub(crate) fields: Fields<'a>,
    /// The scenario's key, for the defaults and lengths of later keys.
    pub(crate) key: &'a [u8],
    /// Whether the wire format is ESP.
    pub(crate) esp: bool,
}

/// Validates step `i`.
pub(crate) fn step(
    cx: &StepContext,
    i: usize,
    step: &Spanned<Step>,
) -> Result<PlanStep, SpecError> {
    let field = format!("steps[{i}]");
    let f = &cx.fields;
    match &step.value {
        Step::Ping(p) => ping(f, &format!("{field}.ping"), p),
        Step::Udp(u) => udp(f, &format!("{field}.udp"), i, u),
        Step::Tcp(t) => tcp(f, &format!("{field}.tcp"), i, t),
        Step::Offloads(o) => offloads(f, &format!("{field}.offloads"), o),
        Step::Rekey(r) => rekey(cx, &format!("{field}.rekey"), r),
        Step::SetKey(k) => set_key(cx, &format!("{field}.set_key"), k),
        Step::ClearKey(c) => Ok(PlanStep::ClearKey {
            sides: c.side.list(),
        }),
        Step::Tamper(t) => tamper(f, &format!("{field}.tamper"), t),
        Step::Wait(w) => wait(f, &format!("{field}.wait"), step.referenced, w),
        Step::Stack(st) => {
            if !cx.esp {
                return Err(f.err(
                    st.stack.referenced,
                    &format!("{field}.stack.use"),
                    "the kernel's IPsec speaks ESP: set `cipher.mode: esp`",
                ));
            }
            Ok(PlanStep::Stack {
                side: st.side,
                stack: st.stack.value,
            })
        }
    }
}

fn ping(f: &Fields, field: &str, p: &PingStep) -> Result<PlanStep, SpecError> {
    Ok(PlanStep::Ping(PingPlan {
        from: p.from,
        count: f.range(&p.count, 1, 100_000, 5, &format!("{field}.count"))?,
        size: f.range(&p.size, 8, 65_000, 56, &format!("{field}.size"))?,
        interval_ms: f.range(
            &p.interval_ms,
            0,
            60_000,
            100,
            &format!("{field}.interval_ms"),
        )?,
        timeout_ms: f.range(
            &p.timeout_ms,
            1,
            600_000,
            2_000,
            &format!("{field}.timeout_ms"),
        )?,
    }))
}

fn udp(f: &Fields, field: &str, i: usize, u: &UdpStep) -> Result<PlanStep, SpecError> {
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
            if let Some(bad) = v.value.iter().find(|s| !(1..=MAX_UDP_PAYLOAD).contains(*s)) {
                return Err(f.err(
                    v.referenced,
                    &format!("{field}.sizes"),
                    format!("{bad} is outside 1..={MAX_UDP_PAYLOAD}"),
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
    Ok(PlanStep::Udp(UdpPlan {
        from: u.from,
        sizes,
        count: f.range(&u.count, 1, 100_000, 3, &format!("{field}.count"))?,
        interval_ms: f.range(
            &u.interval_ms,
            0,
            60_000,
            1,
            &format!("{field}.interval_ms"),
        )?,
        port: f.range(&u.port, 1, 65535, 4000 + i as u16, &format!("{field}.port"))?,
        background: u.background,
        replay,
    }))
}

fn tcp(f: &Fields, field: &str, i: usize, t: &TcpStep) -> Result<PlanStep, SpecError> {
    Ok(PlanStep::Tcp(TcpPlan {
        from: t.from,
        bytes: f.range(&t.bytes, 1, 1 << 32, 262_144, &format!("{field}.bytes"))?,
        port: f.range(&t.port, 1, 65535, 5000 + i as u16, &format!("{field}.port"))?,
        timeout_ms: f.range(
            &t.timeout_ms,
            1,
            600_000,
            5_000,
            &format!("{field}.timeout_ms"),
        )?,
    }))
}

fn offloads(f: &Fields, field: &str, o: &OffloadsStep) -> Result<PlanStep, SpecError> {
    let gso_max_segs = match &o.gso_max_segs {
        None => None,
        Some(v) => Some(f.within(v, 1, 65535, &format!("{field}.gso_max_segs"))?),
    };
    Ok(PlanStep::Offloads {
        sides: o.side.list(),
        tso: o.tso,
        gso: o.gso,
        tx_csum: o.tx_csum,
        gso_max_segs,
    })
}

fn rekey(cx: &StepContext, field: &str, r: &RekeyStep) -> Result<PlanStep, SpecError> {
    let f = &cx.fields;
    let mut keys = Vec::new();
    for (k, v) in r.keys.iter().enumerate() {
        keys.push(f.key_like(v, &format!("{field}.keys[{k}]"), cx.key.len())?);
    }
    if keys.is_empty() {
        keys = vec![cx.key.iter().map(|b| !b).collect(), cx.key.to_vec()];
    }
    Ok(PlanStep::Rekey {
        times: f.range(&r.times, 1, 100_000, 10, &format!("{field}.times"))?,
        interval_ms: f.range(
            &r.interval_ms,
            0,
            60_000,
            10,
            &format!("{field}.interval_ms"),
        )?,
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
        offset: f.within(&t.offset, 0, 2047, &format!("{field}.offset"))?,
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
        600_000,
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
