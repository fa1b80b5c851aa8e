//! The `vng` backend: a catalog kernel booted by virtme-ng (PyPI
//! `virtme-ng`, command `vng`).
//!
//! virtme-ng shares the host's root filesystem with the guest (virtiofs),
//! so the guest runs this same `lab` binary as a normal process:
//! `vng --run <kernel> --exec "lab guest-run …"`. The job, the kernel
//! modules (resolved and decompressed on the host, loaded in the guest
//! with `finit_module`) and the result archive live in a work directory
//! that virtme-ng shares read-write (`--rwdir`). vng's own exit code is not
//! used (without udev its script ports are missing and it reports 255): the
//! result archive is what counts. Its console (kernel log with `--verbose`,
//! plus the guest's progress lines) becomes `console.log`.
//!
//! Optional: [`preflight`] says precisely what is missing (vng, virtiofsd,
//! a static busybox, QEMU, a kernel without built-in virtio-fs).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{Backend, Execution};
use crate::guest::protocol::{self, GuestJob};
use crate::guest::run_as_process::{JOB_FILE, MODULES_SUBDIR, OUT_SUBDIR, RESULT_FILE};
use crate::kernels::{FetchedKernel, modules};
use crate::plan::Plan;
use crate::signals;
use crate::vm::accel::{self, Choice};
use crate::vm::boot::{CONSOLE_LOG, VmOptions};
use crate::vm::image::{PROBE_MODULES, REQUIRED_MODULES, RUN_MODULES};
use crate::vm::init_binary::is_static_elf;
use crate::vm::qemu::{APPEND_ENV, Accel, ConsoleEvent, classify, qemu_binary, tail};

/// Environment variable naming the `vng` executable (default: `vng` on PATH).
pub const VNG_ENV: &str = "LAB_VNG";

/// Kernel command-line words added to virtme-ng's own (see DESIGN.md).
const APPEND: &str = "mitigations=off cryptomgr.notests tsc=reliable no_timer_check audit=0 random.trust_cpu=on softlockup_panic=1";

/// Where virtme-ng 1.42 looks for virtiofsd besides PATH
/// (`virtme/commands/run.py`, `_get_virtiofsd_path`).
const VIRTIOFSD_PATHS: &[&str] = &[
    "/usr/libexec/virtiofsd",
    "/usr/lib/virtiofsd/virtiofsd",
    "/usr/lib/virtiofsd",
    "/usr/lib/qemu/virtiofsd",
];

/// Modules virtme-ng's own initramfs and init load (virtio-fs root, overlays
/// over /etc, /tmp, …), when the kernel has them as modules.
const BOOT_MODULES: &[&str] = &[
    "virtiofs",
    "fuse",
    "overlay",
    "virtio_pci",
    "virtio_console",
];

/// Files of a modules directory that depmod/modprobe read besides modules.
const MODULES_META: &[&str] = &[
    "modules.builtin",
    "modules.builtin.modinfo",
    "modules.order",
];

/// The host tools a vng run needs, found by [`preflight`].
#[derive(Debug, Clone)]
pub struct Tools {
    /// The `vng` executable.
    pub vng: PathBuf,
    /// `vng --version`.
    pub vng_version: String,
    /// The virtiofsd virtme-ng will use.
    pub virtiofsd: PathBuf,
    /// A statically linked busybox (virtme-ng's initramfs).
    pub busybox: PathBuf,
    /// The QEMU binary (`LAB_QEMU` or `qemu-system-x86_64` on PATH).
    pub qemu: PathBuf,
    /// depmod (virtme-ng runs it on the boot modules).
    pub depmod: PathBuf,
}

/// Runs scenarios on a catalog kernel under virtme-ng.
pub struct Vng {
    /// The kernel.
    pub kernel: FetchedKernel,
    /// Cache root (KVM probe verdicts).
    pub cache_dir: PathBuf,
    /// VM limits.
    pub options: VmOptions,
    /// Cipher names to probe before the run (empty: no probe).
    pub probe: Vec<String>,
    /// Host tools.
    pub tools: Tools,
}

/// `name` on `PATH` (first executable match).
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// First line of `<exe> --version`, or why it did not run.
fn version_of(exe: &Path) -> Result<String, String> {
    match Command::new(exe)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            Ok(text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string())
        }
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .unwrap_or("failed")
            .trim()
            .to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// How to get a virtiofsd virtme-ng can drive on Debian 12.
const VIRTIOFSD_HOWTO: &str = "install the Rust virtiofsd with `apt-get install libseccomp-dev libcap-ng-dev && \
     cargo install virtiofsd --locked` (into ~/.cargo/bin, which must be on PATH)";

