//! The C ↔ Rust ABI, checked: every struct userspace reads or writes by
//! layout is compared, size and each field's name, offset and size, with
//! the BTF of every embedded object that has it (`Btf::from_raw`), so a
//! change on either side that the other does not follow fails here.

use std::mem::{offset_of, size_of, size_of_val};

use libbpf_rs::AsRawLibbpf;
use libbpf_rs::btf::types::{self, MemberAttr};
use libbpf_rs::btf::{Btf, BtfType, TypeId};

use super::abi::{
    COUNTER_NAMES, CipherProbe, EspProvision, Provision, SCRATCH_BUF, Tamper, TestIv,
};
use super::bpf_objects::BPF_OBJECTS;
use super::object::{self, Flavor};
use crate::domain::Build;

/// The value of the `keys` map as userspace would read it (the kptr reads
/// as 0); `struct bpfcrypt_key_state`.
#[repr(C)]
#[derive(Default)]
struct KeyState {
    iv_len: u32,
    _pad: u32,
    generation: u64,
    ctx: u64,
}

/// A value of `sa_in`/`sa_out` as userspace would read it (lock and kptrs
/// read as 0); `struct esp_sa_state`.
#[repr(C)]
#[derive(Default)]
struct EspSaState {
    spi: u32,
    dir: u32,
    generation: u64,
    k1: [u8; 16],
    k2: [u8; 16],
    seq_next: u64,
    lock: u32,
    replay_top: u32,
    replay_bitmap: [u64; 4],
    cipher: u64,
    auth: u64,
}

/// The value of `esp_cfg`; `struct esp_config`.
#[repr(C)]
#[derive(Default)]
struct EspConfig {
    out_spi: u32,
    _pad: u32,
    generation: u64,
}

/// A struct's layout: C name, size, and (name, offset, size) per field.
#[derive(Debug, PartialEq)]
struct Layout {
    name: String,
    size: usize,
    fields: Vec<(String, usize, usize)>,
}

/// The layout of a Rust mirror, from `offset_of!`; its fields are named
/// as in C.
macro_rules! mirror {
    ($c:literal, $t:ty, [$($f:ident),* $(,)?]) => {{
        let v = <$t>::default();
        Layout {
            name: $c.to_string(),
            size: size_of::<$t>(),
            fields: vec![$((stringify!($f).to_string(), offset_of!($t, $f), size_of_val(&v.$f))),*],
        }
    }};
}

/// Every mirror of the crate.
fn mirrors() -> Vec<Layout> {
    vec![
        mirror!(
            "bpfcrypt_provision",
            Provision,
            [op, key_len, iv_len, status, generation, algo, key]
        ),
        mirror!(
            "esp_provision",
            EspProvision,
            [
                op,
                dir,
                spi,
                flags,
                enc_key_len,
                auth_key_len,
                status,
                out_spi,
                seq_start,
                generation,
                algo,
                enc_key,
                auth_key,
                k1,
                k2
            ]
        ),
        mirror!("bpfcrypt_tamper", Tamper, [offset, xor_mask, enabled, _pad]),
        mirror!("bpfcrypt_test_iv", TestIv, [fixed, iv]),
        mirror!("bpfcrypt_cipher_probe", CipherProbe, [len, cbc]),
        mirror!(
            "bpfcrypt_key_state",
            KeyState,
            [iv_len, _pad, generation, ctx]
        ),
        mirror!(
            "esp_sa_state",
            EspSaState,
            [
                spi,
                dir,
                generation,
                k1,
                k2,
                seq_next,
                lock,
                replay_top,
                replay_bitmap,
                cipher,
                auth
            ]
        ),
        mirror!("esp_config", EspConfig, [out_spi, _pad, generation]),
    ]
}

/// Every embedded object, by its name in the build table.
fn embedded() -> Vec<(String, &'static [u8])> {
    let mut out = vec![("cipher_only".to_string(), object::cipher_only())];
    for b in Build::ALL {
        for (f, suffix) in [
            (Flavor::Plain, ""),
            (Flavor::TestIv, "_testiv"),
            (Flavor::ExtraCopy, "_extracopy"),
        ] {
            if let Some(bytes) = object::bytes(b, f) {
                out.push((format!("{}{suffix}", b.as_str()), bytes));
            }
        }
    }
    out
}

/// The size of BTF type `id` (arrays whole, typedefs and modifiers resolved).
fn type_size(btf: &Btf, id: TypeId) -> usize {
    // SAFETY: the pointer is the live BTF of `btf`; libbpf only reads it.
    let n = unsafe { libbpf_sys::btf__resolve_size(btf.as_libbpf_object().as_ptr(), id.into()) };
    usize::try_from(n).expect("a resolvable size")
}

