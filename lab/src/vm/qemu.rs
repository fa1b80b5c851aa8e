//! Running QEMU: command line, console monitoring, timeout.
//!
//! The serial console (ttyS0) is the log and the crash detector: it is
//! copied to `console.log`, the guest's progress lines are relayed, and a
//! panic or lockup ends the run. Results come back on a separate
//! virtio-serial port backed by a file.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::guest::protocol::{PROGRESS_PREFIX, RESULTS_PORT};
use crate::kernels::BootKind;
use crate::signals;

/// Environment variable naming the QEMU binary.
pub const QEMU_ENV: &str = "LAB_QEMU";

/// Kernel command line (see DESIGN.md for the measured choices).
pub const CMDLINE: &str = "console=ttyS0 panic=-1 loglevel=5 mitigations=off cryptomgr.notests tsc=reliable \
     no_timer_check nokaslr audit=0 random.trust_cpu=on softlockup_panic=1";

/// Environment variable with extra kernel command-line words (debugging;
/// the tests use it to provoke a real panic).
pub const APPEND_ENV: &str = "LAB_KERNEL_APPEND";

/// The full kernel command line.
pub fn cmdline() -> String {
    match std::env::var(APPEND_ENV) {
        Ok(extra) if !extra.trim().is_empty() => format!("{CMDLINE} {}", extra.trim()),
        _ => CMDLINE.to_string(),
    }
}

/// The QEMU binary to run.
pub fn qemu_binary() -> String {
    std::env::var(QEMU_ENV).unwrap_or_else(|_| "qemu-system-x86_64".into())
}

/// A QEMU accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Hardware virtualisation.
    Kvm,
    /// Software emulation.
    Tcg,
}

impl Accel {
    /// `kvm` or `tcg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// One VM boot.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// Image for `-kernel`.
    pub kernel_image: PathBuf,
    /// What the image is (for the record; QEMU detects it).
    pub boot_kind: BootKind,
    /// The initramfs.
    pub initrd: PathBuf,
    /// Guest memory in MiB.
    pub memory_mb: u32,
    /// Wall-clock limit.
    pub timeout: Duration,
    /// Accelerator.
    pub accel: Accel,
    /// File backing the results port.
    pub results_file: PathBuf,
    /// Where the console log goes.
    pub console_log: PathBuf,
}

/// How the VM ended.
#[derive(Debug, Clone, PartialEq)]
pub enum VmEnd {
    /// QEMU exited by itself (normally: the guest powered off).
    Exited(Option<i32>),
    /// A kernel panic was seen on the console.
    Panic(String),
    /// A lockup or RCU stall was seen on the console.
    Lockup(String),
    /// The time limit passed; QEMU was killed.
    Timeout(Duration),
}

