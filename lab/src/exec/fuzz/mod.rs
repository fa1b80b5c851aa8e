//! `lab fuzz` on the kernel under test: seeded, reproducible frames
//! ([`frames`]) through the egress and ingress programs of the data plane,
//! every wire format with each of its ciphers, with `BPF_PROG_TEST_RUN`;
//! every case is checked against the invariants ([`check`], and those of
//! the format: its reference output, what it lets in) and the kernel log
//! is watched. Each frame also goes through the bounce and the in-place build
//! (of a format that has both) with the same key and the same fixed IV:
//! their outputs must be equal.

pub(crate) mod check;
pub(crate) mod frames;

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use crate::dataplane::DataPlane;
use crate::dataplane::format::{self, Keys, WireFormat};
use crate::domain::{Algorithm, Build, Direction};
use crate::job::fuzz::{FuzzPlan, FuzzReport, Violation};
use crate::net::ipv4_payload;
use crate::output::progress::Progress;
use crate::sys::kmsg::{self, KmsgCursor};
use crate::sys::signals;
use check::{Ran, accounted, no_plaintext, round_trip, run, same, wire_iv};

/// Violations kept per program and invariant (all are counted).
const KEEP: usize = 5;
/// The key every fuzzed data plane is provisioned with: its first
/// `Algorithm::default_key_len` bytes (AES-128, ChaCha20's 32).
const KEY: [u8; 32] = *b"bpfcrypt-fuzzkey-bpfcrypt-fuzzke";
/// The authentication key and SPI of a format that has them (inbound and
/// outbound alike, so that ingress takes egress's output).
const AUTH_KEY: [u8; 16] = *b"bpfcrypt-authkey";
const SPI: u32 = 0x4242;
/// The fixed IV of the bounce/in-place comparison.
const TWIN_IV: [u8; 16] = *b"same-iv-for-both";

/// What is fuzzed: every wire format with each of its ciphers.
fn setups() -> impl Iterator<Item = (&'static dyn WireFormat, Algorithm)> {
    format::ALL
        .iter()
        .flat_map(|&f| f.algorithms().iter().map(move |&a| (f, a)))
}

/// The keys every fuzzed data plane of `algorithm` is provisioned with.
fn keys(algorithm: Algorithm) -> Keys<'static> {
    Keys::new(algorithm, &KEY[..algorithm.default_key_len()], &AUTH_KEY).spis(SPI, SPI)
}

/// Runs the plan on the running kernel.
pub(crate) fn run_plan(plan: &FuzzPlan, progress: &dyn Progress) -> Result<FuzzReport> {
    let mut kmsg = KmsgCursor::open().ok();
    let n = if plan.replay.is_empty() {
        u64::from(plan.cases)
    } else {
        plan.replay.len() as u64
    };
    let mut report = FuzzReport {
        seed: plan.seed,
        cases: n,
        ..Default::default()
    };
    // A user's object: the setups of its own format, and no twins (the
    // fixed-IV test builds are the lab's own).
    let user = match &plan.dataplane {
        Some(u) => Some((
            &u.bytes,
            u.format.context("the data plane object was not checked")?,
        )),
        None => None,
    };
    for (fmt, algorithm) in setups() {
        if user.is_some_and(|(_, mode)| mode != fmt.mode()) {
            continue;
        }
        let name = fmt.cipher_label(algorithm);
        let build = Build::of(fmt.mode(), false);
        let dp = match user {
            Some((bytes, _)) => DataPlane::load_bytes(build, bytes)?,
            None => DataPlane::load(build)?,
        };
        let dp = keyed(dp, fmt, algorithm)?;
        let twin = |in_place| {
            let d = DataPlane::load_with_fixed_iv(Build::of(fmt.mode(), in_place), TWIN_IV)?;
            keyed(d, fmt, algorithm)
        };
        let twins = match user {
            Some(_) => None,
            None if !fmt.has_in_place() => None,
            None => Some((twin(false)?, twin(true)?)),
        };
        progress.note(&format!("fuzz {name}: {n} frames"));
        let mut f = Fuzzer {
            dp: &dp,
            twins: twins.as_ref().map(|(b, p)| [b, p]),
            format: fmt,
            keys: keys(algorithm),
            cipher: name,
            report: &mut report,
            kept: BTreeMap::new(),
            verdicts: BTreeMap::new(),
        };
        for i in 0..n {
            if i % 256 == 0 {
                signals::check()?;
            }
            let frame = match plan.replay.get(i as usize) {
                Some(f) => f.clone(),
                None => frames::case(plan.seed, i),
            };
            f.case(i, &frame)?;
        }
        let (verdicts, kept) = (std::mem::take(&mut f.verdicts), std::mem::take(&mut f.kept));
        for (prog, (pass, drop)) in verdicts {
            report.verdicts.push((prog, pass, drop));
        }
        for ((prog, invariant), n) in kept {
            report.counts.push((prog, invariant.to_string(), n as u64));
        }
    }
    let log = kmsg.as_mut().map(|k| k.read_new()).unwrap_or_default();
    report.kernel_warnings = log.into_iter().filter(|l| kmsg::is_warning(l)).collect();
    Ok(report)
}

