//! Scenario files: YAML v1 -> a validated [`Plan`].

use std::path::Path;

use serde_saphyr::Spanned;

use super::checks::{self, CheckContext};
use super::dataplane::UserDataplane;
use super::error::SpecError;
use super::fields::Fields;
use super::limits::{self, MAX_MTU, MIN_MTU};
use super::plan::{DEFAULT_MTU, EspSpec, Plan, PlanStep, WireSpec};
use super::scenario_file::{Cipher, Scenario};
use super::steps::{self, StepContext};
use super::wireguard::{self, WgSpec};
use crate::dataplane::format;
use crate::dataplane::format::esp::abi::ESP_SPI_MIN;
use crate::domain::{Algorithm, CipherSpec, IfAddr, Mode, Side};

/// Loads and validates a scenario file.
pub(crate) fn load(path: &Path) -> Result<Plan, SpecError> {
    let text = super::yaml::read(path)?;
    validate(path, parse(path, &text)?)
}

/// Parses scenario text; `path` is only used in error messages. Unknown
/// fields and values of the wrong shape are errors carrying the file, line
/// and column.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Scenario, SpecError> {
    super::yaml::from_yaml(path, text)
}

/// Validates a parsed scenario.
pub(crate) fn validate(path: &Path, s: Scenario) -> Result<Plan, SpecError> {
    let f = Fields::new(path);
    f.version(&s.version)?;
    let name = f.name(&s.name)?;
    let (l, r) = (&s.topology.left.address, &s.topology.right.address);
    let left = f.ifaddr(&l.value, l.referenced, "topology.left.address")?;
    let right = f.ifaddr(&r.value, r.referenced, "topology.right.address")?;
    f.pair(
        (left, l.referenced, "topology.left.address"),
        (right, r.referenced, "topology.right.address"),
    )?;
    let mtu = f.range(
        &s.topology.mtu,
        MIN_MTU,
        MAX_MTU,
        DEFAULT_MTU,
        "topology.mtu",
    )?;
    let wire = wire(&f, &s.cipher)?;
    let format = format::of(wire.mode);
    let cipher = cipher(&f, &s, format.handshake())?;
    let wg = tunnel(&f, &s, format.handshake(), [left, right])?;
    let cx = StepContext {
        fields: f,
        key: &cipher.key,
        format,
    };
    let steps = s
        .steps
        .iter()
        .enumerate()
        .map(|(i, st)| steps::step(&cx, i, st))
        .collect::<Result<Vec<_>, _>>()?;
    if steps.is_empty() {
        return Err(f.err(
            s.name.referenced,
            "steps",
            "a scenario needs at least one step",
        ));
    }
    let at: Vec<_> = s.steps.iter().map(|st| st.referenced).collect();
    limits::totals(&f, &at, &steps)?;
    if let Some(esp) = &wire.esp {
        let spi_at = s
            .cipher
            .spi
            .as_ref()
            .map_or(s.cipher.algorithm.referenced, |x| x.referenced);
        limits::spi_room(&f, spi_at, esp.spi, &steps)?;
    }
    udp_ports_distinct(&f, &s, &steps)?;
    stacks_keep_keys(&f, &s, &steps)?;
    let cx = CheckContext {
        fields: f,
        steps: &steps,
    };
    let assertions = s
        .assertions
        .iter()
        .enumerate()
        .map(|(i, a)| checks::assertion(&cx, i, a))
        .collect::<Result<Vec<_>, _>>()?;
    let baseline = baseline(&f, path, &s.baseline)?;
    let dataplane = dataplane(&f, path, &s.dataplane)?;
    Ok(Plan {
        name,
        description: s.description.trim().to_string(),
        source: path.display().to_string(),
        left,
        right,
        mtu,
        cipher,
        wire,
        steps,
        assertions,
        baseline,
        dataplane,
        wg,
    })
}

