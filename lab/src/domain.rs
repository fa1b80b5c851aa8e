//! The shared vocabulary: ends of the topology, addresses, ciphers, data
//! plane builds and bench variants. Every other module may use these; this
//! one uses nothing else of the crate.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// A job the kernel under test cannot run, found out while running it
/// (e.g. no veth driver, or a scenario that needs the kernel's ESP on a
/// kernel without it): the run ends as `unsupported` (exit 3) with this
/// reason, which names the missing feature, not as a failure.
///
/// The one "unsupported" of the crate: the typed errors of xfrm, WireGuard
/// and a kernel's config carry it as their `Unsupported` variant (matched
/// by pattern); in an `anyhow` chain [`Unsupported::in_chain`] finds it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub(crate) String);

impl Unsupported {
    /// The `Unsupported` anywhere in an `anyhow` error's chain.
    pub(crate) fn of(e: &anyhow::Error) -> Option<&Unsupported> {
        e.chain().find_map(Self::in_chain)
    }

    /// The `Unsupported` in `e` or in the chain of its sources, if any.
    pub(crate) fn in_chain<'a>(
        mut e: &'a (dyn std::error::Error + 'static),
    ) -> Option<&'a Unsupported> {
        loop {
            if let Some(u) = e.downcast_ref::<Unsupported>() {
                return Some(u);
            }
            e = e.source()?;
        }
    }
}

/// Which end of the veth a step or check refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Side {
    /// The left namespace (its veth is captured).
    Left,
    /// The right namespace.
    Right,
}

impl Side {
    /// Both ends, left first.
    pub(crate) const BOTH: [Side; 2] = [Side::Left, Side::Right];

    /// 0 for left, 1 for right: the index of per-end arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Side::Left => 0,
            Side::Right => 1,
        }
    }

    /// The other end.
    pub(crate) fn peer(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }

    /// `left` or `right`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }
}

/// An IPv4 interface address with prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IfAddr {
    /// The address.
    pub(crate) addr: Ipv4Addr,
    /// Prefix length.
    pub(crate) prefix: u8,
}

impl IfAddr {
    /// Parses `198.18.0.1/24`: an IPv4 unicast address with a prefix length
    /// of 1..=30. The error says what is wrong, for the caller to locate.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
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

    /// The network mask of the prefix.
    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    /// The network number (address under the prefix mask).
    pub(crate) fn network(self) -> u32 {
        u32::from(self.addr) & self.mask()
    }

    /// Whether the address is its subnet's network or broadcast address
    /// (no host may use them): `Some("network")`, `Some("broadcast")`.
    pub(crate) fn reserved(self) -> Option<&'static str> {
        let host = u32::from(self.addr) & !self.mask();
        if host == 0 {
            Some("network")
        } else if host == !self.mask() {
            Some("broadcast")
        } else {
            None
        }
    }

    /// The network as an address (`198.18.0.0` for `198.18.0.1/24`).
    pub(crate) fn network_addr(self) -> Ipv4Addr {
        Ipv4Addr::from(self.network())
    }
}

impl std::fmt::Display for IfAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The ciphers of the data plane: the `bpf_crypto` skciphers, and
/// ChaCha20-Poly1305 in BPF C (WireGuard's; no kfunc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum Algorithm {
    /// `cbc(aes)`: random per-packet IV carried on the wire.
    #[serde(rename = "cbc(aes)")]
    CbcAes,
    /// `ecb(aes)`: no IV; identical blocks give identical ciphertext.
    #[serde(rename = "ecb(aes)")]
    EcbAes,
    /// ChaCha20-Poly1305 (RFC 8439), the AEAD of WireGuard's transport:
    /// its nonce is the message counter, no IV on the wire.
    #[serde(rename = "chacha20-poly1305")]
    ChaCha20Poly1305,
}

impl Algorithm {
    /// Every cipher.
    const ALL: [Algorithm; 3] = [
        Algorithm::CbcAes,
        Algorithm::EcbAes,
        Algorithm::ChaCha20Poly1305,
    ];

