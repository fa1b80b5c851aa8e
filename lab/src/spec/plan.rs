//! A validated scenario: plain data that crosses into VM guests as JSON.

use serde::{Deserialize, Serialize};

use super::dataplane::UserDataplane;
use super::wireguard::WgSpec;

use crate::dataplane::format;
use crate::domain::{CipherSpec, IfAddr, Mode, Side, Stack};

/// Default wire MTU of the veth.
pub(crate) const DEFAULT_MTU: u32 = 1500;

/// A validated scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Plan {
    /// Scenario name.
    pub(crate) name: String,
    /// Scenario description.
    pub(crate) description: String,
    /// Path of the scenario file as given.
    pub(crate) source: String,
    /// Left end address.
    pub(crate) left: IfAddr,
    /// Right end address.
    pub(crate) right: IfAddr,
    /// Wire MTU of the veth.
    pub(crate) mtu: u32,
    /// Cipher and key.
    pub(crate) cipher: CipherSpec,
    /// Wire format and how the data plane handles the payload.
    #[serde(default)]
    pub(crate) wire: WireSpec,
    /// Steps, in order.
    pub(crate) steps: Vec<PlanStep>,
    /// Checks.
    pub(crate) assertions: Vec<PlanAssertion>,
    /// The scenario run afterwards for comparison (e.g. the raw-format
    /// twin of an ESP scenario).
    #[serde(default)]
    pub(crate) baseline: Option<Box<Plan>>,
    /// The user's data plane object, instead of the lab's build of the
    /// wire format (checked against the ABI before the run).
    #[serde(default)]
    pub(crate) dataplane: Option<UserDataplane>,
    /// `mode: wireguard`: the tunnel.
    #[serde(default)]
    pub(crate) wg: Option<WgSpec>,
}

impl Plan {
    /// Address of one end.
    pub(crate) fn addr(&self, side: Side) -> IfAddr {
        match side {
            Side::Left => self.left,
            Side::Right => self.right,
        }
    }

    /// Every key the scenario installs, first the initial one.
    pub(crate) fn keys(&self) -> Vec<Vec<u8>> {
        let mut keys = vec![self.cipher.key.clone()];
        for s in &self.steps {
            let more: Vec<Vec<u8>> = match s {
                PlanStep::Rekey { keys, .. } => keys.clone(),
                PlanStep::SetKey { key, .. } => vec![key.clone()],
                _ => Vec::new(),
            };
            for k in more {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        keys
    }

    /// Whether some step hands an end to the kernel's `stack`.
    pub(crate) fn uses(&self, stack: Stack) -> bool {
        (self.steps.iter()).any(|s| matches!(s, PlanStep::Stack { stack: s, .. } if *s == stack))
    }

    /// Whether some step hands an end to the kernel's IPsec.
    pub(crate) fn uses_xfrm(&self) -> bool {
        self.uses(Stack::Xfrm)
    }

    /// The address traffic steps send to on `side`: its tunnel address
    /// when the format tunnels (WireGuard), else the veth's.
    pub(crate) fn traffic_addr(&self, side: Side) -> IfAddr {
        match &self.wg {
            Some(w) => w.end(side).address,
            None => self.addr(side),
        }
    }

    /// Path MTU inside the tunnel: the wire MTU minus the data plane overhead.
    pub(crate) fn inner_mtu(&self) -> u32 {
        self.mtu - self.wire.overhead()
    }
}

/// The wire format of a scenario.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct WireSpec {
    /// `raw` or `esp`.
    pub(crate) mode: Mode,
    /// In place instead of through scratch buffers.
    pub(crate) in_place: bool,
    /// ESP: the SAs' parameters.
    pub(crate) esp: Option<EspSpec>,
}

impl WireSpec {
    /// `raw` or `esp`, with `, in place` for the in-place build.
    pub(crate) fn describe(&self) -> String {
        let place = if self.in_place { ", in place" } else { "" };
        format!("{}{place}", self.mode.as_str())
    }
}

impl WireSpec {
    /// Largest growth of a packet on the wire.
    pub(crate) fn overhead(&self) -> u32 {
        format::of(self.mode).overhead()
    }
}

/// The ESP security associations of a scenario: one per direction, keyed
/// with the scenario's cipher key (and each rotation's key) and one
/// authentication key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EspSpec {
    /// AES-CMAC-96 key.
    pub(crate) auth_key: Vec<u8>,
    /// SPI of left → right in generation 0.
    pub(crate) spi: u32,
}

