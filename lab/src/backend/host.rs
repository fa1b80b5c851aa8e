//! The `host` backend: namespaces on the running kernel.

use std::path::Path;

use anyhow::{Result, bail};

use super::{Backend, Execution, Outcome};
use crate::dataplane::{self, DataPlaneError};
use crate::plan::Plan;
use crate::runner;
use crate::signals::Interrupted;

/// Runs scenarios directly on this machine's kernel.
pub struct Host {
    /// Cipher names to probe before the run (empty: no probe).
    pub probe: Vec<String>,
}

/// `uname -r` of the running kernel.
pub fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// Why this process cannot use the host backend, if it cannot.
pub fn preflight() -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "the host backend needs root (CAP_NET_ADMIN and CAP_BPF for namespaces, veth and BPF): run it as root"
        );
    }
    Ok(())
}

impl Backend for Host {
    fn name(&self) -> String {
        "host".into()
    }

    fn execute(&self, plan: &Plan, out_dir: &Path, progress: &dyn Fn(&str)) -> Result<Execution> {
        preflight()?;
        let kernel = kernel_release();
        let outcome = if !dataplane::kernel_has_bpf_crypto()
            && std::env::var_os(dataplane::FORCE_LOAD_ENV).is_none()
        {
            Outcome::Unsupported(format!(
                "kernel {kernel} has no bpf_crypto kfuncs (needs Linux 6.10+ with CONFIG_BPF_SYSCALL and CONFIG_CRYPTO_SKCIPHER)"
            ))
        } else {
            match runner::run(plan, out_dir, progress) {
                Ok(report) => Outcome::Completed(Box::new(report)),
                Err(e) if e.is::<Interrupted>() || e.root_cause().to_string() == "interrupted" => {
                    return Err(e);
                }
                Err(e) => {
                    if let Some(DataPlaneError::Load { log, .. }) =
                        e.downcast_ref::<DataPlaneError>()
                    {
                        let _ = std::fs::write(out_dir.join("verifier.log"), log);
                    }
                    Outcome::Failed(format!("{e:#}"))
                }
            }
        };
        let probe = (!self.probe.is_empty()).then(|| {
            if dataplane::kernel_has_bpf_crypto() {
                crate::probe::probe(&self.probe).map_err(|e| e.to_string())
            } else {
                Err(format!("kernel {kernel} has no bpf_crypto kfuncs"))
            }
        });
        Ok(Execution {
            kernel,
            kernel_name: None,
            accelerator: None,
            kernel_events: Vec::new(),
            probe,
            outcome,
        })
    }
}
