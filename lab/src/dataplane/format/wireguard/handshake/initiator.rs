//! The initiator's side: the initiation (type 1), then the response
//! (type 2) or a cookie reply (type 3) to it.

use x25519_dalek::{PublicKey, StaticSecret};

use super::cookie::{self, Cookie};
use super::error::{HandshakeError, Sealed};
use super::keys::{Identity, PeerKeys, random_private};
use super::messages::{CookieReply, INITIATION_LEN, Initiation, Kind, MAC_LEN, Response};
use super::noise::{Transcript, dh};
use super::session::Session;
use super::tai64n::Tai64n;

/// An initiation sent and not yet answered.
pub(crate) struct PendingInitiation {
    identity: Identity,
    peer: PeerKeys,
    local_index: u32,
    ephemeral_private: [u8; 32],
    /// C and H after the initiation.
    transcript: Transcript,
    /// The initiation's mac1, which a cookie reply is sealed to.
    mac1: [u8; MAC_LEN],
}

/// Starts a handshake with `peer`: the pending state and the initiation to
/// send. `local_index` is the index the peer will address us by; `now` the
/// timestamp (greater than the last one the peer accepted from us, or it
/// refuses the initiation as replayed); `cookie` the peer's last cookie,
/// which keys mac2 while fresh.
pub(crate) fn initiate(
    identity: &Identity,
    peer: &PeerKeys,
    local_index: u32,
    now: Tai64n,
    cookie: Option<&Cookie>,
) -> Result<(PendingInitiation, [u8; INITIATION_LEN]), HandshakeError> {
    initiate_with_ephemeral(identity, peer, local_index, now, cookie, random_private()?)
}

/// [`initiate`] with a given ephemeral private key (tests give their own).
pub(crate) fn initiate_with_ephemeral(
    identity: &Identity,
    peer: &PeerKeys,
    local_index: u32,
    now: Tai64n,
    cookie: Option<&Cookie>,
    ephemeral_private: [u8; 32],
) -> Result<(PendingInitiation, [u8; INITIATION_LEN]), HandshakeError> {
    let ephemeral = StaticSecret::from(ephemeral_private);
    let ephemeral_public = PublicKey::from(&ephemeral).to_bytes();
    let mut t = Transcript::new(&peer.remote_public);
    t.mix_ephemeral(&ephemeral_public);
    let key = t.mix_key_for_seal(&dh(&ephemeral, &peer.remote_public)?);
    let encrypted_static = t.seal(&key, &identity.public());
    let key = t.mix_key_for_seal(&dh(&identity.secret(), &peer.remote_public)?);
    let encrypted_timestamp = t.seal(&key, &now.0);
    let mut msg = Initiation {
        sender: local_index,
        ephemeral: ephemeral_public,
        encrypted_static: encrypted_static.try_into().expect("32 bytes and a tag"),
        encrypted_timestamp: encrypted_timestamp.try_into().expect("12 bytes and a tag"),
        mac1: [0; MAC_LEN],
        mac2: [0; MAC_LEN],
    }
    .encode();
    let mac1 = cookie::stamp(&mut msg, &peer.remote_public, cookie);
    let pending = PendingInitiation {
        identity: identity.clone(),
        peer: peer.clone(),
        local_index,
        ephemeral_private,
        transcript: t,
        mac1,
    };
    Ok((pending, msg))
}

impl PendingInitiation {
    /// The ephemeral private key of this handshake, for the key log.
    pub(crate) fn ephemeral_private(&self) -> [u8; 32] {
        self.ephemeral_private
    }

    /// The index the response must be addressed to.
    pub(crate) fn local_index(&self) -> u32 {
        self.local_index
    }

    /// The session of a valid response: mac1 keyed for us, addressed to
    /// our index, its empty payload opening (which proves the responder
    /// holds the peer's static key and the same preshared key).
    pub(crate) fn consume_response(self, msg: &[u8]) -> Result<Session, HandshakeError> {
        let r = Response::parse(msg)?;
        if !cookie::mac1_is_valid(msg, &self.identity.public()) {
            return Err(HandshakeError::BadMac1(Kind::Response));
        }
        if r.receiver != self.local_index {
            return Err(HandshakeError::UnexpectedReceiverIndex {
                kind: Kind::Response,
                expected: self.local_index,
                got: r.receiver,
            });
        }
        let ephemeral = StaticSecret::from(self.ephemeral_private);
        let mut t = self.transcript;
        t.mix_ephemeral(&r.ephemeral);
        t.mix_key(&dh(&ephemeral, &r.ephemeral)?);
        t.mix_key(&dh(&self.identity.secret(), &r.ephemeral)?);
        let key = t.mix_psk(&self.peer.psk);
        t.open(&key, &r.encrypted_nothing)
            .map_err(|_| HandshakeError::DecryptionFailed(Sealed::Empty))?;
        let (send_key, recv_key) = t.split(true);
        Ok(Session {
            local_index: self.local_index,
            remote_index: r.sender,
            send_key,
            recv_key,
            initiator: true,
        })
    }

    /// The cookie of a cookie reply to this initiation: initiate again
    /// with it (the peer was under load and dropped this one).
    pub(crate) fn consume_cookie_reply(&self, msg: &[u8]) -> Result<Cookie, HandshakeError> {
        let reply = CookieReply::parse(msg)?;
        if reply.receiver != self.local_index {
            return Err(HandshakeError::UnexpectedReceiverIndex {
                kind: Kind::CookieReply,
                expected: self.local_index,
                got: reply.receiver,
            });
        }
        cookie::open_reply(&reply, &self.peer.remote_public, &self.mac1)
    }
}
