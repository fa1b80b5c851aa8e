//! Kernel catalog: `kernels/kernels.yaml`, the lock file, downloads and extraction.
//!
//! * [`Catalog::load`] reads the catalog and `kernels/kernels.lock`.
//! * [`fetch`] resolves/downloads/extracts kernels through a private apt instance
//!   (mirror from `LAB_APT_MIRROR` / `LAB_APT_SECURITY_MIRROR`, `apt:` in the catalog, or
//!   the machine's apt sources) into `<cache>/kernels/` (`LAB_CACHE_DIR`, default
//!   `<repo>/.cache`).
//! * [`cached`] returns an already fetched kernel or [`KernelError::NotCached`].
//! * [`modules::resolve`] turns module names into load-ordered module bytes.

mod apt;
mod cache;
mod catalog;
mod compress;
mod deb;
mod debver;
mod elf;
mod error;
mod fetch;
mod lock;
pub mod modules;
mod sources;
mod vmlinux;

pub use apt::{MIRROR_ENV, SECURITY_MIRROR_ENV};
pub use catalog::{AptSettings, Archive, CACHE_ENV, Catalog, CatalogPaths, KernelEntry};
pub use error::KernelError;
pub use fetch::fetch;
pub use lock::{LOCK_FORMAT, Lock, LockedKernel, LockedPackage};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How QEMU should boot [`FetchedKernel::kernel_image`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BootKind {
    /// Uncompressed ELF vmlinux with a PVH entry note (`-kernel vmlinux`, PVH boot).
    Elf,
    /// Compressed bzImage (`-kernel vmlinuz`, Linux boot protocol).
    BzImage,
}

/// A kernel that is downloaded and extracted in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedKernel {
    /// Catalog name, e.g. `debian-6.12`.
    pub name: String,
    /// Kernel release (`uname -r`), e.g. `6.12.117+deb12-cloud-amd64`.
    pub version: String,
    /// Debian package version, e.g. `6.12.117-1~deb12u1`.
    pub package_version: String,
    /// Image to pass to `-kernel`: the ELF vmlinux if available, else the bzImage.
    pub kernel_image: PathBuf,
    /// What `kernel_image` is.
    pub boot_kind: BootKind,
    /// The original bzImage (always present).
    pub bzimage: PathBuf,
    /// `…/lib/modules/<release>` of the extracted tree.
    pub modules_dir: PathBuf,
    /// The kernel's `.config`, if the packages ship it.
    pub config: Option<PathBuf>,
    /// Why no ELF vmlinux could be produced, when `boot_kind` is `BzImage`.
    pub vmlinux_note: Option<String>,
}

impl FetchedKernel {
    /// Raw value of a config option (`y`, `m`, `"str"`, `123`); `None` if there is no
    /// config file or the option is unset.
    pub fn config_value(&self, option: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.config.as_ref()?).ok()?;
        config_lookup(&text, option)
    }

    /// Whether `option` (e.g. `CONFIG_VETH`) is enabled as built-in or module; `None`
    /// when the kernel ships no config.
    pub fn config_has(&self, option: &str) -> Option<bool> {
        let text = std::fs::read_to_string(self.config.as_ref()?).ok()?;
        Some(matches!(
            config_lookup(&text, option).as_deref(),
            Some("y" | "m")
        ))
    }
}

/// Looks `option` up in kconfig text (`CONFIG_X=v`; `# CONFIG_X is not set` = unset).
fn config_lookup(text: &str, option: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(option)
            .and_then(|r| r.strip_prefix('='))
            .map(str::to_string)
    })
}

/// One line of `lab kernels list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelListing {
    /// Catalog name.
    pub name: String,
    /// Debian suite.
    pub suite: String,
    /// Catalog description.
    pub description: String,
    /// Locked Debian package version, if locked.
    pub locked_version: Option<String>,
    /// Locked kernel release (`uname -r`), if locked.
    pub release: Option<String>,
    /// Whether the locked version is extracted in the cache.
    pub cached: bool,
}

/// Lists catalog kernels with their lock and cache state.
pub fn list(catalog: &Catalog) -> Vec<KernelListing> {
    catalog
        .entries
        .iter()
        .map(|e| {
            let locked = catalog.locked(&e.name).filter(|l| l.matches(e));
            KernelListing {
                name: e.name.clone(),
                suite: e.suite.clone(),
                description: e.description.clone(),
                cached: locked
                    .as_ref()
                    .is_some_and(|l| cache::check(catalog, &e.name, l).is_ok()),
                locked_version: locked.as_ref().map(|l| l.version.clone()),
                release: locked.map(|l| l.release),
            }
        })
        .collect()
}

/// The cached kernel `name` at its locked version, without any network access.
/// Fails with [`KernelError::NotCached`] when it has not been fetched (or the cache does
/// not match the lock), [`KernelError::UnknownKernel`] for names not in the catalog.
pub fn cached(catalog: &Catalog, name: &str) -> Result<FetchedKernel, KernelError> {
    let entry = catalog.entry(name)?;
    let not_cached = |detail: Option<String>| KernelError::NotCached {
        name: name.to_string(),
        detail,
    };
    let locked = catalog
        .locked(name)
        .ok_or_else(|| not_cached(Some("no entry in kernels/kernels.lock".into())))?;
    if !locked.matches(entry) {
        return Err(not_cached(Some(
            "the catalog entry changed since it was locked".into(),
        )));
    }
    cache::check(catalog, name, &locked).map_err(|d| not_cached(Some(d)))
}

#[cfg(test)]
mod tests;
