//! CPU time: system-wide from /proc/stat (includes softirq, where the TC
//! programs run), per thread from `getrusage(RUSAGE_THREAD)`.

/// Cumulative CPU time of all CPUs, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CpuTimes {
    /// user + nice + system + irq + softirq + steal.
    pub(crate) busy: u64,
    /// busy + idle + iowait.
    pub(crate) total: u64,
}

/// Parses the `cpu ` line of /proc/stat text.
pub(crate) fn parse_stat(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 7 {
        return None;
    }
    let at = |i: usize| *v.get(i).unwrap_or(&0);
    let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    Some(CpuTimes {
        busy,
        total: busy + at(3) + at(4),
    })
}

/// Reads /proc/stat now.
pub(crate) fn read() -> CpuTimes {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| parse_stat(&t))
        .unwrap_or_default()
}

/// Clock ticks per second of /proc/stat.
pub(crate) fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

impl CpuTimes {
    /// Busy share of all CPUs between `self` and a later reading (0..1).
    pub(crate) fn util_until(&self, later: &CpuTimes) -> Option<f64> {
        let total = later.total.checked_sub(self.total)?;
        let busy = later.busy.checked_sub(self.busy)?;
        (total > 0).then(|| busy as f64 / total as f64)
    }

    /// Busy CPU time between `self` and a later reading, ns.
    pub(crate) fn busy_ns_until(&self, later: &CpuTimes) -> f64 {
        later.busy.saturating_sub(self.busy) as f64 * 1e9 / ticks_per_sec()
    }
}

/// User + system CPU time of the calling thread, ns.
pub(crate) fn thread_ns() -> u64 {
    // SAFETY: zeroed rusage is valid; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) } != 0 {
        return 0;
    }
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Pins the calling thread to `cpu` when the machine has more than one
/// (sender and receiver apart, steadier numbers); a no-op otherwise.
pub(crate) fn pin_current_thread(cpu: usize) {
    let n = super::env::cpus();
    if n < 2 {
        return;
    }
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu % n).is_ok() {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}

/// The calling thread pinned to the CPU it runs on, until dropped (then
/// its affinity is restored): figures measured in alternation share a CPU.
pub(crate) struct Pinned(nix::sched::CpuSet);

/// Pins the calling thread to its current CPU; `None` when the affinity
/// cannot be read or set.
pub(crate) fn pin_here() -> Option<Pinned> {
    let me = nix::unistd::Pid::from_raw(0);
    let before = nix::sched::sched_getaffinity(me).ok()?;
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = usize::try_from(unsafe { libc::sched_getcpu() }).ok()?;
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).ok()?;
    nix::sched::sched_setaffinity(me, &set).ok()?;
    Some(Pinned(before))
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_line_is_parsed() {
        let t = "cpu  100 5 50 1000 10 1 4 0 0 0\ncpu0 50 2 25 500 5 0 2 0 0 0\n";
        let c = parse_stat(t).unwrap();
        assert_eq!(
            c,
            CpuTimes {
                busy: 160,
                total: 1170
            }
        );
        let later = CpuTimes {
            busy: 260,
            total: 1370,
        };
        assert_eq!(c.util_until(&later), Some(0.5));
        assert!(parse_stat("intr 1 2 3").is_none());
    }

    #[test]
    fn thread_time_advances_when_busy() {
        let a = thread_ns();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        assert!(thread_ns() >= a);
    }

    #[test]
    fn pinning_is_undone_on_drop() {
        let me = nix::unistd::Pid::from_raw(0);
        let count = |s: &nix::sched::CpuSet| {
            (0..nix::sched::CpuSet::count())
                .filter(|&i| s.is_set(i).unwrap_or(false))
                .count()
        };
        let before = nix::sched::sched_getaffinity(me).unwrap();
        {
            let _pin = pin_here().expect("pinned");
            assert_eq!(count(&nix::sched::sched_getaffinity(me).unwrap()), 1);
        }
        assert_eq!(
            count(&nix::sched::sched_getaffinity(me).unwrap()),
            count(&before)
        );
    }
}
