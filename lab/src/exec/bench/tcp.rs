//! TCP end to end with the veth offloads set to a mode on both ends: one
//! connection per round from the left end to a listener on the right,
//! writing a checkable byte stream for a fixed time.
//!
//! Reported as it happens: when the data plane drops GSO super-packets or
//! the stack checksums ciphertext, the connection stalls and the figure is
//! 0 Gbit/s with status `stalled`, together with the retransmissions and
//! the data plane's drop counters — never an estimate.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::bed::{Bed, Missing, build_all, counter_add, counter_delta};
use super::cpu;
use super::frames::{pattern, pattern_mismatches};
use crate::domain::{BenchVariant, Counters};
use crate::job::bench::TcpPoint;
use crate::job::stats::Stats;
use crate::output::progress::Progress;
use crate::spec::bench_plan::{BenchPlan, OffloadMode};
use crate::sys::signals;
use crate::sys::topology::{LEFT_IF, RIGHT_IF};
use crate::sys::traffic::is_receive_timeout;

/// Time after the sender stops for bytes in flight.
const GRACE: Duration = Duration::from_millis(50);
/// A round is cut into this many intervals; a flow with data in at most
/// half of them is stalling, whatever its byte count.
pub(crate) const INTERVALS: u32 = 10;

/// How a round went.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    /// Data flowed until the end without retransmissions.
    Ok,
    /// Data flowed until the end, with retransmissions.
    Lossy(u64),
    /// Data arrived in at most half of the round's tenths.
    Stalling {
        /// Intact bytes delivered.
        bytes: u64,
        /// Tenths of the round in which data arrived.
        active: u32,
    },
    /// Not a byte arrived.
    Stalled,
    /// Bytes arrived that differ from those sent.
    Corrupted(u64),
    /// No connection.
    ConnectFailed(String),
}

impl Status {
    /// Text for reports.
    pub(crate) fn text(&self) -> String {
        match self {
            Status::Ok => "ok".into(),
            Status::Lossy(n) => format!("delivering, {n} retransmits"),
            Status::Stalling { bytes, active } => {
                format!("stalling: data in {active} of {INTERVALS} intervals ({bytes} bytes)")
            }
            Status::Stalled => "stalled: no byte delivered".into(),
            Status::Corrupted(n) => format!("corrupted: {n} bytes differ"),
            Status::ConnectFailed(e) => format!("connect failed: {e}"),
        }
    }
}

/// One round's numbers.
#[derive(Debug, Clone)]
pub(crate) struct Round {
    /// Intact bytes delivered.
    pub(crate) bytes: u64,
    /// Bytes delivered with wrong content.
    pub(crate) corrupt: u64,
    /// Sending time.
    pub(crate) elapsed: Duration,
    /// Sender's retransmitted segments.
    pub(crate) retrans: u64,
    /// How it went.
    pub(crate) status: Status,
}

fn retransmits(s: &TcpStream) -> u64 {
    // SAFETY: zeroed tcp_info is valid; getsockopt fills at most len bytes.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: valid socket, pointer and length.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        info.tcpi_total_retrans as u64
    } else {
        0
    }
}

fn linger_zero(s: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt with a valid linger value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as u32,
        );
    }
}

/// Receiver result: (intact bytes, corrupt bytes, intervals with data as a bit set).
type RxResult = (u64, u64, u32);

/// Accepts one connection on `l` (until `stop` or `limit`) and reads the
/// stream, checking every byte and noting in which tenths of the round
/// data arrived.
fn receive(l: TcpListener, duration: Duration, stop: &AtomicBool) -> std::io::Result<RxResult> {
    cpu::pin_current_thread(1);
    let limit = duration + Duration::from_secs(2);
    let t0 = Instant::now();
    let mut s = loop {
        match l.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if stop.load(Ordering::SeqCst) || t0.elapsed() > limit {
                    return Ok((0, 0, 0));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e),
        }
    };
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_millis(20)))?;
    let t_acc = Instant::now();
    let slot = duration.as_secs_f64() / INTERVALS as f64;
    let (mut off, mut bad, mut active) = (0u64, 0u64, 0u32);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                bad += pattern_mismatches(&buf[..n], off);
                off += n as u64;
                let i = (t_acc.elapsed().as_secs_f64() / slot) as u32;
                active |= 1 << i.min(INTERVALS - 1);
            }
            Err(e) if is_receive_timeout(&e) => {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    linger_zero(&s);
    Ok((off - bad, bad, active))
}

