//! Compiles the data planes (`../ebpf/crypto_dp.bpf.c`, the raw format, and
//! `../ebpf/esp_dp.bpf.c`, ESP) with clang into one BPF object per build;
//! `lab` embeds them (see `src/dataplane/object.rs`).

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// (object name, source, defines).
const BUILDS: &[(&str, &str, &[&str])] = &[
    ("crypto", "crypto_dp", &["-DDP_VARIANT_CRYPTO"]),
    (
        "crypto_inplace",
        "crypto_dp",
        &["-DDP_VARIANT_CRYPTO", "-DDP_INPLACE"],
    ),
    ("copy", "crypto_dp", &["-DDP_VARIANT_COPY"]),
    ("noop", "crypto_dp", &["-DDP_VARIANT_NOOP"]),
    ("esp", "esp_dp", &[]),
    ("esp_inplace", "esp_dp", &["-DDP_INPLACE"]),
    // Test builds: a fixed IV can be set before load.
    (
        "crypto_testiv",
        "crypto_dp",
        &["-DDP_VARIANT_CRYPTO", "-DDP_TEST_IV"],
    ),
    (
        "crypto_inplace_testiv",
        "crypto_dp",
        &["-DDP_VARIANT_CRYPTO", "-DDP_INPLACE", "-DDP_TEST_IV"],
    ),
    ("esp_testiv", "esp_dp", &["-DDP_TEST_IV"]),
    // Known regressions (`lab bench --inject extra-copy`): one more copy
    // of the payload per packet.
    (
        "copy_extracopy",
        "crypto_dp",
        &["-DDP_VARIANT_COPY", "-DDP_EXTRA_COPY"],
    ),
    (
        "crypto_extracopy",
        "crypto_dp",
        &["-DDP_VARIANT_CRYPTO", "-DDP_EXTRA_COPY"],
    ),
    (
        "crypto_inplace_extracopy",
        "crypto_dp",
        &["-DDP_VARIANT_CRYPTO", "-DDP_INPLACE", "-DDP_EXTRA_COPY"],
    ),
    (
        "esp_inplace_testiv",
        "esp_dp",
        &["-DDP_INPLACE", "-DDP_TEST_IV"],
    ),
];

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let ebpf = manifest.join("../ebpf");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    for f in [
        "crypto_dp.bpf.c",
        "esp_dp.bpf.c",
        "bpfcrypt_abi.h",
        "esp_abi.h",
        "bpf_crypto_kfuncs.h",
    ] {
        println!("cargo:rerun-if-changed={}", ebpf.join(f).display());
    }
    println!("cargo:rerun-if-env-changed=BPF_CLANG");

    let clang = env::var("BPF_CLANG").ok().unwrap_or_else(find_clang);
    for (name, source, defines) in BUILDS {
        let src = ebpf.join(format!("{source}.bpf.c"));
        let obj = out.join(format!("{name}.bpf.o"));
        let output = Command::new(&clang)
            .args(["-O2", "-g", "-target", "bpf", "-Wall", "-Werror"])
            .arg("-I/usr/include/x86_64-linux-gnu")
            .arg(format!("-I{}", ebpf.display()))
            .args(*defines)
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run `{clang}` to build the BPF data plane: {e}; install clang-19 (`just setup`) or set BPF_CLANG")
            });
        if !output.status.success() {
            panic!(
                "clang failed on {} ({name} build):\n{}",
                src.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

fn find_clang() -> String {
    for c in ["clang-19", "clang-20", "clang-18", "clang"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c.to_string();
        }
    }
    panic!(
        "no clang found to build the BPF data plane; install clang-19 (`just setup`) or set BPF_CLANG"
    );
}
