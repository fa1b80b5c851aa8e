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

/// The embedded object of a build as shipped (its name in
/// `bpf_objects::BPF_OBJECTS` is `build.as_str()`).
pub(crate) fn plain(build: Build) -> &'static [u8] {
    bytes(build, Flavor::Plain).expect("every build has a plain object")
}

/// The bench's cipher-only probe (`ebpf/cipher_only.bpf.c`): loaded on
/// the `keys` and `scratch` maps of a loaded raw build.
pub(crate) fn cipher_only() -> &'static [u8] {
    object!("cipher_only")
}

/// `lab probe`'s type probe (`ebpf/type_probe.bpf.c`).
pub(crate) fn type_probe() -> &'static [u8] {
    object!("type_probe")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::bpf_objects::BPF_OBJECTS;

    /// A build's object name is `Build::as_str` in the shared table, and
    /// the embedded object is the one compiled under that name.
    #[test]
    fn plain_objects_are_the_tables_builds() {
        for b in Build::ALL {
            assert!(
                BPF_OBJECTS.iter().any(|(name, _, _)| *name == b.as_str()),
                "{} is not in the table",
                b.as_str()
            );
            let file = format!("{}/{}.bpf.o", env!("OUT_DIR"), b.as_str());
            assert_eq!(plain(b), std::fs::read(&file).unwrap(), "{file}");
        }
    }
}
