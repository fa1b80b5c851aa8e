//! Compiles the data planes (`../ebpf/crypto_dp.bpf.c`, the raw format, and
//! `../ebpf/esp_dp.bpf.c`, ESP) with clang into one BPF object per build,
//! and the bench's cipher-only probe (`../ebpf/cipher_only.bpf.c`); `lab`
//! embeds them (see `src/dataplane/object.rs`). The corpus of known-bad
//! data planes (`../ebpf/broken/*.bpf.c`) is compiled too, into
//! `$OUT_DIR/broken/`, but not embedded.

use std::env;
use std::path::{Path, PathBuf};

// BPF_OBJECTS, CLANG_FLAGS, clang_command, find_clang: the one table of
// objects and flags, shared with the crate (`lab bench --baseline`).
include!("src/dataplane/bpf_objects.rs");

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let ebpf = manifest.join("../ebpf");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    // The whole folder: cargo rescans a directory for any change, so a new
    // data plane or header needs no line here.
    println!("cargo:rerun-if-changed={}", ebpf.display());
    println!("cargo:rerun-if-changed=src/dataplane/bpf_objects.rs");
    println!("cargo:rerun-if-env-changed=BPF_CLANG");

    let clang = env::var("BPF_CLANG").ok().unwrap_or_else(|| {
        find_clang().map(str::to_string).unwrap_or_else(|| {
            panic!("no clang found to build the BPF data plane; install clang-19 (`just setup`) or set BPF_CLANG")
        })
    });
    for (name, source, defines) in BPF_OBJECTS {
        compile(
            &clang,
            &ebpf,
            source,
            defines,
            &out.join(format!("{name}.bpf.o")),
        );
    }
    compile_broken(&clang, &ebpf, &out.join("broken"));
}

/// Compiles `ebpf/<source>.bpf.c` with `defines` into `obj`, or fails the
/// build with clang's errors.
fn compile(clang: &str, ebpf: &Path, source: &str, defines: &[&str], obj: &Path) {
    let output = clang_command(clang, ebpf, source, defines, obj)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{clang}` to build the BPF data plane: {e}; install clang-19 (`just setup`) or set BPF_CLANG")
        });
    if !output.status.success() {
        panic!(
            "clang failed on {} (into {}):\n{}",
            ebpf.join(format!("{source}.bpf.c")).display(),
            obj.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Compiles each known-bad data plane `ebpf/broken/<name>.bpf.c`, in name
/// order, into `out/<name>.bpf.o` with the shipped builds' flags: a bug the
/// verifier would refuse is not one the lab has to catch at run time.
fn compile_broken(clang: &str, ebpf: &Path, out: &Path) {
    let dir = ebpf.join("broken");
    println!("cargo:rerun-if-changed={}", dir.display());
    let listing =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut names: Vec<String> = listing
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())))
        .filter_map(|entry| {
            let file = entry.file_name().into_string().ok()?;
            file.strip_suffix(".bpf.c").map(str::to_string)
        })
        .collect();
    names.sort();
    std::fs::create_dir_all(out).unwrap_or_else(|e| panic!("cannot create {}: {e}", out.display()));
    for name in names {
        println!(
            "cargo:rerun-if-changed={}",
            dir.join(format!("{name}.bpf.c")).display()
        );
        let obj = out.join(format!("{name}.bpf.o"));
        compile(clang, ebpf, &format!("broken/{name}"), &[], &obj);
    }
}
