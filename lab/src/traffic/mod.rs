//! Traffic generators and receivers used by scenario steps.

pub mod icmp;
pub mod payload;
pub mod tcp;
pub mod udp;

/// Whether a socket read failed only because its receive timeout expired
/// (`SO_RCVTIMEO`: `EAGAIN`/`ETIMEDOUT`), so the caller should check its
/// stop flag and read again.
pub fn is_receive_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}
