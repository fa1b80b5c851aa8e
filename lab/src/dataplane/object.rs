//! The compiled BPF objects, embedded at build time (`lab/build.rs`).

use crate::domain::Build;

macro_rules! object {
    ($name:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".bpf.o"))
    };
}

/// Which object of a build: the real one or a test build of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// The data plane as shipped.
    Plain,
    /// Takes a fixed IV before load (crypto builds only).
    TestIv,
    /// One extra copy of the payload per packet, a known regression
    /// (copy and raw crypto builds only).
    ExtraCopy,
}

/// The object file of a build in a flavor; `None` when that build has no
/// such test object.
pub(crate) fn bytes(build: Build, flavor: Flavor) -> Option<&'static [u8]> {
    Some(match (build, flavor) {
        (Build::Crypto, Flavor::Plain) => object!("crypto"),
        (Build::CryptoInPlace, Flavor::Plain) => object!("crypto_inplace"),
        (Build::Esp, Flavor::Plain) => object!("esp"),
        (Build::EspInPlace, Flavor::Plain) => object!("esp_inplace"),
        (Build::Copy, Flavor::Plain) => object!("copy"),
        (Build::Noop, Flavor::Plain) => object!("noop"),
        (Build::Crypto, Flavor::TestIv) => object!("crypto_testiv"),
        (Build::CryptoInPlace, Flavor::TestIv) => object!("crypto_inplace_testiv"),
        (Build::Esp, Flavor::TestIv) => object!("esp_testiv"),
        (Build::EspInPlace, Flavor::TestIv) => object!("esp_inplace_testiv"),
        (Build::Copy, Flavor::ExtraCopy) => object!("copy_extracopy"),
        (Build::Crypto, Flavor::ExtraCopy) => object!("crypto_extracopy"),
        (Build::CryptoInPlace, Flavor::ExtraCopy) => object!("crypto_inplace_extracopy"),
        (Build::Copy | Build::Noop, Flavor::TestIv)
        | (Build::Noop | Build::Esp | Build::EspInPlace, Flavor::ExtraCopy) => return None,
    })
}
