//! Compiles the data plane (`../ebpf/crypto_dp.bpf.c`) with clang into one
//! BPF object per variant; `lab` embeds them (see `src/dataplane/object.rs`).

use std::env;
use std::path::PathBuf;
use std::process::Command;

const VARIANTS: &[(&str, &str)] = &[
    ("crypto", "-DDP_VARIANT_CRYPTO"),
    ("copy", "-DDP_VARIANT_COPY"),
    ("noop", "-DDP_VARIANT_NOOP"),
];

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let ebpf = manifest.join("../ebpf");
    let src = ebpf.join("crypto_dp.bpf.c");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed={}", src.display());
    println!(
        "cargo:rerun-if-changed={}",
        ebpf.join("bpfcrypt_abi.h").display()
    );
    println!("cargo:rerun-if-env-changed=BPF_CLANG");

    let clang = env::var("BPF_CLANG").ok().unwrap_or_else(find_clang);
    for (name, define) in VARIANTS {
        let obj = out.join(format!("crypto_dp.{name}.bpf.o"));
        let output = Command::new(&clang)
            .args(["-O2", "-g", "-target", "bpf", "-Wall", "-Werror"])
            .arg("-I/usr/include/x86_64-linux-gnu")
            .arg(format!("-I{}", ebpf.display()))
            .arg(define)
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
                "clang failed on {} ({name} variant):\n{}",
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
