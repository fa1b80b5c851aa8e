//! Extracting a catalog kernel's debs into the cache. The files go to a
//! temporary sibling folder, Ctrl-C and SIGTERM are polled between them,
//! and the finished folder takes the old one's place only at the end: an
//! interrupted `lab kernels fetch --force` leaves the old extraction as it
//! was.

use super::cache::{self, Marker};
use super::catalog::{Catalog, KernelEntry};
use super::compress::Format;
use super::error::KernelError;
use super::kernel::{BootKind, FetchedKernel};
use super::lock::LockedKernel;
use super::progress::{mb, progress};
use super::{deb, vmlinux};
use crate::sys::signals;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Extracts the debs (unless the cache already matches) and fills `locked.release`.
pub(crate) fn extract(
    catalog: &Catalog,
    entry: &KernelEntry,
    locked: &mut LockedKernel,
    debs: &[PathBuf],
    force: bool,
) -> anyhow::Result<FetchedKernel> {
    let name = &entry.name;
    let base = catalog.paths.kernels_cache().join(name);
    if locked.release.is_empty() {
        reuse_previous(&base, locked);
    }
    if !locked.release.is_empty()
        && !force
        && let Ok(k) = cache::check(catalog, name, locked)
    {
        progress(format!("{name}: {} already extracted", locked.release));
        return Ok(k);
    }
    let staging = Staging::new(base.join(format!(".tmp-{}", std::process::id())))?;
    let tmp = staging.path.clone();
    let root = tmp.join("root");
    for d in debs {
        signals::check()?;
        progress(format!(
            "{name}: extracting {}",
            d.file_name().unwrap_or_default().to_string_lossy()
        ));
        deb::extract_data(d, &root)?;
    }
    signals::check()?;
    let tree = Tree::find(&root, name)?;
    let (boot_kind, image_rel, note) = cut_vmlinux(&root.join(&tree.bzimage), &tmp, name)?;
    signals::check()?;
    let mut marker = Marker {
        name: name.clone(),
        release: tree.release.clone(),
        package_version: locked.version.clone(),
        sha256: locked.packages.iter().map(|p| p.sha256.clone()).collect(),
        boot_kind,
        kernel_image: image_rel.unwrap_or_else(|| Path::new("root").join(&tree.bzimage)),
        bzimage: Path::new("root").join(&tree.bzimage),
        modules_dir: Path::new("root").join(&tree.modules),
        config: tree.config.map(|c| Path::new("root").join(c)),
        vmlinux_note: note,
        files: Default::default(),
    };
    marker.record_sums(&tmp)?;
    marker.write(&tmp)?;
    let dir = cache::kernel_dir(catalog, name, &tree.release);
    // The last moment to stop: until here the old extraction is untouched.
    signals::check()?;
    staging.commit(&dir)?;
    locked.release = tree.release.clone();
    progress(format!(
        "{name}: {} ready in {}",
        tree.release,
        dir.display()
    ));
    Ok(marker.to_fetched(&dir))
}

/// A folder being filled next to where it belongs; removed when dropped,
/// unless [`Staging::commit`] moved it into place.
struct Staging {
    path: PathBuf,
    moved: bool,
}

