//! The bench report: plots (SVG and PNG) and `report.html` / `report.md`
//! with the tables, generated from a [`BenchDoc`] alone so that
//! `lab report` can redo it from a saved `bench.json`.

pub(crate) mod chart;
pub(crate) mod figures;
pub(crate) mod findings;
pub(crate) mod font;
pub(crate) mod tables;
pub(crate) mod vm_loop;

use std::path::Path;

use anyhow::{Context, Result};
use minijinja::context;
use serde::Serialize;

use crate::job::bench::TargetResult;
use crate::output::bench_doc::BenchDoc;
use crate::output::{safe_write, templates};
use crate::sys::signals;
use tables::Table;

/// HTML report file name.
pub(crate) const REPORT_HTML: &str = "report.html";
/// Markdown report file name.
pub(crate) const REPORT_MD: &str = "report.md";

/// A figure as the templates see it.
#[derive(Debug, Clone, Serialize)]
struct FigureRef {
    svg: String,
    png: String,
    alt: String,
}

/// A target's findings, for the report's opening.
#[derive(Debug, Clone, Serialize)]
struct Findings {
    label: String,
    lines: Vec<String>,
}

/// File name of the findings alone (Markdown), e.g. for a CI job summary.
pub(crate) const FINDINGS_MD: &str = "findings.md";

/// A target's part of the report.
#[derive(Debug, Clone, Serialize)]
struct Section {
    label: String,
    r#where: String,
    status: Option<String>,
    figures: Vec<FigureRef>,
    tables: Vec<Table>,
}

/// How the figures were measured, for the report's method list.
fn method(doc: &BenchDoc) -> Vec<String> {
    let p = &doc.plan;
    let mut m = Vec::new();
    if let Some(mp) = &p.micro {
        m.push(format!(
            "Micro: each program of each variant is run with BPF_PROG_TEST_RUN on a whole Ethernet/IPv4/UDP frame, \
             one run per call (repeat = 1: with repeat > 1 the kernel reruns the program on its own output), timed by the kernel; \
             {} warm-up round(s) discarded, then {} rounds of about {} ms. Every run must return a pass verdict (TC_ACT_OK or TCX_NEXT) with the expected \
             length, the first output is checked byte for byte (egress ciphertext with a reference AES), and the counters must \
             count every run; otherwise the figure is FAILED.",
            mp.warmup_rounds, mp.rounds, mp.round_ms
        ));
    }
    if let Some(c) = &p.cipher {
        m.push(format!(
            "Limit: a crypto-only TC program calls bpf_crypto_encrypt/decrypt once on the packet's cipher bytes \
             (payload + PKCS#7 padding) with the data plane's own key context and scratch buffers, through the same \
             test-run harness ({} rounds). \"Share that is cipher\" = its time / the data plane's time (100 % = nothing but the cipher; \
             over 100 % is measurement noise: a little on hardware, up to tens of percent under TCG).",
            c.rounds
        ));
    }
    if let Some(u) = &p.udp {
        m.push(format!(
            "UDP: two network namespaces joined by a veth (wire MTU {}), the variant on both ends; a sender in the left \
             namespace sends datagrams as fast as it can for {} ms per round ({} rounds after {} ms warm-up) to a \
             receiver in the right namespace that checks every byte. Sender and receiver are pinned to different CPUs \
             when there are two. CPU busy share and CPU ns per packet come from /proc/stat (all CPUs, softirq included).",
            p.mtu, u.duration_ms, u.rounds, u.warmup_ms
        ));
    }
    if let Some(t) = &p.tcp {
        let modes: Vec<&str> = t.offloads.iter().map(|m| m.as_str()).collect();
        m.push(format!(
            "TCP: one connection per round ({} rounds × {} ms) writing a checkable byte stream, with the veth offloads \
             set on both ends to each mode ({}). on = TSO+GSO+TX checksum, off = none, segmentation-off = TX checksum only. \
             The data plane drops GSO super-packets (fails closed); when TCP stalls, the figure says so.",
            t.flow.rounds,
            t.flow.duration_ms,
            modes.join(", ")
        ));
    }
    m
}

fn figure_ref(files: &[String], alt: String) -> Option<FigureRef> {
    let svg = files.iter().find(|f| f.ends_with(".svg"))?.clone();
    let png = files.iter().find(|f| f.ends_with(".png"))?.clone();
    Some(FigureRef { svg, png, alt })
}

fn section(
    doc: &BenchDoc,
    t: &TargetResult,
    dir: &Path,
    written: &mut Vec<String>,
) -> Result<Section> {
    let mut figs = Vec::new();
    let candidates = [
        ("throughput", figures::throughput(doc, t)),
        ("cost", figures::cost(doc, t)),
        ("udp", figures::udp(doc, t)),
        ("alternatives", figures::alternatives(doc, t)),
    ];
    for (kind, fig) in candidates {
        if let Some(fig) = fig {
            let files = chart::write(&fig, dir, &figures::stem(kind, &t.target))?;
            if let Some(r) = figure_ref(&files, fig.title.clone()) {
                figs.push(r);
            }
            written.extend(files);
        }
    }
    let tables: Vec<Table> = [
        tables::unavailable(t),
        tables::micro(t),
        tables::cipher(t),
        tables::hardware(t),
        tables::udp(t),
        tables::tcp(t),
    ]
    .into_iter()
    .flatten()
    .collect();
    let status = match (&t.unsupported, &t.error) {
        (Some(u), _) => Some(format!("Not measured: {u}")),
        (None, Some(e)) => Some(format!(
            "The run stopped early: {}",
            e.lines().next().unwrap_or_default()
        )),
        _ if t.has_failures() => {
            Some("Some figures FAILED their correctness checks (rows marked FAILED).".into())
        }
        _ => None,
    };
    Ok(Section {
        label: t.env.label(&t.target),
        r#where: tables::where_measured(t),
        status,
        figures: figs,
        tables,
    })
}

