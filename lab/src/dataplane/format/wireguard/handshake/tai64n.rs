//! TAI64N timestamps, the initiation's replay protection: a responder
//! accepts an initiation only if its timestamp is greater than the last
//! one it accepted from that peer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes of a TAI64N timestamp.
pub(crate) const TAI64N_LEN: usize = 12;

/// The TAI64 label of the Unix epoch as the kernel's WireGuard writes it
/// (2^62 + 10: TAI was 10 s ahead of UTC in 1972; implementations differ
/// here, which is harmless, since only one peer's timestamps are compared).
const EPOCH_LABEL: u64 = 0x4000_0000_0000_000a;

/// Nanoseconds are rounded down to this granule, as the kernel does: no
/// finer clock leaks, and a peer cannot be made to accept more than about
/// 60 initiations a second.
const GRANULE_NS: u32 = 1 << 24;

/// A TAI64N timestamp: 8 bytes of seconds then 4 of nanoseconds, both
/// big-endian, so the order of the bytes is the order of the times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Tai64n(pub(crate) [u8; TAI64N_LEN]);

impl Tai64n {
    /// The wall clock now, rounded down to the granule.
    pub(crate) fn now() -> Self {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let nanos = since.subsec_nanos() / GRANULE_NS * GRANULE_NS;
        Self::from_unix(Duration::new(since.as_secs(), nanos))
    }

    /// The timestamp of `since` the Unix epoch, exactly.
    pub(crate) fn from_unix(since: Duration) -> Self {
        let mut b = [0u8; TAI64N_LEN];
        b[..8].copy_from_slice(&(EPOCH_LABEL + since.as_secs()).to_be_bytes());
        b[8..].copy_from_slice(&since.subsec_nanos().to_be_bytes());
        Self(b)
    }
}

impl std::fmt::Display for Tai64n {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut secs = [0u8; 8];
        secs.copy_from_slice(&self.0[..8]);
        let mut nanos = [0u8; 4];
        nanos.copy_from_slice(&self.0[8..]);
        let secs = u64::from_be_bytes(secs).wrapping_sub(EPOCH_LABEL);
        write!(f, "{secs}.{:09} s (Unix)", u32::from_be_bytes(nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_big_endian_seconds_then_nanoseconds() {
        let t = Tai64n::from_unix(Duration::new(1, 2));
        assert_eq!(
            t.0,
            [0x40, 0, 0, 0, 0, 0, 0, 0x0b, 0, 0, 0, 2],
            "2^62 + 10 + 1 s, 2 ns"
        );
        assert_eq!(t.to_string(), "1.000000002 s (Unix)");
    }

    #[test]
    fn byte_order_is_time_order() {
        let a = Tai64n::from_unix(Duration::new(1_700_000_000, 999_999_999));
        let b = Tai64n::from_unix(Duration::new(1_700_000_001, 0));
        let c = Tai64n::from_unix(Duration::new(1_700_000_001, 1 << 24));
        assert!(a < b && b < c);
    }

    #[test]
    fn now_is_rounded_to_the_granule_and_recent() {
        let t = Tai64n::now();
        let nanos = u32::from_be_bytes(t.0[8..].try_into().unwrap());
        assert_eq!(nanos % GRANULE_NS, 0);
        let earlier = Tai64n::from_unix(Duration::from_secs(1_700_000_000));
        assert!(t > earlier);
    }
}
