//! `lab matrix SCENARIO`: the scenario, with the capability probe, on the
//! host and every catalog kernel, into one results folder. Targets run in
//! parallel, one per CPU: each VM is its own kernel, and the host run is
//! the only one in the host's namespaces. Their lines carry `[name]`.

use std::time::Instant;

use anyhow::Result;

use super::args::MatrixArgs;
use super::parallel;
use crate::exec::probe::DEFAULT_CIPHERS;
use crate::job::Job;
use crate::kernels::{Catalog, LOCAL_NAME};
use crate::output::matrix::{self, MatrixRow, MatrixSummary};
use crate::output::progress::{Bar, Event};
use crate::output::results_dir::ResultsDir;
use crate::output::{exit, run_report};
use crate::spec::plan::Plan;
use crate::spec::scenario;
use crate::sys::signals;
use crate::target::{self, Backend};
use crate::vm::VmOptions;

pub(crate) fn matrix(a: MatrixArgs) -> Result<i32> {
    let mut plan = scenario::load(&a.scenario)?;
    super::dataplane::apply(&mut plan, a.dataplane.as_deref())?;
    let catalog = super::repo::catalog_with(&a.image)?;
    let vm = a.vm.options()?;
    let mut names = if a.kernels.is_empty() {
        catalog.names()
    } else {
        a.kernels.clone()
    };
    if a.image.kernel_image.is_some() && !names.iter().any(|n| n == LOCAL_NAME) {
        names.push(LOCAL_NAME.to_string());
    }
    catalog.select(&names)?;
    let mut targets: Vec<String> = Vec::new();
    if !a.no_host {
        targets.push("host".into());
    }
    targets.extend(names);
    let dir = ResultsDir::create(&a.results.results_dir, &plan.name, "matrix")?;
    let ciphers: Vec<String> = DEFAULT_CIPHERS.iter().map(|s| s.to_string()).collect();
    let bar = Bar::new(targets.len() as u64);
    let rows = parallel::map_ordered(&targets, parallel::workers(), |name| {
        signals::check()?;
        bar.set_message(name);
        let r = row(&plan, &catalog, vm, name, &ciphers, &dir, &bar);
        bar.inc();
        r
    });
    bar.finish();
    let rows = rows.into_iter().collect::<Result<Vec<_>>>()?;
    let m = MatrixSummary {
        run_id: dir.run_id().to_string(),
        scenario: plan.name.clone(),
        assertions: plan.assertions.iter().map(|a| a.name.clone()).collect(),
        ciphers,
        rows,
    };
    std::fs::write(dir.path().join("matrix.md"), matrix::render(&m))?;
    std::fs::write(
        dir.path().join("matrix.json"),
        serde_json::to_vec_pretty(&m)?,
    )?;
    let path = dir.commit(&m)?;
    println!("{}", matrix::render(&m));
    println!("→ {}", path.display());
    Ok(if m.all_passed() {
        exit::PASS
    } else {
        exit::FAIL
    })
}

/// Runs the scenario and the probe on one target, into its subfolder.
fn row(
    plan: &Plan,
    catalog: &Catalog,
    vm: VmOptions,
    name: &str,
    ciphers: &[String],
    dir: &ResultsDir,
    bar: &Bar,
) -> Result<MatrixRow> {
    let sub = dir.path().join(name);
    std::fs::create_dir_all(&sub)?;
    let t0 = Instant::now();
    let opened = match name {
        "host" => target::host::preflight().map(|()| target::Target::Host),
        k => target::open(Backend::Qemu, Some(k), Some(catalog), vm),
    };
    let target = match opened {
        Ok(t) => t,
        Err(e) => {
            bar.println(&format!("  [{name}] skipped: {e:#}"));
            return Ok(MatrixRow {
                target: name.to_string(),
                dir: name.to_string(),
                summary: None,
                skipped: Some(format!("{e:#}")),
            });
        }
    };
    let progress = |e: Event| {
        if let Event::Note(m) = e {
            bar.println(&format!("  [{name}] {m}"));
        }
    };
    let job = Job::Scenario {
        plan: plan.clone(),
        probe: ciphers.to_vec(),
    };
    let run_id = format!("{}/{name}", dir.run_id());
    let s = super::run::run_job_into(plan, job, &target, &run_id, &sub, &progress)?;
    std::fs::write(sub.join("summary.json"), serde_json::to_vec_pretty(&s)?)?;
    run_report::write(&s, &sub)?;
    bar.println(&format!(
        "  [{name}] {:?} in {:.1} s",
        s.verdict,
        t0.elapsed().as_secs_f64()
    ));
    Ok(MatrixRow {
        target: name.to_string(),
        dir: name.to_string(),
        summary: Some(s),
        skipped: None,
    })
}
