//! What goes into a guest: the kernel modules a job needs (for both VM
//! programs) and, for the hermetic QEMU boot, the initramfs with `/init`
//! (static `lab`), the job and those modules in load order.

use std::path::Path;

use anyhow::{Context, Result};

use super::initramfs::Builder;
use crate::domain::KernelStack;
use crate::job::Job;
use crate::kernels::FetchedKernel;
use crate::kernels::modules::{self, Resolution};

/// Path of the job file inside the initramfs.
pub(crate) const JOB_PATH: &str = "/lab/job.json";
/// Directory of modules inside the initramfs, loaded in name order.
pub(crate) const MODULES_DIR: &str = "/lab/modules";

/// Modules a scenario or bench needs (built-in ones are skipped).
const RUN_MODULES: &[&str] = &[
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
const PROBE_MODULES: &[&str] = &["ctr", "xts", "gcm", "chacha_generic", "sm4_generic", "sm4"];

/// The kernel's IPsec with AES-CBC + AES-CMAC-96 (the ESP data plane's
/// peer): nothing loads them on demand in the guest (no modprobe), and
/// `authenc`, `echainiv` and `cmac` are not dependencies of `esp4`.
const IPSEC_MODULES: &[&str] = &[
    "xfrm_algo",
    "xfrm_user",
    "esp4",
    "authenc",
    "echainiv",
    "cmac",
];

/// AES-GCM for the kernel ESP the bench compares with (RFC 4106 needs
/// `seqiv`; `ghash_clmulni_intel` is the fast GHASH where the CPU has it).
const GCM_MODULES: &[&str] = &[
    "gcm",
    "ghash_generic",
    "ghash_clmulni_intel",
    "seqiv",
    "ctr",
];

/// WireGuard; its UDP tunnel and curve25519/chacha20poly1305 libraries
/// follow from its dependencies.
const WIREGUARD_MODULES: &[&str] = &["wireguard"];

/// Modules without which nothing can run.
const REQUIRED_MODULES: &[&str] = &["veth"];

/// The modules `job` needs on `kernel`, in load order.
pub(crate) fn job_modules(kernel: &FetchedKernel, job: &Job) -> Result<Resolution> {
    let mut wanted: Vec<&str> = RUN_MODULES.to_vec();
    if !job.probe_ciphers().is_empty() {
        wanted.extend_from_slice(PROBE_MODULES);
    }
    if job.needs_ipsec() {
        wanted.extend_from_slice(IPSEC_MODULES);
    }
    for stack in job.kernel_stacks() {
        match stack {
            KernelStack::EspCbcCmac => {}
            KernelStack::EspGcm => wanted.extend_from_slice(GCM_MODULES),
            KernelStack::WireGuard => wanted.extend_from_slice(WIREGUARD_MODULES),
        }
    }
    // A developer's image without a modules folder has what it needs
    // built in (its config was checked before booting).
    let Some(dir) = kernel.modules_dir.as_deref() else {
        return Ok(Resolution::default());
    };
    let res = modules::resolve(dir, &wanted)
        .with_context(|| format!("resolving modules in {}", dir.display()))?;
    res.require(REQUIRED_MODULES)
        .with_context(|| format!("kernel {}", kernel.name))?;
    Ok(res)
}

/// A built image and what went into it.
pub(crate) struct Image {
    /// The cpio archive.
    pub(crate) bytes: Vec<u8>,
    /// Modules packed, in load order.
    pub(crate) modules: Vec<String>,
    /// Requested modules found nowhere.
    pub(crate) missing: Vec<String>,
}

/// Builds the initramfs for `job` on `kernel`, with `init` as `/init`.
pub(crate) fn build(kernel: &FetchedKernel, job: &Job, init: &Path) -> Result<Image> {
    let res = job_modules(kernel, job)?;
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
        missing: res.not_found,
    })
}
