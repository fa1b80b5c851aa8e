//! Chores of a guest's init: mounts, module loading, power off.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::mount::{MsFlags, mount};

/// Mounts proc, sys, devtmpfs, bpffs and a tmpfs on /tmp.
pub(crate) fn mount_all() {
    let mounts: &[(&str, &str, &str)] = &[
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
        ("bpf", "/sys/fs/bpf", "bpf"),
        ("tmpfs", "/tmp", "tmpfs"),
    ];
    for (src, target, fstype) in mounts {
        let _ = std::fs::create_dir_all(target);
        if let Err(e) = mount(
            Some(*src),
            *target,
            Some(*fstype),
            MsFlags::empty(),
            None::<&str>,
        ) {
            eprintln!("lab-guest: mount {target}: {e}");
        }
    }
}

/// Mounts bpffs on /sys/fs/bpf unless something is mounted there already.
pub(crate) fn ensure_bpffs() {
    let mounted = std::fs::read_to_string("/proc/self/mounts")
        .map(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf"))
        })
        .unwrap_or(false);
    if !mounted
        && let Err(e) = mount(
            Some("bpf"),
            "/sys/fs/bpf",
            Some("bpf"),
            MsFlags::empty(),
            None::<&str>,
        )
    {
        eprintln!("lab-guest: mount /sys/fs/bpf: {e}");
    }
}

/// Loads every `*.ko` in `dir` in file-name order with `finit_module`.
/// Returns one line per module (`veth` or `veth: <error>`).
pub(crate) fn load_modules(dir: &Path) -> Vec<String> {
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(d) => d.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(_) => return Vec::new(),
    };
    files.sort();
    let params = CString::new("").unwrap();
    let mut out = Vec::new();
    for path in files {
        let name = path
            .file_stem()
            .map(|s| {
                s.to_string_lossy()
                    .split_once('-')
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let res = File::open(&path).and_then(|f| {
            // SAFETY: finit_module(2) with a valid fd and a NUL-terminated empty parameter string.
            let rc =
                unsafe { libc::syscall(libc::SYS_finit_module, f.as_raw_fd(), params.as_ptr(), 0) };
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
        out.push(match res {
            Ok(()) => name,
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => name,
            Err(e) => format!("{name}: {e}"),
        });
    }
    out
}

/// The kernel's boot clock (`CLOCK_BOOTTIME`): in PID 1, how long the
/// kernel took to reach userspace.
pub(crate) fn boot_clock() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Flushes and powers the VM off (QEMU exits).
pub(crate) fn power_off() -> ! {
    nix::unistd::sync();
    let _ = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
    // Only reached if reboot failed: PID 1 must not exit.
    loop {
        std::thread::park();
    }
}