/// The layout of struct `name` in `btf`, if it has one. With `flatten`,
/// nested structs are replaced by their fields (offsets from the outer
/// struct's start).
fn btf_layout(btf: &Btf, name: &str, flatten: bool) -> Option<Layout> {
    let id = btf_struct_id(btf, name)?;
    let mut fields = Vec::new();
    members(btf, id, 0, flatten, &mut fields);
    Some(Layout {
        name: name.to_string(),
        size: type_size(btf, id),
        fields,
    })
}

fn btf_struct_id(btf: &Btf, name: &str) -> Option<TypeId> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: the pointer is the live BTF of `btf`; c is NUL-terminated.
    let id = unsafe {
        libbpf_sys::btf__find_by_name_kind(
            btf.as_libbpf_object().as_ptr(),
            c.as_ptr(),
            libbpf_sys::BTF_KIND_STRUCT,
        )
    };
    u32::try_from(id).ok().filter(|&i| i > 0).map(TypeId::from)
}

fn members(
    btf: &Btf,
    id: TypeId,
    base: usize,
    flatten: bool,
    out: &mut Vec<(String, usize, usize)>,
) {
    let s: types::Struct = btf.type_by_id(id).expect("a struct");
    for m in s.iter() {
        let MemberAttr::Normal { offset } = m.attr else {
            panic!("bit field in an ABI struct");
        };
        let at = base + offset as usize / 8;
        let inner = btf
            .type_by_id::<BtfType>(m.ty)
            .map(|t| t.skip_mods_and_typedefs());
        if flatten && let Some(inner) = inner.filter(|t| types::Struct::try_from(*t).is_ok()) {
            members(btf, inner.type_id(), at, flatten, out);
            continue;
        }
        let name = m
            .name
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((name, at, type_size(btf, m.ty)));
    }
}

/// The counters as userspace reads them: 8-byte values in the order of
/// `COUNTER_NAMES` (the raw data plane has the first 11).
fn counters_layout(n: usize, name: &str) -> Layout {
    Layout {
        name: name.to_string(),
        size: 8 * n,
        fields: COUNTER_NAMES[..n]
            .iter()
            .enumerate()
            .map(|(i, c)| (c.to_string(), 8 * i, 8))
            .collect(),
    }
}

/// Compares every mirror with every object that has its struct; returns
/// the differences and the structs no object has.
fn differences(objects: &[(String, &[u8])], mirrors: &[Layout]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = vec![false; mirrors.len()];
    let mut stats_seen = [false; 2];
    for (name, bytes) in objects {
        let btf = Btf::from_raw(name, bytes)
            .expect("BTF readable")
            .expect("the object has BTF");
        for (i, want) in mirrors.iter().enumerate() {
            if let Some(got) = btf_layout(&btf, &want.name, false) {
                seen[i] = true;
                if &got != want {
                    problems.push(format!(
                        "{name}: struct {}: C {got:?}, Rust {want:?}",
                        want.name
                    ));
                }
            }
        }
        for (k, (stats, n)) in [("bpfcrypt_stats", 11), ("esp_stats", COUNTER_NAMES.len())]
            .into_iter()
            .enumerate()
        {
            let got = btf_layout(&btf, stats, true);
            stats_seen[k] |= got.is_some();
            if let Some(got) = got
                && got != counters_layout(n, stats)
            {
                problems.push(format!(
                    "{name}: struct {stats}: C {got:?}, COUNTER_NAMES {:?}",
                    &COUNTER_NAMES[..n]
                ));
            }
        }
        if let Some(scratch) = btf_layout(&btf, "bpfcrypt_scratch", false) {
            let src = scratch.fields.iter().find(|f| f.0 == "src").map(|f| f.2);
            if src != Some(SCRATCH_BUF as usize) {
                problems.push(format!(
                    "{name}: bpfcrypt_scratch.src is {src:?} bytes, SCRATCH_BUF {SCRATCH_BUF}"
                ));
            }
        }
    }
    let names = mirrors.iter().map(|m| m.name.as_str());
    for (name, seen) in names
        .chain(["bpfcrypt_stats", "esp_stats"])
        .zip(seen.into_iter().chain(stats_seen))
    {
        if !seen {
            problems.push(format!("no object has struct {name}"));
        }
    }
    problems
}

#[test]
fn every_embedded_object_matches_the_rust_mirrors() {
    let objects = embedded();
    assert_eq!(
        objects.len(),
        BPF_OBJECTS.len(),
        "an object of the build table is not embedded"
    );
    let problems = differences(&objects, &mirrors());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_wrong_offset_is_caught() {
    let mut wrong = mirrors();
    let tamper = wrong
        .iter_mut()
        .find(|m| m.name == "bpfcrypt_tamper")
        .unwrap();
    tamper.fields[1].1 += 1; // xor_mask one byte further
    let problems = differences(&embedded(), &wrong);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("struct bpfcrypt_tamper")),
        "{problems:?}"
    );
}