/// Connects to `dst` and writes the pattern for `duration`; returns the
/// time spent writing and the retransmissions.
fn send(dst: SocketAddrV4, duration: Duration) -> Result<(Duration, u64), String> {
    cpu::pin_current_thread(0);
    let mut s = TcpStream::connect_timeout(&SocketAddr::V4(dst), Duration::from_secs(1))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(Duration::from_millis(20)))
        .map_err(|e| e.to_string())?;
    let data = pattern();
    let mut sent = 0u64;
    let t0 = Instant::now();
    while t0.elapsed() < duration {
        let at = (sent % 256) as usize;
        match s.write(&data[at..at + (1 << 16)]) {
            Ok(n) => sent += n as u64,
            Err(e) if is_receive_timeout(&e) => {}
            Err(_) => break,
        }
    }
    let elapsed = t0.elapsed();
    let r = retransmits(&s);
    linger_zero(&s);
    let _ = s.shutdown(Shutdown::Both);
    Ok((elapsed, r))
}

/// How a connected round went, from what arrived.
fn status(bytes: u64, corrupt: u64, active: u32, retrans: u64) -> Status {
    if corrupt > 0 {
        Status::Corrupted(corrupt)
    } else if bytes == 0 {
        Status::Stalled
    } else if active.count_ones() <= INTERVALS / 2 {
        Status::Stalling {
            bytes,
            active: active.count_ones(),
        }
    } else if retrans > 0 {
        Status::Lossy(retrans)
    } else {
        Status::Ok
    }
}

/// Runs one round: connect, write for `duration`, count what arrived.
pub(crate) fn round(bed: &Bed, dst: SocketAddrV4, duration: Duration) -> Result<Round> {
    let stop = Arc::new(AtomicBool::new(false));
    let stop_rx = stop.clone();
    let (_, receiver) = bed
        .topo
        .right
        .ns
        .spawn_ready("bench-tcp-rx", move || {
            let l = TcpListener::bind(dst)?;
            l.set_nonblocking(true)?;
            Ok(((), move || receive(l, duration, &stop_rx)))
        })
        .context("starting the TCP receiver in the right namespace")?;
    let sender = bed.topo.left.ns.run(move || send(dst, duration));
    std::thread::sleep(GRACE);
    stop.store(true, Ordering::SeqCst);
    let (bytes, corrupt, active) = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("TCP receiver panicked"))?
        .context("TCP receiver")?;
    let (elapsed, retrans, status) = match sender.context("TCP sender thread")? {
        Err(e) => (duration, 0, Status::ConnectFailed(e)),
        Ok((elapsed, retrans)) => (elapsed, retrans, status(bytes, corrupt, active, retrans)),
    };
    Ok(Round {
        bytes,
        corrupt,
        elapsed,
        retrans,
        status,
    })
}

/// Sets `mode` on both veth ends; returns what each reports.
fn set_offloads(bed: &Bed, mode: OffloadMode) -> Result<BTreeMap<String, String>> {
    let (tso, gso, tx) = mode.switches();
    let mut out = BTreeMap::new();
    for (side, end, ifname) in [
        ("left", &bed.topo.left, LEFT_IF),
        ("right", &bed.topo.right, RIGHT_IF),
    ] {
        let o = end
            .ns
            .run(move || crate::sys::offload::set(ifname, tso, gso, tx))
            .context("offload thread")?
            .with_context(|| format!("setting offloads `{}` on {ifname}", mode.as_str()))?;
        let onoff = |b: bool| if b { "on" } else { "off" };
        out.insert(
            side.to_string(),
            format!(
                "tso {} gso {} tx {}{}",
                onoff(o.tso),
                onoff(o.gso),
                onoff(o.tx_csum),
                bed.settings
                    .as_deref()
                    .map(|s| format!(", {s}"))
                    .unwrap_or_default()
            ),
        );
    }
    Ok(out)
}

