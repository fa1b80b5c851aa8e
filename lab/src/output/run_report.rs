//! The human report of one scenario run: `report.md` and a self-contained
//! `report.html` next to `summary.json`, from the same sections and the
//! report templates.

use std::path::Path;

use anyhow::Result;
use minijinja::context;
use serde::Serialize;

use super::baseline;
use super::summary::{Summary, Verdict};
use super::{safe_write, templates};
use crate::job::run_report::RunReport;

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::Unsupported => "unsupported",
        Verdict::Error => "error",
    }
}

/// One section: a title, a header row and rows of cells.
#[derive(Serialize)]
struct Table {
    title: String,
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(title: &str, head: &[&str], rows: Vec<Vec<String>>) -> Self {
        Self {
            title: title.into(),
            head: head.iter().map(|h| h.to_string()).collect(),
            rows,
        }
    }
}

/// The report's sections, shared by both renderings.
fn sections(s: &Summary) -> Vec<Table> {
    let mut out = vec![facts(s)];
    out.extend(time(s));
    let Some(r) = &s.report else {
        return out;
    };
    out.push(assertions(r));
    if let Some(b) = &r.baseline {
        let rows = baseline::side_by_side(r, &b.report)
            .into_iter()
            .map(Vec::from)
            .collect();
        let title = format!("Next to {} ({}, {})", b.name, b.wire, b.source);
        let this = format!("{} ({})", s.scenario.name, s.wire);
        let base = format!("{} ({})", b.name, b.wire);
        out.push(Table::new(&title, &["", &this, &base], rows));
        let mut checks = assertions(&b.report);
        checks.title = format!("Assertions of {}", b.name);
        out.push(checks);
    }
    out.push(counters(r));
    if let Some(t) = traffic(r) {
        out.push(t);
    }
    out.push(wire(r));
    let mut notes: Vec<Vec<String>> = r.notes.iter().map(|n| vec![n.clone()]).collect();
    notes.extend(
        r.kernel_warnings
            .iter()
            .map(|w| vec![format!("kernel: {w}")]),
    );
    notes.extend(
        s.kernel_events
            .iter()
            .map(|w| vec![format!("console: {w}")]),
    );
    if !notes.is_empty() {
        out.push(Table::new("Notes", &[""], notes));
    }
    let files = r.files.iter().map(|f| vec![f.clone()]).collect();
    out.push(Table::new("Files", &[""], files));
    out
}

fn facts(s: &Summary) -> Table {
    let kernel_name = s
        .kernel_name
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    let mut rows = vec![
        vec![
            "scenario".into(),
            format!("{} ({})", s.scenario.name, s.scenario.source),
        ],
        vec![
            "verdict".into(),
            format!(
                "{} — {} passed, {} failed",
                verdict_word(s.verdict),
                s.passed,
                s.failed
            ),
        ],
        vec!["cipher".into(), s.cipher.clone()],
        vec!["wire format".into(), s.wire.clone()],
        vec!["backend".into(), s.backend.clone()],
        vec!["kernel".into(), format!("{}{kernel_name}", s.kernel)],
        vec![
            "started".into(),
            format!("{} ({:.1} s)", s.started_at, s.duration_ms as f64 / 1000.0),
        ],
    ];
    if let Some(d) = &s.dataplane {
        rows.insert(
            3,
            vec![
                "data plane".into(),
                format!("{} (sha256 {})", d.path, d.sha256),
            ],
        );
    }
    if let Some(i) = &s.kernel_image {
        rows.push(vec!["kernel image".into(), i.clone()]);
    }
    if let Some(a) = &s.accelerator {
        rows.push(vec!["accelerator".into(), a.clone()]);
    }
    if let Some(e) = &s.error {
        rows.push(vec![
            "error".into(),
            e.lines().next().unwrap_or_default().to_string(),
        ]);
    }
    Table::new("Run", &["", ""], rows)
}

/// Where the wall time went, phase by phase, with each phase's share.
fn time(s: &Summary) -> Option<Table> {
    if s.phases.is_empty() {
        return None;
    }
    let wall = s.duration_ms.max(1) as f64;
    let row = |name: &str, ms: u64| {
        vec![
            name.to_string(),
            format!("{:.2} s", ms as f64 / 1000.0),
            format!("{:.0} %", 100.0 * ms as f64 / wall),
        ]
    };
    let mut rows: Vec<_> = s.phases.iter().map(|p| row(&p.phase, p.ms)).collect();
    let listed: u64 = s.phases.iter().map(|p| p.ms).sum();
    rows.push(row("other", s.duration_ms.saturating_sub(listed)));
    rows.push(row("wall time", s.duration_ms));
    Some(Table::new("Time", &["phase", "time", "share"], rows))
}

fn assertions(r: &RunReport) -> Table {
    let rows = r
        .assertions
        .iter()
        .map(|a| {
            vec![
                if a.pass { "PASS" } else { "FAIL" }.into(),
                a.name.clone(),
                a.expected.clone(),
                a.observed.clone(),
            ]
        })
        .collect();
    Table::new(
        "Assertions",
        &["", "assertion", "expected", "observed"],
        rows,
    )
}

fn counters(r: &RunReport) -> Table {
    let names: Vec<&String> = r
        .counters
        .values()
        .next()
        .map(|c| c.keys().collect())
        .unwrap_or_default();
    let rows = names
        .iter()
        .map(|n| {
            std::iter::once(n.to_string())
                .chain(
                    r.counters
                        .values()
                        .map(|c| c.get(*n).copied().unwrap_or(0).to_string()),
                )
                .collect()
        })
        .collect();
    let mut head = vec!["counter"];
    head.extend(r.counters.keys().map(String::as_str));
    Table::new("Data plane counters", &head, rows)
}

