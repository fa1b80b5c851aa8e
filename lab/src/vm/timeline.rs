//! A VM run's time breakdown: what the host measured around the guest
//! (initramfs build, QEMU start, result transfer, power-off) put around
//! what the guest measured itself (boot to PID 1, modules, the job).

use std::time::Duration;

use super::console::Mark;
use crate::job::phases::{PhaseTime, names};

/// What the host saw of one boot.
pub(crate) struct HostTimes<'a> {
    /// Building the initramfs (or the virtme-ng command) before the start.
    pub(crate) prepare: Duration,
    /// The guest's phase lines on the console, with their arrival times.
    pub(crate) marks: &'a [Mark],
    /// When the VM's process ended, from its start.
    pub(crate) ended_at: Duration,
}

/// The phases of a boot in order. `guest` are the phases the guest's
/// result carries; without a result, those its console showed stand in.
pub(crate) fn phases(host: &HostTimes, guest: Option<&[PhaseTime]>) -> Vec<PhaseTime> {
    let ms = |d: Duration| d.as_millis() as u64;
    let mark = |name: &str| host.marks.iter().find(|m| m.phase.phase == name);
    let mut out = vec![PhaseTime {
        phase: names::PREPARE.into(),
        ms: ms(host.prepare),
    }];
    // The guest's clock starts when its kernel does: the time before the
    // guest's first line that its kernel did not see is QEMU's (and, under
    // virtme-ng, its own preparation).
    if let Some(b) = mark(names::KERNEL_BOOT).or_else(|| mark(names::VNG_BOOT)) {
        out.push(PhaseTime {
            phase: names::QEMU_START.into(),
            ms: ms(b.at).saturating_sub(b.phase.ms),
        });
    }
    match guest {
        Some(g) => out.extend(g.iter().cloned()),
        None => out.extend(
            host.marks
                .iter()
                .filter(|m| m.phase.phase != names::RESULT)
                .map(|m| m.phase.clone()),
        ),
    }
    if let Some(r) = mark(names::RESULT) {
        out.push(r.phase.clone());
        out.push(PhaseTime {
            phase: names::POWER_OFF.into(),
            ms: ms(host.ended_at.saturating_sub(r.at)),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(name: &str, ms: u64, at_ms: u64) -> Mark {
        Mark {
            phase: PhaseTime {
                phase: name.into(),
                ms,
            },
            at: Duration::from_millis(at_ms),
        }
    }

    fn pt(name: &str, ms: u64) -> PhaseTime {
        PhaseTime {
            phase: name.into(),
            ms,
        }
    }

    #[test]
    fn host_times_surround_the_guest_phases() {
        let marks = [
            mark(names::KERNEL_BOOT, 2000, 2300),
            mark("step 1: ping", 500, 3500),
            mark(names::RESULT, 40, 3900),
        ];
        let host = HostTimes {
            prepare: Duration::from_millis(120),
            marks: &marks,
            ended_at: Duration::from_millis(4100),
        };
        let guest = [pt(names::KERNEL_BOOT, 2000), pt("step 1: ping", 500)];
        let got = phases(&host, Some(&guest));
        let want = [
            pt(names::PREPARE, 120),
            pt(names::QEMU_START, 300),
            pt(names::KERNEL_BOOT, 2000),
            pt("step 1: ping", 500),
            pt(names::RESULT, 40),
            pt(names::POWER_OFF, 200),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn without_a_result_the_console_phases_stand_in_under_vng_too() {
        let marks = [
            mark(names::VNG_BOOT, 2000, 2300),
            mark("topology", 90, 2600),
        ];
        let host = HostTimes {
            prepare: Duration::from_millis(100),
            marks: &marks,
            ended_at: Duration::from_millis(9000),
        };
        let got = phases(&host, None);
        let order: Vec<_> = got.iter().map(|p| p.phase.as_str()).collect();
        assert_eq!(
            order,
            [
                names::PREPARE,
                names::QEMU_START,
                names::VNG_BOOT,
                "topology"
            ]
        );
    }
}
