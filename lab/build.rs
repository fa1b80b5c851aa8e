//! Compiles the BPF objects each `../ebpf/*.bpf.c` declares (its
//! `// lab-object: NAME -DDEFINE ...` lines: the data planes, one object
//! per build, and the programs that are not data planes) and writes their
//! table, `$OUT_DIR/bpf_objects_table.rs`; `lab` embeds both (see
//! `src/dataplane/embed.rs` and `object.rs`). The corpus of known-bad data planes
//! (`../ebpf/broken/*.bpf.c`) is compiled too, into `$OUT_DIR/broken/`,
//! but not embedded.

use std::env;
use std::path::{Path, PathBuf};

// CLANG_FLAGS, declared_in, clang_command, find_clang: how objects are
// declared and compiled, shared with the crate (`lab bench --baseline`).
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
    let objects = declared(&ebpf);
    for (name, source, defines) in &objects {
        let defines: Vec<&str> = defines.iter().map(String::as_str).collect();
        compile(
            &clang,
            &ebpf,
            source,
            &defines,
            &out.join(format!("{name}.bpf.o")),
        );
    }
    write_table(&objects, &out.join("bpf_objects_table.rs"));
    compile_broken(&clang, &ebpf, &out.join("broken"));
}

/// Every object the sources of `ebpf` declare; a name declared twice
/// fails the build.
fn declared(ebpf: &Path) -> Vec<(String, String, Vec<String>)> {
    let objects = declared_in(ebpf)
        .unwrap_or_else(|e| panic!("cannot read the sources in {}: {e}", ebpf.display()));
    for (i, (name, source, _)) in objects.iter().enumerate() {
        if let Some((_, other, _)) = objects[..i].iter().find(|(n, _, _)| n == name) {
            panic!("object {name} is declared by ebpf/{other}.bpf.c and ebpf/{source}.bpf.c");
        }
    }
    objects
}

/// Writes the table the crate includes as `BPF_OBJECTS`.
fn write_table(objects: &[(String, String, Vec<String>)], path: &Path) {
    let mut text = String::from("&[\n");
    for (name, source, defines) in objects {
        text.push_str(&format!("    ({name:?}, {source:?}, &{defines:?}),\n"));
    }
    text.push_str("]\n");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
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
