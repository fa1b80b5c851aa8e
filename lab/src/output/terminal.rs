//! What the terminal shows at the end of a command: the summary of a run
//! and of a bench.

use std::fmt::Write;
use std::path::Path;

use super::baseline;
use super::bench_doc::BenchDoc;
use super::summary::{Summary, Verdict};
use crate::job::bench::TargetResult;
use crate::job::run_report::RunReport;

/// One line per check.
fn assertions(out: &mut String, r: &RunReport) {
    let width = r.assertions.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for a in &r.assertions {
        let mark = if a.pass { "PASS" } else { "FAIL" };
        let _ = writeln!(
            out,
            "  {mark}  {:<width$}  expected {}; observed {}",
            a.name, a.expected, a.observed
        );
    }
}

/// Renders the terminal summary of a run.
pub(crate) fn run(s: &Summary, location: &str) -> String {
    let mut out = String::new();
    let accel = s
        .accelerator
        .as_deref()
        .map(|a| format!(", {a}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n{} · {} · {} · {} ({}{accel})",
        s.scenario.name, s.cipher, s.wire, s.backend, s.kernel
    );
    if let Some(d) = &s.dataplane {
        let _ = writeln!(out, "  data plane {} (sha256 {})", d.path, d.sha256);
    }
    if let Some(r) = &s.report {
        assertions(&mut out, r);
        if let Some(b) = &r.baseline {
            let _ = writeln!(out, "\n  baseline {} · {} ({})", b.name, b.wire, b.source);
            assertions(&mut out, &b.report);
            let rows = baseline::side_by_side(r, &b.report);
            let width = rows.iter().map(|x| x[0].len()).max().unwrap_or(0);
            let _ = writeln!(out, "\n  {:<width$}  {} | {}", "", s.scenario.name, b.name);
            for [q, this, base] in rows {
                let _ = writeln!(out, "  {q:<width$}  {this} | {base}");
            }
        }
    }
    if let Some(e) = &s.error {
        let _ = writeln!(
            out,
            "  {}: {e}",
            if s.verdict == Verdict::Unsupported {
                "UNSUPPORTED"
            } else {
                "ERROR"
            }
        );
    }
    if !s.phases.is_empty() {
        let _ = writeln!(out, "  time: {}", phase_line(&s.phases));
    }
    let verdict = match s.verdict {
        Verdict::Pass => "ok",
        Verdict::Fail => "FAILED",
        Verdict::Unsupported => "unsupported",
        Verdict::Error => "error",
    };
    let _ = writeln!(
        out,
        "{verdict}: {} passed, {} failed ({:.1} s) → {location}",
        s.passed,
        s.failed,
        s.duration_ms as f64 / 1000.0
    );
    out
}

/// The phases on one line: `qemu start 0.31 s · kernel boot … · …`.
fn phase_line(phases: &[crate::job::phases::PhaseTime]) -> String {
    phases
        .iter()
        .map(|p| format!("{} {:.2} s", p.phase, p.ms as f64 / 1000.0))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// One line about a finished target.
pub(crate) fn target_line(t: &TargetResult) -> String {
    if let Some(u) = &t.unsupported {
        return format!("unsupported: {u}");
    }
    let failed = t.micro.iter().filter(|m| !m.check.ok).count()
        + t.udp.iter().filter(|u| !u.check.ok).count();
    let mut s = format!(
        "{} micro, {} cipher, {} udp, {} tcp figures",
        t.micro.len(),
        t.cipher.len(),
        t.udp.len(),
        t.tcp.len()
    );
    if failed > 0 {
        let _ = write!(s, "; {failed} FAILED their checks");
    }
    if let Some(e) = &t.error {
        let _ = write!(s, "; stopped: {}", e.lines().next().unwrap_or_default());
    }
    s
}

fn fmt_opt(x: Option<f64>, digits: usize) -> String {
    x.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// Renders the terminal summary of a bench: every figure at the largest
/// size, so that all variants (ours, the kernel's, each driver) and the
/// hardware line sit one under the other.
pub(crate) fn bench(doc: &BenchDoc, path: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "bench {} · {} target(s)",
        doc.plan.name,
        doc.targets.len()
    );
    let big = *doc.plan.sizes.last().unwrap_or(&0);
    for t in &doc.targets {
        let _ = writeln!(out, "  {}", t.env.label(&t.target));
        if let Some(u) = &t.unsupported {
            let _ = writeln!(out, "    unsupported: {u}");
            continue;
        }
        bench_micro(&mut out, t, big);
        bench_cipher(&mut out, t, big);
        bench_flows(&mut out, t, big);
        for u in &t.unavailable {
            let _ = writeln!(out, "    unavailable {}: {}", u.what, u.reason);
        }
        if let Some(e) = &t.error {
            let _ = writeln!(out, "    error: {}", e.lines().next().unwrap_or_default());
        }
    }
    if let Some(l) = &doc.vm_loop {
        let _ = writeln!(out, "  the lab's VM loop");
        for line in crate::output::bench_report::vm_loop::findings(l) {
            let _ = writeln!(out, "    {line}");
        }
    }
    let _ = writeln!(out, "→ {}", path.display());
    out
}

fn micro_fig(ns: Option<f64>, gbps: Option<f64>) -> String {
    format!("{:>9} ns {:>8} Gbit/s", fmt_opt(ns, 0), fmt_opt(gbps, 2))
}

/// The data plane programs, one line per build and direction.
fn bench_micro(out: &mut String, t: &TargetResult, big: u32) {
    let points = t.micro.iter().filter(|m| m.size == big);
    let width = points.clone().map(|m| m.label().len()).max().unwrap_or(8);
    for m in points {
        let fig = if m.check.ok {
            let share = m
                .ratio_to_cipher
                .map_or(String::new(), |r| format!("  {:.0}% cipher", r * 100.0));
            micro_fig(
                m.ns.as_ref().map(|s| s.median),
                m.gbps.as_ref().map(|s| s.median),
            ) + &share
        } else {
            format!("FAILED: {}", m.check.detail)
        };
        let _ = writeln!(
            out,
            "    micro {:<width$} {:<7} {big} B  {fig}",
            m.label(),
            m.direction.as_str()
        );
    }
}

/// The kfunc alone per driver, and the userspace (hardware) reference.
fn bench_cipher(out: &mut String, t: &TargetResult, big: u32) {
    for c in t.cipher.iter().filter(|c| c.size == big) {
        let fig = match &c.error {
            Some(e) => format!("FAILED: {e}"),
            None => micro_fig(
                c.ns.as_ref().map(|s| s.median),
                c.gbps.as_ref().map(|s| s.median),
            ),
        };
        let _ = writeln!(
            out,
            "    kfunc {:<28} {:<7} {big} B  {fig}",
            c.label(),
            c.direction.as_str()
        );
    }
    for h in t.hardware.iter().filter(|h| h.size == big) {
        let fig = micro_fig(
            h.ns.as_ref().map(|s| s.median),
            h.gbps.as_ref().map(|s| s.median),
        );
        let name = format!("{} [{}]", h.algorithm.kernel_name(), h.implementation);
        let _ = writeln!(
            out,
            "    user  {name:<28} {:<7} {big} B  {fig}",
            h.direction.as_str()
        );
    }
}

/// UDP and TCP over the veth pair.
fn bench_flows(out: &mut String, t: &TargetResult, big: u32) {
    for u in t.udp.iter().filter(|u| u.size == big) {
        let fig = if u.check.ok {
            format!(
                "{:>8} kpps {:>6} Gbit/s loss {:>5}% {:>8} ns CPU/pkt",
                fmt_opt(u.pps.as_ref().map(|s| s.median / 1e3), 1),
                fmt_opt(u.goodput_gbps.as_ref().map(|s| s.median), 2),
                fmt_opt(u.loss.as_ref().map(|s| s.median * 100.0), 1),
                fmt_opt(u.cpu_ns_per_packet.as_ref().map(|s| s.median), 0)
            )
        } else {
            format!("FAILED: {}", u.check.detail)
        };
        let _ = writeln!(out, "    udp   {:<16} {big} B  {fig}", u.variant.as_str());
    }
    for c in &t.tcp {
        let _ = writeln!(
            out,
            "    tcp   {:<16} offloads {:<16} {:>6} Gbit/s  {}",
            c.variant.as_str(),
            c.offloads,
            fmt_opt(c.goodput_gbps.as_ref().map(|s| s.median), 2),
            c.status
        );
    }
}
