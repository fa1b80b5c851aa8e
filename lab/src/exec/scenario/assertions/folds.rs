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
    /// `oracle`.
    Oracle(Box<Oracle<'a>>),
    /// `keys_used`: the oracle's reading, by key.
    KeysUsed(Box<Oracle<'a>>),
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
            Check::Oracle { min_ratio } => Fold::Oracle(Box::new(Oracle::new(obs, *min_ratio))),
            Check::KeysUsed => Fold::KeysUsed(Box::new(Oracle::new(obs, 0.0))),
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
            Fold::Oracle(f) | Fold::KeysUsed(f) => f.add(p),
            Fold::Ivs(f) => f.add(p),
            Fold::Sequences(f) => f.add(p),
        }
    }

    /// The check's finding, once every packet was folded in.
    pub(crate) fn judge(&self, wire: &WireSummary) -> Judged {
        match self {
            Fold::Headers(f) => f.judge(wire),
            Fold::Leaks(f) => f.judge(wire),
            Fold::Matching(f) => f.judge(),
            Fold::Repeated(f) => f.judge(wire),
            Fold::Oracle(f) => f.judge(wire),
            Fold::KeysUsed(f) => f.judge_keys(),
            Fold::Ivs(f) => f.judge(),
            Fold::Sequences(f) => f.judge(),
        }
    }
}

/// One fold per assertion (`None` for those that look at no packet).
#[derive(Debug)]
pub(crate) struct WireFolds<'a> {
    folds: Vec<Option<Fold<'a>>>,
}

impl<'a> WireFolds<'a> {
    pub(crate) fn new(checks: &'a [PlanAssertion], obs: &'a Observations) -> Self {
        Self {
            folds: checks.iter().map(|a| Fold::of(&a.check, obs)).collect(),
        }
    }

    /// Hands one packet to every fold.
    pub(crate) fn packet(&mut self, p: &WirePacket) {
        for f in self.folds.iter_mut().flatten() {
            f.add(p);
        }
    }

    /// The fold of assertion `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&Fold<'a>> {
        self.folds.get(i).and_then(|f| f.as_ref())
    }
}
