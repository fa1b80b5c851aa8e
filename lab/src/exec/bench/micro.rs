//! The micro level: `BPF_PROG_TEST_RUN` of the egress and ingress programs
//! of each data plane build (and each named AES driver) at each packet
//! size, and of the crypto-only program (the raw cipher limit) at the same
//! cipher lengths.
//!
//! Every run is one test run with `repeat = 1`, timed by the kernel: with
//! `repeat > 1` the kernel reruns the program on the packet the previous
//! run left, so the encrypting program would encrypt its own output until
//! it grows past the size limit and is dropped (fast, and wrong). A round
//! is many such runs per figure (calibrated to a target duration); the
//! runs of all figures are interleaved call by call, on one CPU, and dealt
//! out to each figure's rounds in turn ([`super::micro_rounds`]), so every
//! round spans the whole measurement; a round's figure is the 10th
//! percentile of its runs' times. Warm-up passes come first and are
//! discarded. A paired bench adds the baseline's planes: each figure of
//! ours gets a twin on the baseline's object, its calls alternating with
//! ours.
//!
//! Every run's verdict (`TC_ACT_OK` or `TCX_NEXT`) and output length are
//! checked, the first run's output is checked byte for byte (ciphertext
//! against a reference AES, ESP with reference AES-CMAC too), and the
//! counters must account for every run of every round: a path that drops
//! packets yields a failed check and no figure, never a fast one.

use anyhow::Result;

use super::frames::{ETH_HLEN, cipher_len, egress_frame_len, udp_frame};
use super::kfunc::CipherOnly;
use super::micro_job::{Figure, Job, Program};
use super::micro_rounds::run_rounds;
use super::planes::{self, Arm, load_variant};
use crate::dataplane::DataPlane;
use crate::dataplane::abi::{is_pass, verdict_name};
use crate::dataplane::format;
use crate::domain::{Algorithm, BenchVariant, Direction};
use crate::job::bench::{CheckResult, CipherPoint, MicroPoint, Unavailable};
use crate::job::stats::Stats;
use crate::output::progress::Progress;
use crate::spec::bench_plan::BenchPlan;
use crate::sys::signals;

/// Instances of each build loaded and measured in turn, call by call: two
/// loads of one object differ by up to about 15 % for the smallest
/// programs (where the kernel placed their code and maps: the JIT, for
/// one, starts each image at a random offset), and the 10th percentile
/// over calls on six instances takes the better placements, so both sides
/// of a paired bench (and two runs) meet on the same ones. Measured on the
/// host: the largest A/A difference fell from 14.5 % with three instances
/// to under 3 % with six.
pub(crate) const INSTANCES: usize = 6;

/// The loaded, keyed instances of one variant, driver and arm.
pub(crate) struct Plane {
    variant: BenchVariant,
    driver: Option<String>,
    arm: Arm,
    dps: Vec<DataPlane>,
}

/// What the micro level measured.
pub(crate) struct MicroResult {
    /// Data plane figures.
    pub(crate) micro: Vec<MicroPoint>,
    /// Cipher-only figures.
    pub(crate) cipher: Vec<CipherPoint>,
    /// Drivers (or builds) the kernel refused.
    pub(crate) unavailable: Vec<Unavailable>,
    /// The baseline's data plane figures (a paired bench).
    pub(crate) baseline: Vec<MicroPoint>,
}

/// Checks the first run of a data plane program of variant `v`: verdict
/// and the whole output frame (`expect`, or for egress encryption its
/// wire format's reference check).
fn first_run(
    dp: &DataPlane,
    v: BenchVariant,
    dir: Direction,
    input: &[u8],
    expect: Option<&[u8]>,
    key: &[u8],
) -> Result<Result<(), String>> {
    let mut out = vec![0u8; 4096];
    let t = dp.test_run(dir, input, &mut out, 1)?;
    if !is_pass(t.retval) {
        return Ok(Err(format!(
            "the program returned {} instead of a pass verdict",
            verdict_name(t.retval)
        )));
    }
    let got = &out[..t.data_out_len];
    let auth = planes::auth_key(key);
    Ok(match expect {
        Some(e) if got != e => Err(format!(
            "output frame differs from the expected one ({} bytes, expected {})",
            got.len(),
            e.len()
        )),
        Some(_) => Ok(()),
        // Egress of a crypto variant: its wire format's reference check.
        None => match (format::of_variant(v), planes::keys(v, key, &auth, None)) {
            (Some((f, _)), Some(k)) => f.check_egress(&k, input, got),
            _ => Ok(()),
        },
    })
}

