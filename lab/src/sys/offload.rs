//! Toggling a device's offloads (TSO, GSO, TX checksum) with the legacy
//! `SIOCETHTOOL` ioctls, so it works in a static guest without `ethtool`.
//! Call it on a thread inside the device's namespace.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use serde::{Deserialize, Serialize};

const ETHTOOL_GTXCSUM: u32 = 0x16;
const ETHTOOL_STXCSUM: u32 = 0x17;
const ETHTOOL_GTSO: u32 = 0x1e;
const ETHTOOL_STSO: u32 = 0x1f;
const ETHTOOL_GGSO: u32 = 0x23;
const ETHTOOL_SGSO: u32 = 0x24;

/// Offload switches of one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Offloads {
    /// TCP segmentation offload.
    pub(crate) tso: bool,
    /// Generic segmentation offload.
    pub(crate) gso: bool,
    /// Transmit checksum offload.
    pub(crate) tx_csum: bool,
}

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    data: *mut EthtoolValue,
    _pad: [u8; 16],
}

fn control_socket() -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is new and ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ethtool(sock: &OwnedFd, ifname: &str, cmd: u32, data: u32) -> std::io::Result<u32> {
    if ifname.len() >= libc::IFNAMSIZ {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("interface name {ifname} too long"),
        ));
    }
    let mut value = EthtoolValue { cmd, data };
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        data: &mut value,
        _pad: [0; 16],
    };
    req.name[..ifname.len()].copy_from_slice(ifname.as_bytes());
    // SAFETY: SIOCETHTOOL with an ifreq whose data points to a live ethtool_value.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL, &mut req) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        return Err(std::io::Error::new(
            e.kind(),
            format!("ethtool ioctl {cmd:#x} on {ifname}: {e}"),
        ));
    }
    Ok(value.data)
}

/// Reads the offload switches of `ifname`.
pub(crate) fn get(ifname: &str) -> std::io::Result<Offloads> {
    let s = control_socket()?;
    Ok(Offloads {
        tso: ethtool(&s, ifname, ETHTOOL_GTSO, 0)? != 0,
        gso: ethtool(&s, ifname, ETHTOOL_GGSO, 0)? != 0,
        tx_csum: ethtool(&s, ifname, ETHTOOL_GTXCSUM, 0)? != 0,
    })
}

/// Sets TSO, GSO and TX checksum offload of `ifname`; returns what the
/// device reports afterwards.
pub(crate) fn set(ifname: &str, tso: bool, gso: bool, tx_csum: bool) -> std::io::Result<Offloads> {
    let s = control_socket()?;
    // TSO depends on TX checksumming: switch it off first, on last.
    if !tso {
        ethtool(&s, ifname, ETHTOOL_STSO, 0)?;
    }
    ethtool(&s, ifname, ETHTOOL_STXCSUM, u32::from(tx_csum))?;
    ethtool(&s, ifname, ETHTOOL_SGSO, u32::from(gso))?;
    if tso {
        ethtool(&s, ifname, ETHTOOL_STSO, 1)?;
    }
    get(ifname)
}
