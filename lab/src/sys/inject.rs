//! Frames a host sent, seen on its own interface, and sent again: the
//! replay attack, from a place where the sender's data plane does not see
//! them twice (`PACKET_QDISC_BYPASS` skips the egress hook).

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::capture::packet_socket;

/// `PACKET_OUTGOING`: a frame this host sent.
const PACKET_OUTGOING: u8 = 4;

/// Frames, in the order seen.
pub(crate) type Frames = Vec<Vec<u8>>;

/// Collects the IPv4 frames sent out of `ifindex` from now until stopped.
/// Open in the interface's namespace, run the returned loop there.
pub(crate) fn outgoing(
    ifindex: u32,
) -> std::io::Result<(Arc<AtomicBool>, impl FnOnce() -> std::io::Result<Frames>)> {
    let fd = packet_socket(ifindex)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let run = move || {
        let mut frames = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            // SAFETY: zeroed sockaddr_ll is valid; recvfrom fills it.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: buf and from are valid for their lengths.
            let n = unsafe {
                libc::recvfrom(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut from as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::EINTR) if flag.load(Ordering::SeqCst) => break,
                    Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
                    _ => return Err(e),
                }
            }
            let frame = &buf[..n as usize];
            if from.sll_pkttype == PACKET_OUTGOING && frame.get(12..14) == Some(&[0x08, 0x00]) {
                frames.push(frame.to_vec());
            }
        }
        Ok(frames)
    };
    Ok((stop, run))
}

/// Sends `frames` out of `ifindex` as they are, past the egress hook.
/// Returns how many were sent. Call in the interface's namespace.
pub(crate) fn send(ifindex: u32, frames: &[Vec<u8>]) -> std::io::Result<usize> {
    let fd = packet_socket(ifindex)?;
    let one: libc::c_int = 1;
    // SAFETY: setsockopt with an int value.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut sent = 0;
    for f in frames {
        // SAFETY: f is valid for its length; the socket is bound to ifindex.
        if unsafe { libc::send(fd.as_raw_fd(), f.as_ptr().cast(), f.len(), 0) } >= 0 {
            sent += 1;
        }
    }
    Ok(sent)
}
