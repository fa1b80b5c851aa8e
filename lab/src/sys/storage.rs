//! Faults of the lab's own storage: a results file or capture that hit a
//! full, read-only or size-limited file system. They say nothing about the
//! kernel under test, so a run that meets one is a harness problem (exit 2,
//! nothing kept), never a failure of the data plane.

/// Whether `e`'s chain holds an I/O error of the lab's own storage
/// (`EFBIG`, `ENOSPC`, `EDQUOT`, `EROFS`).
pub(crate) fn is_storage_fault(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(storage_errno)
}

/// An I/O error with a storage errno, also when wrapped in another I/O
/// error (`io::Error::other(io_error)` hides it from `source()`).
fn storage_errno(io: &std::io::Error) -> bool {
    match io.raw_os_error() {
        Some(code) => matches!(
            code,
            libc::EFBIG | libc::ENOSPC | libc::EDQUOT | libc::EROFS
        ),
        None => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<std::io::Error>())
            .is_some_and(storage_errno),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn storage_errors_are_found_through_wrappers_and_others_are_not() {
        let efbig = std::io::Error::from_raw_os_error(libc::EFBIG);
        let wrapped: anyhow::Error = Err::<(), _>(std::io::Error::other(efbig))
            .context("wire capture failed")
            .unwrap_err();
        assert!(is_storage_fault(&wrapped));
        let enospc = anyhow::Error::from(std::io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(is_storage_fault(&enospc.context("writing summary.json")));
        let other = anyhow::Error::from(std::io::Error::from_raw_os_error(libc::EOPNOTSUPP));
        assert!(!is_storage_fault(&other));
        assert!(!is_storage_fault(&anyhow::anyhow!("verifier refused")));
    }
}
