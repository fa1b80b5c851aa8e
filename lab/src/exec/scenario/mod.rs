//! Runs a scenario plan on the running kernel (the host, or the guest
//! kernel inside a VM): set up ([`setup`]), the steps in order
//! ([`steps`]), tear down ([`teardown`]), then the checks
//! ([`assertions`]) on what was observed.

pub(crate) mod assertions;
pub(crate) mod keys;
pub(crate) mod setup;
pub(crate) mod stack;
pub(crate) mod steps;
pub(crate) mod teardown;
pub(crate) mod wg;
pub(crate) mod worker;
pub(crate) mod xfrm_peer;

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::exec::phase_log::PhasePrefix;
use crate::job::phases::names;
use crate::job::run_report::{BaselineReport, PingSummary, RunReport, TcpSummary, WireStats};
use crate::output::progress::Progress;
use crate::spec::plan::Plan;
use crate::sys::kmsg::{self, KmsgCursor};
use crate::sys::signals;
use crate::sys::topology::LEFT_IF;
use assertions::Observations;
use setup::{Run, WIRE_PCAP};
use teardown::Ended;

/// File name of the kernel log lines logged during the run.
pub(crate) const KERNEL_LOG: &str = "kernel.log";

/// Runs the plan, then its baseline (if any) for comparison; the wire
/// pcaps and kernel logs are written into `out_dir` (the baseline's with a
/// `baseline-` prefix).
pub(crate) fn run(plan: &Plan, out_dir: &Path, progress: &dyn Progress) -> Result<RunReport> {
    let mut report = run_one(plan, out_dir, "", progress)?;
    if let Some(b) = &plan.baseline {
        signals::check()?;
        progress.note(&format!(
            "baseline: {} ({}), for comparison",
            b.name,
            b.wire.describe()
        ));
        let progress = PhasePrefix::new(progress, "baseline ");
        let r = run_one(b, out_dir, BASELINE_PREFIX, &progress)?;
        report.files.extend(r.files.iter().cloned());
        report.baseline = Some(Box::new(BaselineReport {
            name: b.name.clone(),
            source: b.source.clone(),
            wire: b.wire.describe(),
            report: r,
        }));
    }
    Ok(report)
}

/// File name prefix of the baseline run's files.
const BASELINE_PREFIX: &str = "baseline-";

/// Runs one plan, its files named with `prefix`.
fn run_one(
    plan: &Plan,
    out_dir: &Path,
    prefix: &str,
    progress: &dyn Progress,
) -> Result<RunReport> {
    let mut kmsg = KmsgCursor::open().ok();
    let pcap = format!("{prefix}{WIRE_PCAP}");
    let mut run = Run::start(plan, &out_dir.join(&pcap), progress)?;
    for (i, step) in plan.steps.iter().enumerate() {
        signals::check()?;
        let t = Instant::now();
        steps::execute(&mut run, i, step, progress)?;
        progress.phase(&format!("step {}: {}", i + 1, step.kind()), t);
    }
    let t = Instant::now();
    let ended = teardown::finish(run)?;
    let mut files = vec![pcap.clone()];
    if let Some(wg) = &ended.wg {
        let name = format!("{prefix}{}", wg::log::KEYLOG);
        std::fs::write(out_dir.join(&name), &wg.keylog)
            .with_context(|| format!("writing {name}"))?;
        files.push(name);
    }
    let kernel_log = kmsg.as_mut().map(|k| k.read_new()).unwrap_or_default();
    if kmsg.is_some() {
        let log = format!("{prefix}{KERNEL_LOG}");
        std::fs::write(out_dir.join(&log), kernel_log.join("\n") + "\n")
            .with_context(|| format!("writing {log}"))?;
        files.push(log);
    }
    let report = report(
        plan,
        ended,
        &out_dir.join(&pcap),
        kernel_log,
        files,
        progress,
    )?;
    progress.phase(names::ANALYSIS, t);
    Ok(report)
}

/// Evaluates the checks on what was observed (reading the capture `pcap`
/// once) and assembles the report.
fn report(
    plan: &Plan,
    e: Ended,
    pcap: &Path,
    kernel_log: Vec<String>,
    files: Vec<String>,
    progress: &dyn Progress,
) -> Result<RunReport> {
    let tcp_summaries = e
        .tcp
        .iter()
        .map(|(from, t)| TcpSummary {
            step: t.step + 1,
            from: *from,
            bytes: t.bytes,
            client: t.client.clone(),
            server: t.server.clone(),
        })
        .collect();
    let obs = Observations {
        pings: e.pings.clone(),
        delivered: e.delivered,
        counters: e.counters.clone(),
        addresses: vec![plan.left, plan.right],
        mode: plan.wire.mode,
        algorithm: Some(plan.cipher.algorithm),
        keys: e.wg.as_ref().map_or_else(|| plan.keys(), |w| w.keys()),
        auth_key: plan.wire.esp.as_ref().map(|e| e.auth_key.clone()),
        udp: e.udp,
        tcp: e.tcp.into_iter().map(|(_, t)| t).collect(),
        kernel_log,
        xfrm_stat: e.xfrm_stat.clone(),
    };
    let (wire, mut results) = assertions::evaluate(&plan.assertions, &obs, pcap)?;
    progress.note(&format!(
        "capture: {} frames, {} IPv4 packets",
        e.frames, wire.ipv4
    ));
    results.extend(e.waits);
    Ok(RunReport {
        assertions: results,
        counters: e.counters,
        pings: e
            .pings
            .into_iter()
            .map(|(from, outcome)| PingSummary { from, outcome })
            .collect(),
        udp: e.udp_summaries,
        tcp: tcp_summaries,
        notes: e.notes,
        wire: WireStats {
            interface: LEFT_IF.to_string(),
            frames: wire.frames,
            ipv4_packets: wire.ipv4 as usize,
            payload_entropy: wire.payload_entropy(),
            marker_leaks: wire.marker_leaks() as usize,
        },
        kernel_warnings: obs
            .kernel_log
            .into_iter()
            .filter(|l| kmsg::is_warning(l))
            .collect(),
        xfrm_stat: e.xfrm_stat,
        files,
        baseline: None,
    })
}
