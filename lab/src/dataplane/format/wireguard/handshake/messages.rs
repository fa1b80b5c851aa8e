//! The three handshake messages on the wire (WireGuard paper §5.4.2–5.4.7):
//! fixed sizes, little-endian indexes, the type as a little-endian 32-bit
//! word (its three reserved bytes must be zero, as the kernel reads it).
//! Encoding and parsing only; the MACs and the cryptography are the
//! callers'.

use super::crypto::{KEY_LEN, TAG_LEN};
use super::tai64n::TAI64N_LEN;

/// Bytes of a handshake initiation (type 1).
pub(crate) const INITIATION_LEN: usize = 148;
/// Bytes of a handshake response (type 2).
pub(crate) const RESPONSE_LEN: usize = 92;
/// Bytes of a cookie reply (type 3).
pub(crate) const COOKIE_REPLY_LEN: usize = 64;
/// Bytes of mac1 and of mac2, the last 32 bytes of types 1 and 2.
pub(crate) const MAC_LEN: usize = 16;
/// Bytes of a cookie reply's nonce.
pub(crate) const COOKIE_NONCE_LEN: usize = 24;
/// Bytes of a cookie (sealed with its tag in a cookie reply).
pub(crate) const COOKIE_LEN: usize = 16;

/// The handshake message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Initiation = 1,
    Response = 2,
    CookieReply = 3,
}

impl Kind {
    fn len(self) -> usize {
        match self {
            Kind::Initiation => INITIATION_LEN,
            Kind::Response => RESPONSE_LEN,
            Kind::CookieReply => COOKIE_REPLY_LEN,
        }
    }

    /// The handshake message type of a datagram, from its first word
    /// (`None` for transport data, type 4, and anything else).
    pub(crate) fn of(datagram: &[u8]) -> Option<Kind> {
        match datagram.first_chunk::<4>().map(|w| u32::from_le_bytes(*w)) {
            Some(1) => Some(Kind::Initiation),
            Some(2) => Some(Kind::Response),
            Some(3) => Some(Kind::CookieReply),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Initiation => "handshake initiation",
            Kind::Response => "handshake response",
            Kind::CookieReply => "cookie reply",
        })
    }
}

/// Why bytes are not a message of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MessageError {
    #[error("a {kind} is {} bytes, got {got}", kind.len())]
    WrongSize { kind: Kind, got: usize },
    #[error("a {kind} starts with type word {}, got {got:#010x}", *kind as u32)]
    WrongType { kind: Kind, got: u32 },
}

/// Type 1: the initiator's ephemeral, sealed static key and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Initiation {
    pub(crate) sender: u32,
    pub(crate) ephemeral: [u8; KEY_LEN],
    pub(crate) encrypted_static: [u8; KEY_LEN + TAG_LEN],
    pub(crate) encrypted_timestamp: [u8; TAI64N_LEN + TAG_LEN],
    pub(crate) mac1: [u8; MAC_LEN],
    pub(crate) mac2: [u8; MAC_LEN],
}

/// Type 2: the responder's ephemeral and the sealed empty payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) sender: u32,
    pub(crate) receiver: u32,
    pub(crate) ephemeral: [u8; KEY_LEN],
    pub(crate) encrypted_nothing: [u8; TAG_LEN],
    pub(crate) mac1: [u8; MAC_LEN],
    pub(crate) mac2: [u8; MAC_LEN],
}

/// Type 3: a cookie sealed to the mac1 of the message it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CookieReply {
    pub(crate) receiver: u32,
    pub(crate) nonce: [u8; COOKIE_NONCE_LEN],
    pub(crate) encrypted_cookie: [u8; COOKIE_LEN + TAG_LEN],
}

/// Writes fields one after the other.
struct Writer<const N: usize> {
    buf: [u8; N],
    at: usize,
}

impl<const N: usize> Writer<N> {
    fn new(kind: Kind) -> Self {
        let mut w = Self { buf: [0; N], at: 0 };
        w.put(&(kind as u32).to_le_bytes());
        w
    }

    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }

    fn done(self) -> [u8; N] {
        debug_assert_eq!(self.at, N, "every byte of the message written");
        self.buf
    }
}

/// Reads fields one after the other from a message of the right size and
/// type.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], kind: Kind) -> Result<Self, MessageError> {
        if bytes.len() != kind.len() {
            return Err(MessageError::WrongSize {
                kind,
                got: bytes.len(),
            });
        }
        let mut r = Self { rest: bytes };
        let word = r.u32();
        if word != kind as u32 {
            return Err(MessageError::WrongType { kind, got: word });
        }
        Ok(r)
    }

    fn take<const L: usize>(&mut self) -> [u8; L] {
        let (head, rest) = self.rest.split_first_chunk::<L>().expect("size checked");
        self.rest = rest;
        *head
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
}

