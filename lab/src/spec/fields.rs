//! The field validators every YAML format of the lab shares: ranges,
//! names, versions, addresses, keys, hex bytes and bounds. Each error names
//! the file, line, column and field.

use std::path::Path;

use serde_saphyr::{Location, Spanned};

use super::error::SpecError;
use crate::domain::IfAddr;
pub(crate) use crate::domain::decode_hex;

/// Longest accepted `name`: it becomes part of a folder name (run id).
pub(crate) const MAX_NAME_LEN: usize = 64;

/// Validates the fields of one file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    path: &'a Path,
}

impl<'a> Fields<'a> {
    /// Validators whose errors point into `path`.
    pub(crate) fn new(path: &'a Path) -> Self {
        Self { path }
    }

    /// An error about `field`, defined at `at`.
    pub(crate) fn err(&self, at: Location, field: &str, msg: impl Into<String>) -> SpecError {
        SpecError::at(self.path, at, field, msg)
    }

    /// `v` within `lo..=hi`, or `default` when absent.
    pub(crate) fn range<T>(
        &self,
        v: &Option<Spanned<T>>,
        lo: T,
        hi: T,
        default: T,
        field: &str,
    ) -> Result<T, SpecError>
    where
        T: Copy + PartialOrd + std::fmt::Display,
    {
        match v {
            None => Ok(default),
            Some(s) => self.within(s, lo, hi, field),
        }
    }

    /// A present `v` within `lo..=hi`.
    pub(crate) fn within<T>(
        &self,
        v: &Spanned<T>,
        lo: T,
        hi: T,
        field: &str,
    ) -> Result<T, SpecError>
    where
        T: Copy + PartialOrd + std::fmt::Display,
    {
        if v.value >= lo && v.value <= hi {
            Ok(v.value)
        } else {
            Err(self.err(
                v.referenced,
                field,
                format!("{} is outside {lo}..={hi}", v.value),
            ))
        }
    }

    /// The format version: only 1 is read.
    pub(crate) fn version(&self, v: &Spanned<u32>) -> Result<(), SpecError> {
        if v.value == 1 {
            return Ok(());
        }
        Err(self.err(
            v.referenced,
            "version",
            format!("unsupported version {}; this lab reads version 1", v.value),
        ))
    }

    /// A `name`: non-empty, at most [`MAX_NAME_LEN`] characters of
    /// letters, digits, `-`, `_` and `.` (it becomes part of a folder name).
    pub(crate) fn name(&self, v: &Spanned<String>) -> Result<String, SpecError> {
        let name = v.value.trim();
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            return Err(self.err(
                v.referenced,
                "name",
                format!(
                    "`{}` must be non-empty and use only letters, digits, '-', '_' or '.'",
                    v.value
                ),
            ));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(self.err(
                v.referenced,
                "name",
                format!(
                    "is {} characters long; at most {MAX_NAME_LEN} (it becomes part of the results folder name)",
                    name.len()
                ),
            ));
        }
        Ok(name.to_string())
    }

    /// An interface address (`198.18.0.1/24`) at `at`.
    pub(crate) fn ifaddr(
        &self,
        text: &str,
        at: Location,
        field: &str,
    ) -> Result<IfAddr, SpecError> {
        IfAddr::parse(text).map_err(|m| self.err(at, field, m))
    }

    /// Two ends of one veth, each with where it is written and its field
    /// name: different host addresses in the same subnet.
    pub(crate) fn pair(
        &self,
        left: (IfAddr, Location, &str),
        right: (IfAddr, Location, &str),
    ) -> Result<(), SpecError> {
        for (a, at, field) in [left, right] {
            if let Some(what) = a.reserved() {
                return Err(self.err(
                    at,
                    field,
                    format!(
                        "{} is the {what} address of {}/{}; use a host address",
                        a.addr,
                        a.network_addr(),
                        a.prefix
                    ),
                ));
            }
        }
        let ((l, ..), (r, r_at, r_field)) = (left, right);
        if l.addr == r.addr {
            return Err(self.err(
                r_at,
                r_field,
                format!("{} is also the left address", r.addr),
            ));
        }
        if l.prefix != r.prefix || l.network() != r.network() {
            return Err(self.err(
                r_at,
                r_field,
                format!("{r} is not in the same subnet as the left end {l}"),
            ));
        }
        Ok(())
    }

    /// Hex bytes (whitespace and `:` ignored).
    pub(crate) fn hex(
        &self,
        v: &Spanned<String>,
        field: &str,
        what: &str,
    ) -> Result<Vec<u8>, SpecError> {
        decode_hex(&v.value)
            .ok_or_else(|| self.err(v.referenced, field, format!("{what} must be hex digits")))
    }

    /// An AES key in hex: 16 or 32 bytes.
    pub(crate) fn aes_key(&self, v: &Spanned<String>, field: &str) -> Result<Vec<u8>, SpecError> {
        let key = self.hex(v, field, "key")?;
        if key.len() != 16 && key.len() != 32 {
            return Err(self.err(
                v.referenced,
                field,
                format!(
                    "key is {} bytes; AES needs 16 (32 hex digits) or 32 (64 hex digits)",
                    key.len()
                ),
            ));
        }
        Ok(key)
    }

    /// A key in hex that must have `len` bytes, like the first key.
    pub(crate) fn key_like(
        &self,
        v: &Spanned<String>,
        field: &str,
        len: usize,
    ) -> Result<Vec<u8>, SpecError> {
        let key = self.hex(v, field, "key")?;
        if key.len() != len {
            return Err(self.err(
                v.referenced,
                field,
                format!(
                    "key is {} bytes; it must match cipher.key ({len} bytes)",
                    key.len()
                ),
            ));
        }
        Ok(key)
    }

    /// Inclusive count bounds: at least one given, `min <= max`.
    pub(crate) fn bounds(
        &self,
        at: Location,
        field: &str,
        min: Option<u64>,
        max: Option<u64>,
    ) -> Result<(), SpecError> {
        match (min, max) {
            (None, None) => Err(self.err(at, field, "give `min`, `max` or both")),
            (Some(lo), Some(hi)) if lo > hi => {
                Err(self.err(at, field, format!("min {lo} is greater than max {hi}")))
            }
            _ => Ok(()),
        }
    }

    /// A fraction in `0..=1`.
    pub(crate) fn fraction(&self, at: Location, field: &str, v: f64) -> Result<f64, SpecError> {
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(self.err(at, field, format!("{v} is outside 0..=1")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decoding() {
        assert_eq!(decode_hex("00:ff 10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex(""), None);
    }
}
