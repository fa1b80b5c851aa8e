//! `lab bench BENCH`: the bench on the host or catalog kernels, one after
//! the other, into `bench.json`, plots and a report, in a results folder
//! that appears only when everything was written.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use super::args::BenchArgs;
use crate::exec::bench::{env, points};
use crate::job::bench::{Env, TargetResult};
use crate::job::{Completed, Job, Outcome};
use crate::kernels::{self, Catalog};
use crate::output::bench_doc::{self, BENCH_JSON, BENCH_SCHEMA, BenchDoc};
use crate::output::progress::{Bar, Progress};
use crate::output::results_dir::ResultsDir;
use crate::output::{bench_report, exit, terminal};
use crate::spec::bench;
use crate::spec::bench_plan::BenchPlan;
use crate::sys::signals;
use crate::target::{self, Backend, Target};
use crate::vm::VmOptions;

pub(crate) fn bench(a: BenchArgs) -> Result<i32> {
    let mut plan = bench::load(&a.bench)?;
    if a.quick {
        plan = plan.quick();
    }
    plan.inject = a.inject.map(Into::into);
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
    eprintln!(
        "lab: bench {} ({}) on {}{inject}",
        plan.name,
        plan.source,
        names.join(", ")
    );
    let (doc, path) = run(&plan, &names, catalog.as_ref(), &a.results.results_dir, vm)?;
    print!("{}", terminal::bench(&doc, &path));
    Ok(if doc.targets.iter().all(|t| t.unsupported.is_some()) {
        exit::UNSUPPORTED
    } else if doc.targets.iter().any(|t| t.has_failures()) {
        exit::FAIL
    } else {
        exit::PASS
    })
}

/// Runs `plan` on every target and writes the results folder.
fn run(
    plan: &BenchPlan,
    names: &[String],
    catalog: Option<&Catalog>,
    root: &Path,
    vm: VmOptions,
) -> Result<(BenchDoc, PathBuf)> {
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
    let doc = BenchDoc {
        schema: BENCH_SCHEMA,
        run_id: dir.run_id().to_string(),
        plan: plan.clone(),
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
    let path = dir.commit(&bench_doc::index(&doc, &files))?;
    Ok((doc, path))
}

/// Benches one target; a target that cannot run is a result with the reason.
fn measure(
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
    Ok(r)
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
