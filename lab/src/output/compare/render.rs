//! A comparison as a terminal table and as Markdown (a GitHub job summary:
//! the verdict and the changes first, every figure folded away below).

use std::fmt::Write;

use super::figures::Spread;
use super::judge::{Comparison, Header, Interval, Row, Verdict};
use super::lone::{Lone, Presence};
use super::metric::{self, Better, Unit};

/// Column headers of a figure table.
const HEADERS: [&str; 9] = [
    "", "target", "part", "point", "figure", "old", "new", "new/old", "change",
];

/// What every comparison of two runs says first: its verdicts carry the
/// machine's drift between the runs (DESIGN: an A/A pair of host benches
/// flagged 10 of 54 figures, up to +62 %).
pub(crate) const UNPAIRED: &str = "two separate runs, not paired: on a shared machine the drift between \
runs (tens of percent) is larger than each run's own interval, so a change here may be the machine's, \
not the code's; `lab bench --baseline REV` measures both data planes in one process, round for round";

/// The verdict column.
pub(crate) fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Regression => "REGRESSION",
        Verdict::Worse => "worse",
        Verdict::Better => "better",
        Verdict::Changed => "changed",
        Verdict::Same => "",
        Verdict::NotJudged => "not judged",
    }
}

/// Whether a row is marked as a change.
fn marked(r: &Row) -> bool {
    !matches!(r.verdict, Verdict::Same | Verdict::NotJudged)
}

/// A figure: median and the interval the overlap test used.
fn figure(r: &Row, s: &Spread, c: &Comparison) -> String {
    let (lo, hi) = match c.options.interval {
        Interval::Range => (s.min, s.max),
        Interval::Ci95 => (s.ci95_lo, s.ci95_hi),
    };
    let f = |v| metric::format(r.metric.unit, v);
    if s.n < 2 {
        format!("{} (1 round)", f(s.median))
    } else {
        format!("{} [{}, {}]", f(s.median), f(lo), f(hi))
    }
}

/// The change of the median: relative, or in points for shares.
fn change(r: &Row) -> String {
    if r.metric.unit == Unit::Share || r.metric.better == Better::LowerShare {
        return format!("{:+.1} pts", (r.new.median - r.old.median) * 100.0);
    }
    r.ratio
        .map_or("—".into(), |q| format!("{:+.1} %", (q - 1.0) * 100.0))
}

/// The cells of one row.
fn cells(r: &Row, c: &Comparison) -> [String; 9] {
    [
        mark(r.verdict).to_string(),
        r.at[0].clone(),
        r.at[1].clone(),
        r.at[2].clone(),
        r.at[3].clone(),
        figure(r, &r.old, c),
        figure(r, &r.new, c),
        r.ratio.map_or("—".into(), |q| format!("{q:.3}")),
        change(r),
    ]
}

/// `Added`, `Removed`, `Neither` in words.
fn presence(p: Presence) -> &'static str {
    match p {
        Presence::Added => "only new",
        Presence::Removed => "only old",
        Presence::Neither => "neither",
    }
}

/// Where a one-sided figure sits.
fn lone_at(l: &Lone) -> String {
    match &l.point {
        Some((part, label)) => format!("{} {part} {label}", l.target),
        None => format!("{} (whole target)", l.target),
    }
}

/// `1 regression`, `2 regressions`.
fn regressions(n: usize) -> String {
    format!("{n} regression{}", if n == 1 { "" } else { "s" })
}

/// The one-line tally.
pub(crate) fn tally(c: &Comparison) -> String {
    let lone = |p| c.lone.iter().filter(|l| l.presence == p).count();
    format!(
        "{} figures in both: {}, {} worse within {} %, {} better, {} changed, {} same, {} not judged (one round); \
         one-sided: {} only new, {} only old, {} in neither",
        c.rows.len(),
        regressions(c.count(Verdict::Regression)),
        c.count(Verdict::Worse),
        c.options.max_regression_pct,
        c.count(Verdict::Better),
        c.count(Verdict::Changed),
        c.count(Verdict::Same),
        c.count(Verdict::NotJudged),
        lone(Presence::Added),
        lone(Presence::Removed),
        lone(Presence::Neither),
    )
}

/// A run in one line: id, file and targets.
fn run_line(h: &Header) -> String {
    let targets: Vec<String> = h
        .targets
        .iter()
        .map(|t| match &t.status {
            Some(s) => format!("{} {} [{s}]", t.name, t.kernel),
            None => format!("{} {} @ {}", t.name, t.kernel, t.commit),
        })
        .collect();
    format!("{} ({}): {}", h.run_id, h.path, targets.join("; "))
}

