//! A fetched kernel: where its image, modules and config are.

use super::input::{self, MAX_CONFIG_BYTES};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One line of `lab kernels list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct KernelListing {
    /// Catalog name.
    pub(crate) name: String,
    /// Debian suite.
    pub(crate) suite: String,
    /// Catalog description.
    pub(crate) description: String,
    /// Locked Debian package version, if locked.
    pub(crate) locked_version: Option<String>,
    /// Locked kernel release (`uname -r`), if locked.
    pub(crate) release: Option<String>,
    /// Whether the locked version is extracted in the cache.
    pub(crate) cached: bool,
}

/// How QEMU should boot [`FetchedKernel::kernel_image`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BootKind {
    /// Uncompressed ELF vmlinux with a PVH entry note (`-kernel vmlinux`, PVH boot).
    Elf,
    /// Compressed bzImage (`-kernel vmlinuz`, Linux boot protocol).
    BzImage,
}

/// A kernel that is downloaded and extracted in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchedKernel {
    /// Catalog name, e.g. `debian-6.12`.
    pub(crate) name: String,
    /// Kernel release (`uname -r`), e.g. `6.12.117+deb12-cloud-amd64`.
    pub(crate) version: String,
    /// Debian package version, e.g. `6.12.117-1~deb12u1`.
    pub(crate) package_version: String,
    /// Image to pass to `-kernel`: the ELF vmlinux if available, else the bzImage.
    pub(crate) kernel_image: PathBuf,
    /// What `kernel_image` is.
    pub(crate) boot_kind: BootKind,
    /// The original bzImage (always present).
    pub(crate) bzimage: PathBuf,
    /// `…/lib/modules/<release>` of the extracted tree, or a build tree's
    /// modules; `None`: a developer's image with everything built in.
    pub(crate) modules_dir: Option<PathBuf>,
    /// The kernel's `.config`, if the packages ship it.
    pub(crate) config: Option<PathBuf>,
    /// Why no ELF vmlinux could be produced, when `boot_kind` is `BzImage`.
    pub(crate) vmlinux_note: Option<String>,
    /// A developer's image (`--kernel-image`, a `local:` catalog entry)
    /// rather than Debian packages: results name its file.
    pub(crate) local: bool,
}

impl FetchedKernel {
    /// Raw value of a config option (`y`, `m`, `"str"`, `123`); `None` if there is no
    /// config file or the option is unset.
    pub(crate) fn config_value(&self, option: &str) -> Option<String> {
        let text = input::read_text(self.config.as_ref()?, MAX_CONFIG_BYTES).ok()?;
        config_lookup(&text, option)
    }
}

#[cfg(test)]
impl FetchedKernel {
    /// Whether `option` (e.g. `CONFIG_VETH`) is enabled as built-in or module; `None`
    /// when the kernel ships no config.
    pub(crate) fn config_has(&self, option: &str) -> Option<bool> {
        let text = std::fs::read_to_string(self.config.as_ref()?).ok()?;
        Some(matches!(
            config_lookup(&text, option).as_deref(),
            Some("y" | "m")
        ))
    }
}

/// Looks `option` up in kconfig text (`CONFIG_X=v`; `# CONFIG_X is not set` = unset).
pub(crate) fn config_lookup(text: &str, option: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(option)
            .and_then(|r| r.strip_prefix('='))
            .map(str::to_string)
    })
}
