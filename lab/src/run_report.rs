//! The human report of one scenario run: `report.md` and a self-contained
//! `report.html` next to `summary.json`.

use std::fmt::Write as _;

use crate::results::{Summary, Verdict};

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::Unsupported => "unsupported",
        Verdict::Error => "error",
    }
}

/// One table: a header row and rows of cells.
struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// The report's sections, shared by both renderings.
fn sections(s: &Summary) -> Vec<(String, Table)> {
    let mut out = Vec::new();
    let mut facts = vec![
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
        vec!["backend".into(), s.backend.clone()],
        vec![
            "kernel".into(),
            format!(
                "{}{}",
                s.kernel,
                s.kernel_name
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
        ],
        vec![
            "started".into(),
            format!("{} ({:.1} s)", s.started_at, s.duration_ms as f64 / 1000.0),
        ],
    ];
    if let Some(a) = &s.accelerator {
        facts.push(vec!["accelerator".into(), a.clone()]);
    }
    if let Some(e) = &s.error {
        facts.push(vec![
            "error".into(),
            e.lines().next().unwrap_or_default().to_string(),
        ]);
    }
    out.push((
        "Run".to_string(),
        Table {
            head: vec!["".into(), "".into()],
            rows: facts,
        },
    ));
    if let Some(r) = &s.report {
        out.push((
            "Assertions".into(),
            Table {
                head: vec![
                    "".into(),
                    "assertion".into(),
                    "expected".into(),
                    "observed".into(),
                ],
                rows: r
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
                    .collect(),
            },
        ));
        let names: Vec<&String> = r
            .counters
            .values()
            .next()
            .map(|c| c.keys().collect())
            .unwrap_or_default();
        out.push((
            "Data plane counters".into(),
            Table {
                head: std::iter::once("counter".to_string())
                    .chain(r.counters.keys().cloned())
                    .collect(),
                rows: names
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
                    .collect(),
            },
        ));
        let mut traffic = Vec::new();
        for p in &r.pings {
            traffic.push(vec![
                "ping".into(),
                p.from.as_str().into(),
                format!("{} sent", p.outcome.sent),
                format!("{} replies", p.outcome.replies),
            ]);
        }
        for u in &r.udp {
            traffic.push(vec![
                format!("udp (step {})", u.step),
                u.from.as_str().into(),
                format!("{} sent, {} send errors", u.sent, u.send_errors),
                format!("{} intact, {} corrupted", u.intact, u.corrupted),
            ]);
        }
        for t in &r.tcp {
            traffic.push(vec![
                format!("tcp (step {})", t.step),
                t.from.as_str().into(),
                format!("{} of {} bytes written", t.client.written, t.bytes),
                format!("{} bytes intact", t.server.intact),
            ]);
        }
        if !traffic.is_empty() {
            out.push((
                "Traffic".into(),
                Table {
                    head: vec![
                        "step".into(),
                        "from".into(),
                        "sent".into(),
                        "delivered".into(),
                    ],
                    rows: traffic,
                },
            ));
        }
        out.push((
            "Wire".into(),
            Table {
                head: vec!["".into(), "".into()],
                rows: vec![
                    vec!["interface".into(), r.wire.interface.clone()],
                    vec!["frames".into(), r.wire.frames.to_string()],
                    vec!["IPv4 packets".into(), r.wire.ipv4_packets.to_string()],
                    vec![
                        "payload entropy".into(),
                        format!("{:.2} bits/byte", r.wire.payload_entropy),
                    ],
                    vec![
                        "packets with the marker".into(),
                        r.wire.marker_leaks.to_string(),
                    ],
                ],
            },
        ));
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
            out.push((
                "Notes".into(),
                Table {
                    head: vec!["".into()],
                    rows: notes,
                },
            ));
        }
        out.push((
            "Files".into(),
            Table {
                head: vec!["".into()],
                rows: r.files.iter().map(|f| vec![f.clone()]).collect(),
            },
        ));
    }
    out
}

/// Renders `report.md`.
pub fn markdown(s: &Summary) -> String {
    let mut out = format!(
        "# {} on {} — {}\n",
        s.scenario.name,
        s.kernel,
        verdict_word(s.verdict)
    );
    if !s.scenario.description.is_empty() {
        let _ = writeln!(out, "\n{}", s.scenario.description);
    }
    for (title, t) in sections(s) {
        let _ = writeln!(out, "\n## {title}\n");
        let _ = writeln!(out, "| {} |", t.head.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(t.head.len()));
        for row in &t.rows {
            let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }
    out
}

/// Renders a self-contained `report.html`.
pub fn html(s: &Summary) -> String {
    let mut out = String::new();
    let title = format!(
        "{} on {} — {}",
        s.scenario.name,
        s.kernel,
        verdict_word(s.verdict)
    );
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
         body{{font:14px/1.4 system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}}\
         table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}}\
         td.PASS{{color:#060;font-weight:bold}}td.FAIL{{color:#b00;font-weight:bold}}</style></head><body><h1>{}</h1>",
        esc(&title),
        esc(&title)
    );
    if !s.scenario.description.is_empty() {
        let _ = write!(out, "<p>{}</p>", esc(&s.scenario.description));
    }
    for (name, t) in sections(s) {
        let _ = write!(out, "<h2>{}</h2><table>", esc(&name));
        if t.head.iter().any(|h| !h.is_empty()) {
            let _ = write!(
                out,
                "<tr>{}</tr>",
                t.head
                    .iter()
                    .map(|h| format!("<th>{}</th>", esc(h)))
                    .collect::<String>()
            );
        }
        for row in &t.rows {
            let cells: String = row
                .iter()
                .map(|c| match c.as_str() {
                    "PASS" | "FAIL" => format!("<td class=\"{c}\">{c}</td>"),
                    _ => format!("<td>{}</td>", esc(c)),
                })
                .collect();
            let _ = write!(out, "<tr>{cells}</tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("</body></html>\n");
    out
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
        let md = markdown(&summary());
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
    fn html_is_escaped_and_marks_verdicts() {
        let h = html(&summary());
        assert!(h.contains("a &lt;b&gt; test") && !h.contains("a <b> test"));
        assert!(
            h.contains("<td class=\"FAIL\">FAIL</td>")
                && h.contains("<td class=\"PASS\">PASS</td>")
        );
        assert!(h.ends_with("</html>\n"));
    }
}
