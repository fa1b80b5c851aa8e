//! The initramfs for one guest job: `/init` (static `lab`), the job, and
//! the kernel modules it needs in load order.

use std::path::Path;

use anyhow::{Context, Result};

use crate::guest::protocol::{GuestJob, JOB_PATH, MODULES_DIR};
use crate::initramfs::Builder;
use crate::kernels::FetchedKernel;
use crate::kernels::modules;

/// Modules a scenario run needs (built-in ones are skipped).
pub const RUN_MODULES: &[&str] = &[
    "virtio_pci",
    "virtio_console",
    "veth",
    "sch_ingress",
    "cls_bpf",
    "bpf_crypto_skcipher",
    "aes_generic",
    "cbc",
    "ecb",
    "aesni_intel",
];

/// Extra modules for the capability probe, so that a refusal means the
/// bpf_crypto path refuses, not that a module was missing.
pub const PROBE_MODULES: &[&str] = &["ctr", "xts", "gcm", "chacha_generic", "sm4_generic", "sm4"];

/// Modules without which nothing can run.
pub const REQUIRED_MODULES: &[&str] = &["veth"];

/// A built image and what went into it.
pub struct Image {
    /// The cpio archive.
    pub bytes: Vec<u8>,
    /// Modules packed, in load order.
    pub modules: Vec<String>,
    /// Requested modules that the kernel has built in.
    pub builtin: Vec<String>,
    /// Requested modules found nowhere.
    pub missing: Vec<String>,
}

/// Builds the initramfs for `job` on `kernel`.
pub fn build(kernel: &FetchedKernel, job: &GuestJob, init: &Path) -> Result<Image> {
    let mut wanted: Vec<&str> = RUN_MODULES.to_vec();
    if !job.probe.is_empty() {
        wanted.extend_from_slice(PROBE_MODULES);
    }
    let res = modules::resolve(&kernel.modules_dir, &wanted)
        .with_context(|| format!("resolving modules in {}", kernel.modules_dir.display()))?;
    res.require(REQUIRED_MODULES)
        .with_context(|| format!("kernel {}", kernel.name))?;

    let mut b = Builder::new();
    for d in ["/dev", "/proc", "/sys", "/tmp", "/lab", MODULES_DIR] {
        b.add_dir(d, 0o755)?;
    }
    b.add_console()?;
    b.add_file_from("/init", init, 0o755)
        .with_context(|| format!("adding {}", init.display()))?;
    b.add_file(JOB_PATH, serde_json::to_vec(job)?, 0o644)?;
    let mut names = Vec::new();
    for (i, m) in res.modules.iter().enumerate() {
        b.add_file(
            &format!("{MODULES_DIR}/{i:02}-{}.ko", m.name),
            m.bytes.clone(),
            0o644,
        )?;
        names.push(m.name.clone());
    }
    Ok(Image {
        bytes: b.to_bytes(),
        modules: names,
        builtin: res.builtin.clone(),
        missing: res.not_found.clone(),
    })
}
