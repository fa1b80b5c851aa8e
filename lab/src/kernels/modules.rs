//! Kernel module resolution for an extracted modules tree (which has no `modules.dep`):
//! find `.ko[.xz|.zst]` files by name, follow each module's `.modinfo` `depends=` (and
//! `softdep=pre:`), and return decompressed, optionally signature-stripped bytes in load
//! order (dependencies first), ready for `finit_module`/`init_module`.

use super::compress::{self, Format};
use super::elf::Elf;
use super::input::{self, InputError, MAX_MODULE_BYTES};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Module-resolution failures.
#[derive(Debug, Error)]
pub(crate) enum ModuleError {
    /// Reading the tree or a module file failed.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file of the tree that is not read: a FIFO, a device, too large.
    #[error("reading {}: {message}", path.display())]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A module file is not a valid (compressed) ELF with `.modinfo`.
    #[error("module {}: {message}", path.display())]
    BadModule {
        /// The module file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A found module depends on a module that is neither a file nor built in.
    #[error("module `{module}` depends on `{dependency}`, which is not in {}", dir.display())]
    MissingDependency {
        /// The dependent module.
        module: String,
        /// The missing dependency.
        dependency: String,
        /// The modules tree searched.
        dir: PathBuf,
    },
    /// A dependency cycle (should not happen in a real kernel).
    #[error("module dependency cycle through `{0}`")]
    Cycle(String),
    /// Requested modules absent (returned by [`Resolution::require`]).
    #[error("kernel modules not found (neither .ko nor built in): {}", .0.join(", "))]
    NotFound(Vec<String>),
}

/// Canonical module name: `-` and `_` are equivalent, `_` is canonical.
pub(crate) fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// Module name of a file name like `aesni-intel.ko.xz` (`None` if not a module file).
pub(crate) fn module_name_of(file_name: &str) -> Option<String> {
    let stem = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .find_map(|suffix| file_name.strip_suffix(suffix))?;
    (!stem.is_empty()).then(|| normalize(stem))
}

/// Parsed `.modinfo` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ModInfo {
    /// All `key=value` pairs in section order.
    pub(crate) fields: Vec<(String, String)>,
}

impl ModInfo {
    /// Parses the NUL-separated `key=value` strings of a `.modinfo` section.
    pub(crate) fn parse(section: &[u8]) -> Self {
        let fields = section
            .split(|&b| b == 0)
            .filter_map(|s| {
                let s = String::from_utf8_lossy(s);
                let (k, v) = s.split_once('=')?;
                Some((k.to_string(), v.to_string()))
            })
            .collect();
        Self { fields }
    }

    /// First value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Hard dependencies (`depends=`, comma separated), normalised.
    pub(crate) fn depends(&self) -> Vec<String> {
        self.get("depends")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(normalize)
            .collect()
    }

    /// Soft pre-dependencies (`softdep=pre: a b post: c` → `[a, b]`), normalised.
    pub(crate) fn softdeps_pre(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (_, v) in self.fields.iter().filter(|(k, _)| k == "softdep") {
            let mut pre = false;
            for word in v.split_whitespace() {
                match word {
                    "pre:" => pre = true,
                    "post:" => pre = false,
                    w if pre => out.push(normalize(w)),
                    _ => {}
                }
            }
        }
        out
    }
}

/// Reads the `.modinfo` of an uncompressed module image.
pub(crate) fn modinfo(elf: &[u8]) -> Result<ModInfo, String> {
    let parsed = Elf::parse(elf).map_err(|e| e.to_string())?;
    let section = parsed
        .section(".modinfo")
        .map_err(|e| e.to_string())?
        .ok_or("no .modinfo section")?;
    Ok(ModInfo::parse(section))
}

/// Trailer of an appended module signature.
pub(crate) const SIGNATURE_MAGIC: &[u8] = b"~Module signature appended~\n";