impl Initiation {
    pub(crate) fn encode(&self) -> [u8; INITIATION_LEN] {
        let mut w = Writer::new(Kind::Initiation);
        w.put(&self.sender.to_le_bytes());
        w.put(&self.ephemeral);
        w.put(&self.encrypted_static);
        w.put(&self.encrypted_timestamp);
        w.put(&self.mac1);
        w.put(&self.mac2);
        w.done()
    }

    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let mut r = Reader::new(bytes, Kind::Initiation)?;
        Ok(Self {
            sender: r.u32(),
            ephemeral: r.take(),
            encrypted_static: r.take(),
            encrypted_timestamp: r.take(),
            mac1: r.take(),
            mac2: r.take(),
        })
    }
}

impl Response {
    pub(crate) fn encode(&self) -> [u8; RESPONSE_LEN] {
        let mut w = Writer::new(Kind::Response);
        w.put(&self.sender.to_le_bytes());
        w.put(&self.receiver.to_le_bytes());
        w.put(&self.ephemeral);
        w.put(&self.encrypted_nothing);
        w.put(&self.mac1);
        w.put(&self.mac2);
        w.done()
    }

    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let mut r = Reader::new(bytes, Kind::Response)?;
        Ok(Self {
            sender: r.u32(),
            receiver: r.u32(),
            ephemeral: r.take(),
            encrypted_nothing: r.take(),
            mac1: r.take(),
            mac2: r.take(),
        })
    }
}

impl CookieReply {
    #[cfg(test)]
    pub(crate) fn encode(&self) -> [u8; COOKIE_REPLY_LEN] {
        let mut w = Writer::new(Kind::CookieReply);
        w.put(&self.receiver.to_le_bytes());
        w.put(&self.nonce);
        w.put(&self.encrypted_cookie);
        w.done()
    }

    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let mut r = Reader::new(bytes, Kind::CookieReply)?;
        Ok(Self {
            receiver: r.u32(),
            nonce: r.take(),
            encrypted_cookie: r.take(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn initiation() -> Initiation {
        Initiation {
            sender: 0x0403_0201,
            ephemeral: [0xe0; 32],
            encrypted_static: [0x5a; 48],
            encrypted_timestamp: [0x7a; 28],
            mac1: [0x11; 16],
            mac2: [0x22; 16],
        }
    }

    /// Offsets from the paper's message layout: type, reserved, sender at
    /// 4, ephemeral at 8, static at 40, timestamp at 88, mac1 at 116, mac2
    /// at 132.
    #[test]
    fn initiation_layout_and_round_trip() {
        let m = initiation();
        let b = m.encode();
        assert_eq!(b[..8], [1, 0, 0, 0, 1, 2, 3, 4]);
        assert_eq!((b[8], b[39], b[40], b[87]), (0xe0, 0xe0, 0x5a, 0x5a));
        assert_eq!((b[88], b[115], b[116], b[132]), (0x7a, 0x7a, 0x11, 0x22));
        assert_eq!(Initiation::parse(&b).unwrap(), m);
    }

    #[test]
    fn response_layout_and_round_trip() {
        let m = Response {
            sender: 7,
            receiver: 0x0102_0304,
            ephemeral: [0xe1; 32],
            encrypted_nothing: [0x33; 16],
            mac1: [0x11; 16],
            mac2: [0x22; 16],
        };
        let b = m.encode();
        assert_eq!(b[..12], [2, 0, 0, 0, 7, 0, 0, 0, 4, 3, 2, 1]);
        assert_eq!((b[12], b[44], b[60], b[76]), (0xe1, 0x33, 0x11, 0x22));
        assert_eq!(Response::parse(&b).unwrap(), m);
    }

    #[test]
    fn cookie_reply_layout_and_round_trip() {
        let m = CookieReply {
            receiver: 9,
            nonce: [0x4e; 24],
            encrypted_cookie: [0xcc; 32],
        };
        let b = m.encode();
        assert_eq!(b[..8], [3, 0, 0, 0, 9, 0, 0, 0]);
        assert_eq!((b[8], b[31], b[32], b[63]), (0x4e, 0x4e, 0xcc, 0xcc));
        assert_eq!(CookieReply::parse(&b).unwrap(), m);
    }

    #[test]
    fn wrong_size_and_type_are_refused() {
        let b = initiation().encode();
        assert_eq!(
            Initiation::parse(&b[..147]),
            Err(MessageError::WrongSize {
                kind: Kind::Initiation,
                got: 147
            })
        );
        assert_eq!(
            Response::parse(&b[..92]),
            Err(MessageError::WrongType {
                kind: Kind::Response,
                got: u32::from_le_bytes([1, 0, 0, 0])
            })
        );
        let mut reserved = b;
        reserved[3] = 1;
        assert!(matches!(
            Initiation::parse(&reserved),
            Err(MessageError::WrongType { .. })
        ));
    }

    #[test]
    fn kind_of_a_datagram() {
        assert_eq!(Kind::of(&initiation().encode()), Some(Kind::Initiation));
        assert_eq!(Kind::of(&[2, 0, 0, 0]), Some(Kind::Response));
        assert_eq!(Kind::of(&[3, 0, 0, 0, 9]), Some(Kind::CookieReply));
        assert_eq!(Kind::of(&[4, 0, 0, 0]), None, "transport data");
        assert_eq!(Kind::of(&[1, 0, 0]), None, "too short for a type");
        assert_eq!(Kind::of(&[1, 0, 0, 1]), None, "reserved bytes set");
    }
}
