//! `--kernel-image`: a kernel the developer built, laid out as a build tree
//! from a catalog kernel's extracted files (bzImage under arch/x86/boot,
//! `.config`, modules with modules.builtin and modules.order), boots like
//! a catalog kernel; a config without bpf_crypto is refused with exit 3,
//! one without another needed option with exit 2, both naming it.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const KERNEL: &str = "debian-6.12";

/// A build tree made of `name`'s files: `linux/arch/x86/boot/bzImage`,
/// `linux/.config`, `linux/modules.{builtin,order}` and the `.ko` files.
fn build_tree(name: &str, dir: &Path) -> PathBuf {
    let k = extracted(name);
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(k.join("kernel.json")).unwrap()).unwrap();
    let path = |key: &str| k.join(marker[key].as_str().unwrap());
    let tree = dir.join("linux");
    std::fs::create_dir_all(tree.join("arch/x86/boot")).unwrap();
    std::fs::copy(path("bzimage"), tree.join("arch/x86/boot/bzImage")).unwrap();
    std::fs::copy(path("config"), tree.join(".config")).unwrap();
    let modules = path("modules_dir");
    link_tree(&modules.join("kernel"), &tree.join("kernel"));
    for f in ["modules.builtin", "modules.order"] {
        std::fs::copy(modules.join(f), tree.join(f)).unwrap();
    }
    tree
}

fn run_image(tree: &Path, config: Option<&Path>, results: &Path) -> std::process::Output {
    let image = tree.join("arch/x86/boot/bzImage");
    let mut args = vec![
        "run".to_string(),
        "--kernel-image".into(),
        image.display().to_string(),
        "--modules".into(),
        tree.display().to_string(),
    ];
    if let Some(c) = config {
        args.extend(["--config".into(), c.display().to_string()]);
    }
    args.push("scenarios/ping.yaml".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lab(&args, results)
}

#[test]
fn build_tree_boots_and_is_recorded() {
    if qemu_missing("build_tree_boots_and_is_recorded") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = build_tree(KERNEL, dir.path());
    let results = tempfile::tempdir().unwrap();
    let out = run_image(&tree, None, results.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = run_dirs(results.path());
    assert_eq!(runs.len(), 1);
    let s = summary(&runs[0]);
    assert_eq!(s["verdict"], "pass", "{s}");
    assert_eq!(s["backend"], "qemu");
    assert_eq!(s["kernel_name"], "local");
    let image = tree.join("arch/x86/boot/bzImage");
    assert_eq!(s["kernel_image"], image.display().to_string(), "{s}");
    assert!(s["kernel"].as_str().unwrap().starts_with("6.12."), "{s}");
    let phases: Vec<&str> = s["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert!(phases.contains(&"module loading"), "{phases:?}");
    let report = std::fs::read_to_string(runs[0].join("report.md")).unwrap();
    assert!(report.contains("bzImage"), "the report names the image");
}

#[test]
fn configs_lacking_options_are_refused_by_name() {
    if qemu_missing("configs_lacking_options_are_refused_by_name") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = build_tree(KERNEL, dir.path());
    let config = std::fs::read_to_string(tree.join(".config")).unwrap();
    let results = tempfile::tempdir().unwrap();

    let no_crypto = dir.path().join("no-skcipher.config");
    let text_without = |option: &str| {
        config
            .lines()
            .filter(|l| !l.starts_with(&format!("{option}=")))
            .collect::<Vec<_>>()
            .join("\n")
    };
    std::fs::write(&no_crypto, text_without("CONFIG_CRYPTO_SKCIPHER")).unwrap();
    let out = run_image(&tree, Some(&no_crypto), results.path());
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CONFIG_CRYPTO_SKCIPHER"), "{err}");
    assert!(err.contains("bpf_crypto"), "{err}");

    let no_veth = dir.path().join("no-veth.config");
    std::fs::write(&no_veth, text_without("CONFIG_VETH")).unwrap();
    let out = run_image(&tree, Some(&no_veth), results.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CONFIG_VETH"));

    // Without the modules, the `=m` options have nothing to load.
    let image = tree.join("arch/x86/boot/bzImage").display().to_string();
    let out = lab(
        &["run", "--kernel-image", &image, "scenarios/ping.yaml"],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--modules"));
    assert!(run_dirs(results.path()).is_empty(), "nothing is kept");
}

#[test]
fn missing_image_is_bad_input() {
    let results = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("arch/x86/boot/bzImage");
    let path = missing.display().to_string();
    let out = lab(
        &["run", "--kernel-image", &path, "scenarios/ping.yaml"],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&path));
    let out = lab(
        &["run", "--modules", "/tmp", "scenarios/ping.yaml"],
        results.path(),
    );
    assert_eq!(out.status.code(), Some(2), "--modules needs --kernel-image");
}
