//! Pairs the figures of two runs and judges each pair. A change is marked
//! only where the two intervals do not overlap: the rounds of one run
//! already spread by tens of percent on a shared machine, so a difference
//! of medians alone says little. A figure with one round has no interval
//! and is shown but not judged.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::error::CompareError;
use super::figures::{Point, Run, Spread, TargetInfo};
use super::lone::{self, Key, Lone, Side, Sides};
use super::metric::{self, Better, Metric};

/// Which interval of a figure the overlap test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interval {
    /// The 95 % interval of the mean: calibrated to the number of rounds.
    Ci95,
    /// Smallest to largest round: intuitive, but two or three rounds of
    /// one run rarely span the next run's noise.
    Range,
}

impl Interval {
    /// In words, for headers.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Interval::Range => "min–max of the rounds",
            Interval::Ci95 => "95 % interval of the mean",
        }
    }

    /// The interval of `s`.
    fn of(self, s: &Spread) -> (f64, f64) {
        match self {
            Interval::Range => (s.min, s.max),
            Interval::Ci95 => (s.ci95_lo, s.ci95_hi),
        }
    }
}

/// How to judge.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// A worse figure beyond this many percent (percentage points for
    /// shares such as loss) is a regression.
    pub(crate) max_regression_pct: f64,
    /// The interval the overlap test uses.
    pub(crate) interval: Interval,
}

/// What a pair of figures says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verdict {
    /// Worse beyond the limit, intervals apart: fails the comparison.
    Regression,
    /// Worse, intervals apart, within the limit.
    Worse,
    /// Better, intervals apart.
    Better,
    /// Intervals apart, for a figure without a better direction.
    Changed,
    /// Intervals overlap.
    Same,
    /// A side has fewer than two rounds: no interval.
    NotJudged,
}

/// A figure in both runs.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Target, part, point label and figure name.
    pub(crate) at: [String; 4],
    /// What the name says.
    pub(crate) metric: Metric,
    /// The old run's figure.
    pub(crate) old: Spread,
    /// The new run's figure.
    pub(crate) new: Spread,
    /// New median over old median (none when the old one is 0).
    pub(crate) ratio: Option<f64>,
    /// The verdict.
    pub(crate) verdict: Verdict,
}

/// Two runs compared.
#[derive(Debug, Clone)]
pub(crate) struct Comparison {
    /// The old run's header.
    pub(crate) old: Header,
    /// The new run's header.
    pub(crate) new: Header,
    /// How it was judged.
    pub(crate) options: Options,
    /// Figures in both runs, in the new run's order.
    pub(crate) rows: Vec<Row>,
    /// Figures in one run only.
    pub(crate) lone: Vec<Lone>,
    /// Things to know before reading the numbers.
    pub(crate) notes: Vec<String>,
}

impl Comparison {
    /// Rows with this verdict.
    pub(crate) fn count(&self, v: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == v).count()
    }
}

/// What the header shows about a run.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// `bench.json` path, as given.
    pub(crate) path: String,
    /// Run id.
    pub(crate) run_id: String,
    /// Bench name.
    pub(crate) name: String,
    /// Targets.
    pub(crate) targets: Vec<TargetInfo>,
}

impl Header {
    fn of(r: &Run) -> Self {
        Self {
            path: r.path.display().to_string(),
            run_id: r.run_id.clone(),
            name: r.name.clone(),
            targets: r.targets.clone(),
        }
    }
}

/// Plan settings that change what a figure means when they differ.
const SETTINGS: [&str; 10] = [
    "micro", "cipher", "hardware", "udp", "tcp", "quick", "mtu", "key", "drivers", "inject",
];

/// Compares two runs.
pub(crate) fn compare(old: &Run, new: &Run, options: Options) -> Result<Comparison, CompareError> {
    let mut c = Comparison {
        old: Header::of(old),
        new: Header::of(new),
        options,
        rows: Vec::new(),
        lone: Vec::new(),
        notes: notes(old, new),
    };
    let metrics = metric_names(old, new);
    let whole = lone::whole_targets(old, new, &mut c.lone);
    let index = |r: &Run| -> HashMap<Key, usize> {
        let key = |p: &Point| (p.target.clone(), p.part.clone(), p.label.clone());
        r.points
            .iter()
            .enumerate()
            .map(|(i, p)| (key(p), i))
            .collect()
    };
    let (io, inew) = (index(old), index(new));
    let keys = new.points.iter().chain(
        old.points
            .iter()
            .filter(|p| !inew.contains_key(&(p.target.clone(), p.part.clone(), p.label.clone()))),
    );
    for p in keys.filter(|p| !whole.contains(&p.target)) {
        let k = (p.target.clone(), p.part.clone(), p.label.clone());
        let sides = Sides {
            old: Side::of(old, &k.0, io.get(&k).map(|&i| &old.points[i])),
            new: Side::of(new, &k.0, inew.get(&k).map(|&i| &new.points[i])),
            point: p,
        };
        let names = metrics.get(&p.part).cloned().unwrap_or_default();
        pair_point(&k, sides, &names, &mut c);
    }
    lone::merge_unplanned(&mut c.lone);
    lone::unavailable_in_neither(old, new, &whole, &mut c.lone);
    if c.rows.is_empty() {
        return Err(no_common(old, new, &c));
    }
    Ok(c)
}

