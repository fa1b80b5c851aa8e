// How the lab compiles its BPF objects: `lab/build.rs` `include!`s this
// file to compile the objects each `ebpf/*.bpf.c` declares and embed them,
// and the crate has it as `dataplane::bpf_objects` to build a git
// revision's data plane with the same flags (`lab bench --baseline REV`).
// No inner attributes or `use` lines here: the file is also pasted into
// the build script.

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

/// What starts a line of a `.bpf.c` that declares an object built from
/// it: `// lab-object: NAME -DDEFINE ...`. A source declares its own
/// builds, so a new data plane needs no line elsewhere.
pub(crate) const OBJECT_MARK: &str = "// lab-object:";

/// The objects a source declares (its text): (name, defines), in order.
pub(crate) fn declared_objects(text: &str) -> Vec<(String, Vec<String>)> {
    text.lines()
        .filter_map(|l| l.strip_prefix(OBJECT_MARK))
        .filter_map(|rest| {
            let mut words = rest.split_whitespace().map(str::to_string);
            Some((words.next()?, words.collect()))
        })
        .collect()
}

/// Every object the sources in `ebpf` declare, in file then line order:
/// (name, source without `.bpf.c`, defines).
pub(crate) fn declared_in(
    ebpf: &std::path::Path,
) -> std::io::Result<Vec<(String, String, Vec<String>)>> {
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(ebpf)? {
        let file = entry?.file_name().to_string_lossy().into_owned();
        if let Some(source) = file.strip_suffix(".bpf.c") {
            sources.push(source.to_string());
        }
    }
    sources.sort();
    let mut out = Vec::new();
    for source in sources {
        let text = std::fs::read_to_string(ebpf.join(format!("{source}.bpf.c")))?;
        for (name, defines) in declared_objects(&text) {
            out.push((name, source.clone(), defines));
        }
    }
    Ok(out)
}

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
