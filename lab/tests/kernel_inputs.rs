//! The developer's kernel inputs and the kernel cache as bad input: a device,
//! a FIFO or a folder given as `--kernel-image`/`--config` is refused at
//! once (exit 2) naming the file and the option; a truncated bzImage or
//! vmlinux is refused before it boots; a signal during `lab kernels fetch
//! --force` exits 130 and leaves the old extraction usable; `lab probe`
//! under a TMPDIR that does not exist says so.

mod common;

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const KERNEL: &str = "debian-6.12";

/// Runs `lab` with `args` under `bash -c "ulimit -v …; exec lab …"` (a
/// runaway read fails instead of waking the OOM killer) and fails the test
/// when it takes longer than `limit`.
fn lab_within(args: &[&str], results: &Path, limit: Duration) -> Output {
    let mut child = Command::new("bash")
        .arg("-c")
        .arg("ulimit -v 4000000; exec \"$@\"")
        .arg("bash")
        .arg(env!("CARGO_BIN_EXE_lab"))
        .args(args)
        .current_dir(repo())
        .env("LAB_RESULTS_DIR", results)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("lab {args:?} still running after {limit:?}: {}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Asserts exit 2 with nothing kept and stderr naming each of `words`.
fn refused(out: &Output, results: &Path, words: &[&str]) {
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    let err = String::from_utf8_lossy(&out.stderr);
    for w in words {
        assert!(err.contains(w), "stderr lacks `{w}`: {err}");
    }
    assert!(run_dirs(results).is_empty(), "nothing is kept");
}

#[test]
fn devices_fifos_and_folders_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let run = |extra: &[&str]| {
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        args.push("scenarios/ping.yaml");
        lab_within(&args, &results, Duration::from_secs(10))
    };

    let out = run(&["--kernel-image", "/dev/zero"]);
    refused(
        &out,
        &results,
        &["--kernel-image", "/dev/zero", "character device"],
    );

    let fifo = dir.path().join("bzImage");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let fifo_s = fifo.display().to_string();
    let out = run(&["--kernel-image", &fifo_s]);
    refused(&out, &results, &["--kernel-image", &fifo_s, "FIFO"]);

    // A folder as --config is named as one, whatever the image.
    let image = dir.path().join("image");
    std::fs::write(&image, b"not looked at yet").unwrap();
    let image_s = image.display().to_string();
    let folder = dir.path().join("config.d");
    std::fs::create_dir(&folder).unwrap();
    let folder_s = folder.display().to_string();
    let out = run(&["--kernel-image", &image_s, "--config", &folder_s]);
    refused(&out, &results, &["--config", &folder_s, "is a directory"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("kernel image"), "{err}");
    assert!(!err.contains("no such file"), "{err}");

    let out = run(&["--kernel-image", &image_s, "--config", &fifo_s]);
    refused(&out, &results, &["--config", &fifo_s, "FIFO"]);
}

#[test]
fn truncated_images_are_refused_before_booting() {
    let k = extracted(KERNEL);
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(k.join("kernel.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    for (key, keep) in [("bzimage", 1 << 20), ("kernel_image", 20 << 20)] {
        let whole = std::fs::read(k.join(marker[key].as_str().unwrap())).unwrap();
        let cut = dir.path().join(key);
        std::fs::write(&cut, &whole[..keep]).unwrap();
        let cut_s = cut.display().to_string();
        let out = lab_within(
            &["run", "--kernel-image", &cut_s, "scenarios/ping.yaml"],
            &results,
            Duration::from_secs(10),
        );
        let has = format!("bytes, file has {keep}");
        refused(&out, &results, &["--kernel-image", &cut_s, &has]);
        if key == "bzimage" {
            // Debian's bzImage is exactly as long as its header says.
            let says = format!("truncated: header says {} bytes", whole.len());
            refused(&out, &results, &[&says]);
        } else {
            refused(&out, &results, &["truncated: header says"]);
        }
    }
}

#[test]
fn fifos_in_the_modules_are_refused() {
    if qemu_missing("fifos_in_the_modules_are_refused") {
        return;
    }
    let k = extracted(KERNEL);
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(k.join("kernel.json")).unwrap()).unwrap();
    let path = |key: &str| k.join(marker[key].as_str().unwrap()).display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let modules = dir.path().join("modules");
    link_tree(Path::new(&path("modules_dir")), &modules);
    let veth = modules.join("kernel/drivers/net/veth.ko.xz");
    std::fs::remove_file(&veth).unwrap();
    nix::unistd::mkfifo(&veth, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let (image, config) = (path("bzimage"), path("config"));
    let modules_s = modules.display().to_string();
    let run = |modules: &str| {
        let args = [
            "run",
            "--kernel-image",
            &image,
            "--modules",
            modules,
            "--config",
            &config,
            "scenarios/ping.yaml",
        ];
        lab_within(&args, &results, Duration::from_secs(30))
    };
    let out = run(&modules_s);
    let veth_s = veth.display().to_string();
    refused(&out, &results, &["--modules", &veth_s, "FIFO"]);

    let fifo = veth.display().to_string();
    let out = run(&fifo);
    refused(&out, &results, &["--modules", &fifo, "not a folder"]);
}

/// Starts `lab kernels fetch --force KERNEL` on the cache `cache`, sends
/// `signal` as soon as it reports extracting, and returns its output.
fn interrupt_extraction(cache: &Path, signal: libc::c_int) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["kernels", "fetch", "--force", KERNEL])
        .current_dir(repo())
        .env("LAB_CACHE_DIR", cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut signalled = false;
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if !signalled && line.contains(": extracting ") {
                // SAFETY: signalling our own child.
                unsafe { libc::kill(pid, signal) };
                signalled = true;
            }
            seen.push(line);
        }
        (signalled, seen.join("\n"))
    });
    let out = child.wait_with_output().unwrap();
    let (signalled, err) = reader.join().unwrap();
    assert!(signalled, "extraction never started: {err}");
    Output {
        stderr: err.into_bytes(),
        ..out
    }
}

#[test]
fn a_signal_during_forced_extraction_keeps_the_old_cache() {
    let k = extracted(KERNEL);
    let release = k.file_name().unwrap();
    // A private cache of hard links: the shared one stays out of the test.
    let copy = linked_cache();
    let cache = copy.path();
    let old = cache.join("kernels").join(KERNEL).join(release);
    let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let marker_inode = inode(&old.join("kernel.json"));

    for signal in [libc::SIGINT, libc::SIGTERM] {
        let out = interrupt_extraction(cache, signal);
        assert_eq!(
            out.status.code(),
            Some(130),
            "signal {signal}: {}",
            text(&out)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("ready in"), "nothing was swapped in: {err}");
        let left: Vec<_> = std::fs::read_dir(cache.join("kernels").join(KERNEL))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [release], "only the old extraction is left");
        assert_eq!(inode(&old.join("kernel.json")), marker_inode, "same tree");
    }

    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["kernels", "fetch", KERNEL])
        .current_dir(repo())
        .env("LAB_CACHE_DIR", cache)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already cached"),
        "the old tree verifies: {err}"
    );
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
}

#[test]
fn probe_names_a_missing_tmpdir() {
    let results = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .arg("probe")
        .current_dir(repo())
        .env("LAB_RESULTS_DIR", results.path())
        .env("TMPDIR", "/nonexistent/tmp")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("temporary folder"), "{err}");
    assert!(err.contains("TMPDIR points to /nonexistent/tmp"), "{err}");
}
