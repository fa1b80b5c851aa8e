//! Reading a developer's files (`--kernel-image`, `--config`, the module
//! files under `--modules`): regular files only, and only up to a bound.
//! `/dev/zero` would otherwise be read until the OOM killer fires and a
//! FIFO would block `open()` for ever, deaf to Ctrl-C.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use thiserror::Error;

use super::error::KernelError;

/// Largest kernel image read: a bzImage is 10-20 MB, an uncompressed
/// vmlinux with debug info a few hundred MB.
pub(crate) const MAX_IMAGE_BYTES: u64 = 512 << 20;
/// Largest kernel config read (a full `.config` is about 300 kB).
pub(crate) const MAX_CONFIG_BYTES: u64 = 4 << 20;
/// Largest module file (or `modules.builtin`) read; the biggest in-tree
/// modules are a few MB, 100 MB or so with debug info.
pub(crate) const MAX_MODULE_BYTES: u64 = 256 << 20;

/// The options that name a developer's files, for messages.
pub(crate) const IMAGE_OPTION: &str = "--kernel-image";
/// See [`IMAGE_OPTION`].
pub(crate) const MODULES_OPTION: &str = "--modules";
/// See [`IMAGE_OPTION`].
pub(crate) const CONFIG_OPTION: &str = "--config";

/// Why a file is not read.
#[derive(Debug, Error)]
pub(crate) enum InputError {
    /// A folder where a file is expected.
    #[error("is a directory, not a file")]
    Directory,
    /// A FIFO, device or socket: it could block or never end.
    #[error("is {0}, not a regular file")]
    NotRegular(&'static str),
    /// Larger than the bound for its kind.
    #[error("is {size} bytes, more than the {limit} bytes the lab reads")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// It cannot be opened or read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What is wrong with the file or folder `path` given as `option`.
pub(crate) fn image_error(
    option: &'static str,
    path: &Path,
    message: impl Into<String>,
) -> KernelError {
    KernelError::Image {
        option,
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A file given as `option` that [`read`] or [`check`] refused.
pub(crate) fn input_error(option: &'static str, path: &Path, e: InputError) -> KernelError {
    let message = match e {
        InputError::Io(e) => format!("cannot read it: {e}"),
        other => other.to_string(),
    };
    image_error(option, path, message)
}

/// Fails unless `meta` is a regular file of at most `limit` bytes.
fn check_meta(meta: &Metadata, limit: u64) -> Result<(), InputError> {
    let ft = meta.file_type();
    let kind = if ft.is_file() {
        None
    } else if ft.is_dir() {
        return Err(InputError::Directory);
    } else if ft.is_fifo() {
        Some("a FIFO")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else if ft.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    };
    if let Some(kind) = kind {
        return Err(InputError::NotRegular(kind));
    }
    if meta.len() > limit {
        return Err(InputError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    Ok(())
}

/// Checks, without opening it, that `path` (symlinks followed) is a
/// regular file of at most `limit` bytes.
pub(crate) fn check(path: &Path, limit: u64) -> Result<(), InputError> {
    check_meta(&std::fs::metadata(path)?, limit)
}

/// Opens `path` for reading after [`check`], without blocking on a FIFO
/// swapped in meanwhile (`O_NONBLOCK`), and checks the open file again.
fn open(path: &Path, limit: u64) -> Result<File, InputError> {
    check(path, limit)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    check_meta(&file.metadata()?, limit)?;
    Ok(file)
}

/// Reads the regular file `path` whole, refusing anything else and files
/// over `limit` bytes (also one that grows past it while read).
pub(crate) fn read(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let file = open(path, limit)?;
    let size = file.metadata()?.len();
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// [`read`] as UTF-8 text (invalid bytes replaced: configs are ASCII).
pub(crate) fn read_text(path: &Path, limit: u64) -> Result<String, InputError> {
    Ok(String::from_utf8_lossy(&read(path, limit)?).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = read(&fifo, 10).unwrap_err();
        assert!(matches!(err, InputError::NotRegular("a FIFO")), "{err}");
        let err = read(Path::new("/dev/zero"), 10).unwrap_err();
        assert_eq!(err.to_string(), "is a character device, not a regular file");
        assert!(matches!(read(d.path(), 10), Err(InputError::Directory)));
        assert!(matches!(
            read(&d.path().join("none"), 10),
            Err(InputError::Io(_))
        ));
    }

    #[test]
    fn bounds_the_size() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, b"0123456789").unwrap();
        assert_eq!(read(&f, 10).unwrap(), b"0123456789");
        let err = read(&f, 9).unwrap_err().to_string();
        assert_eq!(err, "is 10 bytes, more than the 9 bytes the lab reads");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert_eq!(read_text(&link, 10).unwrap(), "0123456789");
    }
}
