//! What a scenario job observed on the kernel under test: check verdicts,
//! counters, traffic and wire statistics. It crosses back from a guest and
//! is kept in `summary.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{Counters, Side};
use crate::sys::traffic::icmp::PingOutcome;
use crate::sys::traffic::tcp::{TcpClientReport, TcpServerReport};

/// What a run produced (without backend/kernel metadata).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunReport {
    /// Check verdicts, in plan order, then one per `wait` step.
    pub(crate) assertions: Vec<AssertionResult>,
    /// Data plane counters by side.
    pub(crate) counters: BTreeMap<String, Counters>,
    /// Ping steps, in order.
    pub(crate) pings: Vec<PingSummary>,
    /// UDP steps, in order.
    #[serde(default)]
    pub(crate) udp: Vec<UdpSummary>,
    /// TCP steps, in order.
    #[serde(default)]
    pub(crate) tcp: Vec<TcpSummary>,
    /// What control steps did (offload states, rotations, …).
    #[serde(default)]
    pub(crate) notes: Vec<String>,
    /// Wire statistics.
    pub(crate) wire: WireStats,
    /// Kernel WARNING/BUG/Oops lines logged during the run.
    #[serde(default)]
    pub(crate) kernel_warnings: Vec<String>,
    /// `/proc/net/xfrm_stat` of the ends that used the kernel's IPsec.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) xfrm_stat: BTreeMap<String, BTreeMap<String, u64>>,
    /// Files written into the run directory.
    pub(crate) files: Vec<String>,
    /// The baseline scenario's run, for comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) baseline: Option<Box<BaselineReport>>,
}

/// A baseline scenario's run (see `baseline` in the scenario format).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BaselineReport {
    /// Its name.
    pub(crate) name: String,
    /// Its file.
    pub(crate) source: String,
    /// Its wire format (`raw`, `esp`, …).
    pub(crate) wire: String,
    /// What it produced.
    pub(crate) report: RunReport,
}

/// One ping step's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PingSummary {
    /// Sending side.
    pub(crate) from: Side,
    /// Outcome.
    #[serde(flatten)]
    pub(crate) outcome: PingOutcome,
}

/// One UDP step's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UdpSummary {
    /// Step number (1-based).
    pub(crate) step: usize,
    /// Sending side.
    pub(crate) from: Side,
    /// Destination port.
    pub(crate) port: u16,
    /// Datagrams sent.
    pub(crate) sent: u32,
    /// Send errors.
    pub(crate) send_errors: u32,
    /// Datagrams received.
    pub(crate) received: usize,
    /// Received byte for byte as sent.
    pub(crate) intact: usize,
    /// Received again after an intact delivery (a replay got through).
    #[serde(default)]
    pub(crate) duplicates: usize,
    /// Received but matching nothing sent.
    pub(crate) corrupted: usize,
}

/// One TCP step's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TcpSummary {
    /// Step number (1-based).
    pub(crate) step: usize,
    /// Connecting side.
    pub(crate) from: Side,
    /// Bytes meant to be sent.
    pub(crate) bytes: u64,
    /// Client view.
    pub(crate) client: TcpClientReport,
    /// Server view.
    pub(crate) server: TcpServerReport,
}

/// Wire capture statistics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WireStats {
    /// Interface captured (left end of the veth).
    pub(crate) interface: String,
    /// Frames captured.
    pub(crate) frames: u64,
    /// IPv4 packets among them.
    pub(crate) ipv4_packets: usize,
    /// Entropy of all IPv4 payload bytes.
    pub(crate) payload_entropy: f64,
    /// Packets containing the plaintext marker.
    pub(crate) marker_leaks: usize,
}

impl RunReport {
    /// Whether every assertion passed.
    /// Whether every check passed, the baseline's included.
    pub(crate) fn passed(&self) -> bool {
        self.assertions.iter().all(|a| a.pass)
            && self.baseline.as_ref().is_none_or(|b| b.report.passed())
    }
}

/// One check's verdict.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct AssertionResult {
    /// Check label.
    pub(crate) name: String,
    /// What was expected, in words.
    pub(crate) expected: String,
    /// What was observed, in words.
    pub(crate) observed: String,
    /// Whether it held.
    pub(crate) pass: bool,
}