impl EspSpec {
    /// The SPI of traffic sent by `from` in key generation `generation`:
    /// each generation has a fresh pair (make-before-break rekeying).
    pub(crate) fn spi(&self, from: Side, generation: u32) -> u32 {
        self.spi.wrapping_add(2 * generation + from.index() as u32)
    }
}

/// A validated step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum PlanStep {
    /// ICMP echo.
    Ping(PingPlan),
    /// UDP datagrams.
    Udp(UdpPlan),
    /// TCP transfer.
    Tcp(TcpPlan),
    /// Offload switches.
    Offloads {
        /// Which ends.
        sides: Vec<Side>,
        /// TSO.
        tso: bool,
        /// GSO.
        gso: bool,
        /// TX checksum offload.
        tx_csum: bool,
        /// GSO segment limit, if set.
        gso_max_segs: Option<u32>,
    },
    /// Key rotations on both ends.
    Rekey {
        /// Rotations.
        times: u32,
        /// Milliseconds between rotations.
        interval_ms: u64,
        /// Keys cycled through.
        keys: Vec<Vec<u8>>,
    },
    /// Install a key.
    SetKey {
        /// Which ends.
        sides: Vec<Side>,
        /// Key bytes.
        key: Vec<u8>,
    },
    /// Remove the key.
    ClearKey {
        /// Which ends.
        sides: Vec<Side>,
    },
    /// Flip a ciphertext byte on egress.
    Tamper {
        /// Whose egress.
        side: Side,
        /// Offset in the IPv4 payload.
        offset: u32,
        /// XOR mask.
        xor: u8,
    },
    /// Wait for a condition.
    Wait {
        /// The condition.
        until: WaitFor,
        /// Milliseconds before giving up.
        timeout_ms: u64,
    },
    /// A WireGuard handshake.
    Handshake {
        /// The initiating end.
        from: Side,
        /// How long to wait for the session.
        timeout_ms: u64,
    },
    /// Hand one end to another stack.
    Stack {
        /// Which end.
        side: Side,
        /// The stack from now on.
        stack: Stack,
    },
}

impl PlanStep {
    /// The step's kind as a scenario writes it (`ping`, `set_key`, …).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            PlanStep::Ping(_) => "ping",
            PlanStep::Udp(_) => "udp",
            PlanStep::Tcp(_) => "tcp",
            PlanStep::Offloads { .. } => "offloads",
            PlanStep::Rekey { .. } => "rekey",
            PlanStep::SetKey { .. } => "set_key",
            PlanStep::ClearKey { .. } => "clear_key",
            PlanStep::Tamper { .. } => "tamper",
            PlanStep::Wait { .. } => "wait",
            PlanStep::Stack { .. } => "stack",
            PlanStep::Handshake { .. } => "handshake",
        }
    }
}

/// What a `wait` step waits for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum WaitFor {
    /// A counter within bounds.
    Counter {
        /// Which end.
        side: Side,
        /// Counter name.
        name: String,
        /// Minimum.
        min: Option<u64>,
        /// Maximum.
        max: Option<u64>,
    },
    /// All background flows finished.
    FlowsDone,
}

/// A validated `udp` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UdpPlan {
    /// Sending end.
    pub(crate) from: Side,
    /// Payload sizes.
    pub(crate) sizes: Vec<u32>,
    /// Datagrams per size.
    pub(crate) count: u32,
    /// Milliseconds between datagrams.
    pub(crate) interval_ms: u64,
    /// Destination port.
    pub(crate) port: u16,
    /// Runs alongside the following steps.
    pub(crate) background: bool,
    /// Sends the frames seen on the sender's wire again afterwards.
    #[serde(default)]
    pub(crate) replay: bool,
}

/// A validated `tcp` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TcpPlan {
    /// Connecting end.
    pub(crate) from: Side,
    /// Bytes to send.
    pub(crate) bytes: u64,
    /// Destination port.
    pub(crate) port: u16,
    /// Milliseconds before giving up.
    pub(crate) timeout_ms: u64,
}

