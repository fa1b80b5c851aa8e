//! Validation: a parsed [`Scenario`] becomes a [`Plan`] that backends run.
//!
//! The plan is plain data (serializable) so it can cross into a VM guest.

use std::net::Ipv4Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dataplane::abi::{BPFCRYPT_OVERHEAD, COUNTER_NAMES};
use crate::scenario::{self, Assertion, Scenario, ScenarioError, Side, Spanned, Step};

/// Default wire MTU of the veth.
pub const DEFAULT_MTU: u32 = 1500;

/// A validated scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// Scenario name.
    pub name: String,
    /// Scenario description.
    pub description: String,
    /// Path of the scenario file as given.
    pub source: String,
    /// Left end address.
    pub left: IfAddr,
    /// Right end address.
    pub right: IfAddr,
    /// Wire MTU of the veth.
    pub mtu: u32,
    /// Cipher and key.
    pub cipher: CipherSpec,
    /// Steps, in order.
    pub steps: Vec<PlanStep>,
    /// Checks.
    pub assertions: Vec<PlanAssertion>,
}

impl Plan {
    /// Address of one end.
    pub fn addr(&self, side: Side) -> IfAddr {
        match side {
            Side::Left => self.left,
            Side::Right => self.right,
        }
    }

    /// Every key the scenario installs, first the initial one.
    pub fn keys(&self) -> Vec<Vec<u8>> {
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

    /// Path MTU inside the tunnel: the wire MTU minus the data plane overhead.
    pub fn inner_mtu(&self) -> u32 {
        self.mtu - BPFCRYPT_OVERHEAD
    }
}

/// An IPv4 interface address with prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IfAddr {
    /// The address.
    pub addr: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
}

impl IfAddr {
    /// Parses `198.18.0.1/24`: an IPv4 unicast address with a prefix length
    /// of 1..=30. The error says what is wrong, for the caller to locate.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (a, p) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` needs a prefix length, e.g. 198.18.0.1/24"))?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("`{a}` is not an IPv4 address"))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| (1..=30).contains(p))
            .ok_or_else(|| format!("prefix length `{p}` must be 1..=30"))?;
        if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() || addr.is_loopback()
        {
            return Err(format!("{addr} cannot be an interface address"));
        }
        Ok(IfAddr { addr, prefix })
    }

    /// The network number (address under the prefix mask).
    pub fn network(self) -> u32 {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        };
        u32::from(self.addr) & mask
    }
}

impl std::fmt::Display for IfAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The supported `bpf_crypto` skcipher algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    /// `cbc(aes)`: random per-packet IV carried on the wire.
    #[serde(rename = "cbc(aes)")]
    CbcAes,
    /// `ecb(aes)`: no IV; identical blocks give identical ciphertext.
    #[serde(rename = "ecb(aes)")]
    EcbAes,
}

impl Algorithm {
    /// Kernel crypto API name.
    pub fn kernel_name(self) -> &'static str {
        match self {
            Algorithm::CbcAes => "cbc(aes)",
            Algorithm::EcbAes => "ecb(aes)",
        }
    }

    /// IV bytes per packet on the wire.
    pub fn iv_len(self) -> u32 {
        match self {
            Algorithm::CbcAes => 16,
            Algorithm::EcbAes => 0,
        }
    }
}

/// Cipher and key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CipherSpec {
    /// Algorithm.
    pub algorithm: Algorithm,
    /// Raw key, 16 or 32 bytes.
    pub key: Vec<u8>,
}

/// A validated step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PlanStep {
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
}

/// What a `wait` step waits for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WaitFor {
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
pub struct UdpPlan {
    /// Sending end.
    pub from: Side,
    /// Payload sizes.
    pub sizes: Vec<u32>,
    /// Datagrams per size.
    pub count: u32,
    /// Milliseconds between datagrams.
    pub interval_ms: u64,
    /// Destination port.
    pub port: u16,
    /// Runs alongside the following steps.
    pub background: bool,
}

/// A validated `tcp` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TcpPlan {
    /// Connecting end.
    pub from: Side,
    /// Bytes to send.
    pub bytes: u64,
    /// Destination port.
    pub port: u16,
    /// Milliseconds before giving up.
    pub timeout_ms: u64,
}

