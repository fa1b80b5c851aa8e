//! `lab compare`: real saved benches (the fixtures recorded on the
//! development machine) compared with themselves, with each other, and
//! with copies doctored in one known place; bad input; and, where the
//! bench can build it, a data plane with one extra copy of the payload
//! measured against the normal one.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use serde_json::{Value, json};

const HOST: &str = "lab/tests/fixtures/bench-host.json";
const MATRIX: &str = "lab/tests/fixtures/bench-matrix.json";
/// `lab bench scenarios/bench.yaml --quick` on the host with every variant
/// and driver, in the current format (hardware, drivers, `unavailable`).
const ALL: &str = "lab/tests/fixtures/bench-host-all.json";

fn read(p: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo().join(p)).unwrap()).unwrap()
}

fn write(dir: &Path, name: &str, doc: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    p
}

/// `lab compare OLD NEW --markdown DIR/compare.md ARGS…`; the Markdown written.
fn compare(old: &Path, new: &Path, dir: &Path, args: &[&str]) -> (Output, String) {
    let md = dir.join("compare.md");
    let mut all = vec![
        "compare",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
    ];
    all.extend(args);
    let out = lab(&all, dir);
    (out, std::fs::read_to_string(&md).unwrap_or_default())
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Multiplies every value of a stats object (median, range, interval,
/// samples) by `k`: the same rounds, `k` times slower or faster.
fn scale(stats: &mut Value, k: f64) {
    for key in [
        "median", "min", "max", "mean", "stddev", "ci95_lo", "ci95_hi",
    ] {
        stats[key] = json!(stats[key].as_f64().unwrap() * k);
    }
    for s in stats["samples"].as_array_mut().unwrap() {
        *s = json!(s.as_f64().unwrap() * k);
    }
}

/// The point of `part` on the first target whose fields match `want`.
fn point<'a>(doc: &'a mut Value, part: &str, want: &[(&str, Value)]) -> &'a mut Value {
    doc["targets"][0][part]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| want.iter().all(|(k, v)| &p[*k] == v))
        .unwrap_or_else(|| panic!("no {part} point {want:?}"))
}

/// Terminal lines carrying a verdict mark.
fn marked<'a>(out: &'a str, mark: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| l.trim_start().starts_with(mark))
        .collect()
}

