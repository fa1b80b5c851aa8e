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

/// The `bpf_crypto` skcipher algorithms the data plane supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Algorithm {
    /// `cbc(aes)`: random per-packet IV carried on the wire.
    #[serde(rename = "cbc(aes)")]
    CbcAes,
    /// `ecb(aes)`: no IV; identical blocks give identical ciphertext.
    #[serde(rename = "ecb(aes)")]
    EcbAes,
}

impl Algorithm {
    /// Kernel crypto API name.
    pub(crate) fn kernel_name(self) -> &'static str {
        match self {
            Algorithm::CbcAes => "cbc(aes)",
            Algorithm::EcbAes => "ecb(aes)",
        }
    }

    /// Parses a kernel crypto API name.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        [Algorithm::CbcAes, Algorithm::EcbAes]
            .into_iter()
            .find(|a| a.kernel_name() == name)
    }

    /// IV bytes per packet on the wire.
    pub(crate) fn iv_len(self) -> u32 {
        match self {
            Algorithm::CbcAes => 16,
            Algorithm::EcbAes => 0,
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

/// The wire format of the data plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mode {
    /// The talk's private format: IV (CBC) then the encrypted payload with
    /// PKCS#7 padding, no integrity (`ebpf/crypto_dp.bpf.c`).
    #[default]
    Raw,
    /// IPsec ESP in transport mode with AES-CBC and AES-CMAC-96
    /// (`ebpf/esp_dp.bpf.c`).
    Esp,
}

impl Mode {
    /// `raw` or `esp`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::Raw => "raw",
            Mode::Esp => "esp",
        }
    }
}

/// What protects one end's traffic in ESP mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Stack {
    /// The lab's BPF data plane.
    #[default]
    Bpf,
    /// The kernel's own IPsec (xfrm states and policies), the independent peer.
    Xfrm,
}

impl Stack {
    /// `bpf` or `xfrm`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stack::Bpf => "bpf",
            Stack::Xfrm => "xfrm",
        }
    }
}

/// A build of the data plane (one embedded BPF object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Build {
    /// Raw format, payload bounced through scratch buffers.
    Crypto,
    /// Raw format, encrypted in place on the packet.
    CryptoInPlace,
    /// ESP, payload bounced through scratch buffers.
    Esp,
    /// ESP, encrypted in place on the packet.
    EspInPlace,
    /// Bounce the payload through the scratch buffers, no crypto.
    Copy,
    /// Attach only.
    Noop,
}

impl Build {
    /// Every build (the tests that check each embedded object walk them).
    #[cfg(test)]
    pub(crate) const ALL: [Build; 6] = [
        Build::Crypto,
        Build::CryptoInPlace,
        Build::Esp,
        Build::EspInPlace,
        Build::Copy,
        Build::Noop,
    ];

    /// The crypto build of a wire format, bounced or in place.
    pub(crate) fn of(mode: Mode, in_place: bool) -> Self {
        match (mode, in_place) {
            (Mode::Raw, false) => Build::Crypto,
            (Mode::Raw, true) => Build::CryptoInPlace,
            (Mode::Esp, false) => Build::Esp,
            (Mode::Esp, true) => Build::EspInPlace,
        }
    }

    /// Short name (the object's name).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Build::Crypto => "crypto",
            Build::CryptoInPlace => "crypto_inplace",
            Build::Esp => "esp",
            Build::EspInPlace => "esp_inplace",
            Build::Copy => "copy",
            Build::Noop => "noop",
        }
    }
}

/// What a bench runs on the packets: the lab's data plane in one of its
/// builds, or what a user would pick instead (the kernel's ESP and
/// WireGuard), or nothing (the baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) enum BenchVariant {
    /// No program attached (end-to-end baseline).
    #[serde(rename = "none")]
    NoProgram,
    /// Programs attached that return at once.
    #[serde(rename = "noop")]
    Noop,
    /// Payload copied through the scratch buffers, no crypto.
    #[serde(rename = "copy")]
    Copy,
    /// The raw data plane with `ecb(aes)`.
    #[serde(rename = "ecb(aes)")]
    Ecb,
    /// The raw data plane with `cbc(aes)`.
    #[serde(rename = "cbc(aes)")]
    Cbc,
    /// The raw data plane with `ecb(aes)`, in place.
    #[serde(rename = "ecb(aes) in place")]
    EcbInPlace,
    /// The raw data plane with `cbc(aes)`, in place.
    #[serde(rename = "cbc(aes) in place")]
    CbcInPlace,
    /// The ESP data plane (AES-CBC + AES-CMAC-96).
    #[serde(rename = "esp")]
    Esp,
    /// The ESP data plane, in place.
    #[serde(rename = "esp in place")]
    EspInPlace,
    /// The kernel's ESP with `cbc(aes)` + `cmac(aes)`, our ESP's algorithms.
    #[serde(rename = "xfrm cbc+cmac")]
    XfrmCbcCmac,
    /// The kernel's ESP with `rfc4106(gcm(aes))`, the AEAD a user would pick.
    #[serde(rename = "xfrm gcm")]
    XfrmGcm,
    /// The kernel's WireGuard.
    #[serde(rename = "wireguard")]
    WireGuard,
}

