//! The folds of a plan's wire checks: the capture is read once, and each
//! packet goes to the fold of every check that looks at packets. A fold
//! keeps counts and a few examples, so memory does not grow with the
//! capture.

use super::observations::Observations;
use super::oracle::Oracle;
use super::uniqueness::{Ivs, Sequences};
use super::verdict::Judged;
use super::wire::{Headers, Leaks, Matching, Repeated};
use crate::exec::analysis::wire::{WirePacket, WireSummary};
use crate::spec::plan::{Check, PlanAssertion};

/// What one wire check folds from the packets.
#[derive(Debug)]
pub(crate) enum Fold<'a> {
    /// `ip_header_cleartext`.
    Headers(Headers),
    /// `payload_encrypted`.
    Leaks(Leaks<'a>),
    /// `expect`, `expect_none`.
    Matching(Matching<'a>),
    /// `repeated_blocks`.
    Repeated(Repeated),
    /// `oracle`: the shared reading ([`WireFolds`]) judged at a ratio.
    Oracle(f64),
    /// `keys_used`: the shared reading, by key.
    KeysUsed,
    /// `unique_ivs`.
    Ivs(Ivs),
    /// `esp_sequence`.
    Sequences(Sequences),
}

impl<'a> Fold<'a> {
    /// The fold of `check`; `None` for a check that looks at no packet.
    fn of(check: &'a Check, obs: &'a Observations) -> Option<Self> {
        Some(match check {
            Check::IpHeaderCleartext => Fold::Headers(Headers::new(obs)),
            Check::PayloadEncrypted { min_entropy } => Fold::Leaks(Leaks::new(obs, *min_entropy)),
            Check::Expect {
                from,
                matches,
                min,
                max,
            } => Fold::Matching(Matching::new(obs, *from, matches, (*min, *max))),
            Check::RepeatedBlocks { min, max } => Fold::Repeated(Repeated::new(obs, (*min, *max))),
            Check::Oracle { min_ratio } => Fold::Oracle(*min_ratio),
            Check::KeysUsed => Fold::KeysUsed,
            Check::UniqueIvs => Fold::Ivs(Ivs::new(obs)),
            Check::EspSequence => Fold::Sequences(Sequences::new(obs)),
            _ => return None,
        })
    }

    fn add(&mut self, p: &WirePacket) {
        match self {
            Fold::Headers(f) => f.add(p),
            Fold::Leaks(f) => f.add(p),
            Fold::Matching(f) => f.add(p),
            Fold::Repeated(f) => f.add(p),
            Fold::Oracle(_) | Fold::KeysUsed => {}
            Fold::Ivs(f) => f.add(p),
            Fold::Sequences(f) => f.add(p),
        }
    }

    /// The check's finding, once every packet was folded in (`oracle`:
    /// the one reading the oracle checks share).
    fn judge(&self, wire: &WireSummary, oracle: Option<&Oracle>) -> Judged {
        match self {
            Fold::Headers(f) => f.judge(wire),
            Fold::Leaks(f) => f.judge(wire),
            Fold::Matching(f) => f.judge(),
            Fold::Repeated(f) => f.judge(wire),
            Fold::Oracle(min_ratio) => {
                (oracle.expect("an oracle fold reads")).judge(wire, *min_ratio)
            }
            Fold::KeysUsed => (oracle.expect("an oracle fold reads")).judge_keys(),
            Fold::Ivs(f) => f.judge(),
            Fold::Sequences(f) => f.judge(),
        }
    }
}

/// One fold per assertion (`None` for those that look at no packet), and
/// one reference reading of every packet that the oracle checks (`oracle`,
/// `keys_used`) share: each packet is decrypted once, with every key.
#[derive(Debug)]
pub(crate) struct WireFolds<'a> {
    folds: Vec<Option<Fold<'a>>>,
    oracle: Option<Box<Oracle<'a>>>,
}

impl<'a> WireFolds<'a> {
    pub(crate) fn new(checks: &'a [PlanAssertion], obs: &'a Observations) -> Self {
        let folds: Vec<Option<Fold>> = checks.iter().map(|a| Fold::of(&a.check, obs)).collect();
        let reads = (folds.iter().flatten()).any(|f| matches!(f, Fold::Oracle(_) | Fold::KeysUsed));
        Self {
            folds,
            oracle: reads.then(|| Box::new(Oracle::new(obs))),
        }
    }

    /// Hands one packet to every fold.
    pub(crate) fn packet(&mut self, p: &WirePacket) {
        for f in self.folds.iter_mut().flatten() {
            f.add(p);
        }
        if let Some(o) = &mut self.oracle {
            o.add(p);
        }
    }

    /// The finding of assertion `i`, if it looks at packets.
    pub(crate) fn judge(&self, i: usize, wire: &WireSummary) -> Option<Judged> {
        let f = self.folds.get(i)?.as_ref()?;
        Some(f.judge(wire, self.oracle.as_deref()))
    }
}
