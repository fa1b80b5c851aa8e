//! The results folder: `results/<run-id>/{summary.json, wire.pcap, …}`.
//!
//! A run writes into `results/.partial-<run-id>/` and renames it into place
//! only when it finished; an error or Ctrl-C removes the partial folder, so
//! no half-written result is ever left behind.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

/// A results folder being written.
pub(crate) struct ResultsDir {
    partial: PathBuf,
    final_path: PathBuf,
    run_id: String,
    committed: bool,
}

impl ResultsDir {
    /// Creates `<root>/.partial-<id>` for a new run id built from the time,
    /// scenario and backend (suffixed when it exists already).
    pub(crate) fn create(root: &Path, scenario: &str, backend: &str) -> Result<Self> {
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
    pub(crate) fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Where files go while the run is in progress.
    pub(crate) fn path(&self) -> &Path {
        &self.partial
    }

    /// Writes `summary.json` (a run's summary, or the index of a matrix or
    /// bench) and moves the folder into place.
    pub(crate) fn commit<T: Serialize>(mut self, summary: &T) -> Result<PathBuf> {
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
