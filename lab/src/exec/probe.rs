//! Capability probe: which cipher and AES driver names
//! `bpf_crypto_ctx_create` accepts on the running kernel, with which errno
//! the others fail, and which implementation the kernel resolved the AES
//! names to.

use crate::dataplane::{DataPlaneError, TypeProbeProg, errno_name};
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
fn probe_key_len(cipher: &str) -> u32 {
    if cipher.starts_with("xts(") || cipher.contains("chacha") {
        32
    } else {
        16
    }
}

/// The bpf_crypto type of every cipher name probed: the data planes'.
const CIPHER_TYPE: &str = "skcipher";

/// Asks bpf_crypto for a context of each cipher name (type `skcipher`),
/// then for each of [`TYPES`], through the type probe: no data plane is
/// loaded, so no wire format's build is needed.
pub(crate) fn probe(ciphers: &[String]) -> Result<ProbeReport, DataPlaneError> {
    let probe = TypeProbeProg::load()?;
    let entries = ciphers
        .iter()
        .map(|c| {
            let answer = probe.try_type(CIPHER_TYPE, c, probe_key_len(c), 0)?;
            Ok(ProbeEntry {
                cipher: c.clone(),
                ok: answer.is_ok(),
                errno: answer.err(),
                error: answer.err().map(errno_name),
            })
        })
        .collect::<Result<Vec<_>, DataPlaneError>>()?;
    // The contexts made above instantiated the templates the kernel picked.
    let resolved = resolved(&proc_crypto::read());
    Ok(ProbeReport {
        entries,
        resolved,
        types: types(&probe)?,
    })
}

/// The bpf_crypto types beyond the data planes' `skcipher`, each with an
/// algorithm it would take: (type, algorithm, AEAD tag length).
const TYPES: [(&str, &str, u32); 2] = [(CIPHER_TYPE, "cbc(aes)", 0), ("aead", "gcm(aes)", 16)];

/// Which of [`TYPES`] the kernel registers: `ENOENT` is "no such type".
fn types(probe: &TypeProbeProg) -> Result<Vec<TypeEntry>, DataPlaneError> {
    TYPES
        .iter()
        .map(|&(name, algo, authsize)| {
            let answer = probe.try_type(name, algo, 16, authsize)?;
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
