//! UDP datagrams: a sender with recognisable payloads and a receiver that
//! records what the kernel delivered (after decryption and reassembly).

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::payload::MARKER;

/// Payload of datagram `seq` of step `step`: `seq` (4 bytes), `step`
/// (2 bytes), 2 zero bytes, then the marker pattern; cut to `size`. From
/// IP payload offset 16 on, the plaintext repeats with a 16-byte period, so
/// ECB shows repeated ciphertext blocks and CBC must not.
pub(crate) fn datagram(step: u16, seq: u32, size: usize) -> Vec<u8> {
    let mut d = Vec::with_capacity(size.max(8));
    d.extend_from_slice(&seq.to_be_bytes());
    d.extend_from_slice(&step.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend(MARKER.iter().copied().cycle().take(size.saturating_sub(8)));
    d.truncate(size);
    d
}

/// What a UDP sender did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct UdpSent {
    /// Datagrams handed to the kernel.
    pub(crate) sent: u32,
    /// `sendto` failures (e.g. ENOBUFS when the data plane drops).
    pub(crate) send_errors: u32,
    /// Payloads sent, in order.
    #[serde(skip)]
    pub(crate) payloads: Vec<Vec<u8>>,
}

/// Sends `count` datagrams of each size to `dst`, `interval` apart. Runs in
/// the calling thread's namespace; stops early when `stop` is set.
pub(crate) fn send(
    dst: SocketAddrV4,
    step: u16,
    sizes: &[u32],
    count: u32,
    interval: Duration,
    stop: &AtomicBool,
) -> std::io::Result<UdpSent> {
    let sock = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
    let mut out = UdpSent::default();
    let mut seq = 0u32;
    let mut next = Instant::now();
    'outer: for &size in sizes {
        for _ in 0..count {
            if stop.load(Ordering::SeqCst) || crate::sys::signals::interrupted() {
                break 'outer;
            }
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            next = Instant::now() + interval;
            let d = datagram(step, seq, size as usize);
            seq += 1;
            match sock.send_to(&d, dst) {
                Ok(_) => out.sent += 1,
                Err(_) => out.send_errors += 1,
            }
            out.payloads.push(d);
        }
    }
    Ok(out)
}

/// Datagrams a receiver got.
pub(crate) type Received = Vec<Vec<u8>>;

/// A bound receiver: the stop flag and the receive loop (run it on the
/// thread that opened it, inside the namespace).
pub(crate) fn receiver(
    port: u16,
) -> std::io::Result<(Arc<AtomicBool>, impl FnOnce() -> std::io::Result<Received>)> {
    let sock = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))?;
    sock.set_read_timeout(Some(Duration::from_millis(20)))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let run = move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => got.push(buf[..n].to_vec()),
                Err(e) if crate::sys::traffic::is_receive_timeout(&e) => {
                    if flag.load(Ordering::SeqCst) {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    };
    Ok((stop, run))
}

/// How the deliveries of one flow compare with what was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Matched {
    /// Sent payloads delivered byte for byte (each delivery used once).
    pub(crate) intact: usize,
    /// Deliveries of a payload sent once but delivered again: a replay got
    /// through.
    pub(crate) duplicates: usize,
    /// Deliveries that match nothing sent.
    pub(crate) corrupted: usize,
}

/// Compares deliveries with the payloads sent.
pub(crate) fn match_delivered(sent: &[Vec<u8>], delivered: &[Vec<u8>]) -> Matched {
    let mut pool: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    for d in delivered {
        *pool.entry(d.as_slice()).or_default() += 1;
    }
    let mut m = Matched::default();
    let sent_set: std::collections::HashSet<&[u8]> = sent.iter().map(|s| s.as_slice()).collect();
    for s in sent {
        if let Some(n) = pool.get_mut(s.as_slice())
            && *n > 0
        {
            *n -= 1;
            m.intact += 1;
        }
    }
    for (payload, left) in pool {
        if sent_set.contains(payload) {
            m.duplicates += left;
        } else {
            m.corrupted += left;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_are_distinct_and_sized() {
        assert_eq!(datagram(1, 0, 3).len(), 3);
        let a = datagram(1, 7, 100);
        assert_eq!(a.len(), 100);
        assert_eq!(&a[..4], &7u32.to_be_bytes());
        assert_ne!(a, datagram(1, 8, 100));
        // 16-byte period from IP payload offset 16 (UDP header is 8 bytes).
        assert_eq!(a[8..24], a[24..40]);
        assert!(crate::sys::traffic::payload::contains_marker(&a));
    }

    #[test]
    fn delivery_matching_counts_each_once() {
        let m = |intact, duplicates, corrupted| Matched {
            intact,
            duplicates,
            corrupted,
        };
        let sent = vec![vec![1], vec![1], vec![2]];
        assert_eq!(match_delivered(&sent, &[vec![1], vec![9]]), m(1, 0, 1));
        assert_eq!(
            match_delivered(&sent, &[vec![1], vec![1], vec![2]]),
            m(3, 0, 0)
        );
        assert_eq!(
            match_delivered(&sent, &[vec![2], vec![2], vec![1], vec![2]]),
            m(2, 2, 0)
        );
        assert_eq!(match_delivered(&sent, &[]), m(0, 0, 0));
    }
}
