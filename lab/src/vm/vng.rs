//! The virtme-ng boot (PyPI `virtme-ng`, command `vng`): the host's root
//! filesystem is shared with the guest (virtiofs), so the guest runs this
//! same `lab` binary as a normal process: `vng --run <kernel> --exec "lab
//! guest-run …"`. The job, the modules (resolved and decompressed on the
//! host, loaded in the guest with `finit_module`) and the result archive
//! live in a work directory that virtme-ng shares read-write (`--rwdir`).
//! vng's own exit code is not used (without udev its script ports are
//! missing and it reports 255): the result archive is what counts.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::console::Streams;
use super::image;
use super::machine::Accel;
use super::prepared::{Prepared, VmOptions};
use super::vng_tools::Tools;
use crate::job::Job;
use crate::kernels::{FetchedKernel, modules};

/// The job document in the work directory.
const JOB_FILE: &str = "job.json";
/// Decompressed modules in load order (`NN-name.ko`) in the work directory.
const MODULES_SUBDIR: &str = "modules";
/// Directory the guest writes into (the `--rwdir`).
const OUT_SUBDIR: &str = "out";
/// The result archive inside [`OUT_SUBDIR`] (same format as over virtio-serial).
pub(crate) const RESULT_FILE: &str = "result.tar";

/// Modules virtme-ng's own initramfs and init load (virtio-fs root, overlays
/// over /etc, /tmp, …), when the kernel has them as modules.
const BOOT_MODULES: &[&str] = &[
    "virtiofs",
    "fuse",
    "overlay",
    "virtio_pci",
    "virtio_console",
];

/// Files of a modules directory that depmod/modprobe read besides modules.
const MODULES_META: &[&str] = &[
    "modules.builtin",
    "modules.builtin.modinfo",
    "modules.order",
];

/// Fills the work directory (`job.json`, `modules/NN-name.ko`, `out/`,
/// `root/`) and builds the `vng` command line.
pub(crate) fn prepare(
    tools: &Tools,
    kernel: &FetchedKernel,
    job: &Job,
    work: &Path,
    accel: Accel,
    opts: VmOptions,
) -> Result<Prepared> {
    let res = image::job_modules(kernel, job)?;
    let dir = work.join(MODULES_SUBDIR);
    std::fs::create_dir_all(&dir)?;
    for (i, m) in res.modules.iter().enumerate() {
        std::fs::write(dir.join(format!("{i:02}-{}.ko", m.name)), &m.bytes)?;
    }
    std::fs::write(work.join(JOB_FILE), serde_json::to_vec(job)?)?;
    std::fs::create_dir_all(work.join(OUT_SUBDIR))?;
    let image = boot_root(kernel, work)?;
    Ok(Prepared {
        cmd: command(tools, kernel, work, &image, accel, opts)?,
        streams: Streams::Both,
        result_file: work.join(OUT_SUBDIR).join(RESULT_FILE),
        program: "vng",
        details: format!(
            "{} with {}; {} modules",
            tools.vng_version,
            tools.virtiofsd.display(),
            res.modules.len()
        ),
        missing_modules: res.not_found,
    })
}

/// `root/boot/vmlinuz` (a link to the kernel image) and
/// `root/lib/modules/<release>/` with [`BOOT_MODULES`], decompressed:
/// virtme-ng looks for modules next to the image and loads them with
/// busybox `insmod`, which cannot read Debian's `.ko.xz`. vng runs depmod
/// in there (never in the kernel cache).
fn boot_root(kernel: &FetchedKernel, work: &Path) -> Result<PathBuf> {
    let root = work.join("root");
    let moddir = root.join("lib/modules").join(&kernel.version);
    let kdir = moddir.join("kernel");
    std::fs::create_dir_all(&kdir)?;
    std::fs::create_dir_all(root.join("boot"))?;
    let image = root.join("boot/vmlinuz");
    std::os::unix::fs::symlink(&kernel.kernel_image, &image).context("linking the kernel image")?;
    // A developer's image without modules has virtio-fs built in.
    let Some(mods) = kernel.modules_dir.as_deref() else {
        return Ok(image);
    };
    for f in MODULES_META {
        let src = mods.join(f);
        if src.is_file() {
            std::fs::copy(&src, moddir.join(f))
                .with_context(|| format!("copying {}", src.display()))?;
        }
    }
    let res = modules::resolve(mods, BOOT_MODULES)
        .with_context(|| format!("resolving modules in {}", mods.display()))?;
    res.require(&["virtiofs", "fuse"])
        .with_context(|| format!("kernel {}: no virtio-fs for virtme-ng", kernel.name))?;
    for m in &res.modules {
        std::fs::write(kdir.join(format!("{}.ko", m.name)), &m.bytes)?;
    }
    Ok(image)
}

/// The `vng` command line: boot `image`, run `lab guest-run` in the
/// guest. vng runs under `lab exec-tied`, so that everything it starts
/// dies with `lab`, with its own folder first on PATH (`Tools::path`).
fn command(
    tools: &Tools,
    kernel: &FetchedKernel,
    work: &Path,
    image: &Path,
    accel: Accel,
    opts: VmOptions,
) -> Result<Command> {
    let exe = std::env::current_exe().context("locating the lab executable")?;
    let guest_cmd = [
        exe.to_string_lossy().into_owned(),
        "guest-run".into(),
        "--job".into(),
        work.join(JOB_FILE).to_string_lossy().into_owned(),
        "--modules".into(),
        work.join(MODULES_SUBDIR).to_string_lossy().into_owned(),
        "--out".into(),
        work.join(OUT_SUBDIR).to_string_lossy().into_owned(),
        "--kernel-release".into(),
        kernel.version.clone(),
    ]
    .iter()
    .map(|w| shell_quote(w))
    .collect::<Vec<_>>()
    .join(" ");
    let mut cmd = Command::new(&exe);
    cmd.arg("exec-tied")
        .arg(&tools.vng)
        .arg("--run")
        .arg(image)
        .arg("--verbose")
        .arg("--busybox")
        .arg(&tools.busybox)
        .arg("--qemu")
        .arg(&tools.qemu)
        .args(["--memory", &format!("{}M", opts.memory_mb), "--cpus", "1"])
        .arg(format!("--rwdir={}", work.join(OUT_SUBDIR).display()))
        .args(["--cwd", "/", "--append", &super::cmdline::vng_append()])
        .args(["--exec", &guest_cmd]);
    if accel == Accel::Tcg {
        cmd.arg("--disable-kvm");
    }
    cmd.current_dir(work).env("PATH", &tools.path);
    Ok(cmd)
}

/// Quotes a word for the guest's `sh -c`.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_guest_shell() {
        assert_eq!(
            shell_quote("/tmp/lab-vng-x/job.json"),
            "/tmp/lab-vng-x/job.json"
        );
        assert_eq!(
            shell_quote("6.12.117+deb12-cloud-amd64"),
            "6.12.117+deb12-cloud-amd64"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
