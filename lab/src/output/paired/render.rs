//! A paired bench as a terminal table and as Markdown (a CI job summary),
//! in the layout of `lab compare`'s: the verdict and the changes first,
//! every figure folded away below.

use std::fmt::Write;

use super::judge::{PairedReport, Row};
use crate::job::stats::Stats;
use crate::output::compare::Verdict;
use crate::output::compare::metric::{self, Better, Unit};
use crate::output::compare::render::{aligned, mark, md, md_rows};

/// Column headers of the figure table.
const HEADERS: [&str; 9] = [
    "",
    "target",
    "part",
    "point",
    "figure",
    "baseline",
    "candidate",
    "cand/base [95 %]",
    "change",
];

/// A side's figure: median of its rounds and the 95 % interval of the mean.
fn figure(r: &Row, s: &Option<Stats>) -> String {
    let Some(s) = s else { return "—".into() };
    let f = |v| metric::format(r.metric.unit, v);
    if s.n < 2 {
        format!("{} (1 round)", f(s.median))
    } else {
        format!("{} [{}, {}]", f(s.median), f(s.ci95_lo), f(s.ci95_hi))
    }
}

/// The change of the typical ratio, relative.
fn change(r: &Row) -> String {
    match (&r.paired, r.metric.unit) {
        (Some(p), Unit::Share) => format!("{:+.1} pts", (p.ratio - 1.0) * 100.0),
        (Some(p), _) => format!("{:+.1} %", (p.ratio - 1.0) * 100.0),
        (None, _) => "—".into(),
    }
}

/// The cells of one row.
fn cells(r: &Row) -> [String; 9] {
    [
        mark(r.verdict).to_string(),
        r.target.clone(),
        r.part.to_string(),
        r.point.clone(),
        r.figure.to_string(),
        figure(r, &r.baseline),
        figure(r, &r.candidate),
        r.paired.map_or_else(
            || r.why.clone().unwrap_or_else(|| "—".into()),
            |p| format!("{:.3} [{:.3}, {:.3}]", p.ratio, p.lo, p.hi),
        ),
        change(r),
    ]
}

/// Whether a row is marked as a change.
fn marked(r: &Row) -> bool {
    !matches!(r.verdict, Verdict::Same)
}

/// `1 regression`, `2 regressions`.
fn regressions(n: usize) -> String {
    format!("{n} regression{}", if n == 1 { "" } else { "s" })
}

/// The one-line tally.
pub(crate) fn tally(p: &PairedReport) -> String {
    format!(
        "{} paired figures: {}, {} worse within {} %, {} better, {} same, {} not judged",
        p.rows.len(),
        regressions(p.count(Verdict::Regression)),
        p.count(Verdict::Worse),
        p.max_regression_pct,
        p.count(Verdict::Better),
        p.count(Verdict::Same),
        p.count(Verdict::NotJudged),
    )
}

/// How the verdict is reached, in one sentence.
fn method(p: &PairedReport) -> String {
    let directions = if p.rows.iter().any(|r| r.metric.better == Better::Higher) {
        " (for rates, the whole interval below 1 − the threshold)"
    } else {
        ""
    };
    format!(
        "candidate and baseline measured in one process, round for round (micro: calls alternating; \
         UDP: rounds alternating); each figure's verdict comes from its per-round ratios candidate/baseline: \
         a regression when the whole 95 % interval of the ratio is worse by more than {} %{directions}",
        p.max_regression_pct
    )
}

/// The terminal text: header, the marked rows and the tally.
pub(crate) fn terminal(p: &PairedReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "paired bench: {} against baseline {}",
        p.candidate, p.baseline
    );
    let _ = writeln!(out, "  {}", method(p));
    let rows: Vec<[String; 9]> = p.rows.iter().filter(|r| marked(r)).map(cells).collect();
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "\n  no figure changed: every interval of a ratio includes 1"
        );
    } else {
        out.push('\n');
        aligned(&mut out, HEADERS, &rows);
    }
    let _ = writeln!(out, "\n{}", tally(p));
    out
}

