//! The bench results document (`bench.json`) and its parts. The report
//! is generated from this alone, so it carries everything a reader needs:
//! settings, the environment of every target, and every figure with its
//! samples.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::spec::BenchPlan;
use super::stats::Stats;
use crate::dataplane::{Counters, Direction, Variant};
use crate::plan::Algorithm;

/// Current `bench.json` schema version.
pub const BENCH_SCHEMA: u32 = 1;

/// What runs on the packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BenchVariant {
    /// No program attached (end-to-end baseline).
    #[serde(rename = "none")]
    NoProgram,
    /// Programs attached that return at once.
    #[serde(rename = "noop")]
    Noop,
    /// Payload copied through the scratch buffers, no crypto.
    #[serde(rename = "copy")]
    Copy,
    /// The data plane with `ecb(aes)`.
    #[serde(rename = "ecb(aes)")]
    Ecb,
    /// The data plane with `cbc(aes)`.
    #[serde(rename = "cbc(aes)")]
    Cbc,
}

impl BenchVariant {
    /// Every variant, baseline first.
    pub const ALL: [BenchVariant; 5] = [
        Self::NoProgram,
        Self::Noop,
        Self::Copy,
        Self::Ecb,
        Self::Cbc,
    ];

    /// Name as written in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoProgram => "none",
            Self::Noop => "noop",
            Self::Copy => "copy",
            Self::Ecb => "ecb(aes)",
            Self::Cbc => "cbc(aes)",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The BPF object to load, if any.
    pub fn object(self) -> Option<Variant> {
        match self {
            Self::NoProgram => None,
            Self::Noop => Some(Variant::Noop),
            Self::Copy => Some(Variant::Copy),
            Self::Ecb | Self::Cbc => Some(Variant::Crypto),
        }
    }

    /// The cipher a crypto variant is keyed with.
    pub fn algorithm(self) -> Option<Algorithm> {
        match self {
            Self::Ecb => Some(Algorithm::EcbAes),
            Self::Cbc => Some(Algorithm::CbcAes),
            _ => None,
        }
    }
}

/// `bench.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchDoc {
    /// Schema version.
    pub schema: u32,
    /// Run id (folder name).
    pub run_id: String,
    /// The settings used.
    pub plan: BenchPlan,
    /// Start time, RFC 3339.
    pub started_at: String,
    /// Wall time of the whole run, ms.
    pub duration_ms: u64,
    /// One entry per machine/kernel measured.
    pub targets: Vec<TargetResult>,
}

/// Where figures were measured. Every figure of a target shares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Env {
    /// `uname -r`.
    pub kernel: String,
    /// `host`, `kvm` or `tcg`.
    pub accelerator: String,
    /// True under TCG: figures are from an emulated CPU.
    pub emulated: bool,
    /// CPU model from /proc/cpuinfo.
    pub cpu_model: String,
    /// Online CPUs.
    pub cpus: usize,
    /// `git rev-parse HEAD` of the lab at run time, or `unknown`.
    pub commit: String,
    /// Version of the `lab` binary.
    pub lab_version: String,
    /// Kernel crypto implementations per algorithm from /proc/crypto,
    /// e.g. `skcipher cbc(ecb(aes-fixed-time)) prio 300`.
    pub crypto_drivers: BTreeMap<String, Vec<String>>,
}

impl Env {
    /// Short label: `host 6.18.44 (host)` or `debian-6.12 6.12.117 (TCG)`.
    pub fn label(&self, target: &str) -> String {
        let accel = if self.emulated {
            "TCG".to_string()
        } else {
            self.accelerator.clone()
        };
        format!("{target} {} ({accel})", self.kernel)
    }
}

/// Everything measured on one target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetResult {
    /// `host` or a catalog kernel name.
    pub target: String,
    /// Environment of every figure below.
    pub env: Env,
    /// Why nothing was measured (kernel without bpf_crypto).
    pub unsupported: Option<String>,
    /// Why the run stopped early, if it did (figures so far are kept).
    pub error: Option<String>,
    /// Oops/BUG/WARNING lines a VM's kernel printed during the bench.
    #[serde(default)]
    pub kernel_events: Vec<String>,
    /// BPF_PROG_TEST_RUN figures.
    pub micro: Vec<MicroPoint>,
    /// Raw cipher figures.
    pub cipher: Vec<CipherPoint>,
    /// UDP figures.
    pub udp: Vec<UdpPoint>,
    /// TCP figures.
    pub tcp: Vec<TcpPoint>,
}

impl TargetResult {
    /// An empty result for `target`.
    pub fn new(target: &str, env: Env) -> Self {
        Self {
            target: target.to_string(),
            env,
            unsupported: None,
            error: None,
            kernel_events: Vec::new(),
            micro: Vec::new(),
            cipher: Vec::new(),
            udp: Vec::new(),
            tcp: Vec::new(),
        }
    }

    /// The micro point for a variant, direction and size.
    pub fn micro_at(&self, v: BenchVariant, d: Direction, size: u32) -> Option<&MicroPoint> {
        self.micro
            .iter()
            .find(|m| m.variant == v && m.direction == d && m.size == size)
    }

    /// The UDP point for a variant and size.
    pub fn udp_at(&self, v: BenchVariant, size: u32) -> Option<&UdpPoint> {
        self.udp.iter().find(|u| u.variant == v && u.size == size)
    }

