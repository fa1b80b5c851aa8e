//! A job the kernel under test cannot run, found out while running it
//! (e.g. a scenario that needs the kernel's ESP on a kernel without it):
//! the run ends as `unsupported` with this reason, not as a failure.

/// The reason the kernel cannot run the job.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Unsupported(pub(crate) String);
