//! Bench files: YAML v1 -> a validated [`BenchPlan`].

use std::path::Path;

use serde_saphyr::{Location, Spanned};
use sha2::{Digest, Sha256};

use super::bench_file::{BenchFile, CipherFile, MicroFile, TcpFile, TopologyFile, VmLoopFile};
use super::bench_plan::{
    BenchPlan, CipherPlan, FlowPlan, HardwarePlan, MAX_SIZE, MIN_SIZE, MicroPlan, OffloadMode,
    TcpPlan, VmLoopPlan,
};
use super::error::SpecError;
use super::fields::{Fields, decode_hex};
use crate::domain::{BenchVariant, IfAddr};

/// Default addresses, key and settings.
const DEFAULT_LEFT: &str = "198.18.0.1/24";
const DEFAULT_RIGHT: &str = "198.18.0.2/24";
const DEFAULT_KEY: &str = "000102030405060708090a0b0c0d0e0f";

/// Loads and validates a bench file.
pub(crate) fn load(path: &Path) -> Result<BenchPlan, SpecError> {
    let text = super::yaml::read(path)?;
    parse(path, &text)
}

/// Parses and validates bench text; `path` is used in messages only.
pub(crate) fn parse(path: &Path, text: &str) -> Result<BenchPlan, SpecError> {
    validate(path, super::yaml::from_yaml(path, text)?)
}