fn traffic(r: &RunReport) -> Option<Table> {
    let mut rows = Vec::new();
    for p in &r.pings {
        rows.push(vec![
            "ping".into(),
            p.from.as_str().into(),
            format!("{} sent", p.outcome.sent),
            format!("{} replies", p.outcome.replies),
        ]);
    }
    for u in &r.udp {
        rows.push(vec![
            format!("udp (step {})", u.step),
            u.from.as_str().into(),
            format!("{} sent, {} send errors", u.sent, u.send_errors),
            format!(
                "{} intact, {} duplicates, {} corrupted",
                u.intact, u.duplicates, u.corrupted
            ),
        ]);
    }
    for t in &r.tcp {
        rows.push(vec![
            format!("tcp (step {})", t.step),
            t.from.as_str().into(),
            format!("{} of {} bytes written", t.client.written, t.bytes),
            format!("{} bytes intact", t.server.intact),
        ]);
    }
    (!rows.is_empty()).then(|| Table::new("Traffic", &["step", "from", "sent", "delivered"], rows))
}

fn wire(r: &RunReport) -> Table {
    let w = &r.wire;
    let rows = vec![
        vec!["interface".into(), w.interface.clone()],
        vec!["frames".into(), w.frames.to_string()],
        vec!["IPv4 packets".into(), w.ipv4_packets.to_string()],
        vec![
            "payload entropy".into(),
            format!("{:.2} bits/byte", w.payload_entropy),
        ],
        vec!["packets with the marker".into(), w.marker_leaks.to_string()],
    ];
    Table::new("Wire", &["", ""], rows)
}

fn title(s: &Summary) -> String {
    format!(
        "{} on {} — {}",
        s.scenario.name,
        s.kernel,
        verdict_word(s.verdict)
    )
}

/// Renders `report.md` or `report.html` (`kind` is `md` or `html`).
fn render(s: &Summary, kind: &str) -> Result<String> {
    templates::render(
        &format!("run.{kind}"),
        context! {
            title => title(s),
            description => s.scenario.description,
            sections => sections(s),
        },
    )
}

/// Renders `report.md`.
pub(crate) fn markdown(s: &Summary) -> Result<String> {
    render(s, "md")
}

/// Renders a self-contained `report.html`.
pub(crate) fn html(s: &Summary) -> Result<String> {
    render(s, "html")
}

/// Writes `report.md` and `report.html` for a run into `dir`.
pub(crate) fn write(s: &Summary, dir: &Path) -> Result<()> {
    safe_write::write(&dir.join("report.md"), markdown(s)?)?;
    safe_write::write(&dir.join("report.html"), html(s)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        let text = r#"{"schema":1,"run_id":"x","scenario":{"name":"ping","source":"scenarios/ping.yaml","description":"a <b> test"},
          "cipher":"cbc(aes)","key_hex":"00","backend":"host","kernel":"6.18","kernel_name":null,"accelerator":null,
          "kernel_events":[],"probe":null,"started_at":"now","duration_ms":800,"verdict":"fail","passed":1,"failed":1,"error":null,
          "report":{"assertions":[{"name":"echo_replies","expected":">= 5","observed":"4 of 5","pass":false},
                                  {"name":"oracle","expected":"all","observed":"10 of 10 match","pass":true}],
            "counters":{"left":{"encrypted":5},"right":{"encrypted":4}},"pings":[],"wire":{"interface":"bcl","frames":12,
            "ipv4_packets":10,"payload_entropy":7.8,"marker_leaks":0},"files":["wire.pcap"]}}"#;
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn markdown_has_every_assertion_and_counter() {
        let md = markdown(&summary()).unwrap();
        assert!(md.starts_with("# ping on 6.18 — FAIL"));
        assert!(
            md.contains("| FAIL | echo_replies | >= 5 | 4 of 5 |"),
            "{md}"
        );
        assert!(md.contains("| PASS | oracle | all | 10 of 10 match |"));
        assert!(
            md.contains("| counter | left | right |") && md.contains("| encrypted | 5 | 4 |"),
            "{md}"
        );
    }

    #[test]
    fn time_table_lists_phases_the_rest_and_the_wall_time() {
        let mut s = summary();
        assert!(!markdown(&s).unwrap().contains("## Time"));
        s.phases = serde_json::from_str(
            r#"[{"phase":"topology","ms":200},{"phase":"step 1: ping","ms":500}]"#,
        )
        .unwrap();
        let md = markdown(&s).unwrap();
        assert!(md.contains("| step 1: ping | 0.50 s | 62 % |"), "{md}");
        assert!(md.contains("| other | 0.10 s | 12 % |"), "{md}");
        assert!(md.contains("| wall time | 0.80 s | 100 % |"), "{md}");
    }

    #[test]
    fn html_is_escaped_and_marks_verdicts() {
        let h = html(&summary()).unwrap();
        assert!(h.contains("a &lt;b&gt; test") && !h.contains("a <b> test"));
        assert!(
            h.contains("<td class=\"FAIL\">FAIL</td>")
                && h.contains("<td class=\"PASS\">PASS</td>")
        );
        assert!(h.ends_with("</html>\n"));
    }
}
