//! A job: what the lab asks the kernel under test to do, and what comes
//! back. Everything here crosses into and out of a VM guest (as JSON and
//! the result archive), so it is plain data.

pub(crate) mod archive;
pub(crate) mod bench;
pub(crate) mod fuzz;
pub(crate) mod phases;
pub(crate) mod probe;
pub(crate) mod run_report;
pub(crate) mod stats;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dataplane::format;
use crate::domain::{KernelStack, Stack};
use crate::spec::bench_plan::BenchPlan;
use crate::spec::plan::Plan;
use bench::TargetResult;
use fuzz::{FuzzPlan, FuzzReport};
use phases::PhaseTime;
use probe::ProbeReport;
use run_report::RunReport;

/// What to do on the kernel under test.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Job {
    /// Which cipher names `bpf_crypto_ctx_create` accepts.
    Probe(Vec<String>),
    /// Run a scenario, after probing `probe` (when not empty).
    Scenario {
        /// The scenario.
        plan: Plan,
        /// Cipher names to probe first.
        probe: Vec<String>,
    },
    /// Measure a bench.
    Bench(BenchPlan),
    /// Fuzz the data plane.
    Fuzz(FuzzPlan),
}

impl Job {
    /// A scenario without a probe.
    pub(crate) fn scenario(plan: Plan) -> Self {
        Job::Scenario {
            plan,
            probe: Vec::new(),
        }
    }

    /// The cipher names to probe (empty: no probe).
    pub(crate) fn probe_ciphers(&self) -> &[String] {
        match self {
            Job::Probe(c) | Job::Scenario { probe: c, .. } => c,
            Job::Bench(_) | Job::Fuzz(_) => &[],
        }
    }

    /// Whether the job's data plane needs the bpf_crypto kfuncs (a
    /// scenario of a format whose cipher is BPF C does not; a probe does).
    pub(crate) fn needs_bpf_crypto(&self) -> bool {
        match self {
            Job::Scenario { plan, probe } => {
                !probe.is_empty() || format::of(plan.wire.mode).needs_bpf_crypto()
            }
            _ => true,
        }
    }

    /// Whether the job uses the kernel's IPsec (its modules must be loaded).
    pub(crate) fn needs_ipsec(&self) -> bool {
        match self {
            Job::Scenario { plan, .. } => plan.uses_xfrm(),
            Job::Bench(_) => !self.kernel_stacks().is_empty(),
            _ => false,
        }
    }

    /// The kernel's own encrypting stacks a bench compares with.
    pub(crate) fn kernel_stacks(&self) -> Vec<KernelStack> {
        match self {
            Job::Bench(plan) => plan
                .variants
                .iter()
                .filter_map(|v| v.kernel_stack())
                .collect(),
            Job::Scenario { plan, .. } if plan.uses(Stack::Wireguard) => {
                vec![KernelStack::WireGuard]
            }
            _ => Vec::new(),
        }
    }

    /// How long the job itself needs at least, beyond booting: a bench
    /// runs for its estimated time, twice over to be safe.
    pub(crate) fn min_duration(&self) -> Option<Duration> {
        match self {
            Job::Bench(plan) => Some(Duration::from_secs_f64(plan.estimated_secs() * 2.0 + 120.0)),
            _ => None,
        }
    }
}

/// How a job ended on the kernel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Outcome {
    /// The job ran; its findings.
    Completed(Completed),
    /// The kernel cannot run the data plane; the reason says why.
    Unsupported(String),
    /// The system under test failed (verifier rejection, kernel panic,
    /// timeout, no result); details are in the results folder.
    Failed(String),
}

/// The harness failed on the kernel's side (e.g. its storage filled up
/// while writing a capture): the run is not a finding about the kernel, so
/// the host reports it as a harness problem and keeps nothing.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("{0}")]
pub(crate) struct HarnessFault(pub(crate) String);

/// What a completed job found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Completed {
    /// A probe job: the findings are in [`JobResult::probe`].
    Probe,
    /// A scenario ran; checks were evaluated.
    Scenario(Box<RunReport>),
    /// A bench ran (figures measured before an error are kept in it).
    Bench(Box<TargetResult>),
    /// The fuzzer ran.
    Fuzz(Box<FuzzReport>),
}

/// What the kernel under test sends back (`result.json` in the archive).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct JobResult {
    /// `uname -r` of the kernel that ran the job.
    pub(crate) kernel: String,
    /// Modules loaded (`veth`), and ones that failed with the reason.
    pub(crate) modules: Vec<String>,
    /// The guest's (or host's) phases and their times, in order.
    #[serde(default)]
    pub(crate) phases: Vec<PhaseTime>,
    /// The capability probe, when asked: the report or why it could not run.
    pub(crate) probe: Option<Result<ProbeReport, String>>,
    /// How the job ended, or the harness fault that stopped it.
    pub(crate) outcome: Result<Outcome, HarnessFault>,
}

/// A job's result as the host records it: where it ran, and the result,
/// or why the kernel gave none.
#[derive(Debug)]
pub(crate) struct Execution {
    /// Kernel release that ran.
    pub(crate) kernel: String,
    /// Catalog name of the kernel, for VMs.
    pub(crate) kernel_name: Option<String>,
    /// The image file of a developer's kernel (`--kernel-image`).
    pub(crate) kernel_image: Option<String>,
    /// Where the wall time went, in order.
    pub(crate) phases: Vec<PhaseTime>,
    /// Accelerator, for VMs (`kvm`, `tcg`).
    pub(crate) accelerator: Option<String>,
    /// Oops/BUG/WARNING lines the VM's console showed.
    pub(crate) kernel_events: Vec<String>,
    /// Capability probe, when asked for.
    pub(crate) probe: Option<Result<ProbeReport, String>>,
    /// The outcome.
    pub(crate) outcome: Outcome,
}
