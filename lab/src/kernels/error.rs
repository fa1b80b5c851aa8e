//! Typed errors of the kernel catalog, lock file, fetch and cache.

use std::path::PathBuf;
use thiserror::Error;

use crate::domain::Unsupported;

/// Everything that can go wrong with catalog kernels; callers match on variants
/// (e.g. [`KernelError::NotCached`]) and add context with `anyhow` at the edges.
#[derive(Debug, Error)]
pub enum KernelError {
    /// A file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was attempted (e.g. "reading").
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `kernels.yaml` is not valid (YAML errors carry line/column in `message`).
    #[error("invalid kernel catalog {}: {message}", path.display())]
    Catalog {
        /// The catalog file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `kernels.lock` is not valid JSON of the expected shape.
    #[error("invalid kernel lock file {}: {message}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A kernel name not present in the catalog.
    #[error("unknown kernel `{name}`; the catalog has: {}", known.join(", "))]
    UnknownKernel {
        /// The requested name.
        name: String,
        /// Names in the catalog.
        known: Vec<String>,
    },
    /// The kernel has not been fetched (or the cache does not match the lock).
    #[error("kernel `{name}` is not in the cache; run `lab kernels fetch {name}`{}",
        detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    NotCached {
        /// Catalog name.
        name: String,
        /// Why the cached copy is not usable, if something was there.
        detail: Option<String>,
    },
    /// A file of the extracted kernel no longer matches its checksum.
    #[error("kernel cache for {name} is damaged ({detail}): run lab kernels fetch --force {name}")]
    Damaged {
        /// Catalog name.
        name: String,
        /// Which file, and how.
        detail: String,
    },
    /// No Debian mirror could be determined for an archive.
    #[error(
        "no apt mirror for the {archive} archive: none of the machine's apt sources lists suite \
         `{suite}`; set {env} or `apt.{key}` in kernels/kernels.yaml"
    )]
    NoMirror {
        /// `debian` or `debian-security`.
        archive: &'static str,
        /// The suite that was looked for.
        suite: String,
        /// The override environment variable.
        env: &'static str,
        /// The override key under `apt:` in the catalog.
        key: &'static str,
    },
    /// An apt command failed.
    #[error("`{command}` failed ({status}):\n{output}")]
    Apt {
        /// The command line.
        command: String,
        /// Exit status description.
        status: String,
        /// Its captured output (tail).
        output: String,
    },
    /// No package in the suite matches the catalog pattern.
    #[error("kernel `{name}`: no package matching `{pattern}` (abi `{abi}`) in suite `{suite}`")]
    NoCandidate {
        /// Catalog name.
        name: String,
        /// The package pattern.
        pattern: String,
        /// The abi glob.
        abi: String,
        /// The suite searched.
        suite: String,
    },
    /// A companion package of the chosen version is missing.
    #[error("kernel `{name}`: package `{package}` version {version} is not in suite `{suite}`")]
    MissingPackage {
        /// Catalog name.
        name: String,
        /// Package name.
        package: String,
        /// Wanted version.
        version: String,
        /// Suite searched.
        suite: String,
    },
    /// A locked package version can no longer be downloaded from the archive.
    #[error(
        "kernel `{name}`: locked package {package}={version} is no longer available from \
         `{suite}`; run `lab kernels fetch --update {name}` to move the lock to a newer version"
    )]
    VersionGone {
        /// Catalog name.
        name: String,
        /// Package name.
        package: String,
        /// Locked version.
        version: String,
        /// Suite.
        suite: String,
    },
    /// A downloaded file does not have the expected sha256.
    #[error(
        "sha256 mismatch for {}: expected {expected}, got {actual} (the file was removed; \
         if the archive legitimately changed, run `lab kernels fetch --update`)",
        path.display()
    )]
    ChecksumMismatch {
        /// The offending file (already deleted).
        path: PathBuf,
        /// Expected digest (lock or archive index).
        expected: String,
        /// Digest of the downloaded bytes.
        actual: String,
    },
    /// The extracted packages do not have the expected layout.
    #[error("kernel `{name}`: unexpected package layout: {message}")]
    Layout {
        /// Catalog name.
        name: String,
        /// What is missing.
        message: String,
    },
    /// A .deb archive could not be read.
    #[error("reading package {}: {message}", path.display())]
    Deb {
        /// The .deb file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A developer's kernel image, its modules or its config cannot be used.
    #[error("{option} {}: {message}", path.display())]
    Image {
        /// The option that named it: `--kernel-image`, `--modules`, `--config`.
        option: &'static str,
        /// The file or folder at fault.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Ctrl-C or SIGTERM arrived while the cache was being written; what
    /// was there before is left as it was.
    #[error("interrupted")]
    Interrupted,
    /// A developer's kernel lacks what the lab needs (its config, or its
    /// release for bpf_crypto).
    #[error(
        "kernel `{name}` ({release}, config {}) lacks what the lab needs: {}",
        config.display(),
        missing.join("; ")
    )]
    MissingConfig {
        /// Kernel name (`local` for `--kernel-image`).
        name: String,
        /// Its release.
        release: String,
        /// The config file checked.
        config: PathBuf,
        /// Each missing option, with what it is for.
        missing: Vec<String>,
    },
    /// The kernel cannot run bpf_crypto at all (exit 3, not 2).
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
}

impl From<crate::sys::signals::Interrupted> for KernelError {
    fn from(_: crate::sys::signals::Interrupted) -> Self {
        KernelError::Interrupted
    }
}

impl KernelError {
    /// Shorthand for [`KernelError::Io`].
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        KernelError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