    /// The raw cipher point for an algorithm, direction and size.
    pub fn cipher_at(&self, alg: Algorithm, d: Direction, size: u32) -> Option<&CipherPoint> {
        self.cipher
            .iter()
            .find(|c| c.algorithm == alg && c.direction == d && c.size == size)
    }

    /// Whether any figure failed its correctness checks.
    pub fn has_failures(&self) -> bool {
        self.error.is_some()
            || self.micro.iter().any(|m| !m.check.ok)
            || self.udp.iter().any(|u| !u.check.ok)
    }
}

/// Whether a figure's path really worked (return codes, counters, bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// All checks held: the figure measures a working path.
    pub ok: bool,
    /// What was checked, or what failed.
    pub detail: String,
}

impl CheckResult {
    /// A passed check.
    pub fn ok(detail: impl Into<String>) -> Self {
        Self {
            ok: true,
            detail: detail.into(),
        }
    }

    /// A failed check.
    pub fn failed(detail: impl Into<String>) -> Self {
        Self {
            ok: false,
            detail: detail.into(),
        }
    }
}

/// One BPF_PROG_TEST_RUN figure: a program at a packet size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MicroPoint {
    /// Variant.
    pub variant: BenchVariant,
    /// Egress (encrypt) or ingress (decrypt) program.
    pub direction: Direction,
    /// IPv4 packet size (plaintext), bytes.
    pub size: u32,
    /// Program runs per round.
    pub runs_per_round: u32,
    /// Kernel-measured ns per packet, per round.
    pub ns: Option<Stats>,
    /// Gbit/s of IPv4 packet bytes, per round.
    pub gbps: Option<Stats>,
    /// Time the raw cipher needs for this packet's cipher bytes, ns (the limit).
    pub cipher_limit_ns: Option<f64>,
    /// `cipher_limit_ns / median ns`: share of the time that is the cipher itself (0..1).
    pub ratio_to_cipher: Option<f64>,
    /// Return codes, output bytes and counters checked.
    pub check: CheckResult,
    /// Counters that changed over the calibration, warm-up and measured runs.
    pub counters: Counters,
}

/// The raw cipher's time: the crypto-only program (one kfunc call on the
/// packet's cipher bytes) for one algorithm, direction and packet size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CipherPoint {
    /// Algorithm.
    pub algorithm: Algorithm,
    /// Egress = `bpf_crypto_encrypt`, ingress = `bpf_crypto_decrypt`.
    pub direction: Direction,
    /// IPv4 packet size whose payload (padded) is processed, bytes.
    pub size: u32,
    /// Bytes the cipher processes.
    pub cipher_bytes: u32,
    /// Kernel-measured ns per run, per round.
    pub ns: Option<Stats>,
    /// Packet-equivalent Gbit/s (`size` bits per run), per round.
    pub gbps: Option<Stats>,
    /// Why it could not be measured.
    pub error: Option<String>,
}

/// One UDP figure: a variant at a packet size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UdpPoint {
    /// Variant (`none` = no program).
    pub variant: BenchVariant,
    /// IPv4 packet size (plaintext), bytes.
    pub size: u32,
    /// UDP payload bytes per datagram.
    pub payload: u32,
    /// Datagrams received per second.
    pub pps: Option<Stats>,
    /// Received UDP payload, Gbit/s.
    pub goodput_gbps: Option<Stats>,
    /// Fraction of sent datagrams not received (0..1).
    pub loss: Option<Stats>,
    /// Busy share of all CPUs during the round (0..1, from /proc/stat).
    pub cpu_util: Option<Stats>,
    /// Busy CPU time per received datagram, ns.
    pub cpu_ns_per_packet: Option<Stats>,
    /// Sender and receiver thread CPU time per received datagram, ns (getrusage).
    pub thread_cpu_ns_per_packet: Option<Stats>,
    /// Datagrams sent over the measured rounds.
    pub sent: u64,
    /// Datagrams received over the measured rounds.
    pub received: u64,
    /// Received datagrams whose content was not what was sent.
    pub corrupt: u64,
    /// `median pps / median pps of no program`.
    pub ratio_to_baseline: Option<f64>,
    /// `median pps / (1 / (encrypt limit + decrypt limit))`, if one CPU did both.
    pub ratio_to_cipher: Option<f64>,
    /// Delivery and counter checks.
    pub check: CheckResult,
    /// Counter changes per end over the measured rounds.
    pub counters: BTreeMap<String, Counters>,
}

/// One TCP figure: a variant with an offload mode.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TcpPoint {
    /// Variant.
    pub variant: BenchVariant,
    /// Offload mode name.
    pub offloads: String,
    /// Offloads each end reported after setting them (`tso/gso/tx` switches).
    pub applied: BTreeMap<String, String>,
    /// Delivered bytes, Gbit/s per round (0 when the connection stalled).
    pub goodput_gbps: Option<Stats>,
    /// Bytes delivered intact over the measured rounds.
    pub bytes: u64,
    /// Bytes that arrived but differed from what was sent.
    pub corrupt_bytes: u64,
    /// Retransmitted segments (sender's `tcpi_total_retrans`) over the rounds.
    pub retransmits: u64,
    /// `ok`, `stalled`, `connect failed: …`, `corrupted`, … (worst round).
    pub status: String,
    /// `median goodput / median goodput of no program` with the same offloads.
    pub ratio_to_baseline: Option<f64>,
    /// Counter changes per end over the measured rounds.
    pub counters: BTreeMap<String, Counters>,
}
