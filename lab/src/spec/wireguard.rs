//! The `wireguard:` section of a `mode: wireguard` scenario: each end's
//! tunnel address, port, key and allowed IPs, the preshared key and the
//! protocol's timers, validated with file:line:column like every field.

use std::net::Ipv4Addr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};

use super::error::SpecError;
use super::fields::Fields;
use super::scenario_file::{WgEnd, WireGuard};
use crate::domain::{IfAddr, Side};

/// The default UDP port of both ends (each in its own namespace).
pub(crate) const DEFAULT_PORT: u16 = 51820;
/// REKEY_AFTER_TIME, REJECT_AFTER_TIME (the WireGuard paper, 6.1).
const REKEY_AFTER_TIME_MS: u64 = 120_000;
const REJECT_AFTER_TIME_MS: u64 = 180_000;
/// REKEY_AFTER_MESSAGES.
const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
/// The most allowed-IP prefixes of an end (`WG_MAX_ALLOWED`).
pub(crate) const MAX_ALLOWED: usize = 8;

/// One end of the tunnel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WgEndSpec {
    /// Tunnel address and prefix.
    pub(crate) address: IfAddr,
    /// UDP port.
    pub(crate) listen_port: u16,
    /// Private key; `None`: generated when the run starts.
    pub(crate) private_key: Option<[u8; 32]>,
    /// What its peer accepts from it and routes to it.
    pub(crate) allowed_ips: Vec<(Ipv4Addr, u8)>,
}

/// A WireGuard scenario's tunnel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WgSpec {
    /// Left, then right.
    pub(crate) ends: [WgEndSpec; 2],
    /// Preshared key (all zeros: none, as WireGuard defines it).
    pub(crate) psk: [u8; 32],
    /// REKEY_AFTER_TIME.
    pub(crate) rekey_after_time_ms: u64,
    /// REKEY_AFTER_MESSAGES.
    pub(crate) rekey_after_messages: u64,
    /// REJECT_AFTER_TIME.
    pub(crate) reject_after_time_ms: u64,
}

impl WgSpec {
    /// The end on `side`.
    pub(crate) fn end(&self, side: Side) -> &WgEndSpec {
        &self.ends[side.index()]
    }
}

/// Validates the section; `underlay` are the veth addresses, whose subnet
/// the tunnel must not share.
pub(crate) fn validate(
    f: &Fields,
    w: &WireGuard,
    underlay: [IfAddr; 2],
) -> Result<WgSpec, SpecError> {
    let left = end(f, &w.left, "wireguard.left")?;
    let right = end(f, &w.right, "wireguard.right")?;
    let (l_at, r_at) = (w.left.address.referenced, w.right.address.referenced);
    for (e, at, field) in [
        (&left, l_at, "wireguard.left.address"),
        (&right, r_at, "wireguard.right.address"),
    ] {
        if underlay.iter().any(|u| u.network() == e.address.network()) {
            return Err(f.err(
                at,
                field,
                format!(
                    "{} is in the veth's subnet; the tunnel needs a subnet of its own",
                    e.address
                ),
            ));
        }
    }
    f.pair(
        (left.address, l_at, "wireguard.left.address"),
        (right.address, r_at, "wireguard.right.address"),
    )?;
    let psk = match &w.preshared_key {
        None => [0; 32],
        Some(k) => key32(f, k, "wireguard.preshared_key")?,
    };
    let rekey_after_time_ms = f.range(
        &w.rekey_after_time_ms,
        100,
        REKEY_AFTER_TIME_MS,
        REKEY_AFTER_TIME_MS,
        "wireguard.rekey_after_time_ms",
    )?;
    let reject_after_time_ms = f.range(
        &w.reject_after_time_ms,
        rekey_after_time_ms + 1,
        REJECT_AFTER_TIME_MS,
        REJECT_AFTER_TIME_MS.max(rekey_after_time_ms + 1),
        "wireguard.reject_after_time_ms",
    )?;
    let rekey_after_messages = f.range(
        &w.rekey_after_messages,
        10,
        REKEY_AFTER_MESSAGES,
        REKEY_AFTER_MESSAGES,
        "wireguard.rekey_after_messages",
    )?;
    Ok(WgSpec {
        ends: [left, right],
        psk,
        rekey_after_time_ms,
        rekey_after_messages,
        reject_after_time_ms,
    })
}

fn end(f: &Fields, e: &WgEnd, field: &str) -> Result<WgEndSpec, SpecError> {
    let address = f.ifaddr(
        &e.address.value,
        e.address.referenced,
        &format!("{field}.address"),
    )?;
    let listen_port = f.range(
        &e.listen_port,
        1,
        u16::MAX,
        DEFAULT_PORT,
        &format!("{field}.listen_port"),
    )?;
    let private_key = e
        .private_key
        .as_ref()
        .map(|k| key32(f, k, &format!("{field}.private_key")))
        .transpose()?;
    let allowed_ips = match &e.allowed_ips {
        None => vec![(address.addr, 32)],
        Some(list) => allowed(f, list, address, &format!("{field}.allowed_ips"))?,
    };
    Ok(WgEndSpec {
        address,
        listen_port,
        private_key,
        allowed_ips,
    })
}

