//! The hermetic QEMU boot: the kernel with an initramfs whose PID 1 is this
//! very (static) `lab` binary and which holds the job and the modules.
//! The result comes back on a virtio-serial port backed by a file.

use std::path::Path;

use anyhow::{Context, Result};

use super::console::Streams;
use super::image;
use super::init_binary;
use super::machine::{Accel, machine};
use super::prepared::{Prepared, VmOptions};
use crate::job::Job;
use crate::kernels::FetchedKernel;

/// Name of the virtio-serial port carrying the result.
pub(crate) const RESULTS_PORT: &str = "lab.results";

/// Writes the initramfs into `work` and builds the QEMU command line.
pub(crate) fn prepare(
    kernel: &FetchedKernel,
    cache_dir: &Path,
    job: &Job,
    work: &Path,
    accel: Accel,
    opts: VmOptions,
) -> Result<Prepared> {
    let init = init_binary::prepare(cache_dir)?;
    let img = image::build(kernel, job, &init)?;
    let initrd = work.join("initramfs.cpio");
    std::fs::write(&initrd, &img.bytes).context("writing the initramfs")?;
    let result_file = work.join("result.tar");
    let mut cmd = machine(accel, opts.memory_mb, &kernel.kernel_image);
    cmd.arg("-initrd")
        .arg(&initrd)
        .arg("-append")
        .arg(super::cmdline::qemu())
        .args(["-device", "virtio-serial-pci"])
        .arg("-chardev")
        .arg(format!("file,id=res,path={}", chardev_path(&result_file)))
        .args([
            "-device",
            &format!("virtserialport,chardev=res,name={RESULTS_PORT}"),
        ]);
    Ok(Prepared {
        cmd,
        streams: Streams::StdoutOnly,
        result_file,
        program: "QEMU",
        details: format!(
            "initramfs {:.1} MiB, {} modules",
            img.bytes.len() as f64 / 1048576.0,
            img.modules.len()
        ),
        missing_modules: img.missing,
    })
}

/// A path as a QEMU option value: commas are doubled (QEMU's escape), so
/// a `TMPDIR` with a comma does not split the option.
fn chardev_path(p: &Path) -> String {
    p.display().to_string().replace(',', ",,")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_in_paths_are_escaped_for_qemu() {
        assert_eq!(chardev_path(Path::new("/tmp/a,b/r.tar")), "/tmp/a,,b/r.tar");
        assert_eq!(chardev_path(Path::new("/tmp/x/r.tar")), "/tmp/x/r.tar");
    }
}
