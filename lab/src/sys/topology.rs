//! The scenario topology: two namespaces joined by one veth pair.
//!
//! ```text
//!   [ns left]  bcl ==== veth ==== bcr  [ns right]
//!              198.18.0.1/24      198.18.0.2/24
//! ```
//! The veth carries the wire MTU; the connected route gets the inner MTU
//! (wire MTU minus the data plane's overhead), like a tunnel.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use anyhow::{Context, Result, anyhow};
use futures::TryStreamExt;
use netlink_packet_route::route::{RouteAttribute, RouteMetric, RouteProtocol, RouteScope};
use rtnetlink::{Handle, LinkUnspec, LinkVeth, RouteMessageBuilder};

use super::netlink::on_rtnetlink;
use super::netns::{Netns, set_sysctl};
use crate::domain::{IfAddr, Side, Unsupported};

/// Interface name of the left end.
pub(crate) const LEFT_IF: &str = "bcl";
/// Interface name of the right end.
pub(crate) const RIGHT_IF: &str = "bcr";

/// One end: its namespace and veth.
#[derive(Debug)]
pub(crate) struct End {
    /// The namespace.
    pub(crate) ns: Netns,
    /// veth name inside it.
    pub(crate) ifname: &'static str,
    /// veth ifindex inside it.
    pub(crate) ifindex: u32,
}

/// Both ends. Dropping it destroys the namespaces and the veth.
#[derive(Debug)]
pub(crate) struct Topology {
    /// Left end.
    pub(crate) left: End,
    /// Right end.
    pub(crate) right: End,
}

impl Topology {
    /// One end.
    pub(crate) fn end(&self, side: Side) -> &End {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }

    /// Creates namespaces, the veth pair with wire MTU `mtu`, the addresses
    /// and connected routes with path MTU `inner_mtu` (the tunnel's).
    pub(crate) fn build(l: IfAddr, r: IfAddr, mtu: u32, inner_mtu: u32) -> Result<Self> {
        let left_ns = Netns::new("left").context("creating the left network namespace")?;
        let right_ns = Netns::new("right").context("creating the right network namespace")?;
        let right_fd = right_ns.fd().as_raw_fd();

        let left_ifindex = left_ns
            .run(move || {
                netlink(|h| async move {
                    disable_ipv6();
                    set_up(&h, "lo").await?;
                    h.link()
                        .add(LinkVeth::new(LEFT_IF, RIGHT_IF).build())
                        .execute()
                        .await
                        .map_err(veth_error)?;
                    let peer = index_of(&h, RIGHT_IF).await?;
                    h.link()
                        .set(
                            LinkUnspec::new_with_index(peer)
                                .setns_by_fd(right_fd)
                                .build(),
                        )
                        .execute()
                        .await
                        .context("moving the veth peer into the right namespace")?;
                    configure(&h, LEFT_IF, mtu, inner_mtu, l).await
                })
            })
            .context("left namespace thread")??;
        let right_ifindex = right_ns
            .run(move || {
                netlink(|h| async move {
                    disable_ipv6();
                    set_up(&h, "lo").await?;
                    configure(&h, RIGHT_IF, mtu, inner_mtu, r).await
                })
            })
            .context("right namespace thread")??;

        Ok(Self {
            left: End {
                ns: left_ns,
                ifname: LEFT_IF,
                ifindex: left_ifindex,
            },
            right: End {
                ns: right_ns,
                ifname: RIGHT_IF,
                ifindex: right_ifindex,
            },
        })
    }
}

/// Sets the device's GSO segment limit (`ip link set DEV gso_max_segs N`).
/// With 1, TCP builds one-segment packets the data plane can encrypt.
/// Call it on a thread inside the device's namespace.
pub(crate) fn set_gso_max_segs(ifname: &str, segs: u32) -> Result<()> {
    let name = ifname.to_string();
    netlink(|h| async move {
        let idx = index_of(&h, &name).await?;
        let msg = LinkUnspec::new_with_index(idx)
            .append_extra_attribute(netlink_packet_route::link::LinkAttribute::GsoMaxSegs(segs))
            .build();
        h.link()
            .set(msg)
            .execute()
            .await
            .with_context(|| format!("setting gso_max_segs {segs} on {name}"))
    })
}

/// Sets the path MTU of the connected route of `a` on `ifname`: the inner
/// MTU under the data plane, the wire MTU under the kernel's IPsec (which
/// subtracts its own overhead). Call it inside the device's namespace.
pub(crate) fn set_route_mtu(ifname: &str, a: IfAddr, mtu: u32) -> Result<()> {
    let name = ifname.to_string();
    netlink(|h| async move {
        let idx = index_of(&h, &name).await?;
        route_mtu(&h, idx, &name, a, mtu).await
    })
}

/// Replaces the connected route of `a` with one that carries `mtu`.
async fn route_mtu(h: &Handle, idx: u32, name: &str, a: IfAddr, mtu: u32) -> Result<()> {
    let net = a.network_addr();
    let mut route = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(net, a.prefix)
        .output_interface(idx)
        .pref_source(a.addr)
        .scope(RouteScope::Link)
        .protocol(RouteProtocol::Kernel)
        .build();
    route
        .attributes
        .push(RouteAttribute::Metrics(vec![RouteMetric::Mtu(mtu)]));
    h.route()
        .add(route)
        .replace()
        .execute()
        .await
        .with_context(|| format!("setting route MTU {mtu} for {net}/{} on {name}", a.prefix))
}

