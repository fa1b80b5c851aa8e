//! The fuzzer's invariants for one frame through one keyed data plane:
//! every verdict is accounted for by exactly one counter, egress never lets
//! plaintext through, and ingress undoes egress.

use std::collections::HashSet;

use crate::dataplane::abi::{COUNTER_NAMES, is_pass};
use crate::dataplane::{DataPlane, DataPlaneError};
use crate::domain::{DROP_COUNTERS, Direction};
use crate::net::{ETH_HLEN, checksum, ipv4_payload, l4_checksum_at};

/// Counter increases of one run, in [`COUNTER_NAMES`] order.
#[derive(PartialEq, Eq)]
pub(crate) struct Delta([u64; COUNTER_NAMES.len()]);

impl Delta {
    /// The increase of counter `name`.
    pub(crate) fn get(&self, name: &str) -> u64 {
        COUNTER_NAMES
            .iter()
            .position(|n| *n == name)
            .map_or(0, |i| self.0[i])
    }
}

impl std::fmt::Debug for Delta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let changed: Vec<(&str, u64)> = COUNTER_NAMES
            .iter()
            .zip(self.0)
            .filter(|(_, v)| *v > 0)
            .map(|(n, v)| (*n, v))
            .collect();
        write!(f, "{changed:?}")
    }
}

/// One program run and what it left.
pub(crate) struct Ran {
    /// Whether the packet went on.
    pub(crate) passed: bool,
    /// The frame after the program.
    pub(crate) out: Vec<u8>,
    /// Counter increases.
    pub(crate) delta: Delta,
}

/// Runs `dir` of `dp` once on `frame`; `None` when `BPF_PROG_TEST_RUN`
/// refuses the frame itself (the kernel's own input checks).
pub(crate) fn run(dp: &DataPlane, dir: Direction, frame: &[u8]) -> anyhow::Result<Option<Ran>> {
    let before = dp.counter_values()?;
    let mut out = vec![0u8; frame.len() + 128];
    let t = match dp.test_run(dir, frame, &mut out, 1) {
        Ok(t) => t,
        Err(DataPlaneError::TestRun { source, .. })
            if source.raw_os_error() == Some(libc::EINVAL) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    out.truncate(t.data_out_len);
    let after = dp.counter_values()?;
    let mut delta = [0u64; COUNTER_NAMES.len()];
    for (d, (a, b)) in delta.iter_mut().zip(after.iter().zip(before)) {
        *d = a.saturating_sub(b);
    }
    let delta = Delta(delta);
    Ok(Some(Ran {
        passed: is_pass(t.retval),
        out,
        delta,
    }))
}

/// Exactly one counter accounts for the verdict: a drop counter for a
/// drop, `encrypted`/`decrypted`/`passed` for a packet that went on.
pub(crate) fn accounted(dir: Direction, r: &Ran) -> Result<(), String> {
    let sum = |names: &[&str]| -> u64 { names.iter().map(|n| r.delta.get(n)).sum() };
    let done = match dir {
        Direction::Egress => "encrypted",
        Direction::Ingress => "decrypted",
    };
    let (drops, passes) = (sum(DROP_COUNTERS), sum(&[done, "passed"]));
    match (r.passed, drops, passes) {
        (true, 0, 1) | (false, 1, 0) => Ok(()),
        _ => Err(format!(
            "{} with counter changes {:?}",
            if r.passed { "passed" } else { "dropped" },
            r.delta
        )),
    }
}

/// Egress let no 16 consecutive bytes of the IPv4 payload through.
pub(crate) fn no_plaintext(input: &[u8], out: &[u8]) -> Result<(), String> {
    let Some(plain) = ipv4_payload(input).filter(|p| p.len() >= 16) else {
        return Ok(());
    };
    let windows: HashSet<&[u8]> = plain.windows(16).collect();
    let after_header = out.get(34..).unwrap_or_default();
    match after_header.windows(16).position(|w| windows.contains(w)) {
        Some(at) => Err(format!(
            "16 plaintext payload bytes on the wire at offset {} of the output",
            34 + at
        )),
        None => Ok(()),
    }
}

/// The IV egress put on the wire, at `at` (its wire format's place for
/// one: [`WireFormat::iv_at`]); zeros where there is none (ECB).
///
/// [`WireFormat::iv_at`]: crate::dataplane::format::WireFormat::iv_at
pub(crate) fn wire_iv(at: Option<(usize, Option<u8>)>, out: &[u8]) -> [u8; 16] {
    let Some((at, _)) = at else {
        return [0; 16];
    };
    ipv4_payload(out)
        .and_then(|p| p.get(at..at + 16))
        .and_then(|b| b.try_into().ok())
        .unwrap_or([0; 16])
}

/// Two builds did the same: same verdict, same output bytes, same counters.
pub(crate) fn same(x: &Ran, y: &Ran) -> Result<(), String> {
    if x.passed != y.passed {
        return Err(format!(
            "bounce {}, in place {}",
            verdict(x.passed),
            verdict(y.passed)
        ));
    }
    // A dropped frame's bytes go nowhere (the in-place build may have
    // decrypted into it before the padding check failed).
    if x.passed && x.out != y.out {
        let at = x.out.iter().zip(&y.out).position(|(a, b)| a != b);
        return Err(format!(
            "outputs differ: {} and {} bytes, first difference at {at:?}",
            x.out.len(),
            y.out.len()
        ));
    }
    if x.delta != y.delta {
        return Err(format!(
            "counters differ: bounce {:?}, in place {:?}",
            x.delta, y.delta
        ));
    }
    Ok(())
}

fn verdict(passed: bool) -> &'static str {
    if passed { "passed" } else { "dropped" }
}

