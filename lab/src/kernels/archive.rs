//! The Debian archives kernels come from.

use serde::{Deserialize, Serialize};

/// Which Debian archive a suite is served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Archive {
    /// The main archive (`<codename>`, `-updates`, `-backports`, `sid`, `experimental`).
    Debian,
    /// The security archive (`<codename>-security`).
    DebianSecurity,
}

impl Archive {
    /// Name used in messages and the lock file.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Archive::Debian => "debian",
            Archive::DebianSecurity => "debian-security",
        }
    }
}
