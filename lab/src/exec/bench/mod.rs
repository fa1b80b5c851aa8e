//! A bench job on the running kernel: throughput and cost of the data
//! plane per cipher. The bench plan names packet sizes, variants and which
//! parts to run:
//!
//! - micro ([`micro`]): `BPF_PROG_TEST_RUN` of the egress and ingress
//!   programs of `noop`, `copy`, `ecb(aes)`, `cbc(aes)` at each size;
//! - cipher ([`kfunc`]): the raw cipher limit, a crypto-only program that
//!   only calls the kfunc on the same number of bytes;
//! - hardware ([`hardware`]): each cipher in userspace on one core;
//! - udp / tcp ([`udp`], [`tcp`]): traffic over the veth pair with each
//!   variant and without any program ([`bed`]);
//!
//! with repeated rounds summarised as statistics, and the environment of
//! the kernel ([`env`]), into one target's result. A paired bench (the
//! plan has a baseline) measures the baseline's objects beside ours in
//! the micro and UDP parts, round for round ([`planes::Arm`]).

pub(crate) mod bed;
pub(crate) mod cpu;
pub(crate) mod env;
pub(crate) mod frames;
pub(crate) mod hardware;
pub(crate) mod kfunc;
pub(crate) mod micro;
pub(crate) mod micro_job;
pub(crate) mod micro_rounds;
pub(crate) mod planes;
pub(crate) mod stacks;
pub(crate) mod tcp;
pub(crate) mod udp;

use anyhow::Result;

use crate::dataplane::format;
use crate::domain::{BenchVariant, Direction};
use crate::job::bench::{TargetResult, Unavailable};
use crate::output::progress::Progress;
use crate::spec::bench_plan::BenchPlan;
use crate::sys::signals;

/// Runs `plan` on the running kernel. The environment's accelerator and
/// commit are the host's to fill in. Figures measured before an error are
/// kept and the error is recorded; only an interrupt is an `Err`.
pub(crate) fn run(plan: &BenchPlan, progress: &dyn Progress) -> Result<TargetResult> {
    let mut t = TargetResult::new("", env::current("host", "unknown"));
    if let Err(e) = run_parts(plan, &mut t, progress) {
        if signals::interrupted() {
            return Err(e);
        }
        progress.note(&format!("error: {e:#}"));
        t.error = Some(format!("{e:#}"));
    }
    Ok(t)
}

fn run_parts(plan: &BenchPlan, t: &mut TargetResult, progress: &dyn Progress) -> Result<()> {
    if plan.micro.is_some() || plan.cipher.is_some() {
        progress.note("micro: BPF_PROG_TEST_RUN of every variant and size");
        let m = micro::run(plan, progress)?;
        t.micro = m.micro;
        t.cipher = m.cipher;
        t.unavailable.extend(m.unavailable);
        if plan.baseline.is_some() {
            t.baseline.get_or_insert_default().micro = m.baseline;
        }
    }
    if let Some(h) = &plan.hardware {
        for alg in plan.hardware_algorithms() {
            let name = alg.kernel_name();
            progress.note(&format!(
                "hardware {name}: {}",
                hardware::implementation(alg)
            ));
        }
        t.hardware = hardware::run(plan, h, progress)?;
    }
    if let Some(flow) = &plan.udp {
        progress.note("udp: datagrams over the veth pair");
        let u = udp::run(plan, flow, progress)?;
        t.udp = u.udp;
        if plan.baseline.is_some() {
            t.baseline.get_or_insert_default().udp = u.baseline;
        }
        note_missing(t, u.missing);
        let cipher = t.cipher.clone();
        // Every cipher pass a packet costs, out and back in (ESP: CBC and
        // CMAC out, CMAC and CBC decryption in).
        let limit = move |v: BenchVariant, size: u32| {
            let (f, alg) = format::of_variant(v)?;
            let ns = |d: Direction| {
                cipher
                    .iter()
                    .find(|c| {
                        c.algorithm == alg
                            && c.direction == d
                            && c.size == size
                            && c.driver.is_none()
                    })
                    .and_then(|c| c.ns.as_ref())
                    .map(|s| s.median)
            };
            let passes: Vec<Direction> = [Direction::Egress, Direction::Ingress]
                .iter()
                .flat_map(|&dir| f.cipher_passes(dir))
                .copied()
                .collect();
            // No kfunc pass (WireGuard's cipher is BPF C): no limit, not 0.
            if passes.is_empty() {
                return None;
            }
            passes.into_iter().map(ns).sum::<Option<f64>>()
        };
        udp::fill_ratios(&mut t.udp, &limit);
    }
    if plan.tcp.is_some() {
        progress.note("tcp: one connection per round, per offload mode");
        let (tcp, missing) = tcp::run(plan, progress)?;
        t.tcp = tcp;
        note_missing(t, missing);
    }
    Ok(())
}

/// Records the variants the kernel lacks, each once.
fn note_missing(t: &mut TargetResult, missing: bed::Missing) {
    for (v, why) in missing {
        if !t.unavailable.iter().any(|u| u.what == v.as_str()) {
            t.unavailable.push(Unavailable {
                what: v.as_str().to_string(),
                reason: why,
            });
        }
    }
}

/// Steps (rounds of measurement points, warm-up included) `plan` takes on
/// one target: the length of its progress bar.
pub(crate) fn points(plan: &BenchPlan) -> u64 {
    let hardware = plan.hardware.as_ref().map_or(0, |_| {
        2 * plan.hardware_algorithms().len() as u64 * plan.sizes.len() as u64
    });
    micro::steps(plan)
        + hardware
        + plan.udp.as_ref().map_or(0, |f| udp::steps(plan, f))
        + tcp::steps(plan)
}
