//! Paired benches (`lab bench --baseline REV`, `--baseline-objects DIR`):
//! an A/A run of one build against itself flags nothing, the known
//! regression (`--inject extra-copy`) is flagged at 1500 B and nowhere it
//! is not built in, and bad baselines are harness errors (exit 2) that
//! name what is wrong and leave no results folder.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// How `lab/build.rs` declares and compiles BPF objects.
#[allow(dead_code)]
mod table {
    include!("../src/dataplane/bpf_objects.rs");
}

/// The source and defines of the object `name` this tree's `ebpf/` declares.
fn declared(name: &str) -> Option<(String, Vec<String>)> {
    table::declared_in(&repo().join("ebpf"))
        .unwrap()
        .into_iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, source, defines)| (source, defines))
}

/// A micro-only bench: short rounds, the copy build at 1500 B.
fn bench_file(dir: &Path, variants: &str, sizes: &str) -> PathBuf {
    let path = dir.join("paired.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nname: paired\nsizes: [{sizes}]\nvariants: [{variants}]\n\
             micro: {{ rounds: 5, warmup_rounds: 1, round_ms: 10 }}\n"
        ),
    )
    .unwrap();
    path
}

/// Compiles the objects of `builds` from this tree's `ebpf/` into `dir`,
/// each as `<build>.bpf.o` from the table entry `<build><suffix>`; `None`
/// (with a skip line) without clang.
fn objects(test: &str, dir: &Path, builds: &[&str], suffix: &str) -> Option<()> {
    let Some(clang) = table::find_clang() else {
        eprintln!("SKIPPED {test}: no clang to build the baseline objects");
        return None;
    };
    std::fs::create_dir_all(dir).unwrap();
    for b in builds {
        let want = format!("{b}{suffix}");
        let (source, defines) = declared(&want).unwrap_or_else(|| panic!("no {want} declared"));
        let defines: Vec<&str> = defines.iter().map(String::as_str).collect();
        let out = table::clang_command(
            clang,
            &repo().join("ebpf"),
            &source,
            &defines,
            &dir.join(format!("{b}.bpf.o")),
        )
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Some(())
}

/// The paired verdict lines (`REGRESSION`, `worse`, …) of stdout.
fn marked<'a>(stdout: &'a str, mark: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(&format!("{mark} ")))
        .collect()
}

/// The one run folder under `results`, with its paired.md and bench.json.
fn the_run(results: &Path) -> (String, serde_json::Value) {
    let runs = run_dirs(results);
    assert_eq!(runs.len(), 1, "{runs:?}");
    let md = std::fs::read_to_string(runs[0].join("paired.md")).unwrap();
    let doc = serde_json::from_slice(&std::fs::read(runs[0].join("bench.json")).unwrap()).unwrap();
    (md, doc)
}

