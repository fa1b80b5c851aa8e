//! Wire formats and bench variants by name: the names in files and reports
//! (`cipher.mode`, `bench.yaml`'s `variants:`, `bench.json`, the reports)
//! are the formats', written once in each format.

use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::interface::Variant;
use super::{ALL, of};
use crate::domain::{BenchVariant, KernelStack, Mode};

impl Mode {
    /// Parses a name in files.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        ALL.iter().map(|f| f.mode()).find(|m| m.as_str() == name)
    }

    /// Every name, for an error message: `` `raw` or `esp` ``.
    pub(crate) fn choices() -> String {
        let names: Vec<String> = ALL.iter().map(|f| format!("`{}`", f.name())).collect();
        match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// The first format, raw: a scenario without `cipher.mode`.
impl Default for Mode {
    fn default() -> Self {
        ALL[0].mode()
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{name}` is not a wire format ({})",
                Self::choices()
            ))
        })
    }
}

impl BenchVariant {
    /// Every variant, baseline first: none, noop, copy, each format's
    /// variants, the kernel's stacks.
    pub(crate) fn all() -> &'static [BenchVariant] {
        static ALL_VARIANTS: OnceLock<Vec<BenchVariant>> = OnceLock::new();
        ALL_VARIANTS.get_or_init(|| {
            let mut all = vec![Self::NoProgram, Self::Noop, Self::Copy];
            for f in ALL {
                all.extend(f.variants().iter().map(|v| Self::Lab {
                    format: f.mode(),
                    algorithm: v.algorithm,
                    in_place: v.in_place,
                }));
            }
            all.extend(KernelStack::ALL.map(Self::Kernel));
            all
        })
    }

    /// Name as written in files and reports.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::NoProgram => "none",
            Self::Noop => "noop",
            Self::Copy => "copy",
            Self::Lab { .. } => self.lab_variant().map_or("(no such variant)", |v| v.name),
            Self::Kernel(k) => k.as_str(),
        }
    }

    /// The format's entry for a variant of the lab's data plane with a
    /// cipher: its names and colour.
    pub(crate) fn lab_variant(self) -> Option<&'static Variant> {
        let Self::Lab {
            format,
            algorithm,
            in_place,
        } = self
        else {
            return None;
        };
        of(format)
            .variants()
            .iter()
            .find(|v| v.algorithm == algorithm && v.in_place == in_place)
    }

    /// Parses a name.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::all().iter().copied().find(|v| v.as_str() == s)
    }
}

/// Report order: the order of [`BenchVariant::all`].
impl Ord for BenchVariant {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let rank = |v: &Self| Self::all().iter().position(|x| x == v);
        rank(self).cmp(&rank(other))
    }
}

impl PartialOrd for BenchVariant {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for BenchVariant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BenchVariant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("`{name}` is not a bench variant")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A format's name is its serialized name, and parses back.
    #[test]
    fn format_names_are_their_serialized_names() {
        for f in ALL {
            let m = f.mode();
            assert_eq!(
                serde_json::to_string(&m).unwrap(),
                format!("\"{}\"", m.as_str())
            );
            assert_eq!(Mode::parse(m.as_str()), Some(m));
        }
        assert_eq!(Mode::parse("ah"), None);
        assert_eq!(Mode::choices(), "`raw`, `esp` or `wireguard`");
    }

    /// The names files and reports hold, in report order: they may not
    /// change (benches of other lab versions are read and compared).
    #[test]
    fn names_are_todays_and_round_trip() {
        let names: Vec<&str> = BenchVariant::all().iter().map(|v| v.as_str()).collect();
        assert_eq!(
            names,
            [
                "none",
                "noop",
                "copy",
                "ecb(aes)",
                "cbc(aes)",
                "ecb(aes) in place",
                "cbc(aes) in place",
                "esp",
                "esp in place",
                "wireguard (bpf)",
                "xfrm cbc+cmac",
                "xfrm gcm",
                "wireguard",
            ]
        );
        for &v in BenchVariant::all() {
            assert_eq!(BenchVariant::parse(v.as_str()), Some(v));
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{}\"", v.as_str()));
            assert_eq!(serde_json::from_str::<BenchVariant>(&json).unwrap(), v);
        }
        assert_eq!(BenchVariant::Esp.as_str(), "esp");
        assert_eq!(BenchVariant::CbcInPlace.as_str(), "cbc(aes) in place");
        assert!(serde_json::from_str::<BenchVariant>("\"esp gcm\"").is_err());
    }
}
