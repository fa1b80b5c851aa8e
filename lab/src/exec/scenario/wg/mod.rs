//! A `mode: wireguard` run's tunnel: each end's tunnel address and routes
//! on its veth, the data plane's peer, and the handshake in userspace
//! ([`daemon`]); or, after a `stack` step, the kernel's WireGuard on that
//! end ([`kernel`]) as the data plane's independent peer.

pub(crate) mod daemon;
pub(crate) mod kernel;
pub(crate) mod log;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::dataplane::DataPlane;
use crate::dataplane::format::wireguard::handshake::PeerKeys;
use crate::dataplane::format::wireguard::provision;
use crate::domain::Side;
use crate::spec::plan::Plan;
use crate::spec::wireguard::WgSpec;
use crate::sys::topology::{self, Topology, TunnelRoutes};
use crate::sys::wireguard as kernel_wg;
use daemon::{Config, Daemon};
use log::WgLog;

/// The tunnel of a run.
pub(crate) struct Tunnel {
    spec: WgSpec,
    /// Each end's static private key (the scenario's, or generated).
    private: [[u8; 32]; 2],
    /// Each end's veth address.
    underlay: [Ipv4Addr; 2],
    /// The inner MTU.
    mtu: u32,
    /// Each end's handshake, while the data plane is that end's stack.
    daemons: [Option<Daemon>; 2],
    /// What the handshakes did.
    pub(crate) log: Arc<Mutex<WgLog>>,
    t0: Instant,
}

