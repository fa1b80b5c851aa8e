use serde::Deserialize;
pub use serde_saphyr::Spanned;

/// A scenario file, version 1.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Format version; must be 1.
    pub version: Spanned<u32>,
    /// Short name, used in the run id.
    pub name: Spanned<String>,
    /// Free text shown in reports.
    #[serde(default)]
    pub description: String,
    /// The two namespaces and the veth between them.
    pub topology: Topology,
    /// Cipher and key provisioned on both ends.
    pub cipher: Cipher,
    /// Traffic and control steps, run in order.
    pub steps: Vec<Spanned<Step>>,
    /// Checks made after the steps ran.
    pub assertions: Vec<Spanned<Assertion>>,
}

/// Two namespaces, `left` and `right`, joined by one veth pair.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// The left end (the one whose veth is captured).
    pub left: Endpoint,
    /// The right end.
    pub right: Endpoint,
    /// Wire MTU of the veth; the inner path MTU is this minus the data plane overhead.
    #[serde(default)]
    pub mtu: Option<Spanned<u32>>,
}

/// One end of the veth.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// IPv4 address with prefix length, e.g. `198.18.0.1/24`.
    pub address: Spanned<String>,
}

/// The cipher and key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cipher {
    /// Kernel crypto algorithm name: `cbc(aes)` or `ecb(aes)`.
    pub algorithm: Spanned<String>,
    /// Key in hex: 32 digits (AES-128) or 64 digits (AES-256).
    pub key: Spanned<String>,
}

/// Which end a step or check refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The left namespace.
    Left,
    /// The right namespace.
    Right,
}

impl Side {
    /// The other end.
    pub fn peer(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }

    /// `left` or `right`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }
}

/// A step of the scenario.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// ICMP echo requests from one end to the other.
    Ping(PingStep),
}

/// `ping:` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingStep {
    /// Sending end.
    pub from: Side,
    /// Number of echo requests.
    #[serde(default)]
    pub count: Option<Spanned<u32>>,
    /// ICMP payload bytes per request (like `ping -s`).
    #[serde(default)]
    pub size: Option<Spanned<u32>>,
    /// Milliseconds between requests.
    #[serde(default)]
    pub interval_ms: Option<Spanned<u64>>,
    /// Milliseconds to wait for the last reply.
    #[serde(default)]
    pub timeout_ms: Option<Spanned<u64>>,
}

/// A check made after the steps.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Assertion {
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
}

/// Inclusive bounds; a missing bound is not checked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// Smallest accepted value.
    #[serde(default)]
    pub min: Option<u64>,
    /// Largest accepted value.
    #[serde(default)]
    pub max: Option<u64>,
}

/// Parameters of `payload_encrypted`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptedCheck {
    /// Lowest accepted Shannon entropy of all wire payload bytes, bits per byte.
    #[serde(default)]
    pub min_entropy: Option<f64>,
}

/// Parameters of `counter`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterCheck {
    /// Which end's data plane.
    pub side: Side,
    /// Counter name, e.g. `encrypted`, `dropped_nokey`.
    pub name: Spanned<String>,
    /// Smallest accepted value.
    #[serde(default)]
    pub min: Option<u64>,
    /// Largest accepted value.
    #[serde(default)]
    pub max: Option<u64>,
}
