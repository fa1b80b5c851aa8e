//! Ending a scenario: join the background flows, stop the receivers,
//! listeners and capture, read the counters, then remove the data planes
//! and the topology.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, anyhow};

use super::assertions::{TcpFlow, UdpFlow};
use super::setup::{PendingUdp, Run};
use super::stack;
use super::wg::log::WgLog;
use crate::domain::{Counters, Side};
use crate::job::run_report::{AssertionResult, UdpSummary};
use crate::sys::signals;
use crate::sys::traffic::icmp::{Delivered, PingOutcome};
use crate::sys::traffic::udp;

/// What the steps left behind, once everything stopped.
pub(crate) struct Ended {
    /// Ping steps, with the sending end.
    pub(crate) pings: Vec<(Side, PingOutcome)>,
    /// UDP flows, for the checks.
    pub(crate) udp: Vec<UdpFlow>,
    /// UDP steps, for the report.
    pub(crate) udp_summaries: Vec<UdpSummary>,
    /// TCP transfers, with the connecting end.
    pub(crate) tcp: Vec<(Side, TcpFlow)>,
    /// Echo requests delivered, by receiving end.
    pub(crate) delivered: Vec<(Side, Delivered)>,
    /// Frames captured.
    pub(crate) frames: u64,
    /// Counters of both ends at the end.
    pub(crate) counters: BTreeMap<String, Counters>,
    /// Notes of control steps.
    pub(crate) notes: Vec<String>,
    /// Verdicts of `wait` steps.
    pub(crate) waits: Vec<AssertionResult>,
    /// `/proc/net/xfrm_stat` of the ends that used the kernel's IPsec.
    pub(crate) xfrm_stat: BTreeMap<String, BTreeMap<String, u64>>,
    /// What the WireGuard handshakes did.
    pub(crate) wg: Option<WgLog>,
}

/// Stops everything the run started and collects what it saw.
pub(crate) fn finish(mut run: Run) -> Result<Ended> {
    join_background(&mut run)?;
    // Let in-flight frames reach the taps and receivers before stopping.
    std::thread::sleep(Duration::from_millis(100));
    run.listeners.iter().for_each(|(_, l)| l.ask_stop());
    run.udp.iter().for_each(|u| u.receiver.ask_stop());
    run.capture.ask_stop();
    let (udp, udp_summaries) = collect_udp(std::mem::take(&mut run.udp))?;
    let mut delivered = Vec::new();
    for (side, listener) in std::mem::take(&mut run.listeners) {
        let what = format!("{} ICMP listener", side.as_str());
        delivered.extend(listener.finish(&what)?.into_iter().map(|d| (side, d)));
    }
    let counters = run.counters()?;
    let xfrm_stat = stack::finish(&mut run)?;
    let wg = match run.tunnel.as_mut() {
        Some(t) => {
            for side in Side::BOTH {
                if let Some(note) = t.kernel_note(&run.topo, side) {
                    run.notes.push(format!("at the end: {note}"));
                }
            }
            t.stop()?;
            let log = std::mem::take(
                &mut *t
                    .log
                    .lock()
                    .map_err(|_| anyhow!("WireGuard log poisoned"))?,
            );
            run.notes.extend(log.events.iter().cloned());
            Some(log)
        }
        None => None,
    };
    let Run {
        capture,
        pings,
        tcp,
        notes,
        waits,
        planes,
        topo,
        ..
    } = run;
    let frames = capture.finish("wire capture")?;
    drop(planes);
    drop(topo);
    Ok(Ended {
        pings,
        udp,
        udp_summaries,
        tcp,
        delivered,
        frames,
        counters,
        notes,
        waits,
        xfrm_stat,
        wg,
    })
}

/// Background senders are bounded; let them finish.
fn join_background(run: &mut Run) -> Result<()> {
    for u in &mut run.udp {
        if let Some(sender) = u.sender.take() {
            while !sender.is_finished() {
                signals::check()?;
                std::thread::sleep(Duration::from_millis(5));
            }
            u.sent = Some(sender.finish(&format!("udp sender (step {})", u.step + 1))?);
        }
    }
    Ok(())
}

fn collect_udp(pending: Vec<PendingUdp>) -> Result<(Vec<UdpFlow>, Vec<UdpSummary>)> {
    let mut flows = Vec::new();
    let mut summaries = Vec::new();
    for u in pending {
        let delivered = u
            .receiver
            .finish(&format!("udp receiver (step {})", u.step + 1))?;
        let sent = u.sent.unwrap_or_default();
        let m = udp::match_delivered(&sent.payloads, &delivered);
        summaries.push(UdpSummary {
            step: u.step + 1,
            from: u.from,
            port: u.port,
            sent: sent.sent,
            send_errors: sent.send_errors,
            received: delivered.len(),
            intact: m.intact,
            duplicates: m.duplicates,
            corrupted: m.corrupted,
        });
        flows.push(UdpFlow {
            step: u.step,
            sent,
            delivered,
        });
    }
    Ok((flows, summaries))
}
