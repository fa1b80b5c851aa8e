//! `lab audit PATH.bpf.o`: the whole suite on a user's data plane: every
//! scenario of its wire format (baselines left out: they run the lab's own
//! builds) and the fuzzer, folded into one table of properties, each held
//! or broken with the evidence (`output::audit`). Exit 0 when every
//! property held, 1 when one broke, 2 for a harness problem.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::args::AuditArgs;
use crate::dataplane::contract::Contract;
use crate::job::fuzz::{FuzzPlan, FuzzReport};
use crate::job::{Completed, Job, Outcome};
use crate::output::audit::{Audit, properties};
use crate::output::exit;
use crate::output::progress::Printer;
use crate::output::results_dir::ResultsDir;
use crate::output::summary::{Summary, Verdict};
use crate::spec::dataplane::UserDataplane;
use crate::spec::kind::{self, FileKind};
use crate::spec::plan::{Plan, PlanStep};
use crate::spec::scenario;
use crate::sys::signals;
use crate::target::{Backend, Target};

pub(crate) fn audit(a: AuditArgs) -> Result<i32> {
    let (user, contract) = super::dataplane::read_checked(&a.object)?;
    let (plans, mut untested) = suite(&a.scenarios, &user, &contract)?;
    let backend = if a.kernel.is_some() || a.image.kernel_image.is_some() {
        Backend::Qemu
    } else {
        Backend::Host
    };
    let target = super::repo::open_target(backend, a.kernel.as_deref(), &a.image, a.vm.options()?)?;
    eprintln!(
        "lab: auditing {} (sha256 {:.12}, {} ABI) on {}: {} scenarios, fuzz {} frames",
        user.path,
        user.sha256,
        contract.format.as_str(),
        target.name(),
        plans.len(),
        a.cases
    );
    let dir = ResultsDir::create(&a.results.results_dir, "audit", target.name())?;
    let progress = Printer { quiet: a.quiet };
    let mut runs: Vec<(String, Summary)> = Vec::new();
    let mut kernel = String::new();
    for plan in &plans {
        signals::check()?;
        let out = dir.path().join(&plan.name);
        std::fs::create_dir(&out).with_context(|| format!("creating {}", out.display()))?;
        let run_id = format!("{}/{}", dir.run_id(), plan.name);
        let s = super::run::run_into(plan, &target, &run_id, &out, &progress)
            .with_context(|| format!("running {}", plan.source))?;
        crate::output::run_report::write(&s, &out)?;
        std::fs::write(out.join("summary.json"), serde_json::to_vec_pretty(&s)?)
            .context("writing summary.json")?;
        eprintln!(
            "lab: audit: {} {:?} ({} passed, {} failed)",
            plan.name, s.verdict, s.passed, s.failed
        );
        if kernel.is_empty() {
            kernel = s.kernel.clone();
        }
        if s.verdict == Verdict::Unsupported {
            let why = s.error.clone().unwrap_or_default();
            untested.push((plan.name.clone(), format!("unsupported: {why}")));
        }
        runs.push((plan.name.clone(), s));
    }
    let fuzz = match a.cases {
        0 => {
            untested.push(("fuzz".into(), "--cases 0".into()));
            None
        }
        cases => {
            let seed = a.seed.unwrap_or_else(super::fuzz::clock_seed);
            Some(fuzz(&target, &user, cases, seed, dir.path(), &progress)?)
        }
    };
    let audit = Audit {
        object: user.named(),
        format: contract.format.as_str().into(),
        target: target.name().to_string(),
        kernel,
        properties: properties(&runs, fuzz.as_ref()),
        untested,
    };
    let md = audit.markdown();
    std::fs::write(dir.path().join("audit.md"), &md).context("writing audit.md")?;
    let path = dir.commit(&audit)?;
    print!("\n{md}");
    println!("→ {}", path.display());
    Ok(if audit.passed() {
        exit::PASS
    } else {
        exit::FAIL
    })
}

/// The scenarios of `folder` in the object's wire format, set to run the
/// object, and those left out with the reason.
#[allow(clippy::type_complexity)]
fn suite(
    folder: &Path,
    user: &UserDataplane,
    contract: &Contract,
) -> Result<(Vec<Plan>, Vec<(String, String)>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("reading the scenario folder {}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let (mut plans, mut untested) = (Vec::new(), Vec::new());
    for f in files {
        if kind::detect(&f)? != FileKind::Scenario {
            continue;
        }
        let mut plan = scenario::load(&f)?;
        if plan.wire.mode != contract.format {
            continue;
        }
        let tampers = plan
            .steps
            .iter()
            .any(|s| matches!(s, PlanStep::Tamper { .. }));
        if tampers && !contract.tamper {
            untested.push((
                plan.name.clone(),
                "tampers with the wire; the object has no `tamper_egress`".into(),
            ));
            continue;
        }
        plan.baseline = None;
        plan.dataplane = Some(user.clone());
        plans.push(plan);
    }
    if plans.is_empty() {
        bail!(
            "{} has no scenario of the {} format",
            folder.display(),
            contract.format.as_str()
        );
    }
    Ok((plans, untested))
}

/// The fuzzer on the object, its failing frames kept as `fuzz/failures.pcap`.
fn fuzz(
    target: &Target,
    user: &UserDataplane,
    cases: u32,
    seed: u64,
    dir: &Path,
    progress: &Printer,
) -> Result<FuzzReport> {
    let plan = FuzzPlan {
        seed,
        cases,
        replay: Vec::new(),
        dataplane: Some(user.clone()),
    };
    let out = dir.join("fuzz");
    std::fs::create_dir(&out).with_context(|| format!("creating {}", out.display()))?;
    let exec = target.run(&Job::Fuzz(plan), &out, progress)?;
    let report = match exec.outcome {
        Outcome::Completed(Completed::Fuzz(r)) => *r,
        Outcome::Unsupported(why) => bail!("fuzzing is unsupported on {}: {why}", target.name()),
        Outcome::Failed(why) => {
            // The object failed under the fuzzer: a finding, not a harness
            // problem; it shows as a broken property.
            return Ok(FuzzReport {
                seed,
                kernel_warnings: vec![format!("the fuzz run failed: {why}")],
                ..Default::default()
            });
        }
        Outcome::Completed(_) => bail!("the kernel returned no fuzz report"),
    };
    std::fs::write(out.join("fuzz.json"), serde_json::to_vec_pretty(&report)?)
        .context("writing fuzz.json")?;
    Ok(report)
}
