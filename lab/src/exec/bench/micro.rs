//! The micro level: `BPF_PROG_TEST_RUN` of the egress and ingress programs
//! of each variant at each packet size, and of the crypto-only program
//! (the raw cipher limit) at the same cipher lengths.
//!
//! Every run is one test run with `repeat = 1`, timed by the kernel: with
//! `repeat > 1` the kernel reruns the program on the packet the previous
//! run left, so the encrypting program would encrypt its own output until
//! it grows past the size limit and is dropped (fast, and wrong). A round
//! is many such runs (calibrated to a target duration). Rounds are
//! interleaved: round 1 of every figure, then round 2 of every figure, …,
//! so each figure's samples span the whole run and its spread includes the
//! machine's drift, not only back-to-back noise; the first rounds are
//! warm-up and discarded.
//!
//! Every run's verdict (`TC_ACT_OK` or `TCX_NEXT`) and output length are
//! checked, the first run's output is checked byte for byte (ciphertext
//! against a reference AES), and the counters must account for every run
//! of every round: a path that drops packets yields a failed check and no
//! figure, never a fast one.

use std::time::Instant;

use anyhow::{Context, Result};

use super::frames::{self, ETH_HLEN, cipher_len, egress_frame_len, udp_frame};
use super::kfunc::CipherOnly;
use crate::dataplane::DataPlane;
use crate::dataplane::abi::{TC_ACT_OK, is_pass, verdict_name};
use crate::domain::{Algorithm, BenchVariant, CipherSpec, Counters, Direction};
use crate::job::bench::{CheckResult, CipherPoint, MicroPoint};
use crate::job::stats::Stats;
use crate::output::progress::Progress;
use crate::spec::bench_plan::{BenchPlan, CipherPlan, MicroPlan};
use crate::sys::signals;

/// Counters that must not move while a working path is measured.
const BAD_COUNTERS: &[&str] = &[
    "dropped_nokey",
    "dropped_unsupported",
    "dropped_invalid",
    "errors",
];

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
fn check_counters(
    v: BenchVariant,
    dir: Direction,
    size: u32,
    n: u64,
    d: &Counters,
) -> Result<(), String> {
    let get = |k: &str| *d.get(k).unwrap_or(&0);
    for k in BAD_COUNTERS {
        if get(k) != 0 {
            return Err(format!("counter {k} rose by {} during a round", get(k)));
        }
    }
    let want: &[(&str, u64)] = match (v, dir) {
        (BenchVariant::Ecb | BenchVariant::Cbc, Direction::Egress) => &[
            ("encrypted", n),
            ("encrypted_bytes", n * (size as u64 - 20)),
        ],
        (BenchVariant::Ecb | BenchVariant::Cbc, Direction::Ingress) => &[
            ("decrypted", n),
            ("decrypted_bytes", n * (size as u64 - 20)),
        ],
        (BenchVariant::Copy, _) => &[("copied", n)],
        _ => &[],
    };
    for (k, w) in want {
        if get(k) != *w {
            return Err(format!(
                "counter {k} rose by {} in a round of {n} runs, expected {w}",
                get(k)
            ));
        }
    }
    Ok(())
}

/// Loads a variant's data plane, keyed when it encrypts.
pub(crate) fn load_variant(v: BenchVariant, key: &[u8]) -> Result<DataPlane> {
    let build = v.build().context("the `none` variant has no program")?;
    let dp = DataPlane::load(build)?;
    if let Some(algorithm) = v.algorithm() {
        dp.provision(&CipherSpec {
            algorithm,
            key: key.to_vec(),
        })
        .with_context(|| format!("keying the {} data plane", v.as_str()))?;
    }
    Ok(dp)
}

/// The figure a job measures.
#[derive(Debug, Clone, Copy)]
enum Figure {
    /// A data plane program.
    Micro(BenchVariant, Direction, u32),
    /// The crypto-only program.
    Cipher(Algorithm, Direction, u32),
}

/// What a job runs.
enum Program<'a> {
    /// The data plane's program on `input`, which must return `want_len` bytes.
    DataPlane {
        dp: &'a DataPlane,
        input: Vec<u8>,
        want_len: usize,
    },
    /// The crypto-only program (the packet does not matter).
    Cipher(CipherOnly, Vec<u8>),
}

/// One figure being measured: its program, round settings and samples.
struct Job<'a> {
    figure: Figure,
    program: Program<'a>,
    rounds: Rounds,
    runs: u32,
    samples: Vec<f64>,
    counters: Counters,
    failure: Option<String>,
    out: Vec<u8>,
}