/// The `wireguard:` section: required by a format its handshake keys,
/// refused by the others.
fn tunnel(
    f: &Fields,
    s: &Scenario,
    handshake: bool,
    underlay: [IfAddr; 2],
) -> Result<Option<WgSpec>, SpecError> {
    match (&s.wireguard, handshake) {
        (Some(w), true) => wireguard::validate(f, &w.value, underlay).map(Some),
        (None, false) => Ok(None),
        (None, true) => Err(f.err(
            s.cipher.algorithm.referenced,
            "wireguard",
            "`mode: wireguard` needs a `wireguard:` section: each end's tunnel `address` \
             (and optionally `listen_port`, `private_key`, `allowed_ips`)",
        )),
        (Some(w), false) => Err(f.err(
            w.referenced,
            "wireguard",
            "only `mode: wireguard` has a `wireguard:` section",
        )),
    }
}

fn cipher(f: &Fields, s: &Scenario, handshake: bool) -> Result<CipherSpec, SpecError> {
    let a = &s.cipher.algorithm;
    let algorithm = Algorithm::parse(&a.value).ok_or_else(|| {
        f.err(
            a.referenced,
            "cipher.algorithm",
            format!(
                "`{}` is not supported by the data plane; use `cbc(aes)` or `ecb(aes)` \
                 (the only bpf_crypto skciphers that work; see the capability probe)",
                a.value
            ),
        )
    })?;
    let key = match (&s.cipher.key, handshake) {
        (Some(k), false) => f.aes_key(k, "cipher.key")?,
        (None, true) => Vec::new(),
        (None, false) => {
            return Err(f.err(
                a.referenced,
                "cipher.key",
                "needs a key in hex: 32 digits (AES-128) or 64 (AES-256)",
            ));
        }
        (Some(k), true) => {
            return Err(f.err(
                k.referenced,
                "cipher.key",
                "`mode: wireguard` derives its keys in the handshake; \
                 a preshared key goes in `wireguard.preshared_key`",
            ));
        }
    };
    Ok(CipherSpec { algorithm, key })
}

/// Default SPI of an ESP scenario's first SA.
const DEFAULT_SPI: u32 = 0x1000;

/// The wire format: `raw` (default) or `esp`, with the ciphers it runs;
/// one with security associations (ESP: cbc(aes) only) takes an
/// AES-CMAC-96 key and an SPI.
fn wire(f: &Fields, c: &Cipher) -> Result<WireSpec, SpecError> {
    let mode = match &c.mode {
        None => Mode::default(),
        Some(m) => Mode::parse(&m.value).ok_or_else(|| {
            f.err(
                m.referenced,
                "cipher.mode",
                format!(
                    "`{}` is not a wire format; use {}",
                    m.value,
                    Mode::choices()
                ),
            )
        })?,
    };
    let runs: Vec<String> = (format::of(mode).algorithms().iter())
        .map(|a| format!("`{}`", a.kernel_name()))
        .collect();
    if !runs.contains(&format!("`{}`", c.algorithm.value)) {
        return Err(f.err(
            c.algorithm.referenced,
            "cipher.algorithm",
            format!("`mode: {}` runs {} only", mode.as_str(), runs.join(" or ")),
        ));
    }
    if !format::of(mode).has_sas() {
        if let Some(k) = &c.auth_key {
            return Err(f.err(
                k.referenced,
                "cipher.auth_key",
                "only `mode: esp` authenticates",
            ));
        }
        if let Some(s) = &c.spi {
            return Err(f.err(s.referenced, "cipher.spi", "only `mode: esp` has SPIs"));
        }
        return Ok(WireSpec {
            mode,
            in_place: c.in_place,
            esp: None,
        });
    }
    let auth = c.auth_key.as_ref().ok_or_else(|| {
        f.err(
            c.algorithm.referenced,
            "cipher.auth_key",
            "`mode: esp` needs an AES-CMAC-96 key (32 hex digits)",
        )
    })?;
    let auth_key = f.hex(auth, "cipher.auth_key", "key")?;
    if auth_key.len() != 16 {
        return Err(f.err(
            auth.referenced,
            "cipher.auth_key",
            format!(
                "key is {} bytes; AES-CMAC-96 takes 16 (32 hex digits)",
                auth_key.len()
            ),
        ));
    }
    let spi = f.range(
        &c.spi,
        ESP_SPI_MIN,
        u32::MAX - 1024,
        DEFAULT_SPI,
        "cipher.spi",
    )?;
    Ok(WireSpec {
        mode,
        in_place: c.in_place,
        esp: Some(EspSpec { auth_key, spi }),
    })
}

