//! The limits of a scenario, in one place: every count, size and time a
//! scenario file asks for is bounded, so that a run's traffic, the lab's
//! memory (it keeps every datagram it sends and receives) and the run's
//! length stay bounded. The README's scenario format lists them.

use serde_saphyr::Location;

use super::error::SpecError;
use super::fields::Fields;
use super::plan::PlanStep;

/// Largest IPv4 packet, header included.
pub(crate) const MAX_IPV4_PACKET: u32 = 65_535;
/// Largest UDP payload: an IPv4 packet less its 20-byte header and UDP's 8.
pub(crate) const MAX_UDP_PAYLOAD: u32 = MAX_IPV4_PACKET - 20 - 8;
/// Smallest ICMP echo data: the lab's plaintext needs 8 bytes.
pub(crate) const MIN_PING_SIZE: u32 = 8;
/// Largest ICMP echo data: an IPv4 packet less its header and ICMP's 8.
pub(crate) const MAX_PING_SIZE: u32 = MAX_IPV4_PACKET - 20 - 8;
/// Echo requests of one `ping` step: each has its own 16-bit sequence
/// number.
pub(crate) const MAX_PING_COUNT: u32 = 1 << 16;
/// Datagrams of a scenario: UDP datagrams (`count` × number of `sizes`,
/// over every `udp` step) and echo requests. The lab keeps each one sent
/// and delivered to compare them, and the oracle looks each one up.
pub(crate) const MAX_DATAGRAMS: u64 = 100_000;
/// Payload bytes of those datagrams.
pub(crate) const MAX_DATAGRAM_BYTES: u64 = 256 << 20;
/// Bytes of all `tcp` steps of a scenario: the capture holds every segment.
pub(crate) const MAX_TCP_BYTES: u64 = 1 << 30;
/// Rotations of one `rekey` step.
pub(crate) const MAX_REKEYS: u32 = 10_000;
/// Pause between two packets or two rotations.
pub(crate) const MAX_INTERVAL_MS: u64 = 60_000;
/// A step's timeout, and the longest its pacing (count × `interval_ms`)
/// may take.
pub(crate) const MAX_STEP_MS: u64 = 600_000;
/// A scenario's steps, each at its longest (pacing plus timeout), summed.
pub(crate) const MAX_SCENARIO_MS: u64 = 3_600_000;
/// Smallest wire MTU: IPv4's minimum reassembly size.
pub(crate) const MIN_MTU: u32 = 576;
/// Largest wire MTU: a jumbo frame.
pub(crate) const MAX_MTU: u32 = 9000;
/// Largest device GSO segment limit (the kernel's `GSO_MAX_SEGS`).
pub(crate) const MAX_GSO_SEGS: u32 = 65_535;
/// Largest byte offset a `tamper` step flips: within the data plane's
/// scratch buffer.
pub(crate) const MAX_TAMPER_OFFSET: u32 = 2047;

/// Bytes shown as MiB or GiB in an error.
fn size(bytes: u64) -> String {
    let (unit, name) = if bytes >= 1 << 30 {
        (1u64 << 30, "GiB")
    } else {
        (1 << 20, "MiB")
    };
    if bytes.is_multiple_of(unit) {
        format!("{} {name}", bytes / unit)
    } else {
        format!("{:.1} {name}", bytes as f64 / unit as f64)
    }
}