impl Job<'_> {
    fn label(&self) -> String {
        match self.figure {
            Figure::Micro(v, d, s) => format!("micro {} {} {s} B", v.as_str(), d.as_str()),
            Figure::Cipher(a, d, s) => format!("cipher {} {} {s} B", a.kernel_name(), d.as_str()),
        }
    }

    /// One run: kernel ns, or why it was wrong.
    fn run_once(&mut self) -> Result<u32, String> {
        match (&self.program, self.figure) {
            (
                Program::DataPlane {
                    dp,
                    input,
                    want_len,
                },
                Figure::Micro(_, dir, _),
            ) => {
                let t = dp
                    .test_run(dir, input, &mut self.out, 1)
                    .map_err(|e| e.to_string())?;
                if !is_pass(t.retval) {
                    return Err(format!(
                        "a run returned {} instead of a pass verdict",
                        verdict_name(t.retval)
                    ));
                }
                if t.data_out_len != *want_len {
                    return Err(format!(
                        "a run returned {} bytes instead of {want_len}",
                        t.data_out_len
                    ));
                }
                Ok(t.duration_ns)
            }
            (Program::Cipher(prog, frame), _) => match prog.run(frame) {
                Ok((rc, ns)) if rc == TC_ACT_OK as u32 => Ok(ns),
                Ok((rc, _)) => Err(format!(
                    "the kfunc failed (program returned {})",
                    verdict_name(rc)
                )),
                Err(e) => Err(e.to_string()),
            },
            _ => Err("internal: job and program do not match".into()),
        }
    }

    /// Times a few runs and sets the runs per round from the target duration.
    fn calibrate(&mut self) {
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
            Program::DataPlane { dp, .. } => Some(*dp),
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

/// Checks the first run of a data plane program: verdict and the whole
/// output frame (`expect`, or for egress encryption a reference AES).
fn first_run(
    dp: &DataPlane,
    v: BenchVariant,
    dir: Direction,
    input: &[u8],
    expect: Option<&[u8]>,
    key: &[u8],
    out: &mut [u8],
) -> Result<Result<(), String>> {
    let t = dp.test_run(dir, input, out, 1)?;
    if !is_pass(t.retval) {
        return Ok(Err(format!(
            "the program returned {} instead of a pass verdict",
            verdict_name(t.retval)
        )));
    }
    let got = &out[..t.data_out_len];
    Ok(match (expect, v.algorithm()) {
        (Some(e), _) if got != e => Err(format!(
            "output frame differs from the expected one ({} bytes, expected {})",
            got.len(),
            e.len()
        )),
        (Some(_), _) => Ok(()),
        (None, Some(alg)) => frames::check_ciphertext(alg, key, input, got),
        (None, None) => Ok(()),
    })
}

/// Steps (job rounds) the micro level and cipher baseline of `plan` take.
pub(crate) fn steps(plan: &BenchPlan) -> u64 {
    let figures = (plan.variants.len() * plan.sizes.len() * 2) as u64;
    let crypto = plan
        .variants
        .iter()
        .filter(|v| v.algorithm().is_some())
        .count() as u64;
    let mut n = 0;
    if let Some(m) = &plan.micro {
        n += figures * (m.rounds + m.warmup_rounds) as u64;
    }
    if let Some(c) = &plan.cipher {
        n += crypto * plan.sizes.len() as u64 * 2 * (c.rounds + c.warmup_rounds) as u64;
    }
    n
}

/// Runs the micro level and the cipher baseline (each when planned) for
/// every variant, size and direction, rounds interleaved across figures;
/// ratios to the cipher are filled in at the end.
pub(crate) fn run(
    plan: &BenchPlan,
    progress: &dyn Progress,
) -> Result<(Vec<MicroPoint>, Vec<CipherPoint>)> {
    let mut planes = Vec::new();
    for &v in &plan.variants {
        planes.push((v, load_variant(v, &plan.key)?));
    }
    let (mut jobs, unloadable) = prepare(plan, &planes)?;
    for j in jobs.iter_mut().filter(|j| j.failure.is_none()) {
        j.calibrate();
    }
    run_rounds(&mut jobs, progress)?;
    let (mut micro, mut cipher) = results(jobs);
    cipher.extend(unloadable);
    fill_ratios(&mut micro, &cipher);
    Ok((micro, cipher))
}

impl<'a> Job<'a> {
    fn new(
        figure: Figure,
        program: Program<'a>,
        rounds: Rounds,
        failure: Option<String>,
        out: Vec<u8>,
    ) -> Self {
        Self {
            figure,
            program,
            rounds,
            runs: 0,
            samples: Vec::new(),
            counters: Counters::new(),
            failure,
            out,
        }
    }
}

/// Builds the jobs: frames, the checked first run of every data plane
/// program, a crypto-only program per cipher, direction and size (those
/// that cannot load are returned as figures with their error).
fn prepare<'a>(
    plan: &BenchPlan,
    planes: &'a [(BenchVariant, DataPlane)],
) -> Result<(Vec<Job<'a>>, Vec<CipherPoint>)> {
    let (src, dst) = (plan.left.addr, plan.right.addr);
    let any_frame = udp_frame(64, src, dst, 0);
    let mut jobs = Vec::new();
    let mut unloadable = Vec::new();
    for (v, dp) in planes {
        let v = *v;
        for &size in &plan.sizes {
            let plain = udp_frame(size, src, dst, size as u64);
            // Ingress input: what egress puts on the wire.
            let mut wire = vec![0u8; egress_frame_len(v.algorithm(), size) + 64];
            let t = dp.test_run(Direction::Egress, &plain, &mut wire, 1)?;
            wire.truncate(t.data_out_len);
            for dir in [Direction::Egress, Direction::Ingress] {
                signals::check()?;
                if let Some(mp) = &plan.micro {
                    let (input, expect, want_len) = match dir {
                        Direction::Egress => (
                            &plain,
                            v.algorithm().is_none().then_some(&plain[..]),
                            egress_frame_len(v.algorithm(), size),
                        ),
                        Direction::Ingress => (&wire, Some(&plain[..]), ETH_HLEN + size as usize),
                    };
                    let mut out = vec![0u8; want_len + 64];
                    let failure = first_run(dp, v, dir, input, expect, &plan.key, &mut out)?.err();
                    let program = Program::DataPlane {
                        dp,
                        input: input.clone(),
                        want_len,
                    };
                    jobs.push(Job::new(
                        Figure::Micro(v, dir, size),
                        program,
                        mp.into(),
                        failure,
                        out,
                    ));
                }
                if let (Some(cp), Some(alg)) = (&plan.cipher, v.algorithm()) {
                    let len = cipher_len(size);
                    match CipherOnly::load(dp, dir, alg == Algorithm::CbcAes, len) {
                        Ok(prog) => {
                            let program = Program::Cipher(prog, any_frame.clone());
                            jobs.push(Job::new(
                                Figure::Cipher(alg, dir, size),
                                program,
                                cp.into(),
                                None,
                                Vec::new(),
                            ));
                        }
                        Err(e) => unloadable.push(CipherPoint {
                            algorithm: alg,
                            direction: dir,
                            size,
                            cipher_bytes: len,
                            ns: None,
                            gbps: None,
                            error: Some(format!("{e}")),
                        }),
                    }
                }
            }
        }
    }
    Ok((jobs, unloadable))
}

