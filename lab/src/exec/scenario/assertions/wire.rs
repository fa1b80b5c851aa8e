//! Checks of what an observer on the wire saw.

use super::bounds;
use super::observations::Observations;
use super::verdict::Judged;
use crate::domain::Side;
use crate::exec::analysis::oracle;
use crate::exec::analysis::wire::WirePacket;
use crate::spec::plan::PacketMatch;

/// Every IPv4 header on the wire well formed, checksummed and addressed
/// as planned (and at least one packet).
pub(crate) fn ip_header_cleartext(obs: &Observations) -> Judged {
    let n = obs.wire.ipv4.len();
    let ours = |ip| obs.addresses.iter().any(|a| a.addr == ip);
    let bad: Vec<String> = obs
        .wire
        .ipv4
        .iter()
        .enumerate()
        .filter(|(_, p)| !(p.header_ok && p.checksum_ok && ours(p.src) && ours(p.dst)))
        .map(|(i, p)| {
            format!(
                "#{i} {}→{} header_ok={} checksum_ok={}",
                p.src, p.dst, p.header_ok, p.checksum_ok
            )
        })
        .collect();
    let o = if bad.is_empty() {
        format!("{n} IPv4 packets, all valid")
    } else {
        format!(
            "{} of {n} invalid: {}",
            bad.len(),
            bad.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
        )
    };
    Judged::new(
        "every IPv4 header valid, checksummed, addressed as planned (≥ 1 packet)".into(),
        o,
        n > 0 && bad.is_empty(),
    )
}

/// No plaintext (marker or a sent payload) on the wire and high entropy.
pub(crate) fn payload_encrypted(obs: &Observations, min_entropy: f64) -> Judged {
    let n = obs.wire.ipv4.len();
    let plaintexts: Vec<Vec<u8>> = obs
        .pings
        .iter()
        .flat_map(|(_, p)| p.payloads.iter().filter(|d| d.len() >= 8).cloned())
        .collect();
    let markers = obs.wire.marker_leaks();
    let copies = obs.wire.plaintext_leaks(&plaintexts);
    let entropy = obs.wire.payload_entropy();
    let o = format!(
        "{n} packets, {markers} with the marker, {copies} carrying a sent plaintext, entropy {entropy:.2} bits/byte"
    );
    Judged::new(
        format!("no plaintext on the wire, entropy >= {min_entropy:.2} bits/byte"),
        o,
        n > 0 && markers == 0 && copies == 0 && entropy >= min_entropy,
    )
}

/// The marker never on the wire (no packets is a pass).
pub(crate) fn no_plaintext_on_wire(obs: &Observations) -> Judged {
    let n = obs.wire.ipv4.len();
    let leaks = obs.wire.marker_leaks();
    Judged::new(
        "the marker never on the wire".into(),
        format!("{leaks} of {n} packets carry the marker"),
        leaks == 0,
    )
}

/// Wire packets (from one end, or any) matching every pattern, counted.
pub(crate) fn expect(
    obs: &Observations,
    from: Option<Side>,
    matches: &[PacketMatch],
    (min, max): (Option<u64>, Option<u64>),
) -> Judged {
    let n = obs
        .wire
        .ipv4
        .iter()
        .filter(|p| sent_by(obs, from, p) && matches.iter().all(|m| m.matches(&p.ip)))
        .count() as u64;
    let side = from
        .map(|s| format!(" from {}", s.as_str()))
        .unwrap_or_default();
    Judged::new(
        format!("matching packets{side} {}", bounds::text(min, max)),
        format!("{n} matching"),
        bounds::within(n, min, max),
    )
}

/// Packets with a repeated ciphertext block, counted.
pub(crate) fn repeated_blocks(obs: &Observations, min: Option<u64>, max: Option<u64>) -> Judged {
    let Some(alg) = obs.algorithm else {
        return Judged::new("a cipher".into(), "no cipher".into(), false);
    };
    let n = obs
        .wire
        .ipv4
        .iter()
        .filter(|p| oracle::repeated_blocks(alg, &p.payload) > 0)
        .count() as u64;
    Judged::new(
        format!(
            "packets with a repeated ciphertext block {}",
            bounds::text(min, max)
        ),
        format!("{n} of {} packets", obs.wire.ipv4.len()),
        bounds::within(n, min, max),
    )
}

fn sent_by(obs: &Observations, side: Option<Side>, p: &WirePacket) -> bool {
    match side {
        None => true,
        Some(Side::Left) => obs.addresses.first().is_some_and(|a| a.addr == p.src),
        Some(Side::Right) => obs.addresses.get(1).is_some_and(|a| a.addr == p.src),
    }
}
