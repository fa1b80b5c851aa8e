//! `lab kernels list|fetch`: the catalog and its cache.

use anyhow::Result;

use super::args::KernelsCommand;
use crate::kernels;
use crate::output::exit;

pub(crate) fn kernels(command: KernelsCommand) -> Result<i32> {
    let catalog = super::repo::catalog()?;
    match command {
        KernelsCommand::List => {
            println!(
                "{:<14} {:<20} {:<28} {:<8} release",
                "name", "suite", "locked version", "cached"
            );
            for k in kernels::list(&catalog) {
                println!(
                    "{:<14} {:<20} {:<28} {:<8} {}",
                    k.name,
                    k.suite,
                    k.locked_version.as_deref().unwrap_or("-"),
                    if k.cached { "yes" } else { "no" },
                    k.release.as_deref().unwrap_or("-")
                );
            }
        }
        KernelsCommand::Fetch {
            update,
            force,
            names,
        } => {
            for k in kernels::fetch(&catalog, &names, update, force)? {
                println!(
                    "{}: {} ({:?}) in {}",
                    k.name,
                    k.version,
                    k.boot_kind,
                    k.kernel_image.display()
                );
            }
        }
    }
    Ok(exit::PASS)
}
