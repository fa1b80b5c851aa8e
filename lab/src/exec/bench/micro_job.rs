//! One micro figure being measured: its program, round settings, the
//! kernel time of every call, and the checks of every run. Every run is
//! one test run with `repeat = 1`, timed by the kernel (see
//! [`super::micro`] for why). Calls are dealt out to the figure's rounds in
//! turn (call k to round k mod rounds), so every round spans the whole
//! measurement; a round's figure is a low quantile of its calls
//! ([`QUANTILE`]), which the machine's noise moves far less than their mean.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;

use super::kfunc::CipherOnly;
use super::planes::Arm;
use crate::dataplane::DataPlane;
use crate::dataplane::abi::{TC_ACT_OK, is_pass, verdict_name};
use crate::dataplane::format;
use crate::domain::{Algorithm, BenchVariant, Counters, DROP_COUNTERS, Direction};
use crate::spec::bench_plan::{CipherPlan, MicroPlan};

/// Round settings of one figure.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rounds {
    /// Measured rounds.
    pub(crate) rounds: u32,
    /// Discarded rounds.
    pub(crate) warmup: u32,
    /// Target duration of a round, ms.
    pub(crate) round_ms: u64,
}

impl From<&MicroPlan> for Rounds {
    fn from(m: &MicroPlan) -> Self {
        Self {
            rounds: m.rounds,
            warmup: m.warmup_rounds,
            round_ms: m.round_ms,
        }
    }
}

impl From<&CipherPlan> for Rounds {
    fn from(c: &CipherPlan) -> Self {
        Self {
            rounds: c.rounds,
            warmup: c.warmup_rounds,
            round_ms: c.round_ms,
        }
    }
}

/// The quantile of a round's call times that is the round's figure:
/// the 10th percentile. Calls that an interrupt, a preemption or a cold
/// cache slowed down fall above it, so it moves far less with the
/// machine's load than the mean (DESIGN: within about 1 % between runs).
pub(crate) const QUANTILE: f64 = 0.10;

/// Call times of one round as counts per nanosecond value: the calls of
/// a whole run fit in a few thousand entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    counts: BTreeMap<u32, u64>,
    n: u64,
}

impl Tally {
    /// Counts one call.
    pub(crate) fn add(&mut self, ns: u32) {
        *self.counts.entry(ns).or_insert(0) += 1;
        self.n += 1;
    }

    /// The `q` quantile (linear between the two nearest ranks, as for
    /// sorted samples); `None` without calls.
    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let pos = q.clamp(0.0, 1.0) * (self.n - 1) as f64;
        let k = pos.floor() as u64;
        let rank = |r: u64| {
            let mut seen = 0;
            for (&v, &c) in &self.counts {
                seen += c;
                if seen > r {
                    return v as f64;
                }
            }
            0.0
        };
        let lo = rank(k);
        let hi = if k + 1 < self.n { rank(k + 1) } else { lo };
        Some(lo + (pos - k as f64) * (hi - lo))
    }
}

/// What the counters of a data plane must show after `n` good runs of a
/// program: these counters rose by exactly these amounts (and the drop
/// counters not at all).
pub(crate) fn expected_counters(
    v: BenchVariant,
    dir: Direction,
    size: u32,
    n: u64,
) -> Vec<(&'static str, u64)> {
    let bytes = n * (size as u64 - 20);
    let mut want: Vec<(&str, u64)> = match (v.algorithm(), dir) {
        (Some(_), Direction::Egress) => vec![("encrypted", n), ("encrypted_bytes", bytes)],
        (Some(_), Direction::Ingress) => vec![("decrypted", n), ("decrypted_bytes", bytes)],
        (None, _) if v == BenchVariant::Copy => vec![("copied", n)],
        (None, _) => Vec::new(),
    };
    let once = format::of_variant(v).is_some_and(|(f, _)| f.ingress_once());
    if once && dir == Direction::Ingress {
        // Each such ingress run takes a fresh packet from egress.
        want.extend([("encrypted", n), ("encrypted_bytes", bytes)]);
    }
    want
}

