//! What a completed handshake hands the data plane.

/// The transport keys and indexes of one session. `send_key` is the
/// peer's `recv_key`; messages we send carry `remote_index`, messages we
/// receive carry `local_index`. A responder's session may send only after
/// the initiator's first transport message arrives (the paper's key
/// confirmation); holding it back until then is the daemon's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub(crate) local_index: u32,
    pub(crate) remote_index: u32,
    pub(crate) send_key: [u8; 32],
    pub(crate) recv_key: [u8; 32],
    /// Whether we sent the initiation.
    pub(crate) initiator: bool,
}
