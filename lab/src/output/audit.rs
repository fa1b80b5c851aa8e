//! `lab audit`'s verdict: every property the scenario suite and the fuzzer
//! check, held or broken, with the evidence. A property is a check kind
//! (`unique_ivs`, `oracle`, `counter dropped_nokey`, a fuzz invariant), so
//! that a bug is named by the check that caught it, wherever it ran.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::summary::{Summary, Verdict};
use crate::job::fuzz::FuzzReport;
use crate::spec::dataplane::UserDataplane;

/// The audit of one object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Audit {
    /// The object, by path and digest.
    pub(crate) object: UserDataplane,
    /// The ABI it follows (`raw`, `esp`).
    pub(crate) format: String,
    /// Where it ran (`host`, a catalog kernel) and the kernel release.
    pub(crate) target: String,
    /// Kernel release.
    pub(crate) kernel: String,
    /// Every property, in name order.
    pub(crate) properties: Vec<Property>,
    /// Scenarios of the format that were not run, with the reason.
    pub(crate) untested: Vec<(String, String)>,
}

/// One property.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Property {
    /// The check that tests it, e.g. `unique_ivs` or `fuzz: reference cipher`.
    pub(crate) name: String,
    /// Whether every instance held.
    pub(crate) held: bool,
    /// Held: where it was checked. Broken: the first failure, in words.
    pub(crate) evidence: String,
}

/// The property a scenario check belongs to: its name, the side of a
/// counter left out (`counter right.auth_failed` → `counter auth_failed`).
fn property_of(check: &str) -> String {
    // `wait (step 3)`: one property for every wait.
    let check = check.split(" (step ").next().unwrap_or(check);
    match check.strip_prefix("counter ") {
        Some(c) => {
            let name = c.split_once('.').map_or(c, |(_, n)| n);
            format!("counter {name}")
        }
        None => check.to_string(),
    }
}

/// The property every scenario tests first: it ran to the end (a kernel
/// without a feature the scenario needs is not a finding: `unsupported`
/// runs are listed as not run instead).
pub(crate) const RUNS: &str = "scenario runs without error";

/// Folds the scenario summaries and the fuzz report into properties.
pub(crate) fn properties(runs: &[(String, Summary)], fuzz: Option<&FuzzReport>) -> Vec<Property> {
    // name → (held everywhere, scenarios where held, first failure)
    let mut seen: BTreeMap<String, (Vec<String>, Option<String>)> = BTreeMap::new();
    for (scenario, s) in runs {
        if s.verdict == Verdict::Unsupported {
            continue; // not a finding about the object: listed as not run
        }
        let ran = seen.entry(RUNS.into()).or_default();
        match &s.report {
            Some(_) => ran.0.push(scenario.clone()),
            None => {
                let why = s.error.as_deref().unwrap_or("no report");
                ran.1.get_or_insert(format!("{scenario}: {why}"));
            }
        }
        for a in s.report.iter().flat_map(|r| &r.assertions) {
            let e = seen.entry(property_of(&a.name)).or_default();
            if a.pass {
                if !e.0.contains(scenario) {
                    e.0.push(scenario.clone());
                }
            } else {
                e.1.get_or_insert(format!(
                    "{scenario}: {} — expected {}; observed {}",
                    a.name, a.expected, a.observed
                ));
            }
        }
    }
    if let Some(f) = fuzz {
        let mut names: Vec<&str> = crate::job::fuzz::INVARIANTS.to_vec();
        for (_, invariant, _) in &f.counts {
            if !names.contains(&invariant.as_str()) {
                names.push(invariant);
            }
        }
        if f.forged_checked > 0 && !names.contains(&"forged") {
            names.push("forged");
        }
        for invariant in names {
            let broken: Vec<_> = f.counts.iter().filter(|c| c.1 == invariant).collect();
            let name = format!("fuzz: {invariant}");
            let e = seen.entry(name).or_default();
            match broken.first() {
                None if invariant == "forged" => e.0.push(format!(
                    "{} ingress runs that must drop (seed {})",
                    f.forged_checked, f.seed
                )),
                None => e.0.push(format!("{} frames (seed {})", f.cases, f.seed)),
                Some((prog, _, _)) => {
                    let n: u64 = broken.iter().map(|c| c.2).sum();
                    let example = f
                        .violations
                        .iter()
                        .find(|v| v.invariant == invariant)
                        .map(|v| format!("; case {}: {}", v.case, v.detail))
                        .unwrap_or_default();
                    e.1 = Some(format!("broken {n} times ({prog}{example})"));
                }
            }
        }
        let e = seen.entry("fuzz: no kernel warnings".into()).or_default();
        match f.kernel_warnings.first() {
            None => e.0.push(format!("{} frames", f.cases)),
            Some(w) => e.1 = Some(w.clone()),
        }
    }
    seen.into_iter()
        .map(|(name, (held_in, failure))| Property {
            name,
            held: failure.is_none(),
            evidence: failure.unwrap_or_else(|| format!("held in {}", held_in.join(", "))),
        })
        .collect()
}

