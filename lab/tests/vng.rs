//! The optional `vng` backend (virtme-ng): ping passes on the pinned 6.12
//! kernel (with only `vng` linked onto PATH, as on a fresh machine), 6.1 is
//! "unsupported" (its virtio-fs is a module), the timeout kills everything
//! vng started, `./scripts/setup --with-vng` linked all of virtme-ng's
//! commands, and a machine without virtme-ng (or part of it) or virtiofsd
//! gets a clear error (exit 2) instead of a run.
//!
//! The VM tests print `SKIPPED <test>: <reason>` and pass where vng,
//! virtiofsd or QEMU is missing, unless `LAB_TEST_REQUIRE` names `vng`
//! (`.ci/run` sets it, after installing them): then they fail instead.

mod common;

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const KERNEL: &str = "debian-6.12";

/// Where virtme-ng looks for virtiofsd besides PATH.
const VIRTIOFSD_PATHS: &[&str] = &[
    "/usr/libexec/virtiofsd",
    "/usr/lib/virtiofsd/virtiofsd",
    "/usr/lib/virtiofsd",
    "/usr/lib/qemu/virtiofsd",
];

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Whether `path` is the Rust virtiofsd (Debian 12's QEMU ships an old C
/// one in /usr/lib/qemu that virtme-ng cannot use).
fn is_rust_virtiofsd(path: &Path) -> bool {
    Command::new(path)
        .arg("--help")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--shared-dir"))
}

/// The virtiofsd virtme-ng would pick, if it is the Rust one.
fn rust_virtiofsd_on(path_dirs: Option<&[&Path]>) -> bool {
    let on_path = match path_dirs {
        None => which("virtiofsd"),
        Some(dirs) => dirs
            .iter()
            .map(|d| d.join("virtiofsd"))
            .find(|p| p.is_file()),
    };
    on_path
        .into_iter()
        .chain(VIRTIOFSD_PATHS.iter().map(PathBuf::from))
        .find(|p| p.is_file())
        .is_some_and(|p| is_rust_virtiofsd(&p))
}

/// Comma-separated optional test prerequisites that must be there: with
/// `vng` among them, a vng test fails where it would skip.
const REQUIRE_ENV: &str = "LAB_TEST_REQUIRE";

/// The system's own folders, without /usr/local/bin.
const SYSTEM_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// The `vng` the lab will run (`LAB_VNG`, else on PATH).
fn vng_exe() -> Option<PathBuf> {
    match std::env::var_os("LAB_VNG") {
        Some(v) => Some(PathBuf::from(v)).filter(|p| p.is_file()),
        None => which("vng"),
    }
}

/// Why vng runs cannot happen here, if they cannot.
fn vng_skip_reason() -> Option<String> {
    if which("qemu-system-x86_64").is_none() {
        return Some("qemu-system-x86_64 is not installed (run ./scripts/setup)".into());
    }
    if vng_exe().is_none() {
        return Some(match std::env::var("LAB_VNG") {
            Ok(v) => format!("LAB_VNG={v} is not a file"),
            Err(_) => "virtme-ng is not installed (pip install virtme-ng)".into(),
        });
    }
    if !rust_virtiofsd_on(None) {
        return Some(
            "the Rust virtiofsd is not installed (cargo install virtiofsd --locked)".into(),
        );
    }
    None
}

/// Prints the skip line, or fails when [`REQUIRE_ENV`] requires vng.
fn skip_because(test: &str, why: &str) {
    let required =
        std::env::var(REQUIRE_ENV).is_ok_and(|v| v.split(',').any(|w| w.trim() == "vng"));
    assert!(
        !required,
        "{test} cannot run, and {REQUIRE_ENV} requires vng (.ci/run sets it after installing vng): {why}"
    );
    eprintln!("SKIPPED {test}: {why}");
}

fn skip(test: &str) -> bool {
    match vng_skip_reason() {
        Some(why) => {
            skip_because(test, &why);
            true
        }
        None => false,
    }
}

/// A PATH as on a fresh machine where only `vng` and virtiofsd were linked
/// onto it: links to both in `dir`, then [`SYSTEM_DIRS`]. virtme-ng's
/// other commands (`virtme-run`, …) are not on it: the lab puts the folder
/// `vng` really lives in first.
fn bare_path(dir: &Path) -> OsString {
    std::os::unix::fs::symlink(vng_exe().unwrap(), dir.join("vng")).unwrap();
    if let Some(v) = which("virtiofsd").filter(|p| is_rust_virtiofsd(p)) {
        std::os::unix::fs::symlink(v, dir.join("virtiofsd")).unwrap();
    }
    let dirs = std::iter::once(dir).chain(SYSTEM_DIRS.iter().map(Path::new));
    std::env::join_paths(dirs).unwrap()
}

/// One vng VM at a time (two cores, TCG), across test processes.
struct VmLock(#[allow(dead_code)] File);

impl VmLock {
    fn acquire() -> Self {
        let f = File::create(std::env::temp_dir().join("bpfcrypt-lab-vng-tests.lock")).unwrap();
        // SAFETY: flock on a valid descriptor.
        assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
        VmLock(f)
    }
}

/// Processes still running from a vng work directory under `tmp` (vng,
/// QEMU, virtiofsd), zombies left out.
fn vng_processes(tmp: &Path) -> Vec<String> {
    let needle = format!("{}/lab-vm-", tmp.display());
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) {
            found.push(cmdline);
        }
    }
    found
}

