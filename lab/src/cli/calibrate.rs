//! `lab bench BENCH --calibrate`: how far a paired bench can be trusted on
//! this machine, measured rather than assumed. A/A runs measure our
//! objects against themselves (every flag is a false alarm); A/B runs
//! measure the `--inject extra-copy` build against the plain one (micro
//! only: the extra copy of the copy build at 1500 B must be flagged); the
//! spread of the A/A log-ratios gives the smallest regression each part
//! detects with 95 % power. Prints a Markdown report and writes it, with
//! every run's tally, into a results folder.

use std::fmt::Write;
use std::time::Instant;

use anyhow::{Result, bail};
use serde::Serialize;

use super::args::BenchArgs;
use super::baseline;
use super::bench::{candidate_label, measure};
use crate::domain::BenchVariant;
use crate::exec::bench::points;
use crate::job::bench::TargetResult;
use crate::output::compare::Verdict;
use crate::output::compare::metric::Better;
use crate::output::paired::{self, PairedReport};
use crate::output::progress::Bar;
use crate::output::results_dir::ResultsDir;
use crate::output::{exit, safe_write};
use crate::spec::bench_plan::{BenchPlan, Inject};
use crate::{spec, target};

/// At most this share of A/A figures may be flagged.
const AA_MAX_FLAGGED: f64 = 0.01;
/// The copy build at 1500 B must be flagged in at least this share of A/B runs.
const AB_MIN_DETECTED: f64 = 0.95;
/// The point the A/B runs must flag.
const AB_POINT: &str = "copy egress 1500 B";

/// One paired run's tally.
#[derive(Debug, Serialize)]
struct RunTally {
    kind: &'static str,
    seconds: f64,
    figures: usize,
    flagged: Vec<String>,
    detected: bool,
    ratio: Option<f64>,
}

/// Runs the calibration; exit 0 when both criteria hold, 1 otherwise.
pub(crate) fn calibrate(a: &BenchArgs) -> Result<i32> {
    let max_regression = a.max_regression()?;
    let mut plan = spec::bench::load(&a.bench)?;
    if a.quick {
        plan = plan.quick();
    }
    let plan = &plan;
    target::host::preflight()?;
    let mut aa_plan = plan.clone();
    (
        aa_plan.cipher,
        aa_plan.tcp,
        aa_plan.hardware,
        aa_plan.vm_loop,
    ) = (None, None, None, None);
    let builds = baseline::needed_builds(&aa_plan);
    if builds.is_empty() || aa_plan.micro.is_none() {
        bail!(
            "{}: calibration needs a micro part with our variants",
            plan.source
        );
    }
    if !plan.sizes.contains(&1500) || !plan.variants.contains(&BenchVariant::Copy) {
        bail!(
            "{}: calibration needs the copy variant at 1500 B (the A/B figure)",
            plan.source
        );
    }
    aa_plan.baseline = Some(Box::new(baseline::embedded(&builds)));
    let mut ab_plan = aa_plan.clone();
    (ab_plan.udp, ab_plan.inject) = (None, Some(Inject::ExtraCopy));
    let load_before = loadavg();
    let t0 = Instant::now();
    let mut runs = Vec::new();
    let mut reports = Vec::new();
    let mut env = None;
    let total = a.aa_runs as u64 * points(&aa_plan) + a.ab_runs as u64 * points(&ab_plan);
    let bar = Bar::new(total);
    for (kind, p, n) in [("A/A", &aa_plan, a.aa_runs), ("A/B", &ab_plan, a.ab_runs)] {
        for i in 0..n {
            let started = Instant::now();
            let progress = bar.for_target(&format!("{kind} {}/{n}", i + 1));
            let tmp = tempfile::tempdir()?;
            let r = measure(p, "host", None, a.vm.options()?, tmp.path(), &progress)?;
            if let Some(e) = r.error.as_ref().or(r.unsupported.as_ref()) {
                bail!("{kind} run {}: {e}", i + 1);
            }
            let label = candidate_label(p, "this build");
            let report = paired::judge(
                std::slice::from_ref(&r),
                (&label, "the plain objects"),
                max_regression,
            );
            let tally = tally(kind, &report, started.elapsed().as_secs_f64());
            bar.println(&format!(
                "  {kind} {}/{n}: {} figures, flagged: {}",
                i + 1,
                tally.figures,
                if tally.flagged.is_empty() {
                    "none".into()
                } else {
                    tally.flagged.join(", ")
                }
            ));
            env.get_or_insert_with(|| r.clone());
            runs.push(tally);
            reports.push((kind, report));
        }
    }
    bar.finish();
    let conditions = Conditions {
        env: env.as_ref(),
        plan: &aa_plan,
        load: (load_before, loadavg()),
        minutes: t0.elapsed().as_secs_f64() / 60.0,
        max_regression,
    };
    let (text, ok) = render(&conditions, &runs, &reports);
    let dir = ResultsDir::create(&a.results.results_dir, &plan.name, "calibration")?;
    safe_write::write(&dir.path().join("calibration.md"), &text)?;
    let path = dir.commit(&serde_json::json!({ "kind": "calibration", "ok": ok, "runs": runs }))?;
    print!("{text}");
    println!("→ {}", path.join("calibration.md").display());
    Ok(if ok { exit::PASS } else { exit::FAIL })
}

