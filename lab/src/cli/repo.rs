//! The repository the lab runs in, and its kernel catalog.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::args::ImageArgs;
use crate::kernels::{Catalog, LOCAL_NAME};
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

/// The catalog with the developer's `--kernel-image` added (as
/// [`LOCAL_NAME`]), when one was given.
pub(crate) fn catalog_with(image: &ImageArgs) -> Result<Catalog> {
    let mut c = catalog()?;
    if let Some(src) = image.source() {
        c.add_local(LOCAL_NAME, src)?;
    }
    Ok(c)
}

/// Opens the target of `--backend`/`--kernel`/`--kernel-image` (the
/// catalog only when a VM needs it).
pub(crate) fn open_target(
    backend: Backend,
    kernel: Option<&str>,
    image: &ImageArgs,
    vm: VmOptions,
) -> Result<Target> {
    let catalog = match backend {
        Backend::Host if image.kernel_image.is_none() => None,
        _ => Some(catalog_with(image)?),
    };
    let kernel = match image.kernel_image {
        Some(_) => Some(LOCAL_NAME),
        None => kernel,
    };
    target::open(backend, kernel, catalog.as_ref(), vm)
}
