//! One `lab bench`: targets in turn (host, catalog kernels in VMs), then
//! `bench.json`, plots and report into a results folder that appears only
//! when everything was written.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::model::{BENCH_SCHEMA, BenchDoc, BenchVariant, Env, TargetResult};
use super::progress::{Bar, Progress, points};
use super::spec::BenchPlan;
use super::{BenchJob, env, run_target, vm};
use crate::dataplane::Direction;
use crate::kernels::{self, Catalog};
use crate::results::ResultsDir;
use crate::signals;
use crate::vm::boot::VmOptions;

/// File name of the results document.
pub const BENCH_JSON: &str = "bench.json";

/// Where to bench.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The running kernel.
    Host,
    /// A cached catalog kernel, booted under QEMU.
    Kernel(String),
}

impl Target {
    /// `host` or the catalog name.
    pub fn name(&self) -> &str {
        match self {
            Target::Host => "host",
            Target::Kernel(k) => k,
        }
    }
}

/// `host` plus every cached catalog kernel (`--matrix`).
pub fn matrix_targets(catalog: &Catalog) -> Vec<Target> {
    let mut t = vec![Target::Host];
    t.extend(
        kernels::list(catalog)
            .into_iter()
            .filter(|k| k.cached)
            .map(|k| Target::Kernel(k.name)),
    );
    t
}

/// The results folder's `summary.json`: an index of the bench.
#[derive(Debug, Serialize)]
struct Index<'a> {
    kind: &'static str,
    run_id: String,
    name: &'a str,
    targets: Vec<serde_json::Value>,
    files: Vec<String>,
}

/// Runs `plan` on every target and writes `results/<run-id>/`; returns
/// the document and the folder. An interrupt or a failure to write
/// leaves no folder behind.
pub fn run(
    plan: &BenchPlan,
    targets: &[Target],
    catalog: Option<&Catalog>,
    results_root: &Path,
    vm_opts: VmOptions,
) -> Result<(BenchDoc, PathBuf)> {
    if targets.contains(&Target::Host) && targets.len() == 1 {
        crate::backend::host::preflight()?;
    }
    let label = match targets {
        [one] => one.name().to_string(),
        _ => "matrix".into(),
    };
    let dir = ResultsDir::create(results_root, &plan.name, &label)?;
    let started_at = chrono::Local::now().to_rfc3339();
    let t0 = Instant::now();
    let commit = env::git_commit();
    let per_target = points(plan);
    let bar = Bar::new(per_target * targets.len() as u64);
    let mut results = Vec::new();
    for target in targets {
        signals::check()?;
        let base = bar.bar.position();
        let mut bar_t = Bar {
            bar: bar.bar.clone(),
            prefix: format!("[{}] ", target.name()),
        };
        let r = match target {
            Target::Host => match crate::backend::host::preflight() {
                Ok(()) => run_target(plan, "host", "host", &commit, &bar_t)?,
                Err(e) => {
                    bar_t.note(&format!("skipped: {e:#}"));
                    failed_target("host", env::current("host", &commit), format!("{e:#}"))
                }
            },
            Target::Kernel(name) => {
                let catalog = catalog.context("benching a catalog kernel needs the catalog")?;
                let k = kernels::cached(catalog, name)?;
                let accel = vm::choose_accel(&catalog.paths.cache, &k);
                let job = BenchJob {
                    plan: plan.clone(),
                    target: name.clone(),
                    accelerator: accel.clone(),
                    commit: commit.clone(),
                };
                let sub = dir.path().join(name);
                std::fs::create_dir_all(&sub)?;
                bar_t.prefix = format!("[{name}] ");
                let line = |m: &str| bar_t.guest_line(base, m);
                let b = vm::run(&k, &catalog.paths.cache, &job, &sub, vm_opts, &line)?;
                let mut r = match (b.result, b.failure) {
                    (Some(r), _) => r,
                    (None, failure) => {
                        let env = Env {
                            kernel: k.version.clone(),
                            accelerator: accel.clone(),
                            emulated: accel == "tcg",
                            cpu_model: "unknown".into(),
                            cpus: 1,
                            commit: commit.clone(),
                            lab_version: env!("CARGO_PKG_VERSION").into(),
                            crypto_drivers: Default::default(),
                        };
                        failed_target(name, env, failure.unwrap_or_else(|| "no result".into()))
                    }
                };
                r.kernel_events = b.kernel_events;
                r
            }
        };
        bar.bar.set_position(base + per_target);
        bar.note(&format!("[{}] {}", target.name(), target_line(&r)));
        results.push(r);
    }
    bar.bar.finish_and_clear();

    let doc = BenchDoc {
        schema: BENCH_SCHEMA,
        run_id: dir.run_id().to_string(),
        plan: plan.clone(),
        started_at,
        duration_ms: t0.elapsed().as_millis() as u64,
        targets: results,
    };
    std::fs::write(
        dir.path().join(BENCH_JSON),
        serde_json::to_vec_pretty(&doc)?,
    )
    .context("writing bench.json")?;
    let mut files = vec![BENCH_JSON.to_string()];
    files.extend(crate::report::generate(&doc, dir.path()).context("writing the report")?);
    let index = Index {
        kind: "bench",
        run_id: dir.run_id().to_string(),
        name: &plan.name,
        targets: doc
            .targets
            .iter()
            .map(|t| {
                serde_json::json!({
                    "target": t.target, "kernel": t.env.kernel, "accelerator": t.env.accelerator,
                    "unsupported": t.unsupported, "error": t.error, "failures": t.has_failures(),
                })
            })
            .collect(),
        files,
    };
    let path = dir.commit_as(&index)?;
    Ok((doc, path))
}

