//! One `lab run`: plan → backend → results folder → terminal summary.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::backend::{Backend, Execution, Outcome};
use crate::plan::Plan;
use crate::results::{ResultsDir, SUMMARY_SCHEMA, ScenarioInfo, Summary, Verdict};

/// Process exit codes of `lab run`.
pub mod exit {
    /// Every assertion passed.
    pub const PASS: i32 = 0;
    /// An assertion failed.
    pub const FAIL: i32 = 1;
    /// Bad input or the harness could not run.
    pub const USAGE: i32 = 2;
    /// The kernel does not support the data plane.
    pub const UNSUPPORTED: i32 = 3;
    /// The system under test failed (verifier, panic, timeout).
    pub const ERROR: i32 = 4;
    /// Interrupted by Ctrl-C or SIGTERM.
    pub const INTERRUPTED: i32 = 130;
}

/// Runs `plan` on `backend`, writes `results/<run-id>/` and returns the summary and its folder.
pub fn run(
    plan: &Plan,
    backend: &dyn Backend,
    results_root: &Path,
    progress: &dyn Fn(&str),
) -> Result<(Summary, PathBuf)> {
    let dir = ResultsDir::create(results_root, &plan.name, &backend.name())?;
    let summary = execute_into(plan, backend, dir.run_id(), dir.path(), progress)?;
    write_reports(&summary, dir.path())?;
    let path = dir.commit(&summary)?;
    Ok((summary, path))
}

/// Writes `report.md` and `report.html` for a run into `dir`.
pub fn write_reports(summary: &Summary, dir: &Path) -> Result<()> {
    use anyhow::Context as _;
    std::fs::write(dir.join("report.md"), crate::run_report::markdown(summary))
        .context("writing report.md")?;
    std::fs::write(dir.join("report.html"), crate::run_report::html(summary))
        .context("writing report.html")?;
    Ok(())
}

/// Runs `plan` on `backend` with artifacts in `out_dir` and builds its summary.
pub fn execute_into(
    plan: &Plan,
    backend: &dyn Backend,
    run_id: &str,
    out_dir: &Path,
    progress: &dyn Fn(&str),
) -> Result<Summary> {
    let started_at = chrono::Local::now().to_rfc3339();
    let t0 = Instant::now();
    let exec = backend.execute(plan, out_dir, progress)?;
    Ok(summarize(
        plan,
        &backend.name(),
        run_id,
        started_at,
        t0.elapsed(),
        exec,
    ))
}

/// Builds a summary from a backend's execution.
pub fn summarize(
    plan: &Plan,
    backend: &str,
    run_id: &str,
    started_at: String,
    elapsed: Duration,
    exec: Execution,
) -> Summary {
    let (verdict, error, report) = match exec.outcome {
        Outcome::Completed(r) => (
            if r.passed() {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            None,
            Some(*r),
        ),
        Outcome::Unsupported(why) => (Verdict::Unsupported, Some(why), None),
        Outcome::Failed(why) => (Verdict::Error, Some(why), None),
    };
    let passed = report
        .as_ref()
        .map_or(0, |r| r.assertions.iter().filter(|a| a.pass).count());
    let failed = report.as_ref().map_or(0, |r| r.assertions.len() - passed);
    Summary {
        schema: SUMMARY_SCHEMA,
        run_id: run_id.to_string(),
        scenario: ScenarioInfo {
            name: plan.name.clone(),
            source: plan.source.clone(),
            description: plan.description.clone(),
        },
        cipher: plan.cipher.algorithm.kernel_name().to_string(),
        key_hex: plan.cipher.key.iter().map(|b| format!("{b:02x}")).collect(),
        backend: backend.to_string(),
        kernel: exec.kernel,
        kernel_name: exec.kernel_name,
        accelerator: exec.accelerator,
        kernel_events: exec.kernel_events,
        probe: exec.probe,
        started_at,
        duration_ms: elapsed.as_millis() as u64,
        verdict,
        passed,
        failed,
        error,
        report,
    }
}

/// Exit code for a verdict.
pub fn exit_code(v: Verdict) -> i32 {
    match v {
        Verdict::Pass => exit::PASS,
        Verdict::Fail => exit::FAIL,
        Verdict::Unsupported => exit::UNSUPPORTED,
        Verdict::Error => exit::ERROR,
    }
}
