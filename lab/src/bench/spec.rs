//! Bench scenario files (YAML, version 1): parsing with locations and
//! validation into a [`BenchPlan`], which crosses into VM guests as JSON.
//!
//! Errors are [`ScenarioError`]s, so they read `file:line:column: field …`
//! like the scenario files' errors.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};

use super::model::BenchVariant;
use crate::dataplane::abi::{BPFCRYPT_MAX_PLAIN, BPFCRYPT_OVERHEAD};
use crate::plan::{IfAddr, decode_hex};
use crate::scenario::ScenarioError;

/// Smallest packet size (IPv4 total length): header, UDP header and a
/// 16-byte sequence/marker prefix.
pub const MIN_SIZE: u32 = 48;
/// Largest packet size the data plane encrypts (IPv4 header + max payload).
pub const MAX_SIZE: u32 = 20 + BPFCRYPT_MAX_PLAIN;

/// A bench file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchFile {
    /// Format version; must be 1.
    pub version: Spanned<u32>,
    /// Short name, used in the run id.
    pub name: Spanned<String>,
    /// Free text shown in the report.
    #[serde(default)]
    pub description: String,
    /// Namespaces and veth for the end-to-end part.
    #[serde(default)]
    pub topology: Option<TopologyFile>,
    /// AES key in hex (16 or 32 bytes).
    #[serde(default)]
    pub key: Option<Spanned<String>>,
    /// IPv4 packet sizes in bytes (header included).
    pub sizes: Spanned<Vec<Spanned<u32>>>,
    /// Data plane variants: `noop`, `copy`, `ecb(aes)`, `cbc(aes)`.
    pub variants: Spanned<Vec<Spanned<String>>>,
    /// BPF_PROG_TEST_RUN of the TC programs.
    #[serde(default)]
    pub micro: Option<Spanned<MicroFile>>,
    /// Raw cipher speed through AF_ALG.
    #[serde(default)]
    pub cipher: Option<Spanned<CipherFile>>,
    /// UDP over the veth pair.
    #[serde(default)]
    pub udp: Option<Spanned<UdpFile>>,
    /// TCP over the veth pair.
    #[serde(default)]
    pub tcp: Option<Spanned<TcpFile>>,
}

/// `topology:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyFile {
    /// Left end address, e.g. `198.18.0.1/24`.
    #[serde(default)]
    pub left: Option<Spanned<String>>,
    /// Right end address.
    #[serde(default)]
    pub right: Option<Spanned<String>>,
    /// Wire MTU of the veth.
    #[serde(default)]
    pub mtu: Option<Spanned<u32>>,
}

/// `micro:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MicroFile {
    /// Measured rounds.
    #[serde(default)]
    pub rounds: Option<Spanned<u32>>,
    /// Discarded rounds before them.
    #[serde(default)]
    pub warmup_rounds: Option<Spanned<u32>>,
    /// Target duration of one round, ms (sets the runs per round).
    #[serde(default)]
    pub round_ms: Option<Spanned<u64>>,
}

/// `cipher:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CipherFile {
    /// Measured rounds.
    #[serde(default)]
    pub rounds: Option<Spanned<u32>>,
    /// Discarded rounds before them.
    #[serde(default)]
    pub warmup_rounds: Option<Spanned<u32>>,
    /// Target duration of one round, ms.
    #[serde(default)]
    pub round_ms: Option<Spanned<u64>>,
    /// Bytes per cipher operation.
    #[serde(default)]
    pub bulk_bytes: Option<Spanned<u32>>,
}

/// `udp:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpFile {
    /// Measured rounds per point.
    #[serde(default)]
    pub rounds: Option<Spanned<u32>>,
    /// Discarded warm-up before the rounds, ms.
    #[serde(default)]
    pub warmup_ms: Option<Spanned<u64>>,
    /// Sending time per round, ms.
    #[serde(default)]
    pub duration_ms: Option<Spanned<u64>>,
    /// Destination port.
    #[serde(default)]
    pub port: Option<Spanned<u16>>,
}

