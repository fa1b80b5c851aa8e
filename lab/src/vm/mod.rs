//! Booting a catalog kernel with one job, the one launcher for both VM
//! programs: QEMU with a hermetic initramfs whose PID 1 is this very
//! (static) `lab` binary ([`qemu`]), or virtme-ng ([`vng`]). Both are
//! watched the same way ([`console`]) and return the guest's result
//! archive, or why there is none.

pub(crate) mod accel;
pub(crate) mod cmdline;
pub(crate) mod console;
pub(crate) mod image;
pub(crate) mod init_binary;
pub(crate) mod initramfs;
pub(crate) mod machine;
pub(crate) mod prepared;
pub(crate) mod qemu;
pub(crate) mod timeline;
pub(crate) mod vng;
pub(crate) mod vng_tools;

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::job::archive::read_archive;
use crate::job::phases::PhaseTime;
use crate::job::{Job, JobResult};
use crate::kernels::FetchedKernel;
use crate::output::progress::Progress;
use crate::sys::owner;
use crate::sys::storage::is_storage_fault;
use accel::Choice;
use console::CONSOLE_LOG;
pub(crate) use prepared::VmOptions;

/// Which program boots the kernel.
#[derive(Debug, Clone)]
pub(crate) enum Launcher {
    /// QEMU directly, with the lab's initramfs.
    Qemu,
    /// virtme-ng, with the tools [`vng_tools::preflight`] found.
    Vng(vng_tools::Tools),
}

/// What a boot produced.
pub(crate) struct Booted {
    /// Accelerator used and why.
    pub(crate) accel: Choice,
    /// Oops/BUG/WARNING lines seen on the console.
    pub(crate) kernel_events: Vec<String>,
    /// The guest's result, when it sent a usable one.
    pub(crate) result: Option<JobResult>,
    /// Why the boot failed (panic, lockup, timeout, no result), if it did.
    pub(crate) failure: Option<String>,
    /// Where the boot's wall time went, host and guest phases in order.
    pub(crate) phases: Vec<PhaseTime>,
}

/// Prefix of VM work folders in the temporary directory.
const WORK_PREFIX: &str = "lab-vm-";

/// A fresh work folder for one boot (it holds the initramfs, and so the
/// key), private to its owner and claimed while the boot runs. Folders of
/// killed runs are swept.
fn work_dir() -> Result<WorkDir> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = std::env::temp_dir();
    owner::sweep(&tmp, WORK_PREFIX);
    let dir = tempfile::Builder::new()
        .prefix(WORK_PREFIX)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .with_context(|| format!("creating a VM work folder in {}", tmp.display()))?;
    let claim =
        owner::claim(dir.path()).with_context(|| format!("locking {}", dir.path().display()))?;
    Ok(WorkDir { dir, _claim: claim })
}

/// A VM work folder, removed when dropped.
struct WorkDir {
    dir: tempfile::TempDir,
    _claim: owner::Claim,
}

impl WorkDir {
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Boots `kernel` with `job` under `launcher`; the guest's artifacts and
/// `console.log` land in `out_dir`.
pub(crate) fn boot(
    launcher: &Launcher,
    kernel: &FetchedKernel,
    cache_dir: &Path,
    job: &Job,
    out_dir: &Path,
    opts: VmOptions,
    progress: &dyn Progress,
) -> Result<Booted> {
    let t0 = Instant::now();
    let choice = accel::choose(cache_dir, kernel)?;
    let work = work_dir()?;
    let p = match launcher {
        Launcher::Qemu => qemu::prepare(kernel, cache_dir, job, work.path(), choice.accel, opts)?,
        Launcher::Vng(t) => vng::prepare(t, kernel, job, work.path(), choice.accel, opts)?,
    };
    if !p.missing_modules.is_empty() {
        progress.note(&format!(
            "modules not in this kernel (skipped): {}",
            p.missing_modules.join(", ")
        ));
    }
    let timeout = job
        .min_duration()
        .map_or(opts.timeout, |d| opts.timeout.max(d));
    progress.note(&format!(
        "booting {} ({}) under {}/{} ({}); {}; limit {} s",
        kernel.name,
        kernel.version,
        p.program,
        choice.accel.as_str(),
        choice.reason,
        p.details,
        timeout.as_secs()
    ));
    let prepare = t0.elapsed();
    let console_log = out_dir.join(CONSOLE_LOG);
    let limits = console::Limits {
        timeout,
        silence: opts.silence,
    };
    let watched = console::run(p.cmd, p.streams, &console_log, limits, progress)?;
    let result = match std::fs::read(&p.result_file) {
        Ok(bytes) if !bytes.is_empty() => read_archive(bytes.as_slice(), out_dir),
        _ => Err(anyhow::anyhow!("the guest sent no result")),
    };
    if let Err(e) = &result
        && is_storage_fault(e)
    {
        bail!(
            "unpacking the guest's result into {}: {e:#}",
            out_dir.display()
        );
    }
    let failure = console::failure(&watched, p.program, &result, &console_log);
    let host = timeline::HostTimes {
        prepare,
        marks: &watched.marks,
        ended_at: watched.ended_at,
    };
    let guest = result.as_ref().ok().map(|r| r.phases.as_slice());
    let phases = timeline::phases(&host, guest);
    Ok(Booted {
        accel: choice,
        kernel_events: watched.kernel_events,
        result: result.ok(),
        failure,
        phases,
    })
}
