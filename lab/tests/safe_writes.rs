//! Reports written into folders the user names (downloaded CI artifacts)
//! never write through a symlink planted at their names; `lab compare`
//! refuses figures no measurement gives; messages about missing or
//! non-UTF-8 files say each thing once; `lab check` refuses ESP SPIs that
//! key rotations would carry past the last one.

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use serde_json::{Value, json};

const HOST: &str = "lab/tests/fixtures/bench-host.json";
const VICTIM: &[u8] = b"precious: must not change\n";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A run folder `dir/name` holding `doc` as its `bench.json`.
fn run_folder(dir: &Path, name: &str, doc: &Value) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("bench.json"),
        serde_json::to_vec_pretty(doc).unwrap(),
    )
    .unwrap();
    d
}

fn host() -> Value {
    serde_json::from_slice(&std::fs::read(repo().join(HOST)).unwrap()).unwrap()
}

/// Plants at each of `names` in `dir` a symlink to its own victim file
/// (outside `dir`); returns the victims.
fn plant(dir: &Path, victims: &Path, names: &[String]) -> Vec<PathBuf> {
    std::fs::create_dir_all(victims).unwrap();
    names
        .iter()
        .map(|n| {
            let v = victims.join(n);
            std::fs::write(&v, VICTIM).unwrap();
            symlink(&v, dir.join(n)).unwrap();
            v
        })
        .collect()
}

/// Every victim kept its bytes, and each name is now a regular file.
fn assert_untouched(dir: &Path, names: &[String], victims: &[PathBuf], o: &Output) {
    for (n, v) in names.iter().zip(victims) {
        assert_eq!(
            std::fs::read(v).unwrap(),
            VICTIM,
            "{n} wrote through: {}",
            text(o)
        );
        let m = std::fs::symlink_metadata(dir.join(n)).unwrap();
        assert!(m.file_type().is_file(), "{n} is not a regular file now");
        assert!(m.len() > 0, "{n} is empty");
    }
    let tmp: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(tmp.is_empty(), "temporary files left: {tmp:?}");
}