#[test]
fn a_bench_compared_with_itself_has_no_change() {
    let dir = tempfile::tempdir().unwrap();
    for fixture in [HOST, MATRIX] {
        let p = repo().join(fixture);
        let (out, md) = compare(&p, &p, dir.path(), &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let s = stdout(&out);
        assert!(s.contains("no figure changed"), "{s}");
        assert!(s.contains(" 0 regressions, 0 worse"), "{s}");
        assert!(
            md.contains("**No regression**") && md.contains("### Changes (0)"),
            "{md}"
        );
        // TCP has one round in these benches: shown, not judged.
        assert!(
            md.contains("| not judged | host | tcp | none offloads on |"),
            "{md}"
        );
    }
    // The matrix's 6.1 target measured nothing: listed, not dropped.
    let p = repo().join(MATRIX);
    let (out, _) = compare(&p, &p, dir.path(), &[]);
    assert!(stdout(&out).contains("unsupported"), "{}", text(&out));
    // `--markdown -`: the Markdown on stdout (for a job summary), the table on stderr.
    let p = p.to_str().unwrap();
    let out = lab(&["compare", p, p, "--markdown", "-"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).starts_with("## Bench comparison: `"),
        "{}",
        text(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no figure changed"), "{err}");
}

#[test]
fn a_doctored_copy_flags_exactly_the_figures_made_worse_or_better() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = read(HOST);
    let at = |v: &str, d: &str, size: u32| {
        [
            ("variant", json!(v)),
            ("direction", json!(d)),
            ("size", json!(size)),
        ]
    };
    // 50 % slower: a regression. 5 % slower, intervals apart: worse, within 10 %.
    scale(
        &mut point(&mut doc, "micro", &at("cbc(aes)", "egress", 1500))["ns"],
        1.5,
    );
    scale(
        &mut point(&mut doc, "micro", &at("ecb(aes)", "ingress", 1500))["ns"],
        1.05,
    );
    // 50 % more packets per second: better.
    let udp = [("variant", json!("cbc(aes)")), ("size", json!(1500))];
    scale(&mut point(&mut doc, "udp", &udp)["pps"], 1.5);
    let worse = write(dir.path(), "worse.json", &doc);
    let host = repo().join(HOST);
    let (out, md) = compare(&host, &worse, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let s = stdout(&out);
    let reg = marked(&s, "REGRESSION");
    assert_eq!(reg.len(), 1, "{s}");
    assert!(
        reg[0].contains("micro") && reg[0].contains("cbc(aes) egress 1500 B"),
        "{s}"
    );
    assert!(reg[0].contains("+50.0 %"), "{s}");
    let w = marked(&s, "worse");
    assert!(
        w.len() == 1 && w[0].contains("ecb(aes) ingress 1500 B"),
        "{s}"
    );
    let b = marked(&s, "better");
    assert!(
        b.len() == 1 && b[0].contains("udp") && b[0].contains("pps"),
        "{s}"
    );
    assert!(
        md.contains("**1 regression**") && md.contains("### Changes (3)"),
        "{md}"
    );
    assert!(
        md.contains("| REGRESSION | host | micro | cbc(aes) egress 1500 B | ns |"),
        "{md}"
    );
    // The same comparison with a looser limit passes; backwards, the
    // slower figures are better and the faster one a regression.
    let (out, _) = compare(&host, &worse, dir.path(), &["--max-regression", "60"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (out, _) = compare(&worse, &host, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let reg = marked(&stdout(&out), "REGRESSION").join("\n");
    assert!(
        reg.contains("udp") && reg.contains("pps") && !reg.contains("micro"),
        "{reg}"
    );
}

#[test]
fn figures_in_one_run_only_are_listed_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut old = read(HOST);
    // The old run also keyed cbc(aes) with a named driver.
    let micro = old["targets"][0]["micro"].as_array_mut().unwrap();
    let mut generic = micro
        .iter()
        .find(|p| p["variant"] == "cbc(aes)" && p["direction"] == "egress" && p["size"] == 64)
        .unwrap()
        .clone();
    generic["driver"] = json!("aes-generic");
    micro.push(generic);
    let old = write(dir.path(), "old.json", &old);
    let mut doc = read(HOST);
    let t = &mut doc["targets"][0];
    let udp = t["udp"].as_array_mut().unwrap();
    // Removed: copy at 512 B, and ecb(aes) everywhere (its kernel lacks it).
    // Added: a variant this build may not know.
    udp.retain(|p| !(p["variant"] == "copy" && p["size"] == 512) && p["variant"] != "ecb(aes)");
    let mut wg = udp.iter().find(|p| p["variant"] == "noop").unwrap().clone();
    wg["variant"] = json!("wireguard");
    udp.push(wg);
    // The bench's list of what the kernel lacks: a variant, a driver, and
    // a variant neither run has figures of.
    t["unavailable"] = json!([
        {"what": "ecb(aes)", "reason": "no ecb module on this kernel"},
        {"what": "cbc(aes-generic)", "reason": "bpf_crypto_ctx_create: ENOENT"},
        {"what": "xfrm gcm", "reason": "no esp4 module"},
    ]);
    let new = write(dir.path(), "new.json", &doc);
    let (out, md) = compare(&old, &new, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = stdout(&out);
    assert!(
        s.contains("only old host udp copy 512 B: pps, goodput_gbps")
            && s.contains("(not in the new run's host results)"),
        "{s}"
    );
    assert!(
        s.contains("only old host udp ecb(aes) 1500 B: pps")
            && s.contains("(new run: unavailable: no ecb module on this kernel)"),
        "{s}"
    );
    assert!(
        s.contains("only old host micro cbc(aes) [aes-generic] egress 64 B: ns (new run: unavailable: bpf_crypto_ctx_create: ENOENT)"),
        "{s}"
    );
    assert!(s.contains("only new host udp wireguard 64 B: pps"), "{s}");
    assert!(
        s.contains("neither  host unavailable xfrm gcm: every figure (new run: no esp4 module)"),
        "{s}"
    );
    // copy 512, ecb × 3 sizes, the driver point, wireguard, xfrm gcm.
    assert!(md.contains("### Only in one run (7)"), "{md}");
}

#[test]
fn two_real_host_runs_and_the_targets_only_one_has() {
    // Two quick benches of the same build on the host, minutes apart.
    let dir = tempfile::tempdir().unwrap();
    let (out, md) = compare(
        &repo().join(HOST),
        &repo().join(MATRIX),
        dir.path(),
        &["--all"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = stdout(&out);
    assert!(s.contains(" 0 regressions"), "{s}");
    for t in ["debian-6.12", "debian-7.3", "debian-6.1"] {
        assert!(
            s.contains(&format!("only new {t} (whole target)")),
            "{t} listed: {s}"
        );
    }
    // --all lists every host figure: 24 micro ns, 12 cipher ns, 15 UDP
    // points with 6 figures, 10 TCP points with 1.
    assert!(s.contains("136 figures in both"), "{s}");
    assert_eq!(
        s.lines().filter(|l| l.contains("  host  ")).count(),
        136,
        "{s}"
    );
    assert!(md.contains("<details><summary>All 136 figures"), "{md}");
    // The min–max of two or three rounds does not span the next run's
    // noise: the same two runs show regressions (UDP, two rounds each).
    let (out, _) = compare(
        &repo().join(HOST),
        &repo().join(MATRIX),
        dir.path(),
        &["--interval", "range"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        marked(&stdout(&out), "REGRESSION")
            .iter()
            .all(|l| l.contains(" udp "))
    );
}

#[test]
fn the_copy_build_measured_as_noop_is_a_regression() {
    // The copy build is the noop build plus the payload bounced through the
    // scratch buffers. Its real figures, filed under `noop`, stand for a
    // noop build that gained that copy: the per-packet cost must be flagged.
    let dir = tempfile::tempdir().unwrap();
    let mut doc = read(HOST);
    let micro = doc["targets"][0]["micro"].as_array_mut().unwrap();
    micro.retain(|p| p["variant"] != "noop");
    for p in micro.iter_mut().filter(|p| p["variant"] == "copy") {
        p["variant"] = json!("noop");
    }
    let new = write(dir.path(), "copied.json", &doc);
    let (out, _) = compare(&repo().join(HOST), &new, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let s = stdout(&out);
    let reg = marked(&s, "REGRESSION");
    assert_eq!(reg.len(), 6, "noop × 2 directions × 3 sizes: {s}");
    assert!(
        reg.iter()
            .all(|l| l.contains("micro") && l.contains("noop")),
        "{s}"
    );
    assert!(
        s.contains("only old host micro copy egress 1500 B: ns"),
        "{s}"
    );
}

#[test]
fn a_current_bench_against_itself_and_against_an_older_format() {
    let dir = tempfile::tempdir().unwrap();
    let all = repo().join(ALL);
    let (out, md) = compare(&all, &all, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = stdout(&out);
    assert!(s.contains("591 figures in both: 0 regressions"), "{s}");
    // Driver and hardware points pair like the others.
    assert!(
        md.contains("| host | micro | cbc(aes) [aes-generic] egress 1500 B | ns |")
            && md.contains("| host | hardware | cbc(aes) ingress 64 B | ns |"),
        "{md}"
    );
    // What this kernel lacks has no figure in either run: listed once each.
    for what in ["xfrm gcm", "wireguard", "cbc(aes-aesni)"] {
        assert!(
            s.contains(&format!(
                "neither  host unavailable {what}: every figure (both runs: "
            )),
            "{what}: {s}"
        );
    }
    // The older bench planned fewer sizes, variants and drivers, and no
    // hardware part: one line per reason, after a note on the settings.
    let (_, md) = compare(&repo().join(HOST), &all, dir.path(), &[]);
    for line in [
        "| only new | host micro 24 points | ns | the old run's plan has no driver aes-generic |",
        "| only new | host micro 12 points | ns | the old run's plan has no variant esp in place |",
        "| only new | host hardware 24 points | ns | the old run did not measure hardware |",
        "| only new | host udp 5 points | pps, goodput_gbps, loss, cpu_ns_per_packet, \
         thread_cpu_ns_per_packet, cpu_util | the old run's plan has no size 128 B |",
    ] {
        assert!(md.contains(line), "{line}\n{md}");
    }
    assert!(
        md.contains("> note: the runs were measured with different settings (micro, cipher, hardware, udp, tcp, quick, mtu, drivers)"),
        "{md}"
    );
    assert!(md.contains("136 figures in both"), "{md}");
}

#[test]
fn bad_input_exits_2_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let host = repo().join(HOST);
    let yaml = repo().join("lab/tests/fixtures/bench-quick.yaml");
    let summary = write(
        dir.path(),
        "summary.json",
        &json!({"kind": "run", "verdict": "pass"}),
    );
    let mut only_vm = read(MATRIX);
    only_vm["targets"]
        .as_array_mut()
        .unwrap()
        .retain(|t| t["target"] != "host");
    let only_vm = write(dir.path(), "vm.json", &only_vm);
    let cases: [(&[&str], &str); 6] = [
        (
            &[host.to_str().unwrap(), "no-such-run"],
            "RUN_B `no-such-run`: no bench.json",
        ),
        (
            &[yaml.to_str().unwrap(), host.to_str().unwrap()],
            "bench-quick.yaml: not a bench.json (not JSON",
        ),
        (
            &[host.to_str().unwrap(), summary.to_str().unwrap()],
            "summary.json: not a bench.json: no numeric `schema`",
        ),
        (
            &[host.to_str().unwrap(), only_vm.to_str().unwrap()],
            "no figure in common: no target in common (old: host; new: debian-6.12, debian-7.3, debian-6.1 (unsupported",
        ),
        (
            &[
                host.to_str().unwrap(),
                host.to_str().unwrap(),
                "--max-regression=-5",
            ],
            "--max-regression -5",
        ),
        (
            &[
                host.to_str().unwrap(),
                host.to_str().unwrap(),
                "--markdown",
                "/nonexistent/dir/c.md",
            ],
            "writing /nonexistent/dir/c.md",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["compare"];
        all.extend(args);
        let out = lab(&all, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: wanted {want:?} in {err}");
    }
    // A run id resolves under the results folder, like `lab report`; the
    // Markdown goes next to the new run's bench.json by default.
    let run = dir.path().join("20261125-202952-bench-quick-host");
    std::fs::create_dir(&run).unwrap();
    std::fs::copy(&host, run.join("bench.json")).unwrap();
    let out = lab(
        &[
            "compare",
            "20261125-202952-bench-quick-host",
            run.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        run.join("compare-20261125-202952-bench-quick-host.md")
            .is_file()
    );
}

/// The bench's test hook: `lab bench --inject extra-copy` loads data plane
/// builds that copy the payload once more per packet. The copy variant at
/// 1500 B costs about a fifth more (one more 1500-byte copy on top of the
/// bounce's two), well beyond the 10 % limit.
#[test]
fn a_data_plane_with_one_extra_copy_is_flagged() {
    const TEST: &str = "a_data_plane_with_one_extra_copy_is_flagged";
    if skip_without_host(TEST) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bench = dir.path().join("extra-copy.yaml");
    std::fs::write(
        &bench,
        "version: 1\nname: extra-copy\nsizes: [1500]\nvariants: [copy, cbc(aes)]\n\
         micro: { rounds: 21, warmup_rounds: 2, round_ms: 30 }\n",
    )
    .unwrap();
    let b = bench.to_str().unwrap();
    let _lock = BpfLock::acquire();
    let results = dir.path().join("results");
    // The first bench after a pause runs on a cold machine (measured: 10–15 %
    // slower than the next ones), which would hide the regression: one run
    // to warm up, not compared.
    let warm = lab(&["bench", b], &dir.path().join("warm-up"));
    assert_eq!(warm.status.code(), Some(0), "{}", text(&warm));
    let normal = lab(&["bench", b], &results);
    assert_eq!(normal.status.code(), Some(0), "{}", text(&normal));
    let injected = lab(&["bench", b, "--inject", "extra-copy"], &results);
    assert_eq!(injected.status.code(), Some(0), "{}", text(&injected));
    let runs = run_dirs(&results);
    assert_eq!(runs.len(), 2, "{runs:?}");
    let inject = |r: &PathBuf| {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(r.join("bench.json")).unwrap()).unwrap();
        doc["plan"]["inject"].clone()
    };
    let (plain, doctored): (Vec<_>, Vec<_>) = runs.iter().partition(|r| inject(r).is_null());
    assert!(
        plain.len() == 1 && doctored.len() == 1 && inject(doctored[0]) == "extra-copy",
        "one run records the injection in plan.inject: {runs:?}"
    );
    let report = std::fs::read_to_string(doctored[0].join("report.md")).unwrap();
    assert!(
        report.contains("injected regression: extra-copy"),
        "{report}"
    );
    let (out, md) = compare(plain[0], doctored[0], dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let s = stdout(&out);
    let reg = marked(&s, "REGRESSION");
    // Both programs copy once more; other tests running at the same time
    // can widen one direction's interval, so either one flagged will do.
    let copy_1500 = |l: &str| {
        l.contains("micro")
            && (l.contains("copy egress 1500 B") || l.contains("copy ingress 1500 B"))
    };
    assert!(
        reg.iter().any(|l| copy_1500(l)),
        "the copy variant regresses beyond 10 %: {}",
        text(&out)
    );
    assert!(s.contains("different settings (inject)"), "{s}");
    assert!(
        md.lines()
            .any(|l| l.starts_with("| REGRESSION | host | micro | copy ")
                && l.contains(" 1500 B | ns |")),
        "{md}"
    );
    // The same build twice is no regression.
    let (out, _) = compare(plain[0], plain[0], dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