/// Loads the baseline scenario, relative to the scenario's folder. Its own
/// errors name its own file; a baseline cannot have a baseline.
fn baseline(
    f: &Fields,
    path: &Path,
    b: &Option<Spanned<String>>,
) -> Result<Option<Box<Plan>>, SpecError> {
    let Some(b) = b else { return Ok(None) };
    let file = path.parent().unwrap_or(Path::new(".")).join(&b.value);
    if !file.is_file() {
        return Err(f.err(
            b.referenced,
            "baseline",
            format!("{} is not a scenario file", file.display()),
        ));
    }
    let scenario = parse(&file, &super::yaml::read(&file)?)?;
    if scenario.baseline.is_some() {
        return Err(f.err(
            b.referenced,
            "baseline",
            format!("{} has a baseline itself; one level only", file.display()),
        ));
    }
    Ok(Some(Box::new(validate(&file, scenario)?)))
}

/// Reads the scenario's `dataplane:` object, relative to its folder (the
/// ABI check comes later, on the host, for `--dataplane` too).
fn dataplane(
    f: &Fields,
    path: &Path,
    d: &Option<Spanned<String>>,
) -> Result<Option<UserDataplane>, SpecError> {
    let Some(d) = d else { return Ok(None) };
    let file = path.parent().unwrap_or(Path::new(".")).join(&d.value);
    UserDataplane::read(&file).map(Some).map_err(|e| {
        f.err(
            d.referenced,
            "dataplane",
            format!("{}: {e}", file.display()),
        )
    })
}

/// An end handed to the kernel's IPsec gets its SAs from the scenario key
/// once: steps that change keys, or tamper with the data plane's output, do
/// not mix with `stack` steps.
fn stacks_keep_keys(f: &Fields, s: &Scenario, steps: &[PlanStep]) -> Result<(), SpecError> {
    if !steps.iter().any(|p| matches!(p, PlanStep::Stack { .. })) {
        return Ok(());
    }
    for (i, st) in steps.iter().enumerate() {
        let kind = match st {
            PlanStep::Rekey { .. } => "rekey",
            PlanStep::SetKey { .. } => "set_key",
            PlanStep::ClearKey { .. } => "clear_key",
            PlanStep::Tamper { .. } => "tamper",
            _ => continue,
        };
        return Err(f.err(
            s.steps[i].referenced,
            &format!("steps[{i}].{kind}"),
            "a scenario with `stack` steps keeps its keys: the kernel's SAs are set from the scenario key",
        ));
    }
    Ok(())
}

