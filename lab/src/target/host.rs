//! The running kernel as a target: namespaces on this machine.

use anyhow::{Result, bail};

/// Why this process cannot use the host, if it cannot.
pub(crate) fn preflight() -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "the host backend needs root (CAP_NET_ADMIN and CAP_BPF for namespaces, veth and BPF): run it as root"
        );
    }
    Ok(())
}
