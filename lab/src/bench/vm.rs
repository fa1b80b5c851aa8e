//! Benching a catalog kernel: boot it under QEMU with the usual guest
//! image plus a second cpio archive holding the bench job (the kernel
//! unpacks concatenated archives in order), and read the guest's result.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use super::BenchJob;
use super::model::TargetResult;
use crate::guest::protocol::{BENCH_JOB_PATH, GuestJob};
use crate::initramfs::Builder;
use crate::kernels::FetchedKernel;
use crate::vm::accel;
use crate::vm::boot::{self, CONSOLE_LOG, VmOptions};
use crate::vm::qemu::{self, VmConfig};
use crate::vm::{image, init_binary};

/// What a bench boot produced.
pub struct VmBench {
    /// The guest's figures, when it sent them.
    pub result: Option<TargetResult>,
    /// Why there are none (boot failure, guest error).
    pub failure: Option<String>,
    /// Kernel warnings seen on the console.
    pub kernel_events: Vec<String>,
}

/// Time limit for a bench boot: the user's limit, raised to twice the
/// bench's estimate plus boot time.
pub fn time_limit(job: &BenchJob, opts: VmOptions) -> Duration {
    opts.timeout.max(Duration::from_secs_f64(
        job.plan.estimated_secs() * 2.0 + 120.0,
    ))
}

/// Boots `kernel` and runs `job` in it; artifacts and `console.log` go to `out_dir`.
pub fn run(
    kernel: &FetchedKernel,
    cache_dir: &Path,
    job: &BenchJob,
    out_dir: &Path,
    opts: VmOptions,
    progress: &dyn Fn(&str),
) -> Result<VmBench> {
    let init = init_binary::prepare(cache_dir)?;
    let img = image::build(kernel, &GuestJob::default(), &init)?;
    let mut extra = Builder::new();
    extra.add_file(BENCH_JOB_PATH, serde_json::to_vec(job)?, 0o644)?;
    let mut initrd_bytes = img.bytes;
    initrd_bytes.extend_from_slice(&extra.to_bytes());

    let work = tempfile::Builder::new()
        .prefix("lab-bench-vm-")
        .tempdir()
        .context("creating a VM work dir")?;
    let initrd = work.path().join("initramfs.cpio");
    std::fs::write(&initrd, &initrd_bytes).context("writing the initramfs")?;
    let results_file = work.path().join("result.tar");
    let accel = accel_of(&job.accelerator);
    let cfg = VmConfig {
        kernel_image: kernel.kernel_image.clone(),
        boot_kind: kernel.boot_kind,
        initrd,
        memory_mb: opts.memory_mb,
        timeout: time_limit(job, opts),
        accel,
        results_file: results_file.clone(),
        console_log: out_dir.join(CONSOLE_LOG),
    };
    progress(&format!(
        "booting {} ({}) under QEMU/{} for the bench (limit {} s)",
        kernel.name,
        kernel.version,
        accel.as_str(),
        cfg.timeout.as_secs()
    ));
    let vm = qemu::run(&cfg, progress)?;
    let (result, mut failure) = boot::collect(&vm, &results_file, &cfg.console_log, out_dir);
    let bench = result.ok().and_then(|r| r.bench);
    let result = match bench {
        Some(Ok(t)) => Some(t),
        Some(Err(why)) => {
            failure.get_or_insert(why);
            None
        }
        None => {
            failure.get_or_insert_with(|| "the guest returned no bench result".into());
            None
        }
    };
    Ok(VmBench {
        result,
        failure,
        kernel_events: vm.kernel_events,
    })
}

/// Chooses the accelerator for `kernel` the way `lab run` does.
pub fn choose_accel(cache_dir: &Path, kernel: &FetchedKernel) -> String {
    accel::choose(cache_dir, kernel).accel.as_str().to_string()
}

fn accel_of(name: &str) -> qemu::Accel {
    if name == "kvm" {
        qemu::Accel::Kvm
    } else {
        qemu::Accel::Tcg
    }
}