/// `tcp:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpFile {
    /// Measured rounds per point.
    #[serde(default)]
    pub rounds: Option<Spanned<u32>>,
    /// Discarded warm-up before the rounds, ms.
    #[serde(default)]
    pub warmup_ms: Option<Spanned<u64>>,
    /// Sending time per round, ms.
    #[serde(default)]
    pub duration_ms: Option<Spanned<u64>>,
    /// Listening port.
    #[serde(default)]
    pub port: Option<Spanned<u16>>,
    /// Offload modes: `on`, `off`, `segmentation-off`.
    #[serde(default)]
    pub offloads: Option<Vec<Spanned<String>>>,
}

/// Settings of the micro level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MicroPlan {
    /// Measured rounds.
    pub rounds: u32,
    /// Discarded rounds.
    pub warmup_rounds: u32,
    /// Target round duration, ms.
    pub round_ms: u64,
}

/// Settings of the raw cipher baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CipherPlan {
    /// Measured rounds.
    pub rounds: u32,
    /// Discarded rounds.
    pub warmup_rounds: u32,
    /// Target round duration, ms.
    pub round_ms: u64,
    /// Bytes per operation.
    pub bulk_bytes: u32,
}

/// Settings of one end-to-end protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowPlan {
    /// Measured rounds per point.
    pub rounds: u32,
    /// Discarded warm-up, ms.
    pub warmup_ms: u64,
    /// Sending time per round, ms.
    pub duration_ms: u64,
    /// Port.
    pub port: u16,
}

/// TCP settings: a flow plan and the offload modes to try.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpPlan {
    /// Rounds, durations, port.
    pub flow: FlowPlan,
    /// Offload modes, in order.
    pub offloads: Vec<OffloadMode>,
}

/// A named set of veth offload switches (applied on both ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OffloadMode {
    /// TSO, GSO and TX checksum offload on (veth defaults).
    On,
    /// All three off.
    Off,
    /// TSO and GSO off, TX checksum offload on.
    SegmentationOff,
}

impl OffloadMode {
    /// Name as written in files.
    pub fn as_str(self) -> &'static str {
        match self {
            OffloadMode::On => "on",
            OffloadMode::Off => "off",
            OffloadMode::SegmentationOff => "segmentation-off",
        }
    }

    /// `(tso, gso, tx_csum)`.
    pub fn switches(self) -> (bool, bool, bool) {
        match self {
            OffloadMode::On => (true, true, true),
            OffloadMode::Off => (false, false, false),
            OffloadMode::SegmentationOff => (false, false, true),
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::On, Self::Off, Self::SegmentationOff]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// A validated bench.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchPlan {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// File as given.
    pub source: String,
    /// Left end.
    pub left: IfAddr,
    /// Right end.
    pub right: IfAddr,
    /// Wire MTU of the veth.
    pub mtu: u32,
    /// AES key.
    pub key: Vec<u8>,
    /// Packet sizes, ascending.
    pub sizes: Vec<u32>,
    /// Data plane variants (never `none`; the end-to-end part adds it).
    pub variants: Vec<BenchVariant>,
    /// Micro level, if wanted.
    pub micro: Option<MicroPlan>,
    /// Raw cipher baseline, if wanted.
    pub cipher: Option<CipherPlan>,
    /// UDP end to end, if wanted.
    pub udp: Option<FlowPlan>,
    /// TCP end to end, if wanted.
    pub tcp: Option<TcpPlan>,
    /// Whether `--quick` shortened the settings.
    pub quick: bool,
}

