//! The contract a data plane a user brings must follow
//! (`docs/dataplane-abi.md`): checked on the object's ELF and BTF before
//! anything is loaded, so that a wrong object is refused with every
//! problem named instead of failing halfway through a run.

use libbpf_rs::btf::Btf;
use libbpf_rs::{MapType, ObjectBuilder, OpenObject, ProgramType};

use super::format::{self, Abi};
use super::layout::{self, Layout, btf_layout, counters_layout};
use super::verifier_log;
use crate::domain::Mode;
use crate::kernels::elf::Elf;

/// What the check found out about an object that follows the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Contract {
    /// The ABI it follows (from its provisioning context's BTF).
    pub(crate) format: Mode,
    /// It has the optional tamper test program (`tamper_egress` and map
    /// `tamper`), which scenarios with a `tamper` step need.
    pub(crate) tamper: bool,
    /// It has the raw layout's `keys` and `scratch` maps, on which the
    /// bench's kfunc-alone probe runs.
    pub(crate) probe_maps: bool,
}

/// An object that does not follow the contract: every problem found.
#[derive(Debug, thiserror::Error)]
#[error(
    "the object does not follow the lab's data plane ABI (docs/dataplane-abi.md):\n  - {}",
    problems.join("\n  - ")
)]
pub(crate) struct ContractError {
    /// One line per missing or mismatched program, map or field.
    pub(crate) problems: Vec<String>,
}

/// The programs every data plane has: name, type, the section to use.
const PROGRAMS: [(&str, ProgramType, &str); 3] = [
    ("encrypt_egress", ProgramType::SchedCls, "tcx/egress"),
    ("decrypt_ingress", ProgramType::SchedCls, "tcx/ingress"),
    ("provision", ProgramType::Syscall, "syscall"),
];

/// Checks `bytes` (an ELF BPF object) against the contract.
pub(crate) fn check(bytes: &[u8]) -> Result<Contract, ContractError> {
    let fail = |p: String| ContractError { problems: vec![p] };
    // libbpf prints its own complaints; ours are the problems below.
    let quiet = verifier_log::Capture::start();
    let btf = match Btf::from_raw("dataplane", bytes) {
        Ok(Some(btf)) => btf,
        Ok(None) => return Err(fail("no BTF (.BTF section): compile with `-g`".into())),
        Err(e) => return Err(fail(format!("not a BPF ELF object: {e}"))),
    };
    let open = ObjectBuilder::default()
        .open_memory(bytes)
        .map_err(|e| fail(format!("libbpf cannot open it: {e}")))?;
    drop(quiet);
    // The format is the one whose provisioning context the BTF has.
    let Some(format) = format::ALL
        .iter()
        .find(|f| btf_layout(&btf, f.abi().provision, false).is_some())
    else {
        let names: Vec<String> = format::ALL
            .iter()
            .map(|f| format!("`struct {}` ({} ABI)", f.abi().provision, f.name()))
            .collect();
        return Err(fail(format!(
            "its BTF has none of {}: the `provision` program's context",
            names.join(", ")
        )));
    };
    let mut problems = Vec::new();
    license(bytes, &mut problems);
    let a = format.abi();
    for (name, ty, section) in PROGRAMS {
        program(&open, name, ty, section, &mut problems);
    }
    same_layout(&btf, a.provision, &mut problems);
    stats(&open, &btf, &a, &mut problems);
    let tamper = open.progs().any(|p| p.name() == "tamper_egress");
    if tamper {
        program(
            &open,
            "tamper_egress",
            ProgramType::SchedCls,
            "tcx/egress",
            &mut problems,
        );
        map(&open, "tamper", MapType::Array, 8, &mut problems);
        same_layout(&btf, "bpfcrypt_tamper", &mut problems);
    }
    let probe_maps = a.cipher_probe
        && ["keys", "scratch"]
            .iter()
            .all(|n| open.maps().any(|m| m.name() == *n));
    if problems.is_empty() {
        Ok(Contract {
            format: format.mode(),
            tamper,
            probe_maps,
        })
    } else {
        Err(ContractError { problems })
    }
}

/// The kfuncs are GPL-only: the verifier refuses their calls from a
/// program under another license, so say so before it does.
fn license(bytes: &[u8], out: &mut Vec<String>) {
    let section = Elf::parse(bytes).and_then(|e| e.section("license"));
    let text = match section {
        Ok(Some(s)) => {
            String::from_utf8_lossy(s.split(|b| *b == 0).next().unwrap_or(s)).into_owned()
        }
        Ok(None) => String::new(),
        Err(e) => return out.push(format!("its ELF cannot be read: {e}")),
    };
    // The kernel's list of GPL-compatible license strings.
    const GPL: [&str; 6] = [
        "GPL",
        "GPL v2",
        "GPL and additional rights",
        "Dual BSD/GPL",
        "Dual MIT/GPL",
        "Dual MPL/GPL",
    ];
    if !GPL.contains(&text.as_str()) {
        out.push(format!(
            "license \"{text}\" is not GPL-compatible: the bpf_crypto kfuncs are GPL-only \
             (char LICENSE[] SEC(\"license\") = \"GPL\";)"
        ));
    }
}

