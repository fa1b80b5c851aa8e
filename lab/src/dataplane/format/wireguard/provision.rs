//! Provisioning the WireGuard data plane: the peer, and the keypairs the
//! handshake derives, installed by the `provision` SYSCALL program (no key
//! is written to a map from userspace, whose maps are read-only there);
//! and the state userspace reads back for its bookkeeping. [`WgControl`]
//! holds its own descriptors of the program and maps, so a handshake
//! thread in an end's namespace can key that end's data plane.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use libbpf_rs::{MapCore, MapFlags, MapHandle};

use super::abi::{
    WG_KEYPAIRS, WG_MAX_ALLOWED, WG_NO_SLOT, WG_OP_CLEAR, WG_OP_KEYPAIR, WG_OP_PEER, WG_OP_SEND,
    WgAllowedIp, WgKeypair, WgPeer, WgProvision,
};
use crate::dataplane::{DataPlane, DataPlaneError, run_syscall_fd};

/// A keypair slot as the data plane keeps it, without its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeypairState {
    /// Installed.
    pub(crate) valid: bool,
    /// The receiver index of messages to us.
    pub(crate) local_index: u32,
    /// The receiver index of messages we send.
    pub(crate) remote_index: u32,
    /// `CLOCK_MONOTONIC` at install (`bpf_ktime_get_ns`), ns.
    pub(crate) created_ns: u64,
    /// The next counter egress sends (counters taken by dropped packets
    /// included).
    pub(crate) send_counter: u64,
    /// The highest counter received + 1 (0: none yet).
    pub(crate) replay_top: u64,
    /// It may send: installed so, or a message under it authenticated.
    pub(crate) confirmed: bool,
    /// Messages authenticated under it (keepalives included).
    pub(crate) received: u64,
}

impl From<&WgKeypair> for KeypairState {
    fn from(k: &WgKeypair) -> Self {
        Self {
            valid: k.valid != 0,
            local_index: k.local_index,
            remote_index: k.remote_index,
            created_ns: k.created_ns,
            send_counter: k.send_counter,
            replay_top: k.replay_top,
            confirmed: k.confirmed != 0,
            received: k.received,
        }
    }
}

/// The provisioning program and maps of one loaded WireGuard data plane.
pub(crate) struct WgControl {
    provision: OwnedFd,
    peer: MapHandle,
    keypairs: MapHandle,
    stats: MapHandle,
}

impl DataPlane {
    /// Descriptors of its provisioning program and maps (WireGuard builds).
    pub(crate) fn wg_control(&self) -> Result<WgControl, DataPlaneError> {
        let map = |name: &'static str| {
            let m = (self.obj.maps())
                .find(|m| m.name() == name)
                .ok_or(DataPlaneError::Missing(name))?;
            MapHandle::try_from(&m).map_err(|source| DataPlaneError::Map { map: name, source })
        };
        let fd = self.prog_fd(crate::dataplane::PROVISION_PROG)?;
        // SAFETY: fd is the live program descriptor the object owns; it is
        // duplicated, not taken.
        let provision = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
            .try_clone_to_owned()
            .map_err(DataPlaneError::Run)?;
        Ok(WgControl {
            provision,
            peer: map("wg_peer")?,
            keypairs: map("wg_keypairs")?,
            stats: map("stats")?,
        })
    }
}

impl WgControl {
    /// Sets the peer: endpoint, ports, allowed IPs, limits (its outputs,
    /// `send_slot`, `configured` and `generation`, are ignored). Returns
    /// the provisioning generation.
    pub(crate) fn set_peer(&self, peer: &WgPeer) -> Result<u64, DataPlaneError> {
        self.run(
            WgProvision {
                op: WG_OP_PEER,
                peer: *peer,
                ..Default::default()
            },
            "the WireGuard peer",
        )
    }

    /// Installs a keypair into `slot` (< 3), replacing what was there: its
    /// counters and replay window start afresh. `flags`: `WG_F_CONFIRMED`
    /// (it may send at once: the initiator's; a responder's waits for the
    /// first message under it, which confirms it and makes it the sending
    /// one), `WG_F_SEND` (egress sends with it from now on),
    /// `WG_F_SKIP_FIRST` (counter 0 is spent). A local index another slot
    /// has is refused (`EEXIST`).
    pub(crate) fn install(
        &self,
        slot: u32,
        local_index: u32,
        remote_index: u32,
        send_key: &[u8; 32],
        recv_key: &[u8; 32],
        flags: u32,
    ) -> Result<u64, DataPlaneError> {
        self.run(
            WgProvision {
                op: WG_OP_KEYPAIR,
                slot,
                flags,
                local_index,
                remote_index,
                send_key: *send_key,
                recv_key: *recv_key,
                ..Default::default()
            },
            &format!("WireGuard keypair {local_index:#x} in slot {slot}"),
        )
    }

