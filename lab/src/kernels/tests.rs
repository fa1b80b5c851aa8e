//! Tests of the public kernel API: cache failures (offline) and a real fetch (network).

use super::archive::Archive;
use super::catalog::CatalogPaths;
use super::kernel::BootKind;
use super::lock::{Lock, LockedKernel, LockedPackage};
use super::*;
use std::path::Path;

const CATALOG: &str = "
kernels:
  - name: k1
    description: test kernel
    suite: bookworm-security
    archive: debian-security
    abi: '6.12.*+deb12'
    packages: ['linux-image-{abi}-cloud-amd64-unsigned']
";

fn temp_catalog(dir: &Path) -> Catalog {
    std::fs::write(dir.join("kernels.yaml"), CATALOG).unwrap();
    Catalog::load_from(CatalogPaths {
        catalog: dir.join("kernels.yaml"),
        lock: dir.join("kernels.lock"),
        cache: dir.join("cache"),
    })
    .unwrap()
}

fn locked_k1() -> LockedKernel {
    LockedKernel {
        suite: "bookworm-security".into(),
        archive: Archive::DebianSecurity,
        release: "6.12.1+deb12-cloud-amd64".into(),
        version: "6.12.1-1~deb12u1".into(),
        packages: vec![LockedPackage {
            package: "linux-image-6.12.1+deb12-cloud-amd64-unsigned".into(),
            version: "6.12.1-1~deb12u1".into(),
            filename: "k.deb".into(),
            size: 1,
            sha256: "00".repeat(32),
        }],
    }
}

#[test]
fn not_cached_is_a_typed_error_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let cat = temp_catalog(dir.path());
    let err = cached(&cat, "k1").unwrap_err();
    assert!(matches!(&err, KernelError::NotCached { name, .. } if name == "k1"));
    let msg = err.to_string();
    assert!(
        msg.starts_with("kernel `k1` is not in the cache; run `lab kernels fetch k1`"),
        "{msg}"
    );
    assert!(matches!(
        cached(&cat, "nope"),
        Err(KernelError::UnknownKernel { known, .. }) if known == ["k1"]
    ));

    // Locked but never extracted: still NotCached, with a reason.
    let mut lock = Lock::default();
    lock.kernels.insert("k1".into(), locked_k1());
    lock.write(&cat.paths.lock).unwrap();
    let cat = Catalog::load_from(cat.paths.clone()).unwrap();
    let err = cached(&cat, "k1").unwrap_err();
    assert!(matches!(
        err,
        KernelError::NotCached {
            detail: Some(_),
            ..
        }
    ));
    let l = list(&cat);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].locked_version.as_deref(), Some("6.12.1-1~deb12u1"));
    assert!(!l[0].cached);
}