/// Keys a loaded data plane as its format does, with [`keys`].
fn keyed(dp: DataPlane, fmt: &dyn WireFormat, algorithm: Algorithm) -> Result<DataPlane> {
    fmt.provision(&dp, &keys(algorithm))
        .with_context(|| format!("keying the {} data plane", fmt.cipher_label(algorithm)))?;
    Ok(dp)
}

/// One keyed data plane being fuzzed.
struct Fuzzer<'a> {
    dp: &'a DataPlane,
    /// The bounce and in-place test builds, keyed alike, with one fixed IV
    /// (the lab's own data planes of a format with both builds only).
    twins: Option<[&'a DataPlane; 2]>,
    format: &'static dyn WireFormat,
    keys: Keys<'static>,
    cipher: String,
    report: &'a mut FuzzReport,
    kept: BTreeMap<(String, &'static str), usize>,
    verdicts: BTreeMap<String, (u64, u64)>,
}

impl Fuzzer<'_> {
    /// Runs one frame through egress (and back through ingress when egress
    /// encrypted it), and through ingress as it is.
    fn case(&mut self, i: u64, frame: &[u8]) -> Result<()> {
        if frame.len() < 14 {
            return Ok(());
        }
        let Some(out) = self.run(i, Direction::Egress, frame)? else {
            return Ok(());
        };
        if out.passed && ipv4_payload(frame).is_some() {
            let p = self.program(Direction::Egress);
            self.check(i, &p, "plaintext", frame, no_plaintext(frame, &out.out));
            if out.delta.get("encrypted") == 1 {
                let iv = wire_iv(self.format.iv_at(self.keys.algorithm), &out.out);
                let r = self.format.reference(&self.keys, iv, frame, &out.out);
                self.check(i, &p, "reference cipher", frame, r);
                let p = format!("{} round trip", self.cipher);
                let back = self.run(i, Direction::Ingress, &out.out)?;
                self.report.round_trips += 1;
                let r = back
                    .ok_or_else(|| "BPF_PROG_TEST_RUN refused egress's output".to_string())
                    .and_then(|b| round_trip(frame, &b, self.format.completes_checksums()));
                self.check(i, &p, "round trip", frame, r);
            }
        }
        let inbound = self.run(i, Direction::Ingress, frame)?;
        let must_drop = inbound.is_some() && !self.format.passes_unauthenticated(frame);
        self.report.forged_checked += u64::from(must_drop);
        if must_drop && inbound.is_some_and(|r| r.passed) {
            let p = self.program(Direction::Ingress);
            let what = "only authenticated packets pass (and what the format leaves to the stack)"
                .to_string();
            self.check(i, &p, "forged", frame, Err(what));
        }
        self.twins(i, frame)
    }

    /// The bounce and in-place builds give the same verdict, output and
    /// counters for `frame`, on egress, on ingress, and on ingress of
    /// egress's output.
    fn twins(&mut self, i: u64, frame: &[u8]) -> Result<()> {
        let Some([a, b]) = self.twins else {
            return Ok(());
        };
        let mut inputs = vec![(Direction::Egress, frame.to_vec())];
        inputs.push((Direction::Ingress, frame.to_vec()));
        let mut k = 0;
        while let Some((dir, input)) = inputs.get(k).cloned() {
            k += 1;
            let (Some(x), Some(y)) = (run(a, dir, &input)?, run(b, dir, &input)?) else {
                continue;
            };
            self.report.twin_runs += 1;
            let p = self.program(dir);
            self.check(i, &p, "in place = bounce", frame, same(&x, &y));
            if dir == Direction::Egress && x.passed && x.delta.get("encrypted") == 1 {
                let r = self.format.reference(&self.keys, TWIN_IV, &input, &x.out);
                self.check(i, &p, "reference cipher, fixed IV", frame, r);
                inputs.push((Direction::Ingress, x.out));
            }
        }
        Ok(())
    }

    fn program(&self, dir: Direction) -> String {
        format!("{} {}", dir.as_str(), self.cipher)
    }

    /// One test run, with its accounting checked and counted; `None` when
    /// the kernel refused the frame as test input.
    fn run(&mut self, i: u64, dir: Direction, frame: &[u8]) -> Result<Option<Ran>> {
        let Some(r) = run(self.dp, dir, frame)? else {
            self.report.refused += 1;
            return Ok(None);
        };
        self.report.runs += 1;
        let p = self.program(dir);
        let v = self.verdicts.entry(p.clone()).or_default();
        if r.passed {
            v.0 += 1;
        } else {
            v.1 += 1;
        }
        self.check(i, &p, "one counter per verdict", frame, accounted(dir, &r));
        Ok(Some(r))
    }

    /// Records a broken invariant (the first few of each kind in full).
    fn check(
        &mut self,
        case: u64,
        program: &str,
        invariant: &'static str,
        frame: &[u8],
        r: Result<(), String>,
    ) {
        let Err(detail) = r else { return };
        let n = self
            .kept
            .entry((program.to_string(), invariant))
            .or_default();
        *n += 1;
        if *n <= KEEP {
            self.report.violations.push(Violation {
                case,
                program: program.to_string(),
                invariant: invariant.to_string(),
                detail,
            });
            self.report.frames.push(frame.to_vec());
        }
    }
}
