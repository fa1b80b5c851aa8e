//! Backends run a plan somewhere: `host` (the running kernel), `qemu`
//! (a pinned kernel in a VM), `vng` (virtme-ng).

pub mod host;
pub mod qemu;
pub mod vng;

use std::path::Path;

use anyhow::Result;

use crate::plan::Plan;
use crate::runner::RunReport;

/// How a backend's run of the system under test ended.
#[derive(Debug)]
pub enum Outcome {
    /// The scenario ran; checks were evaluated.
    Completed(Box<RunReport>),
    /// The kernel cannot run the data plane; the reason says why.
    Unsupported(String),
    /// The system under test failed (verifier rejection, kernel panic,
    /// timeout); details are in the results folder.
    Failed(String),
}

/// What a backend reports besides the outcome.
#[derive(Debug)]
pub struct Execution {
    /// Kernel release that ran.
    pub kernel: String,
    /// Catalog name of the kernel, for VMs.
    pub kernel_name: Option<String>,
    /// Accelerator, for VMs.
    pub accelerator: Option<String>,
    /// Oops/BUG/WARNING lines the kernel printed.
    pub kernel_events: Vec<String>,
    /// Capability probe, when asked for.
    pub probe: Option<Result<crate::probe::ProbeReport, String>>,
    /// The outcome.
    pub outcome: Outcome,
}

/// A place to run plans. `Err` means the harness itself could not run
/// (bad setup, missing permissions, interrupted): no result is kept.
pub trait Backend {
    /// Short name recorded in results (`host`, `qemu`, …).
    fn name(&self) -> String;
    /// Runs `plan`, writing artifacts (pcaps, logs) into `out_dir`.
    fn execute(&self, plan: &Plan, out_dir: &Path, progress: &dyn Fn(&str)) -> Result<Execution>;
}

/// Turns a VM guest's result, or the boot's failure, into an [`Execution`]
/// (shared by the VM backends).
pub fn vm_execution(
    kernel: &crate::kernels::FetchedKernel,
    accelerator: crate::vm::qemu::Accel,
    kernel_events: Vec<String>,
    failure: Option<String>,
    result: Option<crate::guest::protocol::GuestResult>,
) -> Execution {
    use crate::guest::protocol::GuestOutcome;
    let release = result
        .as_ref()
        .map(|r| r.kernel.clone())
        .unwrap_or_else(|| kernel.version.clone());
    let probe = result.as_ref().and_then(|r| r.probe.clone());
    let outcome = match (failure, result.and_then(|r| r.outcome)) {
        (Some(why), _) => Outcome::Failed(why),
        (None, Some(GuestOutcome::Completed(r))) => Outcome::Completed(r),
        (None, Some(GuestOutcome::Unsupported(why))) => Outcome::Unsupported(why),
        (None, Some(GuestOutcome::Failed(why))) => Outcome::Failed(why),
        (None, None) => Outcome::Failed("the guest returned no scenario outcome".into()),
    };
    Execution {
        kernel: release,
        kernel_name: Some(kernel.name.clone()),
        accelerator: Some(accelerator.as_str().to_string()),
        kernel_events,
        probe,
        outcome,
    }
}
