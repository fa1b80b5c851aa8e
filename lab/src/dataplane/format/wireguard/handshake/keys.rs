//! The long-term keys a handshake runs on: ours and the one peer's.

use x25519_dalek::{PublicKey, StaticSecret};

/// Our static key pair (Curve25519), from its private half.
#[derive(Clone)]
pub(crate) struct Identity {
    /// The private key as `wg genkey` prints it (clamped when used).
    pub(crate) private: [u8; 32],
}

impl Identity {
    /// Our public key, the one the peer is configured with.
    pub(crate) fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.secret()).to_bytes()
    }

    pub(crate) fn secret(&self) -> StaticSecret {
        StaticSecret::from(self.private)
    }
}

/// What we know of the peer: its static public key and the preshared key
/// (all zeros when none is configured, as in WireGuard: psk2 then mixes in
/// zeros).
#[derive(Clone)]
pub(crate) struct PeerKeys {
    pub(crate) remote_public: [u8; 32],
    pub(crate) psk: [u8; 32],
}

/// A fresh private key from the operating system's generator: the
/// ephemeral of each handshake (and a scenario's generated identities).
pub(crate) fn random_private() -> Result<[u8; 32], getrandom::Error> {
    let mut k = [0u8; 32];
    getrandom::fill(&mut k)?;
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7748 §6.1: Alice's private key and public key.
    #[test]
    fn public_is_rfc7748_x25519_of_the_base_point() {
        let hex = |s: &str| -> [u8; 32] {
            let v: Vec<u8> = (0..64)
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect();
            v.try_into().unwrap()
        };
        let alice = Identity {
            private: hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
        };
        assert_eq!(
            alice.public(),
            hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
    }

    #[test]
    fn random_keys_differ() {
        assert_ne!(random_private().unwrap(), random_private().unwrap());
    }
}