    /// Its name in files: the kernel crypto API name of a `bpf_crypto`
    /// cipher (`cbc(aes)`); `chacha20-poly1305`, which no kfunc runs.
    pub(crate) fn kernel_name(self) -> &'static str {
        match self {
            Algorithm::CbcAes => "cbc(aes)",
            Algorithm::EcbAes => "ecb(aes)",
            Algorithm::ChaCha20Poly1305 => "chacha20-poly1305",
        }
    }

    /// Parses a name in files.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.kernel_name() == name)
    }

    /// The key length the lab keys it with when nothing names one (the
    /// fuzzer): AES-128, and ChaCha20's only one.
    pub(crate) fn default_key_len(self) -> usize {
        match self {
            Algorithm::CbcAes | Algorithm::EcbAes => 16,
            Algorithm::ChaCha20Poly1305 => 32,
        }
    }

    /// The kernel name with `driver` as its block cipher, e.g.
    /// `cbc(aes-generic)`.
    pub(crate) fn with_driver(self, driver: &str) -> String {
        let mode = self.kernel_name().split('(').next().unwrap_or_default();
        format!("{mode}({driver})")
    }

    /// IV bytes per packet on the wire.
    pub(crate) fn iv_len(self) -> u32 {
        match self {
            Algorithm::CbcAes => 16,
            Algorithm::EcbAes | Algorithm::ChaCha20Poly1305 => 0,
        }
    }
}

/// Cipher and key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CipherSpec {
    /// Algorithm.
    pub(crate) algorithm: Algorithm,
    /// Raw key, 16 or 32 bytes.
    pub(crate) key: Vec<u8>,
}

/// One of the two TC programs of the data plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Direction {
    /// `encrypt_egress`.
    Egress,
    /// `decrypt_ingress`.
    Ingress,
}

impl Direction {
    /// `egress` or `ingress`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Direction::Egress => "egress",
            Direction::Ingress => "ingress",
        }
    }
}

/// The wire format of the data plane, by its name in files (`cipher.mode`).
/// Only a format makes its own (`dataplane::format::WireFormat::mode`);
/// `dataplane::format::of` maps it back to the format, which owns
/// everything else about it, and parsing, serde and the default are the
/// formats' list's (`format/names.rs`). Nothing else branches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Mode(&'static str);

impl Mode {
    /// The handle of the format named `name` (a format's own name).
    pub(crate) const fn named(name: &'static str) -> Self {
        Mode(name)
    }

    /// The name in files: `raw`, `esp`, `wireguard`.
    pub(crate) fn as_str(self) -> &'static str {
        self.0
    }
}

/// What protects one end's traffic: the data plane or the kernel's own
/// stack of the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Stack {
    /// The lab's BPF data plane.
    #[default]
    Bpf,
    /// The kernel's own IPsec (xfrm states and policies), the independent peer.
    Xfrm,
    /// The kernel's WireGuard (a `wireguard` link), the independent peer.
    Wireguard,
}

impl Stack {
    /// `bpf` or `xfrm`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stack::Bpf => "bpf",
            Stack::Xfrm => "xfrm",
            Stack::Wireguard => "wireguard",
        }
    }
}

/// A build of the data plane (one embedded BPF object). Its name and
/// object are `dataplane::object`'s, a wire format's builds the format's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Build {
    /// A wire format's crypto build: the payload bounced through scratch
    /// buffers, or encrypted in place on the packet.
    Cipher {
        /// The wire format.
        format: Mode,
        /// In place instead of bounced.
        in_place: bool,
    },
    /// Bounce the payload through the scratch buffers, no crypto.
    Copy,
    /// Attach only.
    Noop,
}

impl Build {
    /// The crypto build of a wire format, bounced or in place.
    pub(crate) fn of(format: Mode, in_place: bool) -> Self {
        Build::Cipher { format, in_place }
    }
}

/// What a bench runs on the packets: the lab's data plane in one of its
/// builds, or what a user would pick instead (the kernel's ESP and
/// WireGuard), or nothing (the baseline). Its names in files and reports
/// (`as_str`, `parse`, serde, the list of all) come from the wire formats
/// (`dataplane::format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BenchVariant {
    /// No program attached (end-to-end baseline).
    NoProgram,
    /// Programs attached that return at once.
    Noop,
    /// Payload copied through the scratch buffers, no crypto.
    Copy,
    /// The lab's data plane in a wire format with a cipher.
    Lab {
        /// The wire format.
        format: Mode,
        /// The cipher it is keyed with.
        algorithm: Algorithm,
        /// The in-place build instead of the bounce one.
        in_place: bool,
    },
    /// A kernel stack.
    Kernel(KernelStack),
}

/// A kernel stack a bench variant stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum KernelStack {
    /// xfrm ESP transport mode with AES-CBC + AES-CMAC-96.
    EspCbcCmac,
    /// xfrm ESP transport mode with AES-GCM (RFC 4106).
    EspGcm,
    /// A WireGuard interface pair.
    WireGuard,
}

