//! UDP end to end: a sender in the left namespace blasts datagrams of one
//! size at the right end for a fixed time; a receiver there counts and
//! checks them. Sockets are opened on threads inside the namespaces and
//! only ever address the other end of the veth.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::bed::{Bed, Missing, build_all, build_baselines, counter_add, counter_delta};
use super::cpu::{self, CpuTimes};
use super::frames::{IP_HLEN, UDP_HLEN, check_payload, payload};
use crate::domain::{BenchVariant, Counters};
use crate::job::bench::{CheckResult, UdpPoint};
use crate::job::stats::Stats;
use crate::output::progress::Progress;
use crate::spec::bench_plan::{BenchPlan, FlowPlan};
use crate::sys::signals;
use crate::sys::traffic::is_receive_timeout;

/// Time after the sender stops for datagrams in flight to arrive.
const GRACE: Duration = Duration::from_millis(30);
/// Receive buffer asked for (forced as root).
const RCVBUF: i32 = 8 << 20;

/// One round's raw numbers.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Round {
    /// Datagrams handed to the kernel.
    pub(crate) sent: u64,
    /// Datagrams received intact.
    pub(crate) received: u64,
    /// Datagrams received with wrong content.
    pub(crate) corrupt: u64,
    /// Sending time.
    pub(crate) elapsed: Duration,
    /// System-wide busy share over the round.
    pub(crate) util: Option<f64>,
    /// System-wide busy CPU time, ns.
    pub(crate) busy_ns: f64,
    /// Sender + receiver thread CPU time, ns.
    pub(crate) thread_ns: u64,
}

fn set_int(fd: i32, level: i32, opt: i32, v: i32) {
    // SAFETY: setsockopt with a valid int option value.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as u32,
        );
    }
}

