//! Capability probe: which cipher and AES driver names
//! `bpf_crypto_ctx_create` accepts on the running kernel, with which errno
//! the others fail, and which implementation the kernel resolved the AES
//! names to.

use crate::dataplane::{DataPlane, DataPlaneError, TypeProbeProg, errno_name};
use crate::domain::{Build, Mode};
use crate::job::probe::{ProbeEntry, ProbeReport, Resolved, TypeEntry};
use crate::sys::proc_crypto::{self, Algorithm, BPF_CRYPTO_AES};

/// Cipher names probed by default.
pub(crate) const DEFAULT_CIPHERS: &[&str] = &[
    "cbc(aes)",
    "ecb(aes)",
    "ctr(aes)",
    "xts(aes)",
    "rfc3686(ctr(aes))",
    "gcm(aes)",
    "chacha20",
    "cbc(sm4)",
    // The AES drivers by name, so the list shows which ones the bench's
    // driver dimension can use on this kernel.
    "ecb(aes-generic)",
    "cbc(aes-generic)",
    "ecb(aes-fixed-time)",
    "cbc(aes-fixed-time)",
    "ecb(aes-aesni)",
    "cbc(aes-aesni)",
    // Kernels 7.0+ replaced the three above by the AES library's wrapper.
    "ecb(aes-lib)",
    "cbc(aes-lib)",
];

/// Key length used when probing a cipher name.
fn probe_key_len(cipher: &str) -> usize {
    if cipher.starts_with("xts(") || cipher.contains("chacha") {
        32
    } else {
        16
    }
}

/// Loads the data plane and tries each cipher name with the provisioning program.
pub(crate) fn probe(ciphers: &[String]) -> Result<ProbeReport, DataPlaneError> {
    // The raw build's provisioning program takes any algorithm name.
    let dp = DataPlane::load(Build::of(Mode::default(), false))?;
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
    // The contexts made above instantiated the templates the kernel picked.
    let resolved = resolved(&proc_crypto::read());
    Ok(ProbeReport {
        entries,
        resolved,
        types: types()?,
    })
}

/// The bpf_crypto types beyond the data planes' `skcipher`, each with an
/// algorithm it would take: (type, algorithm, AEAD tag length).
const TYPES: [(&str, &str, u32); 2] = [("skcipher", "cbc(aes)", 0), ("aead", "gcm(aes)", 16)];

/// Which of [`TYPES`] the kernel registers: `ENOENT` is "no such type".
fn types() -> Result<Vec<TypeEntry>, DataPlaneError> {
    let probe = TypeProbeProg::load()?;
    TYPES
        .iter()
        .map(|&(name, algo, authsize)| {
            let answer = probe.try_type(name, algo, authsize)?;
            Ok(TypeEntry {
                name: name.into(),
                algo: algo.into(),
                registered: answer != Err(libc::ENOENT),
                error: answer.err().map(errno_name),
            })
        })
        .collect()
}

/// The implementations the kernel resolved bpf_crypto's AES names to.
fn resolved(algs: &[Algorithm]) -> Vec<Resolved> {
    BPF_CRYPTO_AES
        .iter()
        .filter_map(|(name, kind)| proc_crypto::resolved(algs, name, kind))
        .map(|a| Resolved {
            name: a.name.clone(),
            driver: a.driver.clone(),
            kind: a.kind.clone(),
            priority: a.priority,
        })
        .collect()
}