/// The virtiofsd virtme-ng will pick (same search order), if it is the
/// Rust daemon: Debian 12's qemu-system-common ships QEMU's old C
/// `/usr/lib/qemu/virtiofsd`, which runs but rejects virtme-ng's options
/// (`fuse: invalid argument`), so vng falls back to 9p and the cloud
/// kernels panic without a root filesystem.
fn find_virtiofsd() -> Result<PathBuf> {
    let chosen = which("virtiofsd")
        .into_iter()
        .chain(VIRTIOFSD_PATHS.iter().map(PathBuf::from))
        .find(|p| is_executable(p) && version_of(p).is_ok());
    let Some(path) = chosen else {
        bail!(
            "virtiofsd not found: virtme-ng shares the root filesystem with virtiofsd (or 9p, which the Debian \
             cloud kernels lack); {VIRTIOFSD_HOWTO}"
        );
    };
    let help = Command::new(&path)
        .arg("--help")
        .stdin(Stdio::null())
        .output();
    let rust = help.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--shared-dir"));
    if !rust {
        bail!(
            "no usable virtiofsd: virtme-ng would use {}, QEMU's old C virtiofsd, whose options it does not speak \
             (it would fall back to 9p, which the Debian cloud kernels lack); {VIRTIOFSD_HOWTO}",
            path.display()
        );
    }
    Ok(path)
}

/// Checks that virtme-ng and what it needs are installed and that `kernel`
/// can boot under it. The error says what is missing and how to install it.
pub fn preflight(kernel: &FetchedKernel) -> Result<Tools> {
    let vng = match std::env::var_os(VNG_ENV) {
        Some(v) => PathBuf::from(v),
        None => which("vng").context(
            "virtme-ng is not installed: `pip install virtme-ng` (the `vng` command is not on PATH; or set LAB_VNG)",
        )?,
    };
    let vng_version = version_of(&vng).map_err(|e| {
        anyhow::anyhow!(
            "virtme-ng is not usable: `{} --version` failed: {e}",
            vng.display()
        )
    })?;
    let virtiofsd = find_virtiofsd()?;
    let busybox = which("busybox")
        .into_iter()
        .chain(["/usr/bin/busybox", "/bin/busybox"].map(PathBuf::from))
        .find(|p| std::fs::read(p).ok().and_then(|b| is_static_elf(&b)) == Some(true))
        .context("virtme-ng needs a statically linked busybox for its initramfs: `apt-get install busybox-static`")?;
    let qemu = Some(PathBuf::from(qemu_binary()))
        .filter(|p| p.is_absolute() && is_executable(p))
        .or_else(|| which(&qemu_binary()))
        .with_context(|| {
            format!(
                "{} not found: `apt-get install qemu-system-x86`",
                qemu_binary()
            )
        })?;
    // virtme-ng mounts the shared root with virtio-fs (FUSE); modules are fine
    // (see `BOOT_MODULES`), absent is not.
    for option in ["CONFIG_VIRTIO_FS", "CONFIG_FUSE_FS"] {
        match kernel.config_value(option).as_deref() {
            Some("y" | "m") | None => {}
            Some(v) => bail!(
                "kernel {} has {option}={v}: virtme-ng cannot mount the shared root filesystem; use --backend qemu",
                kernel.name
            ),
        }
    }
    let depmod = which("depmod")
        .into_iter()
        .chain(["/usr/sbin/depmod", "/sbin/depmod"].map(PathBuf::from))
        .find(|p| is_executable(p))
        .context("virtme-ng needs depmod for the kernel's modules: `apt-get install kmod`")?;
    Ok(Tools {
        vng,
        vng_version,
        virtiofsd,
        busybox,
        qemu,
        depmod,
    })
}

/// Quotes a word for the guest's `sh -c`.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// How the vng process ended.
#[derive(Debug)]
enum End {
    Exited(Option<i32>),
    Panic(String),
    Lockup(String),
    Timeout(Duration),
}

/// Stops vng and everything it started (QEMU, virtiofsd: one process group).
fn stop(child: &mut Child) {
    let pgid = nix::unistd::Pid::from_raw(-(child.id() as i32));
    let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGTERM);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(3) {
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
}

