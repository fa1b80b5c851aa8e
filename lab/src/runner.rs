//! Runs a [`Plan`] against the kernel we are running on: the host in the
//! `host` backend, the guest kernel inside a VM. Topology, data plane,
//! key, traffic, capture, checks.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::analysis::wire;
use crate::assertions::{self, AssertionResult, Observations};
use crate::capture::Capture;
use crate::dataplane::{self, Counters, DataPlane, Variant};
use crate::plan::{Plan, PlanStep};
use crate::scenario::Side;
use crate::signals;
use crate::topology::Topology;
use crate::traffic::icmp::{self, Delivered, Listener, PingOutcome};

/// File name of the wire capture inside a run's directory.
pub const WIRE_PCAP: &str = "wire.pcap";

/// What a run produced (without backend/kernel metadata).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// Check verdicts, in plan order.
    pub assertions: Vec<AssertionResult>,
    /// Data plane counters by side.
    pub counters: BTreeMap<String, Counters>,
    /// Ping steps, in order.
    pub pings: Vec<PingSummary>,
    /// Wire statistics.
    pub wire: WireStats,
    /// Files written into the run directory.
    pub files: Vec<String>,
}

/// One ping step's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PingSummary {
    /// Sending side.
    pub from: Side,
    /// Outcome.
    #[serde(flatten)]
    pub outcome: PingOutcome,
}

/// Wire capture statistics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireStats {
    /// Interface captured (left end of the veth).
    pub interface: String,
    /// Frames captured.
    pub frames: u64,
    /// IPv4 packets among them.
    pub ipv4_packets: usize,
    /// Entropy of all IPv4 payload bytes.
    pub payload_entropy: f64,
    /// Packets containing the plaintext marker.
    pub marker_leaks: usize,
}

impl RunReport {
    /// Whether every assertion passed.
    pub fn passed(&self) -> bool {
        self.assertions.iter().all(|a| a.pass)
    }
}

struct Worker<T> {
    stop: Box<dyn FnOnce() + Send>,
    handle: std::thread::JoinHandle<std::io::Result<T>>,
}

impl<T> Worker<T> {
    fn finish(self, what: &str) -> Result<T> {
        (self.stop)();
        self.handle
            .join()
            .map_err(|_| anyhow::anyhow!("{what} thread panicked"))?
            .with_context(|| format!("{what} failed"))
    }
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
    Ok(Worker {
        stop: Box::new(move || l.stop()),
        handle,
    })
}

/// Runs the plan; the wire pcap is written into `out_dir`.
pub fn run(plan: &Plan, out_dir: &Path, progress: &dyn Fn(&str)) -> Result<RunReport> {
    progress(&format!(
        "topology: veth {} <-> {}, mtu {}",
        plan.left, plan.right, plan.mtu
    ));
    let topo = Topology::build(plan).context("building the topology")?;

    progress("data plane: loading and verifying (tcx egress/ingress, provision)");
    let mut planes = BTreeMap::new();
    for side in [Side::Left, Side::Right] {
        let mut dp = DataPlane::load(Variant::Crypto)?;
        let end = topo.end(side);
        let fds = dp.attach_fds()?;
        let ifindex = end.ifindex;
        let links = end
            .ns
            .run(move || dataplane::attach_in_current_netns(fds, ifindex))
            .context("attach thread")??;
        dp.hold_links(links);
        dp.provision(&plan.cipher).with_context(|| {
            format!(
                "provisioning the {} key on the {} end",
                plan.cipher.algorithm.kernel_name(),
                side.as_str()
            )
        })?;
        planes.insert(side.as_str().to_string(), dp);
    }
    signals::check()?;

    let pcap_path = out_dir.join(WIRE_PCAP);
    let (stop, handle) = {
        let path = pcap_path.clone();
        let ifindex = topo.left.ifindex;
        topo.left
            .ns
            .spawn_ready("capture", move || Capture::open(ifindex, path))
            .context("starting the wire capture")?
    };
    let capture = Worker {
        stop: Box::new(move || stop.store(true, std::sync::atomic::Ordering::SeqCst)),
        handle,
    };
    let listeners = [
        start_listener(&topo, Side::Left)?,
        start_listener(&topo, Side::Right)?,
    ];

    let mut pings = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        signals::check()?;
        match step {
            PlanStep::Ping(p) => {
                let dst = plan.addr(p.from.peer()).addr;
                progress(&format!(
                    "step {}: ping {} -> {dst}: {} x {} bytes",
                    i + 1,
                    p.from.as_str(),
                    p.count,
                    p.size
                ));
                let id = (std::process::id() as u16).wrapping_add(i as u16 * 7919);
                let (count, size) = (p.count, p.size as usize);
                let (interval, timeout) = (
                    Duration::from_millis(p.interval_ms),
                    Duration::from_millis(p.timeout_ms),
                );
                let outcome = topo
                    .end(p.from)
                    .ns
                    .run(move || icmp::ping(dst, id, count, size, interval, timeout))
                    .context("ping thread")?
                    .with_context(|| format!("step {}: ping", i + 1))?;
                progress(&format!(
                    "step {}: {} of {} replies",
                    i + 1,
                    outcome.replies,
                    outcome.sent
                ));
                pings.push((p.from, outcome));
            }
        }
    }

    // Let in-flight frames reach the tap before stopping.
    std::thread::sleep(Duration::from_millis(50));
    let [left_l, right_l] = listeners;
    let mut delivered: Vec<(Side, Delivered)> = Vec::new();
    delivered.extend(
        left_l
            .finish("left ICMP listener")?
            .into_iter()
            .map(|d| (Side::Left, d)),
    );
    delivered.extend(
        right_l
            .finish("right ICMP listener")?
            .into_iter()
            .map(|d| (Side::Right, d)),
    );
    let frames = capture.finish("wire capture")?;

    let mut counters = BTreeMap::new();
    for (side, dp) in &planes {
        counters.insert(side.clone(), dp.counters()?);
    }
    drop(planes);
    drop(topo);

    let summary = wire::analyse(&pcap_path)?;
    progress(&format!(
        "capture: {frames} frames, {} IPv4 packets",
        summary.ipv4.len()
    ));
    let obs = Observations {
        pings: pings.clone(),
        delivered,
        counters: counters.clone(),
        addresses: vec![plan.left, plan.right],
        wire: summary,
    };
    let results = assertions::evaluate(&plan.assertions, &obs);
    Ok(RunReport {
        assertions: results,
        counters,
        pings: pings
            .into_iter()
            .map(|(from, outcome)| PingSummary { from, outcome })
            .collect(),
        wire: WireStats {
            interface: crate::topology::LEFT_IF.to_string(),
            frames: obs.wire.frames,
            ipv4_packets: obs.wire.ipv4.len(),
            payload_entropy: obs.wire.payload_entropy(),
            marker_leaks: obs.wire.marker_leaks(),
        },
        files: vec![WIRE_PCAP.to_string()],
    })
}
