//! `lab fuzz`: the data plane's programs against generated frames on the
//! host or a catalog kernel; a failing case is saved as a pcap that
//! `lab fuzz --replay FILE` reruns.

use std::path::Path;

use anyhow::{Context, Result, bail};
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};

use super::args::FuzzArgs;
use crate::job::fuzz::{FuzzPlan, FuzzReport};
use crate::job::{Completed, Job, Outcome};
use crate::output::exit;
use crate::output::progress::Printer;
use crate::output::results_dir::ResultsDir;
use crate::target::Backend;

/// File of the failing cases in the results folder.
const FAILURES: &str = "failures.pcap";

pub(crate) fn fuzz(a: FuzzArgs) -> Result<i32> {
    let replay = match &a.replay {
        Some(f) => read_pcap(f)?,
        None => Vec::new(),
    };
    let seed = a.seed.unwrap_or_else(clock_seed);
    let dataplane = match &a.dataplane {
        Some(path) => Some(super::dataplane::read_checked(path)?.0),
        None => None,
    };
    let plan = FuzzPlan {
        seed,
        cases: a.cases,
        replay,
        dataplane,
    };
    let backend = if a.kernel.is_some() || a.image.kernel_image.is_some() {
        Backend::Qemu
    } else {
        Backend::Host
    };
    let target = super::repo::open_target(backend, a.kernel.as_deref(), &a.image, a.vm.options()?)?;
    eprintln!("lab: fuzz on {} (seed {seed})", target.name());
    let dir = ResultsDir::create(&a.results.results_dir, "fuzz", target.name())?;
    let exec = target.run(&Job::Fuzz(plan), dir.path(), &Printer { quiet: a.quiet })?;
    let report = match exec.outcome {
        Outcome::Completed(Completed::Fuzz(r)) => *r,
        Outcome::Unsupported(why) => {
            println!("{}: unsupported: {why}", target.name());
            return Ok(exit::UNSUPPORTED);
        }
        Outcome::Failed(why) => {
            eprintln!("lab: {}: {why}", target.name());
            return Ok(exit::ERROR);
        }
        Outcome::Completed(_) => bail!("the kernel returned no fuzz report"),
    };
    if !report.frames.is_empty() {
        write_pcap(&dir.path().join(FAILURES), &report.frames)?;
    }
    std::fs::write(
        dir.path().join("fuzz.json"),
        serde_json::to_vec_pretty(&report)?,
    )
    .context("writing fuzz.json")?;
    let path = dir.commit(&serde_json::json!({
        "kind": "fuzz", "target": target.name(), "kernel": exec.kernel,
        "accelerator": exec.accelerator, "seed": report.seed, "cases": report.cases,
        "passed": report.passed(), "violations": report.violation_count(),
    }))?;
    print!("{}", render(target.name(), &exec.kernel, &report, &path));
    Ok(if report.passed() {
        exit::PASS
    } else {
        exit::FAIL
    })
}

/// A seed from the clock, when none was given.
pub(super) fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// The terminal summary.
fn render(target: &str, kernel: &str, r: &FuzzReport, path: &Path) -> String {
    let mut s = format!(
        "\nfuzz · {target} ({kernel}) · seed {} · {} frames per program, {} runs, {} round trips, {} in-place/bounce comparisons, {} refused by BPF_PROG_TEST_RUN\n",
        r.seed, r.cases, r.runs, r.round_trips, r.twin_runs, r.refused
    );
    for (prog, pass, drop) in &r.verdicts {
        s.push_str(&format!(
            "  {prog:<20} {pass:>7} passed {drop:>7} dropped\n"
        ));
    }
    for v in &r.violations {
        s.push_str(&format!(
            "  FAIL case {} ({}): {}: {}\n",
            v.case, v.program, v.invariant, v.detail
        ));
    }
    for (prog, invariant, n) in &r.counts {
        let shown = r
            .violations
            .iter()
            .filter(|v| v.program == *prog && v.invariant == *invariant)
            .count();
        s.push_str(&format!(
            "  {prog}: {invariant} broken {n} times ({shown} shown above)\n"
        ));
    }
    for w in &r.kernel_warnings {
        s.push_str(&format!("  FAIL kernel: {w}\n"));
    }
    let verdict = if r.passed() { "ok" } else { "FAILED" };
    let replay = if r.frames.is_empty() {
        String::new()
    } else {
        format!(
            "; rerun the failing cases with `lab fuzz --replay {}`",
            path.join(FAILURES).display()
        )
    };
    s.push_str(&format!(
        "{verdict}: {} violations{replay} → {}\n",
        r.violation_count(),
        path.display()
    ));
    s
}

fn write_pcap(path: &Path, frames: &[Vec<u8>]) -> Result<()> {
    let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(f, header)?;
    for (i, frame) in frames.iter().enumerate() {
        let ts = std::time::Duration::from_micros(i as u64);
        w.write_packet(&PcapPacket::new(ts, frame.len() as u32, frame))?;
    }
    Ok(())
}

/// The frames of a pcap file (`--replay`).
fn read_pcap(path: &Path) -> Result<Vec<Vec<u8>>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut r =
        PcapReader::new(f).with_context(|| format!("{} is not a pcap file", path.display()))?;
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(
            p.with_context(|| format!("reading {}", path.display()))?
                .data
                .into_owned(),
        );
    }
    if out.is_empty() {
        bail!("{} holds no frames", path.display());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::fuzz::Violation;

    #[test]
    fn the_summary_counts_every_violation_not_only_the_examples() {
        let v = |case| Violation {
            case,
            program: "egress cbc(aes)".into(),
            invariant: "reference cipher".into(),
            detail: "differs".into(),
        };
        let r = FuzzReport {
            violations: (0..5).map(v).collect(),
            counts: vec![("egress cbc(aes)".into(), "reference cipher".into(), 4321)],
            ..Default::default()
        };
        assert_eq!(r.violation_count(), 4321);
        let text = render("host", "6.18", &r, Path::new("/r"));
        assert!(text.contains("FAILED: 4321 violations"), "{text}");
        assert!(
            text.contains("egress cbc(aes): reference cipher broken 4321 times (5 shown above)"),
            "{text}"
        );
    }
}
