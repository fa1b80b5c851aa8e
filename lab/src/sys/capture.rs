//! Wire capture: an AF_PACKET socket on one interface, written as pcap.
//!
//! On a veth, taps see egress frames after tcx egress and ingress frames
//! before tcx ingress, so a capture on either end shows the ciphertext.

use std::fs::File;
use std::io::BufWriter;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

/// Snap length: whole frames.
const SNAPLEN: u32 = 65535;

/// An AF_PACKET socket bound to `ifindex` (all protocols, both directions)
/// with a 20 ms receive timeout.
pub(crate) fn packet_socket(ifindex: u32) -> std::io::Result<OwnedFd> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2) call.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(proto),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is new and ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: zeroed sockaddr_ll is valid; fields set below.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: sll is a valid sockaddr_ll of the given size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 20_000,
    };
    // SAFETY: setting SO_RCVTIMEO with a timeval.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        );
    }
    Ok(fd)
}

/// Opens an AF_PACKET capture of whole frames into a pcap file.
pub(crate) struct Capture;

impl Capture {
    /// Opens the socket on `ifindex` (in the calling thread's namespace)
    /// and returns the capture loop to run on that thread. Frames are
    /// captured from the moment this returns.
    pub(crate) fn open(
        ifindex: u32,
        path: PathBuf,
    ) -> std::io::Result<(Arc<AtomicBool>, impl FnOnce() -> std::io::Result<u64>)> {
        let fd = packet_socket(ifindex)?;
        let file = File::create(&path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let run = move || -> std::io::Result<u64> {
            let header = PcapHeader {
                datalink: DataLink::ETHERNET,
                snaplen: SNAPLEN,
                ..Default::default()
            };
            let mut w = PcapWriter::with_header(BufWriter::new(file), header)
                .map_err(std::io::Error::other)?;
            let mut buf = vec![0u8; SNAPLEN as usize];
            let mut frames = 0u64;
            // Drain after stop until the socket is quiet.
            loop {
                // SAFETY: buf is valid for its length.
                let n =
                    unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
                if n < 0 {
                    let e = std::io::Error::last_os_error();
                    match e.raw_os_error() {
                        Some(libc::EAGAIN) | Some(libc::EINTR) => {
                            if flag.load(Ordering::SeqCst) {
                                break;
                            }
                            continue;
                        }
                        _ => return Err(e),
                    }
                }
                let ts = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or(Duration::ZERO);
                let data = &buf[..n as usize];
                w.write_packet(&PcapPacket::new(ts, data.len() as u32, data))
                    .map_err(std::io::Error::other)?;
                frames += 1;
            }
            use std::io::Write;
            w.into_writer().flush()?;
            Ok(frames)
        };
        Ok((stop, run))
    }
}
