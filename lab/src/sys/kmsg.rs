//! The kernel log (`/dev/kmsg`) from a point in time on: warnings, BUGs
//! and oopses the run provoked, kept in the results.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

/// Reads kernel log records appended after [`KmsgCursor::open`].
pub(crate) struct KmsgCursor {
    file: File,
}

impl KmsgCursor {
    /// Opens `/dev/kmsg` positioned at its end.
    pub(crate) fn open() -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")?;
        // SAFETY: lseek on our descriptor; SEEK_END skips the existing records.
        unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_END) };
        Ok(Self { file })
    }

    /// The messages logged since the last call (or since opening).
    pub(crate) fn read_new(&mut self) -> Vec<String> {
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
pub(crate) fn parse_record(rec: &[u8]) -> Option<String> {
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

/// What a kernel log (or console) line means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LineKind {
    /// Kernel panic.
    Panic,
    /// Lockup or stall.
    Lockup,
    /// Oops, BUG or WARNING.
    Warning,
    /// Anything else.
    Other,
}

/// Classifies one kernel log line.
pub(crate) fn classify(line: &str) -> LineKind {
    const LOCKUP: &[&str] = &[
        "soft lockup",
        "hard LOCKUP",
        "rcu_preempt detected stall",
        "self-detected stall",
        "rcu_sched detected stall",
    ];
    const WARNING: &[&str] = &[
        "Oops:",
        "BUG:",
        "WARNING:",
        "general protection fault",
        "UBSAN:",
        "KASAN:",
    ];
    if line.contains("Kernel panic - not syncing") {
        LineKind::Panic
    } else if LOCKUP.iter().any(|p| line.contains(p)) {
        LineKind::Lockup
    } else if WARNING.iter().any(|p| line.contains(p)) {
        LineKind::Warning
    } else {
        LineKind::Other
    }
}

/// Whether a kernel log line is a warning, BUG, oops, panic or lockup.
pub(crate) fn is_warning(line: &str) -> bool {
    classify(line) != LineKind::Other
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

    #[test]
    fn lines_are_classified() {
        assert_eq!(
            classify("[    1.2] Kernel panic - not syncing: Attempted to kill init!"),
            LineKind::Panic
        );
        assert_eq!(
            classify("watchdog: BUG: soft lockup - CPU#0 stuck for 22s!"),
            LineKind::Lockup
        );
        assert_eq!(
            classify("rcu: INFO: rcu_preempt self-detected stall on CPU"),
            LineKind::Lockup
        );
        assert_eq!(
            classify("WARNING: CPU: 0 PID: 1 at net/core/dev.c:1 foo"),
            LineKind::Warning
        );
        assert_eq!(
            classify("BUG: unable to handle page fault"),
            LineKind::Warning
        );
        assert_eq!(classify("[    0.0] Linux version 6.12"), LineKind::Other);
    }
}
