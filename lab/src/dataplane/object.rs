//! The compiled BPF objects, embedded at build time (`lab/build.rs`).

use crate::domain::Build;

macro_rules! object {
    ($name:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".bpf.o"))
    };
}

/// The object file of a build; `test_iv`: the test build that takes a
/// fixed IV (crypto builds only; `None` for the others).
pub(crate) fn bytes(build: Build, test_iv: bool) -> Option<&'static [u8]> {
    Some(match (build, test_iv) {
        (Build::Crypto, false) => object!("crypto"),
        (Build::CryptoInPlace, false) => object!("crypto_inplace"),
        (Build::Esp, false) => object!("esp"),
        (Build::EspInPlace, false) => object!("esp_inplace"),
        (Build::Copy, false) => object!("copy"),
        (Build::Noop, false) => object!("noop"),
        (Build::Crypto, true) => object!("crypto_testiv"),
        (Build::CryptoInPlace, true) => object!("crypto_inplace_testiv"),
        (Build::Esp, true) => object!("esp_testiv"),
        (Build::EspInPlace, true) => object!("esp_inplace_testiv"),
        (Build::Copy | Build::Noop, true) => return None,
    })
}
