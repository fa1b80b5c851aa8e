//! A scenario next to its baseline (e.g. `esp-tamper` next to `tamper`):
//! the same questions answered by both runs, row by row, for the terminal
//! and the reports.

use crate::domain::DROP_COUNTERS;
use crate::job::run_report::RunReport;

/// Rows of `[question, this run, baseline]`.
pub(crate) fn side_by_side(this: &RunReport, base: &RunReport) -> Vec<[String; 3]> {
    let row = |q: &str, f: &dyn Fn(&RunReport) -> String| [q.to_string(), f(this), f(base)];
    vec![
        row("checks", &|r| {
            let passed = r.assertions.iter().filter(|a| a.pass).count();
            format!("{passed} of {} passed", r.assertions.len())
        }),
        row("UDP datagrams sent", &|r| sum(r, |u| u.sent as usize)),
        row("delivered intact", &|r| sum(r, |u| u.intact)),
        row("delivered twice or more", &|r| sum(r, |u| u.duplicates)),
        row("delivered corrupted", &|r| sum(r, |u| u.corrupted)),
        row("echo replies", &|r| {
            let (sent, replies) = r.pings.iter().fold((0, 0), |(s, p), x| {
                (s + x.outcome.sent, p + x.outcome.replies)
            });
            format!("{replies} of {sent}")
        }),
        row("dropped by the data planes", &drops),
        row("wire packets carrying the marker", &|r| {
            r.wire.marker_leaks.to_string()
        }),
    ]
}

fn sum(r: &RunReport, f: impl Fn(&crate::job::run_report::UdpSummary) -> usize) -> String {
    r.udp.iter().map(f).sum::<usize>().to_string()
}

/// The non-zero drop counters, e.g. `right auth_failed 20`.
fn drops(r: &RunReport) -> String {
    let seen: Vec<String> = r
        .counters
        .iter()
        .flat_map(|(side, c)| {
            DROP_COUNTERS.iter().filter_map(move |n| {
                c.get(*n)
                    .filter(|v| **v > 0)
                    .map(|v| format!("{side} {n} {v}"))
            })
        })
        .collect();
    if seen.is_empty() {
        "none".into()
    } else {
        seen.join(", ")
    }
}
