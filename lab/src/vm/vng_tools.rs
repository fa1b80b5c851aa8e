//! The host tools a `vng` boot needs (virtme-ng, a virtiofsd it can
//! drive, a static busybox, QEMU, depmod), found or explained.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::init_binary::is_static_elf;
use super::machine;
use crate::kernels::FetchedKernel;

/// Environment variable naming the `vng` executable (default: `vng` on PATH).
pub(crate) const VNG_ENV: &str = "LAB_VNG";

/// Where virtme-ng 1.42 looks for virtiofsd besides PATH
/// (`virtme/commands/run.py`, `_get_virtiofsd_path`).
const VIRTIOFSD_PATHS: &[&str] = &[
    "/usr/libexec/virtiofsd",
    "/usr/lib/virtiofsd/virtiofsd",
    "/usr/lib/virtiofsd",
    "/usr/lib/qemu/virtiofsd",
];

/// The host tools a vng run needs, found by [`preflight`].
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    /// The `vng` executable.
    pub(crate) vng: PathBuf,
    /// `vng --version`.
    pub(crate) vng_version: String,
    /// The PATH `vng` runs with: see [`vng_path`].
    pub(crate) path: OsString,
    /// The virtiofsd virtme-ng will use.
    pub(crate) virtiofsd: PathBuf,
    /// A statically linked busybox (virtme-ng's initramfs).
    pub(crate) busybox: PathBuf,
    /// The QEMU binary (`LAB_QEMU` or `qemu-system-x86_64` on PATH).
    pub(crate) qemu: PathBuf,
}

/// `name` on `PATH` (first executable match).
fn which(name: &str) -> Option<PathBuf> {
    which_in(name, &std::env::var_os("PATH")?)
}

