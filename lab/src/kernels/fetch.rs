//! `lab kernels fetch`: resolve (when needed), download with the private apt, verify
//! sha256, extract, cut the vmlinux, update the lock file.

use super::apt::{self, PackageRecord, PrivateApt};
use super::cache::{self, Marker};
use super::catalog::{Catalog, KernelEntry};
use super::compress::Format;
use super::error::KernelError;
use super::kernel::{BootKind, FetchedKernel};
use super::lock::{Lock, LockedKernel, LockedPackage};
use super::{deb, debver, vmlinux};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Where the machine's apt configuration lives (mirror discovery).
const ETC_APT: &str = "/etc/apt";

fn progress(msg: impl AsRef<str>) {
    eprintln!("{}", msg.as_ref());
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Fetches the named kernels (all when `names` is empty). Kernels without a (matching)
/// lock entry, or all of them with `update`, are resolved to the newest version in their
/// suite and the lock file is rewritten; otherwise the exact locked .debs are used and
/// checked against the lock's sha256. Already extracted kernels are not touched again.
/// With `force`, kernels are extracted again (from re-verified .debs) even
/// when the cache looks fine: the way to repair a damaged cache.
pub(crate) fn fetch<S: AsRef<str>>(
    catalog: &Catalog,
    names: &[S],
    update: bool,
    force: bool,
) -> anyhow::Result<Vec<FetchedKernel>> {
    let entries = catalog.select(names)?;
    let kcache = catalog.paths.kernels_cache();
    std::fs::create_dir_all(&kcache)
        .with_context(|| format!("creating cache dir {}", kcache.display()))?;
    let _guard = lock_cache(&kcache)?;
    // Another process may have updated the lock: start from the file.
    let mut lock = Lock::read(&catalog.paths.lock)?;
    let mut out = Vec::new();
    for entry in entries {
        if let Some(src) = &entry.local {
            progress(format!(
                "{}: a local kernel image, nothing to fetch",
                entry.name
            ));
            out.push(super::local::open_checked(
                &entry.name,
                src,
                &catalog.paths.cache,
            )?);
            continue;
        }
        let k = fetch_one(catalog, entry, (update, force), &mut lock)
            .with_context(|| format!("fetching kernel `{}`", entry.name))?;
        out.push(k);
    }
    catalog.set_lock(lock);
    Ok(out)
}

/// Holds an exclusive flock on `<kernels cache>/.lock` (waits for other fetchers).
fn lock_cache(kcache: &Path) -> anyhow::Result<nix::fcntl::Flock<std::fs::File>> {
    let path = kcache.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", path.display()))
}

fn fetch_one(
    catalog: &Catalog,
    entry: &KernelEntry,
    (update, force): (bool, bool),
    lock: &mut Lock,
) -> anyhow::Result<FetchedKernel> {
    let name = &entry.name;
    let mut apt: Option<PrivateApt> = None;
    let existing = lock
        .kernels
        .get(name)
        .filter(|l| entry.answered_by(l))
        .cloned();
    if let (Some(l), false, false) = (&existing, update, force)
        && let Ok(k) = cache::check(catalog, name, l)
    {
        progress(format!("{name}: {} already cached", l.release));
        return Ok(k);
    }
    let mut locked = match existing {
        Some(l) if !update => l,
        _ => {
            let a = private_apt(catalog, entry)?;
            progress(format!("{name}: apt-get update ({})", entry.suite));
            a.update()?;
            let mut l = resolve(&a, entry)?;
            if let Some(old) = existing.filter(|old| old.packages == l.packages) {
                l.release = old.release; // same debs: the extracted tree stays valid
            }
            progress(format!("{name}: resolved {} in {}", l.version, entry.suite));
            apt = Some(a);
            l
        }
    };
    let debs = download_all(catalog, entry, &locked, &mut apt)?;
    let kernel = extract(catalog, entry, &mut locked, &debs, force)?;
    if lock.kernels.get(name) != Some(&locked) {
        lock.kernels.insert(name.clone(), locked);
        // Entries of kernels no longer in the catalog are dropped on the way.
        lock.kernels
            .retain(|k, _| catalog.entries.iter().any(|e| &e.name == k));
        lock.write(&catalog.paths.lock)?;
        progress(format!("{name}: wrote {}", catalog.paths.lock.display()));
    }
    Ok(kernel)
}

fn private_apt(catalog: &Catalog, entry: &KernelEntry) -> Result<PrivateApt, KernelError> {
    let mirror = apt::resolve_mirror(entry.archive, &catalog.apt, Path::new(ETC_APT))?;
    PrivateApt::prepare(
        &catalog.paths.kernels_cache(),
        entry.archive,
        &entry.suite,
        &mirror,
        catalog.apt.keyring.as_deref(),
    )
}

/// Picks the newest version matching the first pattern and the same version of the others.
fn resolve(apt: &PrivateApt, entry: &KernelEntry) -> Result<LockedKernel, KernelError> {
    let first = &entry.packages[0];
    let prefix = first.split("{abi}").next().unwrap_or("");
    let names: Vec<String> = apt
        .pkgnames(prefix)?
        .into_iter()
        .filter(|n| entry.abi_of(first, n).is_some())
        .collect();
    let best = apt
        .show(&names)?
        .into_iter()
        .max_by(|a, b| debver::compare(&a.version, &b.version))
        .ok_or_else(|| KernelError::NoCandidate {
            name: entry.name.clone(),
            pattern: first.clone(),
            abi: entry.abi.clone(),
            suite: entry.suite.clone(),
        })?;
    let abi = entry
        .abi_of(first, &best.package)
        .expect("filtered above")
        .to_string();
    let mut packages = vec![locked_package(&best)];
    for pattern in &entry.packages[1..] {
        let pkg = KernelEntry::package_for(pattern, &abi);
        let rec = apt
            .show(std::slice::from_ref(&pkg))
            .unwrap_or_default()
            .into_iter()
            .find(|r| r.version == best.version)
            .ok_or_else(|| KernelError::MissingPackage {
                name: entry.name.clone(),
                package: pkg.clone(),
                version: best.version.clone(),
                suite: entry.suite.clone(),
            })?;
        packages.push(locked_package(&rec));
    }
    Ok(LockedKernel {
        suite: entry.suite.clone(),
        archive: entry.archive,
        release: String::new(), // known after extraction
        version: best.version.clone(),
        packages,
    })
}

fn locked_package(r: &PackageRecord) -> LockedPackage {
    LockedPackage {
        package: r.package.clone(),
        version: r.version.clone(),
        filename: r.deb_name().to_string(),
        size: r.size,
        sha256: r.sha256.clone(),
    }
}

/// Ensures every locked .deb is in `debs/` with the locked sha256.
fn download_all(
    catalog: &Catalog,
    entry: &KernelEntry,
    locked: &LockedKernel,
    apt: &mut Option<PrivateApt>,
) -> anyhow::Result<Vec<PathBuf>> {
    let dir = cache::debs_dir(catalog);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut paths = Vec::new();
    for p in &locked.packages {
        let path = dir.join(&p.filename);
        if path.is_file() && deb::sha256_file(&path)? == p.sha256 {
            paths.push(path);
            continue;
        }
        if apt.is_none() {
            *apt = Some(private_apt(catalog, entry)?);
        }
        let a = apt.as_ref().expect("set above");
        if !a.has_lists() {
            progress(format!("{}: apt-get update ({})", entry.name, entry.suite));
            a.update()?;
        }
        progress(format!(
            "fetching {}: apt-get download {}={} ({})",
            entry.name,
            p.package,
            p.version,
            mb(p.size)
        ));
        let _ = std::fs::remove_file(&path);
        if let Err(first) = a.download(&p.package, &p.version, &dir) {
            // Stale lists: refresh once, then decide whether the version is gone.
            progress(format!("{}: download failed, refreshing lists", entry.name));
            a.update()?;
            if let Err(e) = a.download(&p.package, &p.version, &dir) {
                let text = e.to_string();
                let gone = ["Can't find a source", "not found", "Unable to locate"]
                    .iter()
                    .any(|s| text.contains(s));
                return Err(if gone {
                    KernelError::VersionGone {
                        name: entry.name.clone(),
                        package: p.package.clone(),
                        version: p.version.clone(),
                        suite: entry.suite.clone(),
                    }
                    .into()
                } else {
                    anyhow::Error::from(e).context(format!("first attempt: {first}"))
                });
            }
        }
        if !path.is_file() {
            adopt_apt_name(&dir, p, &path)?;
        }
        let actual = deb::sha256_file(&path)?;
        if actual != p.sha256 {
            let _ = std::fs::remove_file(&path);
            return Err(KernelError::ChecksumMismatch {
                path,
                expected: p.sha256.clone(),
                actual,
            }
            .into());
        }
        paths.push(path);
    }
    Ok(paths)
}

/// apt names downloads `<pkg>_<version with ':' as %3a>_<arch>.deb`; rename to the lock's name.
fn adopt_apt_name(dir: &Path, p: &LockedPackage, want: &Path) -> anyhow::Result<()> {
    let prefix = format!("{}_{}_", p.package, p.version.replace(':', "%3a"));
    let found = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|f| {
            f.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .with_context(|| format!("apt-get download produced no file for {}", p.package))?;
    std::fs::rename(&found, want)?;
    Ok(())
}

/// Extracts the debs (unless the cache already matches) and fills `locked.release`.
fn extract(
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
    let tmp = base.join(format!(".tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    let root = tmp.join("root");
    for d in debs {
        crate::sys::signals::check()?;
        progress(format!(
            "{name}: extracting {}",
            d.file_name().unwrap_or_default().to_string_lossy()
        ));
        deb::extract_data(d, &root)?;
    }
    let tree = Tree::find(&root, name)?;
    let (boot_kind, image_rel, note) = cut_vmlinux(&root.join(&tree.bzimage), &tmp, name)?;
    locked.release = tree.release.clone();
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
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::rename(&tmp, &dir).with_context(|| format!("renaming to {}", dir.display()))?;
    progress(format!(
        "{name}: {} ready in {}",
        tree.release,
        dir.display()
    ));
    Ok(marker.to_fetched(&dir))
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
}
