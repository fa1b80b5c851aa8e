//! The layout of `lab/src` keeps data flowing one way: no import cycle
//! between top-level modules, nor between the files of one folder. Reads
//! the `crate::…`, `super::…` and child-module paths of every source file
//! (comments and test modules left out).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// A source file's code: without `//` comments and without what follows
/// `#[cfg(test)]` (the unit tests may use anything).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every identifier that follows `prefix` (`crate::`, `super::`), also
/// inside one level of braces (`crate::{a, b::c}` gives `a` and `b`).
fn after(text: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let boundary = rest[..i]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'));
        rest = &rest[i + prefix.len()..];
        if !boundary {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                out.push(ident(item.trim()));
            }
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Source files under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The module name of a folder entry: `foo` for `foo.rs` and `foo/`.
fn module_name(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// A cycle in `graph`, if there is one (as the path around it).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|s| s == m).unwrap();
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

/// Edges between the top-level modules: a file belongs to the module of
/// its first path component and depends on every `crate::x` it names.
fn top_level_graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files(root) {
        let rel = f.strip_prefix(root).unwrap();
        let first = rel.components().next().unwrap().as_os_str();
        let me = module_name(Path::new(first));
        if me == "lib" || me == "main" {
            continue;
        }
        for m in after(&code(&f), "crate::") {
            if m != me {
                graph.entry(me.clone()).or_default().insert(m);
            }
        }
    }
    graph
}

/// Edges between the files of `dir`: `super::x` and `crate::<dir>::x`
/// from a child name sibling `x`, or the folder's `mod.rs` when `x` is an
/// item defined there; `mod.rs` depends on every child it names.
fn folder_graph(root: &Path, dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|x| x == "rs"))
        .collect();
    let names: BTreeSet<String> = entries
        .iter()
        .map(|p| module_name(p))
        .filter(|n| n != "mod")
        .collect();
    let crate_path = format!(
        "crate::{}::",
        dir.strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('/', "::")
    );
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &entries {
        let me = module_name(e);
        let text: String = if e.is_dir() {
            files(e).iter().map(|f| code(f)).collect()
        } else {
            code(e)
        };
        let mut deps: Vec<String> = after(&text, &crate_path);
        if me == "mod" {
            deps.extend(names.iter().filter(|n| uses_child(&text, n)).cloned());
        } else {
            // `super::` in a child file is the folder; in a file of a
            // subfolder it is that subfolder, which is not this level.
            let own = if e.is_dir() {
                Vec::new()
            } else {
                after(&text, "super::")
            };
            deps.extend(own.into_iter().map(|x| {
                if names.contains(&x) {
                    x
                } else {
                    "mod".to_string()
                }
            }));
        }
        for d in deps {
            if d != me && (names.contains(&d) || d == "mod") {
                graph.entry(me.clone()).or_default().insert(d);
            }
        }
    }
    graph
}

/// Whether `mod.rs` code refers to its child `name` (`name::…`), besides
/// declaring it.
fn uses_child(text: &str, name: &str) -> bool {
    text.match_indices(&format!("{name}::")).any(|(i, _)| {
        text[..i]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'))
    })
}

/// Every folder under `dir`, `dir` included.
fn folders(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(folders(&p));
        }
    }
    out
}

#[test]
fn no_cycle_between_top_level_modules() {
    let graph = top_level_graph(&src());
    assert!(graph.len() > 5, "found too few modules: {graph:?}");
    if let Some(c) = find_cycle(&graph) {
        panic!("import cycle between top-level modules: {}", c.join(" → "));
    }
}

#[test]
fn no_cycle_between_the_files_of_a_folder() {
    let root = src();
    for dir in folders(&root).iter().filter(|d| **d != root) {
        let graph = folder_graph(&root, dir);
        if let Some(c) = find_cycle(&graph) {
            panic!(
                "import cycle in {}: {}",
                dir.strip_prefix(&root).unwrap().display(),
                c.join(" → ")
            );
        }
    }
}

#[test]
fn the_checker_sees_cycles() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        after("use crate::{spec::plan::Plan, job};\nxcrate::y", "crate::"),
        vec!["spec", "job"]
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x");
    std::fs::create_dir(&f).unwrap();
    std::fs::write(f.join("mod.rs"), "mod a;\nmod b;\nuse a::A;\n").unwrap();
    std::fs::write(f.join("a.rs"), "use super::b::B;\n").unwrap();
    std::fs::write(f.join("b.rs"), "use super::Thing; // a comment: super::a\n").unwrap();
    let g = folder_graph(dir.path(), &f);
    assert_eq!(
        find_cycle(&g),
        Some(vec!["a".into(), "b".into(), "mod".into(), "a".into()])
    );
}
