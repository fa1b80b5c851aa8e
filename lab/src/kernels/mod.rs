//! Kernel catalog: `kernels/kernels.yaml`, the lock file, downloads and extraction.
//!
//! * [`Catalog::load`] reads the catalog and `kernels/kernels.lock`.
//! * [`fetch`] resolves/downloads/extracts kernels through a private apt instance
//!   (mirror from `LAB_APT_MIRROR` / `LAB_APT_SECURITY_MIRROR`, `apt:` in the catalog, or
//!   the machine's apt sources) into `<cache>/kernels/` (`LAB_CACHE_DIR`, default
//!   `<repo>/.cache`).
//! * [`cached`] returns an already fetched kernel or [`KernelError::NotCached`].
//! * [`modules::resolve`] turns module names into load-ordered module bytes.
//! * A `local:` entry (or `--kernel-image`) is a kernel the developer built:
//!   [`local`] opens it and [`requirements`] checks its config first.

mod apt;
mod archive;
mod cache;
mod catalog;
mod compress;
mod deb;
mod debver;
pub(crate) mod elf;
mod error;
mod extract;
mod fetch;
mod image_check;
pub(crate) mod input;
mod kernel;
mod local;
mod lock;
pub(crate) mod modules;
mod progress;
mod requirements;
mod sources;
mod vmlinux;

pub use catalog::Catalog;
pub use error::KernelError;
pub(crate) use fetch::fetch;
pub(crate) use kernel::{FetchedKernel, KernelListing};
pub(crate) use local::{LOCAL_NAME, LocalSource};

/// Lists catalog kernels with their lock and cache state.
pub(crate) fn list(catalog: &Catalog) -> Vec<KernelListing> {
    catalog
        .entries
        .iter()
        .map(|e| {
            if let Some(src) = &e.local {
                return local::listing(&e.name, src);
            }
            let locked = catalog.locked(&e.name).filter(|l| e.answered_by(l));
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
pub(crate) fn cached(catalog: &Catalog, name: &str) -> Result<FetchedKernel, KernelError> {
    let entry = catalog.entry(name)?;
    if let Some(src) = &entry.local {
        return local::open_checked(name, src, &catalog.paths.cache);
    }
    let not_cached = |detail: Option<String>| KernelError::NotCached {
        name: name.to_string(),
        detail,
    };
    let locked = catalog
        .locked(name)
        .ok_or_else(|| not_cached(Some("no entry in kernels/kernels.lock".into())))?;
    if !entry.answered_by(&locked) {
        return Err(not_cached(Some(
            "the catalog entry changed since it was locked".into(),
        )));
    }
    cache::check(catalog, name, &locked).map_err(|u| match u {
        cache::Unusable::Missing(d) => not_cached(Some(d)),
        cache::Unusable::Damaged(detail) => KernelError::Damaged {
            name: name.to_string(),
            detail,
        },
    })
}

#[cfg(test)]
mod tests;
