//! `lab compare RUN_A RUN_B`: two saved benches figure by figure, as a
//! terminal table and a Markdown file (a CI job summary). Exit 1 when a
//! figure regressed beyond `--max-regression`; bad input is an error (2).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::args::CompareArgs;
use crate::output::compare::{self, Comparison, Verdict};
use crate::output::{bench_doc, exit, safe_write};

pub(crate) fn compare(a: CompareArgs) -> Result<i32> {
    let options = a.options()?;
    let root = &a.results.results_dir;
    let old = bench_doc::resolve(&a.old, root).with_context(|| format!("RUN_A `{}`", a.old))?;
    let new = bench_doc::resolve(&a.new, root).with_context(|| format!("RUN_B `{}`", a.new))?;
    let c = compare::compare(&old, &new, options)?;
    let md = compare::markdown(&c);
    match a.markdown {
        Some(p) if p.as_os_str() == "-" => {
            eprint!("{}", compare::terminal(&c, a.all));
            print!("{md}");
        }
        out => {
            let path = out.unwrap_or_else(|| default_out(&new, &c));
            safe_write::write(&path, md)?;
            print!("{}", compare::terminal(&c, a.all));
            println!("→ {}", path.display());
        }
    }
    Ok(if c.count(Verdict::Regression) > 0 {
        exit::FAIL
    } else {
        exit::PASS
    })
}

/// `compare-<old run id>.md` next to the new run's `bench.json`: the new
/// run's folder then says what it was compared with.
fn default_out(new_json: &Path, c: &Comparison) -> PathBuf {
    let id: String = c
        .old
        .run_id
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || "-_.".contains(ch) {
                ch
            } else {
                '_'
            }
        })
        .collect();
    new_json
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!("compare-{id}.md"))
}