/// Every UDP step keeps its receiver until the end of the run, so two UDP
/// steps received on the same end cannot share a port.
fn udp_ports_distinct(f: &Fields, s: &Scenario, steps: &[PlanStep]) -> Result<(), SpecError> {
    let mut seen: Vec<(Side, u16, usize)> = Vec::new();
    for (i, st) in steps.iter().enumerate() {
        let PlanStep::Udp(u) = st else { continue };
        let rx = u.from.peer();
        if let Some((_, _, j)) = seen
            .iter()
            .find(|(side, port, _)| *side == rx && *port == u.port)
        {
            return Err(f.err(
                s.steps[i].referenced,
                &format!("steps[{i}].udp.port"),
                format!(
                    "port {} is also used by steps[{j}] to the same end; give each UDP step its own port",
                    u.port
                ),
            ));
        }
        seen.push((rx, u.port, i));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dataplane::abi::BPFCRYPT_OVERHEAD;
    use crate::spec::plan::{Check, DEFAULT_MIN_ENTROPY};

    const GOOD: &str = "\
version: 1
name: t
topology:
  left:  { address: 198.18.0.1/24 }
  right: { address: 198.18.0.2/24 }
cipher:
  algorithm: cbc(aes)
  key: 000102030405060708090a0b0c0d0e0f
steps:
  - ping: { from: left, count: 3 }
assertions:
  - echo_replies: { min: 3 }
  - payload_encrypted: {}
  - counter: { side: right, name: decrypted, min: 3 }
";

    /// The plan of scenario `text` (as `s.yaml`); the other spec tests'
    /// reader of a scenario too.
    pub(crate) fn check(text: &str) -> Result<Plan, SpecError> {
        let path = Path::new("s.yaml");
        validate(path, parse(path, text)?)
    }

    /// The error scenario `text` gets, as printed.
    pub(crate) fn err(text: &str) -> String {
        check(text).unwrap_err().to_string()
    }

    #[test]
    fn good_scenario_validates_with_defaults() {
        let p = check(GOOD).unwrap();
        assert_eq!(p.mtu, DEFAULT_MTU);
        assert_eq!(p.inner_mtu(), DEFAULT_MTU - BPFCRYPT_OVERHEAD);
        assert_eq!(p.cipher.algorithm, Algorithm::CbcAes);
        assert_eq!(p.cipher.key.len(), 16);
        let PlanStep::Ping(ping) = &p.steps[0] else {
            panic!("first step is a ping")
        };
        assert_eq!((ping.count, ping.size, ping.from), (3, 56, Side::Left));
        assert!(
            matches!(p.assertions[1].check, Check::PayloadEncrypted { min_entropy } if min_entropy == DEFAULT_MIN_ENTROPY)
        );
        assert_eq!(p.assertions[2].name, "counter right.decrypted");
    }

    #[test]
    fn unknown_field_is_located() {
        let e = err(&GOOD.replace("198.18.0.2/24 }", "198.18.0.2/24, colour: red }"));
        assert!(e.starts_with("s.yaml:5:"), "{e}");
        assert!(e.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn bad_values_name_file_line_and_field() {
        let cases = [
            (
                "198.18.0.2/24 }",
                "198.18.0.300/24 }",
                "s.yaml:5:",
                "topology.right.address",
            ),
            (
                "198.18.0.2/24 }",
                "198.18.0.1/24 }",
                "s.yaml:5:",
                "topology.right.address",
            ),
            (
                "198.18.0.2/24 }",
                "198.18.1.2/24 }",
                "s.yaml:5:",
                "same subnet",
            ),
            ("cbc(aes)", "ctr(aes)", "s.yaml:7:", "cipher.algorithm"),
            ("0e0f\n", "0e\n", "s.yaml:8:", "cipher.key"),
            ("0e0f\n", "0e0g\n", "s.yaml:8:", "hex"),
            ("count: 3", "count: 0", "s.yaml:10:", "steps[0].ping.count"),
            (
                "name: decrypted",
                "name: decryptd",
                "s.yaml:14:",
                "unknown counter `decryptd`",
            ),
            ("version: 1", "version: 2", "s.yaml:1:", "version"),
        ];
        for (from, to, at, what) in cases {
            let e = err(&GOOD.replace(from, to));
            assert!(e.starts_with(at) && e.contains(what), "{from} -> {to}: {e}");
        }
    }

    #[test]
    fn type_errors_and_bounds_are_rejected() {
        assert!(err(&GOOD.replace("count: 3", "count: many")).starts_with("s.yaml:10:"));
        assert!(
            err(&GOOD.replace("{ min: 3 }\n  - payload", "{}\n  - payload")).contains("give `min`")
        );
        assert!(err(&GOOD.replace("from: left", "from: middle")).contains("middle"));
        assert!(
            err(&GOOD.replace(
                "payload_encrypted: {}",
                "payload_encrypted: { min_entropy: 9 }"
            ))
            .contains("0..=8")
        );
    }

    #[test]
    fn reserved_addresses_shared_ports_and_missing_steps_are_rejected() {
        let e = err(&GOOD.replace("198.18.0.2/24 }", "198.18.0.255/24 }"));
        assert!(
            e.starts_with("s.yaml:5:") && e.contains("broadcast address"),
            "{e}"
        );
        let two_udp = GOOD.replace(
            "  - ping: { from: left, count: 3 }",
            "  - ping: { from: left, count: 3 }\n  - udp: { from: left, port: 9000, background: true }\n  - udp: { from: left, port: 9000 }",
        );
        let e = err(&two_udp);
        assert!(
            e.contains("steps[2].udp.port") && e.contains("steps[1]"),
            "{e}"
        );
        let no_step = GOOD.replace(
            "  - payload_encrypted: {}",
            "  - udp_delivered: { step: 7, min: 1 }",
        );
        let e = err(&no_step);
        assert!(e.contains("there is no step 7"), "{e}");
        let not_udp = GOOD.replace(
            "  - payload_encrypted: {}",
            "  - udp_delivered: { step: 1, min: 1 }",
        );
        assert!(err(&not_udp).contains("step 1 is not a udp step"));
        let long = GOOD.replace("name: t", &format!("name: {}", "n".repeat(300)));
        assert!(err(&long).contains("at most 64"));
    }

    #[test]
    fn shipped_scenarios_validate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "yaml")
                && !path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("bench")
            {
                load(&path).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 1);
    }

    #[test]
    fn baselines_load_one_level_deep() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        write("raw.yaml", GOOD);
        let main = write("main.yaml", &format!("{GOOD}baseline: raw.yaml\n"));
        let plan = load(&main).unwrap();
        assert_eq!(plan.baseline.as_ref().unwrap().name, "t");
        let missing = write("m.yaml", &format!("{GOOD}baseline: nope.yaml\n"));
        let e = load(&missing).unwrap_err().to_string();
        assert!(
            e.contains("field `baseline`") && e.contains("nope.yaml"),
            "{e}"
        );
        // A file naming itself would recurse: one level only.
        let own = write("own.yaml", &format!("{GOOD}baseline: own.yaml\n"));
        let e = load(&own).unwrap_err().to_string();
        assert!(e.contains("has a baseline itself"), "{e}");
        // The baseline's own errors name its file.
        write("bad.yaml", &GOOD.replace("count: 3", "count: many"));
        let uses_bad = write("u.yaml", &format!("{GOOD}baseline: bad.yaml\n"));
        let e = load(&uses_bad).unwrap_err().to_string();
        assert!(e.contains("bad.yaml:"), "{e}");
    }

    #[test]
    fn stack_steps_need_esp_and_fixed_keys() {
        let esp = GOOD.replace(
            "  key: 000102030405060708090a0b0c0d0e0f\n",
            "  key: 000102030405060708090a0b0c0d0e0f\n  mode: esp\n  auth_key: 101112131415161718191a1b1c1d1e1f\n",
        );
        let with =
            |text: &str, step: &str| text.replace("steps:\n", &format!("steps:\n  - {step}\n"));
        let p = check(&with(&esp, "stack: { side: right, use: xfrm }")).unwrap();
        assert!(p.uses_xfrm());
        let e = err(&with(GOOD, "stack: { side: right, use: xfrm }"));
        assert!(
            e.contains("steps[0].stack.use") && e.contains("mode: esp"),
            "{e}"
        );
        let e = err(&with(
            &with(&esp, "rekey: { times: 2 }"),
            "stack: { side: left, use: xfrm }",
        ));
        assert!(
            e.contains("steps[1].rekey") && e.contains("keeps its keys"),
            "{e}"
        );
    }
}