impl KernelStack {
    /// Every kernel stack, in report order.
    pub(crate) const ALL: [KernelStack; 3] = [Self::EspCbcCmac, Self::EspGcm, Self::WireGuard];

    /// Name as written in files and reports.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::EspCbcCmac => "xfrm cbc+cmac",
            Self::EspGcm => "xfrm gcm",
            Self::WireGuard => "wireguard",
        }
    }
}

/// The kernel's stacks by the names plans, reports and tests use (a
/// format's variants are named in its module).
#[allow(non_upper_case_globals)]
impl BenchVariant {
    /// The kernel's ESP with `cbc(aes)` + `cmac(aes)`, our ESP's algorithms.
    pub(crate) const XfrmCbcCmac: Self = Self::Kernel(KernelStack::EspCbcCmac);
    /// The kernel's ESP with `rfc4106(gcm(aes))`, the AEAD a user would pick.
    pub(crate) const XfrmGcm: Self = Self::Kernel(KernelStack::EspGcm);
    /// The kernel's WireGuard.
    pub(crate) const WireGuard: Self = Self::Kernel(KernelStack::WireGuard);
}

impl BenchVariant {
    /// The data plane build to load, if the variant is the lab's.
    pub(crate) fn build(self) -> Option<Build> {
        match self {
            Self::NoProgram | Self::Kernel(_) => None,
            Self::Noop => Some(Build::Noop),
            Self::Copy => Some(Build::Copy),
            Self::Lab {
                format, in_place, ..
            } => Some(Build::Cipher { format, in_place }),
        }
    }

    /// The bounced build of the same format and cipher, if the variant is
    /// an in-place one.
    pub(crate) fn bounced_twin(self) -> Option<Self> {
        match self {
            Self::Lab {
                format,
                algorithm,
                in_place: true,
            } => Some(Self::Lab {
                format,
                algorithm,
                in_place: false,
            }),
            _ => None,
        }
    }

    /// The kernel stack the variant stands for, if it is not the lab's.
    pub(crate) fn kernel_stack(self) -> Option<KernelStack> {
        match self {
            Self::Kernel(k) => Some(k),
            _ => None,
        }
    }

    /// The cipher a crypto variant of the lab's data plane is keyed with.
    pub(crate) fn algorithm(self) -> Option<Algorithm> {
        match self {
            Self::Lab { algorithm, .. } => Some(algorithm),
            _ => None,
        }
    }
}

/// Data plane counter values summed over CPUs, by name.
pub(crate) type Counters = BTreeMap<String, u64>;

/// The counters that count a packet the data plane dropped (every
/// format; WireGuard's `keepalives` are dropped by design, not counted
/// here): none of them may move on a path that works.
pub(crate) const DROP_COUNTERS: &[&str] = &[
    "dropped_nokey",
    "dropped_unsupported",
    "dropped_invalid",
    "errors",
    "auth_failed",
    "replayed",
    "unknown_spi",
    "seq_exhausted",
    "not_allowed",
    "expired",
];

/// Decodes an even-length hex string (whitespace and `:` ignored): keys
/// and bytes as scenario files write them, and test vectors.
pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
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

/// A test vector written in hex (the unit tests' one reader of them).
#[cfg(test)]
pub(crate) fn hex(s: &str) -> Vec<u8> {
    decode_hex(s).expect("a hex test vector")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_name_their_network() {
        let a = IfAddr::parse("198.18.0.7/24").unwrap();
        assert_eq!(a.network_addr(), Ipv4Addr::new(198, 18, 0, 0));
        assert_eq!(a.to_string(), "198.18.0.7/24");
        assert!(IfAddr::parse("198.18.0.7").unwrap_err().contains("prefix"));
        assert!(
            IfAddr::parse("198.18.0.7/31")
                .unwrap_err()
                .contains("1..=30")
        );
        assert!(IfAddr::parse("224.0.0.1/24").is_err());
        assert_eq!(
            IfAddr::parse("198.18.0.255/24").unwrap().reserved(),
            Some("broadcast")
        );
        assert_eq!(
            IfAddr::parse("198.18.0.0/24").unwrap().reserved(),
            Some("network")
        );
        assert_eq!(a.reserved(), None);
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(Algorithm::parse("cbc(aes)"), Some(Algorithm::CbcAes));
        assert_eq!(Algorithm::parse("ctr(aes)"), None);
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::parse(a.kernel_name()), Some(a));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.kernel_name()));
        }
        assert_eq!(Side::Left.peer(), Side::Right);
    }
}
