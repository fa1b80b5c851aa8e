//! The wire formats of the lab's data plane, one type each behind one
//! interface ([`WireFormat`]): its BPF builds, keying, overhead and frame
//! length, the reference seal and open the oracle and the fuzzer hold it
//! to, what the fuzzer expects of it, and its bench variants' names.
//! [`of`] is the one place a `domain::Mode` (the name in files) becomes
//! its format; the rest of the crate asks the format, never its name.

mod interface;
mod names;

pub(crate) use interface::{Abi, Keys, SaDir, Variant, WireFormat};

use crate::domain::{Algorithm, BenchVariant, Mode};

/// Declares each format's module and lists its type in [`ALL`]: the one
/// line a new format adds here (`module::Type`).
macro_rules! formats {
    ($($module:ident::$format:ident),+ $(,)?) => {
        $(pub(crate) mod $module;)+

        /// Every format, in report order.
        pub(crate) static ALL: &[&dyn WireFormat] = &[$(&$module::$format),+];
    };
}

formats! {
    raw::Raw,
    esp::Esp,
    wireguard::Wireguard,
}

/// The format named `mode` (a `Mode` is only ever made by its format).
pub(crate) fn of(mode: Mode) -> &'static dyn WireFormat {
    ALL.iter()
        .copied()
        .find(|f| f.name() == mode.as_str())
        .expect("a Mode is made by its format")
}

/// The format and cipher of a variant of the lab's data plane with a
/// cipher; `None` for the others.
pub(crate) fn of_variant(v: BenchVariant) -> Option<(&'static dyn WireFormat, Algorithm)> {
    match v {
        BenchVariant::Lab {
            format, algorithm, ..
        } => Some((of(format), algorithm)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::embed::Flavor;
    use crate::exec::analysis::wire::test_frame;
    use crate::exec::bench::frames::udp_frame;

    #[test]
    fn each_format_is_its_mode_and_every_variant_its_own() {
        for f in ALL {
            assert_eq!(of(f.mode()).mode(), f.mode());
            for v in f.variants() {
                assert!(f.algorithms().contains(&v.algorithm), "{}", v.name);
            }
            let builds = if f.has_in_place() { 2 } else { 1 };
            for &a in f.algorithms() {
                assert!(
                    f.variants().iter().filter(|v| v.algorithm == a).count() == builds,
                    "{} bounced (and in place, if it has that build)",
                    a.kernel_name()
                );
            }
            for v in f.variants() {
                assert!(f.object(v.in_place, Flavor::Plain).is_some(), "{}", v.name);
            }
        }
        // Figures tell variants apart by short name and colour.
        let all: Vec<&Variant> = ALL.iter().flat_map(|f| f.variants()).collect();
        for (i, v) in all.iter().enumerate() {
            for w in &all[..i] {
                assert!(
                    v.short != w.short && v.rgb != w.rgb,
                    "{} ~ {}",
                    v.name,
                    w.name
                );
            }
        }
    }

    #[test]
    fn a_reference_output_passes_and_any_changed_byte_is_named() {
        let (key, auth, iv) = ([5u8; 16], [6u8; 16], [7u8; 16]);
        // A UDP datagram whose checksum egress would complete (0 here).
        let udp = [
            0x30, 0x39, 0x00, 0x35, 0, 28, 0, 0, b'x', b'y', b'z', 1, 2, 3, 4, 5, 6, 7, 8, 9,
        ];
        let input = test_frame(17, &udp);
        for alg in [Algorithm::CbcAes, Algorithm::EcbAes] {
            let keys = Keys::new(alg, &key, &auth);
            let out = test_frame(17, &raw::encrypt(alg, &key, iv, &udp).unwrap());
            assert_eq!(raw::Raw.reference(&keys, iv, &input, &out), Ok(()));
            let mut bad = out.clone();
            *bad.last_mut().unwrap() ^= 1;
            let e = raw::Raw.reference(&keys, iv, &input, &bad).unwrap_err();
            assert!(e.contains("reference encryption"), "{e}");
        }
        // ESP: the inner UDP checksum may differ (egress completes it).
        let keys = Keys::new(Algorithm::CbcAes, &key, &auth);
        let mut inner = udp.to_vec();
        inner[6..8].copy_from_slice(&[0xab, 0xcd]);
        let seal = |iv, inner: &[u8]| {
            esp::reference::seal_as(&key, &auth, (0x4242, 9), iv, inner, 17).unwrap()
        };
        let esp_out = seal(iv, &inner);
        let out = test_frame(50, &esp_out);
        assert_eq!(esp::Esp.reference(&keys, iv, &input, &out), Ok(()));
        let esp_refusal = |wire: &[u8]| {
            esp::Esp
                .reference(&keys, iv, &input, &test_frame(50, wire))
                .unwrap_err()
        };
        let e = esp_refusal(&seal([8; 16], &inner));
        assert!(e.contains("reference ESP packet"), "{e}");
        let e = esp_refusal(&esp_out[..esp_out.len() - 1]);
        assert!(e.contains("refuses"), "{e}");
        let mut other_payload = udp;
        other_payload[9] ^= 1;
        let e = esp_refusal(&seal(iv, &other_payload));
        assert!(e.contains("payload sent"), "{e}");
    }

    /// Each format's check of a bench egress output takes what the
    /// reference makes and refuses the plaintext or a changed byte.
    #[test]
    fn egress_checks_take_the_reference_and_refuse_the_rest() {
        let (a, b) = ("198.18.0.1".parse().unwrap(), "198.18.0.2".parse().unwrap());
        let input = udp_frame(100, a, b, 1);
        let (key, auth, iv) = ([1u8; 16], [2u8; 16], [3u8; 16]);
        let ip = |payload: &[u8], protocol: u8| {
            let mut f = test_frame(protocol, payload);
            f[..14].copy_from_slice(&input[..14]);
            f[14 + 12..14 + 20].copy_from_slice(&input[14 + 12..14 + 20]);
            f[14 + 10..14 + 12].fill(0);
            let c = crate::net::checksum(&f[14..34]);
            f[14 + 10..14 + 12].copy_from_slice(&c.to_be_bytes());
            f
        };
        let udp = &input[34..];
        for alg in [Algorithm::CbcAes, Algorithm::EcbAes] {
            let keys = Keys::new(alg, &key, &auth);
            assert!(raw::Raw.check_egress(&keys, &input, &input).is_err());
            let out = ip(&raw::encrypt(alg, &key, iv, udp).unwrap(), 17);
            assert_eq!(raw::Raw.check_egress(&keys, &input, &out), Ok(()));
            let mut bad = out.clone();
            bad[40] ^= 1;
            assert!(raw::Raw.check_egress(&keys, &input, &bad).is_err());
        }
        let keys = Keys::new(Algorithm::CbcAes, &key, &auth);
        let sealed = esp::reference::seal_as(&key, &auth, (0x4000, 1), iv, udp, 17).unwrap();
        let out = ip(&sealed, 50);
        assert_eq!(esp::Esp.check_egress(&keys, &input, &out), Ok(()));
        let mut bad = out.clone();
        bad[40] ^= 1;
        assert!(esp::Esp.check_egress(&keys, &input, &bad).is_err());
        assert!(esp::Esp.check_egress(&keys, &input, &input).is_err());
    }
}
