//! Checks of what an observer on the wire saw. A check that looks at the
//! packets folds its findings from them one at a time (its fold keeps
//! counts and a few examples, never the packets), then judges them with
//! the capture's summary.

use std::net::Ipv4Addr;

use super::bounds;
use super::observations::Observations;
use super::verdict::Judged;
use crate::domain::{Algorithm, Side};
use crate::exec::analysis::oracle;
use crate::exec::analysis::wire::{WirePacket, WireSummary};
use crate::spec::plan::PacketMatch;

/// Offending packets a finding describes, at most.
const EXAMPLES: usize = 3;

/// `ip_header_cleartext`: headers malformed, badly checksummed or not
/// between the scenario's addresses, counted; the first few described.
#[derive(Debug)]
pub(crate) struct Headers {
    addresses: Vec<Ipv4Addr>,
    bad: u64,
    examples: Vec<String>,
}

impl Headers {
    pub(crate) fn new(obs: &Observations) -> Self {
        Self {
            addresses: obs.addresses.iter().map(|a| a.addr).collect(),
            bad: 0,
            examples: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, p: &WirePacket) {
        let ours = |ip| self.addresses.contains(&ip);
        if p.header_ok && p.checksum_ok && ours(p.src) && ours(p.dst) {
            return;
        }
        self.bad += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(format!(
                "#{} {}→{} header_ok={} checksum_ok={}",
                p.index, p.src, p.dst, p.header_ok, p.checksum_ok
            ));
        }
    }

    /// Every IPv4 header valid (and at least one packet).
    pub(crate) fn judge(&self, wire: &WireSummary) -> Judged {
        let n = wire.ipv4;
        let o = if self.bad == 0 {
            format!("{n} IPv4 packets, all valid")
        } else {
            format!("{} of {n} invalid: {}", self.bad, self.examples.join("; "))
        };
        Judged::new(
            "every IPv4 header valid, checksummed, addressed as planned (≥ 1 packet)".into(),
            o,
            n > 0 && self.bad == 0,
        )
    }
}

/// `payload_encrypted`: packets carrying a sent ICMP plaintext, counted.
#[derive(Debug)]
pub(crate) struct Leaks<'a> {
    min_entropy: f64,
    plaintexts: Vec<&'a [u8]>,
    copies: u64,
}

impl<'a> Leaks<'a> {
    pub(crate) fn new(obs: &'a Observations, min_entropy: f64) -> Self {
        let mut plaintexts: Vec<&[u8]> = obs
            .pings
            .iter()
            .flat_map(|(_, p)| p.payloads.iter())
            .filter(|d| d.len() >= 8)
            .map(|d| d.as_slice())
            .collect();
        // Every request of a step carries the same data: search it once.
        plaintexts.sort_unstable();
        plaintexts.dedup();
        Self {
            min_entropy,
            plaintexts,
            copies: 0,
        }
    }

    pub(crate) fn add(&mut self, p: &WirePacket) {
        let carries = |pt: &&[u8]| {
            p.payload
                .windows(pt.len())
                .any(|w| w[0] == pt[0] && w == *pt)
        };
        self.copies += u64::from(self.plaintexts.iter().any(carries));
    }

    /// No plaintext on the wire, and high entropy.
    pub(crate) fn judge(&self, wire: &WireSummary) -> Judged {
        let (n, markers, copies) = (wire.ipv4, wire.marker_leaks(), self.copies);
        let entropy = wire.payload_entropy();
        let o = format!(
            "{n} packets, {markers} with the marker, {copies} carrying a sent plaintext, entropy {entropy:.2} bits/byte"
        );
        Judged::new(
            format!(
                "no plaintext on the wire, entropy >= {:.2} bits/byte",
                self.min_entropy
            ),
            o,
            n > 0 && markers == 0 && copies == 0 && entropy >= self.min_entropy,
        )
    }
}

/// The marker never on the wire (no packets is a pass).
pub(crate) fn no_plaintext_on_wire(wire: &WireSummary) -> Judged {
    let leaks = wire.marker_leaks();
    Judged::new(
        "the marker never on the wire".into(),
        format!("{leaks} of {} packets carry the marker", wire.ipv4),
        leaks == 0,
    )
}

/// `expect`/`expect_none`: packets (from one end, or any) matching every
/// pattern, counted.
#[derive(Debug)]
pub(crate) struct Matching<'a> {
    from: Option<Side>,
    /// The sending end's address; `None` when `from` names an end the
    /// topology does not have (nothing matches).
    sender: Option<Ipv4Addr>,
    matches: &'a [PacketMatch],
    bounds: (Option<u64>, Option<u64>),
    n: u64,
}

impl<'a> Matching<'a> {
    pub(crate) fn new(
        obs: &Observations,
        from: Option<Side>,
        matches: &'a [PacketMatch],
        bounds: (Option<u64>, Option<u64>),
    ) -> Self {
        let sender = from.and_then(|s| obs.addresses.get(s.index()).map(|a| a.addr));
        Self {
            from,
            sender,
            matches,
            bounds,
            n: 0,
        }
    }

    pub(crate) fn add(&mut self, p: &WirePacket) {
        let sent_by = self.from.is_none() || self.sender == Some(p.src);
        if sent_by && self.matches.iter().all(|m| m.matches(p.ip)) {
            self.n += 1;
        }
    }

    pub(crate) fn judge(&self) -> Judged {
        let (min, max) = self.bounds;
        let side = self
            .from
            .map(|s| format!(" from {}", s.as_str()))
            .unwrap_or_default();
        Judged::new(
            format!("matching packets{side} {}", bounds::text(min, max)),
            format!("{} matching", self.n),
            bounds::within(self.n, min, max),
        )
    }
}

/// `repeated_blocks`: packets with a repeated ciphertext block, counted.
#[derive(Debug)]
pub(crate) struct Repeated {
    algorithm: Option<Algorithm>,
    bounds: (Option<u64>, Option<u64>),
    n: u64,
}

impl Repeated {
    pub(crate) fn new(obs: &Observations, bounds: (Option<u64>, Option<u64>)) -> Self {
        Self {
            algorithm: obs.algorithm,
            bounds,
            n: 0,
        }
    }

    pub(crate) fn add(&mut self, p: &WirePacket) {
        if let Some(alg) = self.algorithm {
            self.n += u64::from(oracle::repeated_blocks(alg, p.payload) > 0);
        }
    }

    pub(crate) fn judge(&self, wire: &WireSummary) -> Judged {
        if self.algorithm.is_none() {
            return Judged::new("a cipher".into(), "no cipher".into(), false);
        }
        let (min, max) = self.bounds;
        Judged::new(
            format!(
                "packets with a repeated ciphertext block {}",
                bounds::text(min, max)
            ),
            format!("{} of {} packets", self.n, wire.ipv4),
            bounds::within(self.n, min, max),
        )
    }
}
