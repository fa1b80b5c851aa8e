//! Figures only one run has, and why the other has none: its kernel said
//! the variant or driver is unavailable, the point failed its checks, the
//! run did not measure it, or the whole target is missing.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

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
    /// The other run's plan did not ask for it (a settings difference,
    /// already noted): such entries are merged per part.
    pub(crate) unplanned: bool,
}

/// One run's side of a point: the point, if the run has it, the run's
/// header of the point's target and the run's plan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Side<'a> {
    /// The point in this run.
    pub(crate) point: Option<&'a Point>,
    /// This run's target of that name.
    pub(crate) target: Option<&'a TargetInfo>,
    /// This run's bench settings.
    pub(crate) plan: &'a Map<String, Value>,
}

impl<'a> Side<'a> {
    /// `run`'s side of a point of `target`.
    pub(crate) fn of(run: &'a Run, target: &str, point: Option<&'a Point>) -> Self {
        Self {
            point,
            target: run.targets.iter().find(|t| t.name == target),
            plan: &run.plan,
        }
    }
}

/// Both sides of a point, and the point as either run has it.
#[derive(Debug, Clone)]
pub(crate) struct Sides<'a> {
    /// The old run.
    pub(crate) old: Side<'a>,
    /// The new run.
    pub(crate) new: Side<'a>,
    /// The point (from the new run when both have it).
    pub(crate) point: &'a Point,
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
        0 => (Presence::Added, missing(&sides.old, sides.point, "old")),
        1 => (Presence::Removed, missing(&sides.new, sides.point, "new")),
        _ => (
            Presence::Neither,
            Why::Other(
                reason(sides.new.point)
                    .or(reason(sides.old.point))
                    .unwrap_or("no number")
                    .into(),
            ),
        ),
    };
    let (why, unplanned) = match why {
        Why::Unplanned(w) => (w, true),
        Why::Other(w) => (w, false),
    };
    Lone {
        target: k.0.clone(),
        point: Some((k.1.clone(), k.2.clone())),
        figures: figures.join(", "),
        presence,
        why,
        unplanned,
    }
}

/// Why a side lacks a figure.
enum Why {
    /// Its plan did not ask for it.
    Unplanned(String),
    /// Anything else.
    Other(String),
}

/// Why the `run` side lacks a figure of point `p` (which the other has).
fn missing(side: &Side, p: &Point, run: &str) -> Why {
    if let Some(why) = side.target.and_then(|t| t.unavailable_reason(&p.names)) {
        return Why::Other(format!("{run} run: unavailable: {why}"));
    }
    if let Some(p) = side.point {
        return Why::Other(match &p.reason {
            Some(r) => format!("{run} run: {r}"),
            None => format!("{run} run: no number"),
        });
    }
    if let Some(why) = unplanned(side.plan, p, run) {
        return Why::Unplanned(why);
    }
    let target = side.target.map_or("?", |t| t.name.as_str());
    Why::Other(format!("not in the {run} run's {target} results"))
}

/// Whether `plan` left `p` out: no such part, variant, driver or size.
fn unplanned(plan: &Map<String, Value>, p: &Point, run: &str) -> Option<String> {
    let lacks = |key: &str, v: Value| {
        plan.get(key)
            .and_then(Value::as_array)
            .is_some_and(|list| !list.contains(&v))
    };
    if plan.get(&p.part).is_none_or(Value::is_null) {
        return Some(format!("the {run} run did not measure {}", p.part));
    }
    // `none` (no program) is never in the plan: UDP and TCP add it.
    if let Some(v) = p.variant.as_deref().filter(|v| *v != "none")
        && lacks("variants", Value::from(v))
    {
        return Some(format!("the {run} run's plan has no variant {v}"));
    }
    if let Some(d) = p.driver.as_deref()
        && (lacks("drivers", Value::from(d)) || !plan.contains_key("drivers"))
    {
        return Some(format!("the {run} run's plan has no driver {d}"));
    }
    match p.size {
        Some(n) if lacks("sizes", Value::from(n)) => {
            Some(format!("the {run} run's plan has no size {n} B"))
        }
        _ => None,
    }
}

/// Merges the entries of points the other run's plan left out, one per
/// target, part, side and reason: a different plan is noted once already,
/// and listing each of its points drowns the rest.
pub(crate) fn merge_unplanned(lone: &mut Vec<Lone>) {
    let mut out: Vec<Lone> = Vec::with_capacity(lone.len());
    let mut counts: Vec<usize> = Vec::with_capacity(lone.len());
    for l in lone.drain(..) {
        let same = |o: &Lone| {
            o.unplanned
                && l.unplanned
                && o.target == l.target
                && o.presence == l.presence
                && o.why == l.why
                && o.point.as_ref().map(|p| &p.0) == l.point.as_ref().map(|p| &p.0)
        };
        match out.iter().position(same) {
            Some(i) => {
                counts[i] += 1;
                for f in l.figures.split(", ").filter(|f| !f.is_empty()) {
                    if !out[i].figures.split(", ").any(|g| g == f) {
                        out[i].figures = format!("{}, {f}", out[i].figures);
                    }
                }
            }
            None => {
                out.push(l);
                counts.push(1);
            }
        }
    }
    for (l, n) in out.iter_mut().zip(counts) {
        if let (true, Some((_, label))) = (n > 1, l.point.as_mut()) {
            *label = format!("{n} points");
        }
    }
    *lone = out;
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
                    unplanned: false,
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
                unplanned: false,
            });
            whole.insert(t.clone());
        }
    }
    whole
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(label: &str, figures: &str, why: &str, unplanned: bool) -> Lone {
        Lone {
            target: "host".into(),
            point: Some(("udp".into(), label.into())),
            figures: figures.into(),
            presence: Presence::Added,
            why: why.into(),
            unplanned,
        }
    }

    #[test]
    fn only_unplanned_entries_with_the_same_reason_merge() {
        let no_128 = "the old run's plan has no size 128 B";
        let mut lone = vec![
            entry("noop 128 B", "pps", no_128, true),
            entry(
                "copy 64 B",
                "pps",
                "not in the old run's host results",
                false,
            ),
            entry("copy 128 B", "pps, loss", no_128, true),
            entry(
                "esp 64 B",
                "pps",
                "the old run's plan has no variant esp",
                true,
            ),
            entry(
                "copy 512 B",
                "pps",
                "not in the old run's host results",
                false,
            ),
        ];
        merge_unplanned(&mut lone);
        let got: Vec<(&str, &str)> = lone
            .iter()
            .map(|l| (l.point.as_ref().unwrap().1.as_str(), l.figures.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("2 points", "pps, loss"),
                ("copy 64 B", "pps"),
                ("esp 64 B", "pps"),
                ("copy 512 B", "pps")
            ]
        );
    }
}
