//! Scenario steps: one function per step kind, dispatched by [`execute`].

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::assertions::{TcpFlow, bounds};
use super::setup::{PendingUdp, Run};
use super::stack;
use super::worker::Worker;
use crate::dataplane;
use crate::domain::Side;
use crate::job::run_report::AssertionResult;
use crate::output::progress::Progress;
use crate::spec::plan::{PingPlan, PlanStep, TcpPlan, UdpPlan, WaitFor};
use crate::sys::inject;
use crate::sys::offload;
use crate::sys::signals;
use crate::sys::topology;
use crate::sys::traffic::{icmp, tcp, udp};

/// Executes step `i` (0-based) of the plan.
pub(crate) fn execute(
    run: &mut Run,
    i: usize,
    step: &PlanStep,
    progress: &dyn Progress,
) -> Result<()> {
    let n = i + 1;
    match step {
        PlanStep::Ping(p) => ping(run, i, p, progress),
        PlanStep::Udp(u) => udp_step(run, i, u, progress),
        PlanStep::Tcp(t) => tcp_step(run, i, t, progress),
        PlanStep::Offloads {
            sides,
            tso,
            gso,
            tx_csum,
            gso_max_segs,
        } => {
            for side in sides {
                offloads(
                    run,
                    n,
                    *side,
                    (*tso, *gso, *tx_csum),
                    *gso_max_segs,
                    progress,
                )?;
            }
            Ok(())
        }
        PlanStep::Rekey {
            times,
            interval_ms,
            keys,
        } => rekey(run, n, *times, *interval_ms, keys, progress),
        PlanStep::SetKey { sides, key } => {
            progress.note(&format!("step {n}: new key on {}", side_names(sides)));
            run.rotate(sides, key)
        }
        PlanStep::ClearKey { sides } => {
            progress.note(&format!("step {n}: key removed on {}", side_names(sides)));
            run.clear_keys(sides)
        }
        PlanStep::Tamper { side, offset, xor } => tamper(run, n, *side, *offset, *xor, progress),
        PlanStep::Wait { until, timeout_ms } => wait(run, n, until, *timeout_ms, progress),
        PlanStep::Stack { side, stack } => stack::switch(run, n, *side, *stack, progress),
        PlanStep::Handshake { from, timeout_ms } => {
            let tunnel = run
                .tunnel
                .as_ref()
                .context("a handshake step needs `mode: wireguard`")?;
            let index = tunnel.handshake(*from, Duration::from_millis(*timeout_ms))?;
            let note = format!(
                "step {n}: handshake from the {} end: session {index:#010x}",
                from.as_str()
            );
            progress.note(&note);
            run.notes.push(note);
            Ok(())
        }
    }
}

fn ping(run: &mut Run, i: usize, p: &PingPlan, progress: &dyn Progress) -> Result<()> {
    let n = i + 1;
    let dst = run.plan.traffic_addr(p.from.peer()).addr;
    progress.note(&format!(
        "step {n}: ping {} -> {dst}: {} x {} bytes",
        p.from.as_str(),
        p.count,
        p.size
    ));
    let id = (std::process::id() as u16).wrapping_add((i as u16).wrapping_mul(7919));
    let (count, size) = (p.count, p.size as usize);
    let interval = Duration::from_millis(p.interval_ms);
    let timeout = Duration::from_millis(p.timeout_ms);
    let outcome = run
        .topo
        .end(p.from)
        .ns
        .run(move || icmp::ping(dst, id, count, size, interval, timeout))
        .context("ping thread")?
        .with_context(|| format!("step {n}: ping"))?;
    progress.note(&format!(
        "step {n}: {} of {} replies",
        outcome.replies, outcome.sent
    ));
    run.pings.push((p.from, outcome));
    Ok(())
}

