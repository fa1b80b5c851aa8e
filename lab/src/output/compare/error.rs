//! Why two benches could not be compared: each names the file (or both) so
//! the command can exit 2 with a message that says what to fix.

use std::path::PathBuf;

use thiserror::Error;

use crate::spec::error::NotUtf8;

/// Bad input to `lab compare`.
#[derive(Debug, Error)]
pub(crate) enum CompareError {
    /// The file could not be read. The cause is in the message, not a
    /// source: an error chain would print it a second time.
    #[error("{path}: cannot read: {err}")]
    Read { path: PathBuf, err: std::io::Error },
    /// The file is not UTF-8 text (where, once).
    #[error(transparent)]
    NotUtf8(#[from] NotUtf8),
    /// The file is not JSON (serde_json's message has line and column).
    #[error("{path}: not a bench.json (not JSON: {err})")]
    Json {
        path: PathBuf,
        err: serde_json::Error,
    },
    /// JSON, but not the document `lab bench` writes.
    #[error("{path}: not a bench.json: {why}")]
    NotABench { path: PathBuf, why: String },
    /// A figure no measurement gives: not finite, or a cost or rate that
    /// is not above 0 (its change in percent would mean nothing).
    #[error("{path}: bad figure: {at} is {value}; {why}")]
    BadFigure {
        path: PathBuf,
        at: String,
        value: f64,
        why: &'static str,
    },
    /// Both are benches, but no figure was measured in both.
    #[error("{old} and {new} have no figure in common: {why}")]
    NoCommonFigures {
        old: PathBuf,
        new: PathBuf,
        why: String,
    },
}
