//! What the lab hands back: results folders, `summary.json`, verdicts and
//! exit codes, run and bench reports from templates, bench comparisons,
//! matrix tables, terminal text and progress, and writing a file without
//! following a symlink planted at its name.

pub(crate) mod audit;
pub(crate) mod baseline;
pub(crate) mod bench_doc;
pub(crate) mod bench_report;
pub(crate) mod compare;
pub(crate) mod exit;
pub(crate) mod matrix;
pub(crate) mod paired;
pub(crate) mod progress;
pub(crate) mod results_dir;
pub(crate) mod run_report;
pub(crate) mod safe_write;
pub(crate) mod summary;
pub(crate) mod templates;
pub(crate) mod terminal;
