//! The lab's QEMU machine, shared by every boot and the KVM probe.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// Environment variable naming the QEMU binary.
pub(crate) const QEMU_ENV: &str = "LAB_QEMU";

/// The QEMU binary to run.
pub(crate) fn qemu_binary() -> String {
    std::env::var(QEMU_ENV).unwrap_or_else(|_| "qemu-system-x86_64".into())
}

/// A QEMU accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Accel {
    /// Hardware virtualisation.
    Kvm,
    /// Software emulation.
    Tcg,
}

impl Accel {
    /// `kvm` or `tcg`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// The lab's QEMU machine (q35, one vCPU, no default devices, serial
/// console on stdio, no reboot) booting `kernel`; the caller adds the rest.
pub(crate) fn machine(accel: Accel, memory_mb: u32, kernel: &Path) -> Command {
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
