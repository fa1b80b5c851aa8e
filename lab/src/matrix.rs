//! `lab matrix`: one scenario on every catalog kernel (and the host), with
//! the capability probe, into one combined result.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, host::Host, qemu::Qemu};
use crate::kernels::{self, Catalog};
use crate::plan::Plan;
use crate::probe::DEFAULT_CIPHERS;
use crate::results::{ResultsDir, Summary, Verdict};
use crate::session;
use crate::vm::boot::VmOptions;

/// One matrix cell row: a kernel and how the scenario went there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatrixRow {
    /// `host` or the catalog name.
    pub target: String,
    /// Per-target folder inside the matrix run.
    pub dir: String,
    /// The target's summary (absent when it could not start, e.g. not cached).
    pub summary: Option<Summary>,
    /// Why it did not run, when it did not.
    pub skipped: Option<String>,
}

/// `matrix.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatrixSummary {
    /// Run id.
    pub run_id: String,
    /// Scenario name.
    pub scenario: String,
    /// Assertion names, in plan order.
    pub assertions: Vec<String>,
    /// Cipher names probed.
    pub ciphers: Vec<String>,
    /// Rows.
    pub rows: Vec<MatrixRow>,
}

impl MatrixSummary {
    /// Whether every target passed, or is a pre-6.10 kernel reported as
    /// unsupported (bpf_crypto arrived in 6.10). Skipped targets fail.
    pub fn all_passed(&self) -> bool {
        self.rows
            .iter()
            .all(|r| r.summary.as_ref().is_some_and(row_ok))
    }
}

/// Whether one target's result is acceptable for the matrix verdict.
pub fn row_ok(s: &Summary) -> bool {
    match s.verdict {
        Verdict::Pass => true,
        Verdict::Unsupported => predates_bpf_crypto(&s.kernel),
        Verdict::Fail | Verdict::Error => false,
    }
}

/// Whether a kernel release (`6.1.0-50-cloud-amd64`) is older than 6.10.
pub fn predates_bpf_crypto(release: &str) -> bool {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) < (6, 10)
}

/// What to run the matrix on.
pub struct MatrixOptions {
    /// Include the host when usable.
    pub host: bool,
    /// Restrict to these catalog kernels (empty: all).
    pub kernels: Vec<String>,
    /// VM limits.
    pub vm: VmOptions,
}

