//! `summary.json` of a scenario run: what ran where, the verdict, and
//! what was observed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::job::phases::PhaseTime;
use crate::job::probe::ProbeReport;
use crate::job::run_report::RunReport;
use crate::job::{Completed, Execution, Outcome};
use crate::spec::dataplane::UserDataplane;
use crate::spec::plan::Plan;

/// Current `summary.json` schema version.
pub(crate) const SUMMARY_SCHEMA: u32 = 1;

/// Overall verdict of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    /// Every assertion held.
    Pass,
    /// At least one assertion failed.
    Fail,
    /// The kernel cannot run the data plane (no bpf_crypto).
    Unsupported,
    /// The run could not complete.
    Error,
}

/// Scenario identification in a summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ScenarioInfo {
    /// Name.
    pub(crate) name: String,
    /// File as given.
    pub(crate) source: String,
    /// Description.
    pub(crate) description: String,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Summary {
    /// Schema version.
    pub(crate) schema: u32,
    /// Run id (folder name).
    pub(crate) run_id: String,
    /// Scenario.
    pub(crate) scenario: ScenarioInfo,
    /// Cipher algorithm.
    pub(crate) cipher: String,
    /// Wire format: `raw` or `esp`, with `, in place` for the in-place build.
    #[serde(default)]
    pub(crate) wire: String,
    /// The user's data plane object (`--dataplane`), by path and SHA-256;
    /// absent when the lab's own build ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dataplane: Option<UserDataplane>,
    /// Key in hex (test keys only; the oracle needs it).
    pub(crate) key_hex: String,
    /// Backend (`host`, `qemu`, `vng`).
    pub(crate) backend: String,
    /// Kernel release (`uname -r`).
    pub(crate) kernel: String,
    /// Catalog kernel name for VM backends (`debian-6.12`).
    pub(crate) kernel_name: Option<String>,
    /// The image file of a developer's kernel (`--kernel-image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kernel_image: Option<String>,
    /// Accelerator for VM backends (`kvm`, `tcg`).
    pub(crate) accelerator: Option<String>,
    /// Oops/BUG/WARNING lines the kernel printed during the run.
    pub(crate) kernel_events: Vec<String>,
    /// Capability probe, when it was run: the report or why it could not run.
    pub(crate) probe: Option<Result<ProbeReport, String>>,
    /// Start time, RFC 3339.
    pub(crate) started_at: String,
    /// Wall time of the run.
    pub(crate) duration_ms: u64,
    /// Where that time went, phase by phase (the phases that apply).
    #[serde(default)]
    pub(crate) phases: Vec<PhaseTime>,
    /// Verdict.
    pub(crate) verdict: Verdict,
    /// Assertions that passed.
    pub(crate) passed: usize,
    /// Assertions that failed.
    pub(crate) failed: usize,
    /// Why the run did not complete (error / unsupported).
    pub(crate) error: Option<String>,
    /// What the run observed, when it completed.
    pub(crate) report: Option<RunReport>,
}

/// Where a run's summary comes from besides its execution.
pub(crate) struct RunInfo<'a> {
    /// The plan that ran.
    pub(crate) plan: &'a Plan,
    /// Backend name (`host`, `qemu`, `vng`).
    pub(crate) backend: &'a str,
    /// Run id.
    pub(crate) run_id: &'a str,
    /// Start time, RFC 3339.
    pub(crate) started_at: String,
    /// Wall time.
    pub(crate) elapsed: Duration,
}

/// Builds a summary from a target's execution of a scenario job.
pub(crate) fn summarize(info: RunInfo, exec: Execution) -> Summary {
    let (verdict, error, report) = match exec.outcome {
        Outcome::Completed(Completed::Scenario(r)) => {
            let v = if r.passed() {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            (v, None, Some(*r))
        }
        Outcome::Completed(_) => (
            Verdict::Error,
            Some("the kernel returned no scenario report".into()),
            None,
        ),
        Outcome::Unsupported(why) => (Verdict::Unsupported, Some(why), None),
        Outcome::Failed(why) => (Verdict::Error, Some(why), None),
    };
    // The baseline's checks count with the run's own.
    let all: Vec<bool> = report
        .iter()
        .flat_map(|r| {
            let base = r.baseline.iter().flat_map(|b| &b.report.assertions);
            r.assertions.iter().chain(base).map(|a| a.pass)
        })
        .collect();
    let passed = all.iter().filter(|p| **p).count();
    let failed = all.len() - passed;
    let plan = info.plan;
    Summary {
        schema: SUMMARY_SCHEMA,
        run_id: info.run_id.to_string(),
        scenario: ScenarioInfo {
            name: plan.name.clone(),
            source: plan.source.clone(),
            description: plan.description.clone(),
        },
        cipher: plan.cipher.algorithm.kernel_name().to_string(),
        // A user's object is one build: `in_place` chose none of it.
        wire: match &plan.dataplane {
            Some(_) => format!("{}, your object", plan.wire.mode.as_str()),
            None => plan.wire.describe(),
        },
        dataplane: plan.dataplane.as_ref().map(UserDataplane::named),
        key_hex: plan.cipher.key.iter().map(|b| format!("{b:02x}")).collect(),
        backend: info.backend.to_string(),
        kernel: exec.kernel,
        kernel_name: exec.kernel_name,
        kernel_image: exec.kernel_image,
        accelerator: exec.accelerator,
        kernel_events: exec.kernel_events,
        probe: exec.probe,
        started_at: info.started_at,
        duration_ms: info.elapsed.as_millis() as u64,
        phases: exec.phases,
        verdict,
        passed,
        failed,
        error,
        report,
    }
}
