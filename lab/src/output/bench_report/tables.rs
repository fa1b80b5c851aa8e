//! The report's tables as plain rows of text, shared by the HTML and the
//! Markdown rendering.

use serde::Serialize;

use crate::domain::{Algorithm, BenchVariant, Direction};
use crate::job::bench::TargetResult;
use crate::job::stats::Stats;
use crate::output::bench_doc::BenchDoc;
use crate::sys::proc_crypto::BPF_CRYPTO_AES;

/// A table: title, note, header and rows.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Table {
    /// Heading.
    pub(crate) title: String,
    /// Line under the heading.
    pub(crate) note: String,
    /// Column names.
    pub(crate) headers: Vec<String>,
    /// Rows.
    pub(crate) rows: Vec<Row>,
}

/// A row; `failed` rows are figures whose checks failed (no number shown).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    /// Cells, one per header.
    pub(crate) cells: Vec<String>,
    /// Whether the figure failed its checks or is otherwise not a result.
    pub(crate) failed: bool,
}

/// A number with a precision that suits its size.
pub(crate) fn num(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        "-".into()
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn med(s: &Option<Stats>, k: f64) -> String {
    s.as_ref().map_or("-".into(), |s| num(s.median * k))
}

fn range(s: &Option<Stats>, k: f64) -> String {
    s.as_ref().map_or("-".into(), |s| {
        format!("{}–{}", num(s.min * k), num(s.max * k))
    })
}

fn ci(s: &Option<Stats>, k: f64) -> String {
    s.as_ref().filter(|s| s.n > 1).map_or("-".into(), |s| {
        format!("{}–{}", num(s.ci95_lo * k), num(s.ci95_hi * k))
    })
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |r| format!("{:.0}%", r * 100.0))
}

/// `x` as a multiple of the hardware reference `hw` (`2.4×`).
fn times(x: Option<f64>, hw: Option<f64>) -> String {
    match (x, hw) {
        (Some(x), Some(hw)) if hw > 0.0 => format!("{:.1}×", x / hw),
        _ => "-".into(),
    }
}

/// What the hardware needs to carry one packet of `size` encrypted: one
/// encryption and one decryption of its bytes in userspace with `v`'s
/// cipher, or AES-CBC for a variant without one of ours.
fn hardware_round_trip(t: &TargetResult, v: BenchVariant, size: u32) -> Option<f64> {
    let alg = v.algorithm().unwrap_or(Algorithm::CbcAes);
    let enc = t.hardware_ns(alg, Direction::Egress, size)?;
    let dec = t.hardware_ns(alg, Direction::Ingress, size)?;
    Some(enc + dec)
}

fn row(cells: Vec<String>, failed: bool) -> Row {
    Row { cells, failed }
}

fn headers(h: &[&str]) -> Vec<String> {
    h.iter().map(|s| s.to_string()).collect()
}

/// One line naming where the figures of a table were measured.
pub(crate) fn where_measured(t: &TargetResult) -> String {
    let tcg = if t.env.emulated {
        " — TCG: emulated CPU, not representative of hardware"
    } else {
        ""
    };
    format!(
        "{}: kernel {}, accelerator {}, CPU {} ({}), commit {}{tcg}",
        t.target, t.env.kernel, t.env.accelerator, t.env.cpu_model, t.env.cpus, t.env.commit
    )
}

/// The environment of every target.
pub(crate) fn environment(doc: &BenchDoc) -> Table {
    let rows = doc
        .targets
        .iter()
        .map(|t| {
            // What bpf_crypto runs: the highest priority of the type the
            // kernel resolves each name as (the list is sorted by priority).
            let drivers = BPF_CRYPTO_AES
                .iter()
                .filter_map(|(n, kind)| {
                    t.env
                        .crypto_drivers
                        .get(*n)
                        .and_then(|v| v.iter().find(|d| d.starts_with(&format!("{kind} "))))
                        .map(|d| format!("{n}: {d}"))
                })
                .collect::<Vec<_>>()
                .join("; ");
            let status = match (&t.unsupported, &t.error) {
                (Some(u), _) => format!("unsupported: {u}"),
                (None, Some(e)) => format!("error: {}", e.lines().next().unwrap_or_default()),
                _ if t.has_failures() => "measured; some figures FAILED their checks".into(),
                _ => "measured".into(),
            };
            let status = if t.kernel_events.is_empty() {
                status
            } else {
                format!(
                    "{status}; {} kernel warning(s): {}",
                    t.kernel_events.len(),
                    t.kernel_events[0]
                )
            };
            let failed = t.unsupported.is_some() || t.error.is_some();
            row(
                vec![
                    t.target.clone(),
                    t.env.kernel.clone(),
                    if t.env.emulated {
                        "tcg (emulated)".into()
                    } else {
                        t.env.accelerator.clone()
                    },
                    t.env.cpu_model.clone(),
                    t.env.cpus.to_string(),
                    t.env.commit.clone(),
                    drivers,
                    status,
                ],
                failed,
            )
        })
        .collect();
    Table {
        title: "Targets".into(),
        note: "Every figure below carries the environment of its target.".into(),
        headers: headers(&[
            "target",
            "kernel",
            "accelerator",
            "CPU",
            "CPUs",
            "commit",
            "AES implementation (highest priority)",
            "status",
        ]),
        rows,
    }
}

