//! Why an xfrm request failed, in the caller's terms: the errno of a
//! refusal is read as a missing kernel feature or as a failure.

use std::io;

use nix::errno::Errno;

use crate::domain::Unsupported;
use crate::sys::netlink::NlError;

/// Why an xfrm request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum XfrmError {
    /// The kernel lacks what the request needs (ESP, an algorithm,
    /// xfrm_user): the caller reports the step unavailable, not failed.
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// The kernel refused the request.
    #[error("{what}: {reason}")]
    Refused {
        what: String,
        errno: i32,
        reason: String,
    },
    /// The socket failed.
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

impl XfrmError {
    #[cfg(test)]
    /// The errno of a kernel refusal.
    pub(crate) fn errno(&self) -> Option<i32> {
        match self {
            Self::Refused { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// Gives a failed request its meaning: `explain` turns the errno into
/// words and says whether it means a missing kernel feature.
pub(super) fn failed(
    what: String,
    failure: NlError,
    explain: impl Fn(Errno) -> (bool, String),
) -> XfrmError {
    match failure {
        NlError::Io(source) => XfrmError::Io { what, source },
        NlError::Garbled(detail) => XfrmError::BadReply { what, detail },
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
                XfrmError::Refused {
                    what,
                    errno,
                    reason,
                }
            }
        }
    }
}

/// NEWSA runs the attribute checks first (EINVAL), then looks up the
/// algorithms (ENOSYS), then the ESP type (EPROTONOSUPPORT), then allocates
/// the crypto transform (ENOENT when e.g. `authenc` is missing). `names`
/// are the state's algorithms.
pub(super) fn explain_state(e: Errno, names: &str) -> (bool, String) {
    match e {
        Errno::EPROTONOSUPPORT => (
            true,
            "the kernel has no ESP for IPv4 (esp4 not loaded or not built)".into(),
        ),
        Errno::ENOSYS => (
            true,
            format!("the kernel's xfrm has no {names} (an algorithm module is missing)"),
        ),
        Errno::ENOENT => (
            true,
            format!(
                "the kernel has no ESP (esp4) or its crypto API has no {names} (authenc, echainiv, seqiv or an algorithm module not loaded)"
            ),
        ),
        Errno::EINVAL => (
            false,
            format!(
                "the kernel rejected the state: key or ICV length for {names}, or the message layout"
            ),
        ),
        Errno::EEXIST => (false, "a state with this SPI and destination exists".into()),
        _ => explain_common(e),
    }
}

pub(super) fn explain_policy(e: Errno) -> (bool, String) {
    match e {
        Errno::EEXIST => (
            false,
            "a policy with this selector and direction exists".into(),
        ),
        Errno::EINVAL => (
            false,
            "the kernel rejected the policy or its template".into(),
        ),
        _ => explain_common(e),
    }
}

pub(super) fn explain_common(e: Errno) -> (bool, String) {
    match e {
        Errno::EPERM => (
            false,
            "not permitted (needs CAP_NET_ADMIN in the namespace)".into(),
        ),
        e => (false, e.desc().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_esp_reads_as_unsupported() {
        let names = "cbc(aes) + cmac(aes)";
        let f = NlError::Refused {
            errno: libc::EPROTONOSUPPORT,
            message: Some("Requested type not found".into()),
        };
        let e = failed("adding".into(), f, |e| explain_state(e, names));
        assert!(matches!(e, XfrmError::Unsupported(_)));
        let text = e.to_string();
        assert!(text.contains("no ESP") && text.contains("esp4"), "{text}");
        assert!(
            text.contains("EPROTONOSUPPORT") && text.contains("Requested type"),
            "{text}"
        );
        let f = NlError::Refused {
            errno: libc::ENOSYS,
            message: None,
        };
        let e = failed("adding".into(), f, |e| explain_state(e, names));
        assert!(
            matches!(e, XfrmError::Unsupported(_)) && e.to_string().contains("cmac(aes)"),
            "{e}"
        );
        let f = NlError::Refused {
            errno: libc::EEXIST,
            message: None,
        };
        let e = failed("adding".into(), f, |e| explain_state(e, names));
        assert!(
            !matches!(e, XfrmError::Unsupported(_)) && e.errno() == Some(libc::EEXIST),
            "{e}"
        );
    }
}
