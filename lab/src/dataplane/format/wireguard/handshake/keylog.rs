//! The WireGuard key log Wireshark and tshark read (`wg.keylog_file`):
//! `<type> = <base64 key>` lines, as the WireGuard sources'
//! `extract-handshakes.sh` writes them. One handshake is four lines; the
//! dissector pairs a `PRESHARED_KEY` with the `LOCAL_EPHEMERAL_PRIVATE_KEY`
//! just before it, so the order matters. With them it decrypts the
//! handshake and every transport message of the session.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::keys::{Identity, PeerKeys};

/// The key types of a key log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    LocalStaticPrivate,
    RemoteStaticPublic,
    LocalEphemeralPrivate,
    Preshared,
}

impl KeyKind {
    #[cfg(test)]
    const ALL: [KeyKind; 4] = [
        KeyKind::LocalStaticPrivate,
        KeyKind::RemoteStaticPublic,
        KeyKind::LocalEphemeralPrivate,
        KeyKind::Preshared,
    ];

    fn name(self) -> &'static str {
        match self {
            KeyKind::LocalStaticPrivate => "LOCAL_STATIC_PRIVATE_KEY",
            KeyKind::RemoteStaticPublic => "REMOTE_STATIC_PUBLIC_KEY",
            KeyKind::LocalEphemeralPrivate => "LOCAL_EPHEMERAL_PRIVATE_KEY",
            KeyKind::Preshared => "PRESHARED_KEY",
        }
    }
}

/// One line of a key log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyLine {
    pub(crate) kind: KeyKind,
    pub(crate) key: [u8; 32],
}

/// A line that is not `<type> = <base64 of 32 bytes>`, numbered from 1.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyLogError {
    #[error("key log line {line}: no `=` between key type and key")]
    NoEquals { line: usize },
    #[error("key log line {line}: unknown key type {kind:?}")]
    UnknownKind { line: usize, kind: String },
    #[error("key log line {line}: the key is not base64")]
    NotBase64 { line: usize },
    #[error("key log line {line}: the key is {got} bytes, not 32")]
    WrongLength { line: usize, got: usize },
}

/// The four lines of one handshake of ours (as initiator or responder:
/// "local" is our side): the dissector derives everything else.
pub(crate) fn handshake_lines(
    identity: &Identity,
    peer: &PeerKeys,
    ephemeral_private: &[u8; 32],
) -> String {
    [
        KeyLine {
            kind: KeyKind::LocalStaticPrivate,
            key: identity.private,
        },
        KeyLine {
            kind: KeyKind::RemoteStaticPublic,
            key: peer.remote_public,
        },
        KeyLine {
            kind: KeyKind::LocalEphemeralPrivate,
            key: *ephemeral_private,
        },
        KeyLine {
            kind: KeyKind::Preshared,
            key: peer.psk,
        },
    ]
    .iter()
    .map(|l| format!("{} = {}\n", l.kind.name(), STANDARD.encode(l.key)))
    .collect()
}

/// Reads a key log as the dissector does (tests: the logs we write parse
/// back): leading spaces, spaces around
/// `=` and a CR before the newline are ignored; blank lines are skipped.
/// Unlike the dissector, which skips what it does not understand, any
/// other line is an error: this checks the logs we write.
#[cfg(test)]
pub(crate) fn parse(text: &str) -> Result<Vec<KeyLine>, KeyLogError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw
            .strip_suffix('\r')
            .unwrap_or(raw)
            .trim_start_matches(' ');
        if l.is_empty() {
            continue;
        }
        let (kind, value) = l.split_once('=').ok_or(KeyLogError::NoEquals { line })?;
        let kind = kind.trim_end_matches(' ');
        let kind = KeyKind::ALL
            .into_iter()
            .find(|k| k.name() == kind)
            .ok_or_else(|| KeyLogError::UnknownKind {
                line,
                kind: kind.to_string(),
            })?;
        let bytes = STANDARD
            .decode(value.trim_matches(' '))
            .map_err(|_| KeyLogError::NotBase64 { line })?;
        let got = bytes.len();
        let key = bytes
            .try_into()
            .map_err(|_| KeyLogError::WrongLength { line, got })?;
        out.push(KeyLine { kind, key });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (Identity, PeerKeys, [u8; 32]) {
        let identity = Identity { private: [1; 32] };
        let peer = PeerKeys {
            remote_public: [2; 32],
            psk: [3; 32],
        };
        (identity, peer, [4; 32])
    }

    #[test]
    fn handshake_lines_parse_back_in_order() {
        let (identity, peer, eph) = keys();
        let text = handshake_lines(&identity, &peer, &eph);
        assert_eq!(text.lines().count(), 4);
        assert!(text.starts_with("LOCAL_STATIC_PRIVATE_KEY = AQEBAQEB"));
        let lines = parse(&text).unwrap();
        let got: Vec<(KeyKind, [u8; 32])> = lines.iter().map(|l| (l.kind, l.key)).collect();
        assert_eq!(
            got,
            [
                (KeyKind::LocalStaticPrivate, [1; 32]),
                (KeyKind::RemoteStaticPublic, [2; 32]),
                (KeyKind::LocalEphemeralPrivate, [4; 32]),
                (KeyKind::Preshared, [3; 32]),
            ]
        );
    }

    /// The dissector's own example lines (leading spaces, spaces around
    /// `=`, as `extract-handshakes.sh` prints them), with a CR and no
    /// spaces at all too.
    #[test]
    fn the_dissectors_layout_variants_parse() {
        let text = "  LOCAL_STATIC_PRIVATE_KEY = AKeZaHwBxjiKLFnkY2unvEdOTtg4AL+M9dQXfopFVFk=\r\n\
                    \n\
                    PRESHARED_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let lines = parse(text).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].kind, KeyKind::LocalStaticPrivate);
        assert_eq!(lines[0].key[..3], [0x00, 0xa7, 0x99]);
        assert_eq!(lines[1].key, [0; 32]);
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(parse("junk"), Err(KeyLogError::NoEquals { line: 1 }));
        assert_eq!(
            parse("\nPRIVATE_KEY = AAAA"),
            Err(KeyLogError::UnknownKind {
                line: 2,
                kind: "PRIVATE_KEY".into()
            })
        );
        assert_eq!(
            parse("PRESHARED_KEY = !!"),
            Err(KeyLogError::NotBase64 { line: 1 })
        );
        assert_eq!(
            parse("PRESHARED_KEY = AAAA"),
            Err(KeyLogError::WrongLength { line: 1, got: 3 })
        );
    }
}
