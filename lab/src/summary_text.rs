//! The short human summary printed at the end of a run.

use std::fmt::Write;

use crate::results::{Summary, Verdict};

/// Renders the terminal summary of a run.
pub fn render(s: &Summary, location: &str) -> String {
    let mut out = String::new();
    let accel = s
        .accelerator
        .as_deref()
        .map(|a| format!(", {a}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n{} · {} · {} ({}{accel})",
        s.scenario.name, s.cipher, s.backend, s.kernel
    );
    if let Some(r) = &s.report {
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
