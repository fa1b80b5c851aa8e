//! The kernel's own stacks as bench variants, set up in the test bed's
//! namespaces over netlink (no `ip`, no `wg` binary): ESP transport mode
//! with the data plane's algorithms or with AES-GCM, and WireGuard with
//! fixed test keys. A kernel without them refuses with a reason the
//! report shows as "unavailable on this kernel".

use std::net::{Ipv4Addr, SocketAddrV4};

use anyhow::{Context, Result};

use super::planes;
use crate::domain::{KernelStack, Side};
use crate::spec::bench_plan::BenchPlan;
use crate::sys::request_error::RequestError;
use crate::sys::topology::Topology;
use crate::sys::wireguard::{self, WgPeer};
use crate::sys::xfrm::{self, PolicyDir, XfrmAlgs, XfrmSa};

/// The WireGuard interfaces' name and inner network.
const WG_IF: &str = "bclwg";
const WG_NET: [u8; 3] = [10, 201, 0];
const WG_PORT: u16 = 51820;
/// SPIs of the kernel's ESP states (left → right, right → left).
const SPIS: [u32; 2] = [0x5000, 0x5001];

/// The end points traffic addresses: the veth addresses, or the tunnel's.
pub(crate) type Addrs = (Ipv4Addr, Ipv4Addr);

/// Sets `stack` up on both ends of `topo`; a [`crate::domain::Unsupported`] error when
/// this kernel does not have it.
pub(crate) fn set_up(plan: &BenchPlan, topo: &Topology, stack: KernelStack) -> Result<Addrs> {
    match stack {
        KernelStack::EspCbcCmac | KernelStack::EspGcm => esp(plan, topo, stack),
        KernelStack::WireGuard => wg(plan, topo),
    }
}

fn algs(plan: &BenchPlan, stack: KernelStack) -> XfrmAlgs {
    match stack {
        KernelStack::EspGcm => {
            // RFC 4106: the AES key, then a 4-byte salt.
            let mut key = plan.key.clone();
            key.extend_from_slice(&[0x5a, 0x17, 0x5a, 0x17]);
            XfrmAlgs::Aead {
                name: "rfc4106(gcm(aes))".into(),
                key,
                icv_bits: 128,
            }
        }
        _ => XfrmAlgs::CbcAuth {
            enc_key: plan.key.clone(),
            auth_name: "cmac(aes)".into(),
            auth_key: planes::auth_key(&plan.key),
            trunc_bits: 96,
        },
    }
}

fn esp(plan: &BenchPlan, topo: &Topology, stack: KernelStack) -> Result<Addrs> {
    let (l, r) = (plan.left.addr, plan.right.addr);
    for side in Side::BOTH {
        let (me, peer, out_spi, in_spi) = match side {
            Side::Left => (l, r, SPIS[0], SPIS[1]),
            Side::Right => (r, l, SPIS[1], SPIS[0]),
        };
        let a = algs(plan, stack);
        let sa = move |spi, src, dst, reqid| XfrmSa {
            spi,
            src,
            dst,
            algs: a.clone(),
            replay_window: 64,
            reqid,
        };
        let r = topo
            .end(side)
            .ns
            .run(move || {
                xfrm::add_state(&sa(out_spi, me, peer, 1))?;
                xfrm::add_state(&sa(in_spi, peer, me, 2))?;
                xfrm::add_policy(me, peer, PolicyDir::Out, 1)?;
                xfrm::add_policy(peer, me, PolicyDir::In, 2)
            })
            .context("xfrm thread")?;
        match r {
            Ok(()) => {}
            Err(RequestError::Unsupported(e)) => return Err(e.into()),
            Err(e) => return Err(e).context("setting up the kernel's ESP"),
        }
    }
    Ok((l, r))
}

fn wg(plan: &BenchPlan, topo: &Topology) -> Result<Addrs> {
    let inner = |side: Side| {
        let host = if side == Side::Left { 1 } else { 2 };
        Ipv4Addr::new(WG_NET[0], WG_NET[1], WG_NET[2], host)
    };
    let key = |side: Side| wireguard::test_private_key(if side == Side::Left { 1 } else { 2 });
    for side in Side::BOTH {
        let peer = side.peer();
        let port = |s: Side| WG_PORT + u16::from(s == Side::Right);
        let wg_peer = WgPeer {
            public_key: wireguard::public_key(&key(peer)),
            endpoint: SocketAddrV4::new(plan.addr(peer).addr, port(peer)),
            allowed_ips: vec![(inner(peer), 32)],
            psk: [0; 32],
        };
        let (me, private, mtu) = (inner(side), key(side), plan.mtu - 80);
        let r = topo
            .end(side)
            .ns
            .run(move || wireguard::create(WG_IF, private, port(side), &wg_peer, me, 24, mtu))
            .context("wireguard thread")?;
        match r {
            Ok(_) => {}
            Err(RequestError::Unsupported(e)) => return Err(e.into()),
            Err(e) => return Err(e).context("setting up WireGuard"),
        }
    }
    Ok((inner(Side::Left), inner(Side::Right)))
}
