//! A bounded TCP transfer: the client streams the marker pattern, the
//! server checks how much of it arrived intact.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::payload::MARKER;

/// Byte `i` of the stream.
fn stream_byte(i: u64) -> u8 {
    MARKER[(i % MARKER.len() as u64) as usize]
}

/// What the client saw.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct TcpClientReport {
    /// Whether the connection was established.
    pub(crate) connected: bool,
    /// Bytes accepted by the kernel.
    pub(crate) written: u64,
    /// Why it stopped early, if it did.
    pub(crate) error: Option<String>,
}

/// What the server saw.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct TcpServerReport {
    /// Whether a connection was accepted.
    pub(crate) accepted: bool,
    /// Bytes received.
    pub(crate) received: u64,
    /// Length of the received prefix equal to the sent stream.
    pub(crate) intact: u64,
}

/// Streams `bytes` bytes to `dst`, giving up at `deadline`.
pub(crate) fn client(dst: SocketAddrV4, bytes: u64, deadline: Instant) -> TcpClientReport {
    let mut r = TcpClientReport::default();
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let mut s = match TcpStream::connect_timeout(&dst.into(), left) {
        Ok(s) => s,
        Err(e) => {
            r.error = Some(format!("connect: {e}"));
            return r;
        }
    };
    r.connected = true;
    let chunk: Vec<u8> = (0..65536u64).map(stream_byte).collect();
    while r.written < bytes {
        if Instant::now() >= deadline || crate::sys::signals::interrupted() {
            r.error = Some("timed out while sending".into());
            return r;
        }
        let _ = s.set_write_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ));
        let off = (r.written % MARKER.len() as u64) as usize;
        let n = ((bytes - r.written) as usize).min(chunk.len() - off);
        match s.write(&chunk[off..off + n]) {
            Ok(w) => r.written += w as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                r.error = Some(format!("send: {e}"));
                return r;
            }
        }
    }
    let _ = s.shutdown(std::net::Shutdown::Write);
    // Wait for the peer to close so that everything was acknowledged.
    let _ = s.set_read_timeout(Some(
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1)),
    ));
    let mut sink = [0u8; 64];
    let _ = s.read(&mut sink);
    r
}

/// A listening server: stop flag and the accept/receive loop.
pub(crate) fn server(
    port: u16,
) -> std::io::Result<(
    Arc<AtomicBool>,
    impl FnOnce() -> std::io::Result<TcpServerReport>,
)> {
    let l = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))?;
    l.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let run = move || {
        let mut r = TcpServerReport::default();
        let mut conn = loop {
            match l.accept() {
                Ok((c, _)) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if flag.load(Ordering::SeqCst) {
                        return Ok(r);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e),
            }
        };
        r.accepted = true;
        conn.set_nonblocking(false)?;
        conn.set_read_timeout(Some(Duration::from_millis(20)))?;
        let mut buf = vec![0u8; 65536];
        let mut prefix_ok = true;
        loop {
            match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    for (i, b) in buf[..n].iter().enumerate() {
                        if prefix_ok && *b != stream_byte(r.received + i as u64) {
                            prefix_ok = false;
                        }
                        if prefix_ok {
                            r.intact += 1;
                        }
                    }
                    r.received += n as u64;
                }
                Err(e) if crate::sys::traffic::is_receive_timeout(&e) => {
                    if flag.load(Ordering::SeqCst) {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        Ok(r)
    };
    Ok((stop, run))
}
