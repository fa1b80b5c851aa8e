//! The results folder: `results/<run-id>/{summary.json, wire.pcap, …}`.
//!
//! A run writes into `results/.partial-<run-id>/` and renames it into place
//! only when it finished; an error or Ctrl-C removes the partial folder, so
//! no half-written result is ever left behind.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::runner::RunReport;

/// Current `summary.json` schema version.
pub const SUMMARY_SCHEMA: u32 = 1;

/// Overall verdict of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
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
pub struct ScenarioInfo {
    /// Name.
    pub name: String,
    /// File as given.
    pub source: String,
    /// Description.
    pub description: String,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Schema version.
    pub schema: u32,
    /// Run id (folder name).
    pub run_id: String,
    /// Scenario.
    pub scenario: ScenarioInfo,
    /// Cipher algorithm.
    pub cipher: String,
    /// Key in hex (test keys only; the oracle needs it).
    pub key_hex: String,
    /// Backend (`host`, `qemu`, `vng`).
    pub backend: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Catalog kernel name for VM backends (`debian-6.12`).
    pub kernel_name: Option<String>,
    /// Accelerator for VM backends (`kvm`, `tcg`).
    pub accelerator: Option<String>,
    /// Oops/BUG/WARNING lines the kernel printed during the run.
    pub kernel_events: Vec<String>,
    /// Capability probe, when it was run: the report or why it could not run.
    pub probe: Option<Result<crate::probe::ProbeReport, String>>,
    /// Start time, RFC 3339.
    pub started_at: String,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// Verdict.
    pub verdict: Verdict,
    /// Assertions that passed.
    pub passed: usize,
    /// Assertions that failed.
    pub failed: usize,
    /// Why the run did not complete (error / unsupported).
    pub error: Option<String>,
    /// What the run observed, when it completed.
    pub report: Option<RunReport>,
}

/// A results folder being written.
pub struct ResultsDir {
    partial: PathBuf,
    final_path: PathBuf,
    run_id: String,
    committed: bool,
}

impl ResultsDir {
    /// Creates `<root>/.partial-<id>` for a new run id built from the time,
    /// scenario and backend (suffixed when it exists already).
    pub fn create(root: &Path, scenario: &str, backend: &str) -> Result<Self> {
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        let base = format!("{stamp}-{scenario}-{backend}");
        let mut run_id = base.clone();
        let mut n = 1;
        while root.join(&run_id).exists() || root.join(format!(".partial-{run_id}")).exists() {
            n += 1;
            run_id = format!("{base}-{n}");
        }
        let partial = root.join(format!(".partial-{run_id}"));
        std::fs::create_dir(&partial).with_context(|| format!("creating {}", partial.display()))?;
        Ok(Self {
            final_path: root.join(&run_id),
            partial,
            run_id,
            committed: false,
        })
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Where files go while the run is in progress.
    pub fn path(&self) -> &Path {
        &self.partial
    }

    /// Writes `summary.json` and moves the folder into place.
    pub fn commit(self, summary: &Summary) -> Result<PathBuf> {
        self.commit_as(summary)
    }

    /// Like [`ResultsDir::commit`] for any serializable summary document.
    pub fn commit_as<T: Serialize>(mut self, summary: &T) -> Result<PathBuf> {
        let json = serde_json::to_vec_pretty(summary)?;
        std::fs::write(self.partial.join("summary.json"), json).context("writing summary.json")?;
        std::fs::rename(&self.partial, &self.final_path)
            .with_context(|| format!("moving results to {}", self.final_path.display()))?;
        self.committed = true;
        Ok(self.final_path.clone())
    }
}

impl Drop for ResultsDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.partial);
        }
    }
}

/// Reads a `summary.json`.
pub fn read_summary(path: &Path) -> Result<Summary> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_dir_is_removed_and_ids_do_not_collide() {
        let root = tempfile::tempdir().unwrap();
        let a = ResultsDir::create(root.path(), "ping", "host").unwrap();
        let b = ResultsDir::create(root.path(), "ping", "host").unwrap();
        assert_ne!(a.run_id(), b.run_id());
        std::fs::write(a.path().join("x"), b"1").unwrap();
        let pa = a.path().to_path_buf();
        drop(a);
        assert!(!pa.exists());
        drop(b);
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }
}
