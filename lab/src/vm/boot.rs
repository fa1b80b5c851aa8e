//! Boot one guest job on a cached kernel and collect its result archive.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use super::accel::{self, Choice};
use super::qemu::{self, VmConfig, VmEnd, VmRun};
use super::{image, init_binary};
use crate::guest::protocol::{self, GuestJob, GuestResult};
use crate::kernels::FetchedKernel;

/// Console log file name in a run folder.
pub const CONSOLE_LOG: &str = "console.log";

/// VM sizing and limits.
#[derive(Debug, Clone, Copy)]
pub struct VmOptions {
    /// Wall-clock limit for one boot.
    pub timeout: Duration,
    /// Guest memory in MiB.
    pub memory_mb: u32,
}

impl Default for VmOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            memory_mb: 512,
        }
    }
}

/// What a boot produced.
pub struct Booted {
    /// Accelerator used and why.
    pub accel: Choice,
    /// The VM's end and console findings.
    pub vm: VmRun,
    /// The guest's result, when it sent one.
    pub result: Option<GuestResult>,
    /// Why the boot failed (panic, lockup, timeout, no result), if it did.
    pub failure: Option<String>,
}

/// Reads the guest's result archive (unpacking its files into `out_dir`)
/// and names the failure class, if the boot failed: panic, lockup,
/// timeout, or an exit without a usable result.
pub fn collect(
    vm: &VmRun,
    results_file: &Path,
    console_log: &Path,
    out_dir: &Path,
) -> (Result<GuestResult>, Option<String>) {
    let archive = std::fs::read(results_file).unwrap_or_default();
    let result = if archive.is_empty() {
        Err(anyhow::anyhow!("the guest sent no result"))
    } else {
        protocol::read_archive(archive.as_slice(), out_dir)
    };
    let last = || qemu::tail(console_log, 8);
    let failure = match (&vm.end, &result) {
        (VmEnd::Panic(line), _) => Some(format!("kernel panic: {line}")),
        (VmEnd::Lockup(line), _) => Some(format!("kernel lockup: {line}")),
        (VmEnd::Timeout(t), _) => Some(format!(
            "guest timed out after {} s; QEMU killed (console.log kept). Last console lines:\n{}",
            t.as_secs(),
            last()
        )),
        (VmEnd::Exited(code), Err(e)) => Some(format!(
            "QEMU exited (status {code:?}) without a usable result: {e:#}\nQEMU stderr: {}\nLast console lines:\n{}",
            vm.stderr.trim(),
            last()
        )),
        (VmEnd::Exited(_), Ok(_)) => None,
    };
    (result, failure)
}

/// Boots `kernel` with `job`; artifacts and `console.log` land in `out_dir`.
pub fn boot(
    kernel: &FetchedKernel,
    cache_dir: &Path,
    job: &GuestJob,
    out_dir: &Path,
    opts: VmOptions,
    progress: &dyn Fn(&str),
) -> Result<Booted> {
    let init = init_binary::prepare(cache_dir)?;
    let img = image::build(kernel, job, &init)?;
    if !img.missing.is_empty() {
        progress(&format!(
            "modules not in this kernel (skipped): {}",
            img.missing.join(", ")
        ));
    }
    let work = tempfile::Builder::new()
        .prefix("lab-vm-")
        .tempdir_in(std::env::temp_dir())
        .context("creating a VM work dir")?;
    let initrd = work.path().join("initramfs.cpio");
    std::fs::write(&initrd, &img.bytes).context("writing the initramfs")?;
    let results_file = work.path().join("result.tar");
    let choice = accel::choose(cache_dir, kernel);
    progress(&format!(
        "booting {} ({}) under QEMU/{} ({}); initramfs {:.1} MiB, {} modules",
        kernel.name,
        kernel.version,
        choice.accel.as_str(),
        choice.reason,
        img.bytes.len() as f64 / 1048576.0,
        img.modules.len()
    ));
    let cfg = VmConfig {
        kernel_image: kernel.kernel_image.clone(),
        boot_kind: kernel.boot_kind,
        initrd,
        memory_mb: opts.memory_mb,
        timeout: opts.timeout,
        accel: choice.accel,
        results_file: results_file.clone(),
        console_log: out_dir.join(CONSOLE_LOG),
    };
    let vm = qemu::run(&cfg, progress)?;
    let (result, failure) = collect(&vm, &results_file, &cfg.console_log, out_dir);
    Ok(Booted {
        accel: choice,
        vm,
        result: result.ok(),
        failure,
    })
}