/// `lab run --backend vng …` with its work folder in `tmp`.
fn lab_vng_cmd(args: &[&str], results: &Path, tmp: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lab"));
    c.args(["run", "--backend", "vng"])
        .args(args)
        .current_dir(repo())
        .env("LAB_RESULTS_DIR", results)
        .env("TMPDIR", tmp);
    c
}

fn lab_vng(args: &[&str], results: &Path) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    lab_vng_cmd(args, results, tmp.path()).output().unwrap()
}

/// Ping under virtme-ng, on a PATH with only `vng` and virtiofsd linked.
#[test]
fn vng_ping_passes_on_pinned_kernel() {
    if skip("vng_ping_passes_on_pinned_kernel") {
        return;
    }
    ensure_kernel(KERNEL);
    let _vm = VmLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let out = lab_vng_cmd(
        &["--kernel", KERNEL, "scenarios/ping.yaml"],
        results.path(),
        tmp.path(),
    )
    .env("PATH", bare_path(bin.path()))
    .output()
    .unwrap();
    // Not "virtme-run: not found" (status 127 of vng, no result).
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = run_dirs(results.path());
    assert_eq!(runs.len(), 1);
    let s = summary(&runs[0]);
    assert_eq!(s["verdict"], "pass", "{s}");
    assert_eq!(s["backend"], "vng");
    assert_eq!(s["kernel_name"], KERNEL);
    assert!(s["kernel"].as_str().unwrap().starts_with("6.12."), "{s}");
    assert!(
        matches!(s["accelerator"].as_str(), Some("tcg" | "kvm")),
        "{s}"
    );
    assert!(
        s["report"]["counters"]["right"]["decrypted"]
            .as_u64()
            .unwrap()
            >= 5
    );
    // The guest ran as a process under virtme-ng's init, and said so on the console.
    let console = std::fs::read_to_string(runs[0].join("console.log")).unwrap();
    assert!(console.contains("virtme-ng-init"), "{console}");
    assert!(console.contains("lab-guest: result written"), "{console}");
    // virtme-ng's own userspace boots before guest-run: the phase says so.
    let list = phases(&s);
    let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
    for n in ["qemu start", "boot to lab guest-run", "module loading"] {
        assert!(names.contains(&n), "{n} missing: {list:?}");
    }
    assert_eq!(names[names.len() - 2..], ["result transfer", "power-off"]);
    assert!(phase_ms(&list, "step 1: ping") >= 400, "{list:?}");
    let pcap = std::fs::read(runs[0].join("wire.pcap")).unwrap();
    assert!(pcap.len() > 24 + 10 * 16, "the guest's pcap came back");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("· vng ("), "{stdout}");
    assert!(
        vng_processes(tmp.path()).is_empty(),
        "{:?}",
        vng_processes(tmp.path())
    );
}

