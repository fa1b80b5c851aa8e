//! What the handshakes of a run did: every session installed (its keys
//! are what the oracle opens the capture with), the Wireshark key log and
//! the events for the report's notes.

use std::time::Instant;

use crate::dataplane::format::wireguard::handshake::Session;
use crate::domain::Side;

/// File name of the key log in a run's results folder.
pub(crate) const KEYLOG: &str = "wireguard.keylog";

/// The two keys of one session an end installed (what the oracle opens
/// the capture with: one end's sending key is the other's receiving key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionKeys {
    /// Its sending key.
    pub(crate) send: [u8; 32],
    /// Its receiving key.
    pub(crate) recv: [u8; 32],
}

impl From<&Session> for SessionKeys {
    fn from(s: &Session) -> Self {
        Self {
            send: s.send_key,
            recv: s.recv_key,
        }
    }
}

/// Everything the handshakes logged.
#[derive(Debug, Default)]
pub(crate) struct WgLog {
    /// Sessions' keys, in the order they were installed.
    pub(crate) sessions: Vec<SessionKeys>,
    /// Wireshark `wg.keylog_file` lines.
    pub(crate) keylog: String,
    /// Events, for the report's notes.
    pub(crate) events: Vec<String>,
}

impl WgLog {
    /// Records an event of `side`.
    pub(crate) fn event(&mut self, t0: Instant, side: Side, what: &str) {
        let ms = t0.elapsed().as_millis();
        self.events
            .push(format!("{ms} ms: {} end: {what}", side.as_str()));
    }

    /// Records a session and its key log lines.
    pub(crate) fn session(&mut self, r: SessionKeys, keylog: &str) {
        self.sessions.push(r);
        self.keylog.push_str(keylog);
        if !self.keylog.ends_with('\n') {
            self.keylog.push('\n');
        }
    }

    /// Every key of every session (the oracle's candidates).
    pub(crate) fn keys(&self) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for k in self
            .sessions
            .iter()
            .flat_map(|s| [s.send.to_vec(), s.recv.to_vec()])
        {
            if !out.contains(&k) {
                out.push(k);
            }
        }
        out
    }
}
