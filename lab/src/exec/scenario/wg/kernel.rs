//! The kernel's WireGuard as one end of a `mode: wireguard` run: a
//! `wireguard` link with that end's key, port, tunnel address and peer,
//! created over netlink in the end's namespace (no `wg` binary).

use anyhow::{Context, Result};

use crate::domain::{IfAddr, Unsupported};
use crate::sys::request_error::RequestError;
use crate::sys::wireguard::{self, WgPeer, WgStats};

/// The link's name.
pub(crate) const IFNAME: &str = "bcwg";

/// What the link is made of.
pub(crate) struct Link {
    /// The end's static private key.
    pub(crate) private_key: [u8; 32],
    /// Its listen port.
    pub(crate) port: u16,
    /// Its tunnel address (the link's address, with its prefix).
    pub(crate) address: IfAddr,
    /// The data plane end.
    pub(crate) peer: WgPeer,
    /// The link's MTU.
    pub(crate) mtu: u32,
}

impl Link {
    /// Creates it (call inside the namespace); a kernel without WireGuard
    /// gives [`Unsupported`].
    pub(crate) fn create(&self) -> Result<()> {
        let r = wireguard::create(
            IFNAME,
            self.private_key,
            self.port,
            &self.peer,
            self.address.addr,
            self.address.prefix,
            self.mtu,
        );
        match r {
            Ok(_) => Ok(()),
            Err(RequestError::Unsupported(e)) => Err(Unsupported(format!(
                "the scenario needs the kernel's WireGuard as the peer, and this kernel cannot: {e}"
            ))
            .into()),
            Err(e) => Err(e).context("creating the kernel's WireGuard link"),
        }
    }

    /// Deletes it (call inside the namespace).
    pub(crate) fn delete() -> Result<()> {
        wireguard::delete(IFNAME).context("deleting the kernel's WireGuard link")
    }

    /// Its peer's counters (call inside the namespace).
    pub(crate) fn stats() -> Result<WgStats> {
        wireguard::peer_stats(IFNAME).context("reading the kernel's WireGuard counters")
    }
}

/// Refuses early, before any step runs, when the kernel cannot be the
/// peer: no `wireguard` generic netlink family (asking for a link that
/// does not exist tells the two apart).
pub(crate) fn preflight(ns: &crate::sys::netns::Netns) -> Result<()> {
    let r = ns
        .run(|| wireguard::peer_stats("bcwgprobe"))
        .context("netlink thread")?;
    match r {
        Err(RequestError::Unsupported(e)) => Err(Unsupported(format!(
            "the scenario needs the kernel's WireGuard as the peer, and this kernel cannot: {e}"
        ))
        .into()),
        _ => Ok(()),
    }
}
