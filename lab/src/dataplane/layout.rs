//! Struct layouts of the C ↔ Rust ABI: each Rust mirror's size and fields
//! (`offset_of!`), and the same read from an object's BTF. The unit test
//! `abi_check` compares them for every embedded object; the contract check
//! of a user's object (`contract`) for that object.

use libbpf_rs::AsRawLibbpf;
use libbpf_rs::btf::types::{self, MemberAttr};
use libbpf_rs::btf::{Btf, BtfType, TypeId};

use super::abi::{COUNTER_NAMES, CipherProbe, Provision, Tamper, TestIv, TypeProbe};

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

/// A struct's layout: C name, size, and (name, offset, size) per field.
#[derive(Debug, PartialEq)]
pub(crate) struct Layout {
    pub(crate) name: String,
    pub(crate) size: usize,
    pub(crate) fields: Vec<(String, usize, usize)>,
}

/// The layout of a Rust mirror, from `offset_of!`; its fields are named
/// as in C.
macro_rules! mirror {
    ($c:literal, $t:ty, [$($f:ident),* $(,)?]) => {{
        let v = <$t>::default();
        $crate::dataplane::layout::Layout {
            name: $c.to_string(),
            size: std::mem::size_of::<$t>(),
            fields: vec![$((
                stringify!($f).trim_start_matches("r#").to_string(),
                std::mem::offset_of!($t, $f),
                std::mem::size_of_val(&v.$f),
            )),*],
        }
    }};
}
pub(crate) use mirror;

/// The mirrors of the structs every format shares and of the raw
/// format's; a format's own are its `Abi::layouts`.
pub(crate) fn mirrors() -> Vec<Layout> {
    vec![
        mirror!(
            "bpfcrypt_provision",
            Provision,
            [op, key_len, iv_len, status, generation, algo, key]
        ),
        mirror!("bpfcrypt_tamper", Tamper, [offset, xor_mask, enabled, _pad]),
        mirror!("bpfcrypt_test_iv", TestIv, [fixed, iv]),
        mirror!("bpfcrypt_cipher_probe", CipherProbe, [len, cbc]),
        mirror!(
            "bpfcrypt_type_probe",
            TypeProbe,
            [r#type, algo, key, key_len, authsize, status, _pad]
        ),
        mirror!(
            "bpfcrypt_key_state",
            KeyState,
            [iv_len, _pad, generation, ctx]
        ),
    ]
}

/// The size of BTF type `id` (arrays whole, typedefs and modifiers resolved).
fn type_size(btf: &Btf, id: TypeId) -> usize {
    // SAFETY: the pointer is the live BTF of `btf`; libbpf only reads it.
    let n = unsafe { libbpf_sys::btf__resolve_size(btf.as_libbpf_object().as_ptr(), id.into()) };
    usize::try_from(n).unwrap_or(0) // 0: unresolvable, a size no ABI struct has
}

/// The layout of struct `name` in `btf`, if it has one. With `flatten`,
/// nested structs are replaced by their fields (offsets from the outer
/// struct's start).
pub(crate) fn btf_layout(btf: &Btf, name: &str, flatten: bool) -> Option<Layout> {
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
    let Some(s) = btf.type_by_id::<types::Struct>(id) else {
        return;
    };
    for m in s.iter() {
        // A bit field is never part of an ABI struct: it reads as a field
        // of size 0, which no mirror has.
        let (offset, bits) = match m.attr {
            MemberAttr::Normal { offset } => (offset, false),
            MemberAttr::BitField { offset, .. } => (offset, true),
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
        out.push((name, at, if bits { 0 } else { type_size(btf, m.ty) }));
    }
}

/// The counters as userspace reads them: 8-byte values in the order of
/// `COUNTER_NAMES` (a format has the first `n`: `abi::RAW_COUNTERS`, …).
pub(crate) fn counters_layout(n: usize, name: &str) -> Layout {
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
