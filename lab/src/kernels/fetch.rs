//! `lab kernels fetch`: resolve (when needed), download with the private apt, verify
//! sha256, extract, cut the vmlinux, update the lock file.

use super::apt::{self, PackageRecord, PrivateApt};
use super::cache;
use super::catalog::{Catalog, KernelEntry};
use super::error::KernelError;
use super::extract::extract;
use super::kernel::FetchedKernel;
use super::lock::{Lock, LockedKernel, LockedPackage};
use super::progress::{mb, progress};
use super::{deb, debver};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Where the machine's apt configuration lives (mirror discovery).
const ETC_APT: &str = "/etc/apt";

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
