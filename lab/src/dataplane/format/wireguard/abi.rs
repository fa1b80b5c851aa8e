//! Rust mirrors of `ebpf/wg_abi.h`: the constants and structs of the
//! WireGuard data plane that userspace reads or writes, and their layouts
//! for the ABI check.

use crate::dataplane::abi::Plain;
use crate::dataplane::layout::{Layout, mirror};

/// The WireGuard data plane's counters (`struct wg_stats`).
pub(crate) const WG_COUNTERS: usize = 19;
const _: () = assert!(WG_COUNTERS <= crate::dataplane::abi::COUNTER_NAMES.len());

/// WireGuard: the most bytes a packet grows by (`WG_OVERHEAD`).
pub(crate) const WG_OVERHEAD: u32 = 80;
/// WireGuard: `provision` operations (`WG_OP_*`).
pub(crate) const WG_OP_PEER: u32 = 1;
/// See [`WG_OP_PEER`].
pub(crate) const WG_OP_KEYPAIR: u32 = 2;
/// See [`WG_OP_PEER`].
pub(crate) const WG_OP_CLEAR: u32 = 3;
/// See [`WG_OP_PEER`].
pub(crate) const WG_OP_SEND: u32 = 4;
/// WireGuard: `WG_F_CONFIRMED`, a keypair that may send at once.
pub(crate) const WG_F_CONFIRMED: u32 = 1;
/// WireGuard: `WG_F_SEND`, and egress sends with it now.
pub(crate) const WG_F_SEND: u32 = 2;
/// WireGuard: `WG_F_SKIP_FIRST`, counter 0 is spent (the handshake's
/// keepalive, sealed in userspace).
pub(crate) const WG_F_SKIP_FIRST: u32 = 4;
/// WireGuard: no slot (`WG_NO_SLOT`): egress sends nothing; CLEAR: every slot.
pub(crate) const WG_NO_SLOT: u32 = u32::MAX;
/// WireGuard: keypair slots (`WG_KEYPAIRS`).
pub(crate) const WG_KEYPAIRS: u32 = 3;
/// WireGuard: allowed IPs of the peer (`WG_MAX_ALLOWED`).
pub(crate) const WG_MAX_ALLOWED: usize = 8;
/// WireGuard: words of the replay ring (`WG_REPLAY_WORDS`).
pub(crate) const WG_REPLAY_WORDS: usize = 128;

/// An allowed source prefix of the peer (`struct wg_allowed_ip`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WgAllowedIp {
    /// The network, network order.
    pub(crate) addr: u32,
    /// 0..=32.
    pub(crate) prefix_len: u32,
}

/// The WireGuard peer (`struct wg_peer`, the value of `wg_peer`).
/// Addresses and ports are network order, as on the wire.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WgPeer {
    /// Our underlay address, the outer source.
    pub(crate) local_addr: u32,
    /// The peer's underlay address, the outer destination.
    pub(crate) endpoint_addr: u32,
    /// Our port: ingress takes messages to it.
    pub(crate) local_port: u16,
    /// The peer's port.
    pub(crate) endpoint_port: u16,
    /// Entries of `allowed` in use.
    pub(crate) n_allowed: u32,
    /// The peer's allowed IPs: egress tunnels to them, ingress takes them
    /// only from the tunnel.
    pub(crate) allowed: [WgAllowedIp; WG_MAX_ALLOWED],
    /// Keypair lifetime (0: 180 s).
    pub(crate) reject_after_ns: u64,
    /// Counter limit (0: 2^64 - 2^13 - 1).
    pub(crate) reject_after_messages: u64,
    /// Out: the keypair egress sends with, or [`WG_NO_SLOT`].
    pub(crate) send_slot: u32,
    /// Out: 1 once set.
    pub(crate) configured: u32,
    /// Out: provisioning operations applied.
    pub(crate) generation: u64,
}

