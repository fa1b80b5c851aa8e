//! Round 3 of `lab` under hostile conditions, against the real binary:
//! key material is never readable by other users during a VM run, a full
//! or size-limited disk is a harness problem (exit 2, nothing kept), a
//! kernel without veth is `unsupported` naming it, and a symlink planted
//! at the next run id moves the run to another id instead of losing it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

const KERNEL: &str = "debian-6.12";

/// Paths under `dir` (itself included) whose mode lets group or others in.
fn shared_paths(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return out;
    };
    if meta.permissions().mode() & 0o077 != 0 {
        out.push(format!(
            "{} {:o}",
            dir.display(),
            meta.permissions().mode() & 0o777
        ));
    }
    if meta.is_dir() {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            out.extend(shared_paths(&e.path()));
        }
    }
    out
}

#[test]
fn no_file_of_a_vm_run_is_readable_by_other_users_at_any_moment() {
    let test = "no_file_of_a_vm_run_is_readable_by_other_users_at_any_moment";
    if qemu_missing(test) {
        return;
    }
    ensure_kernel(KERNEL);
    let results = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut c = lab_cmd(
        &["run", "-q", "--kernel", KERNEL, "scenarios/esp-ping.yaml"],
        results.path(),
        &[],
    );
    c.env("TMPDIR", tmp.path());
    let mut child = c.spawn().unwrap();
    let (mut seen_work, mut shared) = (false, Vec::new());
    while child.try_wait().unwrap().is_none() {
        for e in std::fs::read_dir(tmp.path()).unwrap().flatten() {
            seen_work |= e.file_name().to_string_lossy().starts_with("lab-vm-");
            shared.extend(shared_paths(&e.path()));
        }
        for e in std::fs::read_dir(results.path()).into_iter().flatten() {
            shared.extend(shared_paths(&e.unwrap().path()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(seen_work, "no VM work folder was ever seen in {tmp:?}");
    shared.sort();
    shared.dedup();
    assert!(
        shared.is_empty(),
        "readable by others during the run: {shared:?}"
    );
    let dirs = run_dirs(results.path());
    assert_eq!(dirs.len(), 1);
    let run = &dirs[0];
    assert!(
        summary(run)["key_hex"]
            .as_str()
            .is_some_and(|k| !k.is_empty()),
        "summary.json holds the key, so the folder must be private"
    );
    assert!(shared_paths(run).is_empty(), "{:?}", shared_paths(run));
}

/// `lab run` with a file size limit of `limit` bytes and SIGXFSZ ignored,
/// so writes past it fail with `EFBIG` as on a full disk.
fn run_with_file_size_limit(args: &[&str], results: &Path, limit: u64) -> Output {
    let mut c = lab_cmd(args, results, &[]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let r = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c.output().unwrap()
}

#[test]
fn a_capture_that_cannot_be_written_is_a_harness_problem_and_keeps_nothing() {
    let test = "a_capture_that_cannot_be_written_is_a_harness_problem_and_keeps_nothing";
    if skip_without_host(test) {
        return;
    }
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    // udp-sizes captures well over 16 KiB of frames (up to 9000 bytes each).
    let out = run_with_file_size_limit(
        &["run", "-q", "scenarios/udp-sizes.yaml"],
        results.path(),
        16 * 1024,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("File too large"), "{err}");
    assert!(err.contains("lab's own storage"), "{err}");
    assert!(
        std::fs::read_dir(results.path()).unwrap().next().is_none(),
        "something was kept: {:?}",
        run_dirs(results.path())
    );
    assert!(!dataplane_loaded(), "a data plane stayed loaded");
}

#[test]
fn a_kernel_without_veth_is_unsupported_and_names_it() {
    let test = "a_kernel_without_veth_is_unsupported_and_names_it";
    if qemu_missing(test) {
        return;
    }
    ensure_kernel(KERNEL);
    let k = extracted(KERNEL);
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(k.join("kernel.json")).unwrap()).unwrap();
    // The image alone in a folder: no modules, so no veth (the Debian
    // kernel builds it as a module), and no config beside it for the lab
    // to read that from before booting.
    let alone = tempfile::tempdir().unwrap();
    let image = alone.path().join("vmlinuz");
    std::fs::copy(k.join(marker["bzimage"].as_str().unwrap()), &image).unwrap();
    let results = tempfile::tempdir().unwrap();
    let out = lab_cmd(
        &[
            "run",
            "-q",
            "--kernel-image",
            image.to_str().unwrap(),
            "scenarios/ping.yaml",
        ],
        results.path(),
        &[],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("veth"), "{all}");
    assert!(all.contains("CONFIG_VETH"), "{all}");
}

#[test]
fn a_dangling_symlink_at_the_next_run_id_does_not_lose_the_run() {
    let test = "a_dangling_symlink_at_the_next_run_id_does_not_lose_the_run";
    if skip_without_host(test) {
        return;
    }
    let _lock = BpfLock::acquire();
    let results = tempfile::tempdir().unwrap();
    // Plant one at every id the run could take in the next two minutes.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for s in now..now + 120 {
        let stamp = Command::new("date")
            .args(["+%Y%m%d-%H%M%S", "-d", &format!("@{s}")])
            .output()
            .unwrap();
        let stamp = String::from_utf8(stamp.stdout).unwrap();
        let link = results.path().join(format!("{}-ping-host", stamp.trim()));
        std::os::unix::fs::symlink("/nonexistent-lab-victim", link).unwrap();
    }
    let out = lab_cmd(&["run", "-q", "scenarios/ping.yaml"], results.path(), &[])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let kept: Vec<_> = run_dirs(results.path())
        .into_iter()
        .filter(|p| !std::fs::symlink_metadata(p).unwrap().is_symlink())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].to_string_lossy().ends_with("-ping-host-2"),
        "{kept:?}"
    );
    assert_eq!(summary(&kept[0])["verdict"], "pass");
}