/// Steps (job rounds) the micro level and cipher baseline of `plan` take.
pub(crate) fn steps(plan: &BenchPlan) -> u64 {
    let planes = plan.micro_planes();
    let sizes = plan.sizes.len() as u64;
    let crypto = planes
        .iter()
        .filter(|(v, _)| BenchPlan::has_cipher_limit(*v))
        .count() as u64;
    let mut n = 0;
    let arms = if plan.baseline.is_some() { 2 } else { 1 };
    if let Some(m) = &plan.micro {
        n += arms * planes.len() as u64 * sizes * 2 * (m.rounds + m.warmup_rounds) as u64;
    }
    if let Some(c) = &plan.cipher {
        n += crypto * sizes * 2 * (c.rounds + c.warmup_rounds) as u64;
    }
    n
}

/// Loads the planned data planes ([`INSTANCES`] of each), each followed
/// by its baseline twin in a paired bench (the two sides' instances
/// loaded in turn, each side first as often); a driver or build the
/// kernel refuses is unavailable (with its reason), not an error.
fn load_planes(plan: &BenchPlan) -> Result<(Vec<Plane>, Vec<Unavailable>)> {
    let mut planes = Vec::new();
    let mut unavailable = Vec::new();
    let arms: &[Arm] = match plan.baseline {
        Some(_) => &[Arm::Candidate, Arm::Baseline],
        None => &[Arm::Candidate],
    };
    for (variant, driver) in plan.micro_planes() {
        let mut loaded: Vec<Plane> = arms
            .iter()
            .map(|&arm| Plane {
                variant,
                driver: driver.clone(),
                arm,
                dps: Vec::new(),
            })
            .collect();
        let mut refused = None;
        'load: for k in 0..INSTANCES {
            // Neither side always loads first.
            let order: Vec<usize> = match k % 2 {
                0 => (0..loaded.len()).collect(),
                _ => (0..loaded.len()).rev().collect(),
            };
            for i in order {
                let p = &mut loaded[i];
                match load_variant(plan, variant, driver.as_deref(), p.arm) {
                    Ok(dp) => p.dps.push(dp),
                    Err(e) if driver.is_some() && p.arm == Arm::Candidate => {
                        refused = Some(e);
                        break 'load;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        match refused {
            Some(e) => unavailable.push(Unavailable {
                what: planes::algo_name(variant, driver.as_deref().unwrap_or_default())
                    .unwrap_or_default(),
                reason: format!("{e:#}"),
            }),
            None => planes.extend(loaded),
        }
    }
    Ok((planes, unavailable))
}

/// Runs the micro level and the cipher baseline (each when planned) for
/// every data plane, size and direction, calls interleaved across figures;
/// ratios to the cipher are filled in at the end.
pub(crate) fn run(plan: &BenchPlan, progress: &dyn Progress) -> Result<MicroResult> {
    let _pinned = super::cpu::pin_here();
    let (planes, unavailable) = load_planes(plan)?;
    let (mut jobs, unloadable) = prepare(plan, &planes)?;
    for j in jobs.iter_mut().filter(|j| j.failure.is_none()) {
        j.calibrate();
    }
    // Twins make as many calls as each other, so that they alternate.
    for k in 1..jobs.len() {
        if jobs[k].twin_of(&jobs[k - 1]) {
            let runs = jobs[k].runs.max(jobs[k - 1].runs);
            jobs[k].runs = runs;
            jobs[k - 1].runs = runs;
        }
    }
    let refresh = || -> Result<()> {
        for p in &planes {
            planes::refresh(plan, p.variant, p.driver.as_deref(), &p.dps)?;
        }
        Ok(())
    };
    run_rounds(&mut jobs, &refresh, progress)?;
    let (mut micro, mut cipher, mut baseline) = results(jobs);
    cipher.extend(unloadable);
    fill_ratios(&mut micro, &cipher);
    fill_ratios(&mut baseline, &cipher);
    Ok(MicroResult {
        micro,
        cipher,
        unavailable,
        baseline,
    })
}

/// Builds the jobs: frames, the checked first run of every data plane
/// program (a baseline twin right after its candidate), a crypto-only
/// program per cipher, driver, direction and size (those that cannot load
/// are returned as figures with their error).
fn prepare<'a>(plan: &BenchPlan, planes: &'a [Plane]) -> Result<(Vec<Job<'a>>, Vec<CipherPoint>)> {
    let mut jobs = Vec::new();
    let mut unloadable = Vec::new();
    for (k, p) in planes
        .iter()
        .enumerate()
        .filter(|(_, p)| p.arm == Arm::Candidate)
    {
        let twin = planes.get(k + 1).filter(|t| t.arm == Arm::Baseline);
        for &size in &plan.sizes {
            for dir in [Direction::Egress, Direction::Ingress] {
                signals::check()?;
                if plan.micro.is_some() {
                    jobs.push(micro_job(plan, p, size, dir)?);
                    if let Some(t) = twin {
                        jobs.push(micro_job(plan, t, size, dir)?);
                    }
                }
                if plan.cipher.is_some() && BenchPlan::has_cipher_limit(p.variant) {
                    match cipher_job(plan, p, size, dir) {
                        Ok(j) => jobs.push(j),
                        Err(c) => unloadable.push(*c),
                    }
                }
            }
        }
    }
    Ok((jobs, unloadable))
}

/// The job of one data plane program at one size, on every instance
/// (each instance's first run checked).
fn micro_job<'a>(plan: &BenchPlan, p: &'a Plane, size: u32, dir: Direction) -> Result<Job<'a>> {
    let (src, dst) = (plan.left.addr, plan.right.addr);
    let plain = udp_frame(size, src, dst, size as u64);
    let v = p.variant;
    let key = planes::variant_key(plan, v);
    let mp = plan.micro.as_ref().expect("micro planned");
    let mut failure = None;
    let mut on = Vec::new();
    for dp in &p.dps {
        let (input, failed) = match dir {
            Direction::Egress => {
                let expect = v.algorithm().is_none().then_some(&plain[..]);
                let failed = first_run(dp, v, dir, &plain, expect, key)?.err();
                (plain.clone(), failed)
            }
            Direction::Ingress => {
                // Ingress input: what this instance's egress puts on the wire.
                let mut wire = vec![0u8; 4096];
                let t = dp.test_run(Direction::Egress, &plain, &mut wire, 1)?;
                wire.truncate(t.data_out_len);
                let failed = first_run(dp, v, dir, &wire, Some(&plain), key)?.err();
                (wire, failed)
            }
        };
        failure = failure.or(failed);
        on.push((dp, input));
    }
    let program = match dir {
        Direction::Egress => Program::DataPlane {
            on,
            want_len: egress_frame_len(v, size),
        },
        Direction::Ingress if format::of_variant(v).is_some_and(|(f, _)| f.ingress_once()) => {
            Program::FreshIngress {
                on: on.into_iter().map(|(dp, _)| dp).collect(),
                plain,
                want_len: ETH_HLEN + size as usize,
            }
        }
        Direction::Ingress => Program::DataPlane {
            on,
            want_len: ETH_HLEN + size as usize,
        },
    };
    let figure = Figure::Micro(v, dir, size);
    Ok(Job::new(
        figure,
        p.arm,
        p.driver.clone(),
        program,
        mp.into(),
        failure,
    ))
}

