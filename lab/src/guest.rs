//! The guest side of the VM targets: one body, two transports. As PID 1 of
//! the hermetic initramfs (QEMU), `lab` mounts the basics, loads the
//! modules, runs the job and sends the result archive over a virtio-serial
//! port. As `lab guest-run` under virtme-ng, it runs as an ordinary process
//! on the shared root filesystem and writes the archive into the shared
//! folder. Both run the same [`body`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::exec::run_job::run_job;
use crate::job::archive::write_archive;
use crate::job::phases::{PhaseTime, names};
use crate::job::{Job, JobResult};
use crate::output::progress::{GuestConsole, Progress};
use crate::sys::init;
use crate::sys::uname::kernel_release;
use crate::vm::image::{JOB_PATH, MODULES_DIR};
use crate::vm::qemu::RESULTS_PORT;
use crate::vm::vng::RESULT_FILE;

/// Whether this process is PID 1 (the guest's init).
pub fn is_init() -> bool {
    std::process::id() == 1
}

/// Entry point as PID 1. Never returns: it powers the VM off.
pub fn pid1() -> ! {
    let started = Started::now(names::KERNEL_BOOT);
    init::mount_all();
    let modules = started.load_modules(Some(Path::new(MODULES_DIR)));
    let out = PathBuf::from("/tmp/out");
    let sent = body(Path::new(JOB_PATH), modules, &out).and_then(|r| send_to_port(&r, &out));
    if let Err(e) = sent {
        GuestConsole.note(&format!("fatal: {e:#}"));
    }
    init::power_off()
}

/// Arguments of `lab guest-run`.
#[derive(Debug, Clone)]
pub(crate) struct GuestRun {
    /// The job (JSON).
    pub(crate) job: PathBuf,
    /// Modules to load first, in file-name order.
    pub(crate) modules: Option<PathBuf>,
    /// Writable folder for the result archive.
    pub(crate) out: PathBuf,
    /// The kernel release the job was built for; the command refuses to run
    /// (and to load modules) anywhere else, e.g. on the host by mistake.
    pub(crate) kernel_release: String,
}

/// `lab guest-run`: the job inside a virtme-ng guest; returns once the
/// result archive is written.
pub(crate) fn guest_run(args: &GuestRun) -> Result<()> {
    let release = kernel_release();
    if release != args.kernel_release {
        bail!(
            "guest-run is for kernel {} but this is {release}: it only runs inside the VM that `lab run --backend vng` boots",
            args.kernel_release
        );
    }
    let started = Started::now(names::VNG_BOOT);
    init::ensure_bpffs();
    let modules = started.load_modules(args.modules.as_deref());
    let artifacts = args.out.join("artifacts");
    let result = body(&args.job, modules, &artifacts)?;
    let t = Instant::now();
    write_to_folder(&args.out, &result, &artifacts)?;
    let _ = std::fs::remove_dir_all(&artifacts);
    GuestConsole.phase(names::RESULT, t);
    GuestConsole.note("result written");
    Ok(())
}

/// The guest's start: its boot clock, told on the console at once as
/// phase `name` (the host times QEMU's start by this line's arrival).
struct Started {
    boot: PhaseTime,
}

impl Started {
    fn now(name: &str) -> Self {
        let boot = PhaseTime {
            phase: name.into(),
            ms: init::boot_clock().as_millis() as u64,
        };
        GuestConsole.phase_ms(&boot.phase, boot.ms);
        Self { boot }
    }

    /// Loads the modules in `dir`, if any, timing it.
    fn load_modules(self, dir: Option<&Path>) -> Loaded {
        let t = Instant::now();
        let names = dir.map(init::load_modules).unwrap_or_default();
        GuestConsole.phase(names::MODULES, t);
        let modules = PhaseTime {
            phase: names::MODULES.into(),
            ms: t.elapsed().as_millis() as u64,
        };
        Loaded {
            names,
            phases: vec![self.boot, modules],
        }
    }
}

/// The modules the guest loaded, and its phases so far.
struct Loaded {
    names: Vec<String>,
    phases: Vec<PhaseTime>,
}

/// Reads the job at `job_path` and runs it, with artifacts in `out_dir`.
fn body(job_path: &Path, loaded: Loaded, out_dir: &Path) -> Result<JobResult> {
    GuestConsole.note(&format!(
        "kernel {}, modules: {}",
        kernel_release(),
        loaded.names.join(", ")
    ));
    let text = std::fs::read(job_path)
        .with_context(|| format!("reading the job {}", job_path.display()))?;
    let job: Job = serde_json::from_slice(&text).context("parsing the job")?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut result = run_job(&job, out_dir, &GuestConsole)?;
    result.modules = loaded.names;
    let job_phases = std::mem::replace(&mut result.phases, loaded.phases);
    result.phases.extend(job_phases);
    Ok(result)
}

/// Transport of PID 1: the archive over the virtio-serial results port.
fn send_to_port(result: &JobResult, artifacts: &Path) -> Result<()> {
    let t = Instant::now();
    let port = find_port(RESULTS_PORT, Duration::from_secs(10))?;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&port)
        .with_context(|| format!("opening {}", port.display()))?;
    write_archive(&f, result, artifacts)?;
    f.sync_all().ok();
    GuestConsole.phase(names::RESULT, t);
    GuestConsole.note("result sent");
    Ok(())
}

/// Transport of `guest-run`: `out/result.tar` in the shared folder,
/// written atomically (a temporary name, then rename), so the host never
/// reads a partial archive.
fn write_to_folder(out: &Path, result: &JobResult, artifacts: &Path) -> Result<()> {
    let tmp = out.join(format!(".{RESULT_FILE}.tmp"));
    let f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    write_archive(&f, result, artifacts)?;
    f.sync_all().ok();
    std::fs::rename(&tmp, out.join(RESULT_FILE)).context("renaming the result archive")?;
    nix::unistd::sync();
    Ok(())
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
