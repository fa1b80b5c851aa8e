//! What every wire format answers: the one interface the scenario, the
//! bench, the fuzzer and the oracle ask instead of branching on a format's
//! name.

use crate::dataplane::embed::Flavor;
use crate::dataplane::layout::Layout;
use crate::dataplane::{DataPlane, DataPlaneError};
use crate::domain::{Algorithm, Direction, KernelStack, Mode, Stack};

/// One bench variant of a format: a cipher, bounced or in place, and its
/// name in files and reports (`bench.yaml`'s `variants:`, `bench.json`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Variant {
    /// The cipher.
    pub(crate) algorithm: Algorithm,
    /// The in-place build.
    pub(crate) in_place: bool,
    /// Its name.
    pub(crate) name: &'static str,
    /// Its name where a dozen share one chart's width (`cbc ip`).
    pub(crate) short: &'static str,
    /// Its colour in every figure (red, green, blue).
    pub(crate) rgb: (u8, u8, u8),
}

/// What keys one end: the cipher and its key, and for a format with
/// security associations the authentication key and the SPIs. A data plane
/// that talks to itself (the bench, the fuzzer) receives what it sends:
/// both SPIs are one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keys<'a> {
    /// The cipher.
    pub(crate) algorithm: Algorithm,
    /// Its key (16 or 32 bytes).
    pub(crate) key: &'a [u8],
    /// The authentication key, for a format that authenticates.
    pub(crate) auth_key: &'a [u8],
    /// The SPI this end accepts.
    pub(crate) spi_in: u32,
    /// The SPI this end sends with.
    pub(crate) spi_out: u32,
    /// A named AES driver (`aes-generic`) instead of the kernel's pick,
    /// where the format can name one.
    pub(crate) driver: Option<&'a str>,
}

impl<'a> Keys<'a> {
    /// The cipher and its keys, no SPIs (0) and the kernel's AES driver.
    pub(crate) fn new(algorithm: Algorithm, key: &'a [u8], auth_key: &'a [u8]) -> Self {
        Self {
            algorithm,
            key,
            auth_key,
            spi_in: 0,
            spi_out: 0,
            driver: None,
        }
    }

    /// With these SPIs: accepted, sent with.
    pub(crate) fn spis(self, spi_in: u32, spi_out: u32) -> Self {
        Self {
            spi_in,
            spi_out,
            ..self
        }
    }

    /// With a named AES driver.
    pub(crate) fn driver(self, driver: Option<&'a str>) -> Self {
        Self { driver, ..self }
    }
}

/// Which way a security association protects traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SaDir {
    /// Verified and decrypted on ingress.
    In,
    /// Encrypted and authenticated on egress.
    Out,
}

/// The names a format's ABI gives its structs (`docs/dataplane-abi.md`),
/// and the layouts of its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Abi {
    /// The `provision` program's context (its BTF name; also how an
    /// object's format is told).
    pub(crate) provision: &'static str,
    /// The counter struct at the start of the `stats` value.
    pub(crate) stats: &'static str,
    /// How many counters (`abi::COUNTER_NAMES`, from the first).
    pub(crate) counters: usize,
    /// Whether the bench's kfunc-alone probe runs on its `keys` and
    /// `scratch` maps.
    pub(crate) cipher_probe: bool,
    /// The Rust mirrors of the structs of its own ABI header, the
    /// provisioning context first (none for one built on the shared ABI
    /// alone); compared with the objects' BTF.
    pub(crate) layouts: fn() -> Vec<Layout>,
}

/// What a format without security associations lacks.
const NO_SAS: &str = "security associations (the format keys without them)";

/// A wire format of the lab's data plane. One `&'static dyn WireFormat`
/// per format (`format::of`); nothing outside `dataplane::format` branches
/// on which one it is.
pub(crate) trait WireFormat: Sync {
    /// Its name in files (`cipher.mode`), also its serialized name.
    fn name(&self) -> &'static str;

    /// Its handle in plans and results.
    fn mode(&self) -> Mode {
        Mode::named(self.name())
    }

