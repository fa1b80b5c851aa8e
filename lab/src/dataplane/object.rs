//! The compiled BPF objects, embedded at build time.

use crate::domain::Build;

/// The object file of a build.
pub(crate) fn bytes(build: Build) -> &'static [u8] {
    match build {
        Build::Crypto => include_bytes!(concat!(env!("OUT_DIR"), "/crypto_dp.crypto.bpf.o")),
        Build::Copy => include_bytes!(concat!(env!("OUT_DIR"), "/crypto_dp.copy.bpf.o")),
        Build::Noop => include_bytes!(concat!(env!("OUT_DIR"), "/crypto_dp.noop.bpf.o")),
    }
}
