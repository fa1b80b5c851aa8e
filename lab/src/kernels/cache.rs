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
use super::deb::sha256_file;
use super::error::KernelError;
use super::kernel::{BootKind, FetchedKernel};
use super::lock::LockedKernel;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// Size and sha256 of the files a boot reads whole (relative paths);
    /// checked before every boot. Markers written before it existed get
    /// it on first use.
    #[serde(default)]
    pub(crate) files: BTreeMap<PathBuf, FileSum>,
}

/// A file's size and sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileSum {
    /// Bytes.
    pub(crate) size: u64,
    /// Lowercase hex sha256.
    pub(crate) sha256: String,
}

impl FileSum {
    fn of(path: &Path) -> Result<Self, KernelError> {
        let size = std::fs::metadata(path)
            .map_err(|e| KernelError::io("reading", path, e))?
            .len();
        Ok(Self {
            size,
            sha256: sha256_file(path)?,
        })
    }
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
            modules_dir: Some(dir.join(&self.modules_dir)),
            config: self.config.as_ref().map(|c| dir.join(c)),
            vmlinux_note: self.vmlinux_note.clone(),
            local: false,
        }
    }

    /// Reads `<dir>/kernel.json`; `None` if absent or unreadable.
    pub(crate) fn read(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The files a boot reads whole: the image, the bzImage, the config.
    fn summed_files(&self) -> Vec<PathBuf> {
        let mut v = vec![self.kernel_image.clone(), self.bzimage.clone()];
        v.extend(self.config.clone());
        v.dedup();
        v
    }

    /// Records the size and sha256 of [`Marker::summed_files`] under `dir`.
    pub(crate) fn record_sums(&mut self, dir: &Path) -> Result<(), KernelError> {
        self.files.clear();
        for f in self.summed_files() {
            self.files.insert(f.clone(), FileSum::of(&dir.join(&f))?);
        }
        Ok(())
    }

    /// Which recorded file under `dir` differs from its sum, if one does:
    /// the size first (cheap), then the sha256.
    fn damage(&self, dir: &Path) -> Option<String> {
        for (f, sum) in &self.files {
            let path = dir.join(f);
            match std::fs::metadata(&path) {
                Err(e) => return Some(format!("{}: {e}", f.display())),
                Ok(m) if m.len() != sum.size => {
                    return Some(format!(
                        "{} is {} bytes, {} when extracted",
                        f.display(),
                        m.len(),
                        sum.size
                    ));
                }
                Ok(_) => {}
            }
            match sha256_file(&path) {
                Ok(s) if s == sum.sha256 => {}
                Ok(_) => return Some(format!("{} does not match its checksum", f.display())),
                Err(e) => return Some(e.to_string()),
            }
        }
        None
    }

    /// Writes `<dir>/kernel.json`.
    pub(crate) fn write(&self, dir: &Path) -> Result<(), KernelError> {
        let path = dir.join(MARKER);
        let text = serde_json::to_string_pretty(self).expect("marker serialises");
        std::fs::write(&path, text).map_err(|e| KernelError::io("writing", &path, e))
    }
}

/// Why a locked kernel cannot be used from the cache.
#[derive(Debug)]
pub(crate) enum Unusable {
    /// Not extracted (or not for the locked version); the reason.
    Missing(String),
    /// Extracted, but a file no longer matches its checksum.
    Damaged(String),
}

/// Checks the cache for a locked kernel: the marker must exist, list the
/// lock's sha256s, and the files it names must exist and match their sums.
pub(crate) fn check(
    catalog: &Catalog,
    name: &str,
    locked: &LockedKernel,
) -> Result<FetchedKernel, Unusable> {
    let dir = kernel_dir(catalog, name, &locked.release);
    let mut marker = Marker::read(&dir)
        .ok_or_else(|| Unusable::Missing("nothing extracted for the locked version".into()))?;
    let want: Vec<&str> = locked.packages.iter().map(|p| p.sha256.as_str()).collect();
    if marker.sha256.iter().map(String::as_str).ne(want) || marker.release != locked.release {
        return Err(Unusable::Missing(
            "cached packages differ from kernels.lock".into(),
        ));
    }
    let k = marker.to_fetched(&dir);
    if !dir.join(&marker.modules_dir).is_dir() {
        return Err(Unusable::Damaged(format!(
            "{} is missing",
            marker.modules_dir.display()
        )));
    }
    if marker.files.is_empty() {
        // Extracted before sums were kept: record them now.
        marker
            .record_sums(&dir)
            .map_err(|e| Unusable::Damaged(e.to_string()))?;
        let _ = marker.write(&dir);
    }
    match marker.damage(&dir) {
        Some(d) => Err(Unusable::Damaged(d)),
        None => Ok(k),
    }
}
