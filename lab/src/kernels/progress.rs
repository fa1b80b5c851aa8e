//! The progress lines of `lab kernels fetch`, on stderr.

/// One progress line.
pub(crate) fn progress(msg: impl AsRef<str>) {
    eprintln!("{}", msg.as_ref());
}

/// Bytes as megabytes.
pub(crate) fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
