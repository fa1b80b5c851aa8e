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

use super::machine::{self, Accel, qemu_binary};
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

/// QEMU's version line, for cache keys.
pub(crate) fn qemu_version() -> String {
    Command::new(qemu_binary())
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// Picks the accelerator for `kernel`, probing KVM once per QEMU/kernel pair.
pub(crate) fn choose(cache_dir: &Path, kernel: &FetchedKernel) -> Choice {
    match std::env::var(ACCEL_ENV).ok().as_deref() {
        Some("kvm") => {
            return Choice {
                accel: Accel::Kvm,
                reason: format!("forced by {ACCEL_ENV}"),
            };
        }
        Some("tcg") => {
            return Choice {
                accel: Accel::Tcg,
                reason: format!("forced by {ACCEL_ENV}"),
            };
        }
        _ => {}
    }
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return Choice {
            accel: Accel::Tcg,
            reason: format!("no usable /dev/kvm ({e})"),
        };
    }
    let key = format!("{} | {}", qemu_version(), kernel.version);
    let path = cache_dir.join("accel-probe.json");
    let mut cache: BTreeMap<String, Choice> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if let Some(c) = cache.get(&key) {
        return c.clone();
    }
    let choice = probe_kvm(kernel);
    cache.insert(key, choice.clone());
    if std::fs::create_dir_all(cache_dir).is_ok() {
        let _ = std::fs::write(&path, serde_json::to_vec_pretty(&cache).unwrap_or_default());
    }
    choice
}

fn probe_kvm(kernel: &FetchedKernel) -> Choice {
    let mut child = match machine::machine(Accel::Kvm, 256, &kernel.kernel_image)
        .args(["-append", "console=ttyS0 panic=-1 loglevel=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return Choice {
                accel: Accel::Tcg,
                reason: format!("cannot start QEMU for the KVM probe: {e}"),
            };
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
        return Choice {
            accel: Accel::Kvm,
            reason: "KVM probe boot reached the kernel".into(),
        };
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
    Choice {
        accel: Accel::Tcg,
        reason: format!("KVM does not work here ({why})"),
    }
}