/// The Markdown document (a GitHub job summary).
pub(crate) fn markdown(p: &PairedReport) -> String {
    let mut out = String::new();
    let n = p.count(Verdict::Regression);
    let _ = writeln!(
        out,
        "## Paired bench: {} against `{}`\n",
        md(&p.candidate),
        md(&p.baseline)
    );
    let verdict = if n == 0 {
        "No regression".to_string()
    } else {
        regressions(n)
    };
    let _ = writeln!(out, "**{verdict}** · {}.\n", md(&method(p)));
    let _ = writeln!(out, "{}\n", tally(p));
    let changed: Vec<[String; 9]> = p.rows.iter().filter(|r| marked(r)).map(cells).collect();
    let _ = writeln!(
        out,
        "### Changes and figures not judged ({})\n",
        changed.len()
    );
    if changed.is_empty() {
        let _ = writeln!(
            out,
            "No figure changed: every interval of a ratio includes 1.\n"
        );
    } else {
        md_rows(&mut out, HEADERS, &changed);
        out.push('\n');
    }
    let all: Vec<[String; 9]> = p.rows.iter().map(cells).collect();
    let _ = writeln!(
        out,
        "<details><summary>All {} paired figures</summary>\n",
        all.len()
    );
    md_rows(&mut out, HEADERS, &all);
    let _ = writeln!(out, "\n</details>");
    out
}

#[cfg(test)]
mod tests {
    use super::super::judge::judge;
    use super::*;
    use crate::domain::{BenchVariant, Counters, Direction};
    use crate::job::bench::{BaselineFigures, CheckResult, Env, MicroPoint, TargetResult};

    fn point(v: BenchVariant, size: u32, samples: &[f64]) -> MicroPoint {
        MicroPoint {
            variant: v,
            driver: None,
            direction: Direction::Egress,
            size,
            runs_per_round: 100,
            ns: Stats::of(samples),
            gbps: None,
            cipher_limit_ns: None,
            ratio_to_cipher: None,
            check: CheckResult::ok("checked"),
            counters: Counters::new(),
        }
    }

    fn target() -> TargetResult {
        let env = Env {
            kernel: "6.18".into(),
            accelerator: "host".into(),
            emulated: false,
            cpu_model: "cpu".into(),
            cpus: 2,
            commit: "abc".into(),
            lab_version: "0".into(),
            crypto_drivers: Default::default(),
        };
        let mut t = TargetResult::new("host", env);
        // The machine drifts ±30 % between rounds; copy at 1500 B is 20 %
        // slower on the candidate in every round, noop the same.
        let drift = [100.0, 130.0, 90.0, 120.0, 70.0];
        let slower: Vec<f64> = drift.iter().map(|d| d * 1.2).collect();
        let same: Vec<f64> = drift.iter().map(|d| d * 1.001).collect();
        t.micro = vec![
            point(BenchVariant::Copy, 1500, &slower),
            point(BenchVariant::Noop, 64, &same),
            point(BenchVariant::Ecb, 64, &drift),
        ];
        let mut failed = point(BenchVariant::Ecb, 64, &drift);
        failed.check = CheckResult::failed("counter encrypted rose by 1");
        t.baseline = Some(BaselineFigures {
            micro: vec![
                point(BenchVariant::Copy, 1500, &drift),
                point(BenchVariant::Noop, 64, &drift),
                failed,
            ],
            udp: Vec::new(),
        });
        t
    }

    #[test]
    fn drift_cancels_and_the_regression_is_named() {
        let p = judge(&[target()], ("this tree", "revision HEAD"), 10.0);
        assert_eq!(p.rows.len(), 3);
        assert_eq!(p.rows[0].verdict, Verdict::Regression, "{:?}", p.rows[0]);
        assert_eq!(p.rows[1].verdict, Verdict::Worse, "+0.1 % in every round");
        assert_eq!(p.rows[2].verdict, Verdict::NotJudged);
        let text = terminal(&p);
        // The word marks flagged figures only (scripts count its lines).
        let marked: Vec<&str> = text.lines().filter(|l| l.contains("REGRESSION")).collect();
        assert_eq!(marked.len(), 1, "{text}");
        assert!(marked[0].contains("copy egress 1500 B"), "{text}");
        assert!(
            text.contains("1.200 [1.200, 1.200]") && text.contains("+20.0 %"),
            "{text}"
        );
        assert!(text.contains("baseline failed its checks"), "{text}");
        assert!(
            text.contains("3 paired figures: 1 regression, 1 worse"),
            "{text}"
        );
        let md = markdown(&p);
        assert!(
            md.starts_with("## Paired bench: this tree against `revision HEAD`"),
            "{md}"
        );
        assert!(md.contains("**1 regression**") && md.contains("| REGRESSION | host | micro |"));
        assert!(
            md.contains("<details><summary>All 3 paired figures</summary>"),
            "{md}"
        );
    }
}
