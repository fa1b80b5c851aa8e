//! One micro figure being measured: its program, round settings, samples
//! and the checks of every run. Every run is one test run with
//! `repeat = 1`, timed by the kernel (see [`super::micro`] for why).

use std::time::Instant;

use anyhow::Result;

use super::kfunc::CipherOnly;
use crate::dataplane::DataPlane;
use crate::dataplane::abi::{TC_ACT_OK, is_pass, verdict_name};
use crate::domain::{Algorithm, BenchVariant, Counters, DROP_COUNTERS, Direction};
use crate::output::progress::Progress;
use crate::spec::bench_plan::{CipherPlan, MicroPlan};
use crate::sys::signals;

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

/// Counters that changed between two readings, with their increase.
fn delta(before: &Counters, after: &Counters) -> Counters {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v.saturating_sub(*before.get(k).unwrap_or(&0))))
        .filter(|(_, d)| *d > 0)
        .collect()
}

fn add(acc: &mut Counters, d: &Counters) {
    for (k, v) in d {
        *acc.entry(k.clone()).or_insert(0) += v;
    }
}

/// What the counters must show after `n` good runs of a program.
pub(crate) fn check_counters(
    v: BenchVariant,
    dir: Direction,
    size: u32,
    n: u64,
    d: &Counters,
) -> Result<(), String> {
    let get = |k: &str| *d.get(k).unwrap_or(&0);
    for k in DROP_COUNTERS {
        if get(k) != 0 {
            return Err(format!("counter {k} rose by {} during a round", get(k)));
        }
    }
    let bytes = n * (size as u64 - 20);
    let mut want: Vec<(&str, u64)> = match (v.algorithm(), dir) {
        (Some(_), Direction::Egress) => vec![("encrypted", n), ("encrypted_bytes", bytes)],
        (Some(_), Direction::Ingress) => vec![("decrypted", n), ("decrypted_bytes", bytes)],
        (None, _) if v == BenchVariant::Copy => vec![("copied", n)],
        (None, _) => Vec::new(),
    };
    if v.is_esp() && dir == Direction::Ingress {
        // Each ESP ingress run takes a fresh packet from egress.
        want.push(("encrypted", n));
    }
    for (k, w) in want {
        if get(k) != w {
            return Err(format!(
                "counter {k} rose by {} in a round of {n} runs, expected {w}",
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

/// What a job runs.
pub(crate) enum Program<'a> {
    /// The data plane's program on `input`, which must return `want_len` bytes.
    DataPlane {
        dp: &'a DataPlane,
        input: Vec<u8>,
        want_len: usize,
    },
    /// ESP ingress: each run decrypts a fresh packet that egress made of
    /// `plain` just before (untimed), as the anti-replay window takes a
    /// sequence number once.
    EspIngress {
        dp: &'a DataPlane,
        plain: Vec<u8>,
        want_len: usize,
    },
    /// The crypto-only program (the packet does not matter).
    Cipher(CipherOnly, Vec<u8>),
}

/// One figure being measured.
pub(crate) struct Job<'a> {
    pub(crate) figure: Figure,
    /// The AES driver the context was created with, if named.
    pub(crate) driver: Option<String>,
    pub(crate) program: Program<'a>,
    pub(crate) rounds: Rounds,
    pub(crate) runs: u32,
    pub(crate) samples: Vec<f64>,
    pub(crate) counters: Counters,
    pub(crate) failure: Option<String>,
    out: Vec<u8>,
    wire: Vec<u8>,
}

impl<'a> Job<'a> {
    pub(crate) fn new(
        figure: Figure,
        driver: Option<String>,
        program: Program<'a>,
        rounds: Rounds,
        failure: Option<String>,
    ) -> Self {
        Self {
            figure,
            driver,
            program,
            rounds,
            runs: 0,
            samples: Vec::new(),
            counters: Counters::new(),
            failure,
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
        match self.figure {
            Figure::Micro(v, d, s) => format!("micro {}{driver} {} {s} B", v.as_str(), d.as_str()),
            Figure::Cipher(a, d, s) => {
                format!("cipher {}{driver} {} {s} B", a.kernel_name(), d.as_str())
            }
        }
    }

    /// One run: kernel ns, or why it was wrong.
    fn run_once(&mut self) -> Result<u32, String> {
        let (dp, dir, input, want_len) = match (&self.program, self.figure) {
            (Program::Cipher(prog, frame), _) => return cipher_run(prog, frame),
            (
                Program::DataPlane {
                    dp,
                    input,
                    want_len,
                },
                Figure::Micro(_, dir, _),
            ) => (*dp, dir, input.as_slice(), *want_len),
            (
                Program::EspIngress {
                    dp,
                    plain,
                    want_len,
                },
                Figure::Micro(_, dir, _),
            ) => {
                let t = dp
                    .test_run(Direction::Egress, plain, &mut self.wire, 1)
                    .map_err(|e| e.to_string())?;
                (*dp, dir, &self.wire[..t.data_out_len], *want_len)
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
        for _ in 0..probe {
            if let Err(why) = self.run_once() {
                self.failure = Some(why);
                return;
            }
        }
        let per_run = t0.elapsed().as_nanos() as f64 / probe as f64;
        self.runs =
            ((self.rounds.round_ms as f64 * 1e6 / per_run.max(1.0)) as u32).clamp(16, 200_000);
    }

    /// Runs round `index` (warm-up rounds are not kept), checking every run
    /// and, for data plane programs, the counters of the round.
    fn round(&mut self, index: u32) -> Result<()> {
        let dp = match &self.program {
            Program::DataPlane { dp, .. } | Program::EspIngress { dp, .. } => Some(*dp),
            Program::Cipher(..) => None,
        };
        let before = dp.map(|d| d.counters()).transpose()?;
        let mut total: u64 = 0;
        for _ in 0..self.runs {
            match self.run_once() {
                Ok(ns) => total += ns as u64,
                Err(why) => {
                    self.failure = Some(why);
                    return Ok(());
                }
            }
        }
        if let (Some(dp), Some(before), Figure::Micro(v, dir, size)) = (dp, before, self.figure) {
            let d = delta(&before, &dp.counters()?);
            add(&mut self.counters, &d);
            if let Err(why) = check_counters(v, dir, size, self.runs as u64, &d) {
                self.failure = Some(why);
                return Ok(());
            }
        }
        if index >= self.rounds.warmup {
            self.samples.push(total as f64 / self.runs as f64);
        }
        Ok(())
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

/// Round 1 of every job, then round 2 of every job, …; a job that failed
/// stops taking rounds.
pub(crate) fn run_rounds(jobs: &mut [Job], progress: &dyn Progress) -> Result<()> {
    let most = jobs
        .iter()
        .map(|j| j.rounds.warmup + j.rounds.rounds)
        .max()
        .unwrap_or(0);
    for r in 0..most {
        for j in jobs.iter_mut() {
            let total = j.rounds.warmup + j.rounds.rounds;
            if r >= total || j.failure.is_some() {
                continue;
            }
            signals::check()?;
            progress.point(&format!("{} · round {}/{total}", j.label(), r + 1));
            j.round(r)?;
        }
    }
    Ok(())
}