#[test]
fn compare_replaces_a_symlink_planted_at_its_markdown() {
    let d = tempfile::tempdir().unwrap();
    let doc = host();
    let old = run_folder(d.path(), "old", &doc);
    let new = run_folder(d.path(), "new", &doc);
    let id = doc["run_id"].as_str().unwrap();
    let names = vec![format!("compare-{id}.md")];
    let victims = plant(&new, &d.path().join("victims"), &names);
    let o = lab(
        &["compare", old.to_str().unwrap(), new.to_str().unwrap()],
        d.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_untouched(&new, &names, &victims, &o);
    let md = std::fs::read_to_string(new.join(&names[0])).unwrap();
    assert!(md.contains(id), "the Markdown names the old run: {md}");

    // `--markdown PATH` likewise.
    let named = vec!["summary.md".to_string()];
    let victims = plant(d.path(), &d.path().join("victims2"), &named);
    let out = d.path().join("summary.md");
    let o = lab(
        &[
            "compare",
            old.to_str().unwrap(),
            new.to_str().unwrap(),
            "--markdown",
            out.to_str().unwrap(),
        ],
        d.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_untouched(d.path(), &named, &victims, &o);
}

/// The files `lab report` writes, from its own line
/// (`N files written to DIR: a, b, …`).
fn report_files(o: &Output) -> Vec<String> {
    let out = stdout(o);
    let line = out
        .lines()
        .find(|l| l.contains(" files written to "))
        .unwrap_or_else(|| panic!("no file list: {}", text(o)));
    let list = line.rsplit_once(": ").unwrap().1;
    list.split(", ").map(str::to_string).collect()
}

#[test]
fn report_replaces_symlinks_planted_at_every_file_it_writes() {
    let d = tempfile::tempdir().unwrap();
    let doc = host();
    // What it writes, learnt from a clean folder.
    let clean = run_folder(d.path(), "clean", &doc);
    let o = lab(&["report", clean.to_str().unwrap()], d.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let names = report_files(&o);
    for want in ["report.md", "report.html", "findings.md"] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    assert!(names.iter().any(|n| n.ends_with(".png")), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(".svg")), "{names:?}");

    // Next to bench.json.
    let run = run_folder(d.path(), "downloaded", &doc);
    let victims = plant(&run, &d.path().join("victims"), &names);
    let o = lab(&["report", run.to_str().unwrap()], d.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_untouched(&run, &names, &victims, &o);
    for n in &names {
        assert_eq!(
            std::fs::read(run.join(n)).unwrap().len(),
            std::fs::read(clean.join(n)).unwrap().len(),
            "{n} differs from the clean report"
        );
    }

    // Into `--out`.
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let victims = plant(&out, &d.path().join("victims-out"), &names);
    let o = lab(
        &[
            "report",
            run.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        d.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_untouched(&out, &names, &victims, &o);
}

/// The first micro point's `ns` with its median, min and max set to `v`.
fn with_micro_ns(v: f64) -> Value {
    let mut doc = host();
    let p = &mut doc["targets"][0]["micro"][0];
    for k in ["median", "min", "mean"] {
        p["ns"][k] = json!(v);
    }
    doc
}

#[test]
fn compare_refuses_non_positive_figures_naming_file_and_figure() {
    let d = tempfile::tempdir().unwrap();
    let good = run_folder(d.path(), "good", &host());
    let first = &host()["targets"][0]["micro"][0];
    let label = format!(
        "host micro `{} {} {} B` ns",
        first["variant"].as_str().unwrap(),
        first["direction"].as_str().unwrap(),
        first["size"]
    );
    for (name, v, shown) in [("negative", -5.0, "-5"), ("zero", 0.0, "0")] {
        let bad = run_folder(d.path(), name, &with_micro_ns(v));
        let bad_json = bad.join("bench.json");
        // As the old run and as the new one.
        for (a, b) in [(&bad, &good), (&good, &bad)] {
            let o = lab(
                &["compare", a.to_str().unwrap(), b.to_str().unwrap()],
                d.path(),
            );
            assert_eq!(o.status.code(), Some(2), "{}", text(&o));
            let e = stderr(&o);
            let want = format!(
                "{}: bad figure: {label} median is {shown};",
                bad_json.display()
            );
            assert!(e.contains(&want), "want `{want}` in: {e}");
            assert!(!e.contains("REGRESSION"), "{e}");
        }
        let written: Vec<_> = [&bad, &good]
            .iter()
            .flat_map(|f| std::fs::read_dir(f).unwrap())
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("compare-"))
            .collect();
        assert!(written.is_empty(), "bad input wrote {written:?}");
    }
}

#[test]
fn a_missing_bench_lists_each_place_once() {
    let d = tempfile::tempdir().unwrap();
    let good = run_folder(d.path(), "good", &host());
    let gone = d.path().join("gone");
    let g = gone.to_str().unwrap();
    let o = lab(&["compare", g, good.to_str().unwrap()], d.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let e = stderr(&o);
    assert!(
        e.contains(&format!("no bench.json at {g} or {g}/bench.json\n")),
        "{e}"
    );
    assert_eq!(e.matches(&format!("{g}/bench.json")).count(), 1, "{e}");
}

/// `needle` occurs exactly once in `hay`.
fn once(hay: &str, needle: &str) -> bool {
    hay.matches(needle).count() == 1
}

#[test]
fn a_file_that_is_not_utf8_is_located_once() {
    let d = tempfile::tempdir().unwrap();
    let good = run_folder(d.path(), "good", &host());
    // A bench.json whose run id holds a byte that is not UTF-8.
    let mut bytes = std::fs::read(good.join("bench.json")).unwrap();
    let at = bytes.windows(9).position(|w| w == b"\"run_id\":").unwrap() + 11;
    bytes.insert(at, 0xff);
    let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    let bad = d.path().join("latin1.json");
    std::fs::write(&bad, &bytes).unwrap();
    let b = bad.to_str().unwrap();
    let where_ = format!("{b}:{line}:");
    for args in [
        vec!["compare", b, good.to_str().unwrap()],
        vec!["report", b, "--out", d.path().join("r").to_str().unwrap()],
    ] {
        let o = lab(&args, d.path());
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let e = stderr(&o);
        assert!(e.contains(&where_), "{args:?}: want `{where_}` in {e}");
        assert!(once(&e, "not UTF-8") && once(&e, "0xff"), "{args:?}: {e}");
        assert!(!e.contains("invalid unicode"), "{args:?}: {e}");
    }

    // A scenario with a description in Latin-1.
    let yaml = d.path().join("latin1.yaml");
    let mut text_ = std::fs::read(repo().join("scenarios/esp-rekey.yaml")).unwrap();
    let at = text_
        .windows(12)
        .position(|w| w == b"description:")
        .unwrap();
    let line = text_[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    text_.splice(at..at, b"# caf\xe9\n".iter().copied());
    std::fs::write(&yaml, &text_).unwrap();
    let y = yaml.to_str().unwrap();
    let o = lab(&["check", y], d.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let e = stderr(&o);
    let where_ = format!("{y}:{line}:6: not UTF-8");
    assert!(e.contains(&where_), "want `{where_}` in {e}");
    assert!(once(&e, "UTF-8 text") && once(&e, y), "{e}");
}

/// `scenarios/esp-rekey.yaml` with its `spi:` value and rekey `times:`
/// replaced; the line of `spi:`.
fn esp_rekey(dir: &Path, spi: &str, times: u32) -> (PathBuf, usize) {
    let text = std::fs::read_to_string(repo().join("scenarios/esp-rekey.yaml")).unwrap();
    let mut spi_line = 0;
    let mut replaced = (0, 0);
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if l.trim_start().starts_with("spi:") {
                spi_line = i + 1;
                replaced.0 += 1;
                format!("  spi: {spi}")
            } else if l.trim_start().starts_with("times:") {
                replaced.1 += 1;
                format!("      times: {times}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert_eq!(replaced, (1, 1), "the scenario changed shape");
    let p = dir.join(format!("esp-rekey-{spi}-{times}.yaml"));
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    (p, spi_line)
}

#[test]
fn check_refuses_spis_that_rotations_carry_past_the_last() {
    let d = tempfile::tempdir().unwrap();
    // The last generation's SPIs are spi + 2·times and spi + 2·times + 1.
    let (ok, _) = esp_rekey(d.path(), "4294966271", 511);
    let o = lab(&["check", ok.to_str().unwrap()], d.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let (bad, line) = esp_rekey(d.path(), "4294966271", 520);
    let b = bad.to_str().unwrap();
    let o = lab(&["check", b], d.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let e = stderr(&o);
    assert!(
        e.contains(&format!("{b}:{line}:")),
        "want {b}:{line}: in {e}"
    );
    assert!(e.contains("spi"), "{e}");
    assert!(
        !run_dirs(d.path())
            .iter()
            .any(|p| p.is_dir() && p.join("summary.json").exists())
    );
}
