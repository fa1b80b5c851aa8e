//! The compiled BPF objects, embedded at build time (`lab/build.rs`):
//! which object each build is. A wire format's builds are the format's own
//! (`format::WireFormat::object`); copy, noop and the cipher-only probe are
//! here.

use super::embed::{Flavor, embedded};
use super::format;
use crate::domain::Build;

impl Build {
    /// Short name: the object's name in `embed::BPF_OBJECTS`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Build::Cipher { format, in_place } => format::of(format).object_name(in_place),
            Build::Copy => "copy",
            Build::Noop => "noop",
        }
    }

    /// Every build: each wire format's, bounced and (where it has one) in
    /// place, then copy and noop (the tests that check each embedded object
    /// walk them).
    #[cfg(test)]
    pub(crate) fn all() -> Vec<Build> {
        let mut all: Vec<Build> = format::ALL
            .iter()
            .flat_map(|f| {
                let builds: &[bool] = if f.has_in_place() {
                    &[false, true]
                } else {
                    &[false]
                };
                builds.iter().map(|&in_place| Build::of(f.mode(), in_place))
            })
            .collect();
        all.extend([Build::Copy, Build::Noop]);
        all
    }
}

/// The embedded object of a build as shipped (its name in
/// `embed::BPF_OBJECTS` is `build.as_str()`).
pub(crate) fn plain(build: Build) -> &'static [u8] {
    bytes(build, Flavor::Plain).expect("every build has a plain object")
}

/// The bench's cipher-only probe (`ebpf/cipher_only.bpf.c`): loaded on
/// the `keys` and `scratch` maps of a loaded raw build.
pub(crate) fn cipher_only() -> &'static [u8] {
    embedded!("cipher_only")
}

/// The test harness of ChaCha20-Poly1305 in BPF C
/// (`ebpf/chacha_test.bpf.c`, checked in `chacha_test`).
#[cfg(test)]
pub(crate) fn chacha_test() -> &'static [u8] {
    embedded!("chacha_test")
}

/// `lab probe`'s type probe (`ebpf/type_probe.bpf.c`).
pub(crate) fn type_probe() -> &'static [u8] {
    embedded!("type_probe")
}

/// The object file of a build in a flavor; `None` when that build has no
/// such test object.
pub(crate) fn bytes(build: Build, flavor: Flavor) -> Option<&'static [u8]> {
    Some(match (build, flavor) {
        (Build::Cipher { format, in_place }, _) => {
            return format::of(format).object(in_place, flavor);
        }
        (Build::Copy, Flavor::Plain) => embedded!("copy"),
        (Build::Noop, Flavor::Plain) => embedded!("noop"),
        (Build::Copy, Flavor::ExtraCopy) => embedded!("copy_extracopy"),
        (Build::Copy | Build::Noop, Flavor::TestIv) | (Build::Noop, Flavor::ExtraCopy) => {
            return None;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::embed::BPF_OBJECTS;

    /// A build's object name is `Build::as_str` in the shared table, and
    /// the embedded object is the one compiled under that name.
    #[test]
    fn plain_objects_are_the_tables_builds() {
        for b in Build::all() {
            assert!(
                BPF_OBJECTS.iter().any(|(name, _, _)| *name == b.as_str()),
                "{} is not in the table",
                b.as_str()
            );
            let file = format!("{}/{}.bpf.o", env!("OUT_DIR"), b.as_str());
            assert_eq!(plain(b), std::fs::read(&file).unwrap(), "{file}");
        }
    }

    /// Every test object a build has is in the table under
    /// `<build>_<flavor>`, and is that file.
    #[test]
    fn test_flavors_are_the_tables_objects() {
        for b in Build::all() {
            for (flavor, suffix) in [(Flavor::TestIv, "testiv"), (Flavor::ExtraCopy, "extracopy")] {
                let Some(obj) = bytes(b, flavor) else {
                    continue;
                };
                let name = format!("{}_{suffix}", b.as_str());
                assert!(BPF_OBJECTS.iter().any(|(n, _, _)| *n == name), "{name}");
                let file = format!("{}/{name}.bpf.o", env!("OUT_DIR"));
                assert_eq!(obj, std::fs::read(&file).unwrap(), "{file}");
            }
        }
    }
}