/// A byte pattern at an offset from the IPv4 header, under a mask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PacketMatch {
    /// Offset from the IPv4 header.
    pub offset: u32,
    /// Expected bytes.
    pub value: Vec<u8>,
    /// Mask (same length).
    pub mask: Vec<u8>,
}

impl PacketMatch {
    /// Whether `ip` (a packet from its IPv4 header on) matches.
    pub fn matches(&self, ip: &[u8]) -> bool {
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
pub struct PingPlan {
    /// Sending end.
    pub from: Side,
    /// Requests to send.
    pub count: u32,
    /// ICMP payload size.
    pub size: u32,
    /// Milliseconds between requests.
    pub interval_ms: u64,
    /// Milliseconds to wait for the last reply.
    pub timeout_ms: u64,
}

/// A validated check, with the label shown in the summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanAssertion {
    /// Short label, e.g. `echo_replies`.
    pub name: String,
    /// What to check.
    pub check: Check,
}

/// What an assertion checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Check {
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
}

/// Count and ratio bounds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Ratio {
    /// Only this step's traffic (0-based index), if set.
    pub step: Option<usize>,
    /// Minimum count.
    pub min: Option<u64>,
    /// Maximum count.
    pub max: Option<u64>,
    /// Minimum ratio.
    pub min_ratio: Option<f64>,
    /// Maximum ratio.
    pub max_ratio: Option<f64>,
}

/// Default entropy bound for `payload_encrypted`, bits per byte. Random
/// bytes over a few hundred samples measure about 7.5; the repeated ASCII
/// marker that ping sends measures below 5.
pub const DEFAULT_MIN_ENTROPY: f64 = 7.0;

/// Loads and validates a scenario file.
pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
    let scenario = scenario::load(path)?;
    validate(path, scenario)
}