/// Removes an appended module signature in place; returns whether one was removed.
/// Layout: `<module><signature><struct module_signature (12 bytes)><magic>`, where the
/// struct's last 4 bytes are the big-endian signature length.
pub(crate) fn strip_signature(bytes: &mut Vec<u8>) -> bool {
    let Some(body) = bytes.strip_suffix(SIGNATURE_MAGIC) else {
        return false;
    };
    let Some(info) = body.len().checked_sub(12).map(|i| &body[i..]) else {
        return false;
    };
    let sig_len = u32::from_be_bytes(info[8..12].try_into().expect("4 bytes")) as usize;
    match body.len().checked_sub(12 + sig_len) {
        Some(new_len) => {
            bytes.truncate(new_len);
            true
        }
        None => false,
    }
}

/// A file of the tree that [`input::read`] refused.
fn refused(path: &Path, e: InputError) -> ModuleError {
    match e {
        InputError::Io(source) => ModuleError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => ModuleError::Refused {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    }
}

/// Reads a module file, decompressing `.xz`/`.zst` by magic.
pub(crate) fn read_module(path: &Path) -> Result<Vec<u8>, ModuleError> {
    let raw = input::read(path, MAX_MODULE_BYTES).map_err(|e| refused(path, e))?;
    match Format::detect(&raw) {
        Format::None => Ok(raw),
        _ => compress::decompress(&raw).map_err(|e| ModuleError::BadModule {
            path: path.to_path_buf(),
            message: format!("decompressing: {e}"),
        }),
    }
}

/// Module files of a tree by canonical name, plus `modules.builtin`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModuleIndex {
    /// The modules directory (`…/lib/modules/<release>`).
    pub(crate) dir: PathBuf,
    files: HashMap<String, PathBuf>,
    builtin: HashSet<String>,
}

impl ModuleIndex {
    /// Walks `dir` for module files and reads `modules.builtin` if present.
    pub(crate) fn scan(dir: &Path) -> Result<Self, ModuleError> {
        let mut files = HashMap::new();
        let mut stack = vec![dir.to_path_buf()];
        let io = |path: &Path, source| ModuleError::Io {
            path: path.to_path_buf(),
            source,
        };
        while let Some(d) = stack.pop() {
            let mut entries: Vec<_> = std::fs::read_dir(&d)
                .map_err(|e| io(&d, e))?
                .collect::<Result<_, _>>()
                .map_err(|e| io(&d, e))?;
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let ft = e.file_type().map_err(|err| io(&e.path(), err))?;
                if ft.is_dir() {
                    stack.push(e.path());
                } else if let Some(name) = e.file_name().to_str().and_then(module_name_of) {
                    if !ft.is_file() {
                        // A FIFO would block the read, a device never end it.
                        input::check(&e.path(), MAX_MODULE_BYTES)
                            .map_err(|err| refused(&e.path(), err))?;
                    }
                    files.entry(name).or_insert_with(|| e.path());
                }
            }
        }
        let builtin_path = dir.join("modules.builtin");
        let builtin = match input::read_text(&builtin_path, MAX_MODULE_BYTES) {
            Ok(t) => t
                .lines()
                .filter_map(|l| l.rsplit('/').next().and_then(module_name_of))
                .collect(),
            Err(InputError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => HashSet::new(),
            Err(e) => return Err(refused(&builtin_path, e)),
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            files,
            builtin,
        })
    }

    /// Path of module `name` (`-`/`_` insensitive).
    pub(crate) fn path(&self, name: &str) -> Option<&Path> {
        self.files.get(&normalize(name)).map(PathBuf::as_path)
    }

    /// Whether `name` is listed in `modules.builtin`.
    pub(crate) fn is_builtin(&self, name: &str) -> bool {
        self.builtin.contains(&normalize(name))
    }
}

/// A module ready to load.
#[derive(Debug, Clone)]
pub(crate) struct ModuleFile {
    /// Canonical name (`aesni_intel`).
    pub(crate) name: String,
    /// Uncompressed ELF bytes (signature removed if requested and present).
    pub(crate) bytes: Vec<u8>,
    /// Its hard dependencies (canonical names), for the resolver's tests.
    #[cfg(test)]
    pub(crate) depends: Vec<String>,
    /// Whether an appended signature was removed, for the resolver's tests.
    #[cfg(test)]
    pub(crate) signature_stripped: bool,
}