/// The host's load average (1, 5, 15 minutes), as /proc/loadavg has it.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The flagged figures of a run, and for A/B whether the copy build at
/// 1500 B was flagged.
fn tally(kind: &'static str, r: &PairedReport, seconds: f64) -> RunTally {
    let flagged = r
        .rows
        .iter()
        .filter(|row| row.verdict == Verdict::Regression)
        .map(|row| format!("{} {} {}", row.part, row.point, row.figure))
        .collect();
    let copy = r
        .rows
        .iter()
        .find(|row| row.part == "micro" && row.point == AB_POINT);
    RunTally {
        kind,
        seconds,
        figures: r.rows.len(),
        flagged,
        detected: copy.is_some_and(|row| row.verdict == Verdict::Regression),
        ratio: copy.and_then(|row| row.paired).map(|p| p.ratio),
    }
}

/// What the calibration ran on and how.
struct Conditions<'a> {
    env: Option<&'a TargetResult>,
    plan: &'a BenchPlan,
    load: (String, String),
    minutes: f64,
    max_regression: f64,
}

/// Whether a figure's build carries the injected extra copy.
fn injected(point: &str) -> bool {
    ["copy ", "ecb(aes) ", "cbc(aes) "]
        .iter()
        .any(|p| point.starts_with(p))
}

