//! What the terminal shows at the end of a command: the summary of a run
//! and of a bench.

use std::fmt::Write;
use std::path::Path;

use super::baseline;
use super::bench_doc::BenchDoc;
use super::summary::{Summary, Verdict};
use crate::domain::{BenchVariant, Direction};
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

/// A terminal summary: per target the headline figures at the largest size.
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
        for v in [
            BenchVariant::Noop,
            BenchVariant::Copy,
            BenchVariant::Ecb,
            BenchVariant::Cbc,
        ] {
            for d in [Direction::Egress, Direction::Ingress] {
                let Some(m) = t.micro_at(v, d, big) else {
                    continue;
                };
                let fig = if m.check.ok {
                    format!(
                        "{:>9} ns {:>8} Gbit/s{}",
                        fmt_opt(m.ns.as_ref().map(|s| s.median), 0),
                        fmt_opt(m.gbps.as_ref().map(|s| s.median), 2),
                        m.ratio_to_cipher
                            .map_or(String::new(), |r| format!("  {:.0}% cipher", r * 100.0))
                    )
                } else {
                    format!("FAILED: {}", m.check.detail)
                };
                let _ = writeln!(
                    out,
                    "    micro {:<8} {:<7} {big} B  {fig}",
                    v.as_str(),
                    d.as_str()
                );
            }
        }
        for u in t.udp.iter().filter(|u| u.size == big) {
            let fig = if u.check.ok {
                format!(
                    "{:>8} kpps {:>6} Gbit/s loss {:>5}%",
                    fmt_opt(u.pps.as_ref().map(|s| s.median / 1e3), 1),
                    fmt_opt(u.goodput_gbps.as_ref().map(|s| s.median), 2),
                    fmt_opt(u.loss.as_ref().map(|s| s.median * 100.0), 1)
                )
            } else {
                format!("FAILED: {}", u.check.detail)
            };
            let _ = writeln!(out, "    udp   {:<8} {big} B  {fig}", u.variant.as_str());
        }
        for c in &t.tcp {
            let _ = writeln!(
                out,
                "    tcp   {:<8} offloads {:<16} {:>6} Gbit/s  {}",
                c.variant.as_str(),
                c.offloads,
                fmt_opt(c.goodput_gbps.as_ref().map(|s| s.median), 2),
                c.status
            );
        }
        if let Some(e) = &t.error {
            let _ = writeln!(out, "    error: {}", e.lines().next().unwrap_or_default());
        }
    }
    let _ = writeln!(out, "→ {}", path.display());
    out
}
