//! Writing a report into a folder the user named, which may hold downloaded
//! files (a CI artifact): a symlink planted at the report's name must not
//! send the write, made as root, to the file it points at. The bytes go to
//! a new file next to it (`O_CREAT|O_EXCL|O_NOFOLLOW`), are synced, and the
//! file is renamed over the name: rename replaces a symlink itself.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context;

/// Tries at a free temporary name before giving up.
const ATTEMPTS: u32 = 64;

/// Makes temporary names of one process distinct.
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Replaces `path` with a regular file holding `bytes`; whatever was at
/// `path` (a file, a symlink) is replaced, never written through.
pub(crate) fn write(path: &Path, bytes: impl AsRef<[u8]>) -> anyhow::Result<()> {
    replace(path, bytes.as_ref()).with_context(|| format!("writing {}", path.display()))
}

/// [`write`] without the path in the error.
fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    for _ in 0..ATTEMPTS {
        let tmp = dir.join(format!(
            ".{}.{}-{}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp);
        match file {
            Ok(mut f) => {
                let done = f
                    .write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .and_then(|()| std::fs::rename(&tmp, path));
                if done.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                return done;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("no free temporary name in {}", dir.display()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_planted_symlink_is_replaced_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let out = d.path().join("report.md");
        symlink(&victim, &out).unwrap();
        replace(&out, b"new").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(std::fs::symlink_metadata(&out).unwrap().is_file());
        assert_eq!(std::fs::read(&out).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    }

    #[test]
    fn an_existing_file_is_replaced_and_a_dangling_link_too() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("a.json");
        std::fs::write(&out, b"old old old").unwrap();
        replace(&out, b"x").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"x");
        let dangling = d.path().join("b.md");
        let target = d.path().join("created-through-link");
        symlink(&target, &dangling).unwrap();
        replace(&dangling, b"y").unwrap();
        assert!(!target.exists(), "the link's target was created");
        assert!(std::fs::symlink_metadata(&dangling).unwrap().is_file());
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("sub");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("x"), b"1").unwrap();
        assert!(write(&out, b"z").is_err(), "a folder is not replaced");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
