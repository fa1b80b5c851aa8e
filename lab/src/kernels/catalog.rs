//! The kernel catalog `kernels/kernels.yaml`: named kernels and the Debian packages
//! that provide them, plus where the lock file and the download cache live.

use super::archive::Archive;
use super::error::KernelError;
use super::local::LocalSource;
use super::lock::{Lock, LockedKernel};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Environment variable overriding the cache root (default `<repo>/.cache`).
pub(crate) const CACHE_ENV: &str = "LAB_CACHE_DIR";

/// Optional apt overrides (`apt:` in kernels.yaml); environment variables take precedence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AptSettings {
    /// Debian archive URI (else `LAB_APT_MIRROR`, else the machine's apt sources).
    #[serde(default)]
    pub(crate) mirror: Option<String>,
    /// Debian security archive URI (else `LAB_APT_SECURITY_MIRROR`, else apt sources).
    #[serde(default)]
    pub(crate) security_mirror: Option<String>,
    /// Keyring used to verify the archives when the source names none.
    #[serde(default)]
    pub(crate) keyring: Option<PathBuf>,
}

/// One named kernel of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KernelEntry {
    /// Catalog name, e.g. `debian-6.12`.
    pub(crate) name: String,
    /// Human description.
    #[serde(default)]
    pub(crate) description: String,
    /// Debian suite to take the packages from, e.g. `bookworm-security`.
    #[serde(default)]
    pub(crate) suite: String,
    /// Archive serving that suite.
    #[serde(default = "default_archive")]
    pub(crate) archive: Archive,
    /// Glob (`*` wildcard) for the kernel ABI part of the package names, e.g. `6.12.*+deb12`.
    #[serde(default)]
    pub(crate) abi: String,
    /// Package name patterns containing `{abi}`; the first picks the newest matching
    /// version, the others must exist in that same version.
    #[serde(default)]
    pub(crate) packages: Vec<String>,
    /// The other kind of entry: a kernel the developer built, by path
    /// (no suite, abi or packages then).
    #[serde(default)]
    pub(crate) local: Option<LocalSource>,
}

fn default_archive() -> Archive {
    Archive::Debian
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    apt: AptSettings,
    kernels: Vec<KernelEntry>,
}

/// File locations used by a [`Catalog`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CatalogPaths {
    /// `kernels/kernels.yaml`.
    pub(crate) catalog: PathBuf,
    /// `kernels/kernels.lock`.
    pub(crate) lock: PathBuf,
    /// Cache root; kernels live under `<cache>/kernels/`.
    pub(crate) cache: PathBuf,
}

impl CatalogPaths {
    /// Default layout for a repository root (cache from `LAB_CACHE_DIR` or `<repo>/.cache`).
    pub(crate) fn for_repo(repo_root: &Path) -> Self {
        let cache = std::env::var_os(CACHE_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root.join(".cache"));
        Self {
            catalog: repo_root.join("kernels/kernels.yaml"),
            lock: repo_root.join("kernels/kernels.lock"),
            cache,
        }
    }

    /// `<cache>/kernels`.
    pub(crate) fn kernels_cache(&self) -> PathBuf {
        self.cache.join("kernels")
    }
}

/// The loaded catalog together with the current lock file contents.
#[derive(Debug)]
pub struct Catalog {
    /// Kernels in file order.
    pub(crate) entries: Vec<KernelEntry>,
    /// apt overrides from the catalog.
    pub(crate) apt: AptSettings,
    /// Where things live.
    pub(crate) paths: CatalogPaths,
    lock: Mutex<Lock>,
}

impl Catalog {
    /// Loads `<repo_root>/kernels/kernels.yaml` and, if present, `kernels.lock`.
    pub fn load(repo_root: &Path) -> Result<Self, KernelError> {
        Self::load_from(CatalogPaths::for_repo(repo_root))
    }