/// Validates a parsed scenario.
pub fn validate(path: &Path, s: Scenario) -> Result<Plan, ScenarioError> {
    let err = |at: &serde_saphyr::Location, field: &str, msg: String| {
        ScenarioError::at(path, *at, field, msg)
    };
    if s.version.value != 1 {
        return Err(err(
            &s.version.referenced,
            "version",
            format!(
                "unsupported version {}; this lab reads version 1",
                s.version.value
            ),
        ));
    }
    let name = s.name.value.trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(err(
            &s.name.referenced,
            "name",
            format!(
                "`{}` must be non-empty and use only letters, digits, '-', '_' or '.'",
                s.name.value
            ),
        ));
    }
    let left = parse_ifaddr(path, &s.topology.left.address, "topology.left.address")?;
    let right = parse_ifaddr(path, &s.topology.right.address, "topology.right.address")?;
    if left.addr == right.addr {
        return Err(err(
            &s.topology.right.address.referenced,
            "topology.right.address",
            format!("{} is also the left address", right.addr),
        ));
    }
    if left.prefix != right.prefix || left.network() != right.network() {
        return Err(err(
            &s.topology.right.address.referenced,
            "topology.right.address",
            format!("{right} is not in the same subnet as the left end {left}"),
        ));
    }
    let mtu = match &s.topology.mtu {
        None => DEFAULT_MTU,
        Some(m) if (576..=9000).contains(&m.value) => m.value,
        Some(m) => {
            return Err(err(
                &m.referenced,
                "topology.mtu",
                format!("{} is outside 576..=9000", m.value),
            ));
        }
    };
    let cipher = parse_cipher(path, &s.cipher)?;

    let mut steps = Vec::new();
    for (i, step) in s.steps.iter().enumerate() {
        let field = format!("steps[{i}]");
        match &step.value {
            Step::Ping(p) => {
                let count = opt_range(
                    path,
                    &p.count,
                    1,
                    100_000,
                    5,
                    &format!("{field}.ping.count"),
                )?;
                let size = opt_range(path, &p.size, 8, 65_000, 56, &format!("{field}.ping.size"))?;
                let interval_ms = opt_range(
                    path,
                    &p.interval_ms,
                    0,
                    60_000,
                    100,
                    &format!("{field}.ping.interval_ms"),
                )?;
                let timeout_ms = opt_range(
                    path,
                    &p.timeout_ms,
                    1,
                    600_000,
                    2_000,
                    &format!("{field}.ping.timeout_ms"),
                )?;
                steps.push(PlanStep::Ping(PingPlan {
                    from: p.from,
                    count,
                    size,
                    interval_ms,
                    timeout_ms,
                }));
            }
            Step::Udp(u) => {
                let f = format!("{field}.udp");
                let sizes = match &u.sizes {
                    None => vec![64],
                    Some(v) if v.value.is_empty() => {
                        return Err(err(
                            &v.referenced,
                            &format!("{f}.sizes"),
                            "give at least one size".into(),
                        ));
                    }
                    Some(v) => {
                        if let Some(bad) =
                            v.value.iter().find(|s| !(1..=MAX_UDP_PAYLOAD).contains(*s))
                        {
                            return Err(err(
                                &v.referenced,
                                &format!("{f}.sizes"),
                                format!("{bad} is outside 1..={MAX_UDP_PAYLOAD}"),
                            ));
                        }
                        v.value.clone()
                    }
                };
                steps.push(PlanStep::Udp(UdpPlan {
                    from: u.from,
                    sizes,
                    count: opt_range(path, &u.count, 1, 100_000, 3, &format!("{f}.count"))?,
                    interval_ms: opt_range(
                        path,
                        &u.interval_ms,
                        0,
                        60_000,
                        1,
                        &format!("{f}.interval_ms"),
                    )?,
                    port: opt_range(
                        path,
                        &u.port,
                        1,
                        65535,
                        4000 + i as u16,
                        &format!("{f}.port"),
                    )?,
                    background: u.background,
                }));
            }
            Step::Tcp(t) => {
                let f = format!("{field}.tcp");
                steps.push(PlanStep::Tcp(TcpPlan {
                    from: t.from,
                    bytes: opt_range(path, &t.bytes, 1, 1 << 32, 262_144, &format!("{f}.bytes"))?,
                    port: opt_range(
                        path,
                        &t.port,
                        1,
                        65535,
                        5000 + i as u16,
                        &format!("{f}.port"),
                    )?,
                    timeout_ms: opt_range(
                        path,
                        &t.timeout_ms,
                        1,
                        600_000,
                        5_000,
                        &format!("{f}.timeout_ms"),
                    )?,
                }));
            }
            Step::Offloads(o) => steps.push(PlanStep::Offloads {
                sides: o.side.list(),
                tso: o.tso,
                gso: o.gso,
                tx_csum: o.tx_csum,
                gso_max_segs: match &o.gso_max_segs {
                    None => None,
                    Some(v) => Some(opt_range(
                        path,
                        &Some(v.clone()),
                        1,
                        65535,
                        1,
                        &format!("{field}.offloads.gso_max_segs"),
                    )?),
                },
            }),
            Step::Rekey(r) => {
                let f = format!("{field}.rekey");
                let mut keys = Vec::new();
                for (k, v) in r.keys.iter().enumerate() {
                    keys.push(parse_key(
                        path,
                        v,
                        &format!("{f}.keys[{k}]"),
                        cipher.key.len(),
                    )?);
                }
                if keys.is_empty() {
                    keys = vec![cipher.key.iter().map(|b| !b).collect(), cipher.key.clone()];
                }
                steps.push(PlanStep::Rekey {
                    times: opt_range(path, &r.times, 1, 100_000, 10, &format!("{f}.times"))?,
                    interval_ms: opt_range(
                        path,
                        &r.interval_ms,
                        0,
                        60_000,
                        10,
                        &format!("{f}.interval_ms"),
                    )?,
                    keys,
                });
            }
            Step::SetKey(k) => steps.push(PlanStep::SetKey {
                sides: k.side.list(),
                key: parse_key(
                    path,
                    &k.key,
                    &format!("{field}.set_key.key"),
                    cipher.key.len(),
                )?,
            }),
            Step::ClearKey(c) => steps.push(PlanStep::ClearKey {
                sides: c.side.list(),
            }),
            Step::Tamper(t) => {
                let f = format!("{field}.tamper");
                let offset = opt_range(
                    path,
                    &Some(t.offset.clone()),
                    0,
                    2047,
                    0,
                    &format!("{f}.offset"),
                )?;
                let xor = opt_range(path, &t.xor, 1, 255, 0x01, &format!("{f}.xor"))?;
                steps.push(PlanStep::Tamper {
                    side: t.side,
                    offset,
                    xor,
                });
            }
            Step::Wait(w) => {
                let f = format!("{field}.wait");
                let until = match (&w.counter, w.flows_done) {
                    (Some(c), false) => {
                        check_counter_name(path, &c.name, &format!("{f}.counter.name"))?;
                        check_bounds(
                            path,
                            &step.referenced,
                            &format!("{f}.counter"),
                            c.min,
                            c.max,
                        )?;
                        WaitFor::Counter {
                            side: c.side,
                            name: c.name.value.clone(),
                            min: c.min,
                            max: c.max,
                        }
                    }
                    (None, true) => WaitFor::FlowsDone,
                    _ => {
                        return Err(err(
                            &step.referenced,
                            &f,
                            "give exactly one of `counter` or `flows_done: true`".into(),
                        ));
                    }
                };
                let timeout_ms = opt_range(
                    path,
                    &w.timeout_ms,
                    1,
                    600_000,
                    5_000,
                    &format!("{f}.timeout_ms"),
                )?;
                steps.push(PlanStep::Wait { until, timeout_ms });
            }
        }
    }
    if steps.is_empty() {
        return Err(ScenarioError::at(
            path,
            s.name.referenced,
            "steps",
            "a scenario needs at least one step",
        ));
    }

    let mut assertions = Vec::new();
    for (i, a) in s.assertions.iter().enumerate() {
        let field = format!("assertions[{i}]");
        let (name, check) = match &a.value {
            Assertion::EchoReplies(b) => {
                check_bounds(path, &a.referenced, &field, b.min, b.max)?;
                (
                    "echo_replies".to_string(),
                    Check::EchoReplies {
                        min: b.min,
                        max: b.max,
                    },
                )
            }
            Assertion::IpHeaderCleartext {} => {
                ("ip_header_cleartext".into(), Check::IpHeaderCleartext)
            }
            Assertion::PayloadEncrypted(e) => {
                let min_entropy = e.min_entropy.unwrap_or(DEFAULT_MIN_ENTROPY);
                if !(0.0..=8.0).contains(&min_entropy) {
                    return Err(err(
                        &a.referenced,
                        &format!("{field}.payload_encrypted.min_entropy"),
                        format!("{min_entropy} is outside 0..=8 bits per byte"),
                    ));
                }
                (
                    "payload_encrypted".into(),
                    Check::PayloadEncrypted { min_entropy },
                )
            }
            Assertion::PlaintextDelivered {} => {
                ("plaintext_delivered".into(), Check::PlaintextDelivered)
            }
            Assertion::Counter(c) => {
                check_counter_name(path, &c.name, &format!("{field}.counter.name"))?;
                check_bounds(path, &a.referenced, &field, c.min, c.max)?;
                (
                    format!("counter {}.{}", c.side.as_str(), c.name.value),
                    Check::Counter {
                        side: c.side,
                        name: c.name.value.clone(),
                        min: c.min,
                        max: c.max,
                    },
                )
            }
            Assertion::UdpDelivered(r) => (
                "udp_delivered".into(),
                Check::UdpDelivered(ratio(path, &a.referenced, &field, r)?),
            ),
            Assertion::TcpDelivered(r) => (
                "tcp_delivered".into(),
                Check::TcpDelivered(ratio(path, &a.referenced, &field, r)?),
            ),
            Assertion::NoPlaintextOnWire {} => {
                ("no_plaintext_on_wire".into(), Check::NoPlaintextOnWire)
            }
            Assertion::Expect(e) => {
                check_bounds(path, &a.referenced, &field, e.min.or(Some(1)), e.max)?;
                let matches =
                    packet_matches(path, &a.referenced, &format!("{field}.expect"), &e.matches)?;
                (
                    "expect".into(),
                    Check::Expect {
                        from: e.from,
                        matches,
                        min: e.min.or(Some(1)),
                        max: e.max,
                    },
                )
            }
            Assertion::ExpectNone(e) => {
                let matches = packet_matches(
                    path,
                    &a.referenced,
                    &format!("{field}.expect_none"),
                    &e.matches,
                )?;
                (
                    "expect_none".into(),
                    Check::Expect {
                        from: e.from,
                        matches,
                        min: None,
                        max: Some(0),
                    },
                )
            }
            Assertion::RepeatedBlocks(b) => {
                check_bounds(path, &a.referenced, &field, b.min, b.max)?;
                (
                    "repeated_blocks".into(),
                    Check::RepeatedBlocks {
                        min: b.min,
                        max: b.max,
                    },
                )
            }
            Assertion::Oracle(o) => {
                let min_ratio = o.min_ratio.unwrap_or(1.0);
                if !(0.0..=1.0).contains(&min_ratio) {
                    return Err(err(
                        &a.referenced,
                        &format!("{field}.oracle.min_ratio"),
                        format!("{min_ratio} is outside 0..=1"),
                    ));
                }
                ("oracle".into(), Check::Oracle { min_ratio })
            }
            Assertion::KernelLog(k) => (
                "kernel_log".into(),
                Check::KernelLog {
                    max_warnings: k.max_warnings.unwrap_or(0),
                },
            ),
        };
        assertions.push(PlanAssertion { name, check });
    }

    Ok(Plan {
        name,
        description: s.description.trim().to_string(),
        source: path.display().to_string(),
        left,
        right,
        mtu,
        cipher,
        steps,
        assertions,
    })
}

