//! Pairs each figure of a paired bench with its baseline twin and judges
//! it from the per-round ratios: a regression only when the whole 95 %
//! interval of the ratio lies beyond the threshold, so noise that widens
//! the interval can hide a change but never invent one.

use super::stats::{PairedStats, paired};
use crate::job::bench::{MicroPoint, TargetResult, UdpPoint};
use crate::job::stats::Stats;
use crate::output::compare::Verdict;
use crate::output::compare::metric::{self, Better, Metric};

/// UDP figures a paired bench judges: the rate, and the CPU time of the
/// sending and receiving threads per datagram. The system-wide CPU share
/// also counts other work on the machine, and loss is a share, not a
/// ratio.
const UDP_FIGURES: [&str; 2] = ["pps", "thread_cpu_ns_per_packet"];

/// One figure of both sides.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Target name.
    pub(crate) target: String,
    /// `micro` or `udp`.
    pub(crate) part: &'static str,
    /// The point, e.g. `copy egress 1500 B`.
    pub(crate) point: String,
    /// The figure's name (`ns`, `pps`, …).
    pub(crate) figure: &'static str,
    /// What the name says.
    pub(crate) metric: Metric,
    /// The baseline's figure.
    pub(crate) baseline: Option<Stats>,
    /// The candidate's figure.
    pub(crate) candidate: Option<Stats>,
    /// The per-round ratios, when both sides measured every round.
    pub(crate) paired: Option<PairedStats>,
    /// The verdict.
    pub(crate) verdict: Verdict,
    /// Why it was not judged.
    pub(crate) why: Option<String>,
}

/// A paired bench, judged.
#[derive(Debug, Clone)]
pub(crate) struct PairedReport {
    /// What the candidate is.
    pub(crate) candidate: String,
    /// What the baseline is.
    pub(crate) baseline: String,
    /// A change for the worse whose whole interval lies beyond this many
    /// percent is a regression.
    pub(crate) max_regression_pct: f64,
    /// Every figure of both sides.
    pub(crate) rows: Vec<Row>,
}

impl PairedReport {
    /// Rows with this verdict.
    pub(crate) fn count(&self, v: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == v).count()
    }
}

/// How much worse the candidate is, as a fraction, at ratio `q`
/// (candidate/baseline); negative when better.
pub(crate) fn worse_by(better: Better, q: f64) -> f64 {
    match better {
        Better::Lower => q - 1.0,
        Better::Higher => 1.0 - q,
        Better::LowerShare | Better::Neither => 0.0,
    }
}

/// The verdict of one pair of figures: the interval of the ratio against
/// 1 (no change) and against the threshold.
pub(crate) fn verdict(better: Better, p: &PairedStats, max_regression_pct: f64) -> Verdict {
    // The least and the most worse the interval allows.
    let (a, b) = (worse_by(better, p.lo), worse_by(better, p.hi));
    let (least, most) = (a.min(b), a.max(b));
    if least * 100.0 > max_regression_pct {
        Verdict::Regression
    } else if least > 0.0 {
        Verdict::Worse
    } else if most < 0.0 {
        Verdict::Better
    } else {
        Verdict::Same
    }
}

/// Judges every paired figure of every target that has a baseline.
pub(crate) fn judge(
    targets: &[TargetResult],
    (candidate, baseline): (&str, &str),
    max_regression_pct: f64,
) -> PairedReport {
    let mut rows = Vec::new();
    for t in targets {
        let Some(base) = &t.baseline else { continue };
        for m in &t.micro {
            let twin = base.micro.iter().find(|b| same_micro(b, m));
            rows.push(row(
                &t.target,
                "micro",
                micro_point(m),
                "ns",
                (twin.and_then(|b| b.ns.clone()), m.ns.clone()),
                why_micro(m, twin),
                max_regression_pct,
            ));
        }
        for u in t.udp.iter().filter(|u| u.variant.build().is_some()) {
            let twin = base
                .udp
                .iter()
                .find(|b| b.variant == u.variant && b.size == u.size);
            for name in UDP_FIGURES {
                rows.push(row(
                    &t.target,
                    "udp",
                    format!("{} {} B", u.variant.as_str(), u.size),
                    name,
                    (twin.and_then(|b| udp_figure(b, name)), udp_figure(u, name)),
                    why_udp(u, twin),
                    max_regression_pct,
                ));
            }
        }
    }
    PairedReport {
        candidate: candidate.to_string(),
        baseline: baseline.to_string(),
        max_regression_pct,
        rows,
    }
}

