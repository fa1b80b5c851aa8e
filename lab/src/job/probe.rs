//! The capability probe's findings: which cipher names
//! `bpf_crypto_ctx_create` accepts, and the errno of the others.

use serde::{Deserialize, Serialize};

/// One probed cipher.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ProbeEntry {
    /// Kernel crypto name.
    pub(crate) cipher: String,
    /// Whether a context could be created.
    pub(crate) ok: bool,
    /// Positive errno when it could not.
    pub(crate) errno: Option<i32>,
    /// Errno name and description.
    pub(crate) error: Option<String>,
}

/// The probe's findings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct ProbeReport {
    /// One entry per cipher, in the order asked.
    pub(crate) entries: Vec<ProbeEntry>,
}