/// Largest UDP payload the lab sends.
pub const MAX_UDP_PAYLOAD: u32 = 65_000;

fn check_counter_name(
    path: &Path,
    name: &Spanned<String>,
    field: &str,
) -> Result<(), ScenarioError> {
    if COUNTER_NAMES.contains(&name.value.as_str()) {
        Ok(())
    } else {
        Err(ScenarioError::at(
            path,
            name.referenced,
            field,
            format!(
                "unknown counter `{}`; known: {}",
                name.value,
                COUNTER_NAMES.join(", ")
            ),
        ))
    }
}

fn parse_key(
    path: &Path,
    v: &Spanned<String>,
    field: &str,
    len: usize,
) -> Result<Vec<u8>, ScenarioError> {
    let key = decode_hex(&v.value)
        .ok_or_else(|| ScenarioError::at(path, v.referenced, field, "key must be hex digits"))?;
    if key.len() != len {
        return Err(ScenarioError::at(
            path,
            v.referenced,
            field,
            format!(
                "key is {} bytes; it must match cipher.key ({len} bytes)",
                key.len()
            ),
        ));
    }
    Ok(key)
}

fn ratio(
    path: &Path,
    at: &serde_saphyr::Location,
    field: &str,
    r: &scenario::RatioBounds,
) -> Result<Ratio, ScenarioError> {
    for v in [r.min_ratio, r.max_ratio].into_iter().flatten() {
        if !(0.0..=1.0).contains(&v) {
            return Err(ScenarioError::at(
                path,
                *at,
                field,
                format!("ratio {v} is outside 0..=1"),
            ));
        }
    }
    if r.min.is_none() && r.max.is_none() && r.min_ratio.is_none() && r.max_ratio.is_none() {
        return Err(ScenarioError::at(
            path,
            *at,
            field,
            "give `min`, `max`, `min_ratio` or `max_ratio`",
        ));
    }
    check_bounds(path, at, field, r.min.or(Some(0)), r.max)?;
    if let (Some(lo), Some(hi)) = (r.min_ratio, r.max_ratio)
        && lo > hi
    {
        return Err(ScenarioError::at(
            path,
            *at,
            field,
            format!("min_ratio {lo} is greater than max_ratio {hi}"),
        ));
    }
    if r.step == Some(0) {
        return Err(ScenarioError::at(
            path,
            *at,
            field,
            "steps are numbered from 1",
        ));
    }
    Ok(Ratio {
        step: r.step.map(|s| s - 1),
        min: r.min,
        max: r.max,
        min_ratio: r.min_ratio,
        max_ratio: r.max_ratio,
    })
}

