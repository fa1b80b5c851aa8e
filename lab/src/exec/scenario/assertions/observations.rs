//! What a run observed that the checks look at.

use std::collections::BTreeMap;

use crate::domain::{Algorithm, Counters, IfAddr, Mode, Side};
use crate::sys::traffic::icmp::{Delivered, PingOutcome};
use crate::sys::traffic::tcp::{TcpClientReport, TcpServerReport};
use crate::sys::traffic::udp::UdpSent;

/// Everything a run observed that checks look at.
#[derive(Debug, Default)]
pub(crate) struct Observations {
    /// Each ping step's outcome, with its sending side.
    pub(crate) pings: Vec<(Side, PingOutcome)>,
    /// Echo requests delivered, by receiving side.
    pub(crate) delivered: Vec<(Side, Delivered)>,
    /// Data plane counters by side (`left`, `right`).
    pub(crate) counters: BTreeMap<String, Counters>,
    /// The two addresses of the topology.
    pub(crate) addresses: Vec<IfAddr>,
    /// The wire format.
    pub(crate) mode: Mode,
    /// The cipher.
    pub(crate) algorithm: Option<Algorithm>,
    /// Every key the scenario installed.
    pub(crate) keys: Vec<Vec<u8>>,
    /// The authentication key, for a wire format that authenticates.
    pub(crate) auth_key: Option<Vec<u8>>,
    /// UDP flows.
    pub(crate) udp: Vec<UdpFlow>,
    /// TCP transfers.
    pub(crate) tcp: Vec<TcpFlow>,
    /// Kernel log lines logged during the run.
    pub(crate) kernel_log: Vec<String>,
    /// `/proc/net/xfrm_stat` of the ends that used the kernel's IPsec.
    pub(crate) xfrm_stat: BTreeMap<String, BTreeMap<String, u64>>,
}

/// One `udp` step's traffic.
#[derive(Debug, Clone, Default)]
pub(crate) struct UdpFlow {
    /// Step index.
    pub(crate) step: usize,
    /// What was sent.
    pub(crate) sent: UdpSent,
    /// Payloads the receiver got.
    pub(crate) delivered: Vec<Vec<u8>>,
}

/// One `tcp` step's transfer.
#[derive(Debug, Clone, Default)]
pub(crate) struct TcpFlow {
    /// Step index.
    pub(crate) step: usize,
    /// Bytes the step meant to send.
    pub(crate) bytes: u64,
    /// Client side.
    pub(crate) client: TcpClientReport,
    /// Server side.
    pub(crate) server: TcpServerReport,
}
