//! The baseline of a paired bench (`lab bench --baseline REV` or
//! `--baseline-objects DIR`): data plane objects measured against the
//! candidate (the lab's own objects) in the same process, round for round.
//! Plain data: it crosses into a VM guest with the plan, the object bytes
//! as hex; `bench.json` keeps only names and digests ([`Baseline::digests`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The baseline's objects and what they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Baseline {
    /// What the objects are, e.g. `revision origin/main (1a2b3c4d5e6f)`.
    pub(crate) label: String,
    /// The objects, one per build (`crypto`, `copy`, …).
    pub(crate) objects: Vec<BaselineObject>,
}

/// One compiled BPF object of the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BaselineObject {
    /// The build's object name (`domain::Build::as_str`).
    pub(crate) name: String,
    /// SHA-256 of the object, hex: which object was measured.
    pub(crate) sha256: String,
    /// The object; empty in `bench.json`.
    #[serde(default, with = "hex", skip_serializing_if = "Vec::is_empty")]
    pub(crate) bytes: Vec<u8>,
}

impl BaselineObject {
    /// An object named `name` with its digest.
    pub(crate) fn new(name: &str, bytes: Vec<u8>) -> Self {
        Self {
            name: name.to_string(),
            sha256: hex::encode(&Sha256::digest(&bytes)),
            bytes,
        }
    }
}

impl Baseline {
    /// The bytes of object `name`, if the baseline has it.
    pub(crate) fn object(&self, name: &str) -> Option<&[u8]> {
        self.objects
            .iter()
            .find(|o| o.name == name && !o.bytes.is_empty())
            .map(|o| o.bytes.as_slice())
    }

    /// The same baseline without the object bytes (for `bench.json`).
    pub(crate) fn digests(&self) -> Self {
        Self {
            label: self.label.clone(),
            objects: self
                .objects
                .iter()
                .map(|o| BaselineObject {
                    bytes: Vec::new(),
                    ..o.clone()
                })
                .collect(),
        }
    }
}

/// Bytes as a lowercase hex string in JSON.
pub(super) mod hex {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn encode(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() % 2 != 0 {
            return Err(D::Error::custom("odd number of hex digits"));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(text.get(i..i + 2).unwrap_or("?"), 16)
                    .map_err(|_| D::Error::custom(format!("not hex at offset {i}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_cross_as_hex_and_bench_json_keeps_digests() {
        let b = Baseline {
            label: "revision HEAD".into(),
            objects: vec![BaselineObject::new("copy", vec![0, 1, 0xab, 0xff])],
        };
        let json = serde_json::to_string(&b).unwrap();
        assert!(json.contains("\"bytes\":\"0001abff\""), "{json}");
        let back: Baseline = serde_json::from_str(&json).unwrap();
        assert_eq!(back, b);
        assert_eq!(back.object("copy"), Some(&[0, 1, 0xab, 0xff][..]));
        assert_eq!(back.object("crypto"), None);
        let d = b.digests();
        assert_eq!(d.object("copy"), None);
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("bytes"), "{json}");
        // SHA-256 of 00 01 ab ff.
        assert_eq!(d.objects[0].sha256.len(), 64);
        assert_eq!(d.objects[0].sha256, b.objects[0].sha256);
        let bad = json.replace("\"sha256\"", "\"bytes\":\"0g\",\"sha256\"");
        assert!(serde_json::from_str::<Baseline>(&bad).is_err());
    }
}
