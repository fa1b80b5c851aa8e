//! Shannon entropy of byte strings, folded in piece by piece.

/// How often each byte value occurred: enough for the entropy of all the
/// bytes seen, without keeping them.
#[derive(Debug, Clone)]
pub(crate) struct ByteHistogram {
    counts: [u64; 256],
}

impl Default for ByteHistogram {
    fn default() -> Self {
        Self { counts: [0; 256] }
    }
}

impl ByteHistogram {
    /// Counts `bytes`.
    pub(crate) fn add(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.counts[usize::from(*b)] += 1;
        }
    }

    /// Entropy of every byte counted, in bits per byte (0 for none, at
    /// most 8).
    pub(crate) fn entropy(&self) -> f64 {
        let n: u64 = self.counts.iter().sum();
        if n == 0 {
            return 0.0;
        }
        let n = n as f64;
        self.counts
            .iter()
            .filter(|c| **c > 0)
            .map(|c| {
                let p = *c as f64 / n;
                -p * p.log2()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shannon(bytes: &[u8]) -> f64 {
        let mut h = ByteHistogram::default();
        h.add(bytes);
        h.entropy()
    }

    #[test]
    fn entropy_bounds() {
        assert_eq!(shannon(&[]), 0.0);
        assert_eq!(shannon(&[7; 100]), 0.0);
        let all: Vec<u8> = (0..=255).collect();
        assert!((shannon(&all) - 8.0).abs() < 1e-9);
        assert!((shannon(b"abab") - 1.0).abs() < 1e-9);
    }

    #[test]
    fn folding_in_pieces_is_the_entropy_of_the_whole() {
        let all: Vec<u8> = (0..=255).chain(0..64).collect();
        let mut h = ByteHistogram::default();
        for piece in all.chunks(37) {
            h.add(piece);
        }
        assert!((h.entropy() - shannon(&all)).abs() < 1e-12);
    }
}
