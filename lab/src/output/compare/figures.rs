//! A saved `bench.json` read leniently, as points carrying figures. It is
//! read as plain JSON, not as the bench's own types: variant names, parts
//! and fields this build does not know stay plain strings, so benches
//! written by an older or newer lab still compare, and a point the bench
//! marked unavailable keeps its reason.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::CompareError;
use super::metric::{self, Better};
use crate::spec::error::utf8;

/// Fields that say which point a figure belongs to, in label order. A
/// point's label joins those present (`cbc(aes) egress 1500 B`).
const KEY_FIELDS: [&str; 11] = [
    "variant",
    "algorithm",
    "driver",
    "mode",
    "stack",
    "in_place",
    "protocol",
    "direction",
    "offloads",
    "reference",
    "size",
];

/// Parts `lab bench` writes, in report order; others follow by name.
const PARTS: [&str; 5] = ["micro", "cipher", "hardware", "udp", "tcp"];

/// The target's list of things its kernel lacks (`[{what, reason}]`).
const UNAVAILABLE: &str = "unavailable";

/// Fields that say why a point has no numbers.
const REASON_FIELDS: [&str; 4] = ["unavailable", "reason", "skipped", "error"];

/// A figure's rounds as `bench.json` stores them (`job::stats::Stats`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Spread {
    /// Rounds.
    pub(crate) n: usize,
    /// Median of the rounds.
    pub(crate) median: f64,
    /// Smallest round.
    pub(crate) min: f64,
    /// Largest round.
    pub(crate) max: f64,
    /// 95 % interval of the mean, low end.
    pub(crate) ci95_lo: f64,
    /// 95 % interval of the mean, high end.
    pub(crate) ci95_hi: f64,
}

impl Spread {
    /// Reads a stats object; `None` for anything else (a ratio, a count).
    fn of(v: &Value) -> Option<Self> {
        let o = v.as_object()?;
        let f = |k: &str| o.get(k).and_then(Value::as_f64);
        let (min, max) = (f("min")?, f("max")?);
        Some(Self {
            n: o.get("n").and_then(Value::as_u64)? as usize,
            median: f("median")?,
            min,
            max,
            ci95_lo: f("ci95_lo").unwrap_or(min),
            ci95_hi: f("ci95_hi").unwrap_or(max),
        })
    }
}

/// One point of one part of one target: a variant at a size, a cipher in a
/// direction, a TCP offload mode, …
#[derive(Debug, Clone)]
pub(crate) struct Point {
    /// Target name (`host`, a catalog kernel).
    pub(crate) target: String,
    /// Part: the target's list it came from (`micro`, `udp`, …).
    pub(crate) part: String,
    /// What the point is, from its key fields.
    pub(crate) label: String,
    /// Stats-shaped fields, and `None` for fields stored as null.
    pub(crate) metrics: BTreeMap<String, Option<Spread>>,
    /// Why it has no numbers, when the bench said so.
    pub(crate) reason: Option<String>,
    /// Names a target's `unavailable` list may give it by: its variant or
    /// algorithm, and with a driver `mode(driver)` (`cbc(aes-generic)`).
    pub(crate) names: Vec<String>,
    /// Its variant and packet size, if it has them: a run whose plan lacks
    /// either did not measure it.
    pub(crate) variant: Option<String>,
    /// Packet size, bytes.
    pub(crate) size: Option<u64>,
    /// The AES driver it was keyed with, if one was named.
    pub(crate) driver: Option<String>,
}

/// What the header says about a target.
#[derive(Debug, Clone)]
pub(crate) struct TargetInfo {
    /// Target name.
    pub(crate) name: String,
    /// `kernel (accelerator)`.
    pub(crate) kernel: String,
    /// The lab's commit when it ran.
    pub(crate) commit: String,
    /// Why it measured nothing, or stopped early.
    pub(crate) status: Option<String>,
    /// What its kernel lacks, with the reason: (what, reason).
    pub(crate) unavailable: Vec<(String, String)>,
}

impl TargetInfo {
    /// Why the kernel lacks a point known by `names`, if it said so.
    pub(crate) fn unavailable_reason(&self, names: &[String]) -> Option<&str> {
        self.unavailable
            .iter()
            .find(|(what, _)| names.contains(what))
            .map(|(_, why)| why.as_str())
    }
}

/// A saved bench as points.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    /// The `bench.json` read.
    pub(crate) path: PathBuf,
    /// Its run id.
    pub(crate) run_id: String,
    /// The bench's name.
    pub(crate) name: String,
    /// Its settings (`plan`), to tell when two runs were measured differently.
    pub(crate) plan: Map<String, Value>,
    /// Every target, in order.
    pub(crate) targets: Vec<TargetInfo>,
    /// Every point, in document order.
    pub(crate) points: Vec<Point>,
    /// Anything odd met while reading.
    pub(crate) notes: Vec<String>,
}

