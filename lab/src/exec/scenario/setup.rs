//! Setting a scenario up: the topology, a keyed data plane on each end,
//! the wire capture and the ICMP listeners. [`Run`] holds all of it while
//! the steps execute; dropping it tears everything down.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use super::assertions::TcpFlow;
use super::keys::KeyState;
use super::wg::{self, Tunnel};
use super::worker::Worker;
use super::xfrm_peer;
use crate::dataplane::format;
use crate::dataplane::{self, DataPlane};
use crate::domain::{Build, Counters, Side, Stack};
use crate::job::phases::names;
use crate::output::progress::Progress;
use crate::spec::plan::Plan;
use crate::sys::capture::Capture;
use crate::sys::signals;
use crate::sys::topology::{End, Topology};
use crate::sys::traffic::icmp::{Delivered, Listener, PingOutcome};
use crate::sys::traffic::udp::UdpSent;

/// File name of the wire capture inside a run's directory.
pub(crate) const WIRE_PCAP: &str = "wire.pcap";

/// A UDP step whose receiver (and, in the background, sender) still runs.
pub(crate) struct PendingUdp {
    /// Step index.
    pub(crate) step: usize,
    /// Sending end.
    pub(crate) from: Side,
    /// Destination port.
    pub(crate) port: u16,
    /// The receiver on the other end.
    pub(crate) receiver: Worker<Vec<Vec<u8>>>,
    /// A background sender, until it is joined.
    pub(crate) sender: Option<Worker<UdpSent>>,
    /// What was sent, once known.
    pub(crate) sent: Option<UdpSent>,
}

/// Everything a run holds while its steps execute.
pub(crate) struct Run<'a> {
    /// The scenario.
    pub(crate) plan: &'a Plan,
    /// The data plane of each end (dropped before the topology).
    pub(crate) planes: BTreeMap<&'static str, DataPlane>,
    /// Namespaces and veth.
    pub(crate) topo: Topology,
    /// The wire capture on the left veth.
    pub(crate) capture: Worker<u64>,
    /// ICMP listeners, left then right.
    pub(crate) listeners: Vec<(Side, Worker<Vec<Delivered>>)>,
    /// Ping steps done, with the sending end.
    pub(crate) pings: Vec<(Side, PingOutcome)>,
    /// UDP steps started.
    pub(crate) udp: Vec<PendingUdp>,
    /// TCP steps done, with the connecting end.
    pub(crate) tcp: Vec<(Side, TcpFlow)>,
    /// What control steps did (offload states, rotations, …).
    pub(crate) notes: Vec<String>,
    /// Verdicts of `wait` steps.
    pub(crate) waits: Vec<crate::job::run_report::AssertionResult>,
    /// What keys and SAs are installed.
    pub(crate) keys: KeyState,
    /// What protects each end (left, right): the data plane or the kernel's IPsec.
    pub(crate) stacks: [Stack; 2],
    /// Ends that were handed to the kernel's IPsec at some point.
    pub(crate) xfrm_used: [bool; 2],
    /// Ends whose tamper program is attached: a later `tamper` step only
    /// reconfigures it.
    pub(crate) tampering: [bool; 2],
    /// A format keyed by its handshake (WireGuard): the tunnel and the
    /// handshakes.
    pub(crate) tunnel: Option<Tunnel>,
}