/// BPF_PROG_TEST_RUN figures of a target.
pub(crate) fn micro(t: &TargetResult) -> Option<Table> {
    if t.micro.is_empty() {
        return None;
    }
    let rows = t
        .micro
        .iter()
        .map(|m| {
            let ok = m.check.ok;
            let n = m.ns.as_ref().map_or(0, |s| s.n);
            row(
                vec![
                    m.label(),
                    m.direction.as_str().into(),
                    m.size.to_string(),
                    if ok { med(&m.ns, 1.0) } else { "FAILED".into() },
                    range(&m.ns, 1.0),
                    ci(&m.ns, 1.0),
                    med(&m.gbps, 1.0),
                    m.cipher_limit_ns.map_or("-".into(), num),
                    pct(m.ratio_to_cipher),
                    times(
                        m.ns.as_ref().map(|s| s.median),
                        m.variant
                            .algorithm()
                            .and_then(|a| t.hardware_ns(a, m.direction, m.size)),
                    ),
                    format!("{} × {n}", m.runs_per_round),
                    if ok {
                        "ok".into()
                    } else {
                        m.check.detail.clone()
                    },
                ],
                !ok,
            )
        })
        .collect();
    Some(Table {
        title: format!("Micro: BPF_PROG_TEST_RUN — {}", t.env.label(&t.target)),
        note: where_measured(t),
        headers: headers(&[
            "variant",
            "program",
            "size (B)",
            "ns/packet",
            "min–max",
            "95% CI of mean",
            "Gbit/s",
            "kfunc alone (ns)",
            "share that is cipher",
            "× hardware",
            "runs × rounds",
            "check",
        ]),
        rows,
    })
}

/// Raw cipher (kfunc alone) figures of a target.
pub(crate) fn cipher(t: &TargetResult) -> Option<Table> {
    if t.cipher.is_empty() {
        return None;
    }
    let mut points: Vec<&crate::job::bench::CipherPoint> = t.cipher.iter().collect();
    points.sort_by_key(|c| (c.label(), c.direction, c.size));
    let rows = points
        .into_iter()
        .map(|c| {
            row(
                vec![
                    c.label(),
                    if c.direction == crate::domain::Direction::Egress {
                        "encrypt"
                    } else {
                        "decrypt"
                    }
                    .into(),
                    c.size.to_string(),
                    c.cipher_bytes.to_string(),
                    med(&c.ns, 1.0),
                    range(&c.ns, 1.0),
                    med(&c.gbps, 1.0),
                    times(
                        c.ns.as_ref().map(|s| s.median),
                        t.hardware_ns(c.algorithm, c.direction, c.size),
                    ),
                    c.error.clone().unwrap_or_else(|| "ok".into()),
                ],
                c.error.is_some(),
            )
        })
        .collect();
    Some(Table {
        title: format!("Limit: the cipher kfunc alone — {}", t.env.label(&t.target)),
        note: where_measured(t),
        headers: headers(&[
            "cipher",
            "operation",
            "packet size (B)",
            "cipher bytes",
            "ns/packet",
            "min–max",
            "Gbit/s (packet equivalent)",
            "× hardware",
            "check",
        ]),
        rows,
    })
}

/// UDP figures of a target.
pub(crate) fn udp(t: &TargetResult) -> Option<Table> {
    if t.udp.is_empty() {
        return None;
    }
    let rows = t
        .udp
        .iter()
        .map(|u| {
            let ok = u.check.ok;
            let name = if u.variant == BenchVariant::NoProgram {
                "no program"
            } else {
                u.variant.as_str()
            };
            row(
                vec![
                    name.into(),
                    u.size.to_string(),
                    if ok {
                        med(&u.pps, 1e-3)
                    } else {
                        "FAILED".into()
                    },
                    range(&u.pps, 1e-3),
                    med(&u.goodput_gbps, 1.0),
                    u.loss
                        .as_ref()
                        .map_or("-".into(), |l| format!("{:.1}%", l.median * 100.0)),
                    u.cpu_util
                        .as_ref()
                        .map_or("-".into(), |c| format!("{:.0}%", c.median * 100.0)),
                    med(&u.cpu_ns_per_packet, 1.0),
                    pct(u.ratio_to_baseline),
                    pct(u.ratio_to_cipher),
                    times(
                        u.cpu_ns_per_packet.as_ref().map(|s| s.median),
                        hardware_round_trip(t, u.variant, u.size),
                    ),
                    if ok {
                        format!("ok ({} of {} delivered)", u.received, u.sent)
                    } else {
                        u.check.detail.clone()
                    },
                ],
                !ok,
            )
        })
        .collect();
    Some(Table {
        title: format!("UDP over the veth pair — {}", t.env.label(&t.target)),
        note: where_measured(t),
        headers: headers(&[
            "variant",
            "size (B)",
            "kpackets/s",
            "min–max",
            "goodput Gbit/s",
            "loss",
            "CPU busy",
            "CPU ns/packet",
            "vs no program",
            "vs cipher limit",
            "CPU × hardware enc+dec (its cipher, else cbc)",
            "check",
        ]),
        rows,
    })
}

