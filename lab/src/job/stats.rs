//! Summary statistics of repeated measurement rounds: median and spread.
//!
//! Warm-up rounds never reach this module: callers discard them. The 95 %
//! interval is Student's t interval of the mean (it needs two samples or
//! more; with one it collapses to the value).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Median, range and 95 % interval of a set of samples (one per round).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stats {
    /// Number of samples.
    pub(crate) n: usize,
    /// Median.
    pub(crate) median: f64,
    /// Smallest sample.
    pub(crate) min: f64,
    /// Largest sample.
    pub(crate) max: f64,
    /// Arithmetic mean.
    pub(crate) mean: f64,
    /// Sample standard deviation (n − 1); 0 for one sample.
    pub(crate) stddev: f64,
    /// Lower end of the 95 % confidence interval of the mean.
    pub(crate) ci95_lo: f64,
    /// Upper end of the 95 % confidence interval of the mean.
    pub(crate) ci95_hi: f64,
    /// The samples, in measurement order.
    pub(crate) samples: Vec<f64>,
}

impl Stats {
    /// Summarises `samples`; `None` when there are none or one is not finite.
    pub(crate) fn of(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() || samples.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let n = samples.len();
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let mean = samples.iter().sum::<f64>() / n as f64;
        let stddev = if n > 1 {
            (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let half = if n > 1 {
            t_quantile_975(n - 1) * stddev / (n as f64).sqrt()
        } else {
            0.0
        };
        Some(Self {
            n,
            median,
            min: sorted[0],
            max: sorted[n - 1],
            mean,
            stddev,
            ci95_lo: mean - half,
            ci95_hi: mean + half,
            samples: samples.to_vec(),
        })
    }

    /// Applies `f` to every sample and summarises again (e.g. ns → Gbit/s).
    /// A decreasing `f` swaps the roles of min and max, as it should.
    pub(crate) fn map(&self, f: impl Fn(f64) -> f64) -> Option<Self> {
        Self::of(&self.samples.iter().map(|&x| f(x)).collect::<Vec<_>>())
    }
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom.
fn t_quantile_975(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(1.96)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() <= eps
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let s = Stats::of(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (3.0, 1.0, 5.0, 3));
        let s = Stats::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert_eq!(s.samples, vec![4.0, 1.0, 3.0, 2.0], "order kept");
    }

    #[test]
    fn interval_matches_textbook_values() {
        // mean 3, sample sd sqrt(2.5); t(0.975, 4) = 2.776445
        let s = Stats::of(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert!(close(s.mean, 3.0, 1e-12));
        assert!(close(s.stddev, 2.5f64.sqrt(), 1e-12));
        let half = 2.776445 * 2.5f64.sqrt() / 5f64.sqrt();
        assert!(close(s.ci95_lo, 3.0 - half, 1e-5), "{s:?}");
        assert!(close(s.ci95_hi, 3.0 + half, 1e-5), "{s:?}");
        // Two samples: t(0.975, 1) = 12.706
        let s = Stats::of(&[10.0, 12.0]).unwrap();
        assert!(close(
            s.ci95_hi - s.mean,
            12.7062 * 2f64.sqrt() / 2f64.sqrt(),
            1e-3
        ));
    }

    #[test]
    fn single_sample_and_constant_samples_have_no_spread() {
        let s = Stats::of(&[7.0]).unwrap();
        assert_eq!(
            (s.median, s.stddev, s.ci95_lo, s.ci95_hi),
            (7.0, 0.0, 7.0, 7.0)
        );
        let s = Stats::of(&[2.0; 4]).unwrap();
        assert_eq!((s.stddev, s.ci95_lo, s.ci95_hi), (0.0, 2.0, 2.0));
    }

    #[test]
    fn empty_or_non_finite_input_gives_none() {
        assert!(Stats::of(&[]).is_none());
        assert!(Stats::of(&[1.0, f64::NAN]).is_none());
        assert!(Stats::of(&[f64::INFINITY]).is_none());
    }

    #[test]
    fn median_always_lies_within_min_max_and_interval_around_mean() {
        let data = [3.1, 2.9, 3.3, 10.0, 3.0, 2.8];
        let s = Stats::of(&data).unwrap();
        assert!(s.min <= s.median && s.median <= s.max);
        assert!(s.ci95_lo <= s.mean && s.mean <= s.ci95_hi);
    }

    #[test]
    fn map_inverts_order_for_decreasing_functions() {
        let ns = Stats::of(&[100.0, 200.0, 400.0]).unwrap();
        let rate = ns.map(|x| 1e9 / x).unwrap();
        assert_eq!(rate.min, 1e9 / 400.0);
        assert_eq!(rate.max, 1e9 / 100.0);
        assert_eq!(rate.median, 1e9 / 200.0);
    }
}