/// A kernel stack a bench variant stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KernelStack {
    /// xfrm ESP transport mode with AES-CBC + AES-CMAC-96.
    EspCbcCmac,
    /// xfrm ESP transport mode with AES-GCM (RFC 4106).
    EspGcm,
    /// A WireGuard interface pair.
    WireGuard,
}

impl BenchVariant {
    /// Every variant, baseline first.
    pub(crate) const ALL: [BenchVariant; 12] = [
        Self::NoProgram,
        Self::Noop,
        Self::Copy,
        Self::Ecb,
        Self::Cbc,
        Self::EcbInPlace,
        Self::CbcInPlace,
        Self::Esp,
        Self::EspInPlace,
        Self::XfrmCbcCmac,
        Self::XfrmGcm,
        Self::WireGuard,
    ];

    /// Name as written in files and reports.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::NoProgram => "none",
            Self::Noop => "noop",
            Self::Copy => "copy",
            Self::Ecb => "ecb(aes)",
            Self::Cbc => "cbc(aes)",
            Self::EcbInPlace => "ecb(aes) in place",
            Self::CbcInPlace => "cbc(aes) in place",
            Self::Esp => "esp",
            Self::EspInPlace => "esp in place",
            Self::XfrmCbcCmac => "xfrm cbc+cmac",
            Self::XfrmGcm => "xfrm gcm",
            Self::WireGuard => "wireguard",
        }
    }

    /// Parses a name.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The data plane build to load, if the variant is the lab's.
    pub(crate) fn build(self) -> Option<Build> {
        match self {
            Self::NoProgram | Self::XfrmCbcCmac | Self::XfrmGcm | Self::WireGuard => None,
            Self::Noop => Some(Build::Noop),
            Self::Copy => Some(Build::Copy),
            Self::Ecb | Self::Cbc => Some(Build::Crypto),
            Self::EcbInPlace | Self::CbcInPlace => Some(Build::CryptoInPlace),
            Self::Esp => Some(Build::Esp),
            Self::EspInPlace => Some(Build::EspInPlace),
        }
    }

    /// The kernel stack the variant stands for, if it is not the lab's.
    pub(crate) fn kernel_stack(self) -> Option<KernelStack> {
        match self {
            Self::XfrmCbcCmac => Some(KernelStack::EspCbcCmac),
            Self::XfrmGcm => Some(KernelStack::EspGcm),
            Self::WireGuard => Some(KernelStack::WireGuard),
            _ => None,
        }
    }

    /// The cipher a crypto variant of the lab's data plane is keyed with.
    pub(crate) fn algorithm(self) -> Option<Algorithm> {
        match self {
            Self::Ecb | Self::EcbInPlace => Some(Algorithm::EcbAes),
            Self::Cbc | Self::CbcInPlace | Self::Esp | Self::EspInPlace => Some(Algorithm::CbcAes),
            _ => None,
        }
    }

    /// Whether it is the lab's ESP data plane.
    pub(crate) fn is_esp(self) -> bool {
        matches!(self, Self::Esp | Self::EspInPlace)
    }
}

/// Data plane counter values summed over CPUs, by name.
pub(crate) type Counters = BTreeMap<String, u64>;

/// The counters that count a packet the data plane dropped (raw and ESP):
/// none of them may move on a path that works.
pub(crate) const DROP_COUNTERS: &[&str] = &[
    "dropped_nokey",
    "dropped_unsupported",
    "dropped_invalid",
    "errors",
    "auth_failed",
    "replayed",
    "unknown_spi",
    "seq_exhausted",
];

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
        for v in BenchVariant::ALL {
            assert_eq!(BenchVariant::parse(v.as_str()), Some(v));
        }
        assert_eq!(Algorithm::parse("cbc(aes)"), Some(Algorithm::CbcAes));
        assert_eq!(Algorithm::parse("ctr(aes)"), None);
        assert_eq!(Side::Left.peer(), Side::Right);
    }
}
