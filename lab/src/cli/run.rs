//! `lab run SCENARIO`: plan → target → results folder → summary.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use super::args::RunArgs;
use crate::job::Job;
use crate::output::progress::{Printer, Progress};
use crate::output::results_dir::ResultsDir;
use crate::output::summary::{RunInfo, Summary, summarize};
use crate::output::{exit, run_report, terminal};
use crate::spec::plan::Plan;
use crate::spec::scenario;
use crate::sys::signals;
use crate::target::Target;

pub(crate) fn run(a: RunArgs) -> Result<i32> {
    let mut plan = scenario::load(&a.scenario)?;
    super::dataplane::apply(&mut plan, a.dataplane.as_deref())?;
    let target =
        super::repo::open_target(a.backend(), a.kernel.as_deref(), &a.image, a.vm.options()?)?;
    eprintln!(
        "lab: running {} ({}) on {}",
        plan.name,
        plan.source,
        target.backend()
    );
    let dir = ResultsDir::create(&a.results.results_dir, &plan.name, target.backend())?;
    let progress = Printer { quiet: a.quiet };
    let summary = run_into(&plan, &target, dir.run_id(), dir.path(), &progress)
        .context("running the scenario")?;
    signals::check()?;
    run_report::write(&summary, dir.path())?;
    let path = dir.commit(&summary)?;
    print!("{}", terminal::run(&summary, &path.display().to_string()));
    Ok(exit::for_verdict(summary.verdict))
}

/// Runs `plan` on `target` with artifacts in `out_dir` and summarises it.
pub(crate) fn run_into(
    plan: &Plan,
    target: &Target,
    run_id: &str,
    out_dir: &Path,
    progress: &dyn Progress,
) -> Result<Summary> {
    run_job_into(
        plan,
        Job::scenario(plan.clone()),
        target,
        run_id,
        out_dir,
        progress,
    )
}

/// Runs a scenario `job` of `plan` on `target` and summarises it.
pub(crate) fn run_job_into(
    plan: &Plan,
    job: Job,
    target: &Target,
    run_id: &str,
    out_dir: &Path,
    progress: &dyn Progress,
) -> Result<Summary> {
    let started_at = chrono::Local::now().to_rfc3339();
    let t0 = Instant::now();
    let exec = target.run(&job, out_dir, progress)?;
    let info = RunInfo {
        plan,
        backend: target.backend(),
        run_id,
        started_at,
        elapsed: t0.elapsed(),
    };
    Ok(summarize(info, exec))
}