/// `name` in the folders of `path` (first executable match).
fn which_in(name: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

/// `path` with the folder of `vng`, symlinks resolved, first: virtme-ng
/// runs `virtme-run` by name through the shell, and a `vng` linked from a
/// venv (`/usr/local/bin/vng`) has its sibling commands only in the venv's
/// `bin/`, which is not on PATH.
fn vng_path(vng: &Path, path: Option<&OsStr>) -> Result<OsString> {
    let real = std::fs::canonicalize(vng)
        .with_context(|| format!("resolving the vng executable {}", vng.display()))?;
    let dir = real.parent().unwrap_or(Path::new("/")).to_path_buf();
    let rest = path.map(|p| std::env::split_paths(p).collect::<Vec<_>>());
    std::env::join_paths(std::iter::once(dir).chain(rest.into_iter().flatten()))
        .context("building PATH for vng")
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// First line of `<exe> --version`, or why it did not run.
fn version_of(exe: &Path) -> Result<String, String> {
    match Command::new(exe)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            Ok(text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string())
        }
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .unwrap_or("failed")
            .trim()
            .to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// How to get a virtiofsd virtme-ng can drive on Debian 12.
const VIRTIOFSD_HOWTO: &str = "install the Rust virtiofsd with `apt-get install libseccomp-dev libcap-ng-dev && \
     cargo install virtiofsd --locked` (into ~/.cargo/bin, which must be on PATH)";

/// The virtiofsd virtme-ng will pick (same search order), if it is the
/// Rust daemon: Debian 12's qemu-system-common ships QEMU's old C
/// `/usr/lib/qemu/virtiofsd`, which runs but rejects virtme-ng's options
/// (`fuse: invalid argument`), so vng falls back to 9p and the cloud
/// kernels panic without a root filesystem.
fn find_virtiofsd() -> Result<PathBuf> {
    let chosen = which("virtiofsd")
        .into_iter()
        .chain(VIRTIOFSD_PATHS.iter().map(PathBuf::from))
        .find(|p| is_executable(p) && version_of(p).is_ok());
    let Some(path) = chosen else {
        bail!(
            "virtiofsd not found: virtme-ng shares the root filesystem with virtiofsd (or 9p, which the Debian \
             cloud kernels lack); {VIRTIOFSD_HOWTO}"
        );
    };
    let help = Command::new(&path)
        .arg("--help")
        .stdin(Stdio::null())
        .output();
    let rust = help.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--shared-dir"));
    if !rust {
        bail!(
            "no usable virtiofsd: virtme-ng would use {}, QEMU's old C virtiofsd, whose options it does not speak \
             (it would fall back to 9p, which the Debian cloud kernels lack); {VIRTIOFSD_HOWTO}",
            path.display()
        );
    }
    Ok(path)
}

/// Checks that virtme-ng and what it needs are installed and that `kernel`
/// can boot under it. The error says what is missing and how to install it.
pub(crate) fn preflight(kernel: &FetchedKernel) -> Result<Tools> {
    let vng = match std::env::var_os(VNG_ENV) {
        Some(v) => PathBuf::from(v),
        None => which("vng").context(
            "virtme-ng is not installed: `pip install virtme-ng` (the `vng` command is not on PATH; or set LAB_VNG)",
        )?,
    };
    let vng_version = version_of(&vng).map_err(|e| {
        anyhow::anyhow!(
            "virtme-ng is not usable: `{} --version` failed: {e}",
            vng.display()
        )
    })?;
    let path = vng_path(&vng, std::env::var_os("PATH").as_deref())?;
    if which_in("virtme-run", &path).is_none() {
        bail!(
            "virtme-ng is incomplete: its `virtme-run` command, which `vng` runs, is neither next to {} nor on \
             PATH (reinstall it: `pip install virtme-ng`, or `./scripts/setup --with-vng`)",
            vng.display()
        );
    }
    let virtiofsd = find_virtiofsd()?;
    let busybox = which("busybox")
        .into_iter()
        .chain(["/usr/bin/busybox", "/bin/busybox"].map(PathBuf::from))
        .find(|p| std::fs::read(p).ok().and_then(|b| is_static_elf(&b)) == Some(true))
        .context("virtme-ng needs a statically linked busybox for its initramfs: `apt-get install busybox-static`")?;
    let qemu = Some(PathBuf::from(machine::qemu_binary()))
        .filter(|p| p.is_absolute() && is_executable(p))
        .or_else(|| which(&machine::qemu_binary()))
        .with_context(|| {
            format!(
                "{} not found: `apt-get install qemu-system-x86`",
                machine::qemu_binary()
            )
        })?;
    // virtme-ng mounts the shared root with virtio-fs (FUSE); modules are fine
    // (see `BOOT_MODULES`), absent is not.
    for option in ["CONFIG_VIRTIO_FS", "CONFIG_FUSE_FS"] {
        match kernel.config_value(option).as_deref() {
            Some("y" | "m") | None => {}
            Some(v) => bail!(
                "kernel {} has {option}={v}: virtme-ng cannot mount the shared root filesystem; use --backend qemu",
                kernel.name
            ),
        }
    }
    // virtme-ng runs depmod on the boot modules.
    which("depmod")
        .into_iter()
        .chain(["/usr/sbin/depmod", "/sbin/depmod"].map(PathBuf::from))
        .find(|p| is_executable(p))
        .context("virtme-ng needs depmod for the kernel's modules: `apt-get install kmod`")?;
    Ok(Tools {
        vng,
        vng_version,
        path,
        virtiofsd,
        busybox,
        qemu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `vng` linked into another folder (as ./scripts/setup does) puts
    /// the folder it really lives in, its venv's `bin/`, first on PATH.
    #[test]
    fn vng_runs_with_its_own_folder_first_on_path() {
        let tmp = tempfile::tempdir().unwrap();
        let venv_bin = tmp.path().join("venv/bin");
        let local_bin = tmp.path().join("local/bin");
        std::fs::create_dir_all(&venv_bin).unwrap();
        std::fs::create_dir_all(&local_bin).unwrap();
        std::fs::write(venv_bin.join("vng"), "#!/bin/sh\n").unwrap();
        std::os::unix::fs::symlink(venv_bin.join("vng"), local_bin.join("vng")).unwrap();
        let real_venv_bin = std::fs::canonicalize(&venv_bin).unwrap();
        let path = vng_path(&local_bin.join("vng"), Some(OsStr::new("/usr/bin:/bin"))).unwrap();
        let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        assert_eq!(
            dirs,
            [real_venv_bin.clone(), "/usr/bin".into(), "/bin".into()]
        );
        // No PATH at all: only vng's folder.
        let path = vng_path(&local_bin.join("vng"), None).unwrap();
        assert_eq!(
            std::env::split_paths(&path).collect::<Vec<_>>(),
            [real_venv_bin]
        );
        // A dangling link is an error naming it.
        std::fs::remove_file(venv_bin.join("vng")).unwrap();
        let err = vng_path(&local_bin.join("vng"), None).unwrap_err();
        assert!(format!("{err:#}").contains("local/bin/vng"), "{err:#}");
    }
}
