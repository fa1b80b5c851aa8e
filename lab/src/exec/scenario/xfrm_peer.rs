//! The shape of the kernel's IPsec as the data plane's peer: the
//! algorithms, replay window and reqids its states use, and the check that
//! this kernel can be that peer at all.

use std::net::Ipv4Addr;

use anyhow::{Context, Result};

use crate::domain::Unsupported;
use crate::sys::netns::Netns;
use crate::sys::request_error::RequestError;
use crate::sys::xfrm::{self, XfrmAlgs, XfrmSa};

/// The replay window of the kernel's inbound states.
pub(crate) const REPLAY_WINDOW: u32 = 64;
/// reqids tying the outbound and inbound policy to their state.
pub(crate) const REQID_OUT: u32 = 1;
pub(crate) const REQID_IN: u32 = 2;

/// Refuses early, before any step runs, when the kernel cannot be the
/// peer: no ESP, no xfrm netlink, or no cbc(aes) + cmac(aes).
pub(crate) fn preflight(ns: &Netns) -> Result<()> {
    let probe = XfrmSa {
        spi: 0x100,
        src: Ipv4Addr::new(192, 0, 2, 1),
        dst: Ipv4Addr::new(192, 0, 2, 2),
        algs: algs(&[0; 16], &[0; 16]),
        replay_window: REPLAY_WINDOW,
        reqid: REQID_OUT,
    };
    let r = ns
        .run(move || xfrm::add_state(&probe).and_then(|()| xfrm::flush()))
        .context("xfrm thread")?;
    match r {
        Ok(()) => Ok(()),
        Err(RequestError::Unsupported(e)) => Err(Unsupported(format!(
            "the scenario needs the kernel's IPsec as the peer, and this kernel cannot: {e}"
        ))
        .into()),
        Err(e) => Err(e).context("checking the kernel's IPsec"),
    }
}

/// AES-CBC with AES-CMAC-96, as the data plane's SAs.
pub(crate) fn algs(enc_key: &[u8], auth_key: &[u8]) -> XfrmAlgs {
    XfrmAlgs::CbcAuth {
        enc_key: enc_key.to_vec(),
        auth_name: "cmac(aes)".into(),
        auth_key: auth_key.to_vec(),
        trunc_bits: 96,
    }
}