#[test]
fn cached_kernel_from_marker_and_config_queries() {
    let dir = tempfile::tempdir().unwrap();
    let cat = temp_catalog(dir.path());
    let mut lock = Lock::default();
    let locked = locked_k1();
    lock.kernels.insert("k1".into(), locked.clone());
    lock.write(&cat.paths.lock).unwrap();
    let cat = Catalog::load_from(cat.paths.clone()).unwrap();

    let kdir = cache::kernel_dir(&cat, "k1", &locked.release);
    let mdir = kdir.join("root/lib/modules").join(&locked.release);
    std::fs::create_dir_all(&mdir).unwrap();
    std::fs::create_dir_all(kdir.join("root/boot")).unwrap();
    std::fs::write(kdir.join("vmlinux"), b"\x7fELF").unwrap();
    std::fs::write(kdir.join("root/boot/vmlinuz"), b"bz").unwrap();
    std::fs::write(
        kdir.join("root/boot/config"),
        "CONFIG_VETH=m\nCONFIG_PVH=y\n# CONFIG_FOO is not set\nCONFIG_HZ=250\n",
    )
    .unwrap();
    let marker = cache::Marker {
        name: "k1".into(),
        release: locked.release.clone(),
        package_version: locked.version.clone(),
        sha256: vec!["00".repeat(32)],
        boot_kind: BootKind::Elf,
        kernel_image: "vmlinux".into(),
        bzimage: "root/boot/vmlinuz".into(),
        modules_dir: Path::new("root/lib/modules").join(&locked.release),
        config: Some("root/boot/config".into()),
        vmlinux_note: None,
        files: Default::default(),
    };
    marker.write(&kdir).unwrap();

    let k = cached(&cat, "k1").unwrap();
    assert_eq!(k.version, "6.12.1+deb12-cloud-amd64");
    assert_eq!(k.boot_kind, BootKind::Elf);
    assert_eq!(k.kernel_image, kdir.join("vmlinux"));
    assert_eq!(k.modules_dir, Some(mdir));
    assert_eq!(k.config_has("CONFIG_VETH"), Some(true));
    assert_eq!(k.config_has("CONFIG_FOO"), Some(false));
    assert_eq!(k.config_has("CONFIG_VET"), Some(false));
    assert_eq!(k.config_value("CONFIG_HZ").as_deref(), Some("250"));
    assert!(list(&cat)[0].cached);

    // The first use recorded the sums; a damaged image is refused by name.
    assert!(!cache::Marker::read(&kdir).unwrap().files.is_empty());
    std::fs::write(kdir.join("vmlinux"), b"\0\0\0\0").unwrap();
    let e = cached(&cat, "k1").unwrap_err();
    assert!(matches!(e, KernelError::Damaged { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "kernel cache for k1 is damaged (vmlinux does not match its checksum): run lab kernels fetch --force k1"
    );
    std::fs::write(kdir.join("vmlinux"), b"\x7fEL").unwrap();
    assert!(
        cached(&cat, "k1")
            .unwrap_err()
            .to_string()
            .contains("vmlinux is 3 bytes, 4 when extracted")
    );
    assert!(!list(&cat)[0].cached);

    // The marker must match the lock's sha256.
    let mut other = marker.clone();
    other.sha256 = vec!["11".repeat(32)];
    other.write(&kdir).unwrap();
    assert!(matches!(
        cached(&cat, "k1"),
        Err(KernelError::NotCached { .. })
    ));
}

/// Repository root (the workspace above `lab/`).
fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The real catalog and cache, but a temporary copy of the lock so tests never rewrite
/// `kernels/kernels.lock`.
fn real_catalog(tmp: &Path) -> Catalog {
    let mut paths = CatalogPaths::for_repo(&repo_root());
    let lock = tmp.join("kernels.lock");
    if paths.lock.exists() {
        std::fs::copy(&paths.lock, &lock).unwrap();
    }
    paths.lock = lock;
    Catalog::load_from(paths).unwrap()
}

/// Fetches a real kernel, or returns `None` (test skipped) when apt or the archive is
/// unreachable.
fn fetch_or_skip(cat: &Catalog, name: &str) -> Option<FetchedKernel> {
    if std::process::Command::new("apt-get")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIP {name}: apt-get is not available");
        return None;
    }
    match fetch(cat, &[name], false, false) {
        Ok(mut v) => v.pop(),
        Err(e) => match e.downcast_ref::<KernelError>() {
            Some(KernelError::Apt { .. } | KernelError::NoMirror { .. }) => {
                eprintln!("SKIP {name}: archive not reachable: {e:#}");
                None
            }
            _ => panic!("fetching {name}: {e:#}"),
        },
    }
}

fn check_real_kernel(k: &FetchedKernel, major: &str) {
    assert!(k.version.starts_with(major), "{}", k.version);
    assert!(k.bzimage.is_file());
    assert_eq!(k.boot_kind, BootKind::Elf, "{:?}", k.vmlinux_note);
    vmlinux::check_pvh(&std::fs::read(&k.kernel_image).unwrap()).unwrap();
    assert_eq!(k.config_has("CONFIG_PVH"), Some(true));
    assert_eq!(k.config_has("CONFIG_VETH"), Some(true));

    let r = modules::resolve(
        k.modules_dir
            .as_deref()
            .expect("a catalog kernel has modules"),
        &[
            "veth",
            "sch_ingress",
            "cls_bpf",
            "aesni-intel",
            "no_such_module",
        ],
    )
    .unwrap();
    let names = r.names();
    for m in ["veth", "sch_ingress", "cls_bpf", "aesni_intel"] {
        assert!(names.contains(&m), "{m} missing from {names:?}");
    }
    // Every module comes after its dependencies.
    for (i, m) in r.modules.iter().enumerate() {
        for d in &m.depends {
            let at = names.iter().position(|n| n == d);
            assert!(
                at.is_some_and(|at| at < i),
                "{} before its dep {d}: {names:?}",
                m.name
            );
        }
        assert!(m.bytes.starts_with(b"\x7fELF"));
        assert!(m.signature_stripped, "{} was signed", m.name);
        assert!(!m.bytes.ends_with(modules::SIGNATURE_MAGIC));
    }
    assert_eq!(r.not_found, ["no_such_module"]);
    eprintln!("{}: {} load order {names:?}", k.name, k.version);
}

#[test]
fn fetch_debian_6_12_and_resolve_modules() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = real_catalog(tmp.path());
    let Some(k) = fetch_or_skip(&cat, "debian-6.12") else {
        return;
    };
    // The fetch recorded the resolved entry in the (temporary) lock.
    assert_eq!(cat.locked("debian-6.12").unwrap().release, k.version);
    assert_eq!(cached(&cat, "debian-6.12").unwrap(), k);
    check_real_kernel(&k, "6.12.");
}

#[test]
fn fetch_debian_7_split_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = real_catalog(tmp.path());
    let Some(name) = cat.names().into_iter().find(|n| n.starts_with("debian-7")) else {
        panic!("catalog has no debian-7.x kernel");
    };
    let Some(k) = fetch_or_skip(&cat, &name) else {
        return;
    };
    assert_eq!(cached(&cat, &name).unwrap(), k);
    check_real_kernel(&k, "7.");
}
