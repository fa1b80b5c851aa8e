//! Choosing the accelerator: KVM when it really works, TCG otherwise.
//!
//! `/dev/kvm` can exist and open yet fail for a stock kernel (nested
//! hypervisors: "failed to set MSR", emulation errors). So the probe boots
//! the kernel under KVM without an initramfs and expects it to reach its
//! "unable to mount root" panic. The verdict is cached per QEMU version and
//! kernel release. `LAB_ACCEL=kvm|tcg` forces a choice.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use anyhow::{Context, Result, bail};

use super::machine::{self, Accel, QEMU_ENV, qemu_binary};
use crate::kernels::FetchedKernel;

/// Environment variable forcing the accelerator.
pub(crate) const ACCEL_ENV: &str = "LAB_ACCEL";

/// The chosen accelerator and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Choice {
    /// Accelerator to use.
    pub(crate) accel: Accel,
    /// Why (e.g. the KVM failure).
    pub(crate) reason: String,
}

/// QEMU's version line (a cache key), or why QEMU does not run.
pub(crate) fn qemu_version() -> Result<String> {
    let qemu = qemu_binary();
    let out = Command::new(&qemu)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .with_context(|| {
            format!("cannot run {qemu} (set by {QEMU_ENV} or on PATH): install qemu-system-x86")
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.lines().next() {
        Some(line) if out.status.success() && line.contains("QEMU") => Ok(line.to_string()),
        _ => bail!(
            "{qemu} --version did not answer like QEMU (status {}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

/// The accelerator forced by `LAB_ACCEL`, if set.
fn forced() -> Result<Option<Choice>> {
    let accel = match std::env::var(ACCEL_ENV).ok().as_deref() {
        None | Some("") => return Ok(None),
        Some("kvm") => Accel::Kvm,
        Some("tcg") => Accel::Tcg,
        Some(other) => bail!("{ACCEL_ENV}={other}: use kvm or tcg (or leave it unset)"),
    };
    Ok(Some(Choice {
        accel,
        reason: format!("forced by {ACCEL_ENV}"),
    }))
}

/// Picks the accelerator for `kernel`, probing KVM once per QEMU/kernel
/// pair. An unknown `LAB_ACCEL` or a QEMU that does not run is an error.
pub(crate) fn choose(cache_dir: &Path, kernel: &FetchedKernel) -> Result<Choice> {
    let version = qemu_version()?;
    if let Some(c) = forced()? {
        return Ok(c);
    }
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return Ok(Choice {
            accel: Accel::Tcg,
            reason: format!("no usable /dev/kvm ({e})"),
        });
    }
    let key = format!("{version} | {}", kernel.version);
    let path = cache_dir.join("accel-probe.json");
    let mut cache: BTreeMap<String, Choice> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if let Some(c) = cache.get(&key) {
        return Ok(c.clone());
    }
    let (choice, conclusive) = probe_kvm(kernel);
    // A probe that could not even start QEMU says nothing about KVM.
    if conclusive {
        cache.insert(key, choice.clone());
        if std::fs::create_dir_all(cache_dir).is_ok() {
            let _ = std::fs::write(&path, serde_json::to_vec_pretty(&cache).unwrap_or_default());
        }
    }
    Ok(choice)
}

/// Boots `kernel` under KVM without an initramfs: reaching the kernel's
/// panic means KVM works. Also says whether the probe was conclusive.
fn probe_kvm(kernel: &FetchedKernel) -> (Choice, bool) {
    let mut child = match machine::machine(Accel::Kvm, 256, &kernel.kernel_image)
        .args(["-append", "console=ttyS0 panic=-1 loglevel=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            let c = Choice {
                accel: Accel::Tcg,
                reason: format!("cannot start QEMU for the KVM probe: {e}"),
            };
            return (c, false);
        }
    };
    let t0 = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if t0.elapsed() > Duration::from_secs(20) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let out = child.wait_with_output().ok();
    let console = out
        .as_ref()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let stderr = out
        .as_ref()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default();
    if console.contains("Kernel panic") {
        let c = Choice {
            accel: Accel::Kvm,
            reason: "KVM probe boot reached the kernel".into(),
        };
        return (c, true);
    }
    let why = match status {
        None => "the KVM probe boot hung".to_string(),
        Some(_) => stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("QEMU exited early")
            .trim()
            .to_string(),
    };
    let c = Choice {
        accel: Accel::Tcg,
        reason: format!("KVM does not work here ({why})"),
    };
    (c, true)
}
