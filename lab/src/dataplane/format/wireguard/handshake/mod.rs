//! The WireGuard handshake (paper §5.4; Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s)
//! as pure protocol logic: bytes in, bytes and session keys out, no
//! sockets and no timers. An initiator [`initiate`]s and consumes the
//! response ([`PendingInitiation`]); a [`Responder`] answers the one peer's
//! initiations, refusing replayed ones. Both end with a [`Session`], the
//! keys and indexes the data plane's transport messages use; `keylog`
//! writes what Wireshark needs to decrypt them. Every primitive is a
//! RustCrypto or dalek crate's (`crypto`); nothing here is curve or hash
//! arithmetic.

mod cookie;
mod crypto;
mod error;
mod initiator;
mod keylog;
mod keys;
mod messages;
mod noise;
mod responder;
mod session;
mod tai64n;

/// The daemon's API.
pub(crate) use self::{
    cookie::Cookie,
    initiator::{PendingInitiation, initiate},
    keylog::handshake_lines,
    keys::{Identity, PeerKeys},
    messages::Kind,
    responder::Responder,
    session::Session,
    tai64n::Tai64n,
};

#[cfg(test)]
mod interop_tests;
#[cfg(test)]
mod tests;
