//! Plaintext payloads with a recognisable marker, so that a leak of
//! plaintext onto the wire can be searched for.

/// Marker bytes repeated through every payload the lab sends.
pub(crate) const MARKER: &[u8; 16] = b"bpfcrypt-marker!";

/// `size` bytes of the marker pattern.
pub(crate) fn marker_payload(size: usize) -> Vec<u8> {
    MARKER.iter().copied().cycle().take(size).collect()
}

/// Whether `haystack` contains the marker (or, for short data, a 12-byte
/// piece of it). One comparison per byte: it runs over whole captures.
pub(crate) fn contains_marker(haystack: &[u8]) -> bool {
    const PIECE: usize = 12;
    // A piece starts at marker byte k ≤ CORE, so it holds byte CORE, which
    // stands CORE - k bytes after where the piece starts.
    const CORE: usize = MARKER.len() - PIECE;
    haystack
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == MARKER[CORE])
        .any(|(q, _)| {
            (0..=CORE).any(|k| {
                q.checked_sub(CORE - k)
                    .and_then(|s| haystack.get(s..s + PIECE))
                    .is_some_and(|w| w == &MARKER[k..k + PIECE])
            })
        })
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

    /// Agrees with the definition (a window equal to one of the marker's
    /// 12-byte pieces) wherever a piece, or a bent one, stands.
    #[test]
    fn agrees_with_comparing_every_window() {
        let defined = |h: &[u8]| h.windows(12).any(|w| MARKER.windows(12).any(|m| m == w));
        let p = marker_payload(64);
        for start in 0..16 {
            for pad in 0..3 {
                let mut h = vec![b'r'; pad];
                h.extend_from_slice(&p[start..start + 12]);
                h.extend_from_slice(&vec![b'r'; pad]);
                assert_eq!(contains_marker(&h), defined(&h), "{start} {pad}");
                assert!(start > 4 || contains_marker(&h), "{start} {pad}");
                for i in 0..12 {
                    let mut bent = h.clone();
                    bent[pad + i] ^= 0x20;
                    assert_eq!(contains_marker(&bent), defined(&bent), "{start} {pad} {i}");
                }
            }
        }
    }
}
