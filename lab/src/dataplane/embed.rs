//! How an object compiled by `lab/build.rs` is embedded, and which test
//! builds an object may have: shared by the wire formats' builds and the
//! others (copy, noop, the cipher-only probe).

/// The bytes of the object `$name` (its name in `bpf_objects::BPF_OBJECTS`).
macro_rules! embedded {
    ($name:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".bpf.o"))
    };
}
pub(crate) use embedded;

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