impl<'a> Run<'a> {
    /// Builds the topology, loads and keys a data plane on each end, and
    /// starts the capture (into the pcap file `wire`) and the listeners.
    pub(crate) fn start(plan: &'a Plan, wire: &Path, progress: &dyn Progress) -> Result<Self> {
        progress.note(&format!(
            "topology: veth {} <-> {}, mtu {}",
            plan.left, plan.right, plan.mtu
        ));
        let t = Instant::now();
        let topo = Topology::build(plan.left, plan.right, plan.mtu, plan.inner_mtu())
            .context("building the topology")?;
        if plan.uses_xfrm() {
            xfrm_peer::preflight(&topo.end(Side::Right).ns)?;
        }
        if plan.uses(Stack::Wireguard) {
            wg::kernel::preflight(&topo.end(Side::Right).ns)?;
        }
        progress.phase(names::TOPOLOGY, t);
        let t = Instant::now();
        let build = Build::of(plan.wire.mode, plan.wire.in_place);
        let what = match &plan.dataplane {
            Some(u) => format!("the user's object {} (sha256 {:.12})", u.path, u.sha256),
            None => format!("the {} build", build.as_str()),
        };
        progress.note(&format!(
            "data plane: loading and verifying {what} (tcx egress/ingress, provision)"
        ));
        let mut planes = BTreeMap::new();
        for side in Side::BOTH {
            let mut dp = match &plan.dataplane {
                Some(u) => DataPlane::load_bytes(build, &u.bytes)?,
                None => DataPlane::load(build)?,
            };
            attach(&mut dp, topo.end(side))?;
            planes.insert(side.as_str(), dp);
        }
        let mut keys = KeyState::default();
        let plane = |s: Side| &planes[s.as_str()];
        let tunnel = if format::of(plan.wire.mode).handshake() {
            Some(Tunnel::start(plan, &topo, &plane)?)
        } else {
            keys.install(plan, &plane)?;
            None
        };
        progress.phase(names::DATA_PLANE, t);
        signals::check()?;
        let t = Instant::now();
        let capture = start_capture(&topo, wire.to_path_buf())?;
        let listeners = vec![
            (Side::Left, start_listener(&topo, Side::Left)?),
            (Side::Right, start_listener(&topo, Side::Right)?),
        ];
        progress.phase(names::CAPTURE, t);
        Ok(Self {
            plan,
            planes,
            topo,
            capture,
            listeners,
            pings: Vec::new(),
            udp: Vec::new(),
            tcp: Vec::new(),
            notes: Vec::new(),
            waits: Vec::new(),
            keys,
            stacks: [Stack::Bpf; 2],
            xfrm_used: [false; 2],
            tampering: [false; 2],
            tunnel,
        })
    }

    /// The data plane of one end.
    pub(crate) fn plane(&self, side: Side) -> &DataPlane {
        &self.planes[side.as_str()]
    }

    /// Counters of both ends.
    pub(crate) fn counters(&self) -> Result<BTreeMap<String, Counters>> {
        let mut out = BTreeMap::new();
        for (side, dp) in &self.planes {
            out.insert(side.to_string(), dp.counters()?);
        }
        Ok(out)
    }

    /// Rotates `sides` to `key` (ESP: a new SA generation, make before break).
    pub(crate) fn rotate(&mut self, sides: &[Side], key: &[u8]) -> Result<()> {
        let planes = &self.planes;
        let plane = |s: Side| &planes[s.as_str()];
        self.keys.rotate(self.plan, &plane, sides, key)
    }

    /// Removes the keys of `sides`.
    pub(crate) fn clear_keys(&mut self, sides: &[Side]) -> Result<()> {
        let planes = &self.planes;
        let plane = |s: Side| &planes[s.as_str()];
        self.keys.clear(self.plan, &plane, sides)
    }

    /// Whether every background sender finished.
    pub(crate) fn background_done(&self) -> bool {
        self.udp
            .iter()
            .all(|u| u.sender.as_ref().is_none_or(|s| s.is_finished()))
    }
}

/// Attaches `dp`'s egress and ingress programs to the veth of `end`
/// (inside its namespace, where the ifindex means that veth).
pub(crate) fn attach(dp: &mut DataPlane, end: &End) -> Result<()> {
    let (fds, ifindex) = (dp.attach_fds()?, end.ifindex);
    let links = end
        .ns
        .run(move || dataplane::attach_in_current_netns(fds, ifindex))
        .context("attach thread")??;
    dp.hold_links(links);
    Ok(())
}

fn start_capture(topo: &Topology, path: std::path::PathBuf) -> Result<Worker<u64>> {
    let ifindex = topo.left.ifindex;
    let (stop, handle) = topo
        .left
        .ns
        .spawn_ready("capture", move || Capture::open(ifindex, path))
        .context("starting the wire capture")?;
    Ok(Worker::new(stop, handle))
}

fn start_listener(topo: &Topology, side: Side) -> Result<Worker<Vec<Delivered>>> {
    let (l, handle) = topo
        .end(side)
        .ns
        .spawn_ready(&format!("listen-{}", side.as_str()), Listener::open)
        .with_context(|| {
            format!(
                "opening the ICMP listener in the {} namespace",
                side.as_str()
            )
        })?;
    Ok(Worker::new(l.stop_flag(), handle))
}