    /// Loads a catalog from explicit paths (tests, alternative layouts).
    pub(crate) fn load_from(paths: CatalogPaths) -> Result<Self, KernelError> {
        let text = std::fs::read_to_string(&paths.catalog)
            .map_err(|e| KernelError::io("reading", &paths.catalog, e))?;
        let (entries, apt) = parse_catalog(&text).map_err(|message| KernelError::Catalog {
            path: paths.catalog.clone(),
            message,
        })?;
        let lock = Lock::read(&paths.lock)?;
        let root = paths.catalog.parent().and_then(Path::parent);
        let entries = entries
            .into_iter()
            .map(|mut e| {
                if let (Some(l), Some(root)) = (&e.local, root) {
                    e.local = Some(l.rooted(root));
                }
                e
            })
            .collect();
        Ok(Self {
            entries,
            apt,
            paths,
            lock: Mutex::new(lock),
        })
    }

    /// The entry called `name`.
    pub(crate) fn entry(&self, name: &str) -> Result<&KernelEntry, KernelError> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| KernelError::UnknownKernel {
                name: name.to_string(),
                known: self.names(),
            })
    }

    /// Adds a developer's kernel (`--kernel-image`) as entry `name`, so
    /// that every command reaches it like a catalog kernel.
    pub(crate) fn add_local(&mut self, name: &str, src: LocalSource) -> Result<(), KernelError> {
        if self.entries.iter().any(|e| e.name == name) {
            return Err(KernelError::Catalog {
                path: self.paths.catalog.clone(),
                message: format!("`{name}` is taken: rename that entry to use --kernel-image"),
            });
        }
        self.entries.push(KernelEntry {
            name: name.to_string(),
            description: format!("kernel image {}", src.image.display()),
            suite: String::new(),
            archive: Archive::Debian,
            abi: String::new(),
            packages: Vec::new(),
            local: Some(src),
        });
        Ok(())
    }

    /// All catalog names in file order.
    pub fn names(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.name.clone()).collect()
    }

    /// Entries for `names` (all entries when `names` is empty); unknown names are errors.
    pub(crate) fn select<S: AsRef<str>>(
        &self,
        names: &[S],
    ) -> Result<Vec<&KernelEntry>, KernelError> {
        if names.is_empty() {
            return Ok(self.entries.iter().collect());
        }
        names.iter().map(|n| self.entry(n.as_ref())).collect()
    }

    /// The lock entry for `name`, if locked.
    pub(crate) fn locked(&self, name: &str) -> Option<LockedKernel> {
        self.lock_guard().kernels.get(name).cloned()
    }

    /// Replaces the in-memory lock (after it was written to disk).
    pub(crate) fn set_lock(&self, lock: Lock) {
        *self.lock_guard() = lock;
    }

    fn lock_guard(&self) -> MutexGuard<'_, Lock> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Parses and validates catalog YAML text.
pub(crate) fn parse_catalog(text: &str) -> Result<(Vec<KernelEntry>, AptSettings), String> {
    let file: CatalogFile = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    let mut seen = std::collections::HashSet::new();
    for e in &file.kernels {
        let valid_name = !e.name.is_empty()
            && e.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid_name {
            return Err(format!(
                "kernel name `{}` must be non-empty [A-Za-z0-9._-]",
                e.name
            ));
        }
        if !seen.insert(e.name.as_str()) {
            return Err(format!("kernel `{}` is listed twice", e.name));
        }
        if e.local.is_some() {
            if !e.suite.is_empty() || !e.abi.is_empty() || !e.packages.is_empty() {
                return Err(format!(
                    "kernel `{}`: a `local` entry takes no suite, abi or packages",
                    e.name
                ));
            }
            continue;
        }
        if e.suite.trim().is_empty() || e.abi.trim().is_empty() {
            return Err(format!("kernel `{}`: suite and abi must be set", e.name));
        }
        if e.packages.is_empty() {
            return Err(format!("kernel `{}`: packages must not be empty", e.name));
        }
        if let Some(p) = e.packages.iter().find(|p| !p.contains("{abi}")) {
            return Err(format!(
                "kernel `{}`: package pattern `{p}` must contain {{abi}}",
                e.name
            ));
        }
    }
    Ok((file.kernels, file.apt))
}

impl KernelEntry {
    /// The package name for pattern `pattern` with `{abi}` replaced.
    pub(crate) fn package_for(pattern: &str, abi: &str) -> String {
        pattern.replace("{abi}", abi)
    }

