//! What the handshakes of a run did: every session installed (its keys
//! are what the oracle opens the capture with), the Wireshark key log and
//! the events for the report's notes.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::dataplane::format::wireguard::handshake::Session;
use crate::domain::Side;

/// File name of the key log in a run's results folder.
pub(crate) const KEYLOG: &str = "wireguard.keylog";

/// One session an end installed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    /// Milliseconds since the run started.
    pub(crate) at_ms: u64,
    /// The end.
    pub(crate) side: Side,
    /// Whether that end initiated.
    pub(crate) initiator: bool,
    /// The data plane slot it went into.
    pub(crate) slot: usize,
    /// Receiver index of messages to that end.
    pub(crate) local_index: u32,
    /// Receiver index of messages it sends.
    pub(crate) remote_index: u32,
    /// Its sending key, hex.
    pub(crate) send_key: String,
    /// Its receiving key, hex.
    pub(crate) recv_key: String,
}

impl SessionRecord {
    /// The record of `s`, installed into `slot` on `side` now.
    pub(crate) fn new(t0: Instant, side: Side, slot: usize, s: &Session) -> Self {
        Self {
            at_ms: t0.elapsed().as_millis() as u64,
            side,
            initiator: s.initiator,
            slot,
            local_index: s.local_index,
            remote_index: s.remote_index,
            send_key: hex(&s.send_key),
            recv_key: hex(&s.recv_key),
        }
    }

    /// Both keys, as bytes.
    pub(crate) fn keys(&self) -> [Vec<u8>; 2] {
        [unhex(&self.send_key), unhex(&self.recv_key)]
    }
}

/// Everything the handshakes logged.
#[derive(Debug, Default)]
pub(crate) struct WgLog {
    /// Sessions, in the order they were installed.
    pub(crate) sessions: Vec<SessionRecord>,
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
    pub(crate) fn session(&mut self, r: SessionRecord, keylog: &str) {
        self.sessions.push(r);
        self.keylog.push_str(keylog);
        if !self.keylog.ends_with('\n') {
            self.keylog.push('\n');
        }
    }

    /// Every key of every session (the oracle's candidates).
    pub(crate) fn keys(&self) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for k in self.sessions.iter().flat_map(|s| s.keys()) {
            if !out.contains(&k) {
                out.push(k);
            }
        }
        out
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}
