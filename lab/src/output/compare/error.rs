//! Why two benches could not be compared: each names the file (or both) so
//! the command can exit 2 with a message that says what to fix.

use std::path::PathBuf;

use thiserror::Error;

/// Bad input to `lab compare`.
#[derive(Debug, Error)]
pub(crate) enum CompareError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not JSON (serde_json's message has line and column).
    #[error("{path}: not a bench.json (not JSON: {source})")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// JSON, but not the document `lab bench` writes.
    #[error("{path}: not a bench.json: {why}")]
    NotABench { path: PathBuf, why: String },
    /// Both are benches, but no figure was measured in both.
    #[error("{old} and {new} have no figure in common: {why}")]
    NoCommonFigures {
        old: PathBuf,
        new: PathBuf,
        why: String,
    },
}