// SAFETY: repr(C); 4 + 4 + 2 + 2 + 4, 64, then u64, u64, u32, u32, u64 at
// 80..112: no padding.
unsafe impl Plain for WgPeer {}

/// A keypair slot (`struct wg_keypair`, a value of `wg_keypairs`) as
/// userspace reads it (the lock reads as 0).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct WgKeypair {
    /// `struct bpf_spin_lock`.
    pub(crate) lock: u32,
    /// 1: installed.
    pub(crate) valid: u32,
    /// Receiver index of messages to us.
    pub(crate) local_index: u32,
    /// Receiver index of messages we send.
    pub(crate) remote_index: u32,
    /// `bpf_ktime_get_ns()` at install.
    pub(crate) created_ns: u64,
    /// Next counter to send.
    pub(crate) send_counter: u64,
    /// Highest counter received + 1 (0: none yet).
    pub(crate) replay_top: u64,
    /// 1 once it may send.
    pub(crate) confirmed: u32,
    /// Padding.
    pub(crate) _pad: u32,
    /// Messages authenticated under it.
    pub(crate) received: u64,
    /// The sending key.
    pub(crate) send_key: [u8; 32],
    /// The receiving key.
    pub(crate) recv_key: [u8; 32],
    /// The replay ring.
    pub(crate) replay: [u64; WG_REPLAY_WORDS],
}

impl Default for WgKeypair {
    fn default() -> Self {
        Self {
            lock: 0,
            valid: 0,
            local_index: 0,
            remote_index: 0,
            created_ns: 0,
            send_counter: 0,
            replay_top: 0,
            confirmed: 0,
            _pad: 0,
            received: 0,
            send_key: [0; 32],
            recv_key: [0; 32],
            replay: [0; WG_REPLAY_WORDS],
        }
    }
}

/// Run context of the WireGuard data plane's `provision` program
/// (`struct wg_provision`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WgProvision {
    /// `WG_OP_*`.
    pub(crate) op: u32,
    /// The keypair slot (CLEAR: or [`WG_NO_SLOT`], every slot).
    pub(crate) slot: u32,
    /// `WG_F_*`.
    pub(crate) flags: u32,
    /// Out: 0 or -errno.
    pub(crate) status: i32,
    /// KEYPAIR: the receiver index of messages to us.
    pub(crate) local_index: u32,
    /// KEYPAIR: the receiver index of messages we send.
    pub(crate) remote_index: u32,
    /// Out: operations applied so far.
    pub(crate) generation: u64,
    /// KEYPAIR: the sending key.
    pub(crate) send_key: [u8; 32],
    /// KEYPAIR: the receiving key.
    pub(crate) recv_key: [u8; 32],
    /// PEER: the peer (its outputs ignored).
    pub(crate) peer: WgPeer,
}

/// The layouts of the WireGuard structs userspace reads or writes, the
/// provisioning context first (`Abi::layouts`).
pub(crate) fn layouts() -> Vec<Layout> {
    vec![
        mirror!(
            "wg_provision",
            WgProvision,
            [
                op,
                slot,
                flags,
                status,
                local_index,
                remote_index,
                generation,
                send_key,
                recv_key,
                peer
            ]
        ),
        mirror!(
            "wg_peer",
            WgPeer,
            [
                local_addr,
                endpoint_addr,
                local_port,
                endpoint_port,
                n_allowed,
                allowed,
                reject_after_ns,
                reject_after_messages,
                send_slot,
                configured,
                generation
            ]
        ),
        mirror!("wg_allowed_ip", WgAllowedIp, [addr, prefix_len]),
        mirror!(
            "wg_keypair",
            WgKeypair,
            [
                lock,
                valid,
                local_index,
                remote_index,
                created_ns,
                send_counter,
                replay_top,
                confirmed,
                _pad,
                received,
                send_key,
                recv_key,
                replay
            ]
        ),
    ]
}
