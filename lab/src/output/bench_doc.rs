//! `bench.json`: the document of one `lab bench` run (the plan and one
//! result per target), and finding and reading a saved one.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::job::bench::TargetResult;
use crate::job::phases::PhaseTime;
use crate::job::stats::Stats;
use crate::spec::bench_plan::BenchPlan;
use crate::spec::error::utf8;

/// Current `bench.json` schema version.
pub(crate) const BENCH_SCHEMA: u32 = 1;
/// File name of the results document.
pub(crate) const BENCH_JSON: &str = "bench.json";

/// `bench.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BenchDoc {
    /// Schema version.
    pub(crate) schema: u32,
    /// Run id (folder name).
    pub(crate) run_id: String,
    /// The settings used.
    pub(crate) plan: BenchPlan,
    /// Start time, RFC 3339.
    pub(crate) started_at: String,
    /// Wall time of the whole run, ms.
    pub(crate) duration_ms: u64,
    /// One entry per machine/kernel measured.
    pub(crate) targets: Vec<TargetResult>,
    /// The lab's own VM loop, when the bench asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) vm_loop: Option<VmLoop>,
}

/// How long a user waits on the lab itself: a scenario on a catalog kernel
/// (wall time as `lab run` takes it, and the phases its summary records)
/// and a matrix run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VmLoop {
    /// Catalog kernel of the scenario runs.
    pub(crate) kernel: String,
    /// Scenario file.
    pub(crate) scenario: String,
    /// Accelerator the runs used (`kvm`, `tcg`), from their summaries.
    pub(crate) accelerator: Option<String>,
    /// Wall time of `lab run`, ms, over the rounds.
    pub(crate) run_ms: Option<Stats>,
    /// Median time of each phase over the rounds, in the order they ran.
    pub(crate) phases: Vec<PhaseTime>,
    /// Targets of the timed matrix (host first).
    pub(crate) matrix_targets: Vec<String>,
    /// Wall time of `lab matrix`, ms (one run).
    pub(crate) matrix_ms: Option<u64>,
    /// Target for `run_ms`, ms.
    pub(crate) run_target_ms: u64,
    /// Target for `matrix_ms`, ms.
    pub(crate) matrix_target_ms: u64,
    /// What went wrong, if a part could not be measured.
    pub(crate) errors: Vec<String>,
}

/// The results folder's `summary.json` of a bench: an index of it.
#[derive(Debug, Serialize)]
struct Index<'a> {
    kind: &'static str,
    run_id: &'a str,
    name: &'a str,
    targets: Vec<serde_json::Value>,
    files: &'a [String],
}

/// The `summary.json` of a bench run whose folder holds `files`.
pub(crate) fn index(doc: &BenchDoc, files: &[String]) -> serde_json::Value {
    let targets = doc
        .targets
        .iter()
        .map(|t| {
            serde_json::json!({
                "target": t.target, "kernel": t.env.kernel, "accelerator": t.env.accelerator,
                "unsupported": t.unsupported, "error": t.error, "failures": t.has_failures(),
            })
        })
        .collect();
    serde_json::to_value(Index {
        kind: "bench",
        run_id: &doc.run_id,
        name: &doc.plan.name,
        targets,
        files,
    })
    .unwrap_or_default()
}

/// Finds a saved bench: a run folder, a `bench.json`, or a run id under `results_root`.
pub(crate) fn resolve(arg: &str, results_root: &Path) -> Result<PathBuf> {
    let p = PathBuf::from(arg);
    let mut tried: Vec<PathBuf> = Vec::new();
    for cand in [
        p.clone(),
        p.join(BENCH_JSON),
        results_root.join(arg).join(BENCH_JSON),
    ] {
        if cand.is_file() {
            return Ok(cand);
        }
        if !tried.contains(&cand) {
            tried.push(cand);
        }
    }
    let tried: Vec<String> = tried.iter().map(|c| c.display().to_string()).collect();
    bail!("no {BENCH_JSON} at {}", one_of(&tried))
}

/// `a`, `a or b`, `a, b or c`.
fn one_of(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Reads a `bench.json`.
pub(crate) fn load(path: &Path) -> Result<BenchDoc> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: BenchDoc = serde_json::from_str(utf8(path, &bytes)?)
        .with_context(|| format!("parsing {}", path.display()))?;
    if doc.schema != BENCH_SCHEMA {
        bail!(
            "{} has schema {}, this lab reads {BENCH_SCHEMA}",
            path.display(),
            doc.schema
        );
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_bench_names_each_place_once() {
        let d = tempfile::tempdir().unwrap();
        let abs = d.path().join("gone");
        let a = abs.to_str().unwrap();
        let msg = resolve(a, d.path()).unwrap_err().to_string();
        assert_eq!(msg, format!("no bench.json at {a} or {a}/bench.json"));
        let msg = resolve("gone", d.path()).unwrap_err().to_string();
        assert_eq!(
            msg,
            format!("no bench.json at gone, gone/bench.json or {a}/bench.json")
        );
    }
}
