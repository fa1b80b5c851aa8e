//! A kernel the developer built (`--kernel-image`, or a `local:` catalog
//! entry): a bzImage (or PVH vmlinux), optionally a modules folder and a
//! config, booted exactly like a catalog kernel. The ELF is cut out of the
//! bzImage once and kept under `<cache>/kernels/local/<sha256>/`, since a
//! rebuilt image has another checksum.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::KernelError;
use super::input::{
    self, CONFIG_OPTION, IMAGE_OPTION, MAX_CONFIG_BYTES, MAX_IMAGE_BYTES, MODULES_OPTION,
    image_error, input_error,
};
use super::kernel::KernelListing;
use super::kernel::{BootKind, FetchedKernel};
use super::modules::ModuleIndex;
use super::{image_check, requirements, vmlinux};

/// The kernel name of `--kernel-image` in results and the matrix.
pub(crate) const LOCAL_NAME: &str = "local";

/// Where a developer's kernel is: paths as given (a catalog entry's are
/// made absolute against the repository root when it is loaded).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LocalSource {
    /// The bzImage (`arch/x86/boot/bzImage`, `/boot/vmlinuz-…`) or an ELF
    /// vmlinux with a PVH note.
    pub(crate) image: PathBuf,
    /// `lib/modules/<release>`, a root holding it (`INSTALL_MOD_PATH`), or
    /// a build tree (`modules.order`, `modules.builtin`, `*.ko`).
    #[serde(default)]
    pub(crate) modules: Option<PathBuf>,
    /// The kernel's `.config`; else found next to the image or modules.
    #[serde(default)]
    pub(crate) config: Option<PathBuf>,
}

impl LocalSource {
    /// The same source with relative (and `~/`) paths resolved against `base`.
    pub(crate) fn rooted(&self, base: &Path) -> Self {
        let fix = |p: &Path| {
            let home = std::env::var_os("HOME").map(PathBuf::from);
            match (p.strip_prefix("~"), home) {
                (Ok(rest), Some(h)) => h.join(rest),
                _ => base.join(p),
            }
        };
        Self {
            image: fix(&self.image),
            modules: self.modules.as_deref().map(fix),
            config: self.config.as_deref().map(fix),
        }
    }
}

/// Opens the developer's kernel `src` as `name` ([`open`]) and checks its
/// config before it boots.
pub(crate) fn open_checked(
    name: &str,
    src: &LocalSource,
    cache: &Path,
) -> Result<FetchedKernel, KernelError> {
    let k = open(name, src, cache)?;
    if !requirements::check(&k)? {
        eprintln!(
            "lab: {name}: no kernel config next to {} or in its modules folder: \
             not checked before booting (give --config FILE)",
            src.image.display()
        );
    }
    Ok(k)
}

/// Opens the developer's kernel `src` as `name`: reads its release, cuts
/// the ELF for PVH boot (cached under `cache`), finds its modules and config.
pub(crate) fn open(
    name: &str,
    src: &LocalSource,
    cache: &Path,
) -> Result<FetchedKernel, KernelError> {
    let path = &src.image;
    // Every file is checked before the image is read: a wrong --config is
    // named at once, and nothing blocks on a FIFO or reads a device.
    input::check(path, MAX_IMAGE_BYTES).map_err(|e| input_error(IMAGE_OPTION, path, e))?;
    if let Some(c) = &src.config {
        input::check(c, MAX_CONFIG_BYTES).map_err(|e| input_error(CONFIG_OPTION, c, e))?;
    }
    let bytes =
        input::read(path, MAX_IMAGE_BYTES).map_err(|e| input_error(IMAGE_OPTION, path, e))?;
    image_check::check(&bytes).map_err(|e| image_error(IMAGE_OPTION, path, e.to_string()))?;
    let release = vmlinux::release(&bytes).ok_or_else(|| {
        image_error(
            IMAGE_OPTION,
            path,
            "no kernel release in it: not an x86 bzImage or vmlinux",
        )
    })?;
    let (boot_kind, kernel_image, note) = boot_image(path, &bytes, cache)?;
    let modules_dir = src
        .modules
        .as_deref()
        .map(|d| modules_dir(d, &release))
        .transpose()?;
    if let (Some(given), Some(dir)) = (&src.modules, &modules_dir) {
        // Every module file is a regular file: named now, not mid-boot.
        ModuleIndex::scan(dir).map_err(|e| image_error(MODULES_OPTION, given, e.to_string()))?;
    }
    let config = match &src.config {
        Some(c) => Some(c.clone()),
        None => find_config(path, &release, modules_dir.as_deref()),
    };
    Ok(FetchedKernel {
        name: name.to_string(),
        version: release,
        package_version: "local build".into(),
        kernel_image,
        boot_kind,
        bzimage: path.clone(),
        modules_dir,
        config,
        vmlinux_note: note,
        local: true,
    })
}

/// The `lab kernels list` line of a local entry: "cached" when its image
/// is there.
pub(crate) fn listing(name: &str, src: &LocalSource) -> KernelListing {
    let release = input::read(&src.image, MAX_IMAGE_BYTES)
        .ok()
        .and_then(|b| vmlinux::release(&b));
    KernelListing {
        name: name.to_string(),
        suite: "local".into(),
        description: format!("kernel image {}", src.image.display()),
        locked_version: None,
        cached: release.is_some(),
        release,
    }
}