fn failed_target(name: &str, env: Env, why: String) -> TargetResult {
    let mut t = TargetResult::new(name, env);
    t.error = Some(why);
    t
}

/// One line about a finished target.
fn target_line(t: &TargetResult) -> String {
    if let Some(u) = &t.unsupported {
        return format!("unsupported: {u}");
    }
    let failed = t.micro.iter().filter(|m| !m.check.ok).count()
        + t.udp.iter().filter(|u| !u.check.ok).count();
    let mut s = format!(
        "{} micro, {} cipher, {} udp, {} tcp figures",
        t.micro.len(),
        t.cipher.len(),
        t.udp.len(),
        t.tcp.len()
    );
    if failed > 0 {
        let _ = write!(s, "; {failed} FAILED their checks");
    }
    if let Some(e) = &t.error {
        let _ = write!(s, "; stopped: {}", e.lines().next().unwrap_or_default());
    }
    s
}

fn fmt_opt(x: Option<f64>, digits: usize) -> String {
    x.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// A terminal summary: per target the headline figures at the largest size.
pub fn render(doc: &BenchDoc, path: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "bench {} · {} target(s)",
        doc.plan.name,
        doc.targets.len()
    );
    let big = *doc.plan.sizes.last().unwrap_or(&0);
    for t in &doc.targets {
        let _ = writeln!(out, "  {}", t.env.label(&t.target));
        if let Some(u) = &t.unsupported {
            let _ = writeln!(out, "    unsupported: {u}");
            continue;
        }
        for v in [
            BenchVariant::Noop,
            BenchVariant::Copy,
            BenchVariant::Ecb,
            BenchVariant::Cbc,
        ] {
            for d in [Direction::Egress, Direction::Ingress] {
                let Some(m) = t.micro_at(v, d, big) else {
                    continue;
                };
                let fig = if m.check.ok {
                    format!(
                        "{:>9} ns {:>8} Gbit/s{}",
                        fmt_opt(m.ns.as_ref().map(|s| s.median), 0),
                        fmt_opt(m.gbps.as_ref().map(|s| s.median), 2),
                        m.ratio_to_cipher
                            .map_or(String::new(), |r| format!("  {:.0}% cipher", r * 100.0))
                    )
                } else {
                    format!("FAILED: {}", m.check.detail)
                };
                let _ = writeln!(
                    out,
                    "    micro {:<8} {:<7} {big} B  {fig}",
                    v.as_str(),
                    d.as_str()
                );
            }
        }
        for u in t.udp.iter().filter(|u| u.size == big) {
            let fig = if u.check.ok {
                format!(
                    "{:>8} kpps {:>6} Gbit/s loss {:>5}%",
                    fmt_opt(u.pps.as_ref().map(|s| s.median / 1e3), 1),
                    fmt_opt(u.goodput_gbps.as_ref().map(|s| s.median), 2),
                    fmt_opt(u.loss.as_ref().map(|s| s.median * 100.0), 1)
                )
            } else {
                format!("FAILED: {}", u.check.detail)
            };
            let _ = writeln!(out, "    udp   {:<8} {big} B  {fig}", u.variant.as_str());
        }
        for c in &t.tcp {
            let _ = writeln!(
                out,
                "    tcp   {:<8} offloads {:<16} {:>6} Gbit/s  {}",
                c.variant.as_str(),
                c.offloads,
                fmt_opt(c.goodput_gbps.as_ref().map(|s| s.median), 2),
                c.status
            );
        }
        if let Some(e) = &t.error {
            let _ = writeln!(out, "    error: {}", e.lines().next().unwrap_or_default());
        }
    }
    let _ = writeln!(out, "→ {}", path.display());
    out
}

/// Finds a saved bench: a run folder, a `bench.json`, or a run id under `results_root`.
pub fn resolve(arg: &str, results_root: &Path) -> Result<PathBuf> {
    let p = PathBuf::from(arg);
    for cand in [
        p.clone(),
        p.join(BENCH_JSON),
        results_root.join(arg).join(BENCH_JSON),
    ] {
        if cand.is_file() {
            return Ok(cand);
        }
    }
    bail!(
        "no {BENCH_JSON} at {arg}, {arg}/{BENCH_JSON} or {}",
        results_root.join(arg).join(BENCH_JSON).display()
    )
}

/// Reads a `bench.json`.
pub fn load(path: &Path) -> Result<BenchDoc> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: BenchDoc =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))?;
    if doc.schema != BENCH_SCHEMA {
        bail!(
            "{} has schema {}, this lab reads {BENCH_SCHEMA}",
            path.display(),
            doc.schema
        );
    }
    Ok(doc)
}
