// The one table of the BPF objects the lab compiles and how: `lab/build.rs`
// `include!`s this file to embed them, and the crate has it as
// `dataplane::bpf_objects` to build a git revision's data plane with the
// same flags (`lab bench --baseline REV`). No inner attributes or `use`
// lines here: the file is also pasted into the build script.

/// Clang flags of every object, before the source folder's `-I` and the
/// object's defines.
pub(crate) const CLANG_FLAGS: &[&str] = &[
    "-O2",
    "-g",
    "-target",
    "bpf",
    "-Wall",
    "-Werror",
    "-I/usr/include/x86_64-linux-gnu",
];

/// Clang programs tried in this order when `BPF_CLANG` is not set.
pub(crate) const CLANG_CANDIDATES: &[&str] = &["clang-19", "clang-20", "clang-18", "clang"];

/// (object name, source under `ebpf/` without `.bpf.c`, defines).
pub(crate) const BPF_OBJECTS: &[(&str, &str, &[&str])] = &[
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
    // WireGuard: one build, bounced (`ebpf/wg_dp.bpf.c` says why).
    ("wireguard", "wg_dp", &[]),
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
    // Not a data plane: the bench's cipher-only probe, which borrows the
    // maps of a loaded raw build (`exec/bench/kfunc.rs`).
    ("cipher_only", "cipher_only", &[]),
    // Not a data plane: `lab probe`'s check of the bpf_crypto types.
    ("type_probe", "type_probe", &[]),
    // Not a data plane: the test harness of ChaCha20-Poly1305 in BPF C
    // (`ebpf/chacha20poly1305.h`), for `dataplane::chacha_test`.
    ("chacha_test", "chacha_test", &[]),
];

/// The clang command that compiles `source` (`ebpf/<source>.bpf.c` under
/// `ebpf`) with `defines` into `out`.
pub(crate) fn clang_command(
    clang: &str,
    ebpf: &std::path::Path,
    source: &str,
    defines: &[&str],
    out: &std::path::Path,
) -> std::process::Command {
    let mut c = std::process::Command::new(clang);
    c.args(CLANG_FLAGS)
        .arg(format!("-I{}", ebpf.display()))
        .args(defines)
        .arg("-c")
        .arg(ebpf.join(format!("{source}.bpf.c")))
        .arg("-o")
        .arg(out);
    c
}

/// The first clang of [`CLANG_CANDIDATES`] that runs.
pub(crate) fn find_clang() -> Option<&'static str> {
    CLANG_CANDIDATES.iter().copied().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}
