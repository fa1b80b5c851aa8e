//! The data plane a user brings (`--dataplane PATH.bpf.o`, or `dataplane:`
//! in a scenario): the object's bytes, read once on the host, with its
//! path and digest. Plain data, so it crosses into a VM guest with the plan
//! (bytes as hex); what results keep is [`UserDataplane::named`], path and
//! SHA-256 only.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::baseline::hex;
use crate::domain::Mode;
use crate::kernels::input::{self, InputError};

/// Largest object the lab reads (shipped objects are under 100 KiB).
pub(crate) const MAX_OBJECT_BYTES: u64 = 64 << 20;

/// A user's BPF object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct UserDataplane {
    /// The path as given (the scenario's `dataplane:` is resolved against
    /// the scenario's folder).
    pub(crate) path: String,
    /// SHA-256 of the object, hex.
    pub(crate) sha256: String,
    /// Its wire format, once the ABI check found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) format: Option<Mode>,
    /// The object; empty where only the name is kept.
    #[serde(default, with = "hex", skip_serializing_if = "Vec::is_empty")]
    pub(crate) bytes: Vec<u8>,
}

impl UserDataplane {
    /// Reads `path`: a regular file of at most [`MAX_OBJECT_BYTES`].
    pub(crate) fn read(path: &Path) -> Result<Self, InputError> {
        let bytes = input::read(path, MAX_OBJECT_BYTES)?;
        Ok(Self {
            path: path.display().to_string(),
            sha256: hex::encode(&Sha256::digest(&bytes)),
            format: None,
            bytes,
        })
    }

    /// The object's name without its bytes (for summaries and reports).
    pub(crate) fn named(&self) -> Self {
        Self {
            bytes: Vec::new(),
            ..self.clone()
        }
    }
}
