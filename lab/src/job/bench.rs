//! What a bench job measured on one kernel: the environment and every
//! figure with its samples. `bench.json` holds one per target, and the
//! report is generated from it alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stats::Stats;
use crate::domain::{Algorithm, BenchVariant, Counters, Direction};

/// Where figures were measured. Every figure of a target shares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Env {
    /// `uname -r`.
    pub(crate) kernel: String,
    /// `host`, `kvm` or `tcg`.
    pub(crate) accelerator: String,
    /// True under TCG: figures are from an emulated CPU.
    pub(crate) emulated: bool,
    /// CPU model from /proc/cpuinfo.
    pub(crate) cpu_model: String,
    /// Online CPUs.
    pub(crate) cpus: usize,
    /// `git rev-parse HEAD` of the lab at run time, or `unknown`.
    pub(crate) commit: String,
    /// Version of the `lab` binary.
    pub(crate) lab_version: String,
    /// Kernel crypto implementations per algorithm from /proc/crypto,
    /// e.g. `skcipher cbc(ecb(aes-fixed-time)) prio 300`.
    pub(crate) crypto_drivers: BTreeMap<String, Vec<String>>,
}

impl Env {
    /// Short label: `host 6.18.44 (host)` or `debian-6.12 6.12.117 (TCG)`.
    pub(crate) fn label(&self, target: &str) -> String {
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
pub(crate) struct TargetResult {
    /// `host` or a catalog kernel name.
    pub(crate) target: String,
    /// Environment of every figure below.
    pub(crate) env: Env,
    /// Why nothing was measured (kernel without bpf_crypto).
    pub(crate) unsupported: Option<String>,
    /// Why the run stopped early, if it did (figures so far are kept).
    pub(crate) error: Option<String>,
    /// Oops/BUG/WARNING lines a VM's kernel printed during the bench.
    #[serde(default)]
    pub(crate) kernel_events: Vec<String>,
    /// BPF_PROG_TEST_RUN figures.
    pub(crate) micro: Vec<MicroPoint>,
    /// Raw cipher figures.
    pub(crate) cipher: Vec<CipherPoint>,
    /// UDP figures.
    pub(crate) udp: Vec<UdpPoint>,
    /// TCP figures.
    pub(crate) tcp: Vec<TcpPoint>,
    /// Variants and drivers this kernel does not have, with the reason.
    #[serde(default)]
    pub(crate) unavailable: Vec<Unavailable>,
    /// Userspace AES on one core (RustCrypto, AES-NI when the CPU has it):
    /// the hardware reference.
    #[serde(default)]
    pub(crate) hardware: Vec<HardwarePoint>,
    /// The baseline's figures of a paired bench (`--baseline`), measured
    /// round for round with the figures above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) baseline: Option<BaselineFigures>,
}

/// A paired bench's baseline on one target: the same points as the
/// candidate's, each round measured beside the candidate's round.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct BaselineFigures {
    /// BPF_PROG_TEST_RUN figures.
    pub(crate) micro: Vec<MicroPoint>,
    /// UDP figures of our variants.
    pub(crate) udp: Vec<UdpPoint>,
}

/// Something the bench plan asked for that the kernel does not have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Unavailable {
    /// A variant (`wireguard`) or a driver (`cbc(aes-aesni)`).
    pub(crate) what: String,
    /// Why, in the kernel's words where it gave any.
    pub(crate) reason: String,
}

/// Userspace AES throughput for one mode, direction and packet size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HardwarePoint {
    /// Algorithm (the mode).
    pub(crate) algorithm: Algorithm,
    /// Encrypt (egress) or decrypt (ingress).
    pub(crate) direction: Direction,
    /// IPv4 packet size whose payload (padded) is processed, bytes.
    pub(crate) size: u32,
    /// ns per packet, per round.
    pub(crate) ns: Option<Stats>,
    /// Packet-equivalent Gbit/s, per round.
    pub(crate) gbps: Option<Stats>,
    /// The implementation, e.g. `RustCrypto aes 0.9, AES-NI`.
    pub(crate) implementation: String,
}