    /// The ciphers it runs, in the order the fuzzer takes them.
    fn algorithms(&self) -> &'static [Algorithm];

    /// Its bench variants, in report order.
    fn variants(&self) -> &'static [Variant];

    /// The name of its programs' cipher in the fuzzer's findings
    /// (`cbc(aes)`, `esp cbc(aes)`).
    fn cipher_label(&self, algorithm: Algorithm) -> String;

    /// The object name (`embed::BPF_OBJECTS`) of its build, bounced
    /// or in place.
    fn object_name(&self, in_place: bool) -> &'static str;

    /// The embedded object of its build in `flavor`, if it has that one.
    fn object(&self, in_place: bool, flavor: Flavor) -> Option<&'static [u8]>;

    /// Whether it has an in-place build beside the bounced one (and with
    /// it the fixed-IV twins the fuzzer compares byte for byte).
    fn has_in_place(&self) -> bool;

    /// What a user's object of this format must have, beyond the programs
    /// every data plane has (`dataplane::contract`).
    fn abi(&self) -> Abi;

    /// The most bytes it adds to an IPv4 packet on the wire: the veth MTU
    /// must hold the inner MTU plus this.
    fn overhead(&self) -> u32;

    /// The frame length egress leaves for an IPv4 packet of `size` bytes.
    fn egress_frame_len(&self, algorithm: Algorithm, size: u32) -> usize;

    /// Keys a loaded data plane of this format: the one function the
    /// scenario, the bench and the fuzzer call (a format without SAs also
    /// rotates its key with it, in place).
    fn provision(&self, dp: &DataPlane, keys: &Keys) -> Result<(), DataPlaneError>;

    /// Where a packet's IV sits in its IPv4 payload under `algorithm`, and
    /// the IP protocol of the packets that carry one (`None`: every
    /// packet); `None` when it has no IV (`unique_ivs` reads it).
    fn iv_at(&self, algorithm: Algorithm) -> Option<(usize, Option<u8>)>;

    /// The kernel's own stack that speaks it, which `stack` steps hand an
    /// end to as the data plane's independent peer.
    fn kernel_peer(&self) -> Option<Stack> {
        None
    }

    /// Whether its data plane calls the bpf_crypto kfuncs: a kernel
    /// without them cannot run it. One that does not (its cipher in BPF C)
    /// runs wherever the verifier accepts it, and a refusal is the
    /// kernel's limit, not a failure.
    fn needs_bpf_crypto(&self) -> bool {
        true
    }

    /// Whether a handshake in userspace keys it (the scenario's
    /// `wireguard:` section), not the scenario's key.
    fn handshake(&self) -> bool {
        false
    }

    /// Whether it is keyed by security associations, one SPI per
    /// direction and key generation: a rotation is then make before break
    /// ([`Self::add_sa`] and [`Self::del_sa`]); without, [`Self::provision`]
    /// replaces the key in place.
    fn has_sas(&self) -> bool {
        false
    }

    /// Adds a security association (formats with SAs): inbound under
    /// `keys.spi_in`, or outbound under `keys.spi_out`, which egress then
    /// uses. A format without SAs refuses.
    fn add_sa(&self, _dp: &DataPlane, _dir: SaDir, _keys: &Keys) -> Result<(), DataPlaneError> {
        Err(DataPlaneError::Missing(NO_SAS))
    }

    /// Removes a security association (formats with SAs); a format without
    /// SAs refuses.
    fn del_sa(&self, _dp: &DataPlane, _dir: SaDir, _spi: u32) -> Result<(), DataPlaneError> {
        Err(DataPlaneError::Missing(NO_SAS))
    }

    /// Removes what keys a data plane besides its SAs: from then on both
    /// directions drop IPv4 traffic (fail closed) once its SAs are gone.
    fn clear(&self, dp: &DataPlane) -> Result<(), DataPlaneError>;

    /// The kfunc passes one packet costs in `dir`, each an encryption
    /// (`Egress`) or a decryption (`Ingress`) of about its payload: what
    /// bounds the program from below (the crypto-only figures of these).
    /// None for a cipher in BPF C (WireGuard's): it has no such limit.
    fn cipher_passes(&self, dir: Direction) -> &'static [Direction];

