//! Folders a `lab` process owns while it runs (a results folder being
//! written, a VM's work folder), and sweeping the ones a killed process
//! left behind. Ownership is an `flock` on the folder: the kernel drops it
//! when the owner exits, however it exits.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Folders younger than this are never swept: their owner may be between
/// creating and locking them.
const GRACE: Duration = Duration::from_secs(5);

/// A held claim on a folder; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub(crate) struct Claim {
    _dir: File,
}

/// Claims `dir` (which the caller just created).
pub(crate) fn claim(dir: &Path) -> std::io::Result<Claim> {
    let f = File::open(dir)?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Claim { _dir: f })
}

/// Whether nobody holds a claim on `dir`.
fn unclaimed(dir: &Path) -> bool {
    match File::open(dir) {
        // SAFETY: flock on a descriptor we own; closing it releases the lock.
        Ok(f) => unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 },
        Err(_) => false,
    }
}

fn old_enough(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age >= GRACE)
}

/// Removes the folders in `parent` whose name starts with `prefix` and that
/// no process claims (their owner was killed). Returns what it removed.
pub(crate) fn sweep(parent: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        let ours = e.file_name().to_string_lossy().starts_with(prefix);
        if ours
            && e.file_type().is_ok_and(|t| t.is_dir())
            && old_enough(&p)
            && unclaimed(&p)
            && std::fs::remove_dir_all(&p).is_ok()
        {
            removed.push(p);
        }
    }
    removed
}

/// Whether process `pid` exists.
pub(crate) fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes the files in `parent` named `<prefix><pid>` whose process is gone.
pub(crate) fn sweep_pid_files(parent: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let p = e.path();
        if !alive(pid) && old_enough(&p) && std::fs::remove_file(&p).is_ok() {
            removed.push(p);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(p: &Path) {
        let old = std::time::SystemTime::now() - Duration::from_secs(60);
        let f = File::open(p).unwrap();
        f.set_modified(old).unwrap();
    }

    #[test]
    fn claimed_folders_stay_and_orphans_go() {
        let root = tempfile::tempdir().unwrap();
        let (held, orphan, young, other) = (
            root.path().join("x-held"),
            root.path().join("x-orphan"),
            root.path().join("x-young"),
            root.path().join("y-orphan"),
        );
        for d in [&held, &orphan, &young, &other] {
            std::fs::create_dir(d).unwrap();
        }
        let claim = claim(&held).unwrap();
        assert!(super::claim(&held).is_err(), "a second claim fails");
        for d in [&held, &orphan, &other] {
            age(d);
        }
        assert_eq!(sweep(root.path(), "x-"), vec![orphan.clone()]);
        assert!(held.exists() && young.exists() && other.exists());
        drop(claim);
        assert_eq!(sweep(root.path(), "x-"), vec![held]);
    }

    #[test]
    fn files_of_dead_processes_go() {
        let root = tempfile::tempdir().unwrap();
        let mine = root.path().join(format!(".f-{}", std::process::id()));
        let dead = root.path().join(".f-4194304"); // above pid_max
        for f in [&mine, &dead] {
            std::fs::write(f, b"x").unwrap();
            age(f);
        }
        assert_eq!(sweep_pid_files(root.path(), ".f-"), vec![dead]);
        assert!(mine.exists());
    }
}
