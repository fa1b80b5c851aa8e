//! The data plane a user brings (`--dataplane`, `dataplane:`): an object
//! written apart from the lab's (`fixtures/dataplane/mini_raw.bpf.c`, the
//! raw ABI on its own parsing, maps and padding) runs the scenarios; an
//! object that breaks the contract is refused before anything loads,
//! every problem named, exit 2; the shipped ESP object given as a file
//! gives the same results as the built-in one, on the host and in a VM.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// The lab's own way to compile BPF C (flags, clang).
#[allow(dead_code)]
mod objects {
    include!("../src/dataplane/bpf_objects.rs");
}
use objects::{clang_command, find_clang};

/// Compiles the fixture into `dir` with `defines`.
fn fixture(dir: &Path, name: &str, defines: &[&str]) -> PathBuf {
    let clang = find_clang().expect("clang (./scripts/setup installs clang-19)");
    let out = dir.join(format!("{name}.bpf.o"));
    let fixtures = repo().join("lab/tests/fixtures/dataplane");
    let mut c = clang_command(clang, &fixtures, "mini_raw", defines, &out);
    c.arg(format!("-I{}", repo().join("ebpf").display()));
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn sha256(path: &Path) -> String {
    let o = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn an_independent_raw_data_plane_runs_the_scenarios() {
    if skip_without_host("an_independent_raw_data_plane_runs_the_scenarios") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let obj = fixture(d.path(), "mini_raw", &[]);
    let _lock = BpfLock::acquire();
    for scenario in ["scenarios/ping.yaml", "scenarios/udp-sizes.yaml"] {
        let results = tempfile::tempdir().unwrap();
        let out = lab(
            &["run", "--dataplane", obj.to_str().unwrap(), scenario],
            results.path(),
        );
        assert_eq!(out.status.code(), Some(0), "{scenario}: {}", text(&out));
        let s = summary(&run_dirs(results.path())[0]);
        assert_eq!(s["dataplane"]["path"], obj.to_str().unwrap());
        assert_eq!(s["wire"], "raw, your object");
        assert_eq!(s["dataplane"]["sha256"], sha256(&obj));
        assert!(s["dataplane"].get("bytes").is_none(), "{}", s["dataplane"]);
        let report =
            std::fs::read_to_string(run_dirs(results.path())[0].join("report.md")).unwrap();
        assert!(report.contains(&sha256(&obj)), "{report}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&sha256(&obj)),
            "{}",
            text(&out)
        );
    }
    // Its own program names are in the kernel while it runs: it is not
    // the lab's object. None is left after the run.
    assert!(!dataplane_loaded(), "data plane programs left loaded");

    // The same object named by a scenario file, relative to it.
    let yaml = std::fs::read_to_string(repo().join("scenarios/ping.yaml")).unwrap();
    std::fs::write(
        d.path().join("mine.yaml"),
        format!("{yaml}\ndataplane: mini_raw.bpf.o\n"),
    )
    .unwrap();
    let results = tempfile::tempdir().unwrap();
    let out = lab(
        &["run", d.path().join("mine.yaml").to_str().unwrap()],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = summary(&run_dirs(results.path())[0]);
    assert_eq!(s["dataplane"]["sha256"], sha256(&obj));
}

#[test]
fn what_the_object_lacks_is_refused_before_anything_runs() {
    let d = tempfile::tempdir().unwrap();
    let obj = fixture(d.path(), "mini_raw", &[]);
    let results = tempfile::tempdir().unwrap();
    // No tamper program: a tamper scenario cannot test it.
    let out = lab(
        &[
            "run",
            "--dataplane",
            obj.to_str().unwrap(),
            "scenarios/tamper.yaml",
        ],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("tamper_egress"), "{}", text(&out));
    // A raw object for an ESP scenario.
    let out = lab(
        &[
            "run",
            "--dataplane",
            obj.to_str().unwrap(),
            "scenarios/esp-ping.yaml",
        ],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("follows the raw ABI"), "{}", text(&out));

    // Renamed programs and a provisioning context laid out differently:
    // every problem named at once.
    let bad = fixture(
        d.path(),
        "bad",
        &[
            "-Dencrypt_egress=encrypt_out",
            "-Ddecrypt_ingress=decrypt_in",
            "-Dkey_len=key_size",
        ],
    );
    let out = lab(
        &[
            "run",
            "--dataplane",
            bad.to_str().unwrap(),
            "scenarios/ping.yaml",
        ],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    for want in [
        "program `encrypt_egress` is missing",
        "program `decrypt_ingress` is missing",
        "struct bpfcrypt_provision has no field `key_len`",
        "docs/dataplane-abi.md",
    ] {
        assert!(t.contains(want), "missing {want:?} in {t}");
    }
    // `lab check` checks a scenario's object too.
    let yaml = std::fs::read_to_string(repo().join("scenarios/ping.yaml")).unwrap();
    std::fs::write(
        d.path().join("bad.yaml"),
        format!("{yaml}\ndataplane: bad.bpf.o\n"),
    )
    .unwrap();
    let out = lab(
        &["check", d.path().join("bad.yaml").to_str().unwrap()],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("encrypt_egress"), "{}", text(&out));
    // A scenario naming a missing object: the field is located.
    std::fs::write(
        d.path().join("none.yaml"),
        format!("{yaml}\ndataplane: none.bpf.o\n"),
    )
    .unwrap();
    let out = lab(
        &["check", d.path().join("none.yaml").to_str().unwrap()],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("none.yaml:") && text(&out).contains("field `dataplane`"),
        "{}",
        text(&out)
    );
    assert!(
        run_dirs(results.path()).is_empty(),
        "nothing may be written"
    );
}

/// The checks of a run, name and verdict, in order.
fn verdicts(s: &serde_json::Value) -> Vec<(String, bool)> {
    s["report"]["assertions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap().to_string(), a["pass"] == true))
        .collect()
}

/// esp-ping with the built-in ESP build and with the same object given as
/// a file: the same checks, all passed.
fn same_results_as_built_in(args: &[&str]) {
    let esp = Path::new(env!("OUT_DIR")).join("esp.bpf.o");
    let mut runs = Vec::new();
    for user in [false, true] {
        let results = tempfile::tempdir().unwrap();
        let mut a = vec!["run"];
        a.extend_from_slice(args);
        if user {
            a.extend(["--dataplane", esp.to_str().unwrap()]);
        }
        a.push("scenarios/esp-ping.yaml");
        let out = lab(&a, results.path());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let s = summary(&run_dirs(results.path())[0]);
        assert_eq!(s["dataplane"].is_object(), user, "{}", s["dataplane"]);
        runs.push(verdicts(&s));
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[1].iter().all(|(_, pass)| *pass), "{:?}", runs[1]);
}

#[test]
fn the_shipped_esp_object_as_a_file_gives_the_built_in_results_on_the_host() {
    if skip_without_host("the_shipped_esp_object_as_a_file_gives_the_built_in_results_on_the_host")
    {
        return;
    }
    let _lock = BpfLock::acquire();
    same_results_as_built_in(&[]);
}

#[test]
fn the_shipped_esp_object_as_a_file_gives_the_built_in_results_in_a_vm() {
    if qemu_missing("the_shipped_esp_object_as_a_file_gives_the_built_in_results_in_a_vm") {
        return;
    }
    ensure_kernel("debian-6.12");
    same_results_as_built_in(&["--kernel", "debian-6.12"]);
}

#[test]
fn the_bench_measures_the_users_object_in_place_of_the_lab_build() {
    if skip_without_host("the_bench_measures_the_users_object_in_place_of_the_lab_build") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let obj = fixture(d.path(), "mini_raw", &[]);
    let bench = d.path().join("bench.yaml");
    std::fs::write(
        &bench,
        "version: 1\nname: mine\nsizes: [64, 1500]\nvariants: [copy, cbc(aes), cbc(aes) in place]\n\
         micro: { rounds: 3, warmup_rounds: 1, round_ms: 5 }\n\
         cipher: { rounds: 3, warmup_rounds: 1, round_ms: 5 }\n",
    )
    .unwrap();
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let out = lab(
        &[
            "bench",
            "--dataplane",
            obj.to_str().unwrap(),
            bench.to_str().unwrap(),
        ],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    // One build of the user's: the in-place variant goes; no `keys` and
    // `scratch` maps: the kfunc-alone part goes.
    assert!(
        t.contains("left out variant `cbc(aes) in place`")
            && t.contains("left out the cipher part"),
        "{t}"
    );
    let run = &run_dirs(results.path())[0];
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("bench.json")).unwrap()).unwrap();
    assert_eq!(doc["plan"]["dataplane"]["sha256"], sha256(&obj));
    assert_eq!(doc["plan"]["dataplane"]["format"], "raw");
    assert!(doc["plan"]["dataplane"].get("bytes").is_none());
    let micro = doc["targets"][0]["micro"].as_array().unwrap();
    for size in [64, 1500] {
        for dir in ["egress", "ingress"] {
            let m = micro
                .iter()
                .find(|m| m["variant"] == "cbc(aes)" && m["size"] == size && m["direction"] == dir)
                .unwrap_or_else(|| panic!("no cbc(aes) {dir} {size}: {micro:?}"));
            // Its output is checked like the lab's own: the reference cipher.
            assert_eq!(m["check"]["ok"], true, "{m}");
        }
    }
    assert!(!micro.iter().any(|m| m["variant"] == "cbc(aes) in place"));
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        report.contains(&sha256(&obj)),
        "the report names the object"
    );
}
