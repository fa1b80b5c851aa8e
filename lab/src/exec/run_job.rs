//! The one runner of a job on the running kernel: support check, probe,
//! then the scenario or bench; a verifier rejection is saved as
//! `verifier.log`.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use super::phase_log::PhaseLog;
use super::{bench, fuzz, probe, scenario};
use crate::dataplane::{self, DataPlaneError};
use crate::domain::Unsupported;
use crate::job::phases::names;
use crate::job::{Completed, HarnessFault, Job, JobResult, Outcome};
use crate::output::progress::Progress;
use crate::sys::signals::{self, Interrupted};
use crate::sys::storage::is_storage_fault;
use crate::sys::uname::kernel_release;

/// File name of the verifier's log when it refused the data plane.
pub(crate) const VERIFIER_LOG: &str = "verifier.log";

/// Runs `job` on the running kernel, writing artifacts into `out_dir`.
/// Failures of the system under test are in the result, and so is a fault
/// of the lab's own storage (as a [`HarnessFault`]); only an interrupt is
/// an `Err` (nothing is to be kept then). The result carries the phases
/// the job went through and how long each took.
pub(crate) fn run_job(job: &Job, out_dir: &Path, progress: &dyn Progress) -> Result<JobResult> {
    let log = PhaseLog::new(progress);
    let progress = &log;
    let t0 = Instant::now();
    let kernel = kernel_release();
    let support = match job.needs_bpf_crypto() {
        true => dataplane::support(&kernel),
        false => Ok(()),
    };
    let probe = (!job.probe_ciphers().is_empty()).then(|| match &support {
        Err(why) => Err(why.to_string()),
        Ok(()) => {
            progress.note("capability probe");
            probe::probe(job.probe_ciphers()).map_err(|e| e.to_string())
        }
    });
    progress.phase(names::PROBE, t0);
    let outcome = match support {
        Err(why) => Ok(Outcome::Unsupported(why.to_string())),
        Ok(()) => match run(job, out_dir, progress) {
            Ok(done) => Ok(Outcome::Completed(done)),
            Err(_) if signals::interrupted() => return Err(Interrupted.into()),
            Err(e) if is_storage_fault(&e) => Err(HarnessFault(format!(
                "the lab's own storage failed (not the kernel under test): {e:#}"
            ))),
            Err(e) if Unsupported::of(&e).is_some() => Ok(Outcome::Unsupported(format!("{e:#}"))),
            Err(e) if !job.needs_bpf_crypto() && is_refusal(&e) => {
                save_verifier_log(&e, out_dir);
                Ok(Outcome::Unsupported(format!(
                    "this kernel cannot run the data plane (it needs no bpf_crypto; \
                     the kernel refused it): {e:#}"
                )))
            }
            Err(e) => {
                save_verifier_log(&e, out_dir);
                Ok(Outcome::Failed(format!("{e:#}")))
            }
        },
    };
    Ok(JobResult {
        kernel,
        modules: Vec::new(),
        phases: log.into_phases(),
        probe,
        outcome,
    })
}

fn run(job: &Job, out_dir: &Path, progress: &dyn Progress) -> Result<Completed> {
    Ok(match job {
        Job::Probe(_) => Completed::Probe,
        Job::Scenario { plan, .. } => {
            Completed::Scenario(Box::new(scenario::run(plan, out_dir, progress)?))
        }
        Job::Bench(plan) => Completed::Bench(Box::new(bench::run(plan, progress)?)),
        Job::Fuzz(plan) => Completed::Fuzz(Box::new(fuzz::run_plan(plan, progress)?)),
    })
}

/// Whether the kernel refused to load or attach the data plane (its
/// verifier, or no tcx).
fn is_refusal(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<DataPlaneError>(),
            Some(DataPlaneError::Load { .. } | DataPlaneError::Attach { .. })
        )
    })
}

/// Keeps the verifier's log of a load failure next to the results.
fn save_verifier_log(e: &anyhow::Error, out_dir: &Path) {
    if let Some(DataPlaneError::Load { log, .. }) = e.downcast_ref::<DataPlaneError>() {
        let _ = std::fs::write(out_dir.join(VERIFIER_LOG), log);
    }
}