    /// Whether ingress takes a packet once (anti-replay): each ingress run
    /// needs a fresh packet from egress, whose counters then move too.
    fn ingress_once(&self) -> bool;

    /// Whether ingress may pass `frame` though no holder of the keys sent
    /// it (ARP; for a format without integrity, anything): the fuzzer's
    /// `forged` check fails on any other frame that ingress passes.
    fn passes_unauthenticated(&self, frame: &[u8]) -> bool;

    /// Whether egress rebuilds the IPv4 header and completes TCP and UDP
    /// checksums: a round trip gives those fields back valid, not equal.
    fn completes_checksums(&self) -> bool;

    /// What the bench's check of an egress output compares it with
    /// (`a reference AES`).
    fn reference_name(&self) -> &'static str;

    /// Checks a whole egress output frame `out` of the frame `input`: the
    /// IPv4 header kept but for what the format changes, and the payload
    /// opening with a reference implementation to the input's.
    fn check_egress(&self, keys: &Keys, input: &[u8], out: &[u8]) -> Result<(), String>;

    /// Under the fixed IV `iv`, egress's output `out` of `input` is exactly
    /// what a reference sender (RustCrypto) makes of the same packet.
    fn reference(&self, keys: &Keys, iv: [u8; 16], input: &[u8], out: &[u8]) -> Result<(), String>;

    /// The stream and sequence number of a captured IPv4 payload of
    /// `protocol` (ESP: SPI and sequence number; WireGuard: receiver index
    /// and counter), and what the format calls them; `None` for a packet
    /// without one (`esp_sequence` reads them).
    fn sequence(&self, _protocol: u8, _payload: &[u8]) -> Option<(u32, u64)> {
        None
    }

    /// What [`Self::sequence`]'s stream and number are called, and the
    /// first number a stream may carry.
    fn sequence_names(&self) -> (&'static str, &'static str, u64) {
        ("stream", "sequence", 0)
    }

    /// Whether a captured IPv4 payload of `protocol` carries a message
    /// (not a handshake or keepalive of the format's own): what the oracle
    /// reads.
    fn carries_message(&self, _protocol: u8, _payload: &[u8]) -> bool {
        true
    }

    /// The reference reading of a captured IPv4 payload of `protocol` with
    /// one key: the inner protocol and message, or `None` when it does not
    /// open (the oracle tries every key the scenario installed).
    fn open(&self, keys: &Keys, protocol: u8, payload: &[u8]) -> Option<(u8, Vec<u8>)>;

    /// Whether [`Self::provision`] keys its cipher with a named AES driver
    /// ([`Keys::driver`], `cbc(aes-generic)`) instead of the kernel's pick:
    /// the bench then measures its bounced builds once per driver of the
    /// bench file too.
    fn takes_aes_driver(&self) -> bool {
        false
    }

    /// What its data plane does beyond the raw format's unauthenticated
    /// `cbc(aes)`, the reference the bench's findings weigh every format
    /// against (`AES-CBC + AES-CMAC-96`); `None` for the reference itself.
    fn bench_adds(&self) -> Option<&'static str> {
        None
    }

    /// The kernel's stacks the bench's findings weigh its builds against
    /// over UDP: its own protocol in the kernel, and what a user would pick
    /// instead.
    fn bench_rivals(&self) -> &'static [KernelStack] {
        &[]
    }

    /// A target for its bounced egress program, reported by the bench's
    /// findings and never enforced: at a packet size, at most this many
    /// times the raw `cbc(aes)` egress program's time per packet.
    fn egress_target(&self) -> Option<(u32, f64)> {
        None
    }
}

impl std::fmt::Debug for dyn WireFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WireFormat({})", self.name())
    }
}

/// `Err` naming the first differing byte when `got` is not `want`.
pub(crate) fn differs(what: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let at = got.iter().zip(want).position(|(a, b)| a != b);
    Err(format!(
        "differs from {what}: {} and {} bytes, first difference at {at:?}",
        got.len(),
        want.len()
    ))
}