/// Milliseconds shown in words in an error.
fn time(ms: u64) -> String {
    if ms >= 60_000 {
        format!("{:.1} min", ms as f64 / 60_000.0)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// A step's pacing: `n` packets or rotations `interval_ms` apart take at
/// most [`MAX_STEP_MS`]. The error is about `field`, defined at `at`.
pub(crate) fn pacing(
    f: &Fields,
    (at, field): (Location, String),
    n: u64,
    interval_ms: u64,
) -> Result<(), SpecError> {
    let ms = n.saturating_mul(interval_ms);
    if ms <= MAX_STEP_MS {
        return Ok(());
    }
    Err(f.err(
        at,
        &field,
        format!(
            "{n} × {interval_ms} ms takes {}; a step paces for at most {}",
            time(ms),
            time(MAX_STEP_MS)
        ),
    ))
}

/// What one step adds to the scenario's totals.
#[derive(Debug, Default, Clone, Copy)]
struct Cost {
    datagrams: u64,
    datagram_bytes: u64,
    tcp_bytes: u64,
    ms: u64,
}

fn cost(step: &PlanStep) -> Cost {
    match step {
        PlanStep::Ping(p) => Cost {
            datagrams: u64::from(p.count),
            datagram_bytes: u64::from(p.count) * u64::from(p.size),
            ms: (u64::from(p.count) * p.interval_ms).saturating_add(p.timeout_ms),
            ..Cost::default()
        },
        PlanStep::Udp(u) => {
            let count = u64::from(u.count);
            let datagrams = count.saturating_mul(u.sizes.len() as u64);
            let per_round: u64 = u.sizes.iter().map(|s| u64::from(*s)).sum();
            Cost {
                datagrams,
                datagram_bytes: count.saturating_mul(per_round),
                ms: datagrams.saturating_mul(u.interval_ms),
                ..Cost::default()
            }
        }
        PlanStep::Tcp(t) => Cost {
            tcp_bytes: t.bytes,
            ms: t.timeout_ms,
            ..Cost::default()
        },
        PlanStep::Rekey {
            times, interval_ms, ..
        } => Cost {
            ms: u64::from(*times).saturating_mul(*interval_ms),
            ..Cost::default()
        },
        PlanStep::Wait { timeout_ms, .. } => Cost {
            ms: *timeout_ms,
            ..Cost::default()
        },
        _ => Cost::default(),
    }
}

/// The scenario's totals stay within the limits; the error names the step
/// that crosses one (`at[i]` is where step `i` is written).
pub(crate) fn totals(f: &Fields, at: &[Location], steps: &[PlanStep]) -> Result<(), SpecError> {
    let mut sum = Cost::default();
    for (i, step) in steps.iter().enumerate() {
        let c = cost(step);
        sum.datagrams = sum.datagrams.saturating_add(c.datagrams);
        sum.datagram_bytes = sum.datagram_bytes.saturating_add(c.datagram_bytes);
        sum.tcp_bytes = sum.tcp_bytes.saturating_add(c.tcp_bytes);
        sum.ms = sum.ms.saturating_add(c.ms);
        let field = format!("steps[{i}].{}", step.kind());
        let over = if sum.datagrams > MAX_DATAGRAMS {
            format!(
                "brings the scenario to {} datagrams (UDP datagrams and echo requests); at most {MAX_DATAGRAMS}",
                sum.datagrams
            )
        } else if sum.datagram_bytes > MAX_DATAGRAM_BYTES {
            format!(
                "brings the scenario's UDP and ping payload to {}; at most {}",
                size(sum.datagram_bytes),
                size(MAX_DATAGRAM_BYTES)
            )
        } else if sum.tcp_bytes > MAX_TCP_BYTES {
            format!(
                "brings the scenario's TCP transfers to {}; at most {}",
                size(sum.tcp_bytes),
                size(MAX_TCP_BYTES)
            )
        } else if sum.ms > MAX_SCENARIO_MS {
            format!(
                "brings the scenario's steps to {} at their longest (pacing and timeouts); at most {}",
                time(sum.ms),
                time(MAX_SCENARIO_MS)
            )
        } else {
            continue;
        };
        let loc = at.get(i).copied().unwrap_or(Location::UNKNOWN);
        return Err(f.err(loc, &field, over));
    }
    Ok(())
}

/// ESP: every key generation has its own pair of SPIs after `spi`, so the
/// scenario's key rotations must not run past the last SPI.
pub(crate) fn spi_room(
    f: &Fields,
    at: Location,
    spi: u32,
    steps: &[PlanStep],
) -> Result<(), SpecError> {
    let rotations: u64 = steps
        .iter()
        .map(|s| match s {
            PlanStep::Rekey { times, .. } => u64::from(*times),
            PlanStep::SetKey { .. } => 1,
            _ => 0,
        })
        .sum();
    let last = u64::from(spi) + 2 * rotations + 1;
    if last <= u64::from(u32::MAX) {
        return Ok(());
    }
    Err(f.err(
        at,
        "cipher.spi",
        format!(
            "{spi:#x} leaves no room for {rotations} key rotations (two SPIs each, up to {last:#x}); \
             use an SPI of at most {:#x}",
            u64::from(u32::MAX) - 2 * rotations - 1
        ),
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::spec::scenario::{parse, validate};

    /// A scenario with `steps` (YAML list items), and an ESP cipher when
    /// `esp` is given (its `spi:` line).
    fn scenario(steps: &str, esp: Option<&str>) -> String {
        let esp = esp.map_or(String::new(), |spi| {
            format!("  mode: esp\n  auth_key: 101112131415161718191a1b1c1d1e1f\n  {spi}\n")
        });
        format!(
            "version: 1\nname: t\ntopology:\n  left:  {{ address: 198.18.0.1/24 }}\n  \
             right: {{ address: 198.18.0.2/24 }}\ncipher:\n  algorithm: cbc(aes)\n  \
             key: 000102030405060708090a0b0c0d0e0f\n{esp}steps:\n{steps}assertions:\n  \
             - kernel_log: {{}}\n"
        )
    }

    /// The error of `steps`, or "ok".
    fn check(steps: &str, esp: Option<&str>) -> String {
        let path = Path::new("s.yaml");
        let text = scenario(steps, esp);
        match parse(path, &text).and_then(|s| validate(path, s)) {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn counts_and_sizes_are_bounded_and_located() {
        let cases = [
            // One step of 6.5 GB of datagrams: within the count, past the bytes.
            (
                "  - udp: { from: left, sizes: [65000], count: 100000 }\n",
                "s.yaml:10:5: field `steps[0].udp`: brings the scenario's UDP and ping payload to 6.1 GiB; at most 256 MiB",
            ),
            (
                "  - udp: { from: left, sizes: [1, 65508] }\n",
                "s.yaml:10:31: field `steps[0].udp.sizes[1]`: 65508 is outside 1..=65507",
            ),
            (
                "  - udp: { from: left, sizes: [1, 2], count: 60000 }\n",
                "s.yaml:10:46: field `steps[0].udp.count`: 60000 × 2 sizes is 120000 datagrams",
            ),
            (
                "  - tcp: { from: left, bytes: 4294967296 }\n",
                "s.yaml:10:31: field `steps[0].tcp.bytes`: 4294967296 is outside 1..=1073741824",
            ),
            (
                "  - tcp: { from: left, bytes: 1073741824 }\n  - tcp: { from: right, bytes: 1 }\n",
                "s.yaml:11:5: field `steps[1].tcp`: brings the scenario's TCP transfers to 1.0 GiB; at most 1 GiB",
            ),
            (
                "  - ping: { from: left, count: 65537, interval_ms: 0 }\n",
                "s.yaml:10:32: field `steps[0].ping.count`: 65537 is outside 1..=65536",
            ),
            (
                "  - ping: { from: left, count: 60000, size: 65507, interval_ms: 0 }\n",
                "field `steps[0].ping`: brings the scenario's UDP and ping payload to 3.7 GiB",
            ),
            (
                "  - ping: { from: left, count: 10000 }\n",
                "s.yaml:10:32: field `steps[0].ping.count`: 10000 × 100 ms takes 16.7 min; a step paces for at most 10.0 min",
            ),
            (
                "  - udp: { from: left, count: 1000, interval_ms: 1000 }\n",
                "field `steps[0].udp.interval_ms`: 1000 × 1000 ms takes 16.7 min",
            ),
            (
                "  - rekey: { times: 10001 }\n",
                "field `steps[0].rekey.times`: 10001 is outside 1..=10000",
            ),
            (
                "  - rekey: { times: 10000, interval_ms: 100 }\n",
                "field `steps[0].rekey.interval_ms`: 10000 × 100 ms takes 16.7 min",
            ),
            (
                "  - wait: { flows_done: true, timeout_ms: 600001 }\n",
                "field `steps[0].wait.timeout_ms`: 600001 is outside 1..=600000",
            ),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .map(|(steps, want)| (check(steps, None), want))
            .filter(|(e, want)| !e.contains(*want))
            .map(|(e, want)| format!("want {want}\n got {e}"))
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        let ok = [
            "  - udp: { from: left, sizes: [65507], count: 4096, interval_ms: 0 }\n",
            "  - tcp: { from: left, bytes: 1073741824 }\n",
            "  - ping: { from: left, count: 65536, interval_ms: 0 }\n",
            "  - rekey: { times: 10000, interval_ms: 60 }\n",
        ];
        for steps in ok {
            assert_eq!(check(steps, None), "ok", "{steps}");
        }
    }

    #[test]
    fn scenario_totals_are_bounded_at_the_step_that_crosses() {
        let wait = "  - wait: { flows_done: true, timeout_ms: 600000 }\n";
        assert_eq!(check(&wait.repeat(6), None), "ok");
        let e = check(&wait.repeat(7), None);
        assert!(
            e.starts_with(
                "s.yaml:16:5: field `steps[6].wait`: brings the scenario's steps to 70.0 min"
            ),
            "{e}"
        );
        let udp = |port| {
            format!("  - udp: {{ from: left, count: 50000, interval_ms: 0, port: {port} }}\n")
        };
        let e = check(&format!("{}{}{}", udp(1), udp(2), udp(3)), None);
        assert!(
            e.starts_with(
                "s.yaml:12:5: field `steps[2].udp`: brings the scenario to 150000 datagrams"
            ),
            "{e}"
        );
    }

    #[test]
    fn esp_rotations_fit_the_spis() {
        let rekeys = "  - rekey: { times: 10000, interval_ms: 0 }\n";
        assert_eq!(check(rekeys, Some("spi: 0xffffb1de")), "ok");
        let e = check(rekeys, Some("spi: 0xffffb1df"));
        assert!(
            e.starts_with(
                "s.yaml:11:8: field `cipher.spi`: 0xffffb1df leaves no room for 10000 key rotations"
            ),
            "{e}"
        );
        // The expect pattern must fit an IPv4 packet.
        let text = scenario("  - ping: { from: left }\n", None).replace(
            "  - kernel_log: {}\n",
            "  - expect: { match: [{ offset: 65534, value: \"0102\" }] }\n",
        );
        let path = Path::new("s.yaml");
        let e = validate(path, parse(path, &text).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "field `assertions[0].expect.match[0].offset`: the pattern ends at byte 65536"
            ),
            "{e}"
        );
    }
}
