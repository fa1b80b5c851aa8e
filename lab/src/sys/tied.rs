//! Running a program whose whole process group dies with `lab`, even when
//! `lab` is killed: `lab exec-tied PROGRAM ARGS…` asks the kernel for a
//! signal when its parent (`lab`) dies (`PR_SET_PDEATHSIG`), runs PROGRAM
//! as its child, and on that signal, or a stop request, kills its own
//! process group, so grandchildren (virtme-ng's QEMU and virtiofsd) go too.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::signals;

/// Runs `program args…` until it exits (its exit code) or `lab` goes.
pub(crate) fn run(program: &Path, args: &[OsString]) -> Result<i32> {
    let parent = nix::unistd::getppid();
    // SAFETY: prctl(2) with an integer signal number.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) } != 0 {
        bail!(
            "prctl(PR_SET_PDEATHSIG): {}",
            std::io::Error::last_os_error()
        );
    }
    if nix::unistd::getppid() != parent {
        bail!("lab exited before {} started", program.display());
    }
    let mut child = Command::new(program)
        .args(args)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.code().unwrap_or(1));
        }
        if signals::interrupted() {
            // SAFETY: kill(2) of our own process group (this process included).
            unsafe { libc::kill(0, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
