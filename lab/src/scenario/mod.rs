//! Scenario files (YAML v1): the raw, located form as written by the user.
//!
//! [`load`] parses a file into [`Scenario`]; [`crate::plan`] validates it
//! into a [`crate::plan::Plan`]. Every value that can be wrong on its own is
//! kept [`Spanned`] so that errors point at `file:line:column`.

mod error;
mod types;

pub use error::ScenarioError;
pub use types::*;

use std::path::Path;

/// Reads and parses a scenario file. Unknown fields and values of the wrong
/// shape are errors carrying the file, line and column.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::io(path, e))?;
    parse(path, &text)
}

/// Parses scenario text; `path` is only used in error messages.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    serde_saphyr::from_str::<Scenario>(text).map_err(|e| ScenarioError::syntax(path, &e))
}