impl BenchPlan {
    /// Shortens rounds and durations for a fast smoke run (`--quick`);
    /// sizes and variants stay.
    pub fn quick(mut self) -> Self {
        if let Some(m) = &mut self.micro {
            m.rounds = m.rounds.min(3);
            m.warmup_rounds = m.warmup_rounds.min(1);
            m.round_ms = m.round_ms.min(8);
        }
        if let Some(c) = &mut self.cipher {
            c.rounds = c.rounds.min(3);
            c.warmup_rounds = c.warmup_rounds.min(1);
            c.round_ms = c.round_ms.min(8);
        }
        for f in [self.udp.as_mut(), self.tcp.as_mut().map(|t| &mut t.flow)]
            .into_iter()
            .flatten()
        {
            f.rounds = f.rounds.min(2);
            f.warmup_ms = f.warmup_ms.min(50);
            f.duration_ms = f.duration_ms.min(200);
        }
        self.quick = true;
        self
    }

    /// Rough wall time of a run on one target, seconds (for VM time limits).
    pub fn estimated_secs(&self) -> f64 {
        let sizes = self.sizes.len() as f64;
        let variants = self.variants.len() as f64;
        let mut t = 0.0;
        if let Some(m) = &self.micro {
            let rounds = (m.rounds + m.warmup_rounds) as f64 + 0.5;
            t += variants * 2.0 * sizes * rounds * m.round_ms as f64 / 1000.0;
        }
        if let Some(c) = &self.cipher {
            let crypto = self
                .variants
                .iter()
                .filter(|v| v.algorithm().is_some())
                .count() as f64;
            let rounds = (c.rounds + c.warmup_rounds) as f64 + 0.5;
            t += crypto * 2.0 * sizes * rounds * c.round_ms as f64 / 1000.0;
        }
        if let Some(u) = &self.udp {
            let per = (u.warmup_ms + u.rounds as u64 * (u.duration_ms + 100)) as f64 / 1000.0;
            t += (variants + 1.0) * sizes * per + (variants + 1.0) * 0.5;
        }
        if let Some(tc) = &self.tcp {
            let f = &tc.flow;
            let per = (f.warmup_ms + f.rounds as u64 * (f.duration_ms + 300)) as f64 / 1000.0;
            t += (variants + 1.0) * tc.offloads.len() as f64 * (per + 0.5);
        }
        t
    }
}

/// Default addresses, key and settings.
const DEFAULT_LEFT: &str = "198.18.0.1/24";
const DEFAULT_RIGHT: &str = "198.18.0.2/24";
const DEFAULT_KEY: &str = "000102030405060708090a0b0c0d0e0f";

/// Loads and validates a bench file.
pub fn load(path: &Path) -> Result<BenchPlan, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::io(path, e))?;
    parse(path, &text)
}

/// Parses and validates bench text; `path` is used in messages only.
pub fn parse(path: &Path, text: &str) -> Result<BenchPlan, ScenarioError> {
    let f: BenchFile = serde_saphyr::from_str(text).map_err(|e| ScenarioError::syntax(path, &e))?;
    validate(path, f)
}

struct V<'a> {
    path: &'a Path,
}

impl V<'_> {
    fn err(&self, at: Location, field: &str, msg: impl Into<String>) -> ScenarioError {
        ScenarioError::at(self.path, at, field, msg)
    }

    fn range<T>(
        &self,
        v: &Option<Spanned<T>>,
        lo: T,
        hi: T,
        default: T,
        field: &str,
    ) -> Result<T, ScenarioError>
    where
        T: Copy + PartialOrd + std::fmt::Display,
    {
        match v {
            None => Ok(default),
            Some(s) if s.value >= lo && s.value <= hi => Ok(s.value),
            Some(s) => Err(self.err(
                s.referenced,
                field,
                format!("{} is outside {lo}..={hi}", s.value),
            )),
        }
    }

    fn addr(
        &self,
        v: &Option<Spanned<String>>,
        default: &str,
        field: &str,
    ) -> Result<IfAddr, ScenarioError> {
        let (text, at) = match v {
            Some(s) => (s.value.as_str(), s.referenced),
            None => (default, Location::UNKNOWN),
        };
        IfAddr::parse(text).map_err(|m| self.err(at, field, m))
    }
}

