//! The repository the lab runs in, and its kernel catalog.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::kernels::Catalog;
use crate::target::{self, Backend, Target};
use crate::vm::VmOptions;

/// The repository root: the nearest ancestor of the working directory with
/// `kernels/kernels.yaml`.
pub(crate) fn repo_root() -> Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    cwd.ancestors()
        .find(|d| d.join("kernels/kernels.yaml").is_file())
        .map(Path::to_path_buf)
        .with_context(|| {
            format!(
                "no kernels/kernels.yaml in {} or its parents: run lab from the repository",
                cwd.display()
            )
        })
}

/// The kernel catalog of the repository.
pub(crate) fn catalog() -> Result<Catalog> {
    Ok(Catalog::load(&repo_root()?)?)
}

/// Opens the target of `--backend`/`--kernel` (the catalog only when a
/// VM needs it).
pub(crate) fn open_target(backend: Backend, kernel: Option<&str>, vm: VmOptions) -> Result<Target> {
    let catalog = match backend {
        Backend::Host => None,
        _ => Some(catalog()?),
    };
    target::open(backend, kernel, catalog.as_ref(), vm)
}
