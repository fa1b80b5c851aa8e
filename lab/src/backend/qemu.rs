//! The `qemu` backend: a pinned kernel from the catalog, booted with a
//! hermetic initramfs; the guest runs the same runner as the host backend.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{Backend, Execution, Outcome};
use crate::guest::protocol::{GuestJob, GuestOutcome};
use crate::kernels::FetchedKernel;
use crate::plan::Plan;
use crate::vm::boot::{self, VmOptions};

/// Runs scenarios in a VM on a cached catalog kernel.
pub struct Qemu {
    /// The kernel.
    pub kernel: FetchedKernel,
    /// Cache root (init binary copies, KVM probe verdicts).
    pub cache_dir: PathBuf,
    /// VM limits.
    pub options: VmOptions,
    /// Cipher names to probe before the run (empty: no probe).
    pub probe: Vec<String>,
}

impl Backend for Qemu {
    fn name(&self) -> String {
        "qemu".into()
    }

    fn execute(&self, plan: &Plan, out_dir: &Path, progress: &dyn Fn(&str)) -> Result<Execution> {
        let job = GuestJob {
            probe: self.probe.clone(),
            plan: Some(plan.clone()),
        };
        let b = boot::boot(
            &self.kernel,
            &self.cache_dir,
            &job,
            out_dir,
            self.options,
            progress,
        )?;
        let kernel = b
            .result
            .as_ref()
            .map(|r| r.kernel.clone())
            .unwrap_or_else(|| self.kernel.version.clone());
        let probe = b.result.as_ref().and_then(|r| r.probe.clone());
        let outcome = match (b.failure, b.result.and_then(|r| r.outcome)) {
            (Some(why), _) => Outcome::Failed(why),
            (None, Some(GuestOutcome::Completed(r))) => Outcome::Completed(r),
            (None, Some(GuestOutcome::Unsupported(why))) => Outcome::Unsupported(why),
            (None, Some(GuestOutcome::Failed(why))) => Outcome::Failed(why),
            (None, None) => Outcome::Failed("the guest returned no scenario outcome".into()),
        };
        Ok(Execution {
            kernel,
            kernel_name: Some(self.kernel.name.clone()),
            accelerator: Some(b.accel.accel.as_str().to_string()),
            kernel_events: b.vm.kernel_events,
            probe,
            outcome,
        })
    }
}