/// Runs the matrix; returns the summary and the results folder.
pub fn run(
    plan: &Plan,
    catalog: &Catalog,
    results_root: &Path,
    opts: &MatrixOptions,
) -> Result<(MatrixSummary, PathBuf)> {
    let dir = ResultsDir::create(results_root, &plan.name, "matrix")?;
    let ciphers: Vec<String> = DEFAULT_CIPHERS.iter().map(|s| s.to_string()).collect();
    let names: Vec<String> = if opts.kernels.is_empty() {
        catalog.names()
    } else {
        opts.kernels.clone()
    };
    catalog.select(&names)?;

    let mut targets: Vec<String> = Vec::new();
    if opts.host {
        targets.push("host".into());
    }
    targets.extend(names.iter().cloned());
    let bar = indicatif::ProgressBar::new(targets.len() as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));

    let mut rows = Vec::new();
    for target in &targets {
        bar.set_message(target.clone());
        let sub = dir.path().join(target);
        std::fs::create_dir_all(&sub)?;
        let t0 = Instant::now();
        let progress = |m: &str| bar.println(format!("  [{target}] {m}"));
        let backend: Result<Box<dyn Backend>, String> = if target == "host" {
            match crate::backend::host::preflight() {
                Ok(()) => Ok(Box::new(Host {
                    probe: ciphers.clone(),
                })),
                Err(e) => Err(format!("{e:#}")),
            }
        } else {
            kernels::cached(catalog, target)
                .map(|k| {
                    Box::new(Qemu {
                        kernel: k,
                        cache_dir: catalog.paths.cache.clone(),
                        options: opts.vm,
                        probe: ciphers.clone(),
                    }) as Box<dyn Backend>
                })
                .map_err(|e| e.to_string())
        };
        let row = match backend {
            Ok(b) => {
                let run_id = format!("{}/{target}", dir.run_id());
                let s = session::execute_into(plan, b.as_ref(), &run_id, &sub, &progress)?;
                std::fs::write(sub.join("summary.json"), serde_json::to_vec_pretty(&s)?)?;
                session::write_reports(&s, &sub)?;
                bar.println(format!(
                    "  [{target}] {:?} in {:.1} s",
                    s.verdict,
                    t0.elapsed().as_secs_f64()
                ));
                MatrixRow {
                    target: target.clone(),
                    dir: target.clone(),
                    summary: Some(s),
                    skipped: None,
                }
            }
            Err(why) => {
                bar.println(format!("  [{target}] skipped: {why}"));
                MatrixRow {
                    target: target.clone(),
                    dir: target.clone(),
                    summary: None,
                    skipped: Some(why),
                }
            }
        };
        rows.push(row);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let summary = MatrixSummary {
        run_id: dir.run_id().to_string(),
        scenario: plan.name.clone(),
        assertions: plan.assertions.iter().map(|a| a.name.clone()).collect(),
        ciphers,
        rows,
    };
    std::fs::write(dir.path().join("matrix.md"), render(&summary))?;
    std::fs::write(
        dir.path().join("matrix.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    let path = dir.commit_as(&summary_for_dir(&summary))?;
    Ok((summary, path))
}

/// A matrix folder's `summary.json` is the matrix itself.
fn summary_for_dir(m: &MatrixSummary) -> serde_json::Value {
    serde_json::to_value(m).unwrap_or_default()
}

/// Renders the kernel × assertion and kernel × cipher tables (Markdown).
pub fn render(m: &MatrixSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {} — kernel matrix ({})\n", m.scenario, m.run_id);
    let _ = write!(out, "| kernel | release | accel | verdict |");
    for (i, _) in m.assertions.iter().enumerate() {
        let _ = write!(out, " A{} |", i + 1);
    }
    let _ = write!(out, "\n|---|---|---|---|");
    for _ in &m.assertions {
        let _ = write!(out, "---|");
    }
    out.push('\n');
    for r in &m.rows {
        match &r.summary {
            Some(s) => {
                let verdict = format!("{:?}", s.verdict).to_lowercase();
                let _ = write!(
                    out,
                    "| {} | {} | {} | {verdict} |",
                    r.target,
                    s.kernel,
                    s.accelerator.as_deref().unwrap_or("-")
                );
                for name in &m.assertions {
                    let cell = s
                        .report
                        .as_ref()
                        .and_then(|rep| rep.assertions.iter().find(|a| &a.name == name))
                        .map(|a| if a.pass { "PASS" } else { "FAIL" })
                        .unwrap_or("-");
                    let _ = write!(out, " {cell} |");
                }
            }
            None => {
                let _ = write!(out, "| {} | - | - | skipped |", r.target);
                for _ in &m.assertions {
                    let _ = write!(out, " - |");
                }
            }
        }
        out.push('\n');
    }
    out.push('\n');
    for (i, a) in m.assertions.iter().enumerate() {
        let _ = writeln!(out, "- A{}: `{a}`", i + 1);
    }
    for r in &m.rows {
        if let Some(why) = r
            .skipped
            .as_ref()
            .or(r.summary.as_ref().and_then(|s| s.error.as_ref()))
        {
            let first = why.lines().next().unwrap_or_default();
            let _ = writeln!(out, "- {}: {first}", r.target);
        }
    }

    let _ = writeln!(out, "\n## bpf_crypto_ctx_create capability probe\n");
    let _ = write!(out, "| kernel |");
    for c in &m.ciphers {
        let _ = write!(out, " `{c}` |");
    }
    let _ = write!(out, "\n|---|");
    for _ in &m.ciphers {
        let _ = write!(out, "---|");
    }
    out.push('\n');
    for r in &m.rows {
        let _ = write!(out, "| {} |", r.target);
        match r.summary.as_ref().and_then(|s| s.probe.as_ref()) {
            Some(Ok(p)) => {
                for c in &m.ciphers {
                    let cell =
                        p.entries
                            .iter()
                            .find(|e| &e.cipher == c)
                            .map_or("-".to_string(), |e| match e.errno {
                                None => "ok".into(),
                                Some(n) => format!("{:?}", nix::errno::Errno::from_raw(n)),
                            });
                    let _ = write!(out, " {cell} |");
                }
            }
            Some(Err(why)) => {
                let _ = write!(out, " {} |", why.lines().next().unwrap_or_default());
                for _ in 1..m.ciphers.len() {
                    let _ = write!(out, " |");
                }
            }
            None => {
                for _ in &m.ciphers {
                    let _ = write!(out, " - |");
                }
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_kernels_may_be_unsupported() {
        assert!(predates_bpf_crypto("6.1.0-50-cloud-amd64"));
        assert!(predates_bpf_crypto("5.15.0"));
        assert!(!predates_bpf_crypto("6.10.0"));
        assert!(!predates_bpf_crypto("6.12.117+deb12-cloud-amd64"));
        assert!(!predates_bpf_crypto("7.3.4+deb13-cloud-amd64"));
    }
}
