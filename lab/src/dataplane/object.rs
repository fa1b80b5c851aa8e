//! The compiled BPF objects, embedded at build time.

use serde::{Deserialize, Serialize};

/// A build of the data plane from `ebpf/crypto_dp.bpf.c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// Encrypt on egress, decrypt on ingress.
    Crypto,
    /// Bounce the payload through the scratch buffers, no crypto.
    Copy,
    /// Attach only.
    Noop,
}

impl Variant {
    /// The object file bytes.
    pub fn object(self) -> &'static [u8] {
        match self {
            Variant::Crypto => include_bytes!(concat!(env!("OUT_DIR"), "/crypto_dp.crypto.bpf.o")),
            Variant::Copy => include_bytes!(concat!(env!("OUT_DIR"), "/crypto_dp.copy.bpf.o")),
            Variant::Noop => include_bytes!(concat!(env!("OUT_DIR"), "/crypto_dp.noop.bpf.o")),
        }
    }

    /// Short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Crypto => "crypto",
            Variant::Copy => "copy",
            Variant::Noop => "noop",
        }
    }
}
