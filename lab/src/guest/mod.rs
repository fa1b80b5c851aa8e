//! The guest side of the VM backends: `lab` running as PID 1 in the
//! initramfs. It loads the modules, runs the job with the same code as the
//! host backend, sends the result archive over virtio-serial and powers off.

pub mod init;
pub mod protocol;
pub mod run_as_process;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::backend::host::kernel_release;
use crate::dataplane::kernel_has_bpf_crypto;
use protocol::{GuestJob, GuestOutcome, GuestResult, PROGRESS_PREFIX};

/// Whether this process is PID 1 (the guest's init).
pub fn is_init() -> bool {
    std::process::id() == 1
}

/// Prints a progress line for the host (`lab-guest: …` on the console).
pub fn say(msg: &str) {
    eprintln!("{PROGRESS_PREFIX}{msg}");
}

/// Entry point as PID 1. Never returns.
pub fn main() -> ! {
    init::mount_all();
    let modules = init::load_modules(Path::new(protocol::MODULES_DIR));
    say(&format!(
        "kernel {}, modules: {}",
        kernel_release(),
        modules.join(", ")
    ));
    if let Err(e) = run(modules) {
        say(&format!("fatal: {e:#}"));
    }
    init::power_off()
}

fn run(modules: Vec<String>) -> Result<()> {
    let job: GuestJob =
        serde_json::from_slice(&std::fs::read(protocol::JOB_PATH).context("reading the job")?)
            .context("parsing the job")?;
    let out_dir = PathBuf::from("/tmp/out");
    std::fs::create_dir_all(&out_dir)?;
    let (probe, outcome) = run_job(job, &out_dir, &say);
    let bench = run_bench();
    let result = GuestResult {
        kernel: kernel_release(),
        modules,
        probe,
        outcome,
        bench,
    };
    let port = find_port(protocol::RESULTS_PORT, Duration::from_secs(10))?;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&port)
        .with_context(|| format!("opening {}", port.display()))?;
    protocol::write_archive(&f, &result, &out_dir)?;
    f.sync_all().ok();
    say("result sent");
    Ok(())
}

/// Runs a job's capability probe and scenario (the part shared by PID 1
/// and `lab guest-run`), writing artifacts into `out_dir`.
pub fn run_job(
    job: GuestJob,
    out_dir: &Path,
    say: &dyn Fn(&str),
) -> (
    Option<Result<crate::probe::ProbeReport, String>>,
    Option<GuestOutcome>,
) {
    let supported =
        kernel_has_bpf_crypto() || std::env::var_os(crate::dataplane::FORCE_LOAD_ENV).is_some();
    let unsupported = || format!("kernel {} has no bpf_crypto kfuncs", kernel_release());
    let probe = (!job.probe.is_empty()).then(|| {
        if !supported {
            return Err(unsupported());
        }
        say("capability probe");
        crate::probe::probe(&job.probe).map_err(|e| format!("{e}"))
    });
    let outcome = job.plan.map(|plan| {
        if !supported {
            return GuestOutcome::Unsupported(unsupported());
        }
        match crate::runner::run(&plan, out_dir, say) {
            Ok(r) => GuestOutcome::Completed(Box::new(r)),
            Err(e) => {
                if let Some(crate::dataplane::DataPlaneError::Load { log, .. }) = e.downcast_ref() {
                    let _ = std::fs::write(out_dir.join("verifier.log"), log);
                }
                GuestOutcome::Failed(format!("{e:#}"))
            }
        }
    });
    (probe, outcome)
}

/// Runs the bench job, when the initramfs has one.
fn run_bench() -> Option<Result<crate::bench::model::TargetResult, String>> {
    let text = std::fs::read(protocol::BENCH_JOB_PATH).ok()?;
    let job: crate::bench::BenchJob = match serde_json::from_slice(&text) {
        Ok(j) => j,
        Err(e) => return Some(Err(format!("parsing the bench job: {e}"))),
    };
    let lines =
        crate::bench::progress::GuestLines::new(crate::bench::progress::points(&job.plan), say);
    say(&format!(
        "bench {} ({} points)",
        job.plan.name,
        crate::bench::progress::points(&job.plan)
    ));
    Some(
        crate::bench::run_target(
            &job.plan,
            &job.target,
            &job.accelerator,
            &job.commit,
            &lines,
        )
        .map_err(|e| format!("{e:#}")),
    )
}

/// Waits for the virtio-serial port named `name` (ports appear
/// asynchronously) and returns its device path.
fn find_port(name: &str, timeout: Duration) -> Result<PathBuf> {
    let t0 = Instant::now();
    loop {
        if let Ok(dir) = std::fs::read_dir("/sys/class/virtio-ports") {
            for e in dir.filter_map(|e| e.ok()) {
                let n = std::fs::read_to_string(e.path().join("name")).unwrap_or_default();
                if n.trim() == name {
                    let dev = Path::new("/dev").join(e.file_name());
                    if dev.exists() {
                        return Ok(dev);
                    }
                }
            }
        }
        if t0.elapsed() > timeout {
            bail!("virtio-serial port {name} did not appear");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
