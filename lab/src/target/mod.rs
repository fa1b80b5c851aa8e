//! Where a job runs: the running kernel ([`Target::Host`]) or a catalog
//! kernel booted under QEMU or virtme-ng. [`open`] is the one way `run`,
//! `matrix`, `probe` and `bench` reach a kernel, and [`Target::run`] the
//! one way they run a job on it.

pub(crate) mod host;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::exec::run_job::run_job;
use crate::job::{Execution, Job, JobResult, Outcome};
use crate::kernels::{self, Catalog, FetchedKernel};
use crate::output::progress::Progress;
use crate::vm::{self, Launcher, VmOptions, vng_tools};

/// Which program runs a catalog kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// Namespaces on the running kernel.
    Host,
    /// QEMU with the lab's initramfs.
    Qemu,
    /// virtme-ng.
    Vng,
}

impl Backend {
    /// `host`, `qemu` or `vng`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Backend::Host => "host",
            Backend::Qemu => "qemu",
            Backend::Vng => "vng",
        }
    }
}

/// A place to run jobs.
pub(crate) enum Target {
    /// The running kernel.
    Host,
    /// A cached catalog kernel in a VM.
    Vm(Box<VmTarget>),
}

/// A catalog kernel and how to boot it.
pub(crate) struct VmTarget {
    kernel: FetchedKernel,
    cache_dir: PathBuf,
    options: VmOptions,
    launcher: Launcher,
}

/// Opens a target: the host when `backend` is `Host`, else the cached
/// catalog kernel `kernel` under that VM program.
pub(crate) fn open(
    backend: Backend,
    kernel: Option<&str>,
    catalog: Option<&Catalog>,
    options: VmOptions,
) -> Result<Target> {
    if backend == Backend::Host {
        if let Some(k) = kernel {
            bail!("--kernel {k} needs a VM backend; drop --backend host");
        }
        host::preflight()?;
        return Ok(Target::Host);
    }
    let name = kernel.with_context(|| {
        format!(
            "--backend {} needs --kernel NAME (see `lab kernels list`)",
            backend.as_str()
        )
    })?;
    let catalog = catalog.context("a VM target needs the kernel catalog")?;
    let kernel = kernels::cached(catalog, name)?;
    let launcher = match backend {
        Backend::Vng => Launcher::Vng(vng_tools::preflight(&kernel)?),
        _ => Launcher::Qemu,
    };
    Ok(Target::Vm(Box::new(VmTarget {
        kernel,
        cache_dir: catalog.paths.cache.clone(),
        options,
        launcher,
    })))
}

impl Target {
    /// The backend's name, recorded in results.
    pub(crate) fn backend(&self) -> &'static str {
        match self {
            Target::Host => "host",
            Target::Vm(v) => match v.launcher {
                Launcher::Qemu => "qemu",
                Launcher::Vng(_) => "vng",
            },
        }
    }

    /// `host` or the catalog name.
    pub(crate) fn name(&self) -> &str {
        match self {
            Target::Host => "host",
            Target::Vm(v) => &v.kernel.name,
        }
    }

    /// Runs `job`, with artifacts (pcaps, logs, `console.log`) in
    /// `out_dir`. A failure of the kernel under test is in the execution;
    /// `Err` means the harness could not run it (or was interrupted).
    pub(crate) fn run(
        &self,
        job: &Job,
        out_dir: &Path,
        progress: &dyn Progress,
    ) -> Result<Execution> {
        match self {
            Target::Host => {
                host::preflight()?;
                from_result(run_job(job, out_dir, progress)?, None)
            }
            Target::Vm(v) => v.run(job, out_dir, progress),
        }
    }
}

impl VmTarget {
    fn run(&self, job: &Job, out_dir: &Path, progress: &dyn Progress) -> Result<Execution> {
        let b = vm::boot(
            &self.launcher,
            &self.kernel,
            &self.cache_dir,
            job,
            out_dir,
            self.options,
            progress,
        )?;
        let phases = b.phases;
        let mut exec = match (b.failure, b.result) {
            (None, Some(r)) => from_result(r, Some(&self.kernel.name))?,
            (failure, _) => Execution {
                kernel: self.kernel.version.clone(),
                kernel_name: Some(self.kernel.name.clone()),
                kernel_image: None,
                phases: Vec::new(),
                accelerator: None,
                kernel_events: Vec::new(),
                probe: None,
                outcome: Outcome::Failed(
                    failure.unwrap_or_else(|| "the guest returned no result".into()),
                ),
            },
        };
        exec.phases = phases;
        exec.accelerator = Some(b.accel.accel.as_str().to_string());
        exec.kernel_image = (self.kernel.local).then(|| self.kernel.bzimage.display().to_string());
        exec.kernel_events = b.kernel_events;
        Ok(exec)
    }
}

/// A job result as an execution on kernel `name` (a catalog name, or the
/// host); a harness fault on the kernel's side is an `Err`.
fn from_result(r: JobResult, name: Option<&str>) -> Result<Execution> {
    let outcome = r.outcome?;
    Ok(Execution {
        kernel: r.kernel,
        kernel_name: name.map(str::to_string),
        kernel_image: None,
        phases: r.phases,
        accelerator: None,
        kernel_events: Vec::new(),
        probe: r.probe,
        outcome,
    })
}
