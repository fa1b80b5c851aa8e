//! The lab catches broken data planes: every object of the corpus
//! (`ebpf/broken/*.bpf.c`, one realistic bug each, compiled by build.rs)
//! goes through `lab audit` (the scenario suite of its format and the
//! fuzzer, through `--dataplane`), and the property its source names in
//! `Caught by:` must be broken, while the object still loads and every
//! scenario runs (a bug caught by a crash is not caught). The shipped
//! objects, audited the same way, break nothing.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::*;

/// One object of the corpus and the property that must catch it.
#[derive(Debug, Clone)]
struct Broken {
    name: String,
    object: PathBuf,
    caught_by: String,
}

/// The corpus, from the sources' `Caught by: <property> in <scenario>`.
fn corpus() -> Vec<Broken> {
    let dir = repo().join("ebpf/broken");
    let mut out: Vec<Broken> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".bpf.c"))
        .map(|src| {
            let text = std::fs::read_to_string(&src).unwrap();
            let line = text
                .lines()
                .find_map(|l| l.split_once("Caught by: ").map(|x| x.1))
                .unwrap_or_else(|| panic!("{} has no `Caught by:` line", src.display()));
            let caught_by = line.split(" in ").next().unwrap().trim().to_string();
            let name = src
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches(".bpf.c")
                .to_string();
            let object = Path::new(env!("OUT_DIR")).join(format!("broken/{name}.bpf.o"));
            Broken {
                name,
                object,
                caught_by,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `lab audit` of `object`: its exit code and the committed audit.
fn audit(object: &Path, results: &Path) -> (Option<i32>, serde_json::Value, String) {
    let o = lab_cmd(
        &[
            "audit",
            "-q",
            "--cases",
            "300",
            "--seed",
            "7",
            object.to_str().unwrap(),
        ],
        results,
        &[],
    )
    .output()
    .unwrap();
    let runs = run_dirs(results);
    let audit = runs
        .first()
        .map(|d| summary(d))
        .unwrap_or(serde_json::Value::Null);
    (o.status.code(), audit, text(&o))
}

/// Property `name` of an audit: (held, evidence).
fn property(audit: &serde_json::Value, name: &str) -> Option<(bool, String)> {
    audit["properties"].as_array()?.iter().find_map(|p| {
        (p["name"] == name).then(|| {
            (
                p["held"].as_bool().unwrap(),
                p["evidence"].as_str().unwrap().to_string(),
            )
        })
    })
}

/// One audit of the run: a broken object and the property that must
/// catch it, or a shipped object (`caught_by` empty) that must hold all.
fn jobs() -> Vec<Broken> {
    let mut jobs: Vec<Broken> = ["crypto", "esp", "wireguard"]
        .into_iter()
        .map(|name| Broken {
            name: name.to_string(),
            object: Path::new(env!("OUT_DIR")).join(format!("{name}.bpf.o")),
            caught_by: String::new(),
        })
        .collect();
    jobs.extend(corpus());
    jobs
}

#[test]
fn broken_data_planes_are_caught_by_the_check_that_names_the_bug_and_shipped_ones_hold() {
    if skip_without_host(
        "broken_data_planes_are_caught_by_the_check_that_names_the_bug_and_shipped_ones_hold",
    ) {
        return;
    }
    let corpus = corpus();
    assert!(
        corpus.len() >= 10,
        "the corpus has {} objects",
        corpus.len()
    );
    let jobs = jobs();
    let _lock = BpfLock::acquire();
    // Four audits at a time: each run has its own namespaces, and most of a
    // scenario's time is spent waiting for packets (tcp.yaml's
    // retransmissions above all).
    let failures = Mutex::new(Vec::new());
    let next = Mutex::new(jobs.iter());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let Some(b) = next.lock().unwrap().next() else {
                        return;
                    };
                    let r = match b.caught_by.is_empty() {
                        true => holds_all(b),
                        false => check(b),
                    };
                    if let Err(e) = r {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(!dataplane_loaded(), "data plane programs left loaded");
}

/// A shipped object: every property held, the object named.
fn holds_all(b: &Broken) -> Result<(), String> {
    let results = tempfile::tempdir().unwrap();
    let (code, audit, out) = audit(&b.object, results.path());
    let props = audit["properties"].as_array().cloned().unwrap_or_default();
    let named = audit["object"]["path"] == b.object.to_str().unwrap()
        && audit["object"]["sha256"].as_str().map(str::len) == Some(64);
    if code == Some(0) && props.len() >= 15 && props.iter().all(|p| p["held"] == true) && named {
        Ok(())
    } else {
        Err(format!(
            "{}: exit {code:?}, not every property held or the object not named\n{out}",
            b.name
        ))
    }
}

fn check(b: &Broken) -> Result<(), String> {
    let results = tempfile::tempdir().unwrap();
    let (code, audit, out) = audit(&b.object, results.path());
    let fail = |why: String| Err(format!("{}: {why}\n{out}", b.name));
    if code != Some(1) {
        return fail(format!(
            "lab audit exited {code:?}, not 1 (a property broken)"
        ));
    }
    match property(&audit, &b.caught_by) {
        Some((false, _)) => {}
        Some((true, evidence)) => {
            return fail(format!("`{}` held ({evidence})", b.caught_by));
        }
        None => return fail(format!("the audit has no property `{}`", b.caught_by)),
    }
    match property(&audit, "scenario runs without error") {
        Some((true, _)) => Ok(()),
        other => fail(format!(
            "a scenario did not run to the end, so the bug may be caught by a crash: {other:?}"
        )),
    }
}
