//! The `qemu` backend: a pinned kernel from the catalog, booted with a
//! hermetic initramfs; the guest runs the same runner as the host backend.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{Backend, Execution};
use crate::guest::protocol::GuestJob;
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
        Ok(super::vm_execution(
            &self.kernel,
            b.accel.accel,
            b.vm.kernel_events,
            b.failure,
            b.result,
        ))
    }
}
