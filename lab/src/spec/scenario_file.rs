//! Scenario files (YAML v1) as written: the raw, located form. Every value
//! that can be wrong on its own is [`Spanned`] so that errors point at
//! `file:line:column`; [`super::scenario`] validates it into a plan.

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::domain::{Side, Stack};

/// A scenario file, version 1.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scenario {
    /// Format version; must be 1.
    pub(crate) version: Spanned<u32>,
    /// Short name, used in the run id.
    pub(crate) name: Spanned<String>,
    /// Free text shown in reports.
    #[serde(default)]
    pub(crate) description: String,
    /// The two namespaces and the veth between them.
    pub(crate) topology: Topology,
    /// Cipher and key provisioned on both ends.
    pub(crate) cipher: Cipher,
    /// Traffic and control steps, run in order.
    pub(crate) steps: Vec<Spanned<Step>>,
    /// Checks made after the steps ran.
    pub(crate) assertions: Vec<Spanned<Assertion>>,
    /// Another scenario (path relative to this file) run after this one on
    /// the same kernel, and reported next to it.
    #[serde(default)]
    pub(crate) baseline: Option<Spanned<String>>,
    /// A data plane object of the user's (path relative to this file)
    /// instead of the lab's own build; `--dataplane` overrides it.
    #[serde(default)]
    pub(crate) dataplane: Option<Spanned<String>>,
    /// `mode: wireguard`: the tunnel's ends.
    #[serde(default)]
    pub(crate) wireguard: Option<Spanned<WireGuard>>,
}

/// Two namespaces, `left` and `right`, joined by one veth pair.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Topology {
    /// The left end (the one whose veth is captured).
    pub(crate) left: Endpoint,
    /// The right end.
    pub(crate) right: Endpoint,
    /// Wire MTU of the veth; the inner path MTU is this minus the data plane overhead.
    #[serde(default)]
    pub(crate) mtu: Option<Spanned<u32>>,
}

/// One end of the veth.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Endpoint {
    /// IPv4 address with prefix length, e.g. `198.18.0.1/24`.
    pub(crate) address: Spanned<String>,
}

/// The cipher and key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cipher {
    /// Kernel crypto algorithm name: `cbc(aes)` or `ecb(aes)`.
    pub(crate) algorithm: Spanned<String>,
    /// Key in hex: 32 digits (AES-128) or 64 digits (AES-256); none for a
    /// format keyed by its handshake (`wireguard`).
    #[serde(default)]
    pub(crate) key: Option<Spanned<String>>,
    /// Wire format: `raw` (default) or `esp`.
    #[serde(default)]
    pub(crate) mode: Option<Spanned<String>>,
    /// Encrypt and decrypt on the packet itself instead of bouncing the
    /// payload through scratch buffers.
    #[serde(default)]
    pub(crate) in_place: bool,
    /// `esp`: the AES-CMAC-96 key in hex (32 digits).
    #[serde(default)]
    pub(crate) auth_key: Option<Spanned<String>>,
    /// `esp`: SPI of left → right (right → left uses the next one).
    #[serde(default)]
    pub(crate) spi: Option<Spanned<u32>>,
}

/// One end or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Sides {
    /// The left namespace.
    Left,
    /// The right namespace.
    Right,
    /// Both namespaces.
    Both,
}

impl Sides {
    /// The sides this names.
    pub(crate) fn list(self) -> Vec<Side> {
        match self {
            Sides::Left => vec![Side::Left],
            Sides::Right => vec![Side::Right],
            Sides::Both => Side::BOTH.to_vec(),
        }
    }
}

/// A step of the scenario.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Step {
    /// ICMP echo requests from one end to the other.
    Ping(PingStep),
    /// UDP datagrams from one end to the other.
    Udp(UdpStep),
    /// A TCP transfer from one end to the other.
    Tcp(TcpStep),
    /// Set TSO/GSO/TX checksum offloads on the veth.
    Offloads(OffloadsStep),
    /// Rotate the key on both ends, repeatedly.
    Rekey(RekeyStep),
    /// Install a (possibly different) key on one or both ends.
    SetKey(SetKeyStep),
    /// Remove the key on one or both ends.
    ClearKey(SidesStep),
    /// Flip ciphertext bytes on one end's egress, after encryption.
    Tamper(TamperStep),
    /// Wait for a condition, with a timeout.
    Wait(WaitStep),
    /// Hand one end over to the kernel's own stack (IPsec, WireGuard), or
    /// back to the data plane.
    Stack(StackStep),
    /// A WireGuard handshake initiated by one end.
    Handshake(HandshakeStep),
}