/// Reads a `bench.json`.
pub(crate) fn load(path: &Path) -> Result<Run, CompareError> {
    let bytes = std::fs::read(path).map_err(|err| CompareError::Read {
        path: path.to_path_buf(),
        err,
    })?;
    let json = utf8(path, &bytes)?;
    let doc: Value = serde_json::from_str(json).map_err(|err| CompareError::Json {
        path: path.to_path_buf(),
        err,
    })?;
    let not_a_bench = |why: &str| CompareError::NotABench {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    let doc = doc
        .as_object()
        .ok_or_else(|| not_a_bench("not a JSON object"))?;
    doc.get("schema")
        .and_then(Value::as_u64)
        .ok_or_else(|| not_a_bench("no numeric `schema` field"))?;
    let plan = doc
        .get("plan")
        .and_then(Value::as_object)
        .ok_or_else(|| not_a_bench("no `plan` object (the bench settings)"))?;
    let targets = doc
        .get("targets")
        .and_then(Value::as_array)
        .ok_or_else(|| not_a_bench("no `targets` list"))?;
    let mut run = Run {
        path: path.to_path_buf(),
        run_id: text(doc.get("run_id")).unwrap_or_else(|| "?".into()),
        name: text(plan.get("name")).unwrap_or_else(|| "?".into()),
        plan: plan.clone(),
        targets: Vec::new(),
        points: Vec::new(),
        notes: Vec::new(),
    };
    for (i, t) in targets.iter().enumerate() {
        let t = t
            .as_object()
            .filter(|t| t.get("target").is_some_and(Value::is_string))
            .ok_or_else(|| not_a_bench(&format!("`targets[{i}]` has no `target` name")))?;
        read_target(t, &mut run);
    }
    check_figures(&run)?;
    Ok(run)
}

/// Refuses figures no measurement gives: a value that is not finite, a
/// time at or below 0, a rate or share below 0 (a rate of 0 is real: a
/// TCP connection that stalled). Judged, they would read as changes of
/// thousands of percent.
fn check_figures(run: &Run) -> Result<(), CompareError> {
    for p in &run.points {
        for (name, s) in &p.metrics {
            let Some(s) = s else { continue };
            let better = metric::of(name).better;
            let values = [
                ("median", s.median),
                ("min", s.min),
                ("max", s.max),
                ("ci95_lo", s.ci95_lo),
                ("ci95_hi", s.ci95_hi),
            ];
            for (field, value) in values {
                // The interval of the mean may reach below 0 when the
                // rounds spread widely; the rounds themselves may not.
                let round = field != "ci95_lo";
                let why = if !value.is_finite() {
                    "not a finite number"
                } else if round && better == Better::Lower && value <= 0.0 {
                    "a time must be above 0"
                } else if round && value < 0.0 {
                    "a rate or share cannot be below 0"
                } else {
                    continue;
                };
                return Err(CompareError::BadFigure {
                    path: run.path.clone(),
                    at: format!("{} {} `{}` {name} {field}", p.target, p.part, p.label),
                    value,
                    why,
                });
            }
        }
    }
    Ok(())
}

/// A JSON string's text.
fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

/// Adds one target's header and points to `run`.
fn read_target(t: &Map<String, Value>, run: &mut Run) {
    let name = text(t.get("target")).unwrap_or_default();
    let env = t.get("env").and_then(Value::as_object);
    let env_text = |k: &str| text(env.and_then(|e| e.get(k))).unwrap_or_else(|| "?".into());
    let status = text(t.get("unsupported"))
        .map(|u| format!("unsupported: {u}"))
        .or_else(|| text(t.get("error")).map(|e| format!("stopped: {e}")));
    run.targets.push(TargetInfo {
        name: name.clone(),
        kernel: format!("{} ({})", env_text("kernel"), env_text("accelerator")),
        commit: env_text("commit"),
        status,
        unavailable: t.get(UNAVAILABLE).map(unavailable).unwrap_or_default(),
    });
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let mut parts: Vec<(&String, &Value)> = t.iter().filter(|(k, _)| *k != UNAVAILABLE).collect();
    parts.sort_by_key(|(k, _)| {
        let rank = PARTS.iter().position(|p| p == k).unwrap_or(PARTS.len());
        (rank, k.as_str())
    });
    for (part, value) in parts {
        for mut p in part_points(&name, part, value) {
            let n = seen.entry((part.clone(), p.label.clone())).or_default();
            *n += 1;
            if *n > 1 {
                run.notes.push(format!(
                    "{name} {part}: {} points are labelled `{}`; matched in order",
                    n, p.label
                ));
                p.label = format!("{} #{n}", p.label);
            }
            run.points.push(p);
        }
    }
}

/// The `unavailable` list: `[{what, reason}]`, or an older `{what: reason}`.
fn unavailable(v: &Value) -> Vec<(String, String)> {
    let reason = |v: Option<&Value>| text(v).unwrap_or_else(|| "no reason given".into());
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|u| Some((text(u.get("what"))?, reason(u.get("reason")))))
            .collect(),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| (k.clone(), reason(Some(v))))
            .collect(),
        _ => Vec::new(),
    }
}

