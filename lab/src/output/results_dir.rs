//! The results folder: `results/<run-id>/{summary.json, wire.pcap, …}`.
//!
//! A run writes into `results/.partial-<run-id>/` and renames it into place
//! only when it finished; an error or Ctrl-C removes the partial folder, so
//! no half-written result is ever left behind, and the next run sweeps the
//! partial folder of a killed one.
//!
//! A run's folder can hold key material (`summary.json` records the keys,
//! the pcaps their ciphertext), so it is created 0700: only its owner reads
//! it. Run ids are reserved without following symlinks: a name taken by
//! anything, a dangling symlink included, moves on to the next id.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::sys::owner::{self, Claim};
use crate::sys::signals;

/// Prefix of the folders of runs in progress.
const PARTIAL: &str = ".partial-";

/// A results folder being written.
pub(crate) struct ResultsDir {
    partial: PathBuf,
    final_path: PathBuf,
    run_id: String,
    committed: bool,
    _claim: Claim,
}

impl ResultsDir {
    /// Creates `<root>/.partial-<id>` for a new run id built from the time,
    /// scenario and backend (suffixed `-2`, `-3`, … when taken). Creating the
    /// partial folder reserves the id, so parallel runs never collide;
    /// partial folders of killed runs are swept first.
    pub(crate) fn create(root: &Path, scenario: &str, backend: &str) -> Result<Self> {
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        Self::create_from(root, &format!("{stamp}-{scenario}-{backend}"))
    }

    /// Creates the partial folder of the first free id of `base`, `base-2`, …
    fn create_from(root: &Path, base: &str) -> Result<Self> {
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        owner::sweep(root, PARTIAL);
        for n in 1..10_000 {
            let run_id = if n == 1 {
                base.to_string()
            } else {
                format!("{base}-{n}")
            };
            if let Some(dir) = Self::reserve(root, run_id)? {
                return Ok(dir);
            }
        }
        bail!("no free run id for {base} in {}", root.display())
    }

    /// Reserves `run_id` by creating its partial folder; `None` when taken.
    fn reserve(root: &Path, run_id: String) -> Result<Option<Self>> {
        let final_path = root.join(&run_id);
        if taken(&final_path) {
            return Ok(None);
        }
        let partial = root.join(format!("{PARTIAL}{run_id}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&partial) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("creating {}", partial.display())),
        }
        let claim =
            owner::claim(&partial).with_context(|| format!("locking {}", partial.display()))?;
        if taken(&final_path) {
            // Committed by another run between the two checks.
            let _ = std::fs::remove_dir(&partial);
            return Ok(None);
        }
        Ok(Some(Self {
            partial,
            final_path,
            run_id,
            committed: false,
            _claim: claim,
        }))
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
    /// bench) and moves the folder into place, never over another one. An
    /// interrupt before this point keeps nothing.
    pub(crate) fn commit<T: Serialize>(mut self, summary: &T) -> Result<PathBuf> {
        signals::check()?;
        let json = serde_json::to_vec_pretty(summary)?;
        std::fs::write(self.partial.join("summary.json"), json).context("writing summary.json")?;
        signals::check()?;
        rename_noreplace(&self.partial, &self.final_path)
            .with_context(|| format!("moving results to {}", self.final_path.display()))?;
        self.committed = true;
        Ok(self.final_path.clone())
    }
}

/// Whether anything is at `path`, a symlink (dangling or not) included.
fn taken(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// `rename(2)` that fails instead of replacing an existing `to`.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    let c =
        |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (f, t) = (c(from)?, c(to)?);
    // SAFETY: valid NUL-terminated paths; AT_FDCWD resolves them as given.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
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

    #[test]
    fn a_dangling_symlink_at_the_next_id_moves_the_run_to_another_id() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let planted = root.path().join("20261207-120000-ping-host");
        std::os::unix::fs::symlink("/nonexistent-lab-target", &planted).unwrap();
        let d = ResultsDir::create_from(root.path(), "20261207-120000-ping-host").unwrap();
        assert_eq!(d.run_id(), "20261207-120000-ping-host-2");
        let mode = std::fs::metadata(d.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "results folders are private");
        let committed = d.commit(&serde_json::json!({})).unwrap();
        assert!(committed.join("summary.json").is_file());
        assert!(std::fs::symlink_metadata(&planted).unwrap().is_symlink());
    }

    #[test]
    fn parallel_runs_get_distinct_folders_and_all_commit() {
        let root = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let d = ResultsDir::create(root.path(), "ping", "host").unwrap();
                        d.commit(&serde_json::json!({})).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let unique: std::collections::BTreeSet<_> = paths.iter().collect();
        assert_eq!(unique.len(), 8);
        assert!(paths.iter().all(|p| p.join("summary.json").is_file()));
    }
}