/// The report (Markdown) and whether both criteria hold.
fn render(c: &Conditions, runs: &[RunTally], reports: &[(&str, PairedReport)]) -> (String, bool) {
    let mut out = String::new();
    let _ = writeln!(out, "## Calibration of the paired bench\n");
    if let Some(t) = c.env {
        let _ = writeln!(
            out,
            "Host: kernel {}, {}, {} CPUs; load average {} before, {} after; {:.1} minutes.",
            t.env.kernel, t.env.cpu_model, t.env.cpus, c.load.0, c.load.1, c.minutes
        );
    }
    let p = c.plan;
    let micro = p.micro.as_ref().map_or(String::new(), |m| {
        format!(
            "micro {} rounds × {} ms (+{} warm-up)",
            m.rounds, m.round_ms, m.warmup_rounds
        )
    });
    let udp = p.udp.as_ref().map_or(String::new(), |u| {
        format!(
            ", udp {} rounds × {} ms (A/A only)",
            u.rounds, u.duration_ms
        )
    });
    let sizes: Vec<String> = p.sizes.iter().map(|s| s.to_string()).collect();
    let variants: Vec<&str> = p.variants.iter().map(|v| v.as_str()).collect();
    let _ = writeln!(
        out,
        "Bench {}: {micro}{udp}; sizes {} B; variants {}; threshold {} %.\n",
        p.source,
        sizes.join("/"),
        variants.join(", "),
        c.max_regression
    );
    let aa: Vec<&RunTally> = runs.iter().filter(|r| r.kind == "A/A").collect();
    let ab: Vec<&RunTally> = runs.iter().filter(|r| r.kind == "A/B").collect();
    let aa_figures: usize = aa.iter().map(|r| r.figures).sum();
    let aa_flagged: usize = aa.iter().map(|r| r.flagged.len()).sum();
    let aa_ok = aa_figures > 0 && (aa_flagged as f64) <= AA_MAX_FLAGGED * aa_figures as f64;
    let share = |a: usize, b: usize| {
        if b == 0 {
            0.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    let _ = writeln!(
        out,
        "- **A/A** (our objects against themselves): {} paired runs, {aa_figures} figures, {aa_flagged} flagged ({:.1} %; at most {:.0} % allowed): {}.",
        aa.len(),
        share(aa_flagged, aa_figures),
        AA_MAX_FLAGGED * 100.0,
        if aa_ok { "holds" } else { "FAILS" }
    );
    let detected = ab.iter().filter(|r| r.detected).count();
    let ab_ok = !ab.is_empty() && detected as f64 >= AB_MIN_DETECTED * ab.len() as f64;
    let ratios: Vec<f64> = ab.iter().filter_map(|r| r.ratio).collect();
    let (lo, hi) = ratios
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(l, h), &q| (l.min(q), h.max(q)));
    let _ = writeln!(
        out,
        "- **A/B** (`--inject extra-copy` against the plain build, micro): {AB_POINT} flagged in {detected} of {} runs ({:.0} %; at least {:.0} % required): {}; its ratio ranged {lo:.3}–{hi:.3}.",
        ab.len(),
        share(detected, ab.len()),
        AB_MIN_DETECTED * 100.0,
        if ab_ok { "holds" } else { "FAILS" }
    );
    let (ab_clean, ab_false): (usize, usize) = reports
        .iter()
        .filter(|(k, _)| *k == "A/B")
        .flat_map(|(_, r)| r.rows.iter().filter(|row| !injected(&row.point)))
        .fold((0, 0), |(n, f), row| {
            (n + 1, f + usize::from(row.verdict == Verdict::Regression))
        });
    let _ = writeln!(
        out,
        "- A/B figures without an injected change (noop, ESP): {ab_false} of {ab_clean} flagged.\n"
    );
    detectable(&mut out, reports, c.max_regression);
    (out, aa_ok && ab_ok)
}

/// The smallest regression each part detects with 95 % power, from the
/// A/A runs: the standard error within a run (its rounds) and, per
/// figure, how much its ratio moved from run to run, pooled over the
/// part's figures and for its most unsteady figure.
fn detectable(out: &mut String, reports: &[(&str, PairedReport)], max_regression: f64) {
    let _ = writeln!(
        out,
        "Smallest regression one paired run detects with 95 % power, from the A/A runs (within-run \
         standard error of the mean log-ratio, and its run-to-run spread per figure):\n"
    );
    let _ = writeln!(
        out,
        "| part | figure | rounds | within-run s.e. | run-to-run sd, pooled (worst) | largest A/A difference | beyond {max_regression} %, pooled (worst) | any change, pooled |\n|---|---|---|---|---|---|---|---|"
    );
    let t = max_regression / 100.0;
    let aa: Vec<&PairedReport> = reports
        .iter()
        .filter(|(k, _)| *k == "A/A")
        .map(|(_, r)| r)
        .collect();
    let mut parts: Vec<(&str, &str, Better)> = Vec::new();
    for row in aa.iter().flat_map(|r| &r.rows) {
        if !parts
            .iter()
            .any(|(p, f, _)| *p == row.part && *f == row.figure)
        {
            parts.push((row.part, row.figure, row.metric.better));
        }
    }
    for (part, figure, better) in parts {
        let rows = || {
            aa.iter()
                .flat_map(|r| &r.rows)
                .filter(move |r| r.part == part && r.figure == figure)
        };
        let runs: Vec<_> = rows().filter_map(|r| r.paired).collect();
        let n = runs.iter().map(|p| p.n).min().unwrap_or(0);
        let se: Vec<f64> = runs
            .iter()
            .map(|p| p.sd_log / (p.n as f64).sqrt())
            .collect();
        let mut points: Vec<&str> = rows().map(|r| r.point.as_str()).collect();
        points.dedup();
        points.sort_unstable();
        points.dedup();
        let between: Vec<f64> = points
            .iter()
            .filter_map(|pt| {
                let logs: Vec<f64> = rows()
                    .filter(|r| r.point == *pt)
                    .filter_map(|r| r.paired.map(|p| p.mean_log))
                    .collect();
                paired::stats::sd(&logs)
            })
            .collect();
        let largest = runs
            .iter()
            .map(|p| (p.ratio - 1.0).abs())
            .fold(0.0, f64::max);
        let (Some(se), Some(pooled)) = (
            paired::stats::pooled_sd(&se),
            paired::stats::pooled_sd(&between),
        ) else {
            continue;
        };
        let worst = between.iter().copied().fold(0.0, f64::max);
        let at = |b: f64, t: f64| {
            match better {
                Better::Higher => paired::stats::detectable_drop(se, b, n, t)
                    .map(|d| format!("−{:.1} %", d * 100.0)),
                _ => paired::stats::detectable(se, b, n, t).map(|d| format!("+{:.1} %", d * 100.0)),
            }
            .unwrap_or_else(|| "—".into())
        };
        let _ = writeln!(
            out,
            "| {part} | {figure} | {n} | {:.2} % | {:.1} % ({:.1} %) | {:.1} % | {} ({}) | {} |",
            se * 100.0,
            pooled * 100.0,
            worst * 100.0,
            largest * 100.0,
            at(pooled, t),
            at(worst, t),
            at(pooled, 0.0)
        );
    }
    out.push('\n');
}
