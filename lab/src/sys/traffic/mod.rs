//! Traffic generators and receivers used by scenario steps.

pub(crate) mod icmp;
pub(crate) mod payload;
pub(crate) mod tcp;
pub(crate) mod udp;

/// Whether a socket read failed only because its receive timeout expired
/// (`SO_RCVTIMEO`: `EAGAIN`/`ETIMEDOUT`), so the caller should check its
/// stop flag and read again.
pub(crate) fn is_receive_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}