/// Validates a parsed bench file.
pub(crate) fn validate(path: &Path, f: BenchFile) -> Result<BenchPlan, SpecError> {
    let v = Fields::new(path);
    v.version(&f.version)?;
    let name = v.name(&f.name)?;
    let variants = variants(&v, &f.variants)?;
    let overhead = variants
        .iter()
        .map(|x| super::bench_plan::overhead(*x))
        .max()
        .unwrap_or(0);
    let (left, right, mtu) = topology(&v, f.topology.as_ref(), overhead)?;
    let key = match &f.key {
        None => decode_hex(DEFAULT_KEY).unwrap_or_default(),
        Some(k) => v.aes_key(k, "key")?,
    };
    let chacha20_key = match &f.chacha20_key {
        None => derived_chacha20_key(&key),
        Some(k) => chacha20_key(&v, k)?,
    };
    let e2e = f.udp.is_some() || f.tcp.is_some();
    let sizes = sizes(&v, &f.sizes, e2e, (mtu, overhead))?;
    let micro = f.micro.as_ref().map(|m| micro(&v, &m.value)).transpose()?;
    let drivers = drivers(&v, &f.drivers)?;
    let hardware = f
        .hardware
        .as_ref()
        .map(|h| -> Result<HardwarePlan, SpecError> {
            Ok(HardwarePlan {
                rounds: v.range(&h.value.rounds, 1, 1000, 7, "hardware.rounds")?,
                round_ms: v.range(&h.value.round_ms, 1, 10_000, 40, "hardware.round_ms")?,
            })
        })
        .transpose()?;
    let cipher = f.cipher.as_ref().map(|c| cipher(&v, c)).transpose()?;
    let udp = f.udp.as_ref().map(|u| {
        let u = &u.value;
        let fields = FlowFields {
            rounds: &u.rounds,
            warmup_ms: &u.warmup_ms,
            duration_ms: &u.duration_ms,
            port: &u.port,
        };
        flow(&v, fields, "udp", 5201)
    });
    let udp = udp.transpose()?;
    let tcp = f.tcp.as_ref().map(|t| tcp(&v, &t.value)).transpose()?;
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
    if micro.is_none() && cipher.is_none() && udp.is_none() && tcp.is_none() && hardware.is_none() {
        return Err(v.err(
            f.name.referenced,
            "micro",
            "enable at least one of micro, cipher, hardware, udp, tcp",
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
        chacha20_key,
        sizes,
        variants,
        drivers,
        hardware,
        micro,
        cipher,
        udp,
        tcp,
        vm_loop: vm_loop(&v, path, f.vm_loop.as_ref())?,
        quick: false,
        inject: None,
        baseline: None,
        dataplane: None,
    })
}

/// `chacha20_key`: 32 bytes in hex, the only length ChaCha20 takes.
fn chacha20_key(v: &Fields, k: &Spanned<String>) -> Result<Vec<u8>, SpecError> {
    let key = v.hex(k, "chacha20_key", "key")?;
    if key.len() != 32 {
        return Err(v.err(
            k.referenced,
            "chacha20_key",
            format!(
                "key is {} bytes; ChaCha20-Poly1305 takes 32 (64 hex digits)",
                key.len()
            ),
        ));
    }
    Ok(key)
}

/// The ChaCha20-Poly1305 key of a bench file without `chacha20_key`:
/// SHA-256 of the AES key's bytes, so that one `key` keys every variant
/// (AES takes 16 or 32 bytes, ChaCha20 only 32) and anyone can recompute
/// it (`xxd -r -p <<< KEY | sha256sum`).
fn derived_chacha20_key(aes_key: &[u8]) -> Vec<u8> {
    Sha256::digest(aes_key).to_vec()
}

/// Addresses (defaults when absent) and the wire MTU (default: a
/// 1500-byte plaintext packet fits the tunnel of every variant, whose
/// largest growth is `overhead`).
fn topology(
    v: &Fields,
    t: Option<&TopologyFile>,
    overhead: u32,
) -> Result<(IfAddr, IfAddr, u32), SpecError> {
    let end = |s: Option<&Spanned<String>>, default: &str, field: &str| {
        let (text, at) = s.map_or((default, Location::UNKNOWN), |s| {
            (s.value.as_str(), s.referenced)
        });
        v.ifaddr(text, at, field).map(|a| (a, at))
    };
    let (left, left_at) = end(
        t.and_then(|t| t.left.as_ref()),
        DEFAULT_LEFT,
        "topology.left",
    )?;
    let (right, right_at) = end(
        t.and_then(|t| t.right.as_ref()),
        DEFAULT_RIGHT,
        "topology.right",
    )?;
    v.pair(
        (left, left_at, "topology.left"),
        (right, right_at, "topology.right"),
    )?;
    let mtu_field = t.and_then(|t| t.mtu.clone());
    let mtu = v.range(&mtu_field, 576, 9000, 1500 + overhead, "topology.mtu")?;
    Ok((left, right, mtu))
}

/// Packet sizes, ascending, each once; with end-to-end parts they must fit
/// the tunnel's inner MTU.
fn sizes(
    v: &Fields,
    list: &Spanned<Vec<Spanned<u32>>>,
    e2e: bool,
    (mtu, overhead): (u32, u32),
) -> Result<Vec<u32>, SpecError> {
    let inner = mtu.saturating_sub(overhead);
    let hi = if e2e { MAX_SIZE.min(inner) } else { MAX_SIZE };
    let mut sizes = Vec::new();
    for (i, s) in list.value.iter().enumerate() {
        let field = format!("sizes[{i}]");
        if s.value < MIN_SIZE || s.value > hi {
            let why = if e2e && s.value > inner && s.value <= MAX_SIZE {
                format!(
                    "{} does not fit the tunnel: the inner MTU is {inner} (topology.mtu {mtu} − {overhead}, the most a variant adds); raise topology.mtu",
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
        return Err(v.err(list.referenced, "sizes", "list at least one packet size"));
    }
    sizes.sort_unstable();
    Ok(sizes)
}

/// Data plane variants, sorted, each once (`none` is implied).
fn variants(
    v: &Fields,
    list: &Spanned<Vec<Spanned<String>>>,
) -> Result<Vec<BenchVariant>, SpecError> {
    let mut out = Vec::new();
    for (i, s) in list.value.iter().enumerate() {
        let field = format!("variants[{i}]");
        let var = BenchVariant::parse(&s.value)
            .filter(|v| *v != BenchVariant::NoProgram)
            .ok_or_else(|| {
                v.err(
                    s.referenced,
                    &field,
                    format!(
                        "unknown variant `{}`; use one of {}",
                        s.value,
                        BenchVariant::all()[1..]
                            .iter()
                            .map(|v| v.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        if out.contains(&var) {
            return Err(v.err(
                s.referenced,
                &field,
                format!("variant `{}` is listed twice", s.value),
            ));
        }
        out.push(var);
    }
    if out.is_empty() {
        return Err(v.err(list.referenced, "variants", "list at least one variant"));
    }
    out.sort();
    Ok(out)
}

/// AES driver names (`aes-generic`): a block cipher name, each once.
fn drivers(v: &Fields, list: &[Spanned<String>]) -> Result<Vec<String>, SpecError> {
    let mut out: Vec<String> = Vec::new();
    for (i, d) in list.iter().enumerate() {
        let ok = !d.value.is_empty()
            && d.value.len() <= 24
            && d.value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(v.err(
                d.referenced,
                &format!("drivers[{i}]"),
                format!(
                    "`{}` is not a driver name (e.g. aes-generic, aes-fixed-time, aes-aesni, aes-lib)",
                    d.value
                ),
            ));
        }
        if out.contains(&d.value) {
            return Err(v.err(
                d.referenced,
                &format!("drivers[{i}]"),
                format!("driver `{}` is listed twice", d.value),
            ));
        }
        out.push(d.value.clone());
    }
    Ok(out)
}

fn micro(v: &Fields, m: &MicroFile) -> Result<MicroPlan, SpecError> {
    Ok(MicroPlan {
        rounds: v.range(&m.rounds, 1, 1000, 7, "micro.rounds")?,
        warmup_rounds: v.range(&m.warmup_rounds, 0, 100, 1, "micro.warmup_rounds")?,
        round_ms: v.range(&m.round_ms, 1, 10_000, 40, "micro.round_ms")?,
    })
}

fn cipher(v: &Fields, c: &Spanned<CipherFile>) -> Result<CipherPlan, SpecError> {
    let cv = &c.value;
    let bulk_bytes = v.range(&cv.bulk_bytes, 1024, 1 << 20, 65536, "cipher.bulk_bytes")?;
    if bulk_bytes % 16 != 0 {
        let at = cv
            .bulk_bytes
            .as_ref()
            .map_or(c.referenced, |s| s.referenced);
        return Err(v.err(
            at,
            "cipher.bulk_bytes",
            format!("{bulk_bytes} is not a multiple of the AES block (16)"),
        ));
    }
    Ok(CipherPlan {
        rounds: v.range(&cv.rounds, 1, 1000, 7, "cipher.rounds")?,
        warmup_rounds: v.range(&cv.warmup_rounds, 0, 100, 1, "cipher.warmup_rounds")?,
        round_ms: v.range(&cv.round_ms, 1, 10_000, 40, "cipher.round_ms")?,
        bulk_bytes,
    })
}

/// The settings of one end-to-end protocol (`udp` or `tcp`).
struct FlowFields<'a> {
    rounds: &'a Option<Spanned<u32>>,
    warmup_ms: &'a Option<Spanned<u64>>,
    duration_ms: &'a Option<Spanned<u64>>,
    port: &'a Option<Spanned<u16>>,
}

fn flow(
    v: &Fields,
    f: FlowFields,
    section: &str,
    default_port: u16,
) -> Result<FlowPlan, SpecError> {
    Ok(FlowPlan {
        rounds: v.range(f.rounds, 1, 100, 3, &format!("{section}.rounds"))?,
        warmup_ms: v.range(f.warmup_ms, 0, 60_000, 200, &format!("{section}.warmup_ms"))?,
        duration_ms: v.range(
            f.duration_ms,
            50,
            60_000,
            1000,
            &format!("{section}.duration_ms"),
        )?,
        port: v.range(
            f.port,
            1024,
            65535,
            default_port,
            &format!("{section}.port"),
        )?,
    })
}

fn tcp(v: &Fields, t: &TcpFile) -> Result<TcpPlan, SpecError> {
    let mut offloads = Vec::new();
    for (i, s) in t.offloads.iter().flatten().enumerate() {
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
    let fields = FlowFields {
        rounds: &t.rounds,
        warmup_ms: &t.warmup_ms,
        duration_ms: &t.duration_ms,
        port: &t.port,
    };
    let flow = flow(v, fields, "tcp", 5202)?;
    Ok(TcpPlan { flow, offloads })
}

/// `a/b/../c` → `a/c`, without touching the file system (for messages
/// and reports; `..` past the start is kept).
fn lexical(p: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `vm_loop:`: the kernel defaults to debian-6.12 and the scenario to the
/// ping scenario beside the bench file, which must exist.
fn vm_loop(
    v: &Fields,
    path: &Path,
    f: Option<&Spanned<VmLoopFile>>,
) -> Result<Option<VmLoopPlan>, SpecError> {
    let Some(f) = f else {
        return Ok(None);
    };
    let l = &f.value;
    let name = |s: &Spanned<String>, field: &str| -> Result<String, SpecError> {
        let ok = !s.value.is_empty()
            && s.value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if ok {
            Ok(s.value.clone())
        } else {
            Err(v.err(
                s.referenced,
                field,
                format!("`{}` is not a kernel name", s.value),
            ))
        }
    };
    let kernel = match &l.kernel {
        Some(k) => name(k, "vm_loop.kernel")?,
        None => "debian-6.12".to_string(),
    };
    let (written, at) = match &l.scenario {
        Some(s) => (s.value.clone(), s.referenced),
        None => ("ping.yaml".to_string(), f.referenced),
    };
    let scenario = lexical(&path.parent().unwrap_or(Path::new(".")).join(&written));
    if !scenario.is_file() {
        return Err(v.err(
            at,
            "vm_loop.scenario",
            format!("{} is not a file", scenario.display()),
        ));
    }
    let matrix = match &l.matrix {
        Some(m) => m
            .iter()
            .map(|k| name(k, "vm_loop.matrix"))
            .collect::<Result<_, _>>()?,
        None => vec![
            "debian-6.1".into(),
            "debian-6.12".into(),
            "debian-7.3".into(),
        ],
    };
    Ok(Some(VmLoopPlan {
        kernel,
        scenario: scenario.display().to_string(),
        rounds: v.range(&l.rounds, 1, 100, 3, "vm_loop.rounds")?,
        matrix,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BenchVariant;
    use crate::spec::bench_plan::OffloadMode;

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

    fn check(text: &str) -> Result<BenchPlan, SpecError> {
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
        // SHA-256 of 000102…0f: the ChaCha20 key a bench file names no other.
        assert_eq!(
            p.key_of(crate::domain::Algorithm::ChaCha20Poly1305),
            decode_hex("be45cb2605bf36bebde684841a28f0fd43c69850a3dce5fedba69928ee3a8991").unwrap()
        );
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
    fn each_cipher_gets_a_key_of_its_length() {
        use crate::domain::Algorithm::{CbcAes, ChaCha20Poly1305};
        let chacha = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
        let text = GOOD.replace(
            "variants: [cbc(aes), noop, copy, ecb(aes)]",
            &format!("variants: [cbc(aes), wireguard (bpf)]\nchacha20_key: {chacha}"),
        );
        let p = check(&text).unwrap();
        assert_eq!(p.key_of(CbcAes).len(), 16);
        assert_eq!(p.key_of(ChaCha20Poly1305), decode_hex(chacha).unwrap());
        assert_eq!(p.hardware_algorithms().last(), Some(&ChaCha20Poly1305));
        let e = err(&text.replace(chacha, "000102030405060708090a0b0c0d0e0f"));
        assert!(
            e.starts_with("b.yaml:5:15:") && e.contains("chacha20_key") && e.contains("takes 32"),
            "{e}"
        );
        let e = err(&text.replace(chacha, "xyz"));
        assert!(
            e.starts_with("b.yaml:5:") && e.contains("hex digits"),
            "{e}"
        );
        assert!(
            !check(GOOD)
                .unwrap()
                .hardware_algorithms()
                .contains(&ChaCha20Poly1305)
        );
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

    #[test]
    fn vm_loop_defaults_and_errors_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let bench = dir.path().join("b.yaml");
        std::fs::write(dir.path().join("ping.yaml"), "").unwrap();
        let text = format!("{GOOD}vm_loop: {{}}\n");
        let p = parse(&bench, &text).unwrap();
        let l = p.vm_loop.unwrap();
        assert_eq!(l.kernel, "debian-6.12");
        assert_eq!(l.rounds, 3);
        assert_eq!(
            l.scenario,
            dir.path().join("ping.yaml").display().to_string()
        );
        assert_eq!(l.matrix, ["debian-6.1", "debian-6.12", "debian-7.3"]);
        let text = format!("{GOOD}vm_loop: {{ scenario: nope.yaml }}\n");
        let e = parse(&bench, &text).unwrap_err().to_string();
        assert!(
            e.contains(":9:22:") && e.contains("vm_loop.scenario") && e.contains("nope.yaml"),
            "{e}"
        );
        let text = format!("{GOOD}vm_loop: {{ kernel: \"a b\" }}\n");
        let e = parse(&bench, &text).unwrap_err().to_string();
        assert!(e.contains("vm_loop.kernel"), "{e}");
        assert_eq!(lexical(Path::new("a/b/../../c/./d")), Path::new("c/d"));
        assert_eq!(lexical(Path::new("../x")), Path::new("../x"));
    }
}