/// Per part, the figure names with a number in either run, in table order.
fn metric_names(old: &Run, new: &Run) -> BTreeMap<String, Vec<String>> {
    let mut sets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in old.points.iter().chain(&new.points) {
        for (name, v) in &p.metrics {
            if v.is_some() && !metric::derived(name, |n| p.metrics.contains_key(n)) {
                sets.entry(p.part.clone()).or_default().insert(name.clone());
            }
        }
    }
    sets.into_iter()
        .map(|(part, names)| {
            let mut v: Vec<String> = names.into_iter().collect();
            v.sort_by_key(|n| (metric::of(n).rank, n.clone()));
            (part, v)
        })
        .collect()
}

/// Pairs the figures of one point (in either run or both); the figures
/// only one side has go to the one-sided list with the reason.
fn pair_point(k: &Key, sides: Sides, names: &[String], c: &mut Comparison) {
    let get = |p: Option<&Point>, n: &str| p.and_then(|p| p.metrics.get(n).copied().flatten());
    let (a, b) = (sides.old.point, sides.new.point);
    let mut one_sided = BTreeMap::new();
    for name in names {
        match (get(a, name), get(b, name)) {
            (Some(o), Some(n)) => c.rows.push(row(k, name, o, n, c.options)),
            (Some(_), None) => one_sided
                .entry(1)
                .or_insert_with(Vec::new)
                .push(name.clone()),
            (None, Some(_)) => one_sided
                .entry(0)
                .or_insert_with(Vec::new)
                .push(name.clone()),
            (None, None) if lone::stored_null(a, name) || lone::stored_null(b, name) => one_sided
                .entry(2)
                .or_insert_with(Vec::new)
                .push(name.clone()),
            (None, None) => {}
        }
    }
    let bare = names
        .iter()
        .all(|n| get(a, n).is_none() && get(b, n).is_none());
    if bare && one_sided.is_empty() && (lone::reason(a).is_some() || lone::reason(b).is_some()) {
        one_sided.insert(2, Vec::new());
    }
    for (side, figures) in one_sided {
        c.lone.push(lone::point(k, &sides, side, figures));
    }
}

/// One figure in both runs, judged.
fn row(k: &Key, name: &str, old: Spread, new: Spread, o: Options) -> Row {
    let m = metric::of(name);
    Row {
        at: [k.0.clone(), k.1.clone(), k.2.clone(), name.to_string()],
        metric: m,
        old,
        new,
        ratio: (old.median != 0.0).then(|| new.median / old.median),
        verdict: judge(&m, &old, &new, o),
    }
}

/// How much worse `new` is than `old`: a fraction of the old median, or
/// for shares the difference itself; negative when better.
pub(crate) fn worse_by(m: &Metric, old: &Spread, new: &Spread) -> f64 {
    let rel = |d: f64| {
        if old.median != 0.0 {
            d / old.median.abs()
        } else if d == 0.0 {
            0.0
        } else {
            d.signum() * f64::INFINITY
        }
    };
    match m.better {
        Better::Lower => rel(new.median - old.median),
        Better::Higher => rel(old.median - new.median),
        Better::LowerShare => new.median - old.median,
        Better::Neither => 0.0,
    }
}

/// The verdict for one pair.
fn judge(m: &Metric, old: &Spread, new: &Spread, o: Options) -> Verdict {
    if old.n < 2 || new.n < 2 {
        return Verdict::NotJudged;
    }
    let (a, b) = (o.interval.of(old), o.interval.of(new));
    if a.0 <= b.1 && b.0 <= a.1 {
        return Verdict::Same;
    }
    let w = worse_by(m, old, new);
    match m.better {
        Better::Neither => Verdict::Changed,
        _ if w * 100.0 > o.max_regression_pct => Verdict::Regression,
        _ if w > 0.0 => Verdict::Worse,
        _ if w < 0.0 => Verdict::Better,
        _ => Verdict::Changed,
    }
}

