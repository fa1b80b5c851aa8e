//! The running kernel as a target: namespaces on this machine.

use anyhow::{Result, bail};

/// Capabilities the host target needs, with what for.
const NEEDED: &[(u32, &str, &str)] = &[
    (21, "CAP_SYS_ADMIN", "network namespaces"),
    (12, "CAP_NET_ADMIN", "veth, addresses, tcx"),
    (13, "CAP_NET_RAW", "ping and the packet capture"),
    (39, "CAP_BPF", "loading the data plane"),
];

/// The effective capability set from `/proc/self/status`.
fn effective() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Why this process cannot use the host, if it cannot: not root, or root
/// with capabilities dropped (e.g. in a restricted container).
pub(crate) fn preflight() -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "the host backend needs root (CAP_NET_ADMIN and CAP_BPF for namespaces, veth and BPF): run it as root"
        );
    }
    let Some(caps) = effective() else {
        return Ok(());
    };
    let missing: Vec<String> = NEEDED
        .iter()
        .filter(|(bit, ..)| caps & (1u64 << bit) == 0)
        .map(|(_, name, what)| format!("{name} ({what})"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "the host backend runs as root but without {}: run it with full capabilities (not under a capability-dropping wrapper or restricted container)",
            missing.join(", ")
        );
    }
    Ok(())
}