impl TargetResult {
    /// An empty result for `target`.
    pub(crate) fn new(target: &str, env: Env) -> Self {
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
            unavailable: Vec::new(),
            hardware: Vec::new(),
            baseline: None,
        }
    }

    /// The micro point for a variant (with the default driver), direction and size.
    pub(crate) fn micro_at(&self, v: BenchVariant, d: Direction, size: u32) -> Option<&MicroPoint> {
        self.micro
            .iter()
            .find(|m| m.variant == v && m.direction == d && m.size == size && m.driver.is_none())
    }

    /// The raw cipher point for an algorithm, direction and size.
    pub(crate) fn cipher_at(
        &self,
        alg: Algorithm,
        d: Direction,
        size: u32,
    ) -> Option<&CipherPoint> {
        self.cipher.iter().find(|c| {
            c.algorithm == alg && c.direction == d && c.size == size && c.driver.is_none()
        })
    }

    /// Median ns of the userspace (hardware) reference for `alg`, `d`, `size`.
    pub(crate) fn hardware_ns(&self, alg: Algorithm, d: Direction, size: u32) -> Option<f64> {
        self.hardware
            .iter()
            .find(|h| h.algorithm == alg && h.direction == d && h.size == size)
            .and_then(|h| h.ns.as_ref())
            .map(|s| s.median)
    }

    /// Whether any figure failed its correctness checks.
    pub(crate) fn has_failures(&self) -> bool {
        self.error.is_some()
            || self.micro.iter().any(|m| !m.check.ok)
            || self.udp.iter().any(|u| !u.check.ok)
    }
}

impl MicroPoint {
    /// The variant, with the driver when one was named: `cbc(aes) [aes-generic]`.
    pub(crate) fn label(&self) -> String {
        with_driver(self.variant.as_str(), &self.driver)
    }
}

impl CipherPoint {
    /// The cipher, with the driver when one was named.
    pub(crate) fn label(&self) -> String {
        with_driver(self.algorithm.kernel_name(), &self.driver)
    }
}

fn with_driver(name: &str, driver: &Option<String>) -> String {
    match driver {
        Some(d) => format!("{name} [{d}]"),
        None => name.to_string(),
    }
}

/// Whether a figure's path really worked (return codes, counters, bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CheckResult {
    /// All checks held: the figure measures a working path.
    pub(crate) ok: bool,
    /// What was checked, or what failed.
    pub(crate) detail: String,
}

impl CheckResult {
    /// A passed check.
    pub(crate) fn ok(detail: impl Into<String>) -> Self {
        Self {
            ok: true,
            detail: detail.into(),
        }
    }

    /// A failed check.
    pub(crate) fn failed(detail: impl Into<String>) -> Self {
        Self {
            ok: false,
            detail: detail.into(),
        }
    }
}

/// One BPF_PROG_TEST_RUN figure: a program at a packet size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MicroPoint {
    /// Variant.
    pub(crate) variant: BenchVariant,
    /// The AES driver named at keying (`aes-generic`); `None`: the kernel's pick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) driver: Option<String>,
    /// Egress (encrypt) or ingress (decrypt) program.
    pub(crate) direction: Direction,
    /// IPv4 packet size (plaintext), bytes.
    pub(crate) size: u32,
    /// Program runs per round.
    pub(crate) runs_per_round: u32,
    /// Kernel-measured ns per packet, per round.
    pub(crate) ns: Option<Stats>,
    /// Gbit/s of IPv4 packet bytes, per round.
    pub(crate) gbps: Option<Stats>,
    /// Time the raw cipher needs for this packet's cipher bytes, ns (the limit).
    pub(crate) cipher_limit_ns: Option<f64>,
    /// `cipher_limit_ns / median ns`: share of the time that is the cipher itself (0..1).
    pub(crate) ratio_to_cipher: Option<f64>,
    /// Return codes, output bytes and counters checked.
    pub(crate) check: CheckResult,
    /// Counters that changed over the calibration, warm-up and measured runs.
    pub(crate) counters: Counters,
}