/// Writes the plots, `report.html` and `report.md` for `doc` into `dir`;
/// returns the names of the files written.
pub(crate) fn generate(doc: &BenchDoc, dir: &Path) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    let mut sections = Vec::new();
    for t in &doc.targets {
        signals::check()?;
        sections.push(section(doc, t, dir, &mut written)?);
    }
    let comparison = match figures::kernels(doc) {
        Some(fig) => {
            let files = chart::write(&fig, dir, "kernels")?;
            let r = figure_ref(&files, fig.title.clone());
            written.extend(files);
            r
        }
        None => None,
    };
    let findings: Vec<Findings> = doc
        .targets
        .iter()
        .map(|t| Findings {
            label: t.env.label(&t.target),
            lines: findings::of(t, &doc.plan.sizes),
        })
        .collect();
    let mut findings = findings;
    if let Some(l) = &doc.vm_loop {
        findings.push(Findings {
            label: "The lab's VM loop".into(),
            lines: vm_loop::findings(l),
        });
    }
    let findings_md = templates::render("findings.md", context! { findings => &findings })?;
    let ctx = context! {
        title => format!("Benchmark: {}", doc.plan.name),
        findings => findings,
        findings_md => findings_md,
        run_id => doc.run_id,
        started_at => doc.started_at,
        duration => format!("{:.0} s", doc.duration_ms as f64 / 1000.0),
        source => doc.plan.source,
        description => doc.plan.description,
        quick => doc.plan.quick,
        inject => doc.plan.inject.map(|i| i.as_str()),
        dataplane => doc.plan.dataplane.as_ref().map(|d| format!("{} (sha256 {})", d.path, d.sha256)),
        emulated => doc.targets.iter().any(|t| t.env.emulated),
        method => method(doc),
        env => tables::environment(doc),
        comparison => comparison,
        vm_loop => doc.vm_loop.as_ref().map(vm_loop::table),
        targets => sections,
    };
    for (name, template) in [(REPORT_MD, "bench.md"), (REPORT_HTML, "bench.html")] {
        let text = templates::render(template, &ctx)?;
        safe_write::write(&dir.join(name), text)?;
        written.push(name.to_string());
    }
    safe_write::write(&dir.join(FINDINGS_MD), &findings_md)?;
    written.push(FINDINGS_MD.to_string());
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::bench::CheckResult;

    fn fixture(name: &str) -> BenchDoc {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        crate::output::bench_doc::load(&path).unwrap()
    }

    #[test]
    fn report_from_saved_host_bench() {
        let doc = fixture("bench-host.json");
        let dir = tempfile::tempdir().unwrap();
        let files = generate(&doc, dir.path()).unwrap();
        for f in [
            "report.html",
            "report.md",
            "throughput-host.svg",
            "throughput-host.png",
            "cost-host.svg",
            "cost-host.png",
            "udp-host.svg",
            "udp-host.png",
        ] {
            assert!(files.iter().any(|x| x == f), "{f} not in {files:?}");
            assert!(
                dir.path().join(f).metadata().unwrap().len() > 1000,
                "{f} is too small"
            );
        }
        assert!(
            !files.iter().any(|f| f.starts_with("kernels")),
            "one target: no comparison"
        );
        let md = std::fs::read_to_string(dir.path().join(REPORT_MD)).unwrap();
        for m in &doc.targets[0].micro {
            let row = format!(
                "| {} | {} | {} | {} |",
                m.variant.as_str(),
                m.direction.as_str(),
                m.size,
                tables::num(m.ns.as_ref().unwrap().median)
            );
            assert!(md.contains(&row), "{row}");
        }
        let html = std::fs::read_to_string(dir.path().join(REPORT_HTML)).unwrap();
        assert!(html.contains("<img src=\"throughput-host.svg\""));
        assert!(
            html.contains(&doc.targets[0].env.commit),
            "commit recorded with the figures"
        );
    }

    #[test]
    fn report_of_a_matrix_compares_kernels() {
        let doc = fixture("bench-matrix.json");
        let dir = tempfile::tempdir().unwrap();
        let files = generate(&doc, dir.path()).unwrap();
        assert!(
            files.iter().any(|f| f == "kernels.svg") && files.iter().any(|f| f == "kernels.png")
        );
        let md = std::fs::read_to_string(dir.path().join(REPORT_MD)).unwrap();
        assert!(md.contains("kernels.png"));
        if doc.targets.iter().any(|t| t.env.emulated) {
            assert!(md.contains("(TCG)") && md.contains("**TCG:**"));
        }
    }

    #[test]
    fn failed_figures_have_no_number() {
        let mut doc = fixture("bench-host.json");
        let m = &mut doc.targets[0].micro[0];
        m.check = CheckResult::failed("the program returned TC_ACT_SHOT instead of a pass verdict");
        m.ns = None;
        m.gbps = None;
        let row = format!(
            "| {} | {} | {} | FAILED |",
            m.variant.as_str(),
            m.direction.as_str(),
            m.size
        );
        let dir = tempfile::tempdir().unwrap();
        generate(&doc, dir.path()).unwrap();
        let md = std::fs::read_to_string(dir.path().join(REPORT_MD)).unwrap();
        assert!(md.contains(&row), "{row}");
        assert!(md.contains("TC_ACT_SHOT instead of a pass verdict"));
        assert!(md.contains("FAILED their correctness checks"));
    }
}
