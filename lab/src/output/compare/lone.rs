//! Figures only one run has, and why the other has none: its kernel said
//! the variant or driver is unavailable, the point failed its checks, the
//! run did not measure it, or the whole target is missing.

use std::collections::BTreeSet;

use super::figures::{Point, Run, Spread, TargetInfo};
use super::metric;

/// Target, part and point label: what pairs two runs' points.
pub(crate) type Key = (String, String, String);

/// Which run has a figure that the other lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    /// Only the new run.
    Added,
    /// Only the old run.
    Removed,
    /// Neither has a number (both mark it unavailable or failed).
    Neither,
}

/// Figures only one run has (or neither), grouped by point or by target.
#[derive(Debug, Clone)]
pub(crate) struct Lone {
    /// Target.
    pub(crate) target: String,
    /// Part and point label; `None` when the whole target is one-sided.
    pub(crate) point: Option<(String, String)>,
    /// The figures concerned (or how many, for a whole target).
    pub(crate) figures: String,
    /// Which run has them.
    pub(crate) presence: Presence,
    /// Why the other has none.
    pub(crate) why: String,
}

/// One run's side of a point: the point, if the run has it, and the
/// run's header of the point's target.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Side<'a> {
    /// The point in this run.
    pub(crate) point: Option<&'a Point>,
    /// This run's target of that name.
    pub(crate) target: Option<&'a TargetInfo>,
}

impl<'a> Side<'a> {
    /// `run`'s side of a point of `target`.
    pub(crate) fn of(run: &'a Run, target: &str, point: Option<&'a Point>) -> Self {
        Self {
            point,
            target: run.targets.iter().find(|t| t.name == target),
        }
    }
}

/// Both sides of a point, and the names the point goes by.
#[derive(Debug, Clone)]
pub(crate) struct Sides<'a> {
    /// The old run.
    pub(crate) old: Side<'a>,
    /// The new run.
    pub(crate) new: Side<'a>,
    /// See `Point::names`.
    pub(crate) names: Vec<String>,
}

/// Whether the point stores `name` as null (a figure without a number).
pub(crate) fn stored_null(p: Option<&Point>, name: &str) -> bool {
    p.is_some_and(|p| p.metrics.get(name) == Some(&None))
}

/// The reason a point itself gives for having no numbers.
pub(crate) fn reason(p: Option<&Point>) -> Option<&str> {
    p.and_then(|p| p.reason.as_deref())
}

/// The one-sided entry of a point: `side` 0 only new, 1 only old, 2 neither.
pub(crate) fn point(k: &Key, sides: &Sides, side: u8, figures: Vec<String>) -> Lone {
    let (presence, why) = match side {
        0 => (Presence::Added, missing(&sides.old, &sides.names, "old")),
        1 => (Presence::Removed, missing(&sides.new, &sides.names, "new")),
        _ => (
            Presence::Neither,
            reason(sides.new.point)
                .or(reason(sides.old.point))
                .unwrap_or("no number")
                .into(),
        ),
    };
    Lone {
        target: k.0.clone(),
        point: Some((k.1.clone(), k.2.clone())),
        figures: figures.join(", "),
        presence,
        why,
    }
}

/// Why the `run` side lacks a figure of a point known by `names`.
fn missing(side: &Side, names: &[String], run: &str) -> String {
    let unavailable = side.target.and_then(|t| t.unavailable_reason(names));
    match (side.point, unavailable) {
        (_, Some(why)) => format!("{run} run: unavailable: {why}"),
        (None, None) => {
            let target = side.target.map_or("?", |t| t.name.as_str());
            format!("not in the {run} run's {target} results")
        }
        (Some(p), None) => match &p.reason {
            Some(r) => format!("{run} run: {r}"),
            None => format!("{run} run: no number"),
        },
    }
}

/// Variants and drivers a kernel lacks that neither run has a point of:
/// listed once each, so that a run that measured less says why.
pub(crate) fn unavailable_in_neither(
    old: &Run,
    new: &Run,
    whole: &BTreeSet<String>,
    lone: &mut Vec<Lone>,
) {
    let mut seen = BTreeSet::new();
    for (run, word) in [(new, "new"), (old, "old")] {
        for t in run.targets.iter().filter(|t| !whole.contains(&t.name)) {
            for (what, why) in &t.unavailable {
                let named = |p: &Point| p.target == t.name && p.names.contains(what);
                let measured = old.points.iter().chain(&new.points).any(named);
                if measured || !seen.insert((t.name.clone(), what.clone())) {
                    continue;
                }
                let other = if word == "new" { old } else { new };
                let both = other
                    .targets
                    .iter()
                    .find(|o| o.name == t.name)
                    .is_some_and(|o| o.unavailable.iter().any(|(w, _)| w == what));
                lone.push(Lone {
                    target: t.name.clone(),
                    point: Some(("unavailable".into(), what.clone())),
                    figures: "every figure".into(),
                    presence: Presence::Neither,
                    why: if both {
                        format!("both runs: {why}")
                    } else {
                        format!("{word} run: {why}")
                    },
                });
            }
        }
    }
}

/// Targets only one run has: one line each instead of one per figure.
pub(crate) fn whole_targets(old: &Run, new: &Run, lone: &mut Vec<Lone>) -> BTreeSet<String> {
    let names =
        |r: &Run| -> BTreeSet<String> { r.targets.iter().map(|t| t.name.clone()).collect() };
    let (a, b) = (names(old), names(new));
    let mut whole = BTreeSet::new();
    for (run, other, only, presence) in [
        (new, "old", b.difference(&a), Presence::Added),
        (old, "new", a.difference(&b), Presence::Removed),
    ] {
        for t in only {
            let n: usize = run
                .points
                .iter()
                .filter(|p| &p.target == t)
                .map(|p| {
                    let has = |n: &str| p.metrics.contains_key(n);
                    let counted = |(n, v): &(&String, &Option<Spread>)| {
                        v.is_some() && !metric::derived(n, has)
                    };
                    p.metrics.iter().filter(counted).count()
                })
                .sum();
            let status = run.targets.iter().find(|x| &x.name == t);
            let status = status.and_then(|x| x.status.as_deref());
            lone.push(Lone {
                target: t.clone(),
                point: None,
                figures: format!("{n} figures"),
                presence,
                why: match status {
                    Some(s) => format!("the {other} run has no target {t}; {s}"),
                    None => format!("the {other} run has no target {t}"),
                },
            });
            whole.insert(t.clone());
        }
    }
    whole
}
