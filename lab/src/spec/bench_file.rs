//! Bench files (YAML v1) as written: the raw, located form that
//! [`super::bench`] validates into a bench plan.

use serde::Deserialize;
use serde_saphyr::Spanned;

/// A bench file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BenchFile {
    /// Format version; must be 1.
    pub(crate) version: Spanned<u32>,
    /// Short name, used in the run id.
    pub(crate) name: Spanned<String>,
    /// Free text shown in the report.
    #[serde(default)]
    pub(crate) description: String,
    /// Namespaces and veth for the end-to-end part.
    #[serde(default)]
    pub(crate) topology: Option<TopologyFile>,
    /// AES key in hex (16 or 32 bytes).
    #[serde(default)]
    pub(crate) key: Option<Spanned<String>>,
    /// ChaCha20-Poly1305 key in hex (32 bytes), of the variants with that
    /// cipher (`wireguard (bpf)`); absent: derived from `key`.
    #[serde(default)]
    pub(crate) chacha20_key: Option<Spanned<String>>,
    /// IPv4 packet sizes in bytes (header included).
    pub(crate) sizes: Spanned<Vec<Spanned<u32>>>,
    /// Variants: the data plane's builds and the kernel's alternatives.
    pub(crate) variants: Spanned<Vec<Spanned<String>>>,
    /// AES drivers to key the raw ecb/cbc variants with, besides the
    /// kernel's pick (micro level): `aes-generic`, `aes-fixed-time`, …
    #[serde(default)]
    pub(crate) drivers: Vec<Spanned<String>>,
    /// Userspace AES on one core, the hardware reference.
    #[serde(default)]
    pub(crate) hardware: Option<Spanned<HardwareFile>>,
    /// BPF_PROG_TEST_RUN of the TC programs.
    #[serde(default)]
    pub(crate) micro: Option<Spanned<MicroFile>>,
    /// Raw cipher speed through AF_ALG.
    #[serde(default)]
    pub(crate) cipher: Option<Spanned<CipherFile>>,
    /// UDP over the veth pair.
    #[serde(default)]
    pub(crate) udp: Option<Spanned<UdpFile>>,
    /// TCP over the veth pair.
    #[serde(default)]
    pub(crate) tcp: Option<Spanned<TcpFile>>,
    /// The lab's own VM loop: a scenario's wall time and phases on a
    /// catalog kernel, and a matrix's.
    #[serde(default)]
    pub(crate) vm_loop: Option<Spanned<VmLoopFile>>,
}

/// `vm_loop:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VmLoopFile {
    /// Catalog kernel the scenario is run on.
    #[serde(default)]
    pub(crate) kernel: Option<Spanned<String>>,
    /// Scenario file, relative to the bench file's folder.
    #[serde(default)]
    pub(crate) scenario: Option<Spanned<String>>,
    /// Timed runs of the scenario.
    #[serde(default)]
    pub(crate) rounds: Option<Spanned<u32>>,
    /// Catalog kernels of the timed matrix (the host is added); empty: none.
    #[serde(default)]
    pub(crate) matrix: Option<Vec<Spanned<String>>>,
}

/// `hardware:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HardwareFile {
    /// Measured rounds.
    #[serde(default)]
    pub(crate) rounds: Option<Spanned<u32>>,
    /// Target round duration, ms.
    #[serde(default)]
    pub(crate) round_ms: Option<Spanned<u64>>,
}

/// `topology:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopologyFile {
    /// Left end address, e.g. `198.18.0.1/24`.
    #[serde(default)]
    pub(crate) left: Option<Spanned<String>>,
    /// Right end address.
    #[serde(default)]
    pub(crate) right: Option<Spanned<String>>,
    /// Wire MTU of the veth.
    #[serde(default)]
    pub(crate) mtu: Option<Spanned<u32>>,
}

/// `micro:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MicroFile {
    /// Measured rounds.
    #[serde(default)]
    pub(crate) rounds: Option<Spanned<u32>>,
    /// Discarded rounds before them.
    #[serde(default)]
    pub(crate) warmup_rounds: Option<Spanned<u32>>,
    /// Target duration of one round, ms (sets the runs per round).
    #[serde(default)]
    pub(crate) round_ms: Option<Spanned<u64>>,
}

/// `cipher:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CipherFile {
    /// Measured rounds.
    #[serde(default)]
    pub(crate) rounds: Option<Spanned<u32>>,
    /// Discarded rounds before them.
    #[serde(default)]
    pub(crate) warmup_rounds: Option<Spanned<u32>>,
    /// Target duration of one round, ms.
    #[serde(default)]
    pub(crate) round_ms: Option<Spanned<u64>>,
    /// Bytes per cipher operation.
    #[serde(default)]
    pub(crate) bulk_bytes: Option<Spanned<u32>>,
}

/// `udp:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UdpFile {
    /// Measured rounds per point.
    #[serde(default)]
    pub(crate) rounds: Option<Spanned<u32>>,
    /// Discarded warm-up before the rounds, ms.
    #[serde(default)]
    pub(crate) warmup_ms: Option<Spanned<u64>>,
    /// Sending time per round, ms.
    #[serde(default)]
    pub(crate) duration_ms: Option<Spanned<u64>>,
    /// Destination port.
    #[serde(default)]
    pub(crate) port: Option<Spanned<u16>>,
}

/// `tcp:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TcpFile {
    /// Measured rounds per point.
    #[serde(default)]
    pub(crate) rounds: Option<Spanned<u32>>,
    /// Discarded warm-up before the rounds, ms.
    #[serde(default)]
    pub(crate) warmup_ms: Option<Spanned<u64>>,
    /// Sending time per round, ms.
    #[serde(default)]
    pub(crate) duration_ms: Option<Spanned<u64>>,
    /// Listening port.
    #[serde(default)]
    pub(crate) port: Option<Spanned<u16>>,
    /// Offload modes: `on`, `off`, `segmentation-off`.
    #[serde(default)]
    pub(crate) offloads: Option<Vec<Spanned<String>>>,
}
