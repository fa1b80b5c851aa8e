//! `lab bench BENCH`: the bench on the host or catalog kernels, one after
//! the other, into `bench.json`, plots and a report, in a results folder
//! that appears only when everything was written. With `--baseline` it is
//! a paired bench: the baseline's objects measured beside ours, judged
//! from the per-round ratios into `paired.md` (exit 1 on a regression).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use super::args::BenchArgs;
use super::baseline;
use crate::exec::bench::{env, hardware, points};
use crate::job::bench::{Env, HardwarePoint, TargetResult};
use crate::job::{Completed, Job, Outcome};
use crate::kernels::{self, Catalog};
use crate::output::bench_doc::{self, BENCH_JSON, BENCH_SCHEMA, BenchDoc};
use crate::output::paired::{self, PAIRED_MD, PairedReport};
use crate::output::progress::{Bar, Progress};
use crate::output::results_dir::ResultsDir;
use crate::output::{bench_report, exit, safe_write, terminal};
use crate::spec::baseline::Baseline;
use crate::spec::bench;
use crate::spec::bench_plan::{BenchPlan, HardwarePlan};
use crate::sys::signals;
use crate::target::{self, Backend, Target};
use crate::vm::VmOptions;

pub(crate) fn bench(a: BenchArgs) -> Result<i32> {
    let max_regression = a.max_regression()?;
    let mut plan = bench::load(&a.bench)?;
    if a.quick {
        plan = plan.quick();
    }
    plan.inject = a.inject.map(Into::into);
    if let Some(path) = &a.dataplane {
        let (user, c) = super::dataplane::read_checked(path)?;
        let (p, dropped) = plan.with_dataplane(user, c.format, c.probe_maps);
        plan = p;
        for d in dropped {
            eprintln!("lab: --dataplane: left out {d}");
        }
    }
    plan.baseline = baseline_of(&a, &plan)?;
    let vm = a.vm.options()?;
    let image = a.image.kernel_image.is_some();
    let catalog = match (a.matrix, a.kernel.as_deref()) {
        (false, None | Some("host")) if !image => None,
        _ => Some(super::repo::catalog_with(&a.image)?),
    };
    let names: Vec<String> = match (&catalog, a.matrix) {
        (Some(c), true) => std::iter::once("host".to_string())
            .chain(
                kernels::list(c)
                    .into_iter()
                    .filter(|k| k.cached)
                    .map(|k| k.name),
            )
            .collect(),
        _ if image => vec![kernels::LOCAL_NAME.to_string()],
        _ => vec![a.kernel.clone().unwrap_or_else(|| "host".into())],
    };
    if names == ["host"] {
        target::host::preflight()?;
    }
    let inject = match plan.inject {
        Some(i) => format!(", injected regression: {}", i.as_str()),
        None => String::new(),
    };
    let paired = match &plan.baseline {
        Some(b) => format!(", paired with baseline {}", b.label),
        None => String::new(),
    };
    eprintln!(
        "lab: bench {} ({}) on {}{inject}{paired}",
        plan.name,
        plan.source,
        names.join(", ")
    );
    let root = &a.results.results_dir;
    let (doc, path, paired) = run(&plan, &names, catalog.as_ref(), root, vm, max_regression)?;
    print!("{}", terminal::bench(&doc, &path));
    if let Some(p) = &paired {
        print!("\n{}", paired::terminal(p));
        println!("→ {}", path.join(PAIRED_MD).display());
    }
    Ok(verdict(&doc, paired.as_ref()))
}

/// The exit code of a finished bench.
pub(crate) fn verdict(doc: &BenchDoc, paired: Option<&PairedReport>) -> i32 {
    let regressed =
        paired.is_some_and(|p| p.count(crate::output::compare::Verdict::Regression) > 0);
    if doc.targets.iter().all(|t| t.unsupported.is_some()) {
        exit::UNSUPPORTED
    } else if regressed || doc.targets.iter().any(|t| t.has_failures()) {
        exit::FAIL
    } else {
        exit::PASS
    }
}

/// The baseline `--baseline` or `--baseline-objects` names, built or read
/// now (bad input is an error before anything is measured).
fn baseline_of(a: &BenchArgs, plan: &BenchPlan) -> Result<Option<Box<Baseline>>> {
    if a.baseline.is_none() && a.baseline_objects.is_none() {
        return Ok(None);
    }
    let builds = baseline::needed_builds(plan);
    if builds.is_empty() {
        anyhow::bail!(
            "{}: a paired bench (--baseline) compares our data plane: the bench needs a micro or udp part with one of our variants",
            plan.source
        );
    }
    Ok(Some(Box::new(match (&a.baseline, &a.baseline_objects) {
        (Some(rev), _) => {
            eprintln!("lab: building the baseline's data plane at {rev}");
            baseline::from_revision(&super::repo::repo_root()?, rev, &builds)?
        }
        (None, Some(dir)) => baseline::from_dir(dir, &builds)?,
        (None, None) => unreachable!("checked above"),
    })))
}

/// What the candidate of a paired bench is, in words.
pub(crate) fn candidate_label(plan: &BenchPlan, commit: &str) -> String {
    match plan.inject {
        Some(i) => format!("this lab's objects ({commit}, --inject {})", i.as_str()),
        None => format!("this lab's objects ({commit})"),
    }
}

