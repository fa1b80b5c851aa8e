//! Capability probe: which cipher names `bpf_crypto_ctx_create` accepts on
//! the running kernel, and with which errno the others fail.

use serde::{Deserialize, Serialize};

use crate::dataplane::{DataPlane, DataPlaneError, Variant, errno_name};

/// Cipher names probed by default.
pub const DEFAULT_CIPHERS: &[&str] = &[
    "cbc(aes)",
    "ecb(aes)",
    "ctr(aes)",
    "xts(aes)",
    "rfc3686(ctr(aes))",
    "gcm(aes)",
    "chacha20",
    "cbc(sm4)",
];

/// One probed cipher.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProbeEntry {
    /// Kernel crypto name.
    pub cipher: String,
    /// Whether a context could be created.
    pub ok: bool,
    /// Positive errno when it could not.
    pub errno: Option<i32>,
    /// Errno name and description.
    pub error: Option<String>,
}

/// The probe's findings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProbeReport {
    /// One entry per cipher, in the order asked.
    pub entries: Vec<ProbeEntry>,
}

impl ProbeReport {
    /// Compact text: `cbc(aes) ok, ctr(aes) EINVAL, …`.
    pub fn brief(&self) -> String {
        self.entries
            .iter()
            .map(|e| {
                let v = match e.errno {
                    None => "ok".to_string(),
                    Some(n) => format!("{:?}", nix::errno::Errno::from_raw(n)),
                };
                format!("{} {v}", e.cipher)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Key length used when probing a cipher name.
fn probe_key_len(cipher: &str) -> usize {
    if cipher.starts_with("xts(") || cipher.contains("chacha") {
        32
    } else {
        16
    }
}

/// Loads the data plane and tries each cipher name with the provisioning program.
pub fn probe(ciphers: &[String]) -> Result<ProbeReport, DataPlaneError> {
    let dp = DataPlane::load(Variant::Crypto)?;
    let mut entries = Vec::new();
    for c in ciphers {
        let key = vec![0x42u8; probe_key_len(c)];
        let entry = match dp.provision_raw(c, &key, 16) {
            Ok(_) => ProbeEntry {
                cipher: c.clone(),
                ok: true,
                errno: None,
                error: None,
            },
            Err(DataPlaneError::Crypto { errno, .. }) => ProbeEntry {
                cipher: c.clone(),
                ok: false,
                errno: Some(errno),
                error: Some(errno_name(errno)),
            },
            Err(e) => return Err(e),
        };
        entries.push(entry);
    }
    Ok(ProbeReport { entries })
}
