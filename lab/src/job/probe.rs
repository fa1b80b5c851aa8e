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

/// The implementation the kernel resolved a name to, as `/proc/crypto`
/// lists it after the probe created contexts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Resolved {
    /// The name asked for (`cbc(aes)`, or `aes`, the block cipher beneath).
    pub(crate) name: String,
    /// The implementation (`cbc(ecb(aes-generic))`, `aes-lib`).
    pub(crate) driver: String,
    /// Its type (`lskcipher`: what bpf_crypto's skcipher type uses).
    pub(crate) kind: String,
    /// Its priority, the highest of that type and name.
    pub(crate) priority: i64,
}

/// The probe's findings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct ProbeReport {
    /// One entry per cipher, in the order asked.
    pub(crate) entries: Vec<ProbeEntry>,
    /// What the kernel resolved bpf_crypto's AES names to.
    #[serde(default)]
    pub(crate) resolved: Vec<Resolved>,
    /// The bpf_crypto types asked about, registered or not.
    #[serde(default)]
    pub(crate) types: Vec<TypeEntry>,
}

/// One bpf_crypto type and what the kernel answered for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct TypeEntry {
    /// The type (`skcipher`, `aead`).
    pub(crate) name: String,
    /// The algorithm tried with it (`cbc(aes)`, `gcm(aes)`).
    pub(crate) algo: String,
    /// Whether the kernel registers the type (not `ENOENT`).
    pub(crate) registered: bool,
    /// The error of creating the context, when it failed.
    pub(crate) error: Option<String>,
}
