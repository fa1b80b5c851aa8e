//! One `lab run`: plan → backend → results folder → terminal summary.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;

use crate::backend::{Backend, Outcome};
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
    let started_at = chrono::Local::now().to_rfc3339();
    let t0 = Instant::now();
    let exec = backend.execute(plan, dir.path(), progress)?;
    let (verdict, error, report) = match exec.outcome {
        Outcome::Completed(r) => (
            if r.passed() {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            None,
            Some(r),
        ),
        Outcome::Unsupported(why) => (Verdict::Unsupported, Some(why), None),
        Outcome::Failed(why) => (Verdict::Error, Some(why), None),
    };
    let passed = report
        .as_ref()
        .map_or(0, |r| r.assertions.iter().filter(|a| a.pass).count());
    let failed = report.as_ref().map_or(0, |r| r.assertions.len() - passed);
    let summary = Summary {
        schema: SUMMARY_SCHEMA,
        run_id: dir.run_id().to_string(),
        scenario: ScenarioInfo {
            name: plan.name.clone(),
            source: plan.source.clone(),
            description: plan.description.clone(),
        },
        cipher: plan.cipher.algorithm.kernel_name().to_string(),
        key_hex: plan.cipher.key.iter().map(|b| format!("{b:02x}")).collect(),
        backend: backend.name(),
        kernel: exec.kernel,
        accelerator: exec.accelerator,
        started_at,
        duration_ms: t0.elapsed().as_millis() as u64,
        verdict,
        passed,
        failed,
        error,
        report,
    };
    let path = dir.commit(&summary)?;
    Ok((summary, path))
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