/// A byte pattern at an offset from the IPv4 header, under a mask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PacketMatch {
    /// Offset from the IPv4 header.
    pub(crate) offset: u32,
    /// Expected bytes.
    pub(crate) value: Vec<u8>,
    /// Mask (same length).
    pub(crate) mask: Vec<u8>,
}

impl PacketMatch {
    /// Whether `ip` (a packet from its IPv4 header on) matches.
    pub(crate) fn matches(&self, ip: &[u8]) -> bool {
        let o = self.offset as usize;
        ip.get(o..o + self.value.len()).is_some_and(|b| {
            b.iter()
                .zip(&self.value)
                .zip(&self.mask)
                .all(|((b, v), m)| b & m == v & m)
        })
    }
}

/// A validated `ping` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PingPlan {
    /// Sending end.
    pub(crate) from: Side,
    /// Requests to send.
    pub(crate) count: u32,
    /// ICMP payload size.
    pub(crate) size: u32,
    /// Milliseconds between requests.
    pub(crate) interval_ms: u64,
    /// Milliseconds to wait for the last reply.
    pub(crate) timeout_ms: u64,
}

/// A validated check, with the label shown in the summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PlanAssertion {
    /// Short label, e.g. `echo_replies`.
    pub(crate) name: String,
    /// What to check.
    pub(crate) check: Check,
}

/// What an assertion checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Check {
    /// Echo replies within bounds.
    EchoReplies {
        /// Minimum.
        min: Option<u64>,
        /// Maximum.
        max: Option<u64>,
    },
    /// Wire IPv4 headers well formed, checksummed, addressed as planned.
    IpHeaderCleartext,
    /// Wire payloads encrypted.
    PayloadEncrypted {
        /// Minimum entropy in bits per byte.
        min_entropy: f64,
    },
    /// Plaintext arrived intact on the far side.
    PlaintextDelivered,
    /// Data plane counter within bounds.
    Counter {
        /// Which end.
        side: Side,
        /// Counter name.
        name: String,
        /// Minimum.
        min: Option<u64>,
        /// Maximum.
        max: Option<u64>,
    },
    /// UDP datagrams delivered intact.
    UdpDelivered(Ratio),
    /// UDP datagrams received, intact or not.
    UdpReceived(Ratio),
    /// TCP bytes delivered intact.
    TcpDelivered(Ratio),
    /// The marker never on the wire.
    NoPlaintextOnWire,
    /// Matching wire packets within bounds.
    Expect {
        /// Only packets from this end.
        from: Option<Side>,
        /// Patterns.
        matches: Vec<PacketMatch>,
        /// Minimum.
        min: Option<u64>,
        /// Maximum.
        max: Option<u64>,
    },
    /// Packets with a repeated ciphertext block within bounds.
    RepeatedBlocks {
        /// Minimum.
        min: Option<u64>,
        /// Maximum.
        max: Option<u64>,
    },
    /// No IV used by two different packets.
    UniqueIvs,
    /// Every installed key encrypts some wire packet.
    KeysUsed,
    /// ESP sequence numbers strictly increasing per sender and SPI.
    EspSequence,
    /// Reference decryption agrees with what was sent.
    Oracle {
        /// Minimum share of packets that must decrypt to a sent plaintext.
        min_ratio: f64,
    },
    /// Kernel warnings within bounds.
    KernelLog {
        /// Maximum WARNING/BUG/Oops lines.
        max_warnings: u64,
    },
    /// The kernel's xfrm error counters (`/proc/net/xfrm_stat`) of the ends
    /// that used the kernel's IPsec, each at most `max`.
    XfrmStat {
        /// Largest accepted value of any counter.
        max: u64,
    },
}

/// Count and ratio bounds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct Ratio {
    /// Only this step's traffic (0-based index), if set.
    pub(crate) step: Option<usize>,
    /// Minimum count.
    pub(crate) min: Option<u64>,
    /// Maximum count.
    pub(crate) max: Option<u64>,
    /// Minimum ratio.
    pub(crate) min_ratio: Option<f64>,
    /// Maximum ratio.
    pub(crate) max_ratio: Option<f64>,
}

/// Default entropy bound for `payload_encrypted`, bits per byte. Random
/// bytes over a few hundred samples measure about 7.5; the repeated ASCII
/// marker that ping sends measures below 5.
pub(crate) const DEFAULT_MIN_ENTROPY: f64 = 7.0;