/// Summarises the measured rounds of one variant with one offload mode.
pub(crate) fn summarize(
    v: BenchVariant,
    mode: OffloadMode,
    applied: BTreeMap<String, String>,
    rounds: &[Round],
    counters: BTreeMap<String, Counters>,
) -> TcpPoint {
    let gbps: Vec<f64> = rounds
        .iter()
        .map(|r| r.bytes as f64 * 8.0 / r.elapsed.as_secs_f64().max(1e-9) / 1e9)
        .collect();
    let worst = rounds
        .iter()
        .map(|r| r.status.clone())
        .max()
        .unwrap_or(Status::Stalled);
    TcpPoint {
        variant: v,
        offloads: mode.as_str().to_string(),
        applied,
        goodput_gbps: Stats::of(&gbps),
        bytes: rounds.iter().map(|r| r.bytes).sum(),
        corrupt_bytes: rounds.iter().map(|r| r.corrupt).sum(),
        retransmits: rounds.iter().map(|r| r.retrans).sum(),
        status: worst.text(),
        ratio_to_baseline: None,
        counters,
    }
}

/// Sets each TCP figure's ratio to the no-program figure with the same offloads.
pub(crate) fn fill_ratios(tcp: &mut [TcpPoint]) {
    let base: Vec<(String, f64)> = tcp
        .iter()
        .filter(|t| t.variant == BenchVariant::NoProgram)
        .filter_map(|t| {
            t.goodput_gbps
                .as_ref()
                .map(|g| (t.offloads.clone(), g.median))
        })
        .collect();
    for t in tcp.iter_mut() {
        if let (Some(g), Some((_, b))) =
            (&t.goodput_gbps, base.iter().find(|(o, _)| *o == t.offloads))
            && *b > 0.0
        {
            t.ratio_to_baseline = Some(g.median / b);
        }
    }
}

/// Steps (point rounds, warm-up included) TCP takes.
pub(crate) fn steps(plan: &BenchPlan) -> u64 {
    plan.tcp.as_ref().map_or(0, |t| {
        let warm = u64::from(t.flow.warmup_ms > 0);
        ((plan.variants.len() + 1) * t.offloads.len()) as u64 * (t.flow.rounds as u64 + warm)
    })
}

/// Runs TCP for the baseline and every variant in every offload mode:
/// all test beds first, then rounds interleaved across points (the
/// offloads are set before each round).
pub(crate) fn run(plan: &BenchPlan, progress: &dyn Progress) -> Result<(Vec<TcpPoint>, Missing)> {
    let Some(tp) = &plan.tcp else {
        return Ok(Default::default());
    };
    let flow = &tp.flow;
    let (beds, missing) = build_all(plan)?;
    let warm = u32::from(flow.warmup_ms > 0);
    let modes = tp.offloads.len();
    type Acc = (
        BTreeMap<String, String>,
        Vec<Round>,
        BTreeMap<String, Counters>,
    );
    let mut acc: Vec<Acc> = vec![Default::default(); beds.len() * modes];
    for r in 0..warm + flow.rounds {
        for (b, (v, bed)) in beds.iter().enumerate() {
            for (m, &mode) in tp.offloads.iter().enumerate() {
                signals::check()?;
                let total = warm + flow.rounds;
                progress.point(&format!(
                    "tcp {} offloads {} · round {}/{total}",
                    v.as_str(),
                    mode.as_str(),
                    r + 1
                ));
                let applied = set_offloads(bed, mode)?;
                bed.refresh(plan, *v)?;
                let dst = SocketAddrV4::new(bed.dst, flow.port);
                if r < warm {
                    round(bed, dst, Duration::from_millis(flow.warmup_ms))?;
                    continue;
                }
                let before = bed.counters()?;
                let rd = round(bed, dst, Duration::from_millis(flow.duration_ms))?;
                let (a, rounds, counters) = &mut acc[b * modes + m];
                counter_add(counters, &counter_delta(&before, &bed.counters()?));
                rounds.push(rd);
                *a = applied;
            }
        }
    }
    let mut out = Vec::new();
    for (b, (v, _)) in beds.iter().enumerate() {
        for (m, &mode) in tp.offloads.iter().enumerate() {
            let (applied, rounds, counters) = std::mem::take(&mut acc[b * modes + m]);
            out.push(summarize(*v, mode, applied, &rounds, counters));
        }
    }
    fill_ratios(&mut out);
    Ok((out, missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_status_wins() {
        let v = [
            Status::Ok,
            Status::Lossy(3),
            Status::Stalled,
            Status::Stalling {
                bytes: 10,
                active: 1,
            },
        ];
        assert_eq!(v.iter().max().unwrap(), &Status::Stalled);
        assert!(Status::ConnectFailed("x".into()) > Status::Corrupted(1));
        assert_eq!(Status::Stalled.text(), "stalled: no byte delivered");
    }
}