fn same_micro(a: &MicroPoint, b: &MicroPoint) -> bool {
    a.variant == b.variant && a.driver == b.driver && a.direction == b.direction && a.size == b.size
}

fn micro_point(m: &MicroPoint) -> String {
    format!("{} {} {} B", m.label(), m.direction.as_str(), m.size)
}

fn udp_figure(u: &UdpPoint, name: &str) -> Option<Stats> {
    match name {
        "pps" => u.pps.clone(),
        "thread_cpu_ns_per_packet" => u.thread_cpu_ns_per_packet.clone(),
        _ => None,
    }
}

/// Why a micro pair cannot be judged, if a side failed its checks.
fn why_micro(m: &MicroPoint, twin: Option<&MicroPoint>) -> Option<String> {
    match twin {
        None => Some("the baseline has no such figure".into()),
        Some(b) if !b.check.ok => Some(format!("baseline failed its checks: {}", b.check.detail)),
        Some(_) if !m.check.ok => Some(format!("candidate failed its checks: {}", m.check.detail)),
        Some(_) => None,
    }
}

/// Why a UDP pair cannot be judged, if a side failed its checks.
fn why_udp(u: &UdpPoint, twin: Option<&UdpPoint>) -> Option<String> {
    match twin {
        None => Some("the baseline has no such figure".into()),
        Some(b) if !b.check.ok => Some(format!("baseline failed its checks: {}", b.check.detail)),
        Some(_) if !u.check.ok => Some(format!("candidate failed its checks: {}", u.check.detail)),
        Some(_) => None,
    }
}

/// One judged row.
fn row(
    target: &str,
    part: &'static str,
    point: String,
    figure: &'static str,
    (baseline, candidate): (Option<Stats>, Option<Stats>),
    why: Option<String>,
    max_regression_pct: f64,
) -> Row {
    let metric = metric::of(figure);
    let p = match (&baseline, &candidate, &why) {
        (Some(b), Some(c), None) => paired(&c.samples, &b.samples),
        _ => None,
    };
    let why = match (&why, &p) {
        (Some(w), _) => Some(w.clone()),
        (None, None) => Some("fewer than two rounds measured on both sides".into()),
        (None, Some(_)) => None,
    };
    Row {
        target: target.to_string(),
        part,
        point,
        figure,
        metric,
        baseline,
        candidate,
        verdict: p.map_or(Verdict::NotJudged, |p| {
            verdict(metric.better, &p, max_regression_pct)
        }),
        paired: p,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lo: f64, hi: f64) -> PairedStats {
        PairedStats {
            n: 7,
            mean_log: 0.0,
            sd_log: 0.0,
            ratio: (lo * hi).sqrt(),
            lo,
            hi,
        }
    }

    #[test]
    fn a_regression_needs_the_whole_interval_beyond_the_threshold() {
        let v = |lo, hi| verdict(Better::Lower, &p(lo, hi), 10.0);
        assert_eq!(v(1.12, 1.25), Verdict::Regression);
        // The median is +15 % but the interval reaches +8 %: only worse.
        assert_eq!(v(1.08, 1.22), Verdict::Worse);
        assert_eq!(v(0.97, 1.30), Verdict::Same);
        assert_eq!(v(0.80, 0.95), Verdict::Better);
        // A rate: lower is worse.
        let r = |lo, hi| verdict(Better::Higher, &p(lo, hi), 10.0);
        assert_eq!(r(0.70, 0.85), Verdict::Regression);
        assert_eq!(r(0.85, 0.95), Verdict::Worse);
        assert_eq!(r(1.02, 1.10), Verdict::Better);
        assert_eq!(r(0.95, 1.05), Verdict::Same);
        // A threshold of 0: any change for the worse is a regression.
        assert_eq!(
            verdict(Better::Lower, &p(1.01, 1.02), 0.0),
            Verdict::Regression
        );
    }

    #[test]
    fn worse_by_follows_the_direction() {
        assert!((worse_by(Better::Lower, 1.2) - 0.2).abs() < 1e-12);
        assert!((worse_by(Better::Higher, 0.8) - 0.2).abs() < 1e-12);
        assert_eq!(worse_by(Better::Neither, 3.0), 0.0);
    }
}