/// Result of [`resolve`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolution {
    /// Modules in load order: every module after its dependencies.
    pub(crate) modules: Vec<ModuleFile>,
    /// Requested names that are built into the kernel (nothing to load).
    pub(crate) builtin: Vec<String>,
    /// Requested names that are neither files nor built in; the caller decides whether
    /// that is fatal (see [`Resolution::require`]).
    pub(crate) not_found: Vec<String>,
}

impl Resolution {
    /// Errors if any of `required` is in [`Resolution::not_found`].
    pub(crate) fn require(&self, required: &[&str]) -> Result<(), ModuleError> {
        let missing: Vec<String> = required
            .iter()
            .map(|r| normalize(r))
            .filter(|r| self.not_found.contains(r))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ModuleError::NotFound(missing))
        }
    }

    /// Names in load order.
    #[cfg(test)]
    pub(crate) fn names(&self) -> Vec<&str> {
        self.modules.iter().map(|m| m.name.as_str()).collect()
    }
}

/// Options for [`resolve_with`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResolveOptions {
    /// Remove appended signatures (faster loading; the kernel then taints itself).
    pub(crate) strip_signatures: bool,
    /// Also load `softdep=pre:` modules that exist in the tree (as modprobe does).
    pub(crate) softdeps: bool,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        Self {
            strip_signatures: true,
            softdeps: true,
        }
    }
}

/// [`resolve_with`] using default options (strip signatures, follow pre-softdeps).
pub(crate) fn resolve<S: AsRef<str>>(
    modules_dir: &Path,
    names: &[S],
) -> Result<Resolution, ModuleError> {
    resolve_with(modules_dir, names, ResolveOptions::default())
}

/// Resolves `names` in `modules_dir` into a load-ordered list with dependencies.
pub(crate) fn resolve_with<S: AsRef<str>>(
    modules_dir: &Path,
    names: &[S],
    opts: ResolveOptions,
) -> Result<Resolution, ModuleError> {
    let index = ModuleIndex::scan(modules_dir)?;
    resolve_in(&index, names, opts)
}

/// Like [`resolve_with`] on an already scanned [`ModuleIndex`].
pub(crate) fn resolve_in<S: AsRef<str>>(
    index: &ModuleIndex,
    names: &[S],
    opts: ResolveOptions,
) -> Result<Resolution, ModuleError> {
    let mut res = Resolution::default();
    let mut state: HashMap<String, bool> = HashMap::new(); // false = visiting, true = done
    for name in names {
        let name = normalize(name.as_ref());
        if index.path(&name).is_some() {
            visit(index, &name, opts, &mut state, &mut res)?;
        } else if index.is_builtin(&name) {
            if !res.builtin.contains(&name) {
                res.builtin.push(name);
            }
        } else if !res.not_found.contains(&name) {
            res.not_found.push(name);
        }
    }
    Ok(res)
}