fn packet_matches(
    path: &Path,
    at: &serde_saphyr::Location,
    field: &str,
    items: &[scenario::ByteMatch],
) -> Result<Vec<PacketMatch>, ScenarioError> {
    if items.is_empty() {
        return Err(ScenarioError::at(
            path,
            *at,
            field,
            "`match` needs at least one pattern",
        ));
    }
    let mut out = Vec::new();
    for (i, m) in items.iter().enumerate() {
        let f = format!("{field}.match[{i}]");
        let value = decode_hex(&m.value.value).ok_or_else(|| {
            ScenarioError::at(
                path,
                m.value.referenced,
                format!("{f}.value"),
                "value must be hex bytes",
            )
        })?;
        let mask = match &m.mask {
            None => vec![0xff; value.len()],
            Some(mk) => {
                let mask = decode_hex(&mk.value).ok_or_else(|| {
                    ScenarioError::at(
                        path,
                        mk.referenced,
                        format!("{f}.mask"),
                        "mask must be hex bytes",
                    )
                })?;
                if mask.len() != value.len() {
                    return Err(ScenarioError::at(
                        path,
                        mk.referenced,
                        format!("{f}.mask"),
                        format!("mask has {} bytes, value has {}", mask.len(), value.len()),
                    ));
                }
                mask
            }
        };
        out.push(PacketMatch {
            offset: m.offset,
            value,
            mask,
        });
    }
    Ok(out)
}