/// What a boot produced.
#[derive(Debug, Clone)]
pub struct VmRun {
    /// How it ended.
    pub end: VmEnd,
    /// Oops/BUG/WARNING lines seen on the console.
    pub kernel_events: Vec<String>,
    /// QEMU's stderr.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

/// What a console line means.
#[derive(Debug, PartialEq, Eq)]
pub enum ConsoleEvent {
    /// Guest progress text.
    Progress(String),
    /// Kernel panic.
    Panic,
    /// Lockup or stall.
    Lockup,
    /// Oops, BUG or WARNING.
    Warning,
    /// Anything else.
    Other,
}

/// Classifies one console line.
pub fn classify(line: &str) -> ConsoleEvent {
    if let Some(i) = line.find(PROGRESS_PREFIX) {
        return ConsoleEvent::Progress(line[i + PROGRESS_PREFIX.len()..].to_string());
    }
    if line.contains("Kernel panic - not syncing") {
        ConsoleEvent::Panic
    } else if line.contains("soft lockup")
        || line.contains("hard LOCKUP")
        || line.contains("rcu_preempt detected stall")
        || line.contains("self-detected stall")
        || line.contains("rcu_sched detected stall")
    {
        ConsoleEvent::Lockup
    } else if line.contains("Oops:")
        || line.contains("BUG:")
        || line.contains("WARNING:")
        || line.contains("general protection fault")
        || line.contains("UBSAN:")
        || line.contains("KASAN:")
    {
        ConsoleEvent::Warning
    } else {
        ConsoleEvent::Other
    }
}

/// The lab's QEMU machine (q35, one vCPU, no default devices, serial
/// console on stdio, no reboot) booting `kernel`; the caller adds the rest.
pub fn machine(accel: Accel, memory_mb: u32, kernel: &Path) -> Command {
    let mut cmd = Command::new(qemu_binary());
    cmd.args(["-accel", accel.as_str(), "-cpu", "max", "-machine", "q35"])
        .args(["-m", &format!("{memory_mb}M"), "-smp", "1"])
        .args([
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-nic",
            "none",
            "-no-reboot",
        ])
        .args(["-serial", "stdio", "-kernel"])
        .arg(kernel);
    cmd
}

/// Boots the VM and waits for it to end.
pub fn run(cfg: &VmConfig, progress: &dyn Fn(&str)) -> Result<VmRun> {
    let mut cmd = machine(cfg.accel, cfg.memory_mb, &cfg.kernel_image);
    cmd.arg("-initrd")
        .arg(&cfg.initrd)
        .arg("-append")
        .arg(cmdline())
        .args(["-device", "virtio-serial-pci"])
        .arg("-chardev")
        .arg(format!("file,id=res,path={}", cfg.results_file.display()))
        .args([
            "-device",
            &format!("virtserialport,chardev=res,name={RESULTS_PORT}"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let t0 = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {} (is qemu-system-x86 installed?)", qemu_binary()))?;

    let stdout = child.stdout.take().unwrap();
    let mut log = std::fs::File::create(&cfg.console_log)
        .with_context(|| format!("creating {}", cfg.console_log.display()))?;
    let (tx, rx) = mpsc::channel::<(ConsoleEvent, String)>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        while r.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
            let _ = log.write_all(&buf);
            let line = String::from_utf8_lossy(&buf).trim_end().to_string();
            let _ = tx.send((classify(&line), line));
            buf.clear();
        }
        let _ = log.flush();
    });
    let stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
        s
    });

    let mut kernel_events = Vec::new();
    let mut fatal: Option<(VmEnd, Instant)> = None;
    let end = loop {
        while let Ok((ev, line)) = rx.try_recv() {
            match ev {
                ConsoleEvent::Progress(m) => progress(&m),
                ConsoleEvent::Panic if fatal.is_none() => {
                    fatal = Some((VmEnd::Panic(line), Instant::now()))
                }
                ConsoleEvent::Lockup if fatal.is_none() => {
                    fatal = Some((VmEnd::Lockup(line), Instant::now()))
                }
                ConsoleEvent::Warning => kernel_events.push(line),
                _ => {}
            }
        }
        if let Some(status) = child.try_wait()? {
            break match fatal.take() {
                Some((f, _)) => f,
                None => VmEnd::Exited(status.code()),
            };
        }
        if signals::interrupted() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(signals::Interrupted.into());
        }
        // After a panic or lockup give the console a moment, then stop the VM.
        if let Some((_, at)) = &fatal
            && at.elapsed() > Duration::from_secs(2)
        {
            let _ = child.kill();
            let _ = child.wait();
            break fatal.take().unwrap().0;
        }
        if t0.elapsed() > cfg.timeout {
            let _ = child.kill();
            let _ = child.wait();
            break VmEnd::Timeout(cfg.timeout);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = reader.join();
    for (ev, line) in rx.try_iter() {
        match ev {
            ConsoleEvent::Progress(m) => progress(&m),
            ConsoleEvent::Warning => kernel_events.push(line),
            _ => {}
        }
    }
    let stderr = err_reader.join().unwrap_or_default();
    Ok(VmRun {
        end,
        kernel_events,
        stderr,
        elapsed: t0.elapsed(),
    })
}

/// The last `n` lines of a log file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_are_classified() {
        assert_eq!(
            classify("lab-guest: step 1"),
            ConsoleEvent::Progress("step 1".into())
        );
        assert_eq!(
            classify("[    1.2] Kernel panic - not syncing: Attempted to kill init!"),
            ConsoleEvent::Panic
        );
        assert_eq!(
            classify("watchdog: BUG: soft lockup - CPU#0 stuck for 22s!"),
            ConsoleEvent::Lockup
        );
        assert_eq!(
            classify("rcu: INFO: rcu_preempt self-detected stall on CPU"),
            ConsoleEvent::Lockup
        );
        assert_eq!(
            classify("WARNING: CPU: 0 PID: 1 at net/core/dev.c:1 foo"),
            ConsoleEvent::Warning
        );
        assert_eq!(
            classify("BUG: unable to handle page fault"),
            ConsoleEvent::Warning
        );
        assert_eq!(
            classify("[    0.0] Linux version 6.12"),
            ConsoleEvent::Other
        );
    }
}