/// The points of one field of a target: a list of objects (a part);
/// anything else has none.
fn part_points(target: &str, part: &str, value: &Value) -> Vec<Point> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let o = v.as_object()?;
            let p = Point {
                target: target.to_string(),
                part: part.to_string(),
                label: label(o, i),
                metrics: BTreeMap::new(),
                reason: None,
                names: names(o),
                variant: text(o.get("variant")),
                size: o.get("size").and_then(Value::as_u64),
                driver: text(o.get("driver")),
            };
            Some(point(p, o))
        })
        .collect()
}

/// The names an `unavailable` entry may give a point (see [`Point::names`]).
fn names(o: &Map<String, Value>) -> Vec<String> {
    let driver = text(o.get("driver"));
    let mut v = Vec::new();
    for k in ["variant", "algorithm"] {
        let Some(name) = text(o.get(k)) else { continue };
        if let (Some(d), Some((mode, _))) = (&driver, name.split_once('(')) {
            v.push(format!("{mode}({d})"));
        }
        v.push(name);
    }
    v
}

/// Fills a point's figures and reason from its object.
fn point(mut p: Point, o: &Map<String, Value>) -> Point {
    for (k, v) in o {
        if KEY_FIELDS.contains(&k.as_str()) {
            continue;
        }
        if let Some(s) = Spread::of(v) {
            p.metrics.insert(k.clone(), Some(s));
        } else if v.is_null() {
            p.metrics.insert(k.clone(), None);
        }
    }
    let check_failed = o
        .get("check")
        .and_then(Value::as_object)
        .filter(|c| c.get("ok") == Some(&Value::Bool(false)))
        .map(|c| format!("FAILED: {}", text(c.get("detail")).unwrap_or_default()));
    p.reason = REASON_FIELDS
        .iter()
        .find_map(|k| text(o.get(*k)))
        .or(check_failed);
    p
}

