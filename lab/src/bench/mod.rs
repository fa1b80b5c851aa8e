//! `lab bench`: throughput and cost of the data plane per cipher.
//!
//! A bench file ([`spec`]) names packet sizes, variants and which parts to
//! run on each target (the host kernel or catalog kernels in VMs):
//!
//! - micro ([`micro`]): `BPF_PROG_TEST_RUN` of the egress and ingress
//!   programs of `noop`, `copy`, `ecb(aes)`, `cbc(aes)` at each size;
//! - cipher ([`kfunc`]): the raw cipher limit, a crypto-only program that
//!   only calls the kfunc on the same number of bytes;
//! - udp / tcp ([`udp`], [`tcp`]): traffic over the veth pair with each
//!   variant and without any program ([`bed`]);
//!
//! with repeated rounds summarised by [`stats`], the environment of every
//! target ([`env`]), into `bench.json` ([`model`]) and a report
//! ([`crate::report`]). [`session`] drives targets and the results folder.

#![warn(missing_docs)]

pub mod bed;
pub mod cpu;
pub mod env;
pub mod frames;
pub mod kfunc;
pub mod micro;
pub mod model;
pub mod progress;
pub mod session;
pub mod spec;
pub mod stats;
pub mod tcp;
pub mod udp;
pub mod vm;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::dataplane::Direction;
use crate::signals::Interrupted;
use model::{BenchVariant, TargetResult};
use progress::Progress;
use spec::BenchPlan;

/// What a VM guest is asked to bench (`/lab/bench.json` in its initramfs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchJob {
    /// The bench.
    pub plan: BenchPlan,
    /// Target name recorded in the result (catalog kernel name).
    pub target: String,
    /// Accelerator the host chose (`kvm`, `tcg`).
    pub accelerator: String,
    /// The lab's commit on the host.
    pub commit: String,
}

/// Runs `plan` on the running kernel. Figures measured before an error
/// are kept and the error is recorded; only an interrupt is an `Err`.
pub fn run_target(
    plan: &BenchPlan,
    target: &str,
    accelerator: &str,
    commit: &str,
    progress: &dyn Progress,
) -> Result<TargetResult> {
    let mut t = TargetResult::new(target, env::current(accelerator, commit));
    if !crate::dataplane::kernel_has_bpf_crypto() {
        t.unsupported = Some(format!("kernel {} has no bpf_crypto kfuncs", t.env.kernel));
        return Ok(t);
    }
    if let Err(e) = run_parts(plan, &mut t, progress) {
        if e.is::<Interrupted>() || e.root_cause().to_string() == "interrupted" {
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
        let (m, c) = micro::run(plan, progress)?;
        t.micro = m;
        t.cipher = c;
    }
    if let Some(flow) = &plan.udp {
        progress.note("udp: datagrams over the veth pair");
        t.udp = udp::run(plan, flow, progress)?;
        let cipher = t.cipher.clone();
        let limit = move |v: BenchVariant, size: u32| {
            let alg = v.algorithm()?;
            let ns = |d: Direction| {
                cipher
                    .iter()
                    .find(|c| c.algorithm == alg && c.direction == d && c.size == size)
                    .and_then(|c| c.ns.as_ref())
                    .map(|s| s.median)
            };
            Some(ns(Direction::Egress)? + ns(Direction::Ingress)?)
        };
        udp::fill_ratios(&mut t.udp, &limit);
    }
    if plan.tcp.is_some() {
        progress.note("tcp: one connection per round, per offload mode");
        t.tcp = tcp::run(plan, progress)?;
    }
    Ok(())
}