/// Settings and environments that differ: the numbers may then differ for
/// reasons other than the code.
fn notes(old: &Run, new: &Run) -> Vec<String> {
    let mut notes: Vec<String> = old.notes.iter().chain(&new.notes).cloned().collect();
    let differ: Vec<&str> = SETTINGS
        .into_iter()
        .filter(|k| old.plan.get(*k) != new.plan.get(*k))
        .collect();
    if !differ.is_empty() {
        notes.push(format!(
            "the runs were measured with different settings ({}): figures may differ for that reason",
            differ.join(", ")
        ));
    }
    for t in &new.targets {
        let Some(o) = old.targets.iter().find(|o| o.name == t.name) else {
            continue;
        };
        if o.kernel != t.kernel {
            notes.push(format!("{}: kernel {} → {}", t.name, o.kernel, t.kernel));
        }
    }
    notes
}

/// The error when nothing pairs up, saying why.
fn no_common(old: &Run, new: &Run, c: &Comparison) -> CompareError {
    let names = |r: &Run| {
        r.targets
            .iter()
            .map(|t| match &t.status {
                Some(s) => format!("{} ({s})", t.name),
                None => t.name.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let why = if c.lone.iter().all(|l| l.point.is_none()) {
        format!(
            "no target in common (old: {}; new: {})",
            names(old),
            names(new)
        )
    } else {
        format!(
            "no figure has a number in both (old targets: {}; new targets: {})",
            names(old),
            names(new)
        )
    };
    CompareError::NoCommonFigures {
        old: old.path.clone(),
        new: new.path.clone(),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: usize, median: f64, min: f64, max: f64) -> Spread {
        Spread {
            n,
            median,
            min,
            max,
            ci95_lo: min,
            ci95_hi: max,
        }
    }

    const O: Options = Options {
        max_regression_pct: 10.0,
        interval: Interval::Range,
    };

    #[test]
    fn verdicts_follow_direction_overlap_and_limit() {
        let ns = metric::of("ns");
        let pps = metric::of("pps");
        let old = s(3, 100.0, 95.0, 105.0);
        assert_eq!(
            judge(&ns, &old, &s(3, 104.0, 102.0, 110.0), O),
            Verdict::Same
        );
        assert_eq!(
            judge(&ns, &old, &s(3, 108.0, 106.0, 110.0), O),
            Verdict::Worse
        );
        assert_eq!(
            judge(&ns, &old, &s(3, 130.0, 120.0, 140.0), O),
            Verdict::Regression
        );
        assert_eq!(
            judge(&ns, &old, &s(3, 80.0, 70.0, 90.0), O),
            Verdict::Better
        );
        assert_eq!(
            judge(&pps, &old, &s(3, 80.0, 70.0, 90.0), O),
            Verdict::Regression
        );
        assert_eq!(
            judge(&pps, &old, &s(3, 130.0, 120.0, 140.0), O),
            Verdict::Better
        );
        assert_eq!(
            judge(&ns, &old, &s(1, 300.0, 300.0, 300.0), O),
            Verdict::NotJudged
        );
        let util = metric::of("cpu_util");
        assert_eq!(
            judge(&util, &old, &s(3, 300.0, 290.0, 310.0), O),
            Verdict::Changed
        );
    }

    #[test]
    fn loss_is_judged_in_points_and_zero_is_no_trouble() {
        let loss = metric::of("loss");
        let zero = s(2, 0.0, 0.0, 0.0);
        assert_eq!(judge(&loss, &zero, &zero, O), Verdict::Same);
        assert_eq!(
            judge(&loss, &zero, &s(2, 0.05, 0.04, 0.06), O),
            Verdict::Worse
        );
        assert_eq!(
            judge(&loss, &zero, &s(2, 0.2, 0.15, 0.25), O),
            Verdict::Regression
        );
        let ns = metric::of("ns");
        assert_eq!(worse_by(&ns, &zero, &s(2, 1.0, 1.0, 1.0)), f64::INFINITY);
    }

    #[test]
    fn the_interval_choice_matters() {
        let ns = metric::of("ns");
        let old = Spread {
            ci95_lo: 99.0,
            ci95_hi: 101.0,
            ..s(5, 100.0, 80.0, 120.0)
        };
        let new = Spread {
            ci95_lo: 114.0,
            ci95_hi: 116.0,
            ..s(5, 115.0, 100.0, 130.0)
        };
        assert_eq!(judge(&ns, &old, &new, O), Verdict::Same);
        let ci = Options {
            interval: Interval::Ci95,
            ..O
        };
        assert_eq!(judge(&ns, &old, &new, ci), Verdict::Regression);
    }
}
