//! `lab fuzz` on the kernel under test: seeded, reproducible frames
//! ([`frames`]) through the egress and ingress programs of the data plane,
//! keyed with each cipher, with `BPF_PROG_TEST_RUN`; every case is checked
//! against the invariants ([`check`]) and the kernel log is watched.

pub(crate) mod check;
pub(crate) mod frames;

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use crate::dataplane::DataPlane;
use crate::domain::{Algorithm, Build, CipherSpec, Direction};
use crate::job::fuzz::{FuzzPlan, FuzzReport, Violation};
use crate::output::progress::Progress;
use crate::sys::kmsg::{self, KmsgCursor};
use crate::sys::signals;
use check::{Ran, accounted, ipv4_payload, no_plaintext, round_trip, run};

/// Violations kept per program and invariant (all are counted).
const KEEP: usize = 5;
/// The key every fuzzed data plane is provisioned with.
const KEY: [u8; 16] = *b"bpfcrypt-fuzzkey";

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
    for algorithm in [Algorithm::CbcAes, Algorithm::EcbAes] {
        let dp = DataPlane::load(Build::Crypto)?;
        dp.provision(&CipherSpec {
            algorithm,
            key: KEY.to_vec(),
        })
        .with_context(|| format!("keying the data plane with {}", algorithm.kernel_name()))?;
        progress.note(&format!("fuzz {}: {n} frames", algorithm.kernel_name()));
        let mut f = Fuzzer {
            dp: &dp,
            cipher: algorithm.kernel_name(),
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
        let verdicts = std::mem::take(&mut f.verdicts);
        for (prog, (pass, drop)) in verdicts {
            report.verdicts.push((prog, pass, drop));
        }
    }
    let log = kmsg.as_mut().map(|k| k.read_new()).unwrap_or_default();
    report.kernel_warnings = log.into_iter().filter(|l| kmsg::is_warning(l)).collect();
    Ok(report)
}

/// One keyed data plane being fuzzed.
struct Fuzzer<'a> {
    dp: &'a DataPlane,
    cipher: &'static str,
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
                let p = format!("{} round trip", self.cipher);
                let back = self.run(i, Direction::Ingress, &out.out)?;
                self.report.round_trips += 1;
                let r = back
                    .ok_or_else(|| "BPF_PROG_TEST_RUN refused egress's output".to_string())
                    .and_then(|b| round_trip(frame, &b));
                self.check(i, &p, "round trip", frame, r);
            }
        }
        self.run(i, Direction::Ingress, frame)?;
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