/// `handshake:` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HandshakeStep {
    /// The initiating end.
    pub(crate) from: Side,
    /// How long to wait for the session, in ms (default 10000: a lost
    /// initiation is sent again after 5 s).
    #[serde(default)]
    pub(crate) timeout_ms: Option<Spanned<u64>>,
}

/// `stack:` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StackStep {
    /// Which end.
    pub(crate) side: Side,
    /// `xfrm` (the kernel's IPsec) or `bpf` (the data plane).
    #[serde(rename = "use")]
    pub(crate) stack: Spanned<Stack>,
}

/// `udp:` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UdpStep {
    /// Sending end.
    pub(crate) from: Side,
    /// Datagram payload sizes; each is sent `count` times.
    #[serde(default)]
    pub(crate) sizes: Option<Spanned<Vec<u32>>>,
    /// Datagrams per size.
    #[serde(default)]
    pub(crate) count: Option<Spanned<u32>>,
    /// Milliseconds between datagrams.
    #[serde(default)]
    pub(crate) interval_ms: Option<Spanned<u64>>,
    /// Destination port.
    #[serde(default)]
    pub(crate) port: Option<Spanned<u16>>,
    /// Keep sending while the following steps run (joined at the end).
    #[serde(default)]
    pub(crate) background: bool,
    /// After sending, send the captured wire frames again (a replay attack).
    #[serde(default)]
    pub(crate) replay: Option<Spanned<bool>>,
}

/// `tcp:` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TcpStep {
    /// Connecting (sending) end.
    pub(crate) from: Side,
    /// Bytes to send.
    #[serde(default)]
    pub(crate) bytes: Option<Spanned<u64>>,
    /// Destination port.
    #[serde(default)]
    pub(crate) port: Option<Spanned<u16>>,
    /// Milliseconds before the transfer is abandoned.
    #[serde(default)]
    pub(crate) timeout_ms: Option<Spanned<u64>>,
}

/// `offloads:` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OffloadsStep {
    /// Which end's veth.
    pub(crate) side: Sides,
    /// TCP segmentation offload.
    pub(crate) tso: bool,
    /// Generic segmentation offload.
    pub(crate) gso: bool,
    /// Transmit checksum offload.
    pub(crate) tx_csum: bool,
    /// GSO segment limit of the device (1: TCP sends one-segment packets).
    #[serde(default)]
    pub(crate) gso_max_segs: Option<Spanned<u32>>,
}

/// `rekey:` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RekeyStep {
    /// Rotations.
    #[serde(default)]
    pub(crate) times: Option<Spanned<u32>>,
    /// Milliseconds between rotations.
    #[serde(default)]
    pub(crate) interval_ms: Option<Spanned<u64>>,
    /// Keys to cycle through (hex); default: the scenario key and its bitwise complement.
    #[serde(default)]
    pub(crate) keys: Vec<Spanned<String>>,
}

/// `set_key:` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetKeyStep {
    /// Which end(s).
    pub(crate) side: Sides,
    /// Key in hex (same length rules as `cipher.key`).
    pub(crate) key: Spanned<String>,
}

/// A step naming one end or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SidesStep {
    /// Which end(s).
    pub(crate) side: Sides,
}

/// `tamper:` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TamperStep {
    /// Whose egress.
    pub(crate) side: Side,
    /// Byte offset in the IPv4 payload (after the IP header) to flip.
    pub(crate) offset: Spanned<u32>,
    /// XOR mask applied to that byte (non-zero).
    #[serde(default)]
    pub(crate) xor: Option<Spanned<u8>>,
}