/// The crypto-only job for `p`'s context, or the figure saying why it
/// could not load.
fn cipher_job<'a>(
    plan: &BenchPlan,
    p: &'a Plane,
    size: u32,
    dir: Direction,
) -> Result<Job<'a>, Box<CipherPoint>> {
    let alg = p.variant.algorithm().expect("a crypto variant");
    let cp = plan.cipher.as_ref().expect("cipher planned");
    let len = cipher_len(size);
    let any_frame = udp_frame(64, plan.left.addr, plan.right.addr, 0);
    match CipherOnly::load(&p.dps[0], dir, alg == Algorithm::CbcAes, len) {
        Ok(prog) => Ok(Job::new(
            Figure::Cipher(alg, dir, size),
            Arm::Candidate,
            p.driver.clone(),
            Program::Cipher(prog, any_frame),
            cp.into(),
            None,
        )),
        Err(e) => Err(Box::new(CipherPoint {
            algorithm: alg,
            driver: p.driver.clone(),
            direction: dir,
            size,
            cipher_bytes: len,
            ns: None,
            gbps: None,
            error: Some(format!("{e}")),
        })),
    }
}

/// The check line of a data plane figure that held.
fn ok_check(v: BenchVariant, dir: Direction, rounds: u32) -> CheckResult {
    let reference = match (format::of_variant(v), dir) {
        (Some((f, _)), Direction::Egress) => format!(" with {}", f.reference_name()),
        _ => String::new(),
    };
    let counters = if v == BenchVariant::Noop {
        "the noop variant counts nothing".to_string()
    } else {
        format!("counters matched every run of all {rounds} rounds")
    };
    CheckResult::ok(format!(
        "pass verdict and the expected output length on every run; output frame verified{reference}; {counters}"
    ))
}

