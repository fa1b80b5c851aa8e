//! Paired statistics: a figure measured round for round on the candidate
//! and on the baseline gives one log-ratio ln(candidate / baseline) per
//! round. Drift of the machine hits both sides of a round alike and
//! cancels in the ratio; what is left is judged with Student's t interval
//! of the mean log-ratio, turned back into a ratio (a geometric mean).

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// The paired per-round ratios of one figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PairedStats {
    /// Rounds paired.
    pub(crate) n: usize,
    /// Mean of ln(candidate / baseline).
    pub(crate) mean_log: f64,
    /// Sample standard deviation of the log-ratios (n − 1).
    pub(crate) sd_log: f64,
    /// exp(mean_log): the typical candidate/baseline ratio.
    pub(crate) ratio: f64,
    /// Lower end of its 95 % interval.
    pub(crate) lo: f64,
    /// Upper end of its 95 % interval.
    pub(crate) hi: f64,
}

/// The `p` quantile of Student's t with `df` degrees of freedom.
pub(crate) fn t_quantile(p: f64, df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df.max(1) as f64)
        .map(|t| t.inverse_cdf(p))
        .unwrap_or(1.96)
}

/// Pairs round `i` of `candidate` with round `i` of `baseline`. `None`
/// when the rounds do not match, there are fewer than two, or a value is
/// not a positive finite number (no ratio).
pub(crate) fn paired(candidate: &[f64], baseline: &[f64]) -> Option<PairedStats> {
    let n = candidate.len();
    if n < 2 || baseline.len() != n {
        return None;
    }
    let ok = |x: &f64| x.is_finite() && *x > 0.0;
    if !candidate.iter().all(ok) || !baseline.iter().all(ok) {
        return None;
    }
    let logs: Vec<f64> = candidate
        .iter()
        .zip(baseline)
        .map(|(c, b)| (c / b).ln())
        .collect();
    let mean = logs.iter().sum::<f64>() / n as f64;
    let sd = (logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let half = t_quantile(0.975, n - 1) * sd / (n as f64).sqrt();
    Some(PairedStats {
        n,
        mean_log: mean,
        sd_log: sd,
        ratio: mean.exp(),
        lo: (mean - half).exp(),
        hi: (mean + half).exp(),
    })
}

/// The `p` quantile of the standard normal distribution.
fn z_quantile(p: f64) -> f64 {
    Normal::new(0.0, 1.0)
        .map(|d| d.inverse_cdf(p))
        .unwrap_or(1.645)
}

/// How far above the flagging point a true log-ratio must sit to be
/// flagged in 95 % of runs: a run flags when its interval's lower end,
/// mean − t₀.₉₇₅(n − 1)·`se`, clears the threshold, and its mean log-ratio
/// varies from run to run around the true one with standard deviation
/// `between` (measured over repeated A/A runs: it holds what one run's
/// interval does not see, such as where the kernel placed the programs).
fn margin(se: f64, between: f64, n: usize) -> Option<f64> {
    let ok = |x: f64| x.is_finite() && x >= 0.0;
    (n >= 2 && ok(se) && ok(between))
        .then(|| t_quantile(0.975, n - 1) * se + z_quantile(0.95) * between)
}

/// The smallest rise of a cost (a fraction: 0.12 is +12 %) that one paired
/// run of `n` rounds flags as beyond `threshold` (a fraction too) with
/// 95 % power, given the standard error `se` of a run's mean log-ratio and
/// its run-to-run standard deviation `between`. With `threshold` 0 it is
/// the smallest rise detected at all.
pub(crate) fn detectable(se: f64, between: f64, n: usize, threshold: f64) -> Option<f64> {
    Some(((1.0 + threshold).ln() + margin(se, between, n)?).exp() - 1.0)
}

/// The smallest fall of a rate (a fraction: 0.12 is −12 %) flagged as
/// beyond `threshold` with 95 % power: the mirror of [`detectable`], the
/// interval's upper end must stay under ln(1 − threshold).
pub(crate) fn detectable_drop(se: f64, between: f64, n: usize, threshold: f64) -> Option<f64> {
    if threshold >= 1.0 {
        return None;
    }
    Some(1.0 - ((1.0 - threshold).ln() - margin(se, between, n)?).exp())
}

/// The sample standard deviation of `xs` (n − 1); `None` for fewer than two.
pub(crate) fn sd(xs: &[f64]) -> Option<f64> {
    let n = xs.len();
    if n < 2 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    Some((xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt())
}

/// The root mean square of standard deviations: the typical spread of
/// several figures with the same number of rounds.
pub(crate) fn pooled_sd(sds: &[f64]) -> Option<f64> {
    if sds.is_empty() {
        return None;
    }
    Some((sds.iter().map(|s| s * s).sum::<f64>() / sds.len() as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() <= eps
    }

    #[test]
    fn a_constant_ratio_has_a_point_interval() {
        let b = [100.0, 140.0, 90.0, 120.0];
        let c: Vec<f64> = b.iter().map(|x| x * 1.2).collect();
        let p = paired(&c, &b).unwrap();
        // Drift of ±40 % between rounds cancels: the ratio is exact.
        assert!(close(p.ratio, 1.2, 1e-12) && close(p.lo, 1.2, 1e-12) && close(p.hi, 1.2, 1e-12));
        assert_eq!(p.n, 4);
    }

    #[test]
    fn interval_is_the_t_interval_of_the_log_ratios() {
        // Log-ratios ln 1.1, ln 1.0, ln 1.2: mean m, sd s, t(0.975, 2) = 4.302653.
        let c = [1.1, 1.0, 1.2];
        let b = [1.0; 3];
        let logs = [1.1f64.ln(), 0.0, 1.2f64.ln()];
        let m = logs.iter().sum::<f64>() / 3.0;
        let s = (logs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 2.0).sqrt();
        let p = paired(&c, &b).unwrap();
        assert!(close(p.mean_log, m, 1e-12) && close(p.sd_log, s, 1e-12));
        let half = 4.302653 * s / 3f64.sqrt();
        assert!(close(p.lo, (m - half).exp(), 1e-5), "{p:?}");
        assert!(close(p.hi, (m + half).exp(), 1e-5), "{p:?}");
        assert!(p.lo < p.ratio && p.ratio < p.hi);
    }

    #[test]
    fn unpairable_rounds_give_none() {
        assert!(paired(&[1.0], &[1.0]).is_none(), "one round");
        assert!(paired(&[1.0, 2.0], &[1.0]).is_none(), "rounds differ");
        assert!(paired(&[1.0, 0.0], &[1.0, 1.0]).is_none(), "zero");
        assert!(paired(&[1.0, f64::NAN], &[1.0, 1.0]).is_none(), "NaN");
        assert!(paired(&[1.0, 2.0], &[1.0, -1.0]).is_none(), "negative");
    }

    #[test]
    fn detectable_regression_grows_with_spread_and_shrinks_with_rounds() {
        // No spread: exactly the threshold.
        assert!(close(detectable(0.0, 0.0, 7, 0.10).unwrap(), 0.10, 1e-12));
        // se 1 %, between-run sd 2 %, 7 rounds: t(.975,6) = 2.446912, z(.95) = 1.644854.
        let want = ((1.1f64).ln() + 2.446912 * 0.01 + 1.644854 * 0.02).exp() - 1.0;
        assert!(close(detectable(0.01, 0.02, 7, 0.10).unwrap(), want, 1e-5));
        assert!(
            detectable(0.01, 0.04, 7, 0.10).unwrap() > detectable(0.01, 0.02, 7, 0.10).unwrap()
        );
        assert!(
            detectable(0.01, 0.02, 20, 0.10).unwrap() < detectable(0.01, 0.02, 7, 0.10).unwrap()
        );
        assert!(detectable(0.01, 0.02, 1, 0.10).is_none());
        assert!(detectable(f64::NAN, 0.02, 7, 0.10).is_none());
        // A rate: the same margin downwards.
        assert!(close(
            detectable_drop(0.0, 0.0, 7, 0.10).unwrap(),
            0.10,
            1e-12
        ));
        let drop = 1.0 - ((0.9f64).ln() - 2.446912 * 0.01 - 1.644854 * 0.02).exp();
        assert!(close(
            detectable_drop(0.01, 0.02, 7, 0.10).unwrap(),
            drop,
            1e-5
        ));
        assert!(close(
            pooled_sd(&[0.03, 0.04]).unwrap(),
            (0.00125f64).sqrt(),
            1e-12
        ));
        assert!(pooled_sd(&[]).is_none());
        assert!(close(sd(&[1.0, 2.0, 3.0]).unwrap(), 1.0, 1e-12));
        assert!(sd(&[1.0]).is_none());
    }
}
