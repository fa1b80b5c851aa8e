//! What the lab needs of a developer's kernel, checked in its config before
//! booting: a missing option is named at once instead of surfacing as a
//! verifier error or a silent guest minutes later.

use std::path::Path;

use super::error::KernelError;
use super::input::{self, CONFIG_OPTION, MAX_CONFIG_BYTES, MODULES_OPTION};
use super::kernel::{FetchedKernel, config_lookup};
use super::modules::ModuleIndex;
use crate::domain::Unsupported;

/// One config option the lab needs.
struct Need {
    /// `CONFIG_…`.
    option: &'static str,
    /// The module that provides it when `=m` (`None`: it must be `=y`).
    module: Option<&'static str>,
    /// What the lab uses it for.
    why: &'static str,
    /// Part of bpf_crypto itself: missing means exit 3, not 2.
    bpf_crypto: bool,
}

const fn need(option: &'static str, module: Option<&'static str>, why: &'static str) -> Need {
    Need {
        option,
        module,
        why,
        bpf_crypto: false,
    }
}

/// The options, in the order a developer would fix them.
const NEEDS: &[Need] = &[
    Need {
        option: "CONFIG_BPF_SYSCALL",
        module: None,
        why: "bpf_crypto (the bpf() syscall)",
        bpf_crypto: true,
    },
    Need {
        option: "CONFIG_CRYPTO_SKCIPHER",
        module: Some("bpf_crypto_skcipher"),
        why: "bpf_crypto (its skcipher type)",
        bpf_crypto: true,
    },
    need("CONFIG_BPF_JIT", None, "kfunc calls"),
    need("CONFIG_DEBUG_INFO_BTF", None, "kfunc and CO-RE relocations"),
    need("CONFIG_NET_XGRESS", None, "tcx attachment"),
    need("CONFIG_NET_CLS_BPF", Some("cls_bpf"), "TC BPF programs"),
    need(
        "CONFIG_VETH",
        Some("veth"),
        "the veth between the namespaces",
    ),
    need("CONFIG_CRYPTO_CBC", Some("cbc"), "cbc(aes)"),
    need("CONFIG_CRYPTO_ECB", Some("ecb"), "ecb(aes)"),
    need("CONFIG_BLK_DEV_INITRD", None, "the lab's initramfs"),
    need("CONFIG_DEVTMPFS", None, "the guest's /dev"),
    need(
        "CONFIG_VIRTIO_CONSOLE",
        Some("virtio_console"),
        "the results port",
    ),
];

/// The first Linux release with bpf_crypto.
const BPF_CRYPTO_SINCE: (u32, u32) = (6, 10);

/// `(major, minor)` of a release like `6.12.117+deb12-cloud-amd64`.
fn major_minor(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Checks a developer's kernel: its release and, when a config was found,
/// every option of [`NEEDS`] (`=m` counts when the module is in its
/// modules folder). `Ok(false)`: no config to check.
pub(crate) fn check(k: &FetchedKernel) -> Result<bool, KernelError> {
    let mut missing = Vec::new();
    let mut unsupported = false;
    if major_minor(&k.version).is_some_and(|v| v < BPF_CRYPTO_SINCE) {
        missing.push(format!(
            "Linux {}.{} or later (bpf_crypto appeared in it)",
            BPF_CRYPTO_SINCE.0, BPF_CRYPTO_SINCE.1
        ));
        unsupported = true;
    }
    let text = match &k.config {
        Some(c) => input::read_text(c, MAX_CONFIG_BYTES)
            .map_err(|e| input::input_error(CONFIG_OPTION, c, e))?,
        None if missing.is_empty() => return Ok(false),
        None => String::new(),
    };
    let index = match &k.modules_dir {
        Some(d) => Some(
            ModuleIndex::scan(d)
                .map_err(|e| input::image_error(MODULES_OPTION, d, e.to_string()))?,
        ),
        None => None,
    };
    let needs = if k.config.is_some() { NEEDS } else { &[] };
    for n in needs {
        if let Some(why) = lacks(n, &text, index.as_ref()) {
            missing.push(format!("{} ({}): {why}", n.option, n.why));
            unsupported |= n.bpf_crypto;
        }
    }
    if missing.is_empty() {
        return Ok(true);
    }
    let e = KernelError::MissingConfig {
        name: k.name.clone(),
        release: k.version.clone(),
        config: k.config.clone().unwrap_or_else(|| Path::new("none").into()),
        missing,
    };
    Err(match unsupported {
        true => Unsupported(format!("{e} — it cannot run bpf_crypto")).into(),
        false => e,
    })
}

/// Why `n` is not satisfied, if it is not.
fn lacks(n: &Need, config: &str, modules: Option<&ModuleIndex>) -> Option<String> {
    match (config_lookup(config, n.option).as_deref(), n.module) {
        (Some("y"), _) => None,
        (Some("m"), Some(m)) => match modules {
            Some(i) if i.path(m).is_some() => None,
            Some(i) => Some(format!("=m but {m} is not in {}", i.dir.display())),
            None => Some("=m but no modules were given (--modules DIR)".into()),
        },
        (Some("m"), None) => Some("=m, must be =y".into()),
        (Some(v), _) => Some(format!("={v}, must be =y or =m")),
        (None, Some(_)) => Some("not set (needs =y or =m)".into()),
        (None, None) => Some("not set (needs =y)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(config: &str, release: &str) -> (tempfile::TempDir, FetchedKernel) {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join(".config");
        std::fs::write(&c, config).unwrap();
        let k = FetchedKernel {
            name: "local".into(),
            version: release.into(),
            package_version: String::new(),
            kernel_image: c.clone(),
            boot_kind: super::super::kernel::BootKind::BzImage,
            bzimage: c.clone(),
            modules_dir: None,
            config: Some(c),
            vmlinux_note: None,
            local: true,
        };
        (d, k)
    }

    fn full() -> String {
        NEEDS.iter().map(|n| format!("{}=y\n", n.option)).collect()
    }

    #[test]
    fn names_what_is_missing() {
        let (_d, k) = kernel(&full(), "6.12.1");
        assert!(check(&k).unwrap());
        let (_d, k) = kernel(&full().replace("CONFIG_VETH=y", "CONFIG_VETH=m"), "6.12.1");
        let e = check(&k).unwrap_err();
        assert!(!matches!(e, KernelError::Unsupported(_)));
        assert!(e.to_string().contains("CONFIG_VETH"), "{e}");
        let no_skcipher = full().replace("CONFIG_CRYPTO_SKCIPHER=y\n", "");
        let (_d, k) = kernel(&no_skcipher, "6.12.1");
        let e = check(&k).unwrap_err();
        assert!(matches!(e, KernelError::Unsupported(_)));
        assert!(e.to_string().contains("CONFIG_CRYPTO_SKCIPHER"), "{e}");
        let (_d, k) = kernel(&full(), "6.1.0-50-cloud-amd64");
        assert!(matches!(check(&k), Err(KernelError::Unsupported(_))));
    }
}
