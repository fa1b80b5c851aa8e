//! Errors in the lab's YAML files (scenarios and bench files), located at
//! `file:line:column` and naming the field.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::Location;

/// A problem with a scenario or bench file, located at `file:line:column` when known.
#[derive(Debug, thiserror::Error)]
pub(crate) struct SpecError {
    /// The scenario file.
    pub(crate) file: PathBuf,
    /// 1-based line, 0 when unknown.
    pub(crate) line: u64,
    /// 1-based column, 0 when unknown.
    pub(crate) column: u64,
    /// Dotted path of the offending field (`topology.left.address`), if known.
    pub(crate) field: Option<String>,
    /// What is wrong.
    pub(crate) message: String,
}

impl SpecError {
    pub(crate) fn io(path: &Path, err: std::io::Error) -> Self {
        Self {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            field: None,
            message: format!("cannot read: {err}"),
        }
    }

    /// A syntax or shape error in `text`, with the field at its location
    /// and the parser's wording made readable.
    pub(crate) fn syntax(path: &Path, text: &str, err: &serde_saphyr::Error) -> Self {
        let (line, column) = err
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        // The library's rendering includes a source snippet; keep the first line.
        let full = err.to_string();
        let message = full
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid scenario")
            .trim()
            .trim_start_matches("error: ");
        // Drop the library's own "line N column M: " prefix; we print file:line:col.
        let message = match message
            .strip_prefix("line ")
            .and_then(|m| m.split_once(": "))
        {
            Some((pos, rest)) if pos.contains(" column ") => rest,
            _ => message,
        }
        .to_string();
        Self {
            file: path.to_path_buf(),
            line,
            column,
            field: (line > 0)
                .then(|| super::paths::field_at(text, line, column))
                .flatten(),
            message: readable(&message),
        }
    }

    /// An error about the value of `field`, defined at `at`.
    pub(crate) fn at(
        path: &Path,
        at: Location,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: path.to_path_buf(),
            line: at.line(),
            column: at.column(),
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

/// A file that is not UTF-8 text, located at its first byte that is not.
/// Every file the lab reads (YAML, `bench.json`) says so in these words.
#[derive(Debug, thiserror::Error)]
#[error(
    "{}:{line}:{column}: not UTF-8 text (byte {byte:#04x} at offset {offset}); save it as UTF-8",
    file.display()
)]
pub(crate) struct NotUtf8 {
    /// The file.
    pub(crate) file: PathBuf,
    /// 1-based line of the first byte that is not UTF-8.
    pub(crate) line: u64,
    /// 1-based column (in characters) of that byte.
    pub(crate) column: u64,
    /// Its offset in the file.
    pub(crate) offset: usize,
    /// The byte.
    pub(crate) byte: u8,
}

/// `bytes` of `path` as text, or where they stop being UTF-8.
pub(crate) fn utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, NotUtf8> {
    std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let good = String::from_utf8_lossy(&bytes[..offset]);
        let line_start = good.rfind('\n').map_or(0, |i| i + 1);
        NotUtf8 {
            file: path.to_path_buf(),
            line: good.matches('\n').count() as u64 + 1,
            column: good[line_start..].chars().count() as u64 + 1,
            offset,
            byte: bytes[offset],
        }
    })
}

impl From<NotUtf8> for SpecError {
    fn from(e: NotUtf8) -> Self {
        Self {
            file: e.file,
            line: e.line,
            column: e.column,
            field: None,
            message: format!(
                "not UTF-8 text (byte {:#04x} at offset {}); save it as UTF-8",
                e.byte, e.offset
            ),
        }
    }
}

/// The YAML library's wording, where it speaks of its own API, in words
/// about the file.
fn readable(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("duplicate mapping key") {
        let key = rest
            .trim_start_matches(':')
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or("")
            .trim();
        return if key.is_empty() {
            "a key is given twice in the same mapping".into()
        } else {
            format!("key `{key}` is given twice in the same mapping")
        };
    }
    if let Some(rest) = message.strip_prefix("budget breached: ") {
        let what = rest
            .split([' ', '{'])
            .next()
            .unwrap_or("size")
            .to_lowercase();
        return format!(
            "the file is too large or too deeply nested for a lab file (limit on {what} reached)"
        );
    }
    if let Some(ty) = message.strip_prefix("invalid ") {
        let what = match ty.trim() {
            "u8" => Some("a whole number in 0..=255"),
            "u16" => Some("a whole number in 0..=65535"),
            "u32" => Some("a whole number in 0..=4294967295"),
            "u64" | "usize" => Some("a whole number of 0 or more"),
            "f64" | "f32" => Some("a number"),
            "bool" => Some("true or false"),
            _ => None,
        };
        if let Some(w) = what {
            return format!("expected {w}");
        }
    }
    message.to_string()
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_utf8_is_located_once() {
        let p = Path::new("s.yaml");
        assert_eq!(utf8(p, "é\n".as_bytes()).unwrap(), "é\n");
        let e = utf8(p, b"name: x\nd: \xc3\xa9\xff\n").unwrap_err();
        assert_eq!((e.line, e.column, e.offset, e.byte), (2, 5, 13, 0xff));
        let text = e.to_string();
        assert_eq!(
            text,
            "s.yaml:2:5: not UTF-8 text (byte 0xff at offset 13); save it as UTF-8"
        );
        assert_eq!(SpecError::from(e).to_string(), text);
    }
}
