//! The responder's side: an initiation (type 1) from the one peer, the
//! response (type 2) to it, and a cookie reply (type 3) to that response.

use x25519_dalek::{PublicKey, StaticSecret};

use super::cookie::{self, Cookie};
use super::error::{HandshakeError, Sealed};
use super::keys::{Identity, PeerKeys, random_private};
use super::messages::{CookieReply, Initiation, Kind, MAC_LEN, RESPONSE_LEN, Response};
use super::noise::{Transcript, dh};
use super::session::Session;
use super::tai64n::{TAI64N_LEN, Tai64n};

/// Answers the peer's initiations and remembers what replay protection
/// and cookies need across them.
pub(crate) struct Responder {
    identity: Identity,
    peer: PeerKeys,
    /// The timestamp of the last initiation accepted.
    last_timestamp: Option<Tai64n>,
    /// The ephemeral private key of the last response, for the key log.
    last_ephemeral: Option<[u8; 32]>,
    /// Index and mac1 of the last response, which a cookie reply answers.
    last_response: Option<(u32, [u8; MAC_LEN])>,
    /// The peer's last cookie, for mac2 of the next responses.
    cookie: Option<Cookie>,
}

impl Responder {
    pub(crate) fn new(identity: &Identity, peer: &PeerKeys) -> Self {
        Self {
            identity: identity.clone(),
            peer: peer.clone(),
            last_timestamp: None,
            last_ephemeral: None,
            last_response: None,
            cookie: None,
        }
    }

    /// The session and the response to a valid initiation: mac1 keyed for
    /// us, from the peer's static key, its timestamp after the last one
    /// accepted. `local_index` is the index the peer will address us by.
    pub(crate) fn respond(
        &mut self,
        msg: &[u8],
        local_index: u32,
    ) -> Result<(Session, [u8; RESPONSE_LEN]), HandshakeError> {
        self.respond_with_ephemeral(msg, local_index, random_private()?)
    }

    /// [`Self::respond`] with a given ephemeral private key (tests give
    /// their own).
    pub(crate) fn respond_with_ephemeral(
        &mut self,
        msg: &[u8],
        local_index: u32,
        ephemeral_private: [u8; 32],
    ) -> Result<(Session, [u8; RESPONSE_LEN]), HandshakeError> {
        let init = Initiation::parse(msg)?;
        let our_public = self.identity.public();
        if !cookie::mac1_is_valid(msg, &our_public) {
            return Err(HandshakeError::BadMac1(Kind::Initiation));
        }
        let ours = self.identity.secret();
        let mut t = Transcript::new(&our_public);
        t.mix_ephemeral(&init.ephemeral);
        let key = t.mix_key_for_seal(&dh(&ours, &init.ephemeral)?);
        let static_public = t
            .open(&key, &init.encrypted_static)
            .map_err(|_| HandshakeError::DecryptionFailed(Sealed::Static))?;
        let static_public: [u8; 32] = static_public.try_into().expect("32 bytes sealed");
        if static_public != self.peer.remote_public {
            return Err(HandshakeError::UnknownStaticKey { got: static_public });
        }
        let key = t.mix_key_for_seal(&dh(&ours, &self.peer.remote_public)?);
        let timestamp = t
            .open(&key, &init.encrypted_timestamp)
            .map_err(|_| HandshakeError::DecryptionFailed(Sealed::Timestamp))?;
        let timestamp = Tai64n(<[u8; TAI64N_LEN]>::try_from(timestamp).expect("12 bytes sealed"));
        if let Some(last) = self.last_timestamp
            && timestamp <= last
        {
            return Err(HandshakeError::ReplayedTimestamp {
                got: timestamp,
                last,
            });
        }

        let ephemeral = StaticSecret::from(ephemeral_private);
        let ephemeral_public = PublicKey::from(&ephemeral).to_bytes();
        t.mix_ephemeral(&ephemeral_public);
        t.mix_key(&dh(&ephemeral, &init.ephemeral)?);
        t.mix_key(&dh(&ephemeral, &self.peer.remote_public)?);
        let key = t.mix_psk(&self.peer.psk);
        let encrypted_nothing = t.seal(&key, &[]);
        let mut response = Response {
            sender: local_index,
            receiver: init.sender,
            ephemeral: ephemeral_public,
            encrypted_nothing: encrypted_nothing.try_into().expect("a tag alone"),
            mac1: [0; MAC_LEN],
            mac2: [0; MAC_LEN],
        }
        .encode();
        let mac1 = cookie::stamp(
            &mut response,
            &self.peer.remote_public,
            self.cookie.as_ref(),
        );
        let (send_key, recv_key) = t.split(false);

        self.last_timestamp = Some(timestamp);
        self.last_ephemeral = Some(ephemeral_private);
        self.last_response = Some((local_index, mac1));
        let session = Session {
            local_index,
            remote_index: init.sender,
            send_key,
            recv_key,
            initiator: false,
        };
        Ok((session, response))
    }

    /// The ephemeral private key of the last response sent, for the key
    /// log.
    pub(crate) fn last_ephemeral_private(&self) -> Option<[u8; 32]> {
        self.last_ephemeral
    }

    /// Takes the cookie of a cookie reply to our last response: the
    /// initiator is under load and dropped it; our responses to its next
    /// initiations carry mac2 while the cookie is fresh.
    pub(crate) fn consume_cookie_reply(&mut self, msg: &[u8]) -> Result<(), HandshakeError> {
        let reply = CookieReply::parse(msg)?;
        let (index, mac1) = self
            .last_response
            .ok_or(HandshakeError::UnsolicitedCookieReply)?;
        if reply.receiver != index {
            return Err(HandshakeError::UnexpectedReceiverIndex {
                kind: Kind::CookieReply,
                expected: index,
                got: reply.receiver,
            });
        }
        self.cookie = Some(cookie::open_reply(&reply, &self.peer.remote_public, &mac1)?);
        Ok(())
    }
}