/// Counts datagrams on `sock` until `stop`: (intact, wrong, thread CPU ns).
fn receive(
    sock: UdpSocket,
    payload_len: usize,
    stop: &AtomicBool,
) -> std::io::Result<(u64, u64, u64)> {
    cpu::pin_current_thread(1);
    let t0 = cpu::thread_ns();
    let mut buf = vec![0u8; 65536];
    let (mut ok, mut bad) = (0u64, 0u64);
    loop {
        match sock.recv(&mut buf) {
            Ok(n) if n == payload_len && check_payload(&buf[..n]).is_some() => ok += 1,
            Ok(_) => bad += 1,
            Err(e) if is_receive_timeout(&e) => {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok((ok, bad, cpu::thread_ns() - t0))
}

/// Sends numbered datagrams from `src_ip` to `dst` for `duration`:
/// (sent, time spent, thread CPU ns).
fn send(
    src_ip: Ipv4Addr,
    dst: SocketAddrV4,
    payload_len: usize,
    duration: Duration,
) -> std::io::Result<(u64, Duration, u64)> {
    cpu::pin_current_thread(0);
    let t_cpu = cpu::thread_ns();
    let sock = UdpSocket::bind(SocketAddrV4::new(src_ip, 0))?;
    sock.connect(dst)?;
    let mut data = payload(payload_len, 0);
    let (mut sent, mut seq) = (0u64, 0u64);
    let t0 = Instant::now();
    while t0.elapsed() < duration {
        for _ in 0..32 {
            data[..8].copy_from_slice(&seq.to_le_bytes());
            seq += 1;
            if sock.send(&data).is_ok() {
                sent += 1;
            }
        }
    }
    Ok((sent, t0.elapsed(), cpu::thread_ns() - t_cpu))
}

/// Runs one round of `duration` with `payload_len`-byte datagrams.
pub(crate) fn round(
    bed: &Bed,
    dst: SocketAddrV4,
    src_ip: Ipv4Addr,
    payload_len: usize,
    duration: Duration,
) -> Result<Round> {
    let stop = Arc::new(AtomicBool::new(false));
    let stop_rx = stop.clone();
    let (_, receiver) = bed
        .topo
        .right
        .ns
        .spawn_ready("bench-udp-rx", move || {
            let sock = UdpSocket::bind(dst)?;
            set_int(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                RCVBUF,
            );
            sock.set_read_timeout(Some(Duration::from_millis(20)))?;
            Ok(((), move || receive(sock, payload_len, &stop_rx)))
        })
        .context("starting the UDP receiver in the right namespace")?;
    let c0 = cpu::read();
    let sender = bed
        .topo
        .left
        .ns
        .run(move || send(src_ip, dst, payload_len, duration));
    std::thread::sleep(GRACE);
    let c1: CpuTimes = cpu::read();
    stop.store(true, Ordering::SeqCst);
    let rx = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("UDP receiver panicked"))?
        .context("UDP receiver")?;
    let (sent, elapsed, tx_ns) = sender.context("UDP sender thread")?.context("UDP sender")?;
    Ok(Round {
        sent,
        received: rx.0,
        corrupt: rx.1,
        elapsed,
        util: c0.util_until(&c1),
        busy_ns: c0.busy_ns_until(&c1),
        thread_ns: tx_ns + rx.2,
    })
}

/// Summarises the measured rounds of one variant at one size, with the
/// counter changes over them and the delivery checks.
pub(crate) fn summarize(
    v: BenchVariant,
    size: u32,
    rounds: &[Round],
    counters: BTreeMap<String, Counters>,
) -> UdpPoint {
    let payload_len = (size as usize) - IP_HLEN - UDP_HLEN;
    let secs = |r: &Round| r.elapsed.as_secs_f64().max(1e-9);
    let pps: Vec<f64> = rounds.iter().map(|r| r.received as f64 / secs(r)).collect();
    let per_pkt = |x: f64, r: &Round| {
        if r.received > 0 {
            Some(x / r.received as f64)
        } else {
            None
        }
    };
    let collect = |f: &dyn Fn(&Round) -> Option<f64>| -> Option<Stats> {
        let v: Option<Vec<f64>> = rounds.iter().map(f).collect();
        v.and_then(|v| Stats::of(&v))
    };
    let (sent, received, corrupt) = rounds.iter().fold((0, 0, 0), |a, r| {
        (a.0 + r.sent, a.1 + r.received, a.2 + r.corrupt)
    });
    let silent = rounds.iter().position(|r| r.received == 0);
    let check = match silent {
        // A dead round is a refusal or a fault, not a rate.
        Some(k) if received > 0 => CheckResult::failed(format!(
            "round {} of {} delivered no datagram",
            k + 1,
            rounds.len()
        )),
        _ => udp_check(v, received, corrupt, &counters),
    };
    UdpPoint {
        variant: v,
        size,
        payload: payload_len as u32,
        goodput_gbps: Stats::of(&pps).and_then(|s| s.map(|p| p * payload_len as f64 * 8.0 / 1e9)),
        pps: Stats::of(&pps),
        loss: collect(&|r| {
            (r.sent > 0).then(|| 1.0 - (r.received.min(r.sent) as f64 / r.sent as f64))
        }),
        cpu_util: collect(&|r| r.util),
        cpu_ns_per_packet: collect(&|r| per_pkt(r.busy_ns, r)),
        thread_cpu_ns_per_packet: collect(&|r| per_pkt(r.thread_ns as f64, r)),
        sent,
        received,
        corrupt,
        ratio_to_baseline: None,
        ratio_to_cipher: None,
        check,
        counters,
    }
}

/// A UDP figure counts only if datagrams arrived intact and, with a
/// cipher, every delivered datagram was encrypted and decrypted without
/// errors.
fn udp_check(
    v: BenchVariant,
    received: u64,
    corrupt: u64,
    counters: &std::collections::BTreeMap<String, Counters>,
) -> CheckResult {
    let get = |side: &str, k: &str| {
        counters
            .get(side)
            .and_then(|c| c.get(k))
            .copied()
            .unwrap_or(0)
    };
    if received == 0 {
        return CheckResult::failed("no datagram was delivered");
    }
    if corrupt > 0 {
        return CheckResult::failed(format!("{corrupt} datagrams arrived with wrong content"));
    }
    if v.algorithm().is_some() {
        let (enc, dec) = (get("left", "encrypted"), get("right", "decrypted"));
        if enc < received || dec < received {
            return CheckResult::failed(format!(
                "{received} datagrams delivered but only {enc} encrypted / {dec} decrypted"
            ));
        }
        let errs: u64 = ["left", "right"]
            .iter()
            .map(|s| {
                [
                    "errors",
                    "dropped_invalid",
                    "auth_failed",
                    "replayed",
                    "unknown_spi",
                    "expired",
                ]
                .iter()
                .map(|k| get(s, k))
                .sum::<u64>()
            })
            .sum();
        if errs > 0 {
            return CheckResult::failed(format!("{errs} data plane errors or invalid packets"));
        }
        return CheckResult::ok(format!(
            "{received} datagrams delivered intact; each encrypted and decrypted"
        ));
    }
    if v.kernel_stack().is_some() {
        return CheckResult::ok(format!(
            "{received} datagrams delivered intact through the kernel's {}",
            v.as_str()
        ));
    }
    CheckResult::ok(format!("{received} datagrams delivered intact"))
}

/// Sets the UDP figures' ratios: to the no-program baseline at the same
/// size, and to the cipher limit (encrypt + decrypt on one CPU).
pub(crate) fn fill_ratios(
    udp: &mut [UdpPoint],
    cipher_ns: &dyn Fn(BenchVariant, u32) -> Option<f64>,
) {
    let base: Vec<(u32, f64)> = udp
        .iter()
        .filter(|u| u.variant == BenchVariant::NoProgram && u.check.ok)
        .filter_map(|u| u.pps.as_ref().map(|p| (u.size, p.median)))
        .collect();
    for u in udp.iter_mut() {
        let Some(pps) = u.pps.as_ref().filter(|_| u.check.ok).map(|p| p.median) else {
            continue;
        };
        if let Some((_, b)) = base.iter().find(|(s, _)| *s == u.size)
            && *b > 0.0
        {
            u.ratio_to_baseline = Some(pps / b);
        }
        if let Some(ns) = cipher_ns(u.variant, u.size)
            && ns > 0.0
        {
            u.ratio_to_cipher = Some(pps / (1e9 / ns));
        }
    }
}

/// Steps (point rounds, warm-up included) UDP takes; a paired bench
/// measures each variant of ours twice.
pub(crate) fn steps(plan: &BenchPlan, flow: &FlowPlan) -> u64 {
    let warm = u64::from(flow.warmup_ms > 0);
    let ours = if plan.baseline.is_some() {
        plan.variants.iter().filter(|v| v.build().is_some()).count()
    } else {
        0
    };
    ((plan.variants.len() + ours + 1) * plan.sizes.len()) as u64 * (flow.rounds as u64 + warm)
}

/// What the UDP part measured.
pub(crate) struct UdpResult {
    /// The candidate's figures (and the kernel's stacks, no program).
    pub(crate) udp: Vec<UdpPoint>,
    /// The baseline's figures of a paired bench, round for round.
    pub(crate) baseline: Vec<UdpPoint>,
    /// Variants the kernel lacks.
    pub(crate) missing: Missing,
}

/// Rounds and counter changes of one point.
type Acc = (Vec<Round>, BTreeMap<String, Counters>);

/// Runs UDP for the baseline and every variant at every size. Every
/// variant has its own test bed, all built first (in a paired bench also
/// the baseline's bed of each of our variants); then rounds are
/// interleaved (a warm-up round of every point, then round 1 of every
/// point, …) so each figure's spread covers the whole run, and a
/// candidate's round and its baseline's alternate (AB, then BA).
pub(crate) fn run(plan: &BenchPlan, flow: &FlowPlan, progress: &dyn Progress) -> Result<UdpResult> {
    let (beds, missing) = build_all(plan)?;
    let twins = match plan.baseline {
        Some(_) => build_baselines(plan, &beds)?,
        None => Vec::new(),
    };
    let n = plan.sizes.len();
    let warm = u32::from(flow.warmup_ms > 0);
    let total = warm + flow.rounds;
    let mut acc: Vec<Acc> = vec![Default::default(); (beds.len() + twins.len()) * n];
    for r in 0..total {
        for (b, (v, bed)) in beds.iter().enumerate() {
            let twin = twins.iter().position(|(t, _)| t == v);
            let mut order = vec![(b, bed, "")];
            if let Some(t) = twin {
                let other = (beds.len() + t, &twins[t].1, " (baseline)");
                order.insert(if r % 2 == 0 { 1 } else { 0 }, other);
            }
            for (i, &size) in plan.sizes.iter().enumerate() {
                for &(slot, bed, arm) in &order {
                    signals::check()?;
                    progress.point(&format!(
                        "udp {}{arm} {size} B · round {}/{total}",
                        v.as_str(),
                        r + 1
                    ));
                    let measured = r >= warm;
                    bed.refresh(plan, *v)?;
                    point_round(bed, flow, size, measured, &mut acc[slot * n + i])?;
                }
            }
        }
    }
    let summarize_all = |beds: &[(BenchVariant, Bed)], first: usize, acc: &mut [Acc]| {
        let mut out = Vec::new();
        for (b, (v, _)) in beds.iter().enumerate() {
            for (i, &size) in plan.sizes.iter().enumerate() {
                let (rounds, counters) = std::mem::take(&mut acc[(first + b) * n + i]);
                out.push(summarize(*v, size, &rounds, counters));
            }
        }
        out
    };
    Ok(UdpResult {
        udp: summarize_all(&beds, 0, &mut acc),
        baseline: summarize_all(&twins, beds.len(), &mut acc),
        missing,
    })
}

/// One round of one point: a warm-up (not kept) or a measured round with
/// its counter changes.
fn point_round(bed: &Bed, flow: &FlowPlan, size: u32, measured: bool, acc: &mut Acc) -> Result<()> {
    let payload = (size as usize) - IP_HLEN - UDP_HLEN;
    let dst = SocketAddrV4::new(bed.dst, flow.port);
    if !measured {
        let warmup = Duration::from_millis(flow.warmup_ms);
        round(bed, dst, bed.src, payload, warmup)?;
        return Ok(());
    }
    let before = bed.counters()?;
    let rd = round(
        bed,
        dst,
        bed.src,
        payload,
        Duration::from_millis(flow.duration_ms),
    )?;
    counter_add(&mut acc.1, &counter_delta(&before, &bed.counters()?));
    acc.0.push(rd);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_of(received: u64) -> Round {
        Round {
            sent: 1000,
            received,
            elapsed: Duration::from_millis(100),
            busy_ns: 1e8,
            ..Default::default()
        }
    }

    /// A round that delivered nothing (the data plane refusing, e.g. an
    /// expired key) fails the figure, even when other rounds delivered.
    #[test]
    fn a_silent_round_fails_the_figure() {
        let counters = BTreeMap::new();
        let ok = summarize(
            BenchVariant::Noop,
            1500,
            &[round_of(900), round_of(950)],
            counters.clone(),
        );
        assert!(ok.check.ok, "{}", ok.check.detail);
        let p = summarize(
            BenchVariant::Noop,
            1500,
            &[round_of(900), round_of(0), round_of(950)],
            counters,
        );
        assert!(
            !p.check.ok && p.check.detail.contains("round 2 of 3"),
            "{}",
            p.check.detail
        );
    }
}
