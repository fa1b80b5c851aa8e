//! Reading and parsing the lab's YAML files.

use std::path::Path;

use super::error::{SpecError, utf8};

/// Largest file the lab reads as YAML.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Reads a YAML file. Only regular files are read: a FIFO or a device
/// would block or never end.
pub(super) fn read(path: &Path) -> Result<String, SpecError> {
    let meta = std::fs::metadata(path).map_err(|e| SpecError::io(path, e))?;
    if !meta.is_file() {
        return Err(SpecError::io(
            path,
            std::io::Error::other("not a regular file"),
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(SpecError::io(
            path,
            std::io::Error::other(format!(
                "{} bytes; the lab reads files up to {MAX_FILE_BYTES} bytes",
                meta.len()
            )),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| SpecError::io(path, e))?;
    Ok(utf8(path, &bytes)?.to_string())
}

/// Parses YAML text into `T`; syntax and shape errors are located.
pub(super) fn from_yaml<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, SpecError> {
    serde_saphyr::from_str::<T>(text).map_err(|e| SpecError::syntax(path, text, &e))
}