impl Audit {
    /// Whether every property held.
    pub(crate) fn passed(&self) -> bool {
        self.properties.iter().all(|p| p.held)
    }

    /// The properties that broke, by name.
    pub(crate) fn broken(&self) -> Vec<&str> {
        self.properties
            .iter()
            .filter(|p| !p.held)
            .map(|p| p.name.as_str())
            .collect()
    }

    /// The table as Markdown (also what the terminal shows).
    pub(crate) fn markdown(&self) -> String {
        let mut s = format!(
            "## Audit of `{}`\n\nsha256 `{}` · {} ABI · {} ({})\n\n| property | | evidence |\n|---|---|---|\n",
            self.object.path, self.object.sha256, self.format, self.target, self.kernel
        );
        for p in &self.properties {
            let mark = if p.held { "held" } else { "**BROKEN**" };
            let evidence = p.evidence.replace('|', "\\|").replace('\n', " ");
            let _ = writeln!(s, "| {} | {mark} | {evidence} |", p.name);
        }
        for (scenario, why) in &self.untested {
            let _ = writeln!(s, "\nnot run: {scenario}: {why}");
        }
        let broken = self.broken();
        let _ = writeln!(
            s,
            "\n{}",
            if broken.is_empty() {
                format!("every property held ({})", self.properties.len())
            } else {
                format!(
                    "{} of {} properties broken: {}",
                    broken.len(),
                    self.properties.len(),
                    broken.join(", ")
                )
            }
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::fuzz::Violation;

    #[test]
    fn counters_are_one_property_whatever_the_side() {
        assert_eq!(
            property_of("counter right.auth_failed"),
            "counter auth_failed"
        );
        assert_eq!(property_of("unique_ivs"), "unique_ivs");
        assert_eq!(property_of("wait (step 3)"), "wait");
    }

    #[test]
    fn a_fuzz_invariant_broken_anywhere_is_broken_with_its_count() {
        let f = FuzzReport {
            cases: 100,
            counts: vec![
                ("egress cbc(aes)".into(), "reference cipher".into(), 7),
                ("egress ecb(aes)".into(), "reference cipher".into(), 3),
            ],
            violations: vec![Violation {
                case: 4,
                program: "egress cbc(aes)".into(),
                invariant: "reference cipher".into(),
                detail: "byte 20 differs".into(),
            }],
            ..Default::default()
        };
        let p = properties(&[], Some(&f));
        let r = p
            .iter()
            .find(|p| p.name == "fuzz: reference cipher")
            .unwrap();
        assert!(!r.held);
        assert!(
            r.evidence.contains("broken 10 times") && r.evidence.contains("byte 20"),
            "{}",
            r.evidence
        );
        let held = p.iter().find(|p| p.name == "fuzz: plaintext").unwrap();
        assert!(held.held, "{held:?}");
        // `forged` is a property only where some frame had to be dropped.
        assert!(!p.iter().any(|p| p.name == "fuzz: forged"));
        let f = FuzzReport {
            cases: 100,
            forged_checked: 42,
            ..Default::default()
        };
        let p = properties(&[], Some(&f));
        let forged = p.iter().find(|p| p.name == "fuzz: forged").unwrap();
        assert!(
            forged.held && forged.evidence.contains("42 ingress runs"),
            "{forged:?}"
        );
    }
}
