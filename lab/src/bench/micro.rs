//! The micro level: `BPF_PROG_TEST_RUN` of the egress and ingress programs
//! of each variant at each packet size, and of the crypto-only program
//! (the raw cipher limit) at the same cipher lengths.
//!
//! Every run is one test run with `repeat = 1`, timed by the kernel: with
//! `repeat > 1` the kernel reruns the program on the packet the previous
//! run left, so the encrypting program would encrypt its own output until
//! it grows past the size limit and is dropped (fast, and wrong). A round
//! is many such runs; the first rounds are warm-up and discarded. Every
//! run's return code and output length are checked, the first run's
//! output is checked byte for byte (ciphertext against a reference AES),
//! and the counters must account for every measured run: a path that
//! drops packets yields a failed check and no figure, never a fast one.

use std::time::Instant;

use anyhow::{Context, Result};

use super::frames::{self, ETH_HLEN, cipher_len, egress_frame_len, udp_frame};
use super::kfunc::CipherOnly;
use super::model::{BenchVariant, CheckResult, CipherPoint, MicroPoint};
use super::progress::Progress;
use super::spec::{BenchPlan, MicroPlan};
use super::stats::Stats;
use crate::dataplane::{Counters, DataPlane, Direction};
use crate::plan::{Algorithm, CipherSpec};
use crate::signals;

/// `TC_ACT_OK`.
const TC_ACT_OK: u32 = 0;
/// Counters that must not move while a working path is measured.
const BAD_COUNTERS: &[&str] = &["dropped_nokey", "dropped_unsupported", "dropped_invalid", "errors"];

/// Round settings shared by the data plane and the cipher-only runs.
#[derive(Debug, Clone, Copy)]
pub struct Rounds {
    /// Measured rounds.
    pub rounds: u32,
    /// Discarded rounds.
    pub warmup: u32,
    /// Target duration of a round, ms.
    pub round_ms: u64,
}

impl From<&MicroPlan> for Rounds {
    fn from(m: &MicroPlan) -> Self {
        Self { rounds: m.rounds, warmup: m.warmup_rounds, round_ms: m.round_ms }
    }
}

/// One run's outcome: kernel ns, or why it was wrong.
type RunOutcome = Result<u32, String>;

/// Samples of a measurement: ns per run, per measured round.
struct Measured {
    samples: Vec<f64>,
    runs_per_round: u32,
    failure: Option<String>,
}

/// Calibrates the runs per round, runs warm-up and measured rounds.
fn measure(r: Rounds, mut run: impl FnMut() -> RunOutcome) -> Result<Measured> {
    let t0 = Instant::now();
    let probe = 16u32;
    for _ in 0..probe {
        if let Err(why) = run() {
            return Ok(Measured { samples: Vec::new(), runs_per_round: 0, failure: Some(why) });
        }
    }
    let per_run = t0.elapsed().as_nanos() as f64 / probe as f64;
    let runs = ((r.round_ms as f64 * 1e6 / per_run.max(1.0)) as u32).clamp(16, 200_000);
    let mut samples = Vec::new();
    for i in 0..r.warmup + r.rounds {
        signals::check()?;
        let mut total: u64 = 0;
        for _ in 0..runs {
            match run() {
                Ok(ns) => total += ns as u64,
                Err(why) => return Ok(Measured { samples, runs_per_round: runs, failure: Some(why) }),
            }
        }
        if i >= r.warmup {
            samples.push(total as f64 / runs as f64);
        }
    }
    Ok(Measured { samples, runs_per_round: runs, failure: None })
}

fn delta(before: &Counters, after: &Counters) -> Counters {
    after.iter().map(|(k, v)| (k.clone(), v.saturating_sub(*before.get(k).unwrap_or(&0)))).collect()
}