fn udp_step(run: &mut Run, i: usize, u: &UdpPlan, progress: &dyn Progress) -> Result<()> {
    let n = i + 1;
    let dst = SocketAddrV4::new(run.plan.traffic_addr(u.from.peer()).addr, u.port);
    progress.note(&format!(
        "step {n}: udp {} -> {dst}: sizes {:?} x {}{}",
        u.from.as_str(),
        u.sizes,
        u.count,
        if u.background { " (background)" } else { "" }
    ));
    let port = u.port;
    let (stop, handle) = run
        .topo
        .end(u.from.peer())
        .ns
        .spawn_ready(&format!("udp-rx-{n}"), move || udp::receiver(port))
        .with_context(|| format!("step {n}: binding UDP port {port}"))?;
    let mut pending = PendingUdp {
        step: i,
        from: u.from,
        port,
        receiver: Worker::new(stop, handle),
        sender: None,
        sent: None,
    };
    let (sizes, count, interval) = (
        u.sizes.clone(),
        u.count,
        Duration::from_millis(u.interval_ms),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let send = move || udp::send(dst, n as u16, &sizes, count, interval, &flag);
    let tap = if u.replay {
        Some(wire_tap(run, u.from, n)?)
    } else {
        None
    };
    let ns = &run.topo.end(u.from).ns;
    if u.background {
        let handle = ns.spawn(&format!("udp-tx-{n}"), send)?;
        pending.sender = Some(Worker::new(stop, handle));
    } else {
        let sent = ns.run(send).context("udp thread")??;
        progress.note(&format!(
            "step {n}: {} datagrams sent, {} send errors",
            sent.sent, sent.send_errors
        ));
        pending.sent = Some(sent);
    }
    run.udp.push(pending);
    if let Some(tap) = tap {
        replay(run, n, u.from, tap, progress)?;
    }
    Ok(())
}

/// Starts collecting what `side` puts on the wire.
fn wire_tap(run: &Run, side: Side, n: usize) -> Result<Worker<Vec<Vec<u8>>>> {
    let end = run.topo.end(side);
    let ifindex = end.ifindex;
    let (stop, handle) = end
        .ns
        .spawn_ready(&format!("tap-{n}"), move || inject::outgoing(ifindex))
        .with_context(|| format!("step {n}: capturing {}'s frames", side.as_str()))?;
    Ok(Worker::new(stop, handle))
}

/// Sends the IPv4 frames `side` sent to its peer once more, as they were
/// on the wire: a replay attack the receiving data plane must refuse.
fn replay(
    run: &mut Run,
    n: usize,
    side: Side,
    tap: Worker<Vec<Vec<u8>>>,
    progress: &dyn Progress,
) -> Result<()> {
    // Let the last frames reach the tap.
    std::thread::sleep(Duration::from_millis(50));
    let peer = run.plan.addr(side.peer()).addr.octets();
    let frames: Vec<Vec<u8>> = tap
        .finish(&format!("wire tap (step {n})"))?
        .into_iter()
        .filter(|f| f.get(30..34) == Some(&peer[..]))
        .collect();
    let end = run.topo.end(side);
    let ifindex = end.ifindex;
    let sent = end
        .ns
        .run(|| inject::send(ifindex, &frames))
        .context("replay thread")?
        .with_context(|| format!("step {n}: sending captured frames again"))?;
    // Let the receiver take them before later steps run.
    std::thread::sleep(Duration::from_millis(100));
    let note = format!(
        "step {n}: {sent} of {} captured frames sent again",
        frames.len()
    );
    progress.note(&note);
    run.notes.push(note);
    Ok(())
}

fn tcp_step(run: &mut Run, i: usize, t: &TcpPlan, progress: &dyn Progress) -> Result<()> {
    let n = i + 1;
    let dst = SocketAddrV4::new(run.plan.traffic_addr(t.from.peer()).addr, t.port);
    progress.note(&format!(
        "step {n}: tcp {} -> {dst}: {} bytes",
        t.from.as_str(),
        t.bytes
    ));
    let port = t.port;
    let (stop, handle) = run
        .topo
        .end(t.from.peer())
        .ns
        .spawn_ready(&format!("tcp-rx-{n}"), move || tcp::server(port))
        .with_context(|| format!("step {n}: listening on TCP port {port}"))?;
    let server = Worker::new(stop, handle);
    let bytes = t.bytes;
    let deadline = Instant::now() + Duration::from_millis(t.timeout_ms);
    let client = run
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
    progress.note(&format!(
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
    let flow = TcpFlow {
        step: i,
        bytes,
        client,
        server,
    };
    run.tcp.push((t.from, flow));
    Ok(())
}

/// Sets `(tso, gso, tx_csum)` and, if given, the GSO segment limit on one end.
fn offloads(
    run: &mut Run,
    n: usize,
    side: Side,
    (tso, gso, tx): (bool, bool, bool),
    gso_max_segs: Option<u32>,
    progress: &dyn Progress,
) -> Result<()> {
    let end = run.topo.end(side);
    let ifname = end.ifname;
    if let Some(segs) = gso_max_segs {
        end.ns
            .run(move || topology::set_gso_max_segs(ifname, segs))
            .context("netlink thread")??;
        run.notes.push(format!(
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
    progress.note(&note);
    run.notes.push(note);
    Ok(())
}

fn rekey(
    run: &mut Run,
    n: usize,
    times: u32,
    interval_ms: u64,
    keys: &[Vec<u8>],
    progress: &dyn Progress,
) -> Result<()> {
    progress.note(&format!(
        "step {n}: rekey both ends {times} times, every {interval_ms} ms"
    ));
    let t0 = Instant::now();
    for r in 0..times as usize {
        signals::check()?;
        run.rotate(&Side::BOTH, &keys[r % keys.len()])?;
        std::thread::sleep(Duration::from_millis(interval_ms));
    }
    let note = format!(
        "step {n}: {times} key rotations in {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    progress.note(&note);
    run.notes.push(note);
    Ok(())
}

/// Attaches the tamper helper after the data plane on `side`'s egress.
fn tamper(
    run: &mut Run,
    n: usize,
    side: Side,
    offset: u32,
    xor: u8,
    progress: &dyn Progress,
) -> Result<()> {
    progress.note(&format!(
        "step {n}: tamper on {} egress: payload byte {offset} ^= {xor:#04x}",
        side.as_str()
    ));
    let fd = run.plane(side).tamper_fd(offset, xor)?;
    if run.tampering[side.index()] {
        return Ok(());
    }
    let end = run.topo.end(side);
    let ifindex = end.ifindex;
    let link = end
        .ns
        .run(move || dataplane::attach_one_in_current_netns(fd, ifindex, "tamper_egress"))
        .context("attach thread")??;
    run.planes
        .get_mut(side.as_str())
        .expect("a data plane on each end")
        .hold_links(vec![link]);
    run.tampering[side.index()] = true;
    Ok(())
}

fn wait(
    run: &mut Run,
    n: usize,
    until: &WaitFor,
    timeout_ms: u64,
    progress: &dyn Progress,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    let (what, ok, observed) = match until {
        WaitFor::Counter {
            side,
            name,
            min,
            max,
        } => {
            let what = format!(
                "counter {}.{name} within {}",
                side.as_str(),
                bounds::text(*min, *max)
            );
            progress.note(&format!("step {n}: wait for {what}"));
            let (ok, v) = wait_counter(run, *side, name, (*min, *max), deadline)?;
            (what, ok, v.to_string())
        }
        WaitFor::FlowsDone => {
            progress.note(&format!("step {n}: wait for background flows"));
            while !run.background_done() && Instant::now() < deadline {
                signals::check()?;
                std::thread::sleep(Duration::from_millis(5));
            }
            let ok = run.background_done();
            let observed = if ok { "done" } else { "still running" };
            ("background flows done".to_string(), ok, observed.into())
        }
    };
    run.waits.push(AssertionResult {
        name: format!("wait (step {n})"),
        expected: format!("{what} within {timeout_ms} ms"),
        observed,
        pass: ok,
    });
    Ok(())
}

/// Polls a counter until it lies within `(min, max)` or the deadline passes.
fn wait_counter(
    run: &Run,
    side: Side,
    name: &str,
    (min, max): (Option<u64>, Option<u64>),
    deadline: Instant,
) -> Result<(bool, u64)> {
    loop {
        let v = run.plane(side).counters()?.get(name).copied().unwrap_or(0);
        let ok = min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m);
        if ok || Instant::now() >= deadline {
            return Ok((ok, v));
        }
        signals::check()?;
        std::thread::sleep(Duration::from_millis(5));
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
