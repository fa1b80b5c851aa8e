//! How an object compiled by `lab/build.rs` is embedded, and which test
//! builds an object may have: shared by the wire formats' builds and the
//! others (copy, noop, the cipher-only probe).

/// The bytes of the object `$name` (its name in [`BPF_OBJECTS`]).
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

/// Every object `lab/build.rs` compiled: (name, source under `ebpf/`
/// without `.bpf.c`, defines), as the sources' `// lab-object:` lines
/// declare them.
pub(crate) const BPF_OBJECTS: &[(&str, &str, &[&str])] =
    include!(concat!(env!("OUT_DIR"), "/bpf_objects_table.rs"));
