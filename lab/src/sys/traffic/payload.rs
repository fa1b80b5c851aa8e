//! Plaintext payloads with a recognisable marker, so that a leak of
//! plaintext onto the wire can be searched for.

/// Marker bytes repeated through every payload the lab sends.
pub(crate) const MARKER: &[u8; 16] = b"bpfcrypt-marker!";

/// `size` bytes of the marker pattern.
pub(crate) fn marker_payload(size: usize) -> Vec<u8> {
    MARKER.iter().copied().cycle().take(size).collect()
}

/// Whether `haystack` contains the marker (or, for short data, a 12-byte
/// piece of it).
pub(crate) fn contains_marker(haystack: &[u8]) -> bool {
    haystack
        .windows(12)
        .any(|w| MARKER.windows(12).any(|m| m == w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_size_and_marker() {
        let p = marker_payload(40);
        assert_eq!(p.len(), 40);
        assert!(contains_marker(&p));
        assert!(!contains_marker(&[0u8; 64]));
        assert!(!contains_marker(&p[..11]));
    }
}
