//! `lab report RUN`: the plots and report of a saved bench, again.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::output::{bench_doc, bench_report, exit};

pub(crate) fn report(run: &str, out: Option<PathBuf>, results_dir: &Path) -> Result<i32> {
    let json = bench_doc::resolve(run, results_dir)?;
    let doc = bench_doc::load(&json)?;
    let dir = match out {
        Some(d) => d,
        None => json.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let files = bench_report::generate(&doc, &dir)?;
    println!(
        "{} files written to {}: {}",
        files.len(),
        dir.display(),
        files.join(", ")
    );
    Ok(exit::PASS)
}