/// What the counters must show after `n` good runs of a program.
fn check_counters(v: BenchVariant, dir: Direction, size: u32, n: u64, d: &Counters) -> Result<(), String> {
    let get = |k: &str| *d.get(k).unwrap_or(&0);
    for k in BAD_COUNTERS {
        if get(k) != 0 {
            return Err(format!("counter {k} rose by {} during the measured runs", get(k)));
        }
    }
    let want: &[(&str, u64)] = match (v, dir) {
        (BenchVariant::Ecb | BenchVariant::Cbc, Direction::Egress) => {
            &[("encrypted", n), ("encrypted_bytes", n * (size as u64 - 20))]
        }
        (BenchVariant::Ecb | BenchVariant::Cbc, Direction::Ingress) => {
            &[("decrypted", n), ("decrypted_bytes", n * (size as u64 - 20))]
        }
        (BenchVariant::Copy, _) => &[("copied", n)],
        _ => &[],
    };
    for (k, w) in want {
        if get(k) != *w {
            return Err(format!("counter {k} rose by {}, expected {w} (one per run)", get(k)));
        }
    }
    Ok(())
}

/// Loads a variant's data plane, keyed when it encrypts.
pub fn load_variant(v: BenchVariant, key: &[u8]) -> Result<DataPlane> {
    let obj = v.object().context("the `none` variant has no program")?;
    let dp = DataPlane::load(obj)?;
    if let Some(algorithm) = v.algorithm() {
        dp.provision(&CipherSpec { algorithm, key: key.to_vec() })
            .with_context(|| format!("keying the {} data plane", v.as_str()))?;
    }
    Ok(dp)
}

/// Measures one program at one size. `input` is the frame fed to it,
/// `expect` the frame it must return (checked on the first run), or for
/// egress encryption `None` (checked with the reference AES).
#[allow(clippy::too_many_arguments)]
fn point(
    dp: &DataPlane,
    v: BenchVariant,
    dir: Direction,
    size: u32,
    input: &[u8],
    expect: Option<&[u8]>,
    key: &[u8],
    r: Rounds,
) -> Result<MicroPoint> {
    let want_len = match (dir, v.algorithm()) {
        (Direction::Egress, alg) => egress_frame_len(alg, size),
        (Direction::Ingress, _) => ETH_HLEN + size as usize,
    };
    let mut out = vec![0u8; want_len + 64];
    let fail = |why: String| MicroPoint {
        variant: v,
        direction: dir,
        size,
        runs_per_round: 0,
        ns: None,
        gbps: None,
        cipher_limit_ns: None,
        ratio_to_cipher: None,
        check: CheckResult::failed(why),
        counters: Counters::new(),
    };
    // First run: the whole output frame.
    let t = dp.test_run(dir, input, &mut out, 1)?;
    if t.retval != TC_ACT_OK {
        return Ok(fail(format!("the program returned {} instead of TC_ACT_OK", t.retval)));
    }
    let got = &out[..t.data_out_len];
    let content = match (expect, v.algorithm()) {
        (Some(e), _) if got != e => Err(format!(
            "output frame differs from the expected one ({} bytes, expected {})",
            got.len(),
            e.len()
        )),
        (Some(_), _) => Ok(()),
        (None, Some(alg)) => frames::check_ciphertext(alg, key, input, got),
        (None, None) => Ok(()),
    };
    if let Err(why) = content {
        return Ok(fail(why));
    }

    let before = dp.counters()?;
    let m = measure(r, || {
        let t = dp.test_run(dir, input, &mut out, 1).map_err(|e| e.to_string())?;
        if t.retval != TC_ACT_OK {
            return Err(format!("a run returned {} instead of TC_ACT_OK", t.retval));
        }
        if t.data_out_len != want_len {
            return Err(format!("a run returned {} bytes instead of {want_len}", t.data_out_len));
        }
        Ok(t.duration_ns)
    })?;
    let d = delta(&before, &dp.counters()?);
    let mut p = fail(String::new());
    p.runs_per_round = m.runs_per_round;
    p.counters = d.clone();
    if let Some(why) = m.failure {
        p.check = CheckResult::failed(why);
        return Ok(p);
    }
    let n = (m.runs_per_round as u64) * (r.rounds as u64);
    // The counters also saw the calibration runs (16) and the warm-up rounds.
    let counted = n + 16 + (m.runs_per_round as u64) * (r.warmup as u64);
    if let Err(why) = check_counters(v, dir, size, counted, &d) {
        p.check = CheckResult::failed(why);
        return Ok(p);
    }
    p.ns = Stats::of(&m.samples);
    p.gbps = p.ns.as_ref().and_then(|s| s.map(|ns| size as f64 * 8.0 / ns));
    p.check = CheckResult::ok(format!(
        "TC_ACT_OK and {want_len}-byte output on every run; output frame verified{}; counters account for all {counted} runs",
        if v.algorithm().is_some() && dir == Direction::Egress { " with a reference AES" } else { "" }
    ));
    Ok(p)
}

