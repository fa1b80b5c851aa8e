//! Runs a [`Plan`] against the kernel we are running on: the host in the
//! `host` backend, the guest kernel inside a VM. Topology, data plane,
//! key, steps, capture, checks.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

use crate::analysis::wire;
use crate::assertions::{self, AssertionResult, Observations, TcpFlow, UdpFlow};
use crate::capture::Capture;
use crate::dataplane::{self, Counters, DataPlane, Variant};
use crate::kmsg::KmsgCursor;
use crate::offload;
use crate::plan::{CipherSpec, Plan, PlanStep, WaitFor};
use crate::scenario::Side;
use crate::signals;
use crate::topology::Topology;
use crate::traffic::icmp::{self, Delivered, Listener, PingOutcome};
use crate::traffic::{tcp, udp};

/// File name of the wire capture inside a run's directory.
pub const WIRE_PCAP: &str = "wire.pcap";
/// File name of the kernel log lines logged during the run.
pub const KERNEL_LOG: &str = "kernel.log";

/// What a run produced (without backend/kernel metadata).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// Check verdicts, in plan order, then one per `wait` step.
    pub assertions: Vec<AssertionResult>,
    /// Data plane counters by side.
    pub counters: BTreeMap<String, Counters>,
    /// Ping steps, in order.
    pub pings: Vec<PingSummary>,
    /// UDP steps, in order.
    #[serde(default)]
    pub udp: Vec<UdpSummary>,
    /// TCP steps, in order.
    #[serde(default)]
    pub tcp: Vec<TcpSummary>,
    /// What control steps did (offload states, rotations, …).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Wire statistics.
    pub wire: WireStats,
    /// Kernel WARNING/BUG/Oops lines logged during the run.
    #[serde(default)]
    pub kernel_warnings: Vec<String>,
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

/// One UDP step's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UdpSummary {
    /// Step number (1-based).
    pub step: usize,
    /// Sending side.
    pub from: Side,
    /// Destination port.
    pub port: u16,
    /// Datagrams sent.
    pub sent: u32,
    /// Send errors.
    pub send_errors: u32,
    /// Datagrams received.
    pub received: usize,
    /// Received byte for byte as sent.
    pub intact: usize,
    /// Received but matching nothing sent.
    pub corrupted: usize,
}

/// One TCP step's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TcpSummary {
    /// Step number (1-based).
    pub step: usize,
    /// Connecting side.
    pub from: Side,
    /// Bytes meant to be sent.
    pub bytes: u64,
    /// Client view.
    pub client: tcp::TcpClientReport,
    /// Server view.
    pub server: tcp::TcpServerReport,
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

/// A thread inside a namespace with a stop switch. Dropping it (an error
/// path) asks the thread to stop, so no socket or namespace outlives the run.
struct Worker<T> {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<std::io::Result<T>>>,
}

impl<T> Worker<T> {
    fn new(stop: Arc<AtomicBool>, handle: JoinHandle<std::io::Result<T>>) -> Self {
        Self {
            stop,
            handle: Some(handle),
        }
    }

    fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    fn finish(mut self, what: &str) -> Result<T> {
        self.stop.store(true, Ordering::SeqCst);
        let handle = self
            .handle
            .take()
            .ok_or_else(|| anyhow!("{what} already finished"))?;
        handle
            .join()
            .map_err(|_| anyhow!("{what} thread panicked"))?
            .with_context(|| format!("{what} failed"))
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

struct PendingUdp {
    step: usize,
    from: Side,
    port: u16,
    receiver: Worker<Vec<Vec<u8>>>,
    sender: Option<Worker<udp::UdpSent>>,
    sent: Option<udp::UdpSent>,
}

/// Everything a run holds while its steps execute.
struct Run<'a> {
    plan: &'a Plan,
    topo: Topology,
    planes: BTreeMap<&'static str, DataPlane>,
    pings: Vec<(Side, PingOutcome)>,
    udp: Vec<PendingUdp>,
    tcp: Vec<TcpFlow>,
    tcp_from: Vec<Side>,
    notes: Vec<String>,
    waits: Vec<AssertionResult>,
}

impl Run<'_> {
    fn plane(&self, side: Side) -> &DataPlane {
        &self.planes[side.as_str()]
    }

    fn counters(&self) -> Result<BTreeMap<String, Counters>> {
        let mut out = BTreeMap::new();
        for (side, dp) in &self.planes {
            out.insert(side.to_string(), dp.counters()?);
        }
        Ok(out)
    }

