//! Compiles the data planes (`../ebpf/crypto_dp.bpf.c`, the raw format, and
//! `../ebpf/esp_dp.bpf.c`, ESP) with clang into one BPF object per build,
//! and the bench's cipher-only probe (`../ebpf/cipher_only.bpf.c`); `lab`
//! embeds them (see `src/dataplane/object.rs`).

use std::env;
use std::path::PathBuf;

// BPF_OBJECTS, CLANG_FLAGS, clang_command, find_clang: the one table of
// objects and flags, shared with the crate (`lab bench --baseline`).
include!("src/dataplane/bpf_objects.rs");

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let ebpf = manifest.join("../ebpf");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    for f in [
        "crypto_dp.bpf.c",
        "esp_dp.bpf.c",
        "cipher_only.bpf.c",
        "bpfcrypt_abi.h",
        "esp_abi.h",
        "bpf_crypto_kfuncs.h",
        "bpfcrypt_base.h",
        "bpfcrypt_tamper.h",
    ] {
        println!("cargo:rerun-if-changed={}", ebpf.join(f).display());
    }
    println!("cargo:rerun-if-changed=src/dataplane/bpf_objects.rs");
    println!("cargo:rerun-if-env-changed=BPF_CLANG");

    let clang = env::var("BPF_CLANG").ok().unwrap_or_else(|| {
        find_clang().map(str::to_string).unwrap_or_else(|| {
            panic!("no clang found to build the BPF data plane; install clang-19 (`just setup`) or set BPF_CLANG")
        })
    });
    for (name, source, defines) in BPF_OBJECTS {
        let src = ebpf.join(format!("{source}.bpf.c"));
        let obj = out.join(format!("{name}.bpf.o"));
        let output = clang_command(&clang, &ebpf, source, defines, &obj)
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