/// Turns finished jobs into figures (ours, cipher, the baseline's):
/// statistics when every check held, the reason otherwise.
fn results(jobs: Vec<Job>) -> (Vec<MicroPoint>, Vec<CipherPoint>, Vec<MicroPoint>) {
    let mut micro = Vec::new();
    let mut cipher = Vec::new();
    let mut baseline = Vec::new();
    for j in jobs {
        let stats = j.failure.is_none().then(|| Stats::of(&j.samples)).flatten();
        let gbps = |size: u32| {
            stats
                .as_ref()
                .and_then(|s| s.map(|ns| size as f64 * 8.0 / ns))
        };
        match j.figure {
            Figure::Micro(v, dir, size) => {
                let rounds = j.rounds.warmup + j.rounds.rounds;
                let check = match &j.failure {
                    Some(why) => CheckResult::failed(why.clone()),
                    None => ok_check(v, dir, rounds),
                };
                let to = match j.arm {
                    Arm::Candidate => &mut micro,
                    Arm::Baseline => &mut baseline,
                };
                to.push(MicroPoint {
                    variant: v,
                    driver: j.driver,
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
                driver: j.driver,
                direction: dir,
                size,
                cipher_bytes: cipher_len(size),
                gbps: gbps(size),
                ns: stats.clone(),
                error: j.failure,
            }),
        }
    }
    (micro, cipher, baseline)
}

/// Sets each crypto figure's cipher limit and its ratio to it. The limit
/// is the crypto-only program with the same driver, once per cipher pass
/// its wire format makes in that direction (ESP: CBC encryption and the
/// CMAC, itself a CBC encryption; on ingress CMAC then decryption).
pub(crate) fn fill_ratios(micro: &mut [MicroPoint], cipher: &[CipherPoint]) {
    for m in micro.iter_mut() {
        let Some((f, alg)) = format::of_variant(m.variant) else {
            continue;
        };
        // No kfunc pass (WireGuard's cipher is BPF C): no limit, not 0.
        if f.cipher_passes(m.direction).is_empty() {
            continue;
        }
        let at = |d: Direction| {
            cipher
                .iter()
                .find(|c| {
                    c.algorithm == alg
                        && c.direction == d
                        && c.size == m.size
                        && c.driver == m.driver
                })
                .and_then(|c| c.ns.as_ref())
                .map(|s| s.median)
        };
        let limit = f
            .cipher_passes(m.direction)
            .iter()
            .map(|&d| at(d))
            .sum::<Option<f64>>();
        m.cipher_limit_ns = limit;
        m.ratio_to_cipher = match (limit, &m.ns) {
            (Some(l), Some(ns)) if ns.median > 0.0 => Some(l / ns.median),
            _ => None,
        };
    }
}
