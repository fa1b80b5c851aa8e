//! ICMP echo over raw sockets: a pinger and a far-side listener that
//! records the echo requests the kernel delivered (after decryption).

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn, recvfrom, sendto,
    setsockopt, socket, sockopt,
};
use nix::sys::time::TimeVal;
use serde::{Deserialize, Serialize};

use super::payload::marker_payload;
use crate::net::checksum;
use crate::sys::signals;

const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;

/// What a `ping` step observed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct PingOutcome {
    /// ICMP identifier used.
    pub(crate) id: u16,
    /// Requests sent.
    pub(crate) sent: u32,
    /// Matching replies whose data equals the request's.
    pub(crate) replies: u32,
    /// Replies with our identifier but different data.
    pub(crate) corrupt_replies: u32,
    /// Round-trip times of good replies, microseconds.
    pub(crate) rtt_us: Vec<u64>,
    /// ICMP data sent with each request (the plaintext).
    #[serde(skip)]
    pub(crate) payloads: Vec<Vec<u8>>,
}

/// An echo request seen on the far side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Delivered {
    /// ICMP identifier.
    pub(crate) id: u16,
    /// Sequence number.
    pub(crate) seq: u16,
    /// ICMP data as delivered.
    #[serde(skip)]
    pub(crate) data: Vec<u8>,
}

fn raw_icmp_socket(timeout: Duration) -> std::io::Result<OwnedFd> {
    let fd = socket(
        AddressFamily::Inet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::Icmp,
    )?;
    setsockopt(
        &fd,
        sockopt::ReceiveTimeout,
        &TimeVal::new(0, timeout.as_micros() as _),
    )?;
    Ok(fd)
}

/// Builds an ICMP echo message.
pub(crate) fn echo_message(kind: u8, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(data);
    let c = checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// Parses an IPv4 datagram carrying an ICMP echo: (type, id, seq, data).
pub(crate) fn parse_echo(ip: &[u8]) -> Option<(u8, u16, u16, &[u8])> {
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    let icmp = ip.get(ihl..)?;
    if icmp.len() < 8 || ip[9] != 1 || checksum(icmp) != 0 {
        return None;
    }
    Some((
        icmp[0],
        u16::from_be_bytes([icmp[4], icmp[5]]),
        u16::from_be_bytes([icmp[6], icmp[7]]),
        &icmp[8..],
    ))
}

/// Sends `count` echo requests of `size` data bytes to `dst` and collects
/// the replies. Runs in the calling thread's namespace.
pub(crate) fn ping(
    dst: Ipv4Addr,
    id: u16,
    count: u32,
    size: usize,
    interval: Duration,
    timeout: Duration,
) -> std::io::Result<PingOutcome> {
    let fd = raw_icmp_socket(Duration::from_millis(10))?;
    let to = SockaddrIn::from(std::net::SocketAddrV4::new(dst, 0));
    let mut out = PingOutcome {
        id,
        ..Default::default()
    };
    let mut sent_at: Vec<Instant> = Vec::new();
    let mut seen = vec![false; count as usize];
    let mut buf = vec![0u8; 65536];
    let start = Instant::now();
    let mut next_send = start;
    let mut last_send = start;
    loop {
        signals::check().map_err(std::io::Error::other)?;
        let now = Instant::now();
        if out.sent < count && now >= next_send {
            let seq = out.sent as u16;
            let data = marker_payload(size);
            let msg = echo_message(ECHO_REQUEST, id, seq, &data);
            sendto(fd.as_raw_fd(), &msg, &to, MsgFlags::empty())?;
            out.payloads.push(data);
            sent_at.push(Instant::now());
            out.sent += 1;
            last_send = now;
            next_send = now + interval;
        }
        if out.sent == count && (out.replies == count || now.duration_since(last_send) >= timeout) {
            break;
        }
        match recvfrom::<SockaddrIn>(fd.as_raw_fd(), &mut buf) {
            Ok((n, _)) => {
                if let Some((ECHO_REPLY, rid, seq, data)) = parse_echo(&buf[..n])
                    && rid == id
                    && (seq as usize) < sent_at.len()
                {
                    let i = seq as usize;
                    if data == out.payloads[i].as_slice() && !seen[i] {
                        seen[i] = true;
                        out.replies += 1;
                        out.rtt_us.push(sent_at[i].elapsed().as_micros() as u64);
                    } else if data != out.payloads[i].as_slice() {
                        out.corrupt_replies += 1;
                    }
                }
            }
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Records echo requests delivered to this namespace until stopped.
pub(crate) struct Listener {
    stop: Arc<AtomicBool>,
}

impl Listener {
    /// Opens the socket (in the calling thread's namespace) and returns a
    /// stop handle plus the blocking receive loop to run on the same thread.
    pub(crate) fn open() -> std::io::Result<(Self, impl FnOnce() -> std::io::Result<Vec<Delivered>>)>
    {
        let fd = raw_icmp_socket(Duration::from_millis(20))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let run = move || {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 65536];
            while !flag.load(Ordering::SeqCst) {
                match recvfrom::<SockaddrIn>(fd.as_raw_fd(), &mut buf) {
                    Ok((n, _)) => {
                        if let Some((ECHO_REQUEST, id, seq, data)) = parse_echo(&buf[..n]) {
                            got.push(Delivered {
                                id,
                                seq,
                                data: data.to_vec(),
                            });
                        }
                    }
                    Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(got)
        };
        Ok((Self { stop }, run))
    }

    /// The flag [`Listener::stop`] sets.
    pub(crate) fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_roundtrip_parses() {
        let msg = echo_message(ECHO_REQUEST, 0x1234, 7, b"hello");
        assert_eq!(checksum(&msg), 0);
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
        ];
        ip.extend_from_slice(&msg);
        let (t, id, seq, data) = parse_echo(&ip).unwrap();
        assert_eq!((t, id, seq, data), (ECHO_REQUEST, 0x1234, 7, &b"hello"[..]));
        ip[25] ^= 1; // corrupt one data byte: checksum fails
        assert!(parse_echo(&ip).is_none());
    }
}