/// Measures the crypto-only program for one algorithm, direction, size.
fn cipher_point(dp: &DataPlane, alg: Algorithm, dir: Direction, size: u32, frame: &[u8], r: Rounds) -> CipherPoint {
    let len = cipher_len(size);
    let mut p = CipherPoint { algorithm: alg, direction: dir, size, cipher_bytes: len, ns: None, gbps: None, error: None };
    let prog = match CipherOnly::load(dp, dir, alg == Algorithm::CbcAes, len) {
        Ok(p) => p,
        Err(e) => {
            p.error = Some(format!("{e}"));
            return p;
        }
    };
    let m = measure(r, || match prog.run(frame) {
        Ok((TC_ACT_OK, ns)) => Ok(ns),
        Ok((rc, _)) => Err(format!("the kfunc failed (program returned {rc})")),
        Err(e) => Err(e.to_string()),
    });
    match m {
        Ok(m) if m.failure.is_none() => {
            p.ns = Stats::of(&m.samples);
            p.gbps = p.ns.as_ref().and_then(|s| s.map(|ns| size as f64 * 8.0 / ns));
        }
        Ok(m) => p.error = m.failure,
        Err(e) => p.error = Some(format!("{e:#}")),
    }
    p
}

/// Runs the micro level (and the cipher baseline, when planned) for every
/// variant and size; ratios to the cipher are filled in at the end.
pub fn run(plan: &BenchPlan, progress: &dyn Progress) -> Result<(Vec<MicroPoint>, Vec<CipherPoint>)> {
    let mut micro = Vec::new();
    let mut cipher = Vec::new();
    let (src, dst) = (plan.left.addr, plan.right.addr);
    for &v in &plan.variants {
        let dp = load_variant(v, &plan.key)?;
        if let Some(mp) = &plan.micro {
            for &size in &plan.sizes {
                let plain = udp_frame(size, src, dst, size as u64);
                progress.point(&format!("micro {} egress {size} B", v.as_str()));
                let egress = point(&dp, v, Direction::Egress, size, &plain, v.algorithm().is_none().then_some(&plain[..]), &plan.key, mp.into())?;
                micro.push(egress);
                // Ingress input: what egress puts on the wire.
                let mut wire = vec![0u8; egress_frame_len(v.algorithm(), size) + 64];
                let t = dp.test_run(Direction::Egress, &plain, &mut wire, 1)?;
                wire.truncate(t.data_out_len);
                progress.point(&format!("micro {} ingress {size} B", v.as_str()));
                micro.push(point(&dp, v, Direction::Ingress, size, &wire, Some(&plain), &plan.key, mp.into())?);
            }
        }
        if let (Some(cp), Some(alg)) = (&plan.cipher, v.algorithm()) {
            let r = Rounds { rounds: cp.rounds, warmup: cp.warmup_rounds, round_ms: cp.round_ms };
            let frame = udp_frame(64, src, dst, 0);
            for dir in [Direction::Egress, Direction::Ingress] {
                for &size in &plan.sizes {
                    signals::check()?;
                    progress.point(&format!("cipher {} {} {size} B", alg.kernel_name(), dir.as_str()));
                    cipher.push(cipher_point(&dp, alg, dir, size, &frame, r));
                }
            }
        }
    }
    fill_ratios(&mut micro, &cipher);
    Ok((micro, cipher))
}

/// Sets each crypto figure's cipher limit and its ratio to it.
pub fn fill_ratios(micro: &mut [MicroPoint], cipher: &[CipherPoint]) {
    for m in micro.iter_mut() {
        let Some(alg) = m.variant.algorithm() else { continue };
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
