//! `matrix.json` and `matrix.md`: one scenario's verdicts on every kernel,
//! with the capability probe.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::summary::{Summary, Verdict};

/// One matrix cell row: a kernel and how the scenario went there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MatrixRow {
    /// `host` or the catalog name.
    pub(crate) target: String,
    /// Per-target folder inside the matrix run.
    pub(crate) dir: String,
    /// The target's summary (absent when it could not start, e.g. not cached).
    pub(crate) summary: Option<Summary>,
    /// Why it did not run, when it did not.
    pub(crate) skipped: Option<String>,
}

/// `matrix.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MatrixSummary {
    /// Run id.
    pub(crate) run_id: String,
    /// Scenario name.
    pub(crate) scenario: String,
    /// Assertion names, in plan order.
    pub(crate) assertions: Vec<String>,
    /// Cipher names probed.
    pub(crate) ciphers: Vec<String>,
    /// Rows.
    pub(crate) rows: Vec<MatrixRow>,
}

impl MatrixSummary {
    /// Whether every target passed, or is a pre-6.10 kernel reported as
    /// unsupported (bpf_crypto arrived in 6.10). Skipped targets fail.
    pub(crate) fn all_passed(&self) -> bool {
        self.rows
            .iter()
            .all(|r| r.summary.as_ref().is_some_and(row_ok))
    }
}

/// Whether one target's result is acceptable for the matrix verdict.
pub(crate) fn row_ok(s: &Summary) -> bool {
    match s.verdict {
        Verdict::Pass => true,
        Verdict::Unsupported => predates_bpf_crypto(&s.kernel),
        Verdict::Fail | Verdict::Error => false,
    }
}

/// Whether a kernel release (`6.1.0-50-cloud-amd64`) is older than 6.10.
pub(crate) fn predates_bpf_crypto(release: &str) -> bool {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) < (6, 10)
}

/// Renders the kernel × assertion and kernel × cipher tables (Markdown).
pub(crate) fn render(m: &MatrixSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {} — kernel matrix ({})\n", m.scenario, m.run_id);
    assertion_table(&mut out, m);
    let _ = writeln!(out, "\n## bpf_crypto_ctx_create capability probe\n");
    probe_table(&mut out, m);
    out
}

fn header(out: &mut String, first: &str, columns: impl Iterator<Item = String>) {
    let columns: Vec<String> = columns.collect();
    let _ = write!(out, "| {first} |");
    for c in &columns {
        let _ = write!(out, " {c} |");
    }
    let _ = write!(out, "\n|{}", "---|".repeat(first.matches('|').count() + 1));
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
}

fn assertion_table(out: &mut String, m: &MatrixSummary) {
    let names = (1..=m.assertions.len()).map(|i| format!("A{i}"));
    header(out, "kernel | release | accel | verdict", names);
    for r in &m.rows {
        match &r.summary {
            Some(s) => {
                let verdict = format!("{:?}", s.verdict).to_lowercase();
                let accel = s.accelerator.as_deref().unwrap_or("-");
                let _ = write!(out, "| {} | {} | {accel} | {verdict} |", r.target, s.kernel);
                for name in &m.assertions {
                    let cell = s
                        .report
                        .as_ref()
                        .and_then(|rep| rep.assertions.iter().find(|a| &a.name == name))
                        .map(|a| if a.pass { "PASS" } else { "FAIL" })
                        .unwrap_or("-");
                    let _ = write!(out, " {cell} |");
                }
            }
            None => {
                let _ = write!(out, "| {} | - | - | skipped |", r.target);
                out.push_str(&" - |".repeat(m.assertions.len()));
            }
        }
        out.push('\n');
    }
    out.push('\n');
    for (i, a) in m.assertions.iter().enumerate() {
        let _ = writeln!(out, "- A{}: `{a}`", i + 1);
    }
    for r in &m.rows {
        let why = r
            .skipped
            .as_ref()
            .or(r.summary.as_ref().and_then(|s| s.error.as_ref()));
        if let Some(why) = why {
            let _ = writeln!(
                out,
                "- {}: {}",
                r.target,
                why.lines().next().unwrap_or_default()
            );
        }
    }
}

fn probe_table(out: &mut String, m: &MatrixSummary) {
    header(out, "kernel", m.ciphers.iter().map(|c| format!("`{c}`")));
    for r in &m.rows {
        let _ = write!(out, "| {} |", r.target);
        match r.summary.as_ref().and_then(|s| s.probe.as_ref()) {
            Some(Ok(p)) => {
                for c in &m.ciphers {
                    let cell =
                        p.entries
                            .iter()
                            .find(|e| &e.cipher == c)
                            .map_or("-".to_string(), |e| match e.errno {
                                None => "ok".into(),
                                Some(n) => format!("{:?}", nix::errno::Errno::from_raw(n)),
                            });
                    let _ = write!(out, " {cell} |");
                }
            }
            Some(Err(why)) => {
                let _ = write!(out, " {} |", why.lines().next().unwrap_or_default());
                out.push_str(&" |".repeat(m.ciphers.len().saturating_sub(1)));
            }
            None => out.push_str(&" - |".repeat(m.ciphers.len())),
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_kernels_may_be_unsupported() {
        assert!(predates_bpf_crypto("6.1.0-50-cloud-amd64"));
        assert!(predates_bpf_crypto("5.15.0"));
        assert!(!predates_bpf_crypto("6.10.0"));
        assert!(!predates_bpf_crypto("6.12.117+deb12-cloud-amd64"));
        assert!(!predates_bpf_crypto("7.3.4+deb13-cloud-amd64"));
    }
}