/// A point's label from its key fields, or its position when it has none.
fn label(o: &Map<String, Value>, index: usize) -> String {
    let words: Vec<String> = KEY_FIELDS
        .iter()
        .filter_map(|k| match (k, o.get(*k)?) {
            (&"offloads", Value::String(s)) => Some(format!("offloads {s}")),
            (&"driver", Value::String(s)) => Some(format!("[{s}]")),
            (_, Value::String(s)) => Some(s.clone()),
            (_, Value::Bool(true)) => Some(k.replace('_', " ")),
            (&"size", Value::Number(n)) => Some(format!("{n} B")),
            (_, Value::Number(n)) => Some(format!("{k} {n}")),
            _ => None,
        })
        .collect();
    if words.is_empty() {
        format!("#{}", index + 1)
    } else {
        words.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_join_key_fields_and_keep_unknown_variant_names() {
        let o = json!({"variant": "xfrm gcm", "direction": "egress", "size": 1500, "in_place": true,
                       "offloads": "on", "runs_per_round": 9});
        assert_eq!(
            label(o.as_object().unwrap(), 0),
            "xfrm gcm in place egress offloads on 1500 B"
        );
        assert_eq!(label(json!({"x": 1}).as_object().unwrap(), 2), "#3");
    }

    #[test]
    fn points_keep_stats_nulls_and_the_reason() {
        let stats = json!({"n": 3, "median": 2.0, "min": 1.0, "max": 3.0, "mean": 2.0,
                           "stddev": 1.0, "ci95_lo": 0.5, "ci95_hi": 3.5, "samples": [1.0, 2.0, 3.0]});
        let o = json!({"variant": "wireguard", "size": 64, "pps": stats, "loss": null,
                       "ratio_to_cipher": 0.5, "sent": 10, "unavailable": "no wireguard.ko"});
        let ps = part_points("host", "udp", &json!([o]));
        assert_eq!(ps.len(), 1);
        let p = &ps[0];
        assert_eq!(p.label, "wireguard 64 B");
        assert_eq!(p.metrics["pps"].unwrap().median, 2.0);
        assert_eq!(p.metrics["pps"].unwrap().ci95_hi, 3.5);
        assert_eq!(p.metrics["loss"], None);
        assert!(!p.metrics.contains_key("ratio_to_cipher") && !p.metrics.contains_key("sent"));
        assert_eq!(p.reason.as_deref(), Some("no wireguard.ko"));
        let failed = json!([{"variant": "esp", "ns": null,
                             "check": {"ok": false, "detail": "counters off"}}]);
        let p = &part_points("host", "micro", &failed)[0];
        assert_eq!(p.reason.as_deref(), Some("FAILED: counters off"));
        assert!(part_points("host", "kernel_events", &json!(["WARNING x"])).is_empty());
    }

    #[test]
    fn the_current_format_reads_hardware_drivers_and_the_unavailable_list() {
        let stats =
            json!({"n": 2, "median": 5.0, "min": 4.0, "max": 6.0, "ci95_lo": 3.0, "ci95_hi": 7.0});
        let doc = json!({"schema": 1, "run_id": "r1", "plan": {"name": "b"}, "targets": [{
            "target": "host", "env": {"kernel": "6.18", "accelerator": "host", "commit": "abc"},
            "micro": [{"variant": "cbc(aes)", "driver": "aes-generic", "direction": "egress",
                       "size": 1500, "ns": stats, "gbps": stats}],
            "hardware": [{"algorithm": "cbc(aes)", "direction": "ingress", "size": 64,
                          "ns": stats, "gbps": stats, "implementation": "RustCrypto aes, AES-NI"}],
            "unavailable": [{"what": "wireguard", "reason": "no wireguard module"},
                            {"what": "cbc(aes-arm64)", "reason": "ENOENT"}],
            "kernel_events": ["WARNING x"]}]});
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.json");
        std::fs::write(&path, doc.to_string()).unwrap();
        let run = load(&path).unwrap();
        let labels: Vec<(&str, &str)> = run
            .points
            .iter()
            .map(|p| (p.part.as_str(), p.label.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("micro", "cbc(aes) [aes-generic] egress 1500 B"),
                ("hardware", "cbc(aes) ingress 64 B")
            ]
        );
        assert_eq!(run.points[0].names, ["cbc(aes-generic)", "cbc(aes)"]);
        let t = &run.targets[0];
        assert_eq!(
            t.unavailable_reason(&["wireguard".into()]),
            Some("no wireguard module")
        );
        assert_eq!(
            t.unavailable_reason(&["cbc(aes-arm64)".into()]),
            Some("ENOENT")
        );
        assert_eq!(t.unavailable_reason(&run.points[0].names), None);
        let old = unavailable(&json!({"xfrm gcm": "no esp4"}));
        assert_eq!(old, [("xfrm gcm".to_string(), "no esp4".to_string())]);
    }

    #[test]
    fn figures_no_measurement_gives_are_refused_by_name() {
        let stats = |m: f64| {
            json!({"n": 3, "median": m, "min": m, "max": m + 1.0,
                   "ci95_lo": m - 9.0, "ci95_hi": m + 2.0})
        };
        let doc = |ns: f64, loss: f64| {
            json!({"schema": 1, "plan": {"name": "b"}, "targets": [{
                "target": "host",
                "micro": [{"variant": "esp", "direction": "egress", "size": 64, "ns": stats(ns)}],
                "udp": [{"variant": "esp", "size": 64, "loss": stats(loss)}]}]})
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.json");
        let load_doc = |d: Value| {
            std::fs::write(&path, d.to_string()).unwrap();
            load(&path)
        };
        // The interval of the mean below 0 and a loss of 0 are real figures.
        let mut run = load_doc(doc(5.0, 0.0)).unwrap();
        // JSON has no infinity; a reader of another format might.
        run.points[0]
            .metrics
            .get_mut("ns")
            .unwrap()
            .as_mut()
            .unwrap()
            .max = f64::INFINITY;
        let e = check_figures(&run).unwrap_err().to_string();
        assert!(e.contains("ns max is inf; not a finite number"), "{e}");
        for (ns, loss, at) in [
            (-5.0, 0.0, "host micro `esp egress 64 B` ns median is -5"),
            (0.0, 0.0, "host micro `esp egress 64 B` ns median is 0"),
            (5.0, -1.0, "host udp `esp 64 B` loss median is -1"),
        ] {
            let e = load_doc(doc(ns, loss)).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{}: bad figure: {at}", path.display())),
                "{e}"
            );
        }
    }
}
