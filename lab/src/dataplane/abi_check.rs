//! The C ↔ Rust ABI, checked: every struct userspace reads or writes by
//! layout is compared, size and each field's name, offset and size, with
//! the BTF of every embedded object that has it (`Btf::from_raw`), so a
//! change on either side that the other does not follow fails here.

use libbpf_rs::btf::Btf;

use super::abi::{COUNTER_NAMES, SCRATCH_BUF};
use super::contract::mirrors;
use super::embed::BPF_OBJECTS;
use super::embed::Flavor;
use super::format;
use super::layout::{Layout, btf_layout, counters_layout};
use super::object;
use crate::domain::Build;

/// Every embedded object, by its name in the build table.
fn embedded() -> Vec<(String, &'static [u8])> {
    let mut out = vec![
        ("cipher_only".to_string(), object::cipher_only()),
        ("type_probe".to_string(), object::type_probe()),
        ("chacha_test".to_string(), object::chacha_test()),
    ];
    for b in Build::all() {
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

/// Compares every mirror with every object that has its struct; returns
/// the differences and the structs no object has.
fn differences(objects: &[(String, &[u8])], mirrors: &[Layout]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = vec![false; mirrors.len()];
    let stats_structs: Vec<(&str, usize)> = format::ALL
        .iter()
        .map(|f| (f.abi().stats, f.abi().counters))
        .collect();
    let mut stats_seen = vec![false; stats_structs.len()];
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
        for (k, &(stats, n)) in stats_structs.iter().enumerate() {
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
        .chain(stats_structs.iter().map(|(name, _)| *name))
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
