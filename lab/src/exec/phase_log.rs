//! Collects the phase times a job reports through its progress, so that
//! the job's result carries its own time breakdown (on the host and back
//! from a guest alike).

use std::sync::Mutex;

use crate::job::phases::PhaseTime;
use crate::output::progress::{Event, Progress};

/// A progress that keeps phase events and passes every event on (a
/// guest's console then shows phases as they end, which helps when the
/// run times out before its result is sent).
pub(crate) struct PhaseLog<'a> {
    inner: &'a dyn Progress,
    phases: Mutex<Vec<PhaseTime>>,
}

impl<'a> PhaseLog<'a> {
    /// Collects phases, forwarding every event to `inner`.
    pub(crate) fn new(inner: &'a dyn Progress) -> Self {
        Self {
            inner,
            phases: Mutex::new(Vec::new()),
        }
    }

    /// The phases, in the order they ended.
    pub(crate) fn into_phases(self) -> Vec<PhaseTime> {
        self.phases.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl Progress for PhaseLog<'_> {
    fn emit(&self, event: Event) {
        if let Event::Phase { name, ms } = &event {
            let mut v = self.phases.lock().unwrap_or_else(|p| p.into_inner());
            v.push(PhaseTime {
                phase: name.clone(),
                ms: *ms,
            });
        }
        self.inner.emit(event);
    }
}

/// A progress that puts `prefix` before phase names (the baseline's
/// phases read `baseline step 1: ping`), passing other events unchanged.
pub(crate) struct PhasePrefix<'a> {
    inner: &'a dyn Progress,
    prefix: &'a str,
}

impl<'a> PhasePrefix<'a> {
    /// Prefixes the phases sent to `inner` with `prefix`.
    pub(crate) fn new(inner: &'a dyn Progress, prefix: &'a str) -> Self {
        Self { inner, prefix }
    }
}

impl Progress for PhasePrefix<'_> {
    fn emit(&self, event: Event) {
        self.inner.emit(match event {
            Event::Phase { name, ms } => Event::Phase {
                name: format!("{}{name}", self.prefix),
                ms,
            },
            other => other,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_renames_phases_only() {
        let seen = Mutex::new(Vec::new());
        let inner = |e: Event| seen.lock().unwrap().push(e);
        let p = PhasePrefix::new(&inner, "baseline ");
        p.note("n");
        p.phase_ms("topology", 7);
        assert_eq!(
            *seen.lock().unwrap(),
            [
                Event::Note("n".into()),
                Event::Phase {
                    name: "baseline topology".into(),
                    ms: 7
                }
            ]
        );
    }

    #[test]
    fn keeps_phases_in_order_and_forwards_everything() {
        let seen = Mutex::new(Vec::new());
        let inner = |e: Event| seen.lock().unwrap().push(e);
        let log = PhaseLog::new(&inner);
        log.note("hello");
        log.emit(Event::Phase {
            name: "a".into(),
            ms: 3,
        });
        log.emit(Event::Phase {
            name: "b".into(),
            ms: 0,
        });
        let phases = log.into_phases();
        let names: Vec<_> = phases.iter().map(|p| p.phase.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(phases[0].ms, 3);
        assert_eq!(seen.lock().unwrap().len(), 3);
    }
}