/// Checks a data plane's counter changes `d` against the summed
/// expectations of the jobs that ran on it.
pub(crate) fn check_counters(want: &Counters, d: &Counters) -> Result<(), String> {
    let get = |k: &str| *d.get(k).unwrap_or(&0);
    for k in DROP_COUNTERS {
        if get(k) != 0 {
            return Err(format!("counter {k} rose by {} during a round", get(k)));
        }
    }
    for (k, w) in want {
        if get(k) != *w {
            return Err(format!(
                "counter {k} rose by {} in a round, expected {w}",
                get(k)
            ));
        }
    }
    Ok(())
}

/// The figure a job measures.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Figure {
    /// A data plane program.
    Micro(BenchVariant, Direction, u32),
    /// The crypto-only program.
    Cipher(Algorithm, Direction, u32),
}

/// What a job runs. A data plane job takes its calls on each loaded
/// instance of the build in turn (see [`super::micro::INSTANCES`]).
pub(crate) enum Program<'a> {
    /// The data plane's program on each instance's input, which must
    /// return `want_len` bytes.
    DataPlane {
        on: Vec<(&'a DataPlane, Vec<u8>)>,
        want_len: usize,
    },
    /// Ingress of a format that takes a packet once (ESP's anti-replay
    /// window): each run decrypts a fresh packet that egress of the same
    /// instance made of `plain` just before (untimed).
    FreshIngress {
        on: Vec<&'a DataPlane>,
        plain: Vec<u8>,
        want_len: usize,
    },
    /// The crypto-only program (the packet does not matter).
    Cipher(CipherOnly, Vec<u8>),
}

/// One figure being measured.
pub(crate) struct Job<'a> {
    pub(crate) figure: Figure,
    /// Our objects, or a paired bench's baseline.
    pub(crate) arm: Arm,
    /// The AES driver the context was created with, if named.
    pub(crate) driver: Option<String>,
    pub(crate) program: Program<'a>,
    pub(crate) rounds: Rounds,
    /// Calls per pass (and per round).
    pub(crate) runs: u32,
    /// Each round's figure: the [`QUANTILE`] of its calls, ns.
    pub(crate) samples: Vec<f64>,
    pub(crate) counters: Counters,
    pub(crate) failure: Option<String>,
    /// Calls made in the pass under way.
    pub(crate) made: u32,
    /// Of those, the calls made on each instance.
    made_on: Vec<u32>,
    /// The instance the next call runs on.
    next: usize,
    /// Whether the pass under way is measured (not warm-up).
    measuring: bool,
    /// Measured calls so far (call k goes to round k mod rounds).
    dealt: u64,
    /// The call times of each round.
    tallies: Vec<Tally>,
    out: Vec<u8>,
    wire: Vec<u8>,
}

impl<'a> Job<'a> {
    pub(crate) fn new(
        figure: Figure,
        arm: Arm,
        driver: Option<String>,
        program: Program<'a>,
        rounds: Rounds,
        failure: Option<String>,
    ) -> Self {
        Self {
            figure,
            arm,
            driver,
            program,
            rounds,
            runs: 0,
            samples: Vec::new(),
            counters: Counters::new(),
            failure,
            made: 0,
            made_on: Vec::new(),
            next: 0,
            measuring: false,
            dealt: 0,
            tallies: vec![Tally::default(); rounds.rounds as usize],
            out: vec![0u8; 4096],
            wire: vec![0u8; 4096],
        }
    }

    pub(crate) fn label(&self) -> String {
        let driver = self
            .driver
            .as_deref()
            .map(|d| format!(" [{d}]"))
            .unwrap_or_default();
        let arm = match self.arm {
            Arm::Candidate => "",
            Arm::Baseline => " (baseline)",
        };
        match self.figure {
            Figure::Micro(v, d, s) => {
                format!("micro {}{driver}{arm} {} {s} B", v.as_str(), d.as_str())
            }
            Figure::Cipher(a, d, s) => {
                format!("cipher {}{driver} {} {s} B", a.kernel_name(), d.as_str())
            }
        }
    }