/// TCP figures of a target.
pub(crate) fn tcp(t: &TargetResult) -> Option<Table> {
    if t.tcp.is_empty() {
        return None;
    }
    let sum = |c: &std::collections::BTreeMap<String, crate::domain::Counters>, k: &str| -> u64 {
        c.values().map(|m| m.get(k).copied().unwrap_or(0)).sum()
    };
    let rows = t
        .tcp
        .iter()
        .map(|c| {
            let name = if c.variant == BenchVariant::NoProgram {
                "no program"
            } else {
                c.variant.as_str()
            };
            row(
                vec![
                    name.into(),
                    c.offloads.clone(),
                    c.applied.get("left").cloned().unwrap_or_default(),
                    med(&c.goodput_gbps, 1.0),
                    range(&c.goodput_gbps, 1.0),
                    c.status.clone(),
                    c.retransmits.to_string(),
                    sum(&c.counters, "dropped_unsupported").to_string(),
                    (sum(&c.counters, "errors") + sum(&c.counters, "dropped_invalid")).to_string(),
                    pct(c.ratio_to_baseline),
                ],
                c.status != "ok",
            )
        })
        .collect();
    Some(Table {
        title: format!("TCP over the veth pair — {}", t.env.label(&t.target)),
        note: format!(
            "{} — a stalled connection is reported as such (0 Gbit/s), with the data plane's drops",
            where_measured(t)
        ),
        headers: headers(&[
            "variant",
            "offloads",
            "applied (left)",
            "goodput Gbit/s",
            "min–max",
            "status",
            "retransmits",
            "dropped: GSO/unsupported",
            "errors + invalid",
            "vs no program",
        ]),
        rows,
    })
}

/// The hardware reference: each cipher in userspace on one core.
pub(crate) fn hardware(t: &TargetResult) -> Option<Table> {
    t.hardware.first()?;
    // Each implementation once, with the ciphers it ran.
    let mut implementations: Vec<(Vec<&str>, &str)> = Vec::new();
    for h in &t.hardware {
        let name = h.algorithm.kernel_name();
        match implementations
            .iter_mut()
            .find(|(_, i)| *i == h.implementation)
        {
            Some((names, _)) if !names.contains(&name) => names.push(name),
            Some(_) => {}
            None => implementations.push((vec![name], &h.implementation)),
        }
    }
    let implementations: Vec<String> = implementations
        .iter()
        .map(|(names, i)| format!("{}: {i}", names.join(", ")))
        .collect();
    let rows = t
        .hardware
        .iter()
        .map(|h| {
            let op = if h.direction == crate::domain::Direction::Egress {
                "encrypt"
            } else {
                "decrypt"
            };
            row(
                vec![
                    h.algorithm.kernel_name().into(),
                    op.into(),
                    h.size.to_string(),
                    med(&h.ns, 1.0),
                    range(&h.ns, 1.0),
                    med(&h.gbps, 1.0),
                ],
                h.ns.is_none(),
            )
        })
        .collect();
    Some(Table {
        title: format!(
            "Hardware reference: the ciphers in userspace — {}",
            t.env.label(&t.target)
        ),
        note: format!(
            "{}; {} — the same cipher bytes per packet as the data plane, no kernel involved \
             (chacha20-poly1305: the packet padded to 16 bytes sealed and opened as WireGuard does)",
            where_measured(t),
            implementations.join("; ")
        ),
        headers: headers(&[
            "cipher",
            "operation",
            "packet size (B)",
            "ns/packet",
            "min–max",
            "Gbit/s (packet equivalent)",
        ]),
        rows,
    })
}

/// What the plan asked for that this kernel does not have.
pub(crate) fn unavailable(t: &TargetResult) -> Option<Table> {
    if t.unavailable.is_empty() {
        return None;
    }
    let rows = t
        .unavailable
        .iter()
        .map(|u| row(vec![u.what.clone(), u.reason.clone()], true))
        .collect();
    Some(Table {
        title: format!("Unavailable on this kernel — {}", t.env.label(&t.target)),
        note: "not measured, and not left out silently: the kernel refused them".into(),
        headers: headers(&["variant or driver", "reason"]),
        rows,
    })
}