/// Runs `plan` on every target and writes the results folder (with a
/// baseline, the paired verdict too).
pub(crate) fn run(
    plan: &BenchPlan,
    names: &[String],
    catalog: Option<&Catalog>,
    root: &Path,
    vm: VmOptions,
    max_regression: f64,
) -> Result<(BenchDoc, PathBuf, Option<PairedReport>)> {
    let label = match names {
        [one] => one.as_str(),
        _ => "matrix",
    };
    let dir = ResultsDir::create(root, &plan.name, label)?;
    let started_at = chrono::Local::now().to_rfc3339();
    let t0 = Instant::now();
    let commit = env::git_commit();
    let per_target = points(plan);
    let bar = Bar::new(per_target * names.len() as u64);
    let mut results = Vec::new();
    for name in names {
        signals::check()?;
        let base = bar.position();
        let progress = bar.for_target(name);
        let mut r = measure(plan, name, catalog, vm, &dir.path().join(name), &progress)?;
        r.env.commit = commit.clone();
        bar.set_position(base + per_target);
        bar.println(&format!("  [{name}] {}", terminal::target_line(&r)));
        results.push(r);
    }
    let vm_loop = match &plan.vm_loop {
        Some(l) => Some(super::vm_loop::measure(l, &bar.for_target("vm loop"))?),
        None => None,
    };
    bar.finish();
    // bench.json names the baseline's objects by digest, without their bytes.
    let mut recorded = plan.clone();
    recorded.baseline = plan.baseline.as_ref().map(|b| Box::new(b.digests()));
    recorded.dataplane = plan.dataplane.as_ref().map(|d| d.named());
    let doc = BenchDoc {
        schema: BENCH_SCHEMA,
        run_id: dir.run_id().to_string(),
        plan: recorded,
        started_at,
        duration_ms: t0.elapsed().as_millis() as u64,
        targets: results,
        vm_loop,
    };
    std::fs::write(
        dir.path().join(BENCH_JSON),
        serde_json::to_vec_pretty(&doc)?,
    )
    .context("writing bench.json")?;
    let mut files = vec![BENCH_JSON.to_string()];
    files.extend(bench_report::generate(&doc, dir.path()).context("writing the report")?);
    let paired = plan.baseline.as_ref().map(|b| {
        let candidate = candidate_label(plan, &commit);
        paired::judge(&doc.targets, (&candidate, &b.label), max_regression)
    });
    if let Some(p) = &paired {
        safe_write::write(&dir.path().join(PAIRED_MD), paired::markdown(p))?;
        files.push(PAIRED_MD.to_string());
    }
    let path = dir.commit(&bench_doc::index(&doc, &files))?;
    Ok((doc, path, paired))
}

/// Benches one target; a target that cannot run is a result with the reason.
pub(crate) fn measure(
    plan: &BenchPlan,
    name: &str,
    catalog: Option<&Catalog>,
    vm: VmOptions,
    sub: &Path,
    progress: &dyn Progress,
) -> Result<TargetResult> {
    let opened = match name {
        "host" => target::host::preflight().map(|()| Target::Host),
        k => target::open(Backend::Qemu, Some(k), catalog, vm),
    };
    let target = match opened {
        Ok(t) => t,
        Err(e) if name == "host" => {
            progress.note(&format!("skipped: {e:#}"));
            return Ok(failed(
                name,
                env::current("host", "unknown"),
                format!("{e:#}"),
            ));
        }
        Err(e) => return Err(e),
    };
    std::fs::create_dir_all(sub)?;
    let exec = target.run(&Job::Bench(plan.clone()), sub, progress);
    // The host writes no artifacts: no empty folder for it.
    let _ = std::fs::remove_dir(sub);
    let exec = exec?;
    let accel = exec.accelerator.clone().unwrap_or_else(|| "host".into());
    let mut r = match exec.outcome {
        Outcome::Completed(Completed::Bench(r)) => *r,
        Outcome::Unsupported(why) => {
            let mut t = TargetResult::new(name, env_of(&exec.kernel, &accel));
            t.unsupported = Some(why);
            t
        }
        Outcome::Failed(why) => failed(name, env_of(&exec.kernel, &accel), why),
        Outcome::Completed(_) => {
            failed(name, env_of(&exec.kernel, &accel), "no bench result".into())
        }
    };
    r.target = name.to_string();
    r.env.accelerator = accel.clone();
    r.env.emulated = accel == "tcg";
    r.kernel_events = exec.kernel_events;
    if r.env.emulated
        && let Some(h) = &plan.hardware
        && !r.hardware.is_empty()
    {
        r.hardware = hardware_on_host(plan, h, progress)?;
    }
    Ok(r)
}

/// The hardware reference of an emulated (TCG) target, measured on the
/// host's CPU instead: the guest's figures time QEMU's emulation of AES,
/// not a CPU's limit. On a thread of its own, since it pins itself.
fn hardware_on_host(
    plan: &BenchPlan,
    h: &HardwarePlan,
    progress: &dyn Progress,
) -> Result<Vec<HardwarePoint>> {
    progress.note("hardware reference: the VM's CPU is emulated; measuring it on the host CPU");
    let mut points = std::thread::scope(|s| {
        s.spawn(|| hardware::run(plan, h, progress))
            .join()
            .map_err(|_| anyhow::anyhow!("the hardware reference thread panicked"))
    })??;
    for p in &mut points {
        p.implementation = format!(
            "{}, measured on the host CPU (this target's CPU is emulated by TCG: not a hardware limit)",
            p.implementation
        );
    }
    Ok(points)
}

/// The environment of a target that measured nothing.
fn env_of(kernel: &str, accel: &str) -> Env {
    let mut e = env::current(accel, "unknown");
    if accel != "host" {
        e.kernel = kernel.to_string();
        e.cpu_model = "unknown".into();
        e.cpus = 1;
        e.crypto_drivers = Default::default();
    }
    e
}

fn failed(name: &str, env: Env, why: String) -> TargetResult {
    let mut t = TargetResult::new(name, env);
    t.error = Some(why);
    t
}
