//! `lab guest-run`: the guest side of the `vng` backend.
//!
//! virtme-ng boots the kernel with the host's root filesystem shared
//! read-only, so this very `lab` binary runs inside the guest as an ordinary
//! process (started by `vng --exec`), not as PID 1. It does what PID 1 does
//! in the hermetic initramfs, minus the mounts virtme-ng already made: load
//! the job's kernel modules with `finit_module` (no `modprobe`, no
//! `modules.dep`), run the same job code, and write the result archive into
//! a directory that virtme-ng shares read-write with the host (`--rwdir`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::mount::{MsFlags, mount};

use super::protocol::{self, GuestJob, GuestResult};
use super::{init, run_job, say};
use crate::backend::host::kernel_release;

/// The job document in the shared work directory.
pub const JOB_FILE: &str = "job.json";
/// Decompressed modules in load order (`NN-name.ko`) in the work directory.
pub const MODULES_SUBDIR: &str = "modules";
/// Directory the guest writes into (the `--rwdir`).
pub const OUT_SUBDIR: &str = "out";
/// The result archive inside [`OUT_SUBDIR`] (same format as over virtio-serial).
pub const RESULT_FILE: &str = "result.tar";
/// Scratch folder for the job's artifacts inside [`OUT_SUBDIR`].
const ARTIFACTS_SUBDIR: &str = "artifacts";

/// Arguments of `lab guest-run`.
#[derive(Debug, Clone)]
pub struct GuestRun {
    /// The job (JSON [`GuestJob`]).
    pub job: PathBuf,
    /// Modules to load first, in file-name order.
    pub modules: Option<PathBuf>,
    /// Writable folder for the result archive.
    pub out: PathBuf,
    /// The kernel release the job was built for; the command refuses to run
    /// (and to load modules) anywhere else, e.g. on the host by mistake.
    pub kernel_release: String,
}

/// Mounts bpffs on /sys/fs/bpf unless something is mounted there already.
fn ensure_bpffs() {
    let mounted = std::fs::read_to_string("/proc/self/mounts")
        .map(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf"))
        })
        .unwrap_or(false);
    if !mounted
        && let Err(e) = mount(
            Some("bpf"),
            "/sys/fs/bpf",
            Some("bpf"),
            MsFlags::empty(),
            None::<&str>,
        )
    {
        say(&format!("mount /sys/fs/bpf: {e}"));
    }
}

/// Runs the job; returns once the result archive is written.
pub fn run(args: &GuestRun) -> Result<()> {
    let release = kernel_release();
    if release != args.kernel_release {
        bail!(
            "guest-run is for kernel {} but this is {release}: it only runs inside the VM that `lab run --backend vng` boots",
            args.kernel_release
        );
    }
    ensure_bpffs();
    let modules = args
        .modules
        .as_deref()
        .map(init::load_modules)
        .unwrap_or_default();
    say(&format!(
        "kernel {release}, modules: {}",
        modules.join(", ")
    ));
    let job: GuestJob = serde_json::from_slice(
        &std::fs::read(&args.job).with_context(|| format!("reading {}", args.job.display()))?,
    )
    .context("parsing the job")?;
    let artifacts = args.out.join(ARTIFACTS_SUBDIR);
    std::fs::create_dir_all(&artifacts)
        .with_context(|| format!("creating {}", artifacts.display()))?;
    let (probe, outcome) = run_job(job, &artifacts, &say);
    let result = GuestResult {
        kernel: release,
        modules,
        probe,
        outcome,
        bench: None,
    };
    write_result(&args.out, &result, &artifacts)?;
    let _ = std::fs::remove_dir_all(&artifacts);
    say("result written");
    Ok(())
}

/// Writes `out/result.tar` atomically (a temporary name, then rename), so
/// the host never reads a partial archive.
fn write_result(out: &Path, result: &GuestResult, artifacts: &Path) -> Result<()> {
    let tmp = out.join(format!(".{RESULT_FILE}.tmp"));
    let f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    protocol::write_archive(&f, result, artifacts)?;
    f.sync_all().ok();
    std::fs::rename(&tmp, out.join(RESULT_FILE)).context("renaming the result archive")?;
    nix::unistd::sync();
    Ok(())
}