/// Round 1 of every job, then round 2 of every job, …; a job that failed
/// stops taking rounds.
fn run_rounds(jobs: &mut [Job], progress: &dyn Progress) -> Result<()> {
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

/// Turns finished jobs into figures: statistics when every check held,
/// the reason otherwise.
fn results(jobs: Vec<Job>) -> (Vec<MicroPoint>, Vec<CipherPoint>) {
    let mut micro = Vec::new();
    let mut cipher = Vec::new();
    for j in jobs {
        let stats = if j.failure.is_none() {
            Stats::of(&j.samples)
        } else {
            None
        };
        let gbps = |size: u32| {
            stats
                .as_ref()
                .and_then(|s| s.map(|ns| size as f64 * 8.0 / ns))
        };
        match j.figure {
            Figure::Micro(v, dir, size) => {
                let want_len = match &j.program {
                    Program::DataPlane { want_len, .. } => *want_len,
                    Program::Cipher(..) => 0,
                };
                let rounds = j.rounds.warmup + j.rounds.rounds;
                let check = match &j.failure {
                    Some(why) => CheckResult::failed(why.clone()),
                    None => CheckResult::ok(format!(
                        "pass verdict and {want_len}-byte output on every run; output frame verified{}; {}",
                        if v.algorithm().is_some() && dir == Direction::Egress {
                            " with a reference AES"
                        } else {
                            ""
                        },
                        if v == BenchVariant::Noop {
                            "the noop variant counts nothing".to_string()
                        } else {
                            format!("counters matched every run of all {rounds} rounds")
                        }
                    )),
                };
                micro.push(MicroPoint {
                    variant: v,
                    direction: dir,
                    size,
                    runs_per_round: j.runs,
                    gbps: gbps(size),
                    ns: stats.clone(),
                    cipher_limit_ns: None,
                    ratio_to_cipher: None,
                    check,
                    counters: j.counters,
                });
            }
            Figure::Cipher(alg, dir, size) => cipher.push(CipherPoint {
                algorithm: alg,
                direction: dir,
                size,
                cipher_bytes: cipher_len(size),
                gbps: gbps(size),
                ns: stats.clone(),
                error: j.failure,
            }),
        }
    }
    (micro, cipher)
}

/// Sets each crypto figure's cipher limit and its ratio to it.
pub(crate) fn fill_ratios(micro: &mut [MicroPoint], cipher: &[CipherPoint]) {
    for m in micro.iter_mut() {
        let Some(alg) = m.variant.algorithm() else {
            continue;
        };
        let limit = cipher
            .iter()
            .find(|c| c.algorithm == alg && c.direction == m.direction && c.size == m.size)
            .and_then(|c| c.ns.as_ref())
            .map(|s| s.median);
        m.cipher_limit_ns = limit;
        m.ratio_to_cipher = match (limit, &m.ns) {
            (Some(l), Some(ns)) if ns.median > 0.0 => Some(l / ns.median),
            _ => None,
        };
    }
}
