//! Why a handshake message was refused. Every refusal leaves the
//! handshake's state as it was: a forged or replayed message costs the
//! daemon nothing but the message.

use super::messages::{Kind, MessageError};
use super::noise::LowOrderPoint;
use super::tai64n::Tai64n;

/// The sealed field that did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sealed {
    /// The initiator's static key (initiation).
    Static,
    /// The initiator's timestamp (initiation).
    Timestamp,
    /// The response's empty payload: where a wrong preshared key shows.
    Empty,
    /// A cookie reply's cookie.
    Cookie,
}

impl std::fmt::Display for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sealed::Static => "initiator's static key",
            Sealed::Timestamp => "initiation's timestamp",
            Sealed::Empty => "response's empty payload",
            Sealed::Cookie => "cookie",
        })
    }
}

/// A refused handshake message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HandshakeError {
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error(
        "the {0}'s mac1 does not match: it was not made for our public key, or bytes were altered"
    )]
    BadMac1(Kind),
    #[error(
        "decrypting the {0} failed: bytes were altered, or a key (static, ephemeral or preshared) differs from the peer's"
    )]
    DecryptionFailed(Sealed),
    #[error("the initiation is from static key {}…, not the peer's", hex8(got))]
    UnknownStaticKey { got: [u8; 32] },
    #[error("replayed initiation: its timestamp {got} is not after the last accepted one, {last}")]
    ReplayedTimestamp { got: Tai64n, last: Tai64n },
    #[error("the {kind} is for receiver index {got:#010x}, ours is {expected:#010x}")]
    UnexpectedReceiverIndex { kind: Kind, expected: u32, got: u32 },
    #[error("a cookie reply arrived, but we sent no handshake message it could answer")]
    UnsolicitedCookieReply,
    #[error("a Diffie-Hellman result is all zeros: the peer's key is a low-order point")]
    LowOrderPoint,
    #[error("the operating system's random generator failed: {0}")]
    Random(getrandom::Error),
}

impl From<LowOrderPoint> for HandshakeError {
    fn from(_: LowOrderPoint) -> Self {
        HandshakeError::LowOrderPoint
    }
}

impl From<getrandom::Error> for HandshakeError {
    fn from(e: getrandom::Error) -> Self {
        HandshakeError::Random(e)
    }
}

/// The first 8 bytes of a key in hex: enough to tell keys apart in a log.
fn hex8(key: &[u8; 32]) -> String {
    key[..8].iter().map(|b| format!("{b:02x}")).collect()
}
