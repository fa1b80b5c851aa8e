//! Why a netlink request of the lab's failed, in the caller's terms: one
//! type for xfrm and the kernel's WireGuard. The errno of a refusal is read
//! by the caller's `explain` as a missing kernel feature (the step or
//! variant is unavailable) or as a failure.

use std::io;

use nix::errno::Errno;

use super::netlink::NlError;
use crate::domain::Unsupported;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    /// The kernel lacks what the request needs (ESP, an algorithm,
    /// xfrm_user, WireGuard): the caller reports it unavailable, not failed.
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// The kernel refused the request.
    #[error("{what}: {reason}")]
    Refused {
        what: String,
        errno: i32,
        reason: String,
    },
    /// A socket or the runtime failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The kernel's reply did not parse.
    #[error("{what}: unexpected reply from the kernel: {detail}")]
    BadReply { what: String, detail: String },
    /// The request cannot be expressed (too long a name, too large a window).
    #[error("{0}")]
    Invalid(String),
}

impl RequestError {
    /// The errno of a kernel refusal.
    #[cfg(test)]
    pub(crate) fn errno(&self) -> Option<i32> {
        match self {
            Self::Refused { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// Gives a failed request its meaning: `explain` turns the errno into
/// words and says whether it means a missing kernel feature.
pub(crate) fn failed(
    what: String,
    failure: NlError,
    explain: impl Fn(Errno) -> (bool, String),
) -> RequestError {
    match failure {
        NlError::Io(source) => RequestError::Io { what, source },
        NlError::Garbled(detail) => RequestError::BadReply { what, detail },
        NlError::Refused { errno, message } => {
            let e = Errno::from_raw(errno);
            let (unsupported, words) = explain(e);
            let kernel = message
                .map(|m| format!("; kernel: {m}"))
                .unwrap_or_default();
            let reason = format!("{words} ({e:?}{kernel})");
            if unsupported {
                Unsupported(format!("{what}: {reason}")).into()
            } else {
                RequestError::Refused {
                    what,
                    errno,
                    reason,
                }
            }
        }
    }
}