fn visit(
    index: &ModuleIndex,
    name: &str,
    opts: ResolveOptions,
    state: &mut HashMap<String, bool>,
    res: &mut Resolution,
) -> Result<(), ModuleError> {
    match state.get(name) {
        Some(true) => return Ok(()),
        Some(false) => return Err(ModuleError::Cycle(name.to_string())),
        None => {}
    }
    state.insert(name.to_string(), false);
    let path = index.path(name).expect("caller checked").to_path_buf();
    let mut bytes = read_module(&path)?;
    let info = modinfo(&bytes).map_err(|message| ModuleError::BadModule {
        path: path.clone(),
        message,
    })?;
    let depends = info.depends();
    for dep in &depends {
        if index.path(dep).is_some() {
            visit(index, dep, opts, state, res)?;
        } else if !index.is_builtin(dep) {
            return Err(ModuleError::MissingDependency {
                module: name.to_string(),
                dependency: dep.clone(),
                dir: index.dir.clone(),
            });
        }
    }
    if opts.softdeps {
        for dep in info.softdeps_pre() {
            if index.path(&dep).is_some() && state.get(&dep) != Some(&false) {
                visit(index, &dep, opts, state, res)?;
            }
        }
    }
    let signature_stripped = opts.strip_signatures && strip_signature(&mut bytes);
    #[cfg(not(test))]
    let _ = (depends, signature_stripped);
    state.insert(name.to_string(), true);
    res.modules.push(ModuleFile {
        name: name.to_string(),
        bytes,
        #[cfg(test)]
        depends,
        #[cfg(test)]
        signature_stripped,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::elf::tests::synthetic_elf;
    use std::io::Write;

    fn module(name: &str, depends: &str, extra: &str) -> Vec<u8> {
        let info = format!("license=GPL\0{extra}depends={depends}\0name={name}\0");
        synthetic_elf(&[(".modinfo", 1, info.as_bytes())])
    }

    fn signed(mut m: Vec<u8>) -> Vec<u8> {
        let sig = [7u8; 300];
        m.extend_from_slice(&sig);
        m.extend_from_slice(&[0, 0, 2, 0, 0, 0, 0, 0]);
        m.extend_from_slice(&(sig.len() as u32).to_be_bytes());
        m.extend_from_slice(SIGNATURE_MAGIC);
        m
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn modinfo_fields() {
        let m = module(
            "aesni_intel",
            "crypto_simd,cryptd",
            "softdep=pre: gf128mul post: x\0",
        );
        let info = modinfo(&m).unwrap();
        assert_eq!(info.get("name"), Some("aesni_intel"));
        assert_eq!(info.depends(), ["crypto_simd", "cryptd"]);
        assert_eq!(info.softdeps_pre(), ["gf128mul"]);
        assert!(ModInfo::parse(b"depends=\0").depends().is_empty());
        assert_eq!(
            module_name_of("aesni-intel.ko.xz").as_deref(),
            Some("aesni_intel")
        );
        assert_eq!(module_name_of("modules.order"), None);
    }

    #[test]
    fn strips_signature() {
        let plain = module("veth", "", "");
        let mut s = signed(plain.clone());
        assert!(strip_signature(&mut s));
        assert_eq!(s, plain);
        assert!(!strip_signature(&mut s));
    }

    #[test]
    fn resolves_in_dependency_order() {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("kernel/arch/x86/crypto");
        std::fs::create_dir_all(&k).unwrap();
        let w = |n: &str, b: Vec<u8>| std::fs::write(k.join(n), b).unwrap();
        w(
            "aesni-intel.ko.xz",
            xz(&signed(module(
                "aesni_intel",
                "crypto-simd,cryptd",
                "softdep=pre: gf128mul\0",
            ))),
        );
        w(
            "crypto_simd.ko.zst",
            zstd::stream::encode_all(&module("crypto_simd", "cryptd", "")[..], 1).unwrap(),
        );
        w("cryptd.ko", module("cryptd", "", ""));
        w("gf128mul.ko", module("gf128mul", "", ""));
        w("broken.ko", module("broken", "nowhere", ""));
        std::fs::write(
            dir.path().join("modules.builtin"),
            "kernel/net/sched/sch_ingress.ko\n",
        )
        .unwrap();

        let r = resolve(
            dir.path(),
            &["aesni-intel", "sch_ingress", "veth", "cryptd"],
        )
        .unwrap();
        assert_eq!(
            r.names(),
            ["cryptd", "crypto_simd", "gf128mul", "aesni_intel"]
        );
        assert!(r.modules[3].signature_stripped);
        assert!(modinfo(&r.modules[3].bytes).is_ok());
        assert_eq!(r.builtin, ["sch_ingress"]);
        assert_eq!(r.not_found, ["veth"]);
        assert!(matches!(r.require(&["veth"]), Err(ModuleError::NotFound(v)) if v == ["veth"]));
        assert!(r.require(&["sch-ingress", "cryptd"]).is_ok());

        let no_soft = resolve_with(
            dir.path(),
            &["aesni_intel"],
            ResolveOptions {
                strip_signatures: false,
                softdeps: false,
            },
        )
        .unwrap();
        assert_eq!(no_soft.names(), ["cryptd", "crypto_simd", "aesni_intel"]);
        assert!(!no_soft.modules[2].signature_stripped);
        assert!(matches!(
            resolve(dir.path(), &["broken"]),
            Err(ModuleError::MissingDependency { dependency, .. }) if dependency == "nowhere"
        ));
    }
}