impl Tunnel {
    /// Sets the tunnel up on both ends: addresses and routes, the data
    /// planes' peers, and the handshakes (no session yet).
    pub(crate) fn start<'a>(
        plan: &Plan,
        topo: &Topology,
        plane: &dyn Fn(Side) -> &'a DataPlane,
    ) -> Result<Self> {
        let spec = plan
            .wg
            .clone()
            .context("a WireGuard scenario needs its `wireguard:` section")?;
        let private =
            Side::BOTH.map(|s| spec.end(s).private_key.unwrap_or_else(daemon::random_key));
        let mut t = Self {
            underlay: Side::BOTH.map(|s| plan.addr(s).addr),
            mtu: plan.inner_mtu(),
            spec,
            private,
            daemons: [None, None],
            log: Arc::new(Mutex::new(WgLog::default())),
            t0: Instant::now(),
        };
        for side in Side::BOTH {
            // The veth carries only whole messages: its own route keeps the
            // wire MTU (else a kernel peer fragments its full-size ones),
            // the tunnel's routes get the inner one. The data plane drops
            // GSO super-packets (fail closed): one segment per packet.
            let routes = t.routes(topo, side);
            let (ifname, addr, wire) = (topo.end(side).ifname, plan.addr(side), plan.mtu);
            topo.end(side)
                .ns
                .run(move || {
                    topology::set_route_mtu(ifname, addr, wire)?;
                    topology::set_gso_max_segs(ifname, 1)?;
                    routes.add()
                })
                .context("netlink thread")?
                .with_context(|| format!("the {} end's tunnel routes", side.as_str()))?;
            t.bpf_end(topo, side, plane(side))?;
        }
        Ok(t)
    }

    /// The public key of `side`.
    pub(crate) fn public(&self, side: Side) -> [u8; 32] {
        kernel_wg::public_key(&self.private[side.index()])
    }

    fn routes(&self, topo: &Topology, side: Side) -> TunnelRoutes {
        TunnelRoutes {
            ifname: topo.end(side).ifname,
            local: self.spec.end(side).address.addr,
            gateway: self.underlay[side.peer().index()],
            prefixes: self.spec.end(side.peer()).allowed_ips.clone(),
            mtu: self.mtu,
        }
    }

    /// Where `side`'s peer listens.
    fn endpoint(&self, side: Side) -> SocketAddrV4 {
        let p = side.peer();
        SocketAddrV4::new(self.underlay[p.index()], self.spec.end(p).listen_port)
    }

    /// Makes the data plane `side`'s stack: its peer, no session, and the
    /// handshake thread on its port.
    pub(crate) fn bpf_end(&mut self, topo: &Topology, side: Side, dp: &DataPlane) -> Result<()> {
        let control = dp.wg_control().context("the WireGuard data plane's maps")?;
        let me = self.spec.end(side);
        control
            .set_peer(&provision::peer(
                SocketAddrV4::new(self.underlay[side.index()], me.listen_port),
                self.endpoint(side),
                &self.spec.end(side.peer()).allowed_ips,
                Duration::from_millis(self.spec.reject_after_time_ms),
            ))
            .with_context(|| format!("configuring the {} end's peer", side.as_str()))?;
        control.clear(None).context("clearing the keypairs")?;
        let cfg = Config {
            side,
            private_key: self.private[side.index()],
            peer: PeerKeys {
                remote_public: self.public(side.peer()),
                psk: self.spec.psk,
            },
            port: me.listen_port,
            endpoint: self.endpoint(side),
            rekey_after: Duration::from_millis(self.spec.rekey_after_time_ms),
            rekey_after_messages: self.spec.rekey_after_messages,
            control,
            log: self.log.clone(),
            t0: self.t0,
        };
        self.daemons[side.index()] = Some(Daemon::start(&topo.end(side).ns, cfg)?);
        Ok(())
    }

    /// A handshake initiated by `side`, waited for.
    pub(crate) fn handshake(&self, side: Side, timeout: Duration) -> Result<u32> {
        let d = self.daemons[side.index()].as_ref().with_context(|| {
            format!(
                "the {} end is the kernel's WireGuard; its handshakes are its own",
                side.as_str()
            )
        })?;
        d.handshake(timeout)
            .with_context(|| format!("a handshake from the {} end", side.as_str()))
    }

    /// Hands `side` to the kernel's WireGuard: its handshake stops, its
    /// routes go, a `wireguard` link with the same keys, port and allowed
    /// IPs takes over; the other end (still the data plane) starts over
    /// without a session.
    pub(crate) fn hand_to_kernel(
        &mut self,
        topo: &Topology,
        side: Side,
        other: &DataPlane,
    ) -> Result<()> {
        if let Some(d) = self.daemons[side.index()].take() {
            d.stop()?;
        }
        let routes = self.routes(topo, side);
        let end = self.spec.end(side).clone();
        let link = kernel::Link {
            private_key: self.private[side.index()],
            port: end.listen_port,
            address: end.address,
            peer: kernel_wg::WgPeer {
                public_key: self.public(side.peer()),
                endpoint: self.endpoint(side),
                allowed_ips: self.spec.end(side.peer()).allowed_ips.clone(),
                psk: self.spec.psk,
            },
            mtu: self.mtu,
        };
        topo.end(side)
            .ns
            .run(move || -> Result<()> {
                routes.remove()?;
                link.create()
            })
            .context("netlink thread")??;
        self.restart(topo, side.peer(), other)
    }

    /// Hands `side` back to the data plane `dp` (already attached): the
    /// kernel's link goes, the routes come back, and both ends start over
    /// without a session.
    pub(crate) fn hand_to_bpf(
        &mut self,
        topo: &Topology,
        side: Side,
        dp: &DataPlane,
        other: &DataPlane,
    ) -> Result<()> {
        let routes = self.routes(topo, side);
        topo.end(side)
            .ns
            .run(move || -> Result<()> {
                kernel::Link::delete()?;
                routes.add()
            })
            .context("netlink thread")??;
        self.bpf_end(topo, side, dp)?;
        self.restart(topo, side.peer(), other)
    }

    /// `side` (the data plane) forgets its sessions: its next peer is new.
    fn restart(&mut self, topo: &Topology, side: Side, dp: &DataPlane) -> Result<()> {
        if let Some(d) = self.daemons[side.index()].take() {
            d.stop()?;
        }
        self.bpf_end(topo, side, dp)
    }

    /// What the kernel's link of `side` counted, if it has one.
    pub(crate) fn kernel_note(&self, topo: &Topology, side: Side) -> Option<String> {
        if self.daemons[side.index()].is_some() {
            return None;
        }
        let r = topo.end(side).ns.run(kernel::Link::stats).ok()?;
        Some(match r {
            Ok(s) => format!(
                "{} end's kernel WireGuard: {} bytes received, {} sent, last handshake {}",
                side.as_str(),
                s.rx_bytes,
                s.tx_bytes,
                if s.last_handshake.is_some() {
                    "done"
                } else {
                    "none"
                }
            ),
            Err(e) => format!("{} end's kernel WireGuard: {e:#}", side.as_str()),
        })
    }

    /// Stops the handshakes; the log stays.
    pub(crate) fn stop(&mut self) -> Result<()> {
        for d in self.daemons.iter_mut() {
            if let Some(d) = d.take() {
                d.stop()?;
            }
        }
        Ok(())
    }
}
