//! What the errno of a refused xfrm request means: a missing kernel
//! feature or a failure (`RequestError` through `request_error::failed`).

use nix::errno::Errno;

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
    use crate::sys::netlink::NlError;
    use crate::sys::request_error::{RequestError, failed};

    #[test]
    fn a_missing_esp_reads_as_unsupported() {
        let names = "cbc(aes) + cmac(aes)";
        let f = NlError::Refused {
            errno: libc::EPROTONOSUPPORT,
            message: Some("Requested type not found".into()),
        };
        let e = failed("adding".into(), f, |e| explain_state(e, names));
        assert!(matches!(e, RequestError::Unsupported(_)));
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
            matches!(e, RequestError::Unsupported(_)) && e.to_string().contains("cmac(aes)"),
            "{e}"
        );
        let f = NlError::Refused {
            errno: libc::EEXIST,
            message: None,
        };
        let e = failed("adding".into(), f, |e| explain_state(e, names));
        assert!(
            !matches!(e, RequestError::Unsupported(_)) && e.errno() == Some(libc::EEXIST),
            "{e}"
        );
    }
}