impl Vng {
    /// Work directory contents: `job.json`, `modules/NN-name.ko` (loaded by
    /// `lab guest-run`), `out/` (shared read-write) and `root/` (see
    /// [`Vng::boot_root`]). Returns the names of the job's modules.
    fn prepare(&self, work: &Path, job: &GuestJob, progress: &dyn Fn(&str)) -> Result<Vec<String>> {
        let mut wanted: Vec<&str> = RUN_MODULES.to_vec();
        if !job.probe.is_empty() {
            wanted.extend_from_slice(PROBE_MODULES);
        }
        let res = modules::resolve(&self.kernel.modules_dir, &wanted).with_context(|| {
            format!("resolving modules in {}", self.kernel.modules_dir.display())
        })?;
        res.require(REQUIRED_MODULES)
            .with_context(|| format!("kernel {}", self.kernel.name))?;
        if !res.not_found.is_empty() {
            progress(&format!(
                "modules not in this kernel (skipped): {}",
                res.not_found.join(", ")
            ));
        }
        let dir = work.join(MODULES_SUBDIR);
        std::fs::create_dir_all(&dir)?;
        for (i, m) in res.modules.iter().enumerate() {
            std::fs::write(dir.join(format!("{i:02}-{}.ko", m.name)), &m.bytes)?;
        }
        std::fs::write(work.join(JOB_FILE), serde_json::to_vec(job)?)?;
        std::fs::create_dir_all(work.join(OUT_SUBDIR))?;
        self.boot_root(work)?;
        Ok(res.modules.iter().map(|m| m.name.clone()).collect())
    }

    /// `root/boot/vmlinuz` (a link to the kernel image) and
    /// `root/lib/modules/<release>/` with [`BOOT_MODULES`], decompressed:
    /// virtme-ng looks for modules next to the image and loads them with
    /// busybox `insmod`, which cannot read Debian's `.ko.xz`. vng runs depmod
    /// in there (never in the kernel cache).
    fn boot_root(&self, work: &Path) -> Result<PathBuf> {
        let root = work.join("root");
        let moddir = root.join("lib/modules").join(&self.kernel.version);
        let kdir = moddir.join("kernel");
        std::fs::create_dir_all(&kdir)?;
        std::fs::create_dir_all(root.join("boot"))?;
        let image = root.join("boot/vmlinuz");
        std::os::unix::fs::symlink(&self.kernel.kernel_image, &image)
            .context("linking the kernel image")?;
        for f in MODULES_META {
            let src = self.kernel.modules_dir.join(f);
            if src.is_file() {
                std::fs::copy(&src, moddir.join(f))
                    .with_context(|| format!("copying {}", src.display()))?;
            }
        }
        let res = modules::resolve(&self.kernel.modules_dir, BOOT_MODULES).with_context(|| {
            format!("resolving modules in {}", self.kernel.modules_dir.display())
        })?;
        res.require(&["virtiofs", "fuse"])
            .with_context(|| format!("kernel {}: no virtio-fs for virtme-ng", self.kernel.name))?;
        for m in &res.modules {
            std::fs::write(kdir.join(format!("{}.ko", m.name)), &m.bytes)?;
        }
        Ok(image)
    }

    /// The `vng` command line.
    fn command(&self, work: &Path, accel: Accel) -> Result<Command> {
        let exe = std::env::current_exe().context("locating the lab executable")?;
        let guest_cmd = [
            exe.to_string_lossy().into_owned(),
            "guest-run".into(),
            "--job".into(),
            work.join(JOB_FILE).to_string_lossy().into_owned(),
            "--modules".into(),
            work.join(MODULES_SUBDIR).to_string_lossy().into_owned(),
            "--out".into(),
            work.join(OUT_SUBDIR).to_string_lossy().into_owned(),
            "--kernel-release".into(),
            self.kernel.version.clone(),
        ]
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
        let mut append = APPEND.to_string();
        if let Ok(extra) = std::env::var(APPEND_ENV)
            && !extra.trim().is_empty()
        {
            append = format!("{append} {}", extra.trim());
        }
        let mut cmd = Command::new(&self.tools.vng);
        cmd.arg("--run")
            .arg(work.join("root/boot/vmlinuz"))
            .arg("--verbose")
            .arg("--busybox")
            .arg(&self.tools.busybox)
            .arg("--qemu")
            .arg(&self.tools.qemu)
            .args([
                "--memory",
                &format!("{}M", self.options.memory_mb),
                "--cpus",
                "1",
            ])
            .arg(format!("--rwdir={}", work.join(OUT_SUBDIR).display()))
            .args(["--cwd", "/", "--append", &append, "--exec", &guest_cmd]);
        if accel == Accel::Tcg {
            cmd.arg("--disable-kvm");
        }
        cmd.current_dir(work)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        Ok(cmd)
    }

