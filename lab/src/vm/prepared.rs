//! A VM's limits and what a launcher prepared before starting it.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::console::Streams;

/// VM sizing and limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VmOptions {
    /// Wall-clock limit for one boot.
    pub(crate) timeout: Duration,
    /// Guest memory in MiB.
    pub(crate) memory_mb: u32,
    /// How long the VM may stay silent on its console after it started:
    /// a kernel that prints nothing at all did not start.
    pub(crate) silence: Duration,
}

impl Default for VmOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            memory_mb: 512,
            silence: Duration::from_secs(20),
        }
    }
}

/// A VM ready to start: its command line and where its result will be.
pub(crate) struct Prepared {
    /// The command (QEMU or vng).
    pub(crate) cmd: Command,
    /// Which of its output streams are the console.
    pub(crate) streams: Streams,
    /// Where the guest's result archive appears.
    pub(crate) result_file: PathBuf,
    /// The program's name for messages (`QEMU`, `vng`).
    pub(crate) program: &'static str,
    /// What was prepared, for the progress line.
    pub(crate) details: String,
    /// Requested modules the kernel does not have.
    pub(crate) missing_modules: Vec<String>,
}