/// What QEMU boots: the image itself when it is a PVH ELF, else the ELF
/// cut out of the bzImage (cached by checksum), else the bzImage.
fn boot_image(
    path: &Path,
    bytes: &[u8],
    cache: &Path,
) -> Result<(BootKind, PathBuf, Option<String>), KernelError> {
    if bytes.starts_with(b"\x7fELF") {
        return match vmlinux::check_pvh(bytes) {
            Ok(()) => Ok((BootKind::Elf, path.to_path_buf(), None)),
            Err(e) => Err(image_error(
                IMAGE_OPTION,
                path,
                format!("{e}: give the bzImage instead"),
            )),
        };
    }
    let sum: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = cache.join("kernels/local").join(&sum[..32]);
    let elf = dir.join("vmlinux");
    if elf.is_file() {
        return Ok((BootKind::Elf, elf, None));
    }
    match vmlinux::extract(bytes) {
        Ok((data, _)) => {
            std::fs::create_dir_all(&dir).map_err(|e| KernelError::io("creating", &dir, e))?;
            let tmp = dir.join(format!(".vmlinux-{}", std::process::id()));
            std::fs::write(&tmp, data).map_err(|e| KernelError::io("writing", &tmp, e))?;
            std::fs::rename(&tmp, &elf).map_err(|e| KernelError::io("renaming", &elf, e))?;
            Ok((BootKind::Elf, elf, None))
        }
        Err(e) => Ok((BootKind::BzImage, path.to_path_buf(), Some(e.to_string()))),
    }
}

/// The modules folder `dir` means for `release`: `dir/lib/modules/<release>`
/// when `dir` is an install root, else `dir` itself (a `lib/modules/<release>`
/// tree or a build tree), which must hold modules.
fn modules_dir(dir: &Path, release: &str) -> Result<PathBuf, KernelError> {
    match std::fs::metadata(dir) {
        Err(e) => {
            return Err(image_error(
                MODULES_OPTION,
                dir,
                format!("no such folder: {e}"),
            ));
        }
        Ok(m) if !m.is_dir() => return Err(image_error(MODULES_OPTION, dir, "not a folder")),
        Ok(_) => {}
    }
    let installed = dir.join("lib/modules").join(release);
    if installed.is_dir() {
        return Ok(installed);
    }
    if dir.join("lib/modules").is_dir() {
        return Err(image_error(
            MODULES_OPTION,
            dir,
            format!("no lib/modules/{release} in it (modules of another build?)"),
        ));
    }
    let marked = ["modules.order", "modules.builtin", "modules.dep", "kernel"]
        .iter()
        .any(|f| dir.join(f).exists());
    if marked {
        Ok(dir.to_path_buf())
    } else {
        Err(image_error(
            MODULES_OPTION,
            dir,
            "neither lib/modules/<release>, nor a modules tree or build tree \
             (modules.order, modules.builtin)",
        ))
    }
}

/// The config of a developer's kernel when none was given: a build tree's
/// `.config` above the image (`arch/x86/boot/bzImage`) or in the modules
/// folder, `config-<release>` next to it (`/boot`), or the modules tree's
/// `config` (Debian 7.x layout).
fn find_config(image: &Path, release: &str, modules: Option<&Path>) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = image
        .ancestors()
        .skip(1)
        .take(4)
        .map(|d| d.join(".config"))
        .collect();
    if let Some(dir) = image.parent() {
        candidates.push(dir.join(format!("config-{release}")));
    }
    if let Some(m) = modules {
        candidates.extend([m.join(".config"), m.join("config")]);
    }
    candidates.into_iter().find(|c| c.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_modules_and_config_in_a_build_tree() {
        let d = tempfile::tempdir().unwrap();
        let tree = d.path().join("linux");
        std::fs::create_dir_all(tree.join("arch/x86/boot")).unwrap();
        std::fs::write(tree.join(".config"), "CONFIG_VETH=y\n").unwrap();
        std::fs::write(tree.join("modules.order"), "").unwrap();
        let image = tree.join("arch/x86/boot/bzImage");
        assert_eq!(
            find_config(&image, "6.12.1", None),
            Some(tree.join(".config"))
        );
        assert_eq!(modules_dir(&tree, "6.12.1").unwrap(), tree);
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("lib/modules/6.12.1/kernel")).unwrap();
        assert_eq!(
            modules_dir(&root, "6.12.1").unwrap(),
            root.join("lib/modules/6.12.1")
        );
        let err = modules_dir(&root, "6.13.0").unwrap_err().to_string();
        assert!(err.contains("lib/modules/6.13.0"), "{err}");
        let err = modules_dir(&root.join("lib"), "x").unwrap_err().to_string();
        assert!(err.contains("--modules"), "{err}");
    }

    #[test]
    fn relative_paths_are_rooted() {
        let s = LocalSource {
            image: "k/bzImage".into(),
            modules: None,
            config: Some("/abs/.config".into()),
        };
        let r = s.rooted(Path::new("/repo"));
        assert_eq!(r.image, Path::new("/repo/k/bzImage"));
        assert_eq!(r.config.as_deref(), Some(Path::new("/abs/.config")));
    }
}
