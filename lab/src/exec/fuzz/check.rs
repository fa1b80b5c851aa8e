//! The fuzzer's invariants for one frame through one keyed data plane:
//! every verdict is accounted for by exactly one counter, egress never lets
//! plaintext through, and ingress undoes egress.

use std::collections::HashSet;

use crate::dataplane::abi::{COUNTER_NAMES, is_pass};
use crate::dataplane::{DataPlane, DataPlaneError};
use crate::domain::{Algorithm, DROP_COUNTERS, Direction};
use crate::exec::analysis::{esp, oracle};

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

/// The IPv4 payload of a frame (after the header, up to the total length
/// or the frame's end), if it is IPv4.
pub(crate) fn ipv4_payload(frame: &[u8]) -> Option<&[u8]> {
    if frame.len() < 34 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    let end = (14 + total).min(frame.len());
    frame.get(14 + ihl..end).filter(|_| ihl >= 20)
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

/// Egress's output under a fixed IV is what a reference sender makes of the
/// same packet (RustCrypto): raw, the IPv4 payload is exactly
/// [`oracle::encrypt`] of the input's; ESP, the packet opens with the keys
/// to the input's payload (TCP/UDP checksums aside: egress completes them)
/// and is exactly [`esp::seal_as`] of what it opened to, with its own SPI and
/// sequence number.
pub(crate) fn reference(
    alg: Algorithm,
    esp_keys: Option<&[u8]>,
    key: &[u8],
    iv: [u8; 16],
    input: &[u8],
    out: &[u8],
) -> Result<(), String> {
    let (Some(plain), Some(wire)) = (ipv4_payload(input), ipv4_payload(out)) else {
        return Err("egress counted an encryption but its output has no IPv4 payload".into());
    };
    let Some(auth) = esp_keys else {
        let want =
            oracle::encrypt(alg, key, iv, plain).ok_or("no reference for this key length")?;
        return differs("the reference encryption", wire, &want);
    };
    let opened = esp::open(key, auth, wire)
        .map_err(|why| format!("the reference ESP reading refuses egress's output: {why:?}"))?;
    let mut inner = opened.inner.clone();
    let mut sent = plain.to_vec();
    for l4 in [&mut inner, &mut sent] {
        if let Some(at) = l4_checksum_at(input[23], l4.len()) {
            l4[at..at + 2].fill(0);
        }
    }
    differs("the payload sent", &inner, &sent)?;
    let want = esp::seal_as(
        key,
        auth,
        (opened.spi, opened.seq),
        iv,
        &opened.inner,
        opened.next_header,
    )
    .ok_or("no reference for this key length")?;
    differs("the reference ESP packet", wire, &want)
}

/// The IV egress put on the wire (raw CBC: the payload's first 16 bytes;
/// ESP: after SPI and sequence number); zeros where there is none (ECB).
pub(crate) fn wire_iv(esp: bool, out: &[u8]) -> [u8; 16] {
    let at = if esp { 8 } else { 0 };
    ipv4_payload(out)
        .and_then(|p| p.get(at..at + 16))
        .and_then(|b| b.try_into().ok())
        .unwrap_or([0; 16])
}

/// Where the checksum of an L4 message of `protocol` sits, if it has one
/// within `len` bytes (TCP 16, UDP 6).
fn l4_checksum_at(protocol: u8, len: usize) -> Option<usize> {
    let at = match protocol {
        6 => 16,
        17 => 6,
        _ => return None,
    };
    (len >= at + 2).then_some(at)
}

/// `Err` naming the first differing byte when `got` is not `want`.
fn differs(what: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let at = got.iter().zip(want).position(|(a, b)| a != b);
    Err(format!(
        "differs from {what}: {} and {} bytes, first difference at {at:?}",
        got.len(),
        want.len()
    ))
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
/// ESP rebuilds the IP header and completes the TCP/UDP checksum before
/// encrypting, so with `esp` those checksums are compared only for being
/// valid in what came back.
pub(crate) fn round_trip(input: &[u8], back: &Ran, esp: bool) -> Result<(), String> {
    let total = usize::from(u16::from_be_bytes([input[16], input[17]]));
    let mut want = input[..(14 + total).min(input.len())].to_vec();
    if !back.passed {
        return Err(format!(
            "ingress dropped egress's output ({:?})",
            back.delta
        ));
    }
    let mut got = back.out.clone();
    if esp {
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

/// The one's-complement sum over the frame's IPv4 header (0 when valid).
fn ip_checksum(frame: &[u8]) -> Option<u16> {
    let ihl = usize::from(*frame.get(14)? & 0x0f) * 4;
    let header = frame.get(14..14 + ihl)?;
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    Some(!(sum as u16))
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

    #[test]
    fn a_reference_output_passes_and_any_changed_byte_is_named() {
        use crate::exec::analysis::wire::test_frame;
        let (key, auth, iv) = ([5u8; 16], [6u8; 16], [7u8; 16]);
        // A UDP datagram whose checksum egress would complete (0 here).
        let udp = [
            0x30, 0x39, 0x00, 0x35, 0, 28, 0, 0, b'x', b'y', b'z', 1, 2, 3, 4, 5, 6, 7, 8, 9,
        ];
        let input = test_frame(17, &udp);
        for alg in [Algorithm::CbcAes, Algorithm::EcbAes] {
            let out = test_frame(17, &oracle::encrypt(alg, &key, iv, &udp).unwrap());
            assert_eq!(reference(alg, None, &key, iv, &input, &out), Ok(()));
            let mut bad = out.clone();
            *bad.last_mut().unwrap() ^= 1;
            let e = reference(alg, None, &key, iv, &input, &bad).unwrap_err();
            assert!(e.contains("reference encryption"), "{e}");
        }
        // ESP: the inner UDP checksum may differ (egress completes it).
        let mut inner = udp.to_vec();
        inner[6..8].copy_from_slice(&[0xab, 0xcd]);
        let esp_out = esp::seal_as(&key, &auth, (0x4242, 9), iv, &inner, 17).unwrap();
        let out = test_frame(50, &esp_out);
        assert_eq!(
            reference(Algorithm::CbcAes, Some(&auth), &key, iv, &input, &out),
            Ok(())
        );
        let esp_refusal = |wire: &[u8]| {
            reference(
                Algorithm::CbcAes,
                Some(&auth),
                &key,
                iv,
                &input,
                &test_frame(50, wire),
            )
            .unwrap_err()
        };
        let other_iv = esp::seal_as(&key, &auth, (0x4242, 9), [8; 16], &inner, 17).unwrap();
        let e = esp_refusal(&other_iv);
        assert!(e.contains("reference ESP packet"), "{e}");
        let e = esp_refusal(&esp_out[..esp_out.len() - 1]);
        assert!(e.contains("refuses"), "{e}");
        let mut other_payload = udp;
        other_payload[9] ^= 1;
        let sealed = esp::seal_as(&key, &auth, (0x4242, 9), iv, &other_payload, 17).unwrap();
        let e = esp_refusal(&sealed);
        assert!(e.contains("payload sent"), "{e}");
    }
}