fn program(open: &OpenObject, name: &str, ty: ProgramType, section: &str, out: &mut Vec<String>) {
    match open.progs().find(|p| p.name() == name) {
        None => out.push(format!(
            "program `{name}` is missing ({ty:?}, SEC(\"{section}\"))"
        )),
        Some(p) if p.prog_type() != ty => out.push(format!(
            "program `{name}` is {:?} (section {}); the ABI needs {ty:?}, SEC(\"{section}\")",
            p.prog_type(),
            p.section().to_string_lossy()
        )),
        Some(_) => {}
    }
}

/// Map `name` with a 4-byte key and at least `min_value` bytes of value.
fn map(open: &OpenObject, name: &str, ty: MapType, min_value: u32, out: &mut Vec<String>) {
    let Some(m) = open.maps().find(|m| m.name() == name) else {
        out.push(format!("map `{name}` is missing ({ty:?})"));
        return;
    };
    if m.map_type() != ty {
        out.push(format!(
            "map `{name}` is {:?}; the ABI needs {ty:?}",
            m.map_type()
        ));
    }
    if m.key_size() != 4 {
        out.push(format!(
            "map `{name}` has {}-byte keys; the ABI needs 4 (__u32)",
            m.key_size()
        ));
    }
    if m.value_size() < min_value {
        out.push(format!(
            "map `{name}` has {}-byte values; the ABI needs at least {min_value}",
            m.value_size()
        ));
    }
}

/// The `stats` map and, when its BTF names the counter struct, each
/// counter's place.
fn stats(open: &OpenObject, btf: &Btf, a: &Abi, out: &mut Vec<String>) {
    let size = 8 * a.counters as u32;
    map(open, "stats", MapType::PercpuArray, size, out);
    if let Some(got) = btf_layout(btf, a.stats, true)
        && got != counters_layout(a.counters, a.stats)
    {
        out.push(format!(
            "struct {}: the counters must be {} u64 in this order: {}",
            a.stats,
            a.counters,
            super::abi::COUNTER_NAMES[..a.counters].join(", ")
        ));
    }
}

/// Every Rust mirror of the ABI: the shared structs' and each format's.
pub(crate) fn mirrors() -> Vec<Layout> {
    let mut all = layout::mirrors();
    for f in format::ALL {
        all.extend((f.abi().layouts)());
    }
    all
}

/// Struct `name` in the object's BTF has exactly the lab's layout.
fn same_layout(btf: &Btf, name: &str, out: &mut Vec<String>) {
    let want = mirrors()
        .into_iter()
        .find(|m| m.name == name)
        .expect("a mirrored struct");
    match btf_layout(btf, name, false) {
        None => out.push(format!("its BTF has no `struct {name}`")),
        Some(got) if got.size != want.size => out.push(format!(
            "struct {name} is {} bytes; the ABI's is {}",
            got.size, want.size
        )),
        Some(got) => {
            for (f, at, size) in &want.fields {
                match got.fields.iter().find(|g| &g.0 == f) {
                    None => out.push(format!("struct {name} has no field `{f}`")),
                    Some(g) if (g.1, g.2) != (*at, *size) => out.push(format!(
                        "struct {name}.{f} is at offset {} ({} bytes); the ABI has it at {at} ({size} bytes)",
                        g.1, g.2
                    )),
                    Some(_) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::format::{WireFormat, raw};
    use crate::dataplane::object::plain;
    use crate::domain::Build;

    #[test]
    fn the_shipped_builds_follow_the_contract() {
        let raw = raw::Raw.mode();
        for b in Build::all() {
            let Build::Cipher { format, .. } = b else {
                continue;
            };
            let c = check(plain(b)).unwrap_or_else(|e| panic!("{}: {e}", b.as_str()));
            assert_eq!(c.format, format, "{}", b.as_str());
            assert!(c.tamper, "{}", b.as_str());
            assert_eq!(c.probe_maps, format == raw, "{}", b.as_str());
        }
    }

    #[test]
    fn a_license_other_than_gpl_is_refused() {
        let mut bytes = plain(Build::of(raw::Raw.mode(), false)).to_vec();
        let at = {
            let elf = Elf::parse(&bytes).unwrap();
            let s = elf.section("license").unwrap().unwrap();
            s.as_ptr() as usize - bytes.as_ptr() as usize
        };
        bytes[at..at + 4].copy_from_slice(b"MIT\0");
        let e = check(&bytes).unwrap_err().to_string();
        assert!(e.contains("license \"MIT\" is not GPL-compatible"), "{e}");
    }

    #[test]
    fn what_is_not_an_object_is_named() {
        let e = check(b"not an elf").unwrap_err().to_string();
        assert!(e.contains("not a BPF ELF object"), "{e}");
        // The bench probe has BTF but is no data plane.
        let e = check(crate::dataplane::object::cipher_only())
            .unwrap_err()
            .to_string();
        assert!(e.contains("none of `struct bpfcrypt_provision`"), "{e}");
    }
}
