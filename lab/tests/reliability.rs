//! `lab` under the ways users break it, against the real binary: Ctrl-C to
//! a QEMU run's process group, SIGKILL, parallel runs, a damaged kernel
//! cache, a silent guest, harness problems (exit 2, nothing kept), signals
//! in every phase, a FIFO as scenario, leftovers of killed runs.

mod common;

use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant, SystemTime};

use common::*;

const KERNEL: &str = "debian-6.12";

fn run_lab(args: &[&str], results: &Path, env: &[(&str, &str)]) -> Output {
    lab_cmd(args, results, env).output().unwrap()
}

/// Processes whose command line mentions `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if !e
            .file_name()
            .to_string_lossy()
            .chars()
            .all(|c| c.is_ascii_digit())
        {
            continue;
        }
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'));
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if !zombie && cmd.contains(needle) {
            out.push(cmd);
        }
    }
    out
}

fn wait_until(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Entries of `dir` whose name starts with `prefix`.
fn entries(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Makes `p` look a minute old (sweeping spares younger leftovers).
fn age(p: &Path) {
    let f = std::fs::File::open(p).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(60))
        .unwrap();
}

/// Starts a long VM run in its own session, with its own TMPDIR (so its
/// QEMU is recognisable by the work folder on its command line).
fn start_vm_run(results: &Path, tmp: &Path) -> Child {
    let mut c = lab_cmd(
        &[
            "run",
            "-q",
            "--kernel",
            KERNEL,
            "lab/tests/fixtures/ping-long.yaml",
        ],
        results,
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    c.process_group(0);
    let child = c.spawn().unwrap();
    let needle = tmp.to_string_lossy().into_owned();
    wait_until("QEMU to start", Duration::from_secs(60), || {
        processes_with(&needle)
            .iter()
            .any(|c| c.contains("qemu-system"))
    });
    child
}

#[test]
fn ctrl_c_to_the_process_group_of_a_qemu_run_exits_130_and_leaves_nothing() {
    if qemu_missing("ctrl_c_to_the_process_group_of_a_qemu_run") {
        return;
    }
    ensure_kernel(KERNEL);
    let (results, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let child = start_vm_run(results.path(), tmp.path());
    std::thread::sleep(Duration::from_millis(500));
    // What the terminal does on Ctrl-C: SIGINT to the whole process group.
    // SAFETY: signalling the process group of our own child.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let needle = tmp.path().to_string_lossy().into_owned();
    wait_until("QEMU to be gone", Duration::from_secs(5), || {
        processes_with(&needle).is_empty()
    });
    assert_eq!(
        run_dirs(results.path()),
        Vec::<PathBuf>::new(),
        "nothing committed"
    );
    assert!(
        entries(tmp.path(), "lab-vm-").is_empty(),
        "work folder removed"
    );
}

#[test]
fn sigkill_of_lab_takes_qemu_along_and_the_next_run_sweeps_the_leftovers() {
    if qemu_missing("sigkill_of_lab_takes_qemu_along") {
        return;
    }
    ensure_kernel(KERNEL);
    let (results, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut child = start_vm_run(results.path(), tmp.path());
    child.kill().unwrap();
    child.wait().unwrap();
    let needle = tmp.path().to_string_lossy().into_owned();
    wait_until("QEMU to die with lab", Duration::from_secs(5), || {
        processes_with(&needle).is_empty()
    });
    let work = entries(tmp.path(), "lab-vm-");
    let partial = entries(results.path(), ".partial-");
    assert_eq!(
        (work.len(), partial.len()),
        (1, 1),
        "a killed run leaves these"
    );
    for p in work.iter().chain(&partial) {
        age(p);
    }
    let out = run_lab(
        &["run", "-q", "--kernel", KERNEL, "scenarios/ping.yaml"],
        results.path(),
        &[("TMPDIR", tmp.path().to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        entries(tmp.path(), "lab-vm-").is_empty(),
        "stale work folder swept"
    );
    assert!(
        entries(results.path(), ".partial-").is_empty(),
        "stale partial swept"
    );
    let runs = run_dirs(results.path());
    assert_eq!(runs.len(), 1);
    assert!(
        runs[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .ends_with("-ping-qemu"),
        "the stale partial does not push the run id to -2: {runs:?}"
    );
}

#[test]
fn parallel_host_runs_all_succeed_with_their_own_folders() {
    if skip_without_host("parallel_host_runs_all_succeed") {
        return;
    }
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let children: Vec<Child> = (0..4)
        .map(|_| {
            lab_cmd(&["run", "-q", "scenarios/ping.yaml"], results.path(), &[])
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let runs = run_dirs(results.path());
    assert_eq!(runs.len(), 4, "{runs:?}");
    for r in &runs {
        assert_eq!(summary(r)["verdict"], "pass");
    }
}

#[test]
fn a_damaged_kernel_cache_is_refused_with_exit_2_and_repaired_by_force() {
    if qemu_missing("a_damaged_kernel_cache_is_refused") {
        return;
    }
    ensure_kernel(KERNEL);
    let cache = linked_cache();
    let env = [("LAB_CACHE_DIR", cache.path().to_str().unwrap())];
    let vmlinux = std::fs::read_dir(cache.path().join("kernels").join(KERNEL))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("vmlinux"))
        .find(|p| p.is_file())
        .expect("an extracted vmlinux");
    let len = std::fs::metadata(&vmlinux).unwrap().len();
    std::fs::remove_file(&vmlinux).unwrap(); // breaks the hard link
    std::fs::write(&vmlinux, vec![0u8; len as usize]).unwrap();
    let results = tempfile::tempdir().unwrap();
    let out = run_lab(
        &["run", "--kernel", KERNEL, "scenarios/ping.yaml"],
        results.path(),
        &env,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "kernel cache for {KERNEL} is damaged (vmlinux does not match its checksum): run lab kernels fetch --force {KERNEL}"
        )),
        "{err}"
    );
    assert!(run_dirs(results.path()).is_empty());
    let fix = run_lab(
        &["kernels", "fetch", "--force", KERNEL],
        results.path(),
        &env,
    );
    assert!(fix.status.success(), "{}", text(&fix));
    let out = run_lab(
        &["run", "-q", "--kernel", KERNEL, "scenarios/ping.yaml"],
        results.path(),
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A stand-in for QEMU that answers `--version` like QEMU and then does
/// `behaviour` (a shell snippet).
fn fake_qemu(dir: &Path, behaviour: &str) -> PathBuf {
    let p = dir.join("fake-qemu");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'QEMU emulator version 10.0.0'; exit 0; fi\n{behaviour}\n"
    );
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    p
}

#[test]
fn a_guest_that_prints_nothing_is_reported_early() {
    if qemu_missing("a_guest_that_prints_nothing_is_reported_early") {
        return;
    }
    ensure_kernel(KERNEL);
    let (results, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let qemu = fake_qemu(tmp.path(), "exec sleep 600");
    let t0 = Instant::now();
    let out = run_lab(
        &[
            "run",
            "--kernel",
            KERNEL,
            "--silence",
            "2",
            "scenarios/ping.yaml",
        ],
        results.path(),
        &[("LAB_QEMU", qemu.to_str().unwrap()), ("LAB_ACCEL", "tcg")],
    );
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "not the whole timeout"
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let s = summary(&run_dirs(results.path())[0]);
    assert!(
        s["error"]
            .as_str()
            .unwrap()
            .starts_with("no console output within 2 s"),
        "{s}"
    );
    assert!(processes_with("exec sleep 600").is_empty() && processes_with("sleep 600").is_empty());
}

#[test]
fn a_guest_that_does_not_power_off_is_stopped_once_its_result_is_in() {
    const TEST: &str = "a_guest_that_does_not_power_off_is_stopped_once_its_result_is_in";
    if qemu_missing(TEST) {
        return;
    }
    ensure_kernel(KERNEL);
    let results = tempfile::tempdir().unwrap();
    // Without ACPI the guest kernel has no way to power off: it halts, and
    // QEMU would run on until the time limit.
    let out = run_lab(
        &[
            "run",
            "--kernel",
            KERNEL,
            "--timeout",
            "120",
            "scenarios/ping.yaml",
        ],
        results.path(),
        &[("LAB_KERNEL_APPEND", "acpi=off")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = summary(&run_dirs(results.path())[0]);
    assert_eq!(s["verdict"], "pass", "{s}");
    let off = s["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == "power-off")
        .unwrap_or_else(|| panic!("no power-off phase: {s}"));
    let ms = off["ms"].as_u64().unwrap();
    assert!(
        (5_000..120_000).contains(&ms),
        "stopped after the grace period, not at the limit: {ms} ms"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did not power off"),
        "{}",
        text(&out)
    );
    assert!(processes_with("acpi=off").is_empty(), "QEMU left behind");
}

#[test]
fn harness_problems_exit_2_and_keep_nothing() {
    if qemu_missing("harness_problems_exit_2_and_keep_nothing") {
        return;
    }
    ensure_kernel(KERNEL);
    let results = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let broken = fake_qemu(tmp.path(), "exit 1");
    let not_qemu = tmp.path().join("no-such-qemu");
    let vm = ["run", "--kernel", KERNEL, "scenarios/ping.yaml"];
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![
                "run",
                "--kernel",
                KERNEL,
                "--timeout",
                "0",
                "scenarios/ping.yaml",
            ],
            vec![],
            "--timeout 0",
        ),
        (
            vec![
                "run",
                "--kernel",
                KERNEL,
                "--memory",
                "0",
                "scenarios/ping.yaml",
            ],
            vec![],
            "--memory 0",
        ),
        (
            vm.to_vec(),
            vec![("LAB_ACCEL", "kvm2")],
            "LAB_ACCEL=kvm2: use kvm or tcg",
        ),
        (
            vm.to_vec(),
            vec![("LAB_QEMU", not_qemu.to_str().unwrap())],
            "cannot run",
        ),
        (
            vm.to_vec(),
            vec![("LAB_QEMU", broken.to_str().unwrap()), ("LAB_ACCEL", "tcg")],
            "QEMU exited",
        ),
    ];
    for (args, env, want) in cases {
        let out = run_lab(&args, results.path(), &env);
        let code = out.status.code();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if want == "QEMU exited" {
            // QEMU itself failing is the system under test failing: exit 4.
            assert_eq!(code, Some(4), "{}", text(&out));
            let s = summary(run_dirs(results.path()).last().unwrap());
            assert!(
                s["error"]
                    .as_str()
                    .unwrap()
                    .contains("QEMU exited (status 1)"),
                "{s}"
            );
            std::fs::remove_dir_all(run_dirs(results.path()).pop().unwrap()).unwrap();
            continue;
        }
        assert_eq!(code, Some(2), "{args:?} {env:?}: {}", text(&out));
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(
            run_dirs(results.path()).is_empty(),
            "{args:?} committed a result"
        );
    }
    // A broken QEMU's KVM verdict is not cached.
    let cache = std::fs::read_to_string(repo().join(".cache/accel-probe.json")).unwrap_or_default();
    assert!(!cache.contains("unknown"), "{cache}");
}

#[test]
fn a_comma_in_tmpdir_does_not_break_qemu() {
    if qemu_missing("a_comma_in_tmpdir_does_not_break_qemu") {
        return;
    }
    ensure_kernel(KERNEL);
    let results = tempfile::tempdir().unwrap();
    let base = tempfile::tempdir().unwrap();
    let tmp = base.path().join("a,b");
    std::fs::create_dir(&tmp).unwrap();
    let out = run_lab(
        &["run", "-q", "--kernel", KERNEL, "scenarios/ping.yaml"],
        results.path(),
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn dropped_capabilities_are_a_harness_problem() {
    if skip_without_host("dropped_capabilities_are_a_harness_problem") {
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!(
            "SKIPPED dropped_capabilities_are_a_harness_problem: setpriv (util-linux) is missing"
        );
        return;
    }
    let results = tempfile::tempdir().unwrap();
    let out = Command::new("setpriv")
        .args(["--inh-caps=-sys_admin", "--bounding-set=-sys_admin", "--"])
        .arg(env!("CARGO_BIN_EXE_lab"))
        .args(["run", "scenarios/ping.yaml"])
        .current_dir(repo())
        .env("LAB_RESULTS_DIR", results.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without CAP_SYS_ADMIN"));
    assert!(run_dirs(results.path()).is_empty());
}

#[test]
fn a_signal_in_any_phase_of_a_host_run_exits_130_and_keeps_nothing() {
    if skip_without_host("a_signal_in_any_phase_of_a_host_run") {
        return;
    }
    let _lock = BpfLock::acquire();
    // ping.yaml takes about 0.8 s here: setup, five pings, capture,
    // analysis and report; each delay lands in a different phase.
    for (ms, sig) in [
        (150, libc::SIGINT),
        (400, libc::SIGTERM),
        (650, libc::SIGINT),
        (750, libc::SIGINT),
    ] {
        let results = tempfile::tempdir().unwrap();
        let child = lab_cmd(&["run", "scenarios/ping.yaml"], results.path(), &[])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let t0 = Instant::now();
        let out = child.wait_with_output().unwrap();
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "honoured within a second"
        );
        if out.status.code() == Some(0) {
            // The run finished before the signal: then it was kept whole.
            assert_eq!(run_dirs(results.path()).len(), 1);
            continue;
        }
        assert_eq!(out.status.code(), Some(130), "at {ms} ms: {}", text(&out));
        assert!(
            std::fs::read_dir(results.path()).map_or(0, |d| d.count()) == 0,
            "at {ms} ms something was kept"
        );
    }
    assert!(!dataplane_loaded());
}

#[test]
fn a_fifo_is_refused_as_scenario_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("s.yaml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let t0 = Instant::now();
    let out = run_lab(&["check", fifo.to_str().unwrap()], dir.path(), &[]);
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
}

#[test]
fn stale_init_copies_of_killed_runs_are_swept() {
    if qemu_missing("stale_init_copies_of_killed_runs_are_swept") {
        return;
    }
    ensure_kernel(KERNEL);
    let guest = repo().join(".cache/guest");
    std::fs::create_dir_all(&guest).unwrap();
    let stale = guest.join(".lab-init-4194304"); // above pid_max: no such process
    std::fs::write(&stale, b"half a copy").unwrap();
    age(&stale);
    let results = tempfile::tempdir().unwrap();
    let out = run_lab(
        &["run", "-q", "--kernel", KERNEL, "scenarios/ping.yaml"],
        results.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!stale.exists());
}

#[test]
fn type_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let text_in = std::fs::read_to_string(repo().join("scenarios/ping.yaml"))
        .unwrap()
        .replace("count: 5,", "count: many,");
    let f = dir.path().join("s.yaml");
    std::fs::write(&f, text_in).unwrap();
    let out = run_lab(&["check", f.to_str().unwrap()], dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("field `steps[0].ping.count`: expected a whole number"),
        "{err}"
    );
}
