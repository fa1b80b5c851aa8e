//! The bench's `vm_loop` part: times the lab itself as a user meets it.
//! `lab run SCENARIO --kernel K` and `lab matrix SCENARIO` are run as child
//! processes of this very binary, so the wall time includes everything the
//! user waits for (process start, kernel cache checks, initramfs, QEMU,
//! results folder); the phases come from each run's `summary.json`.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::job::phases::PhaseTime;
use crate::job::stats::Stats;
use crate::output::bench_doc::VmLoop;
use crate::output::progress::Progress;
use crate::spec::bench_plan::VmLoopPlan;
use crate::sys::signals;

/// The targets the issue of a faster VM loop set: a scenario on a catalog
/// VM within 4 s, the matrix within 12 s.
const RUN_TARGET_MS: u64 = 4_000;
const MATRIX_TARGET_MS: u64 = 12_000;

/// Measures `plan`; a part that cannot run is recorded in `errors`.
pub(crate) fn measure(plan: &VmLoopPlan, progress: &dyn Progress) -> Result<VmLoop> {
    let mut out = VmLoop {
        kernel: plan.kernel.clone(),
        scenario: plan.scenario.clone(),
        accelerator: None,
        run_ms: None,
        phases: Vec::new(),
        matrix_targets: Vec::new(),
        matrix_ms: None,
        run_target_ms: RUN_TARGET_MS,
        matrix_target_ms: MATRIX_TARGET_MS,
        errors: Vec::new(),
    };
    let tmp = tempfile::tempdir().context("a folder for the timed runs")?;
    let mut walls = Vec::new();
    let mut rounds: Vec<Vec<PhaseTime>> = Vec::new();
    for i in 0..plan.rounds {
        progress.point(&format!(
            "vm loop: lab run on {} ({}/{})",
            plan.kernel,
            i + 1,
            plan.rounds
        ));
        let dir = tmp.path().join(format!("run-{i}"));
        let args = ["run", "-q", "--kernel", &plan.kernel, &plan.scenario];
        match timed(&args, &dir)? {
            Ok(ms) => {
                let summary = read_summary(&dir)?;
                out.accelerator = summary["accelerator"].as_str().map(String::from);
                rounds.push(serde_json::from_value(summary["phases"].clone()).unwrap_or_default());
                walls.push(ms as f64);
            }
            Err(why) => {
                out.errors
                    .push(format!("lab run --kernel {}: {why}", plan.kernel));
                break;
            }
        }
    }
    out.run_ms = Stats::of(&walls);
    out.phases = median_phases(&rounds);
    if !plan.matrix.is_empty() {
        progress.point(&format!(
            "vm loop: lab matrix on host + {}",
            plan.matrix.join(", ")
        ));
        let kernels = plan.matrix.join(",");
        let args = ["matrix", "--kernels", &kernels, &plan.scenario];
        match timed(&args, &tmp.path().join("matrix"))? {
            Ok(ms) => out.matrix_ms = Some(ms),
            Err(why) => out.errors.push(format!("lab matrix: {why}")),
        }
        out.matrix_targets = std::iter::once("host".to_string())
            .chain(plan.matrix.iter().cloned())
            .collect();
    }
    Ok(out)
}

/// Runs this binary with `args` into `results`; its wall time in ms, or why
/// it did not pass. An interrupt stops the child and is returned as such.
fn timed(args: &[&str], results: &Path) -> Result<Result<u64, String>> {
    let exe = std::env::current_exe().context("finding the lab binary")?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .arg("--results-dir")
        .arg(results)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: prctl(2) is async-signal-safe; the closure touches nothing else.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let t0 = Instant::now();
    let mut child = cmd.spawn().context("starting lab")?;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if signals::interrupted() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = child.wait();
            signals::check()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let ms = t0.elapsed().as_millis() as u64;
    if status.success() {
        return Ok(Ok(ms));
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Ok(Err(format!("exit {}: {last}", status.code().unwrap_or(-1))))
}

/// The `summary.json` of the one run under `results`.
fn read_summary(results: &Path) -> Result<serde_json::Value> {
    let mut runs = std::fs::read_dir(results)
        .with_context(|| format!("reading {}", results.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir());
    let Some(run) = runs.next() else {
        bail!("no run folder under {}", results.display());
    };
    let path = run.join("summary.json");
    let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Each phase's median over the rounds, in the order of the first round.
pub(crate) fn median_phases(rounds: &[Vec<PhaseTime>]) -> Vec<PhaseTime> {
    let Some(first) = rounds.first() else {
        return Vec::new();
    };
    first
        .iter()
        .map(|p| {
            let ms: Vec<f64> = rounds
                .iter()
                .filter_map(|r| r.iter().find(|q| q.phase == p.phase))
                .map(|q| q.ms as f64)
                .collect();
            PhaseTime {
                phase: p.phase.clone(),
                ms: Stats::of(&ms).map_or(p.ms, |s| s.median.round() as u64),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(phase: &str, ms: u64) -> PhaseTime {
        PhaseTime {
            phase: phase.into(),
            ms,
        }
    }

    #[test]
    fn phases_are_medians_in_first_round_order() {
        let rounds = vec![
            vec![p("qemu start", 100), p("step 1: ping", 500)],
            vec![p("step 1: ping", 700), p("qemu start", 300)],
            vec![p("qemu start", 200), p("step 1: ping", 600)],
        ];
        assert_eq!(
            median_phases(&rounds),
            vec![p("qemu start", 200), p("step 1: ping", 600)]
        );
        assert!(median_phases(&[]).is_empty());
    }
}