/// `wait:` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WaitStep {
    /// Wait until a counter is within bounds.
    #[serde(default)]
    pub(crate) counter: Option<CounterCheck>,
    /// Wait until every background flow finished.
    #[serde(default)]
    pub(crate) flows_done: bool,
    /// Give up after this many milliseconds (the wait is then reported as failed).
    #[serde(default)]
    pub(crate) timeout_ms: Option<Spanned<u64>>,
}

/// `ping:` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PingStep {
    /// Sending end.
    pub(crate) from: Side,
    /// Number of echo requests.
    #[serde(default)]
    pub(crate) count: Option<Spanned<u32>>,
    /// ICMP payload bytes per request (like `ping -s`).
    #[serde(default)]
    pub(crate) size: Option<Spanned<u32>>,
    /// Milliseconds between requests.
    #[serde(default)]
    pub(crate) interval_ms: Option<Spanned<u64>>,
    /// Milliseconds to wait for the last reply.
    #[serde(default)]
    pub(crate) timeout_ms: Option<Spanned<u64>>,
}

/// A check made after the steps.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Assertion {
    /// Echo replies received by the sender, summed over all ping steps.
    EchoReplies(Bounds),
    /// Every IPv4 packet on the wire has a well-formed header with a valid
    /// checksum and the scenario's addresses.
    IpHeaderCleartext {},
    /// Payloads on the wire differ from the plaintext, never contain the
    /// marker, and their byte entropy is at least `min_entropy` bits/byte.
    PayloadEncrypted(EncryptedCheck),
    /// Every request's plaintext arrived intact on the far side.
    PlaintextDelivered {},
    /// A data plane counter on one end lies within bounds.
    Counter(CounterCheck),
    /// UDP datagrams delivered intact, as a count and/or a ratio of those sent.
    UdpDelivered(RatioBounds),
    /// UDP datagrams the receivers got, intact or not (corrupted and
    /// duplicate deliveries count too), as a count and/or a ratio of those
    /// sent: `{max: 0}` says nothing at all arrived.
    UdpReceived(RatioBounds),
    /// TCP bytes delivered intact, as a ratio of those sent.
    TcpDelivered(RatioBounds),
    /// The plaintext marker never appears on the wire (no packets is a pass).
    NoPlaintextOnWire {},
    /// Wire packets matching byte patterns (PTF-style, with masks) are within bounds.
    Expect(ExpectCheck),
    /// No wire packet matches the byte patterns.
    ExpectNone(ExpectNoneCheck),
    /// Wire packets with a repeated 16-byte ciphertext block, within bounds.
    RepeatedBlocks(Bounds),
    /// No IV is used by two different packets across the capture.
    UniqueIvs {},
    /// Every key the scenario installs encrypts some packet on the wire
    /// (a rekey that keeps the old key shows).
    KeysUsed {},
    /// ESP sequence numbers strictly increase per sender and SPI across the
    /// capture (byte-identical replays aside).
    EspSequence {},
    /// Independent decryption of every captured packet with a reference AES
    /// gives back a plaintext that was sent.
    Oracle(OracleCheck),
    /// Kernel log lines with WARNING/BUG/Oops during the run, within bounds.
    KernelLog(KernelLogCheck),
    /// The kernel's xfrm error counters stay within bounds.
    XfrmStat(XfrmStatCheck),
}

/// Count and ratio bounds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RatioBounds {
    /// Only the traffic of this step (1-based); default all steps.
    #[serde(default)]
    pub(crate) step: Option<usize>,
    /// Smallest accepted count.
    #[serde(default)]
    pub(crate) min: Option<u64>,
    /// Largest accepted count.
    #[serde(default)]
    pub(crate) max: Option<u64>,
    /// Smallest accepted ratio (0..=1).
    #[serde(default)]
    pub(crate) min_ratio: Option<f64>,
    /// Largest accepted ratio (0..=1).
    #[serde(default)]
    pub(crate) max_ratio: Option<f64>,
}

/// One byte pattern: `value` at `offset` from the start of the IPv4 header,
/// compared under `mask`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ByteMatch {
    /// Offset from the start of the IPv4 header.
    pub(crate) offset: Spanned<u32>,
    /// Expected bytes, hex.
    pub(crate) value: Spanned<String>,
    /// Mask, hex, same length as `value` (default all ones).
    #[serde(default)]
    pub(crate) mask: Option<Spanned<String>>,
}

