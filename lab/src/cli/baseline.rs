//! The baseline of a paired bench: the data plane objects of a git
//! revision (`--baseline REV`: its `ebpf/` folder from `git archive` into a
//! temporary folder, compiled with the table and flags `lab/build.rs`
//! uses; the working tree is never touched), prebuilt objects
//! (`--baseline-objects DIR`), or this lab's own objects (calibration).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::dataplane::BPF_OBJECTS;
use crate::dataplane::bpf_objects::{clang_command, declared_in, find_clang};
use crate::dataplane::embedded_object;
use crate::domain::Build;
use crate::kernels::input;
use crate::spec::baseline::{Baseline, BaselineObject};
use crate::spec::bench_plan::BenchPlan;

/// The largest object file `--baseline-objects` reads.
const MAX_OBJECT_BYTES: u64 = 64 << 20;

/// The builds a paired bench of `plan` loads on the baseline side: those
/// of the micro planes and of the UDP variants. Empty when the plan has
/// neither part or none of our variants.
pub(crate) fn needed_builds(plan: &BenchPlan) -> Vec<Build> {
    let mut builds = Vec::new();
    let micro = plan.micro.is_some().then(|| plan.micro_planes());
    let udp = plan.udp.is_some().then(|| plan.variants.clone());
    let variants = micro
        .into_iter()
        .flatten()
        .map(|(v, _)| v)
        .chain(udp.into_iter().flatten());
    for b in variants.filter_map(|v| v.build()) {
        if !builds.contains(&b) {
            builds.push(b);
        }
    }
    builds
}

/// This lab's own objects: an A/A baseline.
pub(crate) fn embedded(builds: &[Build]) -> Baseline {
    Baseline {
        label: "this lab's own objects (A/A)".into(),
        objects: builds
            .iter()
            .map(|b| BaselineObject::new(b.as_str(), embedded_object(*b).to_vec()))
            .collect(),
    }
}

/// Prebuilt objects: `DIR/<build>.bpf.o` for every build needed.
pub(crate) fn from_dir(dir: &Path, builds: &[Build]) -> Result<Baseline> {
    let mut objects = Vec::new();
    for b in builds {
        let path = dir.join(format!("{}.bpf.o", b.as_str()));
        let bytes = input::read(&path, MAX_OBJECT_BYTES).with_context(|| {
            format!(
                "--baseline-objects {}: the {} object {}",
                dir.display(),
                b.as_str(),
                path.display()
            )
        })?;
        objects.push(BaselineObject::new(b.as_str(), bytes));
    }
    Ok(Baseline {
        label: format!("objects from {}", dir.display()),
        objects,
    })
}

/// Runs git in `repo`; its stdout, or an error with its stderr.
fn git(repo: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .context("running git (install git: `just setup`)")?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(out.stdout)
}

/// The objects of revision `rev` of the repository at `repo`.
pub(crate) fn from_revision(repo: &Path, rev: &str, builds: &[Build]) -> Result<Baseline> {
    let spec = format!("{rev}^{{commit}}");
    let commit = git(repo, &["rev-parse", "--verify", "--quiet", "--end-of-options", &spec])
        .map(|o| String::from_utf8_lossy(&o).trim().to_string())
        .ok()
        .filter(|c| !c.is_empty())
        .with_context(|| {
            format!(
                "--baseline {rev}: not a commit of the repository at {} (fetch it first, e.g. `git fetch origin main`)",
                repo.display()
            )
        })?;
    let short = &commit[..commit.len().min(12)];
    let tar = git(repo, &["archive", "--format=tar", &commit, "--", "ebpf"])
        .with_context(|| format!("--baseline {rev}: revision {short} has no ebpf/ folder"))?;
    let tmp = tempfile::tempdir().context("a temporary folder for the baseline's sources")?;
    tar::Archive::new(&tar[..])
        .unpack(tmp.path())
        .with_context(|| format!("--baseline {rev}: unpacking ebpf/ of {short}"))?;
    let clang = match std::env::var("BPF_CLANG") {
        Ok(c) => c,
        Err(_) => find_clang()
            .context(
                "no clang to build the baseline: install clang-19 (`just setup`) or set BPF_CLANG",
            )?
            .to_string(),
    };
    let ebpf = tmp.path().join("ebpf");
    let mut objects = Vec::new();
    let declared = declared_in(&ebpf)
        .with_context(|| format!("--baseline {rev}: reading ebpf/ of {short}"))?;
    for b in builds {
        let name = b.as_str();
        // The revision's own declaration of the build, else today's (a
        // revision from before sources declared their objects).
        let (source, defines) = match declared.iter().find(|(n, _, _)| n == name) {
            Some((_, source, defines)) => (source.clone(), defines.clone()),
            None => BPF_OBJECTS
                .iter()
                .find(|(n, _, _)| *n == name)
                .map(|(_, s, d)| (s.to_string(), d.iter().map(|d| d.to_string()).collect()))
                .with_context(|| format!("no {name} object in the table of BPF objects"))?,
        };
        let defines: Vec<&str> = defines.iter().map(String::as_str).collect();
        let obj = tmp.path().join(format!("{name}.bpf.o"));
        let out = clang_command(&clang, &ebpf, &source, &defines, &obj)
            .output()
            .with_context(|| format!("running {clang} for the baseline"))?;
        if !out.status.success() {
            bail!(
                "--baseline {rev}: clang failed on ebpf/{source}.bpf.c of {short} ({name} build):\n{}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let bytes = std::fs::read(&obj).with_context(|| format!("reading {}", obj.display()))?;
        objects.push(BaselineObject::new(name, bytes));
    }
    let label = if commit.starts_with(rev) {
        format!("revision {short}")
    } else {
        format!("revision {rev} ({short})")
    };
    Ok(Baseline { label, objects })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BenchVariant;

    #[test]
    fn the_builds_of_micro_planes_and_udp_variants_once_each() {
        let plan = crate::spec::bench::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench-quick.yaml"),
        )
        .unwrap();
        let builds = needed_builds(&plan);
        for v in &plan.variants {
            if let Some(b) = v.build() {
                assert!(builds.contains(&b), "{}", v.as_str());
            }
        }
        let mut sorted = builds.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), builds.len());
        let mut none = plan.clone();
        none.micro = None;
        none.udp = None;
        assert!(needed_builds(&none).is_empty());
        let mut stacks_only = plan;
        stacks_only.micro = None;
        stacks_only.variants = vec![BenchVariant::XfrmGcm];
        assert!(needed_builds(&stacks_only).is_empty());
    }

    #[test]
    fn a_missing_object_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("copy.bpf.o"), b"\x7fELF").unwrap();
        let b = from_dir(dir.path(), &[Build::Copy]).unwrap();
        assert_eq!(b.object("copy"), Some(&b"\x7fELF"[..]));
        let err = format!(
            "{:#}",
            from_dir(dir.path(), &[Build::Copy, Build::Noop]).unwrap_err()
        );
        assert!(err.contains("noop.bpf.o"), "{err}");
        let a = embedded(&[Build::Noop]);
        assert_eq!(a.object("noop"), Some(embedded_object(Build::Noop)));
    }
}
