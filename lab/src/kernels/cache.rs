//! Cache layout and the per-kernel marker that says an extraction is complete.
//!
//! ```text
//! <cache>/kernels/
//!   .lock                        flock held while fetching
//!   apt/<archive>_<suite>/       private apt roots
//!   debs/<file>.deb              verified downloads
//!   <name>/<release>/root/       extracted data.tar of all packages (minus usr/share)
//!   <name>/<release>/vmlinux     ELF cut from the bzImage (when possible)
//!   <name>/<release>/kernel.json marker, written last
//! ```

use super::catalog::Catalog;
use super::error::KernelError;
use super::kernel::{BootKind, FetchedKernel};
use super::lock::LockedKernel;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File name of the completion marker.
pub(crate) const MARKER: &str = "kernel.json";

/// Directory of one extracted kernel release.
pub(crate) fn kernel_dir(catalog: &Catalog, name: &str, release: &str) -> PathBuf {
    catalog.paths.kernels_cache().join(name).join(release)
}

/// Directory holding downloaded .deb files.
pub(crate) fn debs_dir(catalog: &Catalog) -> PathBuf {
    catalog.paths.kernels_cache().join("debs")
}

/// Contents of `kernel.json` (paths relative to the kernel dir).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Marker {
    /// Catalog name.
    pub(crate) name: String,
    /// `uname -r`.
    pub(crate) release: String,
    /// Debian package version.
    pub(crate) package_version: String,
    /// sha256 of each .deb extracted, in lock order.
    pub(crate) sha256: Vec<String>,
    /// How the kernel boots.
    pub(crate) boot_kind: BootKind,
    /// Image to boot (relative).
    pub(crate) kernel_image: PathBuf,
    /// The bzImage (relative).
    pub(crate) bzimage: PathBuf,
    /// Modules directory (relative).
    pub(crate) modules_dir: PathBuf,
    /// Kernel config (relative), if shipped.
    pub(crate) config: Option<PathBuf>,
    /// Why `kernel_image` is the bzImage, when it is.
    pub(crate) vmlinux_note: Option<String>,
}

impl Marker {
    /// Turns the marker into a [`FetchedKernel`] rooted at `dir`.
    pub(crate) fn to_fetched(&self, dir: &Path) -> FetchedKernel {
        FetchedKernel {
            name: self.name.clone(),
            version: self.release.clone(),
            package_version: self.package_version.clone(),
            kernel_image: dir.join(&self.kernel_image),
            boot_kind: self.boot_kind,
            bzimage: dir.join(&self.bzimage),
            modules_dir: dir.join(&self.modules_dir),
            config: self.config.as_ref().map(|c| dir.join(c)),
            vmlinux_note: self.vmlinux_note.clone(),
        }
    }

    /// Reads `<dir>/kernel.json`; `None` if absent or unreadable.
    pub(crate) fn read(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes `<dir>/kernel.json`.
    pub(crate) fn write(&self, dir: &Path) -> Result<(), KernelError> {
        let path = dir.join(MARKER);
        let text = serde_json::to_string_pretty(self).expect("marker serialises");
        std::fs::write(&path, text).map_err(|e| KernelError::io("writing", &path, e))
    }
}

/// Checks the cache for a locked kernel: the marker must exist, list the lock's sha256s,
/// and the files it names must exist.
pub(crate) fn check(
    catalog: &Catalog,
    name: &str,
    locked: &LockedKernel,
) -> Result<FetchedKernel, String> {
    let dir = kernel_dir(catalog, name, &locked.release);
    let marker = Marker::read(&dir).ok_or("nothing extracted for the locked version")?;
    let want: Vec<&str> = locked.packages.iter().map(|p| p.sha256.as_str()).collect();
    if marker.sha256.iter().map(String::as_str).ne(want) || marker.release != locked.release {
        return Err("cached packages differ from kernels.lock".into());
    }
    let k = marker.to_fetched(&dir);
    if !k.kernel_image.is_file() || !k.modules_dir.is_dir() {
        return Err("cache is incomplete".into());
    }
    Ok(k)
}