/// Ingress gave back the packet egress was given (the frame up to the IP
/// total length: Ethernet padding beyond it is not part of the packet).
/// A format that rebuilds the IP header and completes the TCP/UDP checksum
/// before encrypting (`completes`: ESP) gives those checksums back valid,
/// so they are compared only for that.
pub(crate) fn round_trip(input: &[u8], back: &Ran, completes: bool) -> Result<(), String> {
    let total = usize::from(u16::from_be_bytes([input[16], input[17]]));
    let mut want = input[..(14 + total).min(input.len())].to_vec();
    if !back.passed {
        return Err(format!(
            "ingress dropped egress's output ({:?})",
            back.delta
        ));
    }
    let mut got = back.out.clone();
    if completes {
        if ip_checksum(&got) != Some(0) {
            return Err("ingress gave back a wrong IP header checksum".into());
        }
        for f in [&mut want, &mut got] {
            for at in checksum_fields(f) {
                f[at..at + 2].fill(0);
            }
        }
    }
    if got != want {
        let at = got.iter().zip(&want).position(|(a, b)| a != b);
        return Err(format!(
            "ingress gave back {} bytes, {} were sent; first difference at {:?}",
            got.len(),
            want.len(),
            at
        ));
    }
    Ok(())
}

/// The Internet checksum over the frame's IPv4 header (0 when valid).
fn ip_checksum(frame: &[u8]) -> Option<u16> {
    let ihl = usize::from(*frame.get(ETH_HLEN)? & 0x0f) * 4;
    Some(checksum(frame.get(ETH_HLEN..ETH_HLEN + ihl)?))
}

/// Offsets of the IPv4 header checksum and, for TCP and UDP, the L4
/// checksum, where the frame holds them.
fn checksum_fields(frame: &[u8]) -> Vec<usize> {
    let mut v = vec![24];
    let start = 14 + usize::from(frame[14] & 0x0f) * 4;
    if let Some(at) = l4_checksum_at(frame[23], frame.len().saturating_sub(start)) {
        v.push(start + at);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_windows_are_found() {
        let mut f = vec![0u8; 14];
        f[12] = 0x08;
        let mut ip = vec![
            0x45,
            0,
            0,
            20 + 40,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
            1,
            1,
            1,
            1,
            2,
            2,
            2,
            2,
        ];
        ip.extend((0..40u8).map(|i| i.wrapping_mul(37)));
        f.extend(&ip);
        assert_eq!(ipv4_payload(&f).unwrap().len(), 40);
        let mut out = f.clone();
        assert!(no_plaintext(&f, &out).is_err());
        for b in out.iter_mut().skip(34) {
            *b ^= 0x5a;
        }
        assert!(no_plaintext(&f, &out).is_ok());
    }

    #[test]
    fn verdicts_need_exactly_one_counter() {
        let ran = |passed, c: &[(&str, u64)]| {
            let mut d = [0u64; COUNTER_NAMES.len()];
            for (k, v) in c {
                d[COUNTER_NAMES.iter().position(|n| n == k).unwrap()] = *v;
            }
            Ran {
                passed,
                out: Vec::new(),
                delta: Delta(d),
            }
        };
        assert!(
            accounted(
                Direction::Egress,
                &ran(true, &[("encrypted", 1), ("encrypted_bytes", 9)])
            )
            .is_ok()
        );
        assert!(
            accounted(
                Direction::Egress,
                &ran(false, &[("dropped_unsupported", 1)])
            )
            .is_ok()
        );
        assert!(accounted(Direction::Egress, &ran(false, &[])).is_err());
        assert!(
            accounted(
                Direction::Egress,
                &ran(true, &[("encrypted", 1), ("errors", 1)])
            )
            .is_err()
        );
        assert!(accounted(Direction::Ingress, &ran(true, &[("encrypted", 1)])).is_err());
    }

    #[test]
    fn twins_must_agree_on_what_passes() {
        let ran = |passed, out: &[u8]| Ran {
            passed,
            out: out.to_vec(),
            delta: Delta([0; COUNTER_NAMES.len()]),
        };
        assert!(same(&ran(true, &[1, 2]), &ran(true, &[1, 2])).is_ok());
        assert!(same(&ran(true, &[1, 2]), &ran(true, &[1, 3])).is_err());
        assert!(same(&ran(true, &[1, 2]), &ran(false, &[1, 2])).is_err());
        // What a dropped frame's buffer holds goes nowhere.
        assert!(same(&ran(false, &[1, 2]), &ran(false, &[9, 9])).is_ok());
    }

    #[test]
    fn esp_round_trips_ignore_recomputed_checksums_only() {
        let mut f = vec![0u8; 14];
        f[12] = 0x08;
        f.extend([
            0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0xde, 0xad, 1, 1, 1, 1, 2, 2, 2, 2,
        ]);
        f.extend([0, 1, 0, 2, 0, 8, 0xbe, 0xef]);
        let fixed = {
            let mut g = f.clone();
            g[24..26].fill(0);
            let c = ip_checksum(&g).unwrap();
            g[24..26].copy_from_slice(&c.to_be_bytes());
            g[40..42].copy_from_slice(&[0x12, 0x34]);
            g
        };
        let back = |out: &[u8]| Ran {
            passed: true,
            out: out.to_vec(),
            delta: Delta([0; COUNTER_NAMES.len()]),
        };
        assert!(round_trip(&f, &back(&fixed), true).is_ok());
        assert!(round_trip(&f, &back(&fixed), false).is_err());
        assert!(
            round_trip(&f, &back(&f), true).is_err(),
            "a bad IP checksum came back"
        );
        let mut changed = fixed.clone();
        changed[36] ^= 1;
        assert!(round_trip(&f, &back(&changed), true).is_err());
    }
}