/// The terminal text: header, the marked rows (every row with `all`), the
/// one-sided figures and the tally.
pub(crate) fn terminal(c: &Comparison, all: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "compare {} → {}", c.old.name, c.new.name);
    let _ = writeln!(out, "  old {}", run_line(&c.old));
    let _ = writeln!(out, "  new {}", run_line(&c.new));
    let _ = writeln!(
        out,
        "  a change: intervals ({}) apart; a regression: worse by more than {} %",
        c.options.interval.describe(),
        c.options.max_regression_pct
    );
    let _ = writeln!(out, "  caution: {UNPAIRED}");
    for n in &c.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    let rows: Vec<[String; 9]> = c
        .rows
        .iter()
        .filter(|r| all || marked(r))
        .map(|r| cells(r, c))
        .collect();
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "\n  no figure changed: every pair of intervals overlaps"
        );
    } else {
        out.push('\n');
        aligned(&mut out, HEADERS, &rows);
    }
    if !c.lone.is_empty() {
        let _ = writeln!(out, "\n  only in one run:");
        for l in &c.lone {
            let _ = writeln!(
                out,
                "    {:<8} {}: {} ({})",
                presence(l.presence),
                lone_at(l),
                l.figures,
                l.why
            );
        }
    }
    let _ = writeln!(out, "\n{}", tally(c));
    out
}

/// Rows under the headers, columns padded to their widest cell.
pub(crate) fn aligned<const N: usize>(out: &mut String, headers: [&str; N], rows: &[[String; N]]) {
    let mut w = headers.map(|h| h.chars().count());
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            w[i] = w[i].max(cell.chars().count());
        }
    }
    let line = |cells: [&str; N]| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c}{}", " ".repeat(w[i] - c.chars().count())))
            .collect();
        format!("  {}", padded.join("  ").trim_end())
    };
    let _ = writeln!(out, "{}", line(headers));
    for r in rows {
        let _ = writeln!(out, "{}", line(r.each_ref().map(String::as_str)));
    }
}

/// A Markdown table cell: pipes escaped, no line breaks.
pub(crate) fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A Markdown table of rows.
pub(crate) fn md_rows<const N: usize>(out: &mut String, headers: [&str; N], rows: &[[String; N]]) {
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(N));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| md(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

/// The Markdown document (a GitHub job summary).
pub(crate) fn markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let n = c.count(Verdict::Regression);
    let _ = writeln!(
        out,
        "## Bench comparison: `{}` → `{}`\n",
        c.old.run_id, c.new.run_id
    );
    let _ = writeln!(
        out,
        "**{}** · a change is marked where the intervals ({}) do not overlap; a regression is a change for the worse by more than {} %.\n",
        if n == 0 {
            "No regression".to_string()
        } else {
            regressions(n)
        },
        c.options.interval.describe(),
        c.options.max_regression_pct
    );
    let _ = writeln!(out, "> **Caution:** {UNPAIRED}.\n");
    md_runs(&mut out, c);
    for n in &c.notes {
        let _ = writeln!(out, "> note: {}\n", md(n));
    }
    let _ = writeln!(out, "{}\n", tally(c));
    let changed: Vec<[String; 9]> = c
        .rows
        .iter()
        .filter(|r| marked(r))
        .map(|r| cells(r, c))
        .collect();
    let _ = writeln!(out, "### Changes ({})\n", changed.len());
    if changed.is_empty() {
        let _ = writeln!(
            out,
            "No figure changed: every pair of intervals overlaps.\n"
        );
    } else {
        md_rows(&mut out, HEADERS, &changed);
        out.push('\n');
    }
    md_lone(&mut out, &c.lone);
    let all: Vec<[String; 9]> = c.rows.iter().map(|r| cells(r, c)).collect();
    let _ = writeln!(
        out,
        "<details><summary>All {} figures in both runs</summary>\n",
        all.len()
    );
    md_rows(&mut out, HEADERS, &all);
    let _ = writeln!(out, "\n</details>");
    out
}

/// The two runs side by side: id, file, and each target's kernel and commit.
fn md_runs(out: &mut String, c: &Comparison) {
    let _ = writeln!(out, "| | old | new |\n|---|---|---|");
    let _ = writeln!(out, "| run | `{}` | `{}` |", c.old.run_id, c.new.run_id);
    let _ = writeln!(out, "| file | `{}` | `{}` |", c.old.path, c.new.path);
    let mut names: Vec<&str> = c.old.targets.iter().map(|t| t.name.as_str()).collect();
    for t in &c.new.targets {
        if !names.contains(&t.name.as_str()) {
            names.push(&t.name);
        }
    }
    let of = |h: &Header, name: &str| {
        h.targets
            .iter()
            .find(|t| t.name == name)
            .map_or("—".into(), |t| match &t.status {
                Some(s) => format!("{} · {s}", t.kernel),
                None => format!("{} · commit `{}`", t.kernel, t.commit),
            })
    };
    for name in names {
        let (a, b) = (of(&c.old, name), of(&c.new, name));
        let _ = writeln!(out, "| {} | {} | {} |", md(name), md(&a), md(&b));
    }
    out.push('\n');
}

/// The one-sided figures, as a Markdown table.
fn md_lone(out: &mut String, lone: &[Lone]) {
    let _ = writeln!(out, "### Only in one run ({})\n", lone.len());
    if lone.is_empty() {
        let _ = writeln!(out, "Every figure is in both runs.\n");
        return;
    }
    let _ = writeln!(out, "| | where | figures | why |\n|---|---|---|---|");
    for l in lone {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            presence(l.presence),
            md(&lone_at(l)),
            md(&l.figures),
            md(&l.why)
        );
    }
    out.push('\n');
}