fn parse_ifaddr(path: &Path, v: &Spanned<String>, field: &str) -> Result<IfAddr, ScenarioError> {
    IfAddr::parse(&v.value).map_err(|msg| ScenarioError::at(path, v.referenced, field, msg))
}

fn parse_cipher(path: &Path, c: &scenario::Cipher) -> Result<CipherSpec, ScenarioError> {
    let algorithm = match c.algorithm.value.as_str() {
        "cbc(aes)" => Algorithm::CbcAes,
        "ecb(aes)" => Algorithm::EcbAes,
        other => {
            return Err(ScenarioError::at(
                path,
                c.algorithm.referenced,
                "cipher.algorithm",
                format!(
                    "`{other}` is not supported by the data plane; use `cbc(aes)` or `ecb(aes)` \
                     (the only bpf_crypto skciphers that work; see the capability probe)"
                ),
            ));
        }
    };
    let key = decode_hex(&c.key.value).ok_or_else(|| {
        ScenarioError::at(
            path,
            c.key.referenced,
            "cipher.key",
            "key must be hex digits".to_string(),
        )
    })?;
    if key.len() != 16 && key.len() != 32 {
        return Err(ScenarioError::at(
            path,
            c.key.referenced,
            "cipher.key",
            format!(
                "key is {} bytes; AES needs 16 (32 hex digits) or 32 (64 hex digits)",
                key.len()
            ),
        ));
    }
    Ok(CipherSpec { algorithm, key })
}

/// Decodes an even-length hex string (whitespace and `:` ignored).
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b':')
        .collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

fn opt_range<T>(
    path: &Path,
    v: &Option<Spanned<T>>,
    lo: T,
    hi: T,
    default: T,
    field: &str,
) -> Result<T, ScenarioError>
where
    T: Copy + PartialOrd + std::fmt::Display,
{
    match v {
        None => Ok(default),
        Some(s) if s.value >= lo && s.value <= hi => Ok(s.value),
        Some(s) => Err(ScenarioError::at(
            path,
            s.referenced,
            field,
            format!("{} is outside {lo}..={hi}", s.value),
        )),
    }
}