#[test]
fn a_paired_a_a_run_flags_nothing() {
    let test = "a_paired_a_a_run_flags_nothing";
    if skip_without_host(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let builds = ["noop", "copy", "crypto"];
    if objects(test, &dir.path().join("plain"), &builds, "").is_none() {
        return;
    }
    let file = bench_file(dir.path(), "noop, copy, ecb(aes)", "64, 1500");
    let results = dir.path().join("results");
    let _lock = BpfLock::acquire();
    let out = lab(
        &[
            "bench",
            file.to_str().unwrap(),
            "--baseline-objects",
            dir.path().join("plain").to_str().unwrap(),
        ],
        &results,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let flagged = marked(&stdout, "REGRESSION");
    assert!(
        flagged.len() <= 1,
        "A/A flagged {flagged:?}\n{}",
        text(&out)
    );
    assert_eq!(
        out.status.code(),
        Some(i32::from(!flagged.is_empty())),
        "{}",
        text(&out)
    );
    assert!(stdout.contains("12 paired figures"), "{}", text(&out));
    let (md, doc) = the_run(&results);
    assert!(md.starts_with("## Paired bench: "), "{md}");
    assert!(
        md.contains("<details><summary>All 12 paired figures</summary>"),
        "{md}"
    );
    // bench.json names the baseline's objects by digest, without the bytes.
    let objects = doc["plan"]["baseline"]["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 3);
    for o in objects {
        assert_eq!(o["sha256"].as_str().unwrap().len(), 64, "{o}");
        assert!(o.get("bytes").is_none(), "{o}");
    }
    // Both sides' figures, round for round, and every round's spread small.
    let t = &doc["targets"][0];
    assert_eq!(t["baseline"]["micro"].as_array().unwrap().len(), 12);
    for m in t["micro"].as_array().unwrap() {
        let ns = &m["ns"];
        assert_eq!(ns["samples"].as_array().unwrap().len(), 5, "{m}");
        let spread = (ns["max"].as_f64().unwrap() - ns["min"].as_f64().unwrap())
            / ns["median"].as_f64().unwrap();
        assert!(spread <= 0.05, "spread {spread} of {m}");
    }
}

#[test]
fn the_extra_copy_build_is_flagged_at_1500_bytes() {
    let test = "the_extra_copy_build_is_flagged_at_1500_bytes";
    if skip_without_host(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (plain, extra) = (dir.path().join("plain"), dir.path().join("extracopy"));
    let builds = ["noop", "copy"];
    if objects(test, &plain, &builds, "").is_none() {
        return;
    }
    std::fs::create_dir_all(&extra).unwrap();
    objects(test, &extra, &["copy"], "_extracopy").unwrap();
    std::fs::copy(plain.join("noop.bpf.o"), extra.join("noop.bpf.o")).unwrap();
    let file = bench_file(dir.path(), "noop, copy", "1500");
    let _lock = BpfLock::acquire();
    // The candidate carries the extra copy: a regression, exit 1.
    let results = dir.path().join("results-a");
    let out = lab(
        &[
            "bench",
            file.to_str().unwrap(),
            "--inject",
            "extra-copy",
            "--baseline-objects",
            plain.to_str().unwrap(),
        ],
        &results,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let flagged = marked(&stdout, "REGRESSION");
    assert_eq!(flagged.len(), 2, "{}", text(&out));
    assert!(flagged.iter().all(|l| l.contains("copy ")), "{flagged:?}");
    assert!(
        flagged.iter().any(|l| l.contains("copy egress 1500 B")),
        "{flagged:?}"
    );
    let (md, _) = the_run(&results);
    assert!(md.contains("**2 regressions**"), "{md}");
    // The baseline carries it: the same figures are better, exit 0.
    let results = dir.path().join("results-b");
    let out = lab(
        &[
            "bench",
            file.to_str().unwrap(),
            "--baseline-objects",
            extra.to_str().unwrap(),
        ],
        &results,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let better = marked(&stdout, "better");
    assert!(
        better.iter().any(|l| l.contains("copy egress 1500 B")),
        "{}",
        text(&out)
    );
    assert!(marked(&stdout, "REGRESSION").is_empty(), "{}", text(&out));
}

#[test]
fn a_revision_baseline_is_built_from_git() {
    let test = "a_revision_baseline_is_built_from_git";
    if skip_without_host(test) {
        return;
    }
    if table::find_clang().is_none() {
        eprintln!("SKIPPED {test}: no clang to build the baseline");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = bench_file(dir.path(), "noop", "64");
    let results = dir.path().join("results");
    let _lock = BpfLock::acquire();
    let out = lab(
        &["bench", file.to_str().unwrap(), "--baseline", "HEAD"],
        &results,
    );
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", text(&out));
    let (md, doc) = the_run(&results);
    let label = doc["plan"]["baseline"]["label"].as_str().unwrap();
    assert!(label.starts_with("revision HEAD ("), "{label}");
    assert!(md.contains(label), "{md}");
}

#[test]
fn a_bad_baseline_is_exit_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = bench_file(dir.path(), "noop, copy", "64");
    let results = dir.path().join("results");
    let out = lab(
        &[
            "bench",
            file.to_str().unwrap(),
            "--baseline",
            "no-such-revision-17",
        ],
        &results,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--baseline no-such-revision-17: not a commit"),
        "{stderr}"
    );
    // A folder without the objects: the missing file is named.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = lab(
        &[
            "bench",
            file.to_str().unwrap(),
            "--baseline-objects",
            empty.to_str().unwrap(),
        ],
        &results,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}/noop.bpf.o", empty.display())),
        "{stderr}"
    );
    assert!(run_dirs(&results).is_empty(), "nothing committed");
}
