//! The report's view of the lab's own VM loop: one table of phases and
//! wall times, and the sentences for the Findings.

use super::tables::{Row, Table, num};
use crate::output::bench_doc::VmLoop;

fn secs(ms: f64) -> String {
    format!("{} s", num(ms / 1000.0))
}

fn verdict(ms: f64, target: u64) -> &'static str {
    if ms <= target as f64 { "met" } else { "missed" }
}

fn accel(l: &VmLoop) -> String {
    l.accelerator
        .clone()
        .unwrap_or_else(|| "unknown accelerator".into())
}

/// The phases of the timed scenario runs, then the wall times.
pub(crate) fn table(l: &VmLoop) -> Table {
    let wall = l.run_ms.as_ref().map(|s| s.median);
    let share = |ms: f64| wall.map_or("-".into(), |w| format!("{:.0}%", ms / w * 100.0));
    let mut rows: Vec<Row> = l
        .phases
        .iter()
        .map(|p| Row {
            cells: vec![p.phase.clone(), secs(p.ms as f64), share(p.ms as f64)],
            failed: false,
        })
        .collect();
    if let Some(w) = wall {
        let listed: f64 = l.phases.iter().map(|p| p.ms as f64).sum();
        rows.push(Row {
            cells: vec![
                "other (lab start, results folder, …)".into(),
                secs((w - listed).max(0.0)),
                share((w - listed).max(0.0)),
            ],
            failed: false,
        });
        rows.push(Row {
            cells: vec![
                format!(
                    "lab run, wall (target ≤ {}: {})",
                    secs(l.run_target_ms as f64),
                    verdict(w, l.run_target_ms)
                ),
                secs(w),
                "100%".into(),
            ],
            failed: false,
        });
    }
    if let Some(m) = l.matrix_ms {
        rows.push(Row {
            cells: vec![
                format!(
                    "lab matrix over {}, wall (target ≤ {}: {})",
                    l.matrix_targets.join(", "),
                    secs(l.matrix_target_ms as f64),
                    verdict(m as f64, l.matrix_target_ms)
                ),
                secs(m as f64),
                "-".into(),
            ],
            failed: false,
        });
    }
    for e in &l.errors {
        rows.push(Row {
            cells: vec![e.clone(), "-".into(), "-".into()],
            failed: true,
        });
    }
    let rounds = l.run_ms.as_ref().map_or(0, |s| s.n);
    Table {
        title: format!("The lab's VM loop: {} on {}", l.scenario, l.kernel),
        note: format!(
            "{} ({}), medians of {rounds} timed `lab run` (the phases from each run's summary.json) and one `lab matrix`, each a child process of this bench",
            l.kernel,
            accel(l)
        ),
        headers: vec!["phase".into(), "time".into(), "of the run".into()],
        rows,
    }
}

/// Sentences for the Findings, each with its figure.
pub(crate) fn findings(l: &VmLoop) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(w) = l.run_ms.as_ref().map(|s| s.median) {
        let mut top: Vec<_> = l.phases.iter().collect();
        top.sort_by_key(|p| std::cmp::Reverse(p.ms));
        let largest: Vec<String> = top
            .iter()
            .take(3)
            .map(|p| format!("{} {}", p.phase, secs(p.ms as f64)))
            .collect();
        out.push(format!(
            "`lab run {}` on {} ({}) takes {} wall, target ≤ {}: {}; the largest phases: {}.",
            l.scenario,
            l.kernel,
            accel(l),
            secs(w),
            secs(l.run_target_ms as f64),
            verdict(w, l.run_target_ms),
            largest.join(", ")
        ));
    }
    if let Some(m) = l.matrix_ms {
        out.push(format!(
            "`lab matrix` over {} takes {}, target ≤ {}: {}.",
            l.matrix_targets.join(", "),
            secs(m as f64),
            secs(l.matrix_target_ms as f64),
            verdict(m as f64, l.matrix_target_ms)
        ));
    }
    for e in &l.errors {
        out.push(format!("Not measured: {e}."));
    }
    out
}