/// The error of creating the veth pair: a kernel that does not know the
/// link kind (no veth driver built in or loaded) answers `EOPNOTSUPP`, a
/// missing feature of the kernel under test, not a failure of it.
fn veth_error(e: rtnetlink::Error) -> anyhow::Error {
    match &e {
        rtnetlink::Error::NetlinkError(m) if m.raw_code() == -libc::EOPNOTSUPP => Unsupported(
            "the kernel has no veth driver (CONFIG_VETH, built in or as the veth module): \
                 creating the veth pair answered EOPNOTSUPP"
                .into(),
        )
        .into(),
        _ => anyhow::Error::new(e).context("creating the veth pair"),
    }
}

/// IPv6 would add router solicitations and MLD reports the IPv4 data plane
/// drops; keep the wire to what the scenario sends.
fn disable_ipv6() {
    for key in [
        "net.ipv6.conf.all.disable_ipv6",
        "net.ipv6.conf.default.disable_ipv6",
    ] {
        let _ = set_sysctl(key, "1");
    }
}

/// Runs an rtnetlink conversation on the calling thread, in its namespace
/// ([`on_rtnetlink`]).
fn netlink<T, F, Fut>(f: F) -> Result<T>
where
    F: FnOnce(Handle) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    on_rtnetlink(f).context("opening a netlink socket")?
}

async fn index_of(h: &Handle, name: &str) -> Result<u32> {
    let mut links = h.link().get().match_name(name.to_string()).execute();
    let link = links
        .try_next()
        .await
        .with_context(|| format!("looking up link {name}"))?
        .ok_or_else(|| anyhow!("link {name} not found"))?;
    Ok(link.header.index)
}

async fn set_up(h: &Handle, name: &str) -> Result<()> {
    let idx = index_of(h, name).await?;
    h.link()
        .set(LinkUnspec::new_with_index(idx).up().build())
        .execute()
        .await
        .with_context(|| format!("setting {name} up"))
}

async fn configure(h: &Handle, name: &str, mtu: u32, inner_mtu: u32, a: IfAddr) -> Result<u32> {
    let idx = index_of(h, name).await?;
    h.link()
        .set(LinkUnspec::new_with_index(idx).mtu(mtu).build())
        .execute()
        .await
        .with_context(|| format!("setting MTU {mtu} on {name}"))?;
    h.address()
        .add(idx, a.addr.into(), a.prefix)
        .execute()
        .await
        .with_context(|| format!("adding {a} to {name}"))?;
    h.link()
        .set(LinkUnspec::new_with_index(idx).up().build())
        .execute()
        .await
        .with_context(|| format!("setting {name} up"))?;
    route_mtu(h, idx, name, a, inner_mtu).await?;
    Ok(idx)
}

/// A tunnel's addressing on one end's veth, for a data plane that tunnels
/// (WireGuard on tc): the end's tunnel address on the veth, and a route to
/// each prefix of the peer through the peer's veth address, from the
/// tunnel address, with the inner MTU. Call it inside the namespace.
#[derive(Debug, Clone)]
pub(crate) struct TunnelRoutes {
    /// The veth.
    pub(crate) ifname: &'static str,
    /// This end's tunnel address (added as a /32).
    pub(crate) local: Ipv4Addr,
    /// The peer's veth address: the gateway.
    pub(crate) gateway: Ipv4Addr,
    /// The peer's prefixes.
    pub(crate) prefixes: Vec<(Ipv4Addr, u8)>,
    /// Path MTU of the routes.
    pub(crate) mtu: u32,
}

impl TunnelRoutes {
    /// Adds the address (once) and the routes.
    pub(crate) fn add(&self) -> Result<()> {
        let t = self.clone();
        netlink(|h| async move {
            let idx = index_of(&h, t.ifname).await?;
            let mut have = h
                .address()
                .get()
                .set_link_index_filter(idx)
                .set_address_filter(t.local.into())
                .execute();
            if have.try_next().await?.is_none() {
                h.address()
                    .add(idx, t.local.into(), 32)
                    .execute()
                    .await
                    .with_context(|| format!("adding {}/32 to {}", t.local, t.ifname))?;
            }
            for r in t.routes(idx) {
                h.route()
                    .add(r)
                    .replace()
                    .execute()
                    .await
                    .with_context(|| format!("adding the tunnel routes on {}", t.ifname))?;
            }
            Ok(())
        })
    }

    /// Removes the routes (the address stays: addresses are the host's,
    /// and the kernel's WireGuard link gets it too).
    pub(crate) fn remove(&self) -> Result<()> {
        let t = self.clone();
        netlink(|h| async move {
            let idx = index_of(&h, t.ifname).await?;
            for r in t.routes(idx) {
                h.route()
                    .del(r)
                    .execute()
                    .await
                    .with_context(|| format!("removing the tunnel routes on {}", t.ifname))?;
            }
            Ok(())
        })
    }

    fn routes(&self, idx: u32) -> Vec<netlink_packet_route::route::RouteMessage> {
        (self.prefixes.iter())
            .map(|&(net, len)| {
                let mut r = RouteMessageBuilder::<Ipv4Addr>::new()
                    .destination_prefix(net, len)
                    .gateway(self.gateway)
                    .output_interface(idx)
                    .pref_source(self.local)
                    .build();
                r.attributes
                    .push(RouteAttribute::Metrics(vec![RouteMetric::Mtu(self.mtu)]));
                r
            })
            .collect()
    }
}