/// Prefixes in `a.b.c.d/n` form, the end's own address among them (its
/// peer must accept what it sends).
fn allowed(
    f: &Fields,
    list: &[Spanned<String>],
    own: IfAddr,
    field: &str,
) -> Result<Vec<(Ipv4Addr, u8)>, SpecError> {
    if list.is_empty() || list.len() > MAX_ALLOWED {
        let at = list.first().map_or(Location::UNKNOWN, |s| s.referenced);
        return Err(f.err(
            at,
            field,
            format!("give 1 to {MAX_ALLOWED} prefixes, e.g. [10.77.0.1/32]"),
        ));
    }
    let mut out = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let p = prefix(&s.value).map_err(|m| f.err(s.referenced, &format!("{field}[{i}]"), m))?;
        out.push(p);
    }
    if !out.iter().any(|&(net, len)| within(own.addr, net, len)) {
        return Err(f.err(
            list[0].referenced,
            field,
            format!(
                "none covers the end's own tunnel address {}: its peer would drop what it sends",
                own.addr
            ),
        ));
    }
    Ok(out)
}

/// `a.b.c.d/n` with no host bits set.
fn prefix(text: &str) -> Result<(Ipv4Addr, u8), String> {
    let (a, p) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` needs a prefix length, e.g. 10.77.0.1/32"))?;
    let addr: Ipv4Addr = a
        .parse()
        .map_err(|_| format!("`{a}` is not an IPv4 address"))?;
    let len: u8 = p
        .parse()
        .ok()
        .filter(|p| *p <= 32)
        .ok_or_else(|| format!("prefix length `{p}` must be 0..=32"))?;
    if u32::from(addr) & !mask(len) != 0 {
        return Err(format!(
            "`{text}` has host bits set; did you mean {}/{len}?",
            Ipv4Addr::from(u32::from(addr) & mask(len))
        ));
    }
    Ok((addr, len))
}

fn mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

/// Whether `addr` lies in `net/len`.
pub(crate) fn within(addr: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    u32::from(addr) & mask(len) == u32::from(net) & mask(len)
}

/// A 32-byte key in base64.
fn key32(f: &Fields, k: &Spanned<String>, field: &str) -> Result<[u8; 32], SpecError> {
    let bytes = STANDARD.decode(k.value.trim()).map_err(|e| {
        f.err(
            k.referenced,
            field,
            format!("is not base64 (as `wg genkey` prints keys): {e}"),
        )
    })?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        f.err(
            k.referenced,
            field,
            format!(
                "is {} bytes; a WireGuard key is 32 (44 base64 characters)",
                b.len()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_parse_and_refuse_host_bits() {
        assert_eq!(prefix("10.0.0.0/8"), Ok((Ipv4Addr::new(10, 0, 0, 0), 8)));
        assert_eq!(prefix("0.0.0.0/0"), Ok((Ipv4Addr::UNSPECIFIED, 0)));
        assert!(prefix("10.0.0.1/8").unwrap_err().contains("10.0.0.0/8"));
        assert!(prefix("10.0.0.1/33").unwrap_err().contains("0..=32"));
        assert!(prefix("10.0.0.1").unwrap_err().contains("prefix length"));
        assert!(within(
            Ipv4Addr::new(10, 1, 2, 3),
            Ipv4Addr::new(10, 0, 0, 0),
            8
        ));
        assert!(!within(
            Ipv4Addr::new(11, 1, 2, 3),
            Ipv4Addr::new(10, 0, 0, 0),
            8
        ));
        assert!(within(Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::UNSPECIFIED, 0));
    }
}

#[cfg(test)]
mod scenario_tests {
    use crate::spec::plan::PlanStep;
    use crate::spec::scenario::tests::{check, err};

    const WG: &str = "\
version: 1
name: w
topology:
  left:  { address: 198.18.0.1/24 }
  right: { address: 198.18.0.2/24 }
cipher:
  mode: wireguard
  algorithm: chacha20-poly1305
wireguard:
  left:  { address: 10.77.0.1/24 }
  right: { address: 10.77.0.2/24, listen_port: 51821, allowed_ips: [10.77.0.2/32, 10.88.0.0/16] }
steps:
  - handshake: { from: left }
  - ping: { from: left, count: 3 }
assertions:
  - echo_replies: { min: 3 }
";

    #[test]
    fn a_wireguard_scenario_validates_with_defaults() {
        let p = check(WG).unwrap();
        assert_eq!(p.wire.mode.as_str(), "wireguard");
        let w = p.wg.as_ref().unwrap();
        assert_eq!(w.ends[0].listen_port, super::DEFAULT_PORT);
        assert_eq!(w.ends[0].allowed_ips, [("10.77.0.1".parse().unwrap(), 32)]);
        assert_eq!(w.ends[1].allowed_ips.len(), 2);
        assert_eq!((w.psk, w.ends[0].private_key), ([0; 32], None));
        assert_eq!(
            p.traffic_addr(crate::domain::Side::Right).addr.octets(),
            [10, 77, 0, 2]
        );
        assert!(matches!(
            p.steps[0],
            PlanStep::Handshake {
                timeout_ms: 10_000,
                ..
            }
        ));
        // Keys in base64, as `wg genkey` prints them.
        let k = "wireguard:\n  preshared_key: AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n  left:  { address: 10.77.0.1/24, private_key: AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI= }";
        let p = check(&WG.replace("wireguard:\n  left:  { address: 10.77.0.1/24 }", k)).unwrap();
        let w = p.wg.unwrap();
        assert_eq!((w.psk, w.ends[0].private_key), ([1; 32], Some([2; 32])));
    }

    #[test]
    fn wireguard_fields_are_located() {
        let cases = [
            // (replace, with, location, field, words)
            (
                "address: 10.77.0.1/24 }",
                "address: 10.77.0.1 }",
                "s.yaml:10:",
                "wireguard.left.address",
                "prefix length",
            ),
            (
                "address: 10.77.0.1/24 }",
                "address: 198.18.0.9/24 }",
                "s.yaml:10:",
                "wireguard.left.address",
                "subnet of its own",
            ),
            (
                "address: 10.77.0.1/24 }",
                "address: 10.78.0.1/24 }",
                "s.yaml:11:",
                "wireguard.right.address",
                "same subnet",
            ),
            (
                "10.88.0.0/16",
                "10.88.0.1/16",
                "s.yaml:11:",
                "wireguard.right.allowed_ips[1]",
                "host bits",
            ),
            (
                "[10.77.0.2/32, 10.88.0.0/16]",
                "[10.88.0.0/16]",
                "s.yaml:11:",
                "wireguard.right.allowed_ips",
                "own tunnel address",
            ),
            (
                "listen_port: 51821",
                "listen_port: 0",
                "s.yaml:11:",
                "wireguard.right.listen_port",
                "",
            ),
            (
                "address: 10.77.0.1/24 }",
                "address: 10.77.0.1/24, private_key: abc }",
                "s.yaml:10:",
                "wireguard.left.private_key",
                "base64",
            ),
            (
                "address: 10.77.0.1/24 }",
                "address: 10.77.0.1/24, private_key: AQID }",
                "s.yaml:10:",
                "wireguard.left.private_key",
                "is 3 bytes",
            ),
            (
                "  algorithm: chacha20-poly1305",
                "  algorithm: chacha20-poly1305\n  key: 00",
                "s.yaml:9:",
                "cipher.key",
                "preshared_key",
            ),
            (
                "  algorithm: chacha20-poly1305",
                "  algorithm: cbc(aes)",
                "s.yaml:8:",
                "cipher.algorithm",
                "chacha20-poly1305",
            ),
        ];
        for (from, to, at, field, words) in cases {
            let e = err(&WG.replacen(from, to, 1));
            assert!(e.starts_with(at), "{from} -> {to}: {e}");
            assert!(
                e.contains(field) && e.contains(words),
                "{from} -> {to}: {e}"
            );
        }
    }

    #[test]
    fn the_section_goes_with_the_format_and_so_do_its_steps() {
        let e = err(&WG.replace("wireguard:\n  left:  { address: 10.77.0.1/24 }\n  right: { address: 10.77.0.2/24, listen_port: 51821, allowed_ips: [10.77.0.2/32, 10.88.0.0/16] }\n", ""));
        assert!(e.contains("`wireguard:` section"), "{e}");
        let raw = WG
            .replace(
                "  mode: wireguard\n  algorithm: chacha20-poly1305",
                "  algorithm: cbc(aes)\n  key: 000102030405060708090a0b0c0d0e0f",
            )
            .replace("  - handshake: { from: left }\n", "");
        let e = err(&raw);
        assert!(
            e.contains("only `mode: wireguard` has a `wireguard:` section"),
            "{e}"
        );
        let e = err(&WG.replace("  - handshake: { from: left }", "  - rekey: { times: 2 }"));
        assert!(
            e.starts_with("s.yaml:13:") && e.contains("`handshake` step"),
            "{e}"
        );
        let e = err(&WG.replace(
            "  - handshake: { from: left }",
            "  - stack: { side: right, use: xfrm }",
        ));
        assert!(e.contains("`wireguard` as the kernel's peer"), "{e}");
        assert!(
            check(&WG.replace(
                "  - handshake: { from: left }",
                "  - stack: { side: right, use: wireguard }"
            ))
            .is_ok()
        );
    }
}