    /// Whether `locked` still answers this entry (same suite, archive and
    /// one package per pattern, matching it); if not, the kernel must be
    /// re-resolved.
    pub(crate) fn answered_by(&self, locked: &LockedKernel) -> bool {
        locked.suite == self.suite
            && locked.archive == self.archive
            && locked.packages.len() == self.packages.len()
            && locked
                .packages
                .iter()
                .zip(&self.packages)
                .all(|(p, pat)| self.abi_of(pat, &p.package).is_some())
    }

    /// If `package` matches `pattern` with an abi matching this entry's glob, that abi.
    pub(crate) fn abi_of<'p>(&self, pattern: &str, package: &'p str) -> Option<&'p str> {
        let (pre, post) = pattern.split_once("{abi}")?;
        let abi = package.strip_prefix(pre)?.strip_suffix(post)?;
        (!abi.is_empty() && glob_match(&self.abi, abi)).then_some(abi)
    }
}

/// Matches `text` against a glob where `*` is any (possibly empty) run of characters.
pub(crate) fn glob_match(glob: &str, text: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    if parts.len() == 1 {
        return glob == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "
kernels:
  - name: k1
    description: test
    suite: bookworm-security
    archive: debian-security
    abi: '6.12.*+deb12'
    packages: ['linux-image-{abi}-cloud-amd64-unsigned']
  - name: k2
    suite: sid
    abi: '7.*'
    packages: ['linux-binary-{abi}-cloud-amd64', 'linux-modules-{abi}-cloud-amd64']
";

    #[test]
    fn parses_and_validates() {
        let (e, apt) = parse_catalog(YAML).unwrap();
        assert_eq!(apt, AptSettings::default());
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].archive, Archive::DebianSecurity);
        assert_eq!(e[1].archive, Archive::Debian);
        assert_eq!(
            e[0].abi_of(
                &e[0].packages[0],
                "linux-image-6.12.117+deb12-cloud-amd64-unsigned"
            ),
            Some("6.12.117+deb12")
        );
        assert_eq!(
            e[0].abi_of(
                &e[0].packages[0],
                "linux-image-6.1.0-47-cloud-amd64-unsigned"
            ),
            None
        );
        assert_eq!(
            KernelEntry::package_for(&e[1].packages[1], "7.3.4+deb13"),
            "linux-modules-7.3.4+deb13-cloud-amd64"
        );
    }

    #[test]
    fn rejects_bad_catalogs() {
        let dup =
            format!("{YAML}  - name: k1\n    suite: s\n    abi: a\n    packages: ['x{{abi}}']\n");
        assert!(parse_catalog(&dup).unwrap_err().contains("twice"));
        let nopat = YAML.replace("linux-binary-{abi}", "linux-binary");
        assert!(parse_catalog(&nopat).unwrap_err().contains("{abi}"));
        let unknown = YAML.replace("description: test", "descr: test");
        let err = parse_catalog(&unknown).unwrap_err();
        assert!(err.contains("descr"), "{err}");
    }

    #[test]
    fn local_entries() {
        let local = format!(
            "{YAML}  - name: mine\n    local: {{ image: build/bzImage, modules: build }}\n"
        );
        let (e, _) = parse_catalog(&local).unwrap();
        let src = e[2].local.as_ref().unwrap();
        assert_eq!(src.image, Path::new("build/bzImage"));
        assert_eq!(src.config, None);
        let mixed = local.replace("    local:", "    suite: sid\n    local:");
        let err = parse_catalog(&mixed).unwrap_err();
        assert!(err.contains("takes no suite"), "{err}");
        let typo = local.replace("modules: build", "module: build");
        assert!(parse_catalog(&typo).unwrap_err().contains("module"));
    }

    #[test]
    fn globbing() {
        assert!(glob_match("6.12.*+deb12", "6.12.117+deb12"));
        assert!(!glob_match("6.12.*+deb12", "6.12.117+deb13"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(!glob_match("a*b*c", "aXcYb"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("ab*ba", "aba"));
    }
}