    fn provision(&self, sides: &[Side], key: &[u8]) -> Result<()> {
        let spec = CipherSpec {
            algorithm: self.plan.cipher.algorithm,
            key: key.to_vec(),
        };
        for side in sides {
            self.plane(*side)
                .provision(&spec)
                .with_context(|| format!("provisioning the {} end", side.as_str()))?;
        }
        Ok(())
    }

    fn background_done(&self) -> bool {
        self.udp
            .iter()
            .all(|u| u.sender.as_ref().is_none_or(|s| s.is_finished()))
    }

    fn step(&mut self, i: usize, step: &PlanStep, progress: &dyn Fn(&str)) -> Result<()> {
        let n = i + 1;
        match step {
            PlanStep::Ping(p) => {
                let dst = self.plan.addr(p.from.peer()).addr;
                progress(&format!(
                    "step {n}: ping {} -> {dst}: {} x {} bytes",
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
                let outcome = self
                    .topo
                    .end(p.from)
                    .ns
                    .run(move || icmp::ping(dst, id, count, size, interval, timeout))
                    .context("ping thread")?
                    .with_context(|| format!("step {n}: ping"))?;
                progress(&format!(
                    "step {n}: {} of {} replies",
                    outcome.replies, outcome.sent
                ));
                self.pings.push((p.from, outcome));
            }
            PlanStep::Udp(u) => {
                let dst = SocketAddrV4::new(self.plan.addr(u.from.peer()).addr, u.port);
                progress(&format!(
                    "step {n}: udp {} -> {dst}: sizes {:?} x {}{}",
                    u.from.as_str(),
                    u.sizes,
                    u.count,
                    if u.background { " (background)" } else { "" }
                ));
                let port = u.port;
                let (stop, handle) = self
                    .topo
                    .end(u.from.peer())
                    .ns
                    .spawn_ready(&format!("udp-rx-{n}"), move || udp::receiver(port))
                    .with_context(|| format!("step {n}: binding UDP port {port}"))?;
                let receiver = Worker::new(stop, handle);
                let (sizes, count, interval) = (
                    u.sizes.clone(),
                    u.count,
                    Duration::from_millis(u.interval_ms),
                );
                let stop = Arc::new(AtomicBool::new(false));
                let flag = stop.clone();
                let send = move || udp::send(dst, n as u16, &sizes, count, interval, &flag);
                let mut pending = PendingUdp {
                    step: i,
                    from: u.from,
                    port,
                    receiver,
                    sender: None,
                    sent: None,
                };
                if u.background {
                    let handle = self
                        .topo
                        .end(u.from)
                        .ns
                        .spawn(&format!("udp-tx-{n}"), send)?;
                    pending.sender = Some(Worker::new(stop, handle));
                } else {
                    let sent = self.topo.end(u.from).ns.run(send).context("udp thread")??;
                    progress(&format!(
                        "step {n}: {} datagrams sent, {} send errors",
                        sent.sent, sent.send_errors
                    ));
                    pending.sent = Some(sent);
                }
                self.udp.push(pending);
            }
            PlanStep::Tcp(t) => {
                let dst = SocketAddrV4::new(self.plan.addr(t.from.peer()).addr, t.port);
                progress(&format!(
                    "step {n}: tcp {} -> {dst}: {} bytes",
                    t.from.as_str(),
                    t.bytes
                ));
                let port = t.port;
                let (stop, handle) = self
                    .topo
                    .end(t.from.peer())
                    .ns
                    .spawn_ready(&format!("tcp-rx-{n}"), move || tcp::server(port))
                    .with_context(|| format!("step {n}: listening on TCP port {port}"))?;
                let server = Worker::new(stop, handle);
                let (bytes, deadline) = (
                    t.bytes,
                    Instant::now() + Duration::from_millis(t.timeout_ms),
                );
                let client = self
                    .topo
                    .end(t.from)
                    .ns
                    .run(move || tcp::client(dst, bytes, deadline))
                    .context("tcp thread")?;
                // Let the server drain what arrived, then stop it.
                let until = Instant::now() + Duration::from_millis(500);
                while !server.is_finished() && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let server = server.finish("TCP server")?;
                progress(&format!(
                    "step {n}: {} bytes written, {} received, {} intact{}",
                    client.written,
                    server.received,
                    server.intact,
                    client
                        .error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ));
                self.tcp.push(TcpFlow {
                    step: i,
                    bytes,
                    client,
                    server,
                });
                self.tcp_from.push(t.from);
            }
            PlanStep::Offloads {
                sides,
                tso,
                gso,
                tx_csum,
                gso_max_segs,
            } => {
                for side in sides {
                    let end = self.topo.end(*side);
                    let (ifname, tso, gso, tx) = (end.ifname, *tso, *gso, *tx_csum);
                    if let Some(segs) = *gso_max_segs {
                        end.ns
                            .run(move || crate::topology::set_gso_max_segs(ifname, segs))
                            .context("netlink thread")??;
                        self.notes.push(format!(
                            "step {n}: {} {ifname}: gso_max_segs {segs}",
                            side.as_str()
                        ));
                    }
                    let now = end
                        .ns
                        .run(move || offload::set(ifname, tso, gso, tx))
                        .context("offload thread")?
                        .with_context(|| format!("step {n}: setting offloads on {ifname}"))?;
                    let note = format!(
                        "step {n}: {} {ifname}: tso {}, gso {}, tx-checksum {}",
                        side.as_str(),
                        on(now.tso),
                        on(now.gso),
                        on(now.tx_csum)
                    );
                    progress(&note);
                    self.notes.push(note);
                }
            }
            PlanStep::Rekey {
                times,
                interval_ms,
                keys,
            } => {
                progress(&format!(
                    "step {n}: rekey both ends {times} times, every {interval_ms} ms"
                ));
                let t0 = Instant::now();
                for r in 0..*times as usize {
                    signals::check()?;
                    self.provision(&[Side::Left, Side::Right], &keys[r % keys.len()])?;
                    std::thread::sleep(Duration::from_millis(*interval_ms));
                }
                let note = format!(
                    "step {n}: {times} key rotations in {:.2} s",
                    t0.elapsed().as_secs_f64()
                );
                progress(&note);
                self.notes.push(note);
            }
            PlanStep::SetKey { sides, key } => {
                progress(&format!("step {n}: new key on {}", side_names(sides)));
                self.provision(sides, key)?;
            }
            PlanStep::ClearKey { sides } => {
                progress(&format!("step {n}: key removed on {}", side_names(sides)));
                for side in sides {
                    self.plane(*side).clear_key()?;
                }
            }
            PlanStep::Tamper { side, offset, xor } => {
                progress(&format!(
                    "step {n}: tamper on {} egress: payload byte {offset} ^= {xor:#04x}",
                    side.as_str()
                ));
                let fd = self.plane(*side).tamper_fd(*offset, *xor)?;
                let ifindex = self.topo.end(*side).ifindex;
                let link = self
                    .topo
                    .end(*side)
                    .ns
                    .run(move || {
                        dataplane::attach_one_in_current_netns(fd, ifindex, "tamper_egress")
                    })
                    .context("attach thread")??;
                self.planes
                    .get_mut(side.as_str())
                    .expect("plane")
                    .hold_links(vec![link]);
            }
            PlanStep::Wait { until, timeout_ms } => {
                let deadline = Instant::now() + Duration::from_millis(*timeout_ms);
                let (what, ok, observed) = match until {
                    WaitFor::Counter {
                        side,
                        name,
                        min,
                        max,
                    } => {
                        let what =
                            format!("counter {}.{name} within {min:?}..{max:?}", side.as_str());
                        progress(&format!("step {n}: wait for {what}"));
                        loop {
                            let v = self
                                .plane(*side)
                                .counters()?
                                .get(name)
                                .copied()
                                .unwrap_or(0);
                            let ok = min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m);
                            if ok || Instant::now() >= deadline {
                                break (what, ok, format!("{v}"));
                            }
                            signals::check()?;
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                    WaitFor::FlowsDone => {
                        progress(&format!("step {n}: wait for background flows"));
                        while !self.background_done() && Instant::now() < deadline {
                            signals::check()?;
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        let ok = self.background_done();
                        (
                            "background flows done".to_string(),
                            ok,
                            if ok { "done" } else { "still running" }.into(),
                        )
                    }
                };
                self.waits.push(AssertionResult {
                    name: format!("wait (step {n})"),
                    expected: format!("{what} within {timeout_ms} ms"),
                    observed,
                    pass: ok,
                });
            }
        }
        Ok(())
    }
}

fn on(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn side_names(sides: &[Side]) -> String {
    sides
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" and ")
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

/// Runs the plan; the wire pcap and kernel log are written into `out_dir`.
pub fn run(plan: &Plan, out_dir: &Path, progress: &dyn Fn(&str)) -> Result<RunReport> {
    let mut kmsg = KmsgCursor::open().ok();
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
        planes.insert(side.as_str(), dp);
    }
    signals::check()?;

    let pcap_path = out_dir.join(WIRE_PCAP);
    let capture = {
        let path = pcap_path.clone();
        let ifindex = topo.left.ifindex;
        let (stop, handle) = topo
            .left
            .ns
            .spawn_ready("capture", move || Capture::open(ifindex, path))
            .context("starting the wire capture")?;
        Worker::new(stop, handle)
    };
    let listeners = [
        start_listener(&topo, Side::Left)?,
        start_listener(&topo, Side::Right)?,
    ];

    let mut run = Run {
        plan,
        topo,
        planes,
        pings: Vec::new(),
        udp: Vec::new(),
        tcp: Vec::new(),
        tcp_from: Vec::new(),
        notes: Vec::new(),
        waits: Vec::new(),
    };
    for (i, step) in plan.steps.iter().enumerate() {
        signals::check()?;
        run.step(i, step, progress)?;
    }

    // Background senders are bounded; let them finish.
    for u in &mut run.udp {
        if let Some(sender) = u.sender.take() {
            while !sender.is_finished() {
                signals::check()?;
                std::thread::sleep(Duration::from_millis(5));
            }
            u.sent = Some(sender.finish(&format!("udp sender (step {})", u.step + 1))?);
        }
    }
    // Let in-flight frames reach the taps and receivers before stopping.
    std::thread::sleep(Duration::from_millis(100));
    let mut udp_flows = Vec::new();
    let mut udp_summaries = Vec::new();
    for u in std::mem::take(&mut run.udp) {
        let delivered = u
            .receiver
            .finish(&format!("udp receiver (step {})", u.step + 1))?;
        let sent = u.sent.unwrap_or_default();
        let (intact, corrupted) = udp::match_delivered(&sent.payloads, &delivered);
        udp_summaries.push(UdpSummary {
            step: u.step + 1,
            from: u.from,
            port: u.port,
            sent: sent.sent,
            send_errors: sent.send_errors,
            received: delivered.len(),
            intact,
            corrupted,
        });
        udp_flows.push(UdpFlow {
            step: u.step,
            port: u.port,
            sent,
            delivered,
        });
    }
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

    let counters = run.counters()?;
    let Run {
        pings,
        tcp: tcp_flows,
        tcp_from,
        notes,
        waits,
        planes,
        topo,
        ..
    } = run;
    drop(planes);
    drop(topo);

    let kernel_log = kmsg.as_mut().map(|k| k.read_new()).unwrap_or_default();
    let mut files = vec![WIRE_PCAP.to_string()];
    if kmsg.is_some() {
        std::fs::write(out_dir.join(KERNEL_LOG), kernel_log.join("\n") + "\n")
            .context("writing kernel.log")?;
        files.push(KERNEL_LOG.to_string());
    }

    let summary = wire::analyse(&pcap_path)?;
    progress(&format!(
        "capture: {frames} frames, {} IPv4 packets",
        summary.ipv4.len()
    ));
    let tcp_summaries = tcp_flows
        .iter()
        .zip(&tcp_from)
        .map(|(t, from)| TcpSummary {
            step: t.step + 1,
            from: *from,
            bytes: t.bytes,
            client: t.client.clone(),
            server: t.server.clone(),
        })
        .collect();
    let obs = Observations {
        pings: pings.clone(),
        delivered,
        counters: counters.clone(),
        addresses: vec![plan.left, plan.right],
        algorithm: Some(plan.cipher.algorithm),
        keys: plan.keys(),
        udp: udp_flows,
        tcp: tcp_flows,
        kernel_log: kernel_log.clone(),
        wire: summary,
    };
    let mut results = assertions::evaluate(&plan.assertions, &obs);
    results.extend(waits);
    Ok(RunReport {
        assertions: results,
        counters,
        pings: pings
            .into_iter()
            .map(|(from, outcome)| PingSummary { from, outcome })
            .collect(),
        udp: udp_summaries,
        tcp: tcp_summaries,
        notes,
        wire: WireStats {
            interface: crate::topology::LEFT_IF.to_string(),
            frames: obs.wire.frames,
            ipv4_packets: obs.wire.ipv4.len(),
            payload_entropy: obs.wire.payload_entropy(),
            marker_leaks: obs.wire.marker_leaks(),
        },
        kernel_warnings: kernel_log
            .into_iter()
            .filter(|l| crate::kmsg::is_warning(l))
            .collect(),
        files,
    })
}