/// The raw cipher's time: the crypto-only program (one kfunc call on the
/// packet's cipher bytes) for one algorithm, direction and packet size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CipherPoint {
    /// Algorithm.
    pub(crate) algorithm: Algorithm,
    /// The AES driver named at keying; `None`: the kernel's pick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) driver: Option<String>,
    /// Egress = `bpf_crypto_encrypt`, ingress = `bpf_crypto_decrypt`.
    pub(crate) direction: Direction,
    /// IPv4 packet size whose payload (padded) is processed, bytes.
    pub(crate) size: u32,
    /// Bytes the cipher processes.
    pub(crate) cipher_bytes: u32,
    /// Kernel-measured ns per run, per round.
    pub(crate) ns: Option<Stats>,
    /// Packet-equivalent Gbit/s (`size` bits per run), per round.
    pub(crate) gbps: Option<Stats>,
    /// Why it could not be measured.
    pub(crate) error: Option<String>,
}

/// One UDP figure: a variant at a packet size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UdpPoint {
    /// Variant (`none` = no program).
    pub(crate) variant: BenchVariant,
    /// IPv4 packet size (plaintext), bytes.
    pub(crate) size: u32,
    /// UDP payload bytes per datagram.
    pub(crate) payload: u32,
    /// Datagrams received per second.
    pub(crate) pps: Option<Stats>,
    /// Received UDP payload, Gbit/s.
    pub(crate) goodput_gbps: Option<Stats>,
    /// Fraction of sent datagrams not received (0..1).
    pub(crate) loss: Option<Stats>,
    /// Busy share of all CPUs during the round (0..1, from /proc/stat).
    pub(crate) cpu_util: Option<Stats>,
    /// Busy CPU time per received datagram, ns.
    pub(crate) cpu_ns_per_packet: Option<Stats>,
    /// Sender and receiver thread CPU time per received datagram, ns (getrusage).
    pub(crate) thread_cpu_ns_per_packet: Option<Stats>,
    /// Datagrams sent over the measured rounds.
    pub(crate) sent: u64,
    /// Datagrams received over the measured rounds.
    pub(crate) received: u64,
    /// Received datagrams whose content was not what was sent.
    pub(crate) corrupt: u64,
    /// `median pps / median pps of no program`.
    pub(crate) ratio_to_baseline: Option<f64>,
    /// `median pps / (1 / (encrypt limit + decrypt limit))`, if one CPU did both.
    pub(crate) ratio_to_cipher: Option<f64>,
    /// Delivery and counter checks.
    pub(crate) check: CheckResult,
    /// Counter changes per end over the measured rounds.
    pub(crate) counters: BTreeMap<String, Counters>,
}

/// One TCP figure: a variant with an offload mode.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TcpPoint {
    /// Variant.
    pub(crate) variant: BenchVariant,
    /// Offload mode name.
    pub(crate) offloads: String,
    /// Offloads each end reported after setting them (`tso/gso/tx` switches).
    pub(crate) applied: BTreeMap<String, String>,
    /// Delivered bytes, Gbit/s per round (0 when the connection stalled).
    pub(crate) goodput_gbps: Option<Stats>,
    /// Bytes delivered intact over the measured rounds.
    pub(crate) bytes: u64,
    /// Bytes that arrived but differed from what was sent.
    pub(crate) corrupt_bytes: u64,
    /// Retransmitted segments (sender's `tcpi_total_retrans`) over the rounds.
    pub(crate) retransmits: u64,
    /// `ok`, `stalled`, `connect failed: …`, `corrupted`, … (worst round).
    pub(crate) status: String,
    /// `median goodput / median goodput of no program` with the same offloads.
    pub(crate) ratio_to_baseline: Option<f64>,
    /// Counter changes per end over the measured rounds.
    pub(crate) counters: BTreeMap<String, Counters>,
}
