//! The kernel log (`/dev/kmsg`) from a point in time on: warnings, BUGs
//! and oopses the run provoked, kept in the results.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

use crate::vm::qemu::{ConsoleEvent, classify};

/// Reads kernel log records appended after [`KmsgCursor::open`].
pub struct KmsgCursor {
    file: File,
}

impl KmsgCursor {
    /// Opens `/dev/kmsg` positioned at its end.
    pub fn open() -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")?;
        // SAFETY: lseek on our descriptor; SEEK_END skips the existing records.
        unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_END) };
        Ok(Self { file })
    }

    /// The messages logged since the last call (or since opening).
    pub fn read_new(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(m) = parse_record(&buf[..n]) {
                        out.push(m);
                    }
                }
                // EPIPE: records were overwritten; keep reading.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        out
    }
}

/// Parses one `/dev/kmsg` record (`prio,seq,usec,flags;message\n …`).
pub fn parse_record(rec: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(rec);
    let (head, rest) = text.split_once(';')?;
    let usec: u64 = head.split(',').nth(2)?.parse().ok()?;
    let msg = rest.lines().next().unwrap_or_default();
    Some(format!(
        "[{:>5}.{:06}] {msg}",
        usec / 1_000_000,
        usec % 1_000_000
    ))
}

/// Whether a kernel log line is a warning, BUG, oops, panic or lockup.
pub fn is_warning(line: &str) -> bool {
    matches!(
        classify(line),
        ConsoleEvent::Warning | ConsoleEvent::Panic | ConsoleEvent::Lockup
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse() {
        let r = b"4,1234,5000001,-;WARNING: CPU: 0 PID: 1 at x.c:1 f\n SUBSYSTEM=net\n";
        let line = parse_record(r).unwrap();
        assert_eq!(line, "[    5.000001] WARNING: CPU: 0 PID: 1 at x.c:1 f");
        assert!(is_warning(&line));
        assert!(!is_warning("[ 1.0] veth: link up"));
        assert!(parse_record(b"garbage").is_none());
    }
}