/// Parameters of `expect`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpectCheck {
    /// Only packets sent by this end.
    #[serde(default)]
    pub(crate) from: Option<Side>,
    /// Patterns that must all match.
    #[serde(rename = "match")]
    pub(crate) matches: Vec<ByteMatch>,
    /// Smallest accepted number of matching packets (default 1).
    #[serde(default)]
    pub(crate) min: Option<u64>,
    /// Largest accepted number of matching packets.
    #[serde(default)]
    pub(crate) max: Option<u64>,
}

/// Parameters of `expect_none`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpectNoneCheck {
    /// Only packets sent by this end.
    #[serde(default)]
    pub(crate) from: Option<Side>,
    /// Patterns that must all match for a packet to count.
    #[serde(rename = "match")]
    pub(crate) matches: Vec<ByteMatch>,
}

/// Parameters of `oracle`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OracleCheck {
    /// Smallest accepted share of wire packets that decrypt to a sent plaintext (default 1.0).
    #[serde(default)]
    pub(crate) min_ratio: Option<f64>,
}

/// Parameters of `xfrm_stat`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct XfrmStatCheck {
    /// Largest accepted value of any `/proc/net/xfrm_stat` counter (default 0).
    #[serde(default)]
    pub(crate) max: Option<u64>,
}

/// Parameters of `kernel_log`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KernelLogCheck {
    /// Largest accepted number of WARNING/BUG/Oops lines (default 0).
    #[serde(default)]
    pub(crate) max_warnings: Option<u64>,
}

/// Inclusive bounds; a missing bound is not checked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Bounds {
    /// Smallest accepted value.
    #[serde(default)]
    pub(crate) min: Option<u64>,
    /// Largest accepted value.
    #[serde(default)]
    pub(crate) max: Option<u64>,
}

/// Parameters of `payload_encrypted`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EncryptedCheck {
    /// Lowest accepted Shannon entropy of all wire payload bytes, bits per byte.
    #[serde(default)]
    pub(crate) min_entropy: Option<f64>,
}

/// Parameters of `counter`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CounterCheck {
    /// Which end's data plane.
    pub(crate) side: Side,
    /// Counter name, e.g. `encrypted`, `dropped_nokey`.
    pub(crate) name: Spanned<String>,
    /// Smallest accepted value.
    #[serde(default)]
    pub(crate) min: Option<u64>,
    /// Largest accepted value.
    #[serde(default)]
    pub(crate) max: Option<u64>,
}

/// `wireguard:`: the two ends of a `mode: wireguard` tunnel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireGuard {
    /// The left end.
    pub(crate) left: WgEnd,
    /// The right end.
    pub(crate) right: WgEnd,
    /// A preshared key, base64 (as `wg genpsk` prints it); none by default.
    #[serde(default)]
    pub(crate) preshared_key: Option<Spanned<String>>,
    /// A new handshake after a session is this old (REKEY_AFTER_TIME,
    /// 120 s); a scenario shortens it to rekey under traffic.
    #[serde(default)]
    pub(crate) rekey_after_time_ms: Option<Spanned<u64>>,
    /// A new handshake after this many messages sent (REKEY_AFTER_MESSAGES).
    #[serde(default)]
    pub(crate) rekey_after_messages: Option<Spanned<u64>>,
    /// A session is dropped at this age (REJECT_AFTER_TIME, 180 s).
    #[serde(default)]
    pub(crate) reject_after_time_ms: Option<Spanned<u64>>,
}

/// One end of a WireGuard tunnel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WgEnd {
    /// Its tunnel address with prefix, e.g. `10.77.0.1/24`.
    pub(crate) address: Spanned<String>,
    /// The UDP port it listens on (default 51820).
    #[serde(default)]
    pub(crate) listen_port: Option<Spanned<u16>>,
    /// Its private key, base64 (as `wg genkey` prints it); generated per
    /// run when absent.
    #[serde(default)]
    pub(crate) private_key: Option<Spanned<String>>,
    /// What its peer accepts from it and routes to it (default: its
    /// tunnel address alone).
    #[serde(default)]
    pub(crate) allowed_ips: Option<Vec<Spanned<String>>>,
}