#[test]
fn vng_kernel_without_bpf_crypto_is_unsupported() {
    if skip("vng_kernel_without_bpf_crypto_is_unsupported") {
        return;
    }
    // 6.1 also has virtio-fs and FUSE as modules: they go to virtme-ng's initramfs.
    ensure_kernel("debian-6.1");
    let _vm = VmLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let out = lab_vng(
        &["--kernel", "debian-6.1", "scenarios/ping.yaml"],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let s = summary(&run_dirs(results.path())[0]);
    assert_eq!(s["verdict"], "unsupported", "{s}");
    assert_eq!(s["backend"], "vng");
    assert!(s["kernel"].as_str().unwrap().starts_with("6.1."), "{s}");
    assert!(
        s["error"].as_str().unwrap().contains("no bpf_crypto"),
        "{s}"
    );
}

#[test]
fn vng_timeout_stops_everything() {
    if skip("vng_timeout_stops_everything") {
        return;
    }
    ensure_kernel(KERNEL);
    let _vm = VmLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = lab_vng_cmd(
        &["--kernel", KERNEL, "--timeout", "2", "scenarios/ping.yaml"],
        results.path(),
        tmp.path(),
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let runs = run_dirs(results.path());
    let s = summary(&runs[0]);
    assert_eq!(s["verdict"], "error");
    assert!(
        s["error"].as_str().unwrap().contains("timed out after 2 s"),
        "{s}"
    );
    assert!(runs[0].join("console.log").is_file(), "console log kept");
    assert!(
        vng_processes(tmp.path()).is_empty(),
        "vng, QEMU and virtiofsd are gone: {:?}",
        vng_processes(tmp.path())
    );
}

#[test]
fn vng_sigkill_of_lab_stops_everything() {
    if skip("vng_sigkill_of_lab_stops_everything") {
        return;
    }
    ensure_kernel(KERNEL);
    let _vm = VmLock::acquire();
    let results = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = lab_vng_cmd(
        &[
            "-q",
            "--kernel",
            KERNEL,
            "lab/tests/fixtures/ping-long.yaml",
        ],
        results.path(),
        tmp.path(),
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let t0 = std::time::Instant::now();
    while !vng_processes(tmp.path())
        .iter()
        .any(|p| p.contains("qemu-system"))
    {
        assert!(t0.elapsed().as_secs() < 60, "QEMU never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let t0 = std::time::Instant::now();
    while !vng_processes(tmp.path()).is_empty() {
        assert!(
            t0.elapsed().as_secs() < 5,
            "left behind after SIGKILL of lab: {:?}",
            vng_processes(tmp.path())
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Runs `lab run --backend vng` with only `path_dirs` on PATH.
fn lab_with_path(path_dirs: &[&Path], results: &Path) -> Output {
    let path = std::env::join_paths(path_dirs).unwrap();
    Command::new(env!("CARGO_BIN_EXE_lab"))
        .args([
            "run",
            "--backend",
            "vng",
            "--kernel",
            KERNEL,
            "scenarios/ping.yaml",
        ])
        .current_dir(repo())
        .env("LAB_RESULTS_DIR", results)
        .env("PATH", path)
        .env_remove("LAB_VNG")
        .output()
        .unwrap()
}

#[test]
fn vng_not_installed_is_a_clear_error() {
    ensure_kernel(KERNEL);
    let results = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let out = lab_with_path(&[empty.path()], results.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("virtme-ng is not installed") && err.contains("pip install virtme-ng"),
        "{err}"
    );
    assert!(run_dirs(results.path()).is_empty(), "no result folder");

    // --backend vng needs a kernel.
    let out = lab(
        &["run", "--backend", "vng", "scenarios/ping.yaml"],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --kernel"));
}

/// Stand-ins in `dir` that only answer `--version`: `vng`, and
/// virtme-ng's `virtme-run` if `with_virtme_run`.
fn fake_virtme_ng(dir: &Path, with_virtme_run: bool) {
    let names: &[&str] = if with_virtme_run {
        &["vng", "virtme-run"]
    } else {
        &["vng"]
    };
    for name in names {
        let fake = dir.join(name);
        std::fs::write(&fake, "#!/bin/sh\necho 'virtme-ng 1.42'\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
}

/// A `vng` without virtme-ng's `virtme-run` beside it or on PATH (which
/// it runs by name) is refused before booting, not a vng exit 127.
#[test]
fn vng_without_virtme_run_is_a_clear_error() {
    ensure_kernel(KERNEL);
    let results = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    fake_virtme_ng(bin.path(), false);
    let out = lab_with_path(&[bin.path()], results.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("virtme-ng is incomplete")
            && err.contains("`virtme-run`")
            && err.contains(&bin.path().join("vng").display().to_string())
            && err.contains("pip install virtme-ng"),
        "{err}"
    );
    assert!(run_dirs(results.path()).is_empty(), "no result folder");
}

#[test]
fn vng_without_virtiofsd_is_a_clear_error() {
    let bin = tempfile::tempdir().unwrap();
    if rust_virtiofsd_on(Some(&[bin.path()])) {
        eprintln!(
            "SKIPPED vng_without_virtiofsd_is_a_clear_error: a Rust virtiofsd is installed system-wide"
        );
        return;
    }
    ensure_kernel(KERNEL);
    let results = tempfile::tempdir().unwrap();
    // The preflight stops at virtiofsd (none, or Debian 12's C one in
    // /usr/lib/qemu).
    fake_virtme_ng(bin.path(), true);
    let out = lab_with_path(&[bin.path()], results.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        (err.contains("virtiofsd not found") || err.contains("no usable virtiofsd"))
            && err.contains("cargo install virtiofsd"),
        "{err}"
    );
    assert!(run_dirs(results.path()).is_empty(), "no result folder");
}

/// `./scripts/setup --with-vng` links every command of virtme-ng's venv
/// into /usr/local/bin, not only `vng` (which runs `virtme-run` and others
/// by name), and puts the Rust virtiofsd on the system PATH.
#[test]
fn vng_setup_linked_every_virtme_ng_command() {
    let test = "vng_setup_linked_every_virtme_ng_command";
    let linked = Path::new("/usr/local/bin/vng");
    let venv_bin = std::fs::canonicalize(linked)
        .ok()
        .filter(|real| real != linked)
        .and_then(|real| real.parent().map(Path::to_path_buf))
        .filter(|dir| dir.join("python").is_file());
    let Some(venv_bin) = venv_bin else {
        skip_because(
            test,
            "/usr/local/bin/vng is not linked from a venv (./scripts/setup --with-vng)",
        );
        return;
    };
    let mut commands = Vec::new();
    for entry in std::fs::read_dir(&venv_bin).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("virtme") || name.starts_with("vng") {
            let local = Path::new("/usr/local/bin").join(&name);
            assert_eq!(
                std::fs::canonicalize(&local).ok(),
                std::fs::canonicalize(venv_bin.join(&name)).ok(),
                "{} is not the link to {name} of {}",
                local.display(),
                venv_bin.display()
            );
            commands.push(name);
        }
    }
    assert!(commands.iter().any(|c| c == "virtme-run"), "{commands:?}");
    let system = ["/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .chain(SYSTEM_DIRS)
        .map(|d| Path::new(d).join("virtiofsd"))
        .find(|p| p.is_file());
    assert!(
        system.as_deref().is_some_and(is_rust_virtiofsd),
        "no Rust virtiofsd on the system PATH: {system:?}"
    );
}

/// `.ci/run` installs vng and then requires the vng tests to run: a
/// broken install fails CI instead of skipping them.
#[test]
fn ci_requires_the_vng_tests() {
    let run = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    let lines: Vec<&str> = run.lines().map(str::trim).collect();
    let at = |line: &str| lines.iter().position(|l| *l == line);
    let setup = at("./scripts/setup --with-vng");
    let require = at(&format!("export {REQUIRE_ENV}=vng"));
    let test = at("just test");
    assert!(
        matches!((setup, require, test), (Some(s), Some(r), Some(t)) if s < t && r < t),
        ".ci/run must run `./scripts/setup --with-vng` and `export {REQUIRE_ENV}=vng` before `just test`:\n{run}"
    );
}