    /// Whether `other` measures the same figure on the other arm.
    pub(crate) fn twin_of(&self, other: &Job) -> bool {
        let same = match (self.figure, other.figure) {
            (Figure::Micro(v, d, s), Figure::Micro(w, e, t)) => (v, d, s) == (w, e, t),
            _ => false,
        };
        same && self.driver == other.driver && self.arm != other.arm
    }

    /// The data planes (instances) whose counters this job's runs move.
    pub(crate) fn data_planes(&self) -> Vec<&'a DataPlane> {
        match &self.program {
            Program::DataPlane { on, .. } => on.iter().map(|(dp, _)| *dp).collect(),
            Program::FreshIngress { on, .. } => on.clone(),
            Program::Cipher(..) => Vec::new(),
        }
    }

    /// What this pass's calls on instance `i` must have added to its
    /// counters.
    pub(crate) fn expected_on(&self, i: usize) -> Vec<(&'static str, u64)> {
        let n = self.made_on.get(i).copied().unwrap_or(0) as u64;
        match self.figure {
            Figure::Micro(v, dir, size) => expected_counters(v, dir, size, n),
            Figure::Cipher(..) => Vec::new(),
        }
    }

    /// One call of the pass under way, on the next instance; a wrong run
    /// ends the job.
    pub(crate) fn call(&mut self) {
        let i = self.next;
        self.next = (i + 1) % self.made_on.len().max(1);
        match self.run_once(i) {
            Ok(ns) => {
                self.made += 1;
                if let Some(m) = self.made_on.get_mut(i) {
                    *m += 1;
                }
                if self.measuring && !self.tallies.is_empty() {
                    let k = (self.dealt % self.tallies.len() as u64) as usize;
                    self.tallies[k].add(ns);
                    self.dealt += 1;
                }
            }
            Err(why) => self.failure = Some(why),
        }
    }

    /// Starts a pass: warm-up (its calls are not kept) or measured.
    pub(crate) fn begin_pass(&mut self, measured: bool) {
        self.made = 0;
        self.made_on = vec![0; self.data_planes().len()];
        self.measuring = measured;
    }

    /// Ends a pass whose counters held: counts what they showed.
    pub(crate) fn end_pass(&mut self) {
        if self.failure.is_some() {
            return;
        }
        for i in 0..self.made_on.len() {
            for (k, n) in self.expected_on(i) {
                *self.counters.entry(k.to_string()).or_insert(0) += n;
            }
        }
    }

    /// After the last pass: each round's figure.
    pub(crate) fn finish(&mut self) {
        self.samples = self
            .tallies
            .iter()
            .filter_map(|t| t.quantile(QUANTILE))
            .collect();
    }

    /// One run on instance `i`: kernel ns, or why it was wrong.
    fn run_once(&mut self, i: usize) -> Result<u32, String> {
        let (dp, dir, input, want_len) = match (&self.program, self.figure) {
            (Program::Cipher(prog, frame), _) => return cipher_run(prog, frame),
            (Program::DataPlane { on, want_len }, Figure::Micro(_, dir, _)) => {
                let (dp, input) = on.get(i).ok_or("internal: no such instance")?;
                (*dp, dir, input.as_slice(), *want_len)
            }
            (
                Program::FreshIngress {
                    on,
                    plain,
                    want_len,
                },
                Figure::Micro(_, dir, _),
            ) => {
                let dp = *on.get(i).ok_or("internal: no such instance")?;
                let t = dp
                    .test_run(Direction::Egress, plain, &mut self.wire, 1)
                    .map_err(|e| e.to_string())?;
                (dp, dir, &self.wire[..t.data_out_len], *want_len)
            }
            _ => return Err("internal: job and program do not match".into()),
        };
        let t = dp
            .test_run(dir, input, &mut self.out, 1)
            .map_err(|e| e.to_string())?;
        if !is_pass(t.retval) {
            return Err(format!(
                "a run returned {} instead of a pass verdict",
                verdict_name(t.retval)
            ));
        }
        if t.data_out_len != want_len {
            return Err(format!(
                "a run returned {} bytes instead of {want_len}",
                t.data_out_len
            ));
        }
        Ok(t.duration_ns)
    }

    /// Times a few runs and sets the runs per round from the target duration.
    pub(crate) fn calibrate(&mut self) {
        let t0 = Instant::now();
        let probe = 16u32;
        let instances = self.data_planes().len().max(1);
        for k in 0..probe {
            if let Err(why) = self.run_once(k as usize % instances) {
                self.failure = Some(why);
                return;
            }
        }
        let per_run = t0.elapsed().as_nanos() as f64 / probe as f64;
        self.runs =
            ((self.rounds.round_ms as f64 * 1e6 / per_run.max(1.0)) as u32).clamp(16, 200_000);
    }
}

