//! Helpers shared by the integration tests: skip rules, a cross-process
//! lock for tests that load BPF, and running the `lab` binary.
#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Why the host backend cannot run here, if it cannot.
pub fn host_skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root: the host backend needs CAP_NET_ADMIN and CAP_BPF".into());
    }
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    if !kallsyms
        .lines()
        .any(|l| l.ends_with(" bpf_crypto_ctx_create"))
    {
        return Some("the running kernel has no bpf_crypto kfuncs".into());
    }
    None
}

/// Prints a skip line and returns true when QEMU is not installed.
pub fn qemu_missing(test: &str) -> bool {
    let missing = Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_err();
    if missing {
        eprintln!("SKIPPED {test}: qemu-system-x86_64 is not installed (run ./scripts/setup)");
    }
    missing
}

/// Prints a skip line and returns true when the host backend is unusable.
pub fn skip_without_host(test: &str) -> bool {
    match host_skip_reason() {
        Some(why) => {
            eprintln!("SKIPPED {test}: {why}");
            true
        }
        None => false,
    }
}

/// Serialises tests that load BPF programs or count them, across test
/// processes (nextest runs each test in its own process).
pub struct BpfLock(File);

impl BpfLock {
    /// Blocks until the lock is ours.
    pub fn acquire() -> Self {
        let f = File::create(std::env::temp_dir().join("bpfcrypt-lab-tests.lock")).unwrap();
        // SAFETY: flock on a valid descriptor.
        assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
        BpfLock(f)
    }
}

/// Runs `lab` with arguments from the repository root.
pub fn lab(args: &[&str], results: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(args)
        .current_dir(repo())
        .env("LAB_RESULTS_DIR", results)
        .output()
        .expect("running lab")
}

/// `lab` with arguments from the repository root, results under `results`,
/// extra environment, no standard input, output piped.
pub fn lab_cmd(args: &[&str], results: &Path, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lab"));
    c.args(args)
        .current_dir(repo())
        .env("LAB_RESULTS_DIR", results)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Stdout and stderr of a finished `lab`, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Run folders (not partial ones) under `results`.
pub fn run_dirs(results: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(results)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Names of loaded BPF programs (kernel-truncated to 15 characters).
pub fn loaded_prog_names() -> Vec<String> {
    let mut names = Vec::new();
    let mut id = 0u32;
    // SAFETY: libbpf wrappers around the bpf(2) syscall with valid pointers.
    unsafe {
        while libbpf_sys::bpf_prog_get_next_id(id, &mut id) == 0 {
            let fd = libbpf_sys::bpf_prog_get_fd_by_id(id);
            if fd < 0 {
                continue;
            }
            let mut info: libbpf_sys::bpf_prog_info = std::mem::zeroed();
            let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
            if libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) == 0 {
                let n: Vec<u8> = info
                    .name
                    .iter()
                    .take_while(|c| **c != 0)
                    .map(|c| *c as u8)
                    .collect();
                names.push(String::from_utf8_lossy(&n).into_owned());
            }
            libc::close(fd);
        }
    }
    names
}

/// Whether any data plane program is still loaded.
pub fn dataplane_loaded() -> bool {
    loaded_prog_names()
        .iter()
        .any(|n| n == "encrypt_egress" || n == "decrypt_ingress" || n == "provision")
}

/// Fetches a catalog kernel into the cache (a no-op when cached).
pub fn ensure_kernel(name: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["kernels", "fetch", name])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "fetching {name}: {}", text(&out));
}

/// The extracted catalog kernel's folder (`<cache>/kernels/NAME/<release>`),
/// fetched first when needed.
pub fn extracted(name: &str) -> PathBuf {
    ensure_kernel(name);
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo().join("kernels/kernels.lock")).unwrap())
            .unwrap();
    let release = lock["kernels"][name]["release"].as_str().unwrap();
    cache_dir().join("kernels").join(name).join(release)
}

/// The lab's cache (`LAB_CACHE_DIR`, default `<repo>/.cache`).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("LAB_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache"))
}

/// A copy of the kernel cache to give as `LAB_CACHE_DIR` (hard links:
/// cheap, and replacing a file in the copy leaves the original alone).
pub fn linked_cache() -> tempfile::TempDir {
    let copy = tempfile::tempdir_in(cache_dir()).unwrap();
    let st = Command::new("cp")
        .arg("-al")
        .arg(cache_dir().join("kernels"))
        .arg(copy.path())
        .status()
        .unwrap();
    assert!(st.success());
    copy
}

/// Hard-links (or copies) the tree `from` into `to`.
pub fn link_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().map(Result::unwrap) {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            link_tree(&e.path(), &dest);
        } else if std::fs::hard_link(e.path(), &dest).is_err() {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// A run folder's `summary.json`.
pub fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

/// Starts `lab` with arguments (results under `results`), waits until
/// `ready()` says it is mid-way, sends SIGINT and returns its output.
pub fn interrupt_lab(args: &[&str], results: &Path, ready: impl Fn() -> bool) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(args)
        .current_dir(repo())
        .env("LAB_RESULTS_DIR", results)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !ready() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(20),
            "lab {args:?} never got ready to interrupt"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait_with_output().unwrap()
}

/// The phases of a summary as (name, ms), after checking that they are
/// plausible: each a whole number of milliseconds, together no longer
/// than the run's wall time.
pub fn phases(s: &serde_json::Value) -> Vec<(String, u64)> {
    let list: Vec<(String, u64)> = s["phases"]
        .as_array()
        .unwrap_or_else(|| panic!("no phases in {s}"))
        .iter()
        .map(|p| {
            let ms = p["ms"].as_u64().unwrap_or_else(|| panic!("bad ms in {p}"));
            (p["phase"].as_str().unwrap().to_string(), ms)
        })
        .collect();
    let sum: u64 = list.iter().map(|(_, ms)| ms).sum();
    let wall = s["duration_ms"].as_u64().unwrap();
    assert!(
        sum <= wall,
        "phases sum to {sum} ms > wall {wall} ms: {list:?}"
    );
    list
}

/// The phase `name`'s time in `list`.
pub fn phase_ms(list: &[(String, u64)], name: &str) -> u64 {
    list.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no phase {name} in {list:?}"))
        .1
}

/// The job phases of a run on the running kernel, steps named `kinds`.
pub fn job_phase_names(kinds: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = ["support check and probe", "topology"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    names.push("data plane load and verification".into());
    names.push("capture start".into());
    for (i, k) in kinds.iter().enumerate() {
        names.push(format!("step {}: {k}", i + 1));
    }
    names.push("capture and analysis".into());
    names
}
