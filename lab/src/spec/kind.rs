//! Which of the lab's YAML formats a file is, from its top-level keys.

use std::path::Path;

use super::error::SpecError;

/// A lab YAML format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// A scenario (`steps`, `assertions`).
    Scenario,
    /// A bench file (`sizes`, `variants`).
    Bench,
}

/// The format of the file at `path`: a bench file has `variants` and no
/// `steps` at the top level; anything else is read as a scenario.
pub(crate) fn detect(path: &Path) -> Result<FileKind, SpecError> {
    let text = super::yaml::read(path)?;
    let keys = super::paths::top_level_keys(&text);
    let bench = keys.iter().any(|k| k == "variants") && !keys.iter().any(|k| k == "steps");
    Ok(if bench {
        FileKind::Bench
    } else {
        FileKind::Scenario
    })
}