fn cipher_run(prog: &CipherOnly, frame: &[u8]) -> Result<u32, String> {
    match prog.run(frame) {
        Ok((rc, ns)) if rc == TC_ACT_OK as u32 => Ok(ns),
        Ok((rc, _)) => Err(format!(
            "the kfunc failed (program returned {})",
            verdict_name(rc)
        )),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(values: &[u32]) -> Tally {
        let mut t = Tally::default();
        for &v in values {
            t.add(v);
        }
        t
    }

    #[test]
    fn quantile_interpolates_between_ranks() {
        assert_eq!(tally(&[]).quantile(0.1), None);
        assert_eq!(tally(&[7]).quantile(0.1), Some(7.0));
        // 11 values 0..=100 step 10: the 10th percentile is rank 1 exactly.
        let v: Vec<u32> = (0..=10).rev().map(|i| i * 10).collect();
        assert_eq!(tally(&v).quantile(0.1), Some(10.0));
        // 5 values: position 0.4 between 100 and 200.
        let t = tally(&[500, 100, 400, 200, 300]);
        assert!((t.quantile(0.1).unwrap() - 140.0).abs() < 1e-9);
        assert_eq!(t.quantile(0.0), Some(100.0));
        assert_eq!(t.quantile(1.0), Some(500.0));
        // Repeated values: ranks count every call.
        assert_eq!(tally(&[3, 3, 3, 9]).quantile(0.5), Some(3.0));
        assert_eq!(tally(&[3, 9, 9, 9]).quantile(0.5), Some(9.0));
    }

    #[test]
    fn a_slow_tail_does_not_move_the_quantile() {
        // 90 fast calls and 10 calls slowed 10x: the mean rises by 90 %,
        // the 10th percentile not at all.
        let mut v: Vec<u32> = (0..90).map(|i| 100 + i % 3).collect();
        v.extend([1000; 10]);
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        assert!(mean > 180.0);
        assert_eq!(tally(&v).quantile(QUANTILE), Some(100.0));
    }

    #[test]
    fn counter_expectations_add_up_per_data_plane() {
        let want: Counters = [
            ("encrypted".to_string(), 5),
            ("encrypted_bytes".into(), 5 * 44),
        ]
        .into_iter()
        .collect();
        let e = expected_counters(BenchVariant::Ecb, Direction::Egress, 64, 5);
        assert_eq!(e, vec![("encrypted", 5), ("encrypted_bytes", 220)]);
        assert!(check_counters(&want, &want).is_ok());
        let mut got = want.clone();
        got.insert("encrypted".into(), 4);
        let err = check_counters(&want, &got).unwrap_err();
        assert!(
            err.contains("encrypted rose by 4") && err.contains("expected 5"),
            "{err}"
        );
        got = want.clone();
        got.insert(DROP_COUNTERS[0].to_string(), 1);
        assert!(
            check_counters(&want, &got)
                .unwrap_err()
                .contains(DROP_COUNTERS[0])
        );
        // ESP ingress encrypts a fresh packet per run.
        let e = expected_counters(BenchVariant::Esp, Direction::Ingress, 100, 2);
        assert!(e.contains(&("decrypted", 2)) && e.contains(&("encrypted_bytes", 160)));
        assert!(expected_counters(BenchVariant::Noop, Direction::Egress, 64, 9).is_empty());
    }
}