    /// Empties `slot`, or every slot (`None`): its keys are wiped and
    /// egress no longer sends with it.
    pub(crate) fn clear(&self, slot: Option<u32>) -> Result<u64, DataPlaneError> {
        self.run(
            WgProvision {
                op: WG_OP_CLEAR,
                slot: slot.unwrap_or(WG_NO_SLOT),
                ..Default::default()
            },
            "clearing WireGuard keypairs",
        )
    }

    /// Makes `slot` the keypair egress sends with (`WG_NO_SLOT`: none;
    /// egress then drops what it would tunnel). It must be installed
    /// (`ENOENT`); egress uses it once it is confirmed.
    pub(crate) fn send(&self, slot: u32) -> Result<u64, DataPlaneError> {
        self.run(
            WgProvision {
                op: WG_OP_SEND,
                slot,
                ..Default::default()
            },
            "the WireGuard sending keypair",
        )
    }

    /// The peer as the data plane has it (`send_slot` moves when ingress
    /// confirms a keypair).
    pub(crate) fn peer_state(&self) -> Result<WgPeer, DataPlaneError> {
        read(&self.peer, "wg_peer", 0)
    }

    /// The slot egress sends with, if any.
    pub(crate) fn send_slot(&self) -> Result<Option<u32>, DataPlaneError> {
        let s = self.peer_state()?.send_slot;
        Ok((s < WG_KEYPAIRS).then_some(s))
    }

    /// The keypair in `slot`, without its keys.
    pub(crate) fn keypair(&self, slot: u32) -> Result<KeypairState, DataPlaneError> {
        if slot >= WG_KEYPAIRS {
            return Err(DataPlaneError::Provision {
                what: format!("reading keypair slot {slot}"),
                errno: libc::EINVAL,
            });
        }
        Ok(KeypairState::from(&read::<WgKeypair>(
            &self.keypairs,
            "wg_keypairs",
            slot,
        )?))
    }

    /// Egress drops for want of a sending keypair so far (`dropped_nokey`,
    /// summed over CPUs): what starts a handshake on demand.
    pub(crate) fn nokey(&self) -> Result<u64, DataPlaneError> {
        let per_cpu = (self.stats.lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY))
            .map_err(|source| DataPlaneError::Map {
                map: "stats",
                source,
            })?
            .ok_or(DataPlaneError::Missing("stats"))?;
        let at = NOKEY * 8;
        Ok(per_cpu
            .iter()
            .filter_map(|v| v.get(at..at + 8))
            .map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
            .sum())
    }

    fn run(&self, mut args: WgProvision, what: &str) -> Result<u64, DataPlaneError> {
        run_syscall_fd(self.provision.as_fd().as_raw_fd(), &mut args)?;
        if args.status < 0 {
            return Err(DataPlaneError::Provision {
                what: what.to_string(),
                errno: -args.status,
            });
        }
        Ok(args.generation)
    }
}

/// The peer of an end at `local` whose peer listens at `endpoint`, sends
/// from `allowed`, and whose keypairs live `reject_after`.
pub(crate) fn peer(
    local: SocketAddrV4,
    endpoint: SocketAddrV4,
    allowed: &[(Ipv4Addr, u8)],
    reject_after: Duration,
) -> WgPeer {
    let mut p = WgPeer {
        local_addr: u32::from_ne_bytes(local.ip().octets()),
        endpoint_addr: u32::from_ne_bytes(endpoint.ip().octets()),
        local_port: local.port().to_be(),
        endpoint_port: endpoint.port().to_be(),
        n_allowed: allowed.len().min(WG_MAX_ALLOWED) as u32,
        reject_after_ns: reject_after.as_nanos() as u64,
        ..Default::default()
    };
    for (slot, &(net, len)) in p.allowed.iter_mut().zip(allowed) {
        *slot = WgAllowedIp {
            addr: u32::from_ne_bytes(net.octets()),
            prefix_len: u32::from(len),
        };
    }
    p
}

/// The index of `dropped_nokey` among the counters.
const NOKEY: usize = 4;

/// Element `key` of the array map `m` (named `map`), as its mirror `T`.
fn read<T: Copy>(m: &MapHandle, map: &'static str, key: u32) -> Result<T, DataPlaneError> {
    let bytes = m
        .lookup(&key.to_ne_bytes(), MapFlags::ANY)
        .map_err(|source| DataPlaneError::Map { map, source })?
        .ok_or(DataPlaneError::Missing(map))?;
    if bytes.len() != std::mem::size_of::<T>() {
        return Err(DataPlaneError::Missing(map));
    }
    // SAFETY: the value is a whole T (size checked), a repr(C) mirror of
    // integers and byte arrays, for which every bit pattern is valid.
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}