/// Validates a parsed bench file.
pub fn validate(path: &Path, f: BenchFile) -> Result<BenchPlan, ScenarioError> {
    let v = V { path };
    if f.version.value != 1 {
        return Err(v.err(
            f.version.referenced,
            "version",
            format!(
                "unsupported version {}; this lab reads version 1",
                f.version.value
            ),
        ));
    }
    let name = f.name.value.trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(v.err(
            f.name.referenced,
            "name",
            format!(
                "`{}` must be non-empty and use only letters, digits, '-', '_' or '.'",
                f.name.value
            ),
        ));
    }

    let topo = f.topology.as_ref();
    let left = v.addr(
        &topo.and_then(|t| t.left.clone()),
        DEFAULT_LEFT,
        "topology.left",
    )?;
    let right = v.addr(
        &topo.and_then(|t| t.right.clone()),
        DEFAULT_RIGHT,
        "topology.right",
    )?;
    let right_at = topo
        .and_then(|t| t.right.as_ref())
        .map_or(Location::UNKNOWN, |s| s.referenced);
    if left.addr == right.addr || left.prefix != right.prefix || left.network() != right.network() {
        return Err(v.err(
            right_at,
            "topology.right",
            format!("{right} must differ from the left end {left} and share its subnet"),
        ));
    }
    let mtu_field = topo.and_then(|t| t.mtu.clone());
    let mtu = v.range(
        &mtu_field,
        576,
        9000,
        1500 + BPFCRYPT_OVERHEAD,
        "topology.mtu",
    )?;

    let key = match &f.key {
        None => decode_hex(DEFAULT_KEY).unwrap_or_default(),
        Some(k) => {
            let bytes = decode_hex(&k.value)
                .ok_or_else(|| v.err(k.referenced, "key", "key must be hex digits"))?;
            if bytes.len() != 16 && bytes.len() != 32 {
                return Err(v.err(
                    k.referenced,
                    "key",
                    format!(
                        "key is {} bytes; AES needs 16 (32 hex digits) or 32 (64 hex digits)",
                        bytes.len()
                    ),
                ));
            }
            bytes
        }
    };

    let e2e = f.udp.is_some() || f.tcp.is_some();
    let inner = mtu - BPFCRYPT_OVERHEAD;
    let mut sizes = Vec::new();
    for (i, s) in f.sizes.value.iter().enumerate() {
        let field = format!("sizes[{i}]");
        let hi = if e2e { MAX_SIZE.min(inner) } else { MAX_SIZE };
        if s.value < MIN_SIZE || s.value > hi {
            let why = if e2e && s.value > inner && s.value <= MAX_SIZE {
                format!(
                    "{} does not fit the tunnel: the inner MTU is {inner} (topology.mtu {mtu} − {BPFCRYPT_OVERHEAD}); raise topology.mtu",
                    s.value
                )
            } else {
                format!(
                    "{} is outside {MIN_SIZE}..={hi} (IPv4 packet bytes)",
                    s.value
                )
            };
            return Err(v.err(s.referenced, &field, why));
        }
        if sizes.contains(&s.value) {
            return Err(v.err(
                s.referenced,
                &field,
                format!("size {} is listed twice", s.value),
            ));
        }
        sizes.push(s.value);
    }
    if sizes.is_empty() {
        return Err(v.err(f.sizes.referenced, "sizes", "list at least one packet size"));
    }
    sizes.sort_unstable();

    let mut variants = Vec::new();
    for (i, s) in f.variants.value.iter().enumerate() {
        let field = format!("variants[{i}]");
        let var = BenchVariant::parse(&s.value)
            .filter(|v| *v != BenchVariant::NoProgram)
            .ok_or_else(|| {
                v.err(
                    s.referenced,
                    &field,
                    format!(
                        "unknown variant `{}`; use noop, copy, ecb(aes) or cbc(aes)",
                        s.value
                    ),
                )
            })?;
        if variants.contains(&var) {
            return Err(v.err(
                s.referenced,
                &field,
                format!("variant `{}` is listed twice", s.value),
            ));
        }
        variants.push(var);
    }
    if variants.is_empty() {
        return Err(v.err(
            f.variants.referenced,
            "variants",
            "list at least one variant",
        ));
    }
    variants.sort();

    let micro = match &f.micro {
        None => None,
        Some(m) => Some(MicroPlan {
            rounds: v.range(&m.value.rounds, 1, 1000, 7, "micro.rounds")?,
            warmup_rounds: v.range(&m.value.warmup_rounds, 0, 100, 1, "micro.warmup_rounds")?,
            round_ms: v.range(&m.value.round_ms, 1, 10_000, 40, "micro.round_ms")?,
        }),
    };
    let cipher = match &f.cipher {
        None => None,
        Some(c) => Some(CipherPlan {
            rounds: v.range(&c.value.rounds, 1, 1000, 7, "cipher.rounds")?,
            warmup_rounds: v.range(&c.value.warmup_rounds, 0, 100, 1, "cipher.warmup_rounds")?,
            round_ms: v.range(&c.value.round_ms, 1, 10_000, 40, "cipher.round_ms")?,
            bulk_bytes: {
                let b = v.range(
                    &c.value.bulk_bytes,
                    1024,
                    1 << 20,
                    65536,
                    "cipher.bulk_bytes",
                )?;
                if b % 16 != 0 {
                    let at = c
                        .value
                        .bulk_bytes
                        .as_ref()
                        .map_or(c.referenced, |s| s.referenced);
                    return Err(v.err(
                        at,
                        "cipher.bulk_bytes",
                        format!("{b} is not a multiple of the AES block (16)"),
                    ));
                }
                b
            },
        }),
    };
    let flow = |rounds: &Option<Spanned<u32>>,
                warm: &Option<Spanned<u64>>,
                dur: &Option<Spanned<u64>>,
                port: &Option<Spanned<u16>>,
                section: &str,
                default_port: u16|
     -> Result<FlowPlan, ScenarioError> {
        Ok(FlowPlan {
            rounds: v.range(rounds, 1, 100, 3, &format!("{section}.rounds"))?,
            warmup_ms: v.range(warm, 0, 60_000, 200, &format!("{section}.warmup_ms"))?,
            duration_ms: v.range(dur, 50, 60_000, 1000, &format!("{section}.duration_ms"))?,
            port: v.range(port, 1024, 65535, default_port, &format!("{section}.port"))?,
        })
    };
    let udp = match &f.udp {
        None => None,
        Some(u) => {
            let u = &u.value;
            Some(flow(
                &u.rounds,
                &u.warmup_ms,
                &u.duration_ms,
                &u.port,
                "udp",
                5201,
            )?)
        }
    };
    let tcp = match &f.tcp {
        None => None,
        Some(t) => {
            let tv = &t.value;
            let mut offloads = Vec::new();
            for (i, s) in tv.offloads.iter().flatten().enumerate() {
                let m = OffloadMode::parse(&s.value).ok_or_else(|| {
                    v.err(
                        s.referenced,
                        &format!("tcp.offloads[{i}]"),
                        format!(
                            "unknown offload mode `{}`; use on, off or segmentation-off",
                            s.value
                        ),
                    )
                })?;
                if !offloads.contains(&m) {
                    offloads.push(m);
                }
            }
            if offloads.is_empty() {
                offloads = vec![OffloadMode::On, OffloadMode::Off];
            }
            Some(TcpPlan {
                flow: flow(
                    &tv.rounds,
                    &tv.warmup_ms,
                    &tv.duration_ms,
                    &tv.port,
                    "tcp",
                    5202,
                )?,
                offloads,
            })
        }
    };
    if let (Some(u), Some(t)) = (&udp, &tcp)
        && u.port == t.flow.port
    {
        let at = f.tcp.as_ref().map_or(Location::UNKNOWN, |s| s.referenced);
        return Err(v.err(
            at,
            "tcp.port",
            format!("port {} is also the UDP port", u.port),
        ));
    }
    if micro.is_none() && cipher.is_none() && udp.is_none() && tcp.is_none() {
        return Err(v.err(
            f.name.referenced,
            "micro",
            "enable at least one of micro, cipher, udp, tcp",
        ));
    }

    Ok(BenchPlan {
        name,
        description: f.description.trim().to_string(),
        source: path.display().to_string(),
        left,
        right,
        mtu,
        key,
        sizes,
        variants,
        micro,
        cipher,
        udp,
        tcp,
        quick: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
version: 1
name: b
sizes: [1500, 64, 512]
variants: [cbc(aes), noop, copy, ecb(aes)]
micro: { rounds: 5 }
cipher: {}
udp: { duration_ms: 500 }
tcp: { offloads: [on, off] }
";

    fn check(text: &str) -> Result<BenchPlan, ScenarioError> {
        parse(Path::new("b.yaml"), text)
    }

    fn err(text: &str) -> String {
        check(text).unwrap_err().to_string()
    }

    #[test]
    fn good_bench_validates_with_defaults() {
        let p = check(GOOD).unwrap();
        assert_eq!(p.sizes, vec![64, 512, 1500]);
        assert_eq!(
            p.variants,
            vec![
                BenchVariant::Noop,
                BenchVariant::Copy,
                BenchVariant::Ecb,
                BenchVariant::Cbc
            ]
        );
        assert_eq!(
            p.mtu, 1532,
            "default wire MTU fits a 1500-byte plaintext packet"
        );
        assert_eq!(p.key.len(), 16);
        assert_eq!(p.micro.as_ref().unwrap().rounds, 5);
        assert_eq!(p.cipher.as_ref().unwrap().bulk_bytes, 65536);
        assert_eq!(p.udp.as_ref().unwrap().duration_ms, 500);
        assert_eq!(
            p.tcp.as_ref().unwrap().offloads,
            vec![OffloadMode::On, OffloadMode::Off]
        );
        let q = p.clone().quick();
        assert!(q.quick && q.udp.unwrap().duration_ms <= 200 && q.micro.unwrap().rounds <= 3);
        assert!(p.estimated_secs() > 10.0);
    }

    #[test]
    fn errors_are_located() {
        let cases = [
            ("[1500, 64, 512]", "[1500, 64, 20]", "b.yaml:3:", "sizes[2]"),
            ("[1500, 64, 512]", "[1500, 64, 64]", "b.yaml:3:", "twice"),
            (
                "micro: { rounds: 5 }",
                "micro: { rounds: 0 }",
                "b.yaml:5:",
                "micro.rounds",
            ),
            (
                "noop, copy",
                "noop, rot13",
                "b.yaml:4:",
                "unknown variant `rot13`",
            ),
            (
                "[on, off]",
                "[on, sideways]",
                "b.yaml:8:",
                "tcp.offloads[1]",
            ),
            ("version: 1", "version: 3", "b.yaml:1:", "version"),
            (
                "udp: { duration_ms: 500 }",
                "udp: { duration: 500 }",
                "b.yaml:7:",
                "unknown field `duration`",
            ),
        ];
        for (from, to, at, what) in cases {
            let e = err(&GOOD.replace(from, to));
            assert!(e.starts_with(at) && e.contains(what), "{from} -> {to}: {e}");
        }
    }

    #[test]
    fn sizes_must_fit_the_tunnel_for_end_to_end() {
        let e = err(&format!("{GOOD}topology: {{ mtu: 1500 }}\n"));
        assert!(e.contains("inner MTU is 1468"), "{e}");
        // Micro only: no tunnel involved.
        let micro_only = "version: 1\nname: m\nsizes: [2000]\nvariants: [copy]\nmicro: {}\n";
        assert_eq!(check(micro_only).unwrap().sizes, vec![2000]);
    }

    #[test]
    fn shipped_bench_files_validate() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = vec![root.join("scenarios/bench.yaml")];
        for e in std::fs::read_dir(root.join("lab/tests/fixtures")).unwrap() {
            let p = e.unwrap().path();
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            if n.starts_with("bench-") && n.ends_with(".yaml") {
                files.push(p);
            }
        }
        for f in files {
            load(&f).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