fn check_bounds(
    path: &Path,
    at: &serde_saphyr::Location,
    field: &str,
    min: Option<u64>,
    max: Option<u64>,
) -> Result<(), ScenarioError> {
    match (min, max) {
        (None, None) => Err(ScenarioError::at(
            path,
            *at,
            field,
            "give `min`, `max` or both",
        )),
        (Some(lo), Some(hi)) if lo > hi => Err(ScenarioError::at(
            path,
            *at,
            field,
            format!("min {lo} is greater than max {hi}"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
version: 1
name: t
topology:
  left:  { address: 198.18.0.1/24 }
  right: { address: 198.18.0.2/24 }
cipher:
  algorithm: cbc(aes)
  key: 000102030405060708090a0b0c0d0e0f
steps:
  - ping: { from: left, count: 3 }
assertions:
  - echo_replies: { min: 3 }
  - payload_encrypted: {}
  - counter: { side: right, name: decrypted, min: 3 }
";

    fn check(text: &str) -> Result<Plan, ScenarioError> {
        let path = Path::new("s.yaml");
        validate(path, scenario::parse(path, text)?)
    }

    fn err(text: &str) -> String {
        check(text).unwrap_err().to_string()
    }

    #[test]
    fn good_scenario_validates_with_defaults() {
        let p = check(GOOD).unwrap();
        assert_eq!(p.mtu, DEFAULT_MTU);
        assert_eq!(p.inner_mtu(), DEFAULT_MTU - BPFCRYPT_OVERHEAD);
        assert_eq!(p.cipher.algorithm, Algorithm::CbcAes);
        assert_eq!(p.cipher.key.len(), 16);
        let PlanStep::Ping(ping) = &p.steps[0] else {
            panic!("first step is a ping")
        };
        assert_eq!((ping.count, ping.size, ping.from), (3, 56, Side::Left));
        assert!(
            matches!(p.assertions[1].check, Check::PayloadEncrypted { min_entropy } if min_entropy == DEFAULT_MIN_ENTROPY)
        );
        assert_eq!(p.assertions[2].name, "counter right.decrypted");
    }

    #[test]
    fn unknown_field_is_located() {
        let e = err(&GOOD.replace("198.18.0.2/24 }", "198.18.0.2/24, colour: red }"));
        assert!(e.starts_with("s.yaml:5:"), "{e}");
        assert!(e.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn bad_values_name_file_line_and_field() {
        let cases = [
            (
                "198.18.0.2/24 }",
                "198.18.0.300/24 }",
                "s.yaml:5:",
                "topology.right.address",
            ),
            (
                "198.18.0.2/24 }",
                "198.18.0.1/24 }",
                "s.yaml:5:",
                "topology.right.address",
            ),
            (
                "198.18.0.2/24 }",
                "198.18.1.2/24 }",
                "s.yaml:5:",
                "same subnet",
            ),
            ("cbc(aes)", "ctr(aes)", "s.yaml:7:", "cipher.algorithm"),
            ("0e0f\n", "0e\n", "s.yaml:8:", "cipher.key"),
            ("0e0f\n", "0e0g\n", "s.yaml:8:", "hex"),
            ("count: 3", "count: 0", "s.yaml:10:", "steps[0].ping.count"),
            (
                "name: decrypted",
                "name: decryptd",
                "s.yaml:14:",
                "unknown counter `decryptd`",
            ),
            ("version: 1", "version: 2", "s.yaml:1:", "version"),
        ];
        for (from, to, at, what) in cases {
            let e = err(&GOOD.replace(from, to));
            assert!(e.starts_with(at) && e.contains(what), "{from} -> {to}: {e}");
        }
    }

    #[test]
    fn type_errors_and_bounds_are_rejected() {
        assert!(err(&GOOD.replace("count: 3", "count: many")).starts_with("s.yaml:10:"));
        assert!(
            err(&GOOD.replace("{ min: 3 }\n  - payload", "{}\n  - payload")).contains("give `min`")
        );
        assert!(err(&GOOD.replace("from: left", "from: middle")).contains("middle"));
        assert!(
            err(&GOOD.replace(
                "payload_encrypted: {}",
                "payload_encrypted: { min_entropy: 9 }"
            ))
            .contains("0..=8")
        );
    }

    #[test]
    fn hex_decoding() {
        assert_eq!(decode_hex("00:ff 10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex(""), None);
    }

    #[test]
    fn shipped_scenarios_validate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "yaml")
                && !path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("bench")
            {
                load(&path).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 1);
    }
}