    /// Runs vng, relaying progress, copying its output to `console_log`,
    /// watching for panics and lockups, enforcing the timeout.
    fn boot(
        &self,
        mut cmd: Command,
        console_log: &Path,
        progress: &dyn Fn(&str),
    ) -> Result<(End, Vec<String>)> {
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.tools.vng.display()))?;
        let log = Arc::new(Mutex::new(
            std::fs::File::create(console_log)
                .with_context(|| format!("creating {}", console_log.display()))?,
        ));
        let (tx, rx) = mpsc::channel::<(ConsoleEvent, String)>();
        let mut readers = Vec::new();
        let pipes: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for pipe in pipes {
            let (log, tx) = (log.clone(), tx.clone());
            readers.push(std::thread::spawn(move || {
                let mut r = BufReader::new(pipe);
                let mut buf = Vec::new();
                while r.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
                    let _ = log.lock().map(|mut f| f.write_all(&buf));
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    let _ = tx.send((classify(&line), line));
                    buf.clear();
                }
            }));
        }
        drop(tx);
        let t0 = Instant::now();
        let mut events = Vec::new();
        let mut fatal: Option<(End, Instant)> = None;
        let mut handle =
            |ev: ConsoleEvent, line: String, fatal: &mut Option<(End, Instant)>| match ev {
                ConsoleEvent::Progress(m) => progress(&m),
                ConsoleEvent::Panic if fatal.is_none() => {
                    *fatal = Some((End::Panic(line), Instant::now()))
                }
                ConsoleEvent::Lockup if fatal.is_none() => {
                    *fatal = Some((End::Lockup(line), Instant::now()))
                }
                ConsoleEvent::Warning => events.push(line),
                _ => {}
            };
        let end = loop {
            while let Ok((ev, line)) = rx.try_recv() {
                handle(ev, line, &mut fatal);
            }
            if let Some(status) = child.try_wait()? {
                // vng may leave virtiofsd behind in its group.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(-(child.id() as i32)),
                    nix::sys::signal::Signal::SIGKILL,
                );
                break match fatal.take() {
                    Some((f, _)) => f,
                    None => End::Exited(status.code()),
                };
            }
            if signals::interrupted() {
                stop(&mut child);
                return Err(signals::Interrupted.into());
            }
            if let Some((_, at)) = &fatal
                && at.elapsed() > Duration::from_secs(2)
            {
                stop(&mut child);
                break fatal.take().unwrap().0;
            }
            if t0.elapsed() > self.options.timeout {
                stop(&mut child);
                break End::Timeout(self.options.timeout);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        for r in readers {
            let _ = r.join();
        }
        for (ev, line) in rx.try_iter() {
            handle(ev, line, &mut fatal);
        }
        let _ = log.lock().map(|mut f| f.flush());
        Ok((end, events))
    }
}

impl Backend for Vng {
    fn name(&self) -> String {
        "vng".into()
    }

    fn execute(&self, plan: &Plan, out_dir: &Path, progress: &dyn Fn(&str)) -> Result<Execution> {
        let job = GuestJob {
            probe: self.probe.clone(),
            plan: Some(plan.clone()),
        };
        let work = tempfile::Builder::new()
            .prefix("lab-vng-")
            .tempdir()
            .context("creating a vng work dir")?;
        let names = self.prepare(work.path(), &job, progress)?;
        let choice: Choice = accel::choose(&self.cache_dir, &self.kernel);
        progress(&format!(
            "booting {} ({}) under {} with QEMU/{} ({}); {} modules",
            self.kernel.name,
            self.kernel.version,
            self.tools.vng_version,
            choice.accel.as_str(),
            choice.reason,
            names.len()
        ));
        let console_log = out_dir.join(CONSOLE_LOG);
        let cmd = self.command(work.path(), choice.accel)?;
        let (end, kernel_events) = self.boot(cmd, &console_log, progress)?;
        let archive = work.path().join(OUT_SUBDIR).join(RESULT_FILE);
        let result = match std::fs::File::open(&archive) {
            Ok(f) => protocol::read_archive(f, out_dir),
            Err(_) => Err(anyhow::anyhow!("the guest wrote no result")),
        };
        let last = || tail(&console_log, 8);
        let failure = match (&end, &result) {
            (End::Panic(line), _) => Some(format!("kernel panic: {line}")),
            (End::Lockup(line), _) => Some(format!("kernel lockup: {line}")),
            (End::Timeout(t), _) => Some(format!(
                "guest timed out after {} s; vng killed (console.log kept). Last console lines:\n{}",
                t.as_secs(),
                last()
            )),
            (End::Exited(code), Err(e)) => Some(format!(
                "vng exited (status {code:?}) without a usable result: {e:#}\nLast console lines:\n{}",
                last()
            )),
            (End::Exited(_), Ok(_)) => None,
        };
        Ok(super::vm_execution(
            &self.kernel,
            choice.accel,
            kernel_events,
            failure,
            result.ok(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_guest_shell() {
        assert_eq!(
            shell_quote("/tmp/lab-vng-x/job.json"),
            "/tmp/lab-vng-x/job.json"
        );
        assert_eq!(
            shell_quote("6.12.117+deb12-cloud-amd64"),
            "6.12.117+deb12-cloud-amd64"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
