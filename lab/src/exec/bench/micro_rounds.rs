//! The micro level's passes: every figure's calls interleaved call by
//! call. A pass makes each job's calls for one round, spread evenly over
//! the pass (a weighted round robin), so a burst of load or a slow phase
//! of the machine hits every figure alike; a paired bench's candidate and
//! baseline of one figure alternate call by call (AB in even passes, BA in
//! odd ones). The first passes are warm-up; the measured ones deal each
//! job's calls out to its rounds in turn. The counters of each data plane
//! are checked after every pass against what all its jobs' calls must
//! have added.

use std::collections::BTreeMap;

use anyhow::Result;

use super::micro_job::{Job, check_counters};
use crate::dataplane::DataPlane;
use crate::domain::Counters;
use crate::output::progress::Progress;
use crate::sys::signals;

/// Runs every pass of every job (warm-up, then one per measured round),
/// each after `before_pass` (which keys afresh the data planes whose keys
/// expire), then turns each job's calls into its rounds' figures; a job
/// that failed stops taking calls.
pub(crate) fn run_rounds(
    jobs: &mut [Job],
    before_pass: &dyn Fn() -> Result<()>,
    progress: &dyn Progress,
) -> Result<()> {
    let most = jobs
        .iter()
        .map(|j| j.rounds.warmup + j.rounds.rounds)
        .max()
        .unwrap_or(0);
    for r in 0..most {
        let active: Vec<usize> = (0..jobs.len())
            .filter(|&i| r < jobs[i].rounds.warmup + jobs[i].rounds.rounds)
            .filter(|&i| jobs[i].failure.is_none())
            .collect();
        let order = call_order(jobs, &active, r);
        let planes = planes_of(jobs, &active);
        before_pass()?;
        let before = planes
            .iter()
            .map(|dp| dp.counters())
            .collect::<Result<Vec<_>, _>>()?;
        for &i in &active {
            let measured = r >= jobs[i].rounds.warmup;
            jobs[i].begin_pass(measured);
        }
        interleave(jobs, &order)?;
        for (dp, before) in planes.iter().zip(&before) {
            check_plane(jobs, &active, dp, before)?;
        }
        for &i in &active {
            jobs[i].end_pass();
            let total = jobs[i].rounds.warmup + jobs[i].rounds.rounds;
            progress.point(&format!("{} · pass {}/{total}", jobs[i].label(), r + 1));
        }
    }
    for j in jobs.iter_mut() {
        j.finish();
    }
    Ok(())
}

/// The order of the jobs within each sweep of pass `r`: as listed, with a
/// job and its twin on the other arm swapped in odd passes.
fn call_order(jobs: &[Job], active: &[usize], r: u32) -> Vec<usize> {
    let mut order = active.to_vec();
    if r % 2 == 1 {
        let mut k = 0;
        while k + 1 < order.len() {
            if jobs[order[k]].twin_of(&jobs[order[k + 1]]) {
                order.swap(k, k + 1);
                k += 2;
            } else {
                k += 1;
            }
        }
    }
    order
}

/// The distinct data planes of the active jobs.
fn planes_of<'a>(jobs: &[Job<'a>], active: &[usize]) -> Vec<&'a DataPlane> {
    let mut planes: Vec<&DataPlane> = Vec::new();
    for dp in active.iter().flat_map(|&i| jobs[i].data_planes()) {
        if !planes.iter().any(|p| std::ptr::eq(*p, dp)) {
            planes.push(dp);
        }
    }
    planes
}

/// Makes every job's calls of one pass: in sweep `s` of `most`, a job
/// with `runs` calls per pass catches up to `(s + 1) · runs / most`
/// calls, so its calls spread evenly over the pass.
fn interleave(jobs: &mut [Job], order: &[usize]) -> Result<()> {
    let most = order.iter().map(|&i| jobs[i].runs).max().unwrap_or(0) as u64;
    for s in 0..most {
        if s % 256 == 0 {
            signals::check()?;
        }
        for &i in order {
            let j = &mut jobs[i];
            let due = ((s + 1) * j.runs as u64).div_ceil(most) as usize;
            while j.failure.is_none() && (j.made as usize) < due {
                j.call();
            }
        }
    }
    Ok(())
}

/// Checks one data plane's counters after a pass against the sum of what
/// its jobs' calls must have added; a mismatch fails every job on it. A
/// pass in which one of them failed a run is not checked (that job has
/// its reason already).
fn check_plane(
    jobs: &mut [Job],
    active: &[usize],
    dp: &DataPlane,
    before: &Counters,
) -> Result<()> {
    // (job, its instance index) of every job running on `dp`.
    let on: Vec<(usize, usize)> = active
        .iter()
        .filter_map(|&j| {
            let at = jobs[j]
                .data_planes()
                .iter()
                .position(|p| std::ptr::eq(*p, dp))?;
            Some((j, at))
        })
        .collect();
    if on.iter().any(|&(j, _)| jobs[j].failure.is_some()) {
        return Ok(());
    }
    let mut want: Counters = BTreeMap::new();
    for &(j, at) in &on {
        for (k, n) in jobs[j].expected_on(at) {
            *want.entry(k.to_string()).or_insert(0) += n;
        }
    }
    let after = dp.counters()?;
    let delta: Counters = after
        .iter()
        .map(|(k, v)| (k.clone(), v.saturating_sub(*before.get(k).unwrap_or(&0))))
        .filter(|(_, d)| *d > 0)
        .collect();
    if let Err(why) = check_counters(&want, &delta) {
        for &(j, _) in &on {
            jobs[j].failure = Some(why.clone());
        }
    }
    Ok(())
}