impl Staging {
    /// Starts `path` afresh (a leftover of a killed fetch with our pid is removed).
    fn new(path: PathBuf) -> Result<Self, KernelError> {
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| KernelError::io("removing", &path, e))?;
        }
        Ok(Self { path, moved: false })
    }

    /// Puts the folder in place of `dir`. An existing `dir` is exchanged
    /// with it atomically (a reader sees the old or the new tree, never
    /// none) and then removed with this guard.
    fn commit(mut self, dir: &Path) -> anyhow::Result<()> {
        if dir.exists() {
            use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
            renameat2(
                AT_FDCWD,
                &self.path,
                AT_FDCWD,
                dir,
                RenameFlags::RENAME_EXCHANGE,
            )
            .with_context(|| {
                format!("exchanging {} with {}", self.path.display(), dir.display())
            })?;
        } else {
            std::fs::rename(&self.path, dir)
                .with_context(|| format!("renaming to {}", dir.display()))?;
            self.moved = true;
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.moved {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A freshly resolved kernel whose very same debs were extracted earlier
/// can reuse that extraction: takes its release.
fn reuse_previous(base: &Path, locked: &mut LockedKernel) {
    let want: Vec<&str> = locked.packages.iter().map(|p| p.sha256.as_str()).collect();
    let previous = std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Marker::read(&e.path()))
        .find(|m| m.sha256.iter().map(String::as_str).eq(want.iter().copied()));
    if let Some(m) = previous {
        locked.release = m.release;
    }
}

/// Where an extracted kernel tree keeps its parts (paths relative to the
/// tree's root).
struct Tree {
    release: String,
    modules: PathBuf,
    bzimage: PathBuf,
    config: Option<PathBuf>,
}

impl Tree {
    fn find(root: &Path, name: &str) -> Result<Self, KernelError> {
        let (release, modules) = find_release(root).ok_or_else(|| KernelError::Layout {
            name: name.to_string(),
            message: "no single lib/modules/<release> or usr/lib/modules/<release> directory"
                .into(),
        })?;
        let bzimage = [
            modules.join("vmlinuz"),
            PathBuf::from(format!("boot/vmlinuz-{release}")),
        ]
        .into_iter()
        .find(|p| root.join(p).is_file())
        .ok_or_else(|| KernelError::Layout {
            name: name.to_string(),
            message: format!("no vmlinuz for {release}"),
        })?;
        let config = [
            modules.join("config"),
            PathBuf::from(format!("boot/config-{release}")),
        ]
        .into_iter()
        .find(|p| root.join(p).is_file());
        Ok(Self {
            release,
            modules,
            bzimage,
            config,
        })
    }
}

/// Cuts the ELF vmlinux out of the bzImage at `bz_path` into
/// `dir/vmlinux` for PVH boot. Returns the boot kind, the image to boot
/// (relative to `dir`; `None`: the bzImage) and why there is no ELF.
fn cut_vmlinux(
    bz_path: &Path,
    dir: &Path,
    name: &str,
) -> anyhow::Result<(BootKind, Option<PathBuf>, Option<String>)> {
    let bz = std::fs::read(bz_path).with_context(|| format!("reading {}", bz_path.display()))?;
    match vmlinux::extract(&bz) {
        Ok((elf, format)) => {
            let p = dir.join("vmlinux");
            std::fs::write(&p, &elf).with_context(|| format!("writing {}", p.display()))?;
            progress(format!(
                "{name}: vmlinux ({}, PVH) cut from the {} bzImage",
                mb(elf.len() as u64),
                match format {
                    Format::Xz => "xz",
                    _ => "zstd",
                }
            ));
            Ok((BootKind::Elf, Some(PathBuf::from("vmlinux")), None))
        }
        Err(e) => {
            progress(format!("{name}: no vmlinux ({e}); will boot the bzImage"));
            Ok((BootKind::BzImage, None, Some(e.to_string())))
        }
    }
}

/// Finds the only `lib/modules/<release>` (or `usr/lib/modules/<release>`) directory.
fn find_release(root: &Path) -> Option<(String, PathBuf)> {
    let mut found = Vec::new();
    for base in ["usr/lib/modules", "lib/modules"] {
        let Ok(rd) = std::fs::read_dir(root.join(base)) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let rel = Path::new(base).join(e.file_name());
                found.push((e.file_name().to_string_lossy().into_owned(), rel));
            }
        }
    }
    found.dedup_by(|a, b| a.0 == b.0);
    (found.len() == 1).then(|| found.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_release_in_both_layouts() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("lib/modules/6.12.1-cloud/kernel")).unwrap();
        assert_eq!(
            find_release(d.path()),
            Some((
                "6.12.1-cloud".into(),
                PathBuf::from("lib/modules/6.12.1-cloud")
            ))
        );
        std::fs::create_dir_all(d.path().join("usr/lib/modules/7.3-cloud")).unwrap();
        assert_eq!(find_release(d.path()), None, "two releases are ambiguous");
    }

    #[test]
    fn staging_is_removed_unless_committed() {
        let d = tempfile::tempdir().unwrap();
        let (tmp, dir) = (d.path().join(".tmp"), d.path().join("6.1"));
        let s = Staging::new(tmp.clone()).unwrap();
        std::fs::create_dir_all(tmp.join("root")).unwrap();
        drop(s);
        assert!(!tmp.exists(), "an abandoned extraction is removed");

        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("old"), b"").unwrap();
        let s = Staging::new(tmp.clone()).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("new"), b"").unwrap();
        s.commit(&dir).unwrap();
        assert!(dir.join("new").exists() && !dir.join("old").exists());
        assert!(!tmp.exists(), "the old tree is removed");
    }
}
