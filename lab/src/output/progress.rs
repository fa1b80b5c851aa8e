//! Progress of long work: one event type ([`Event`]) for every command.
//! Code that runs on the kernel under test reports through [`Progress`];
//! on the host the events become terminal lines or a bar, and a VM guest
//! writes them to its console, where the host reads them back ([`decode`]).

use std::time::{Duration, Instant};

/// Prefix of the guest's progress lines on its console.
pub(crate) const GUEST_PREFIX: &str = "lab-guest: ";
/// Marks a point event in a guest line (after [`GUEST_PREFIX`]).
const POINT_TAG: &str = "@point ";
/// Marks a phase time in a guest line: `@phase <ms> <name>`.
const PHASE_TAG: &str = "@phase ";

/// One progress event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// Free text: a phase starts, something happened.
    Note(String),
    /// One measurement point (a step of a progress bar) starts.
    Point(String),
    /// A phase of the run ended after `ms` milliseconds (the time
    /// breakdown in `summary.json`; not shown on the terminal). On a
    /// guest's console these lines also mark when the guest started and
    /// sent its result (the host times QEMU start and power-off by them).
    Phase {
        /// What ran.
        name: String,
        /// How long.
        ms: u64,
    },
}

/// Receives progress events.
pub(crate) trait Progress: Sync {
    /// Handles one event.
    fn emit(&self, event: Event);

    /// A note.
    fn note(&self, msg: &str) {
        self.emit(Event::Note(msg.to_string()));
    }

    /// A measurement point.
    fn point(&self, label: &str) {
        self.emit(Event::Point(label.to_string()));
    }

    /// Phase `name` ran from `since` until now.
    fn phase(&self, name: &str, since: Instant) {
        self.phase_ms(name, since.elapsed().as_millis() as u64);
    }

    /// Phase `name` took `ms` milliseconds.
    fn phase_ms(&self, name: &str, ms: u64) {
        self.emit(Event::Phase {
            name: name.to_string(),
            ms,
        });
    }
}

impl<F: Fn(Event) + Sync> Progress for F {
    fn emit(&self, event: Event) {
        self(event)
    }
}

/// Notes as `  · text` lines on stderr (none when quiet); points are not shown.
pub(crate) struct Printer {
    /// Print nothing.
    pub(crate) quiet: bool,
}

impl Progress for Printer {
    fn emit(&self, event: Event) {
        if let (Event::Note(m), false) = (event, self.quiet) {
            eprintln!("  · {m}");
        }
    }
}

/// The guest's console line for an event.
pub(crate) fn encode(event: &Event) -> String {
    match event {
        Event::Note(m) => format!("{GUEST_PREFIX}{m}"),
        Event::Point(l) => format!("{GUEST_PREFIX}{POINT_TAG}{l}"),
        Event::Phase { name, ms } => format!("{GUEST_PREFIX}{PHASE_TAG}{ms} {name}"),
    }
}

/// The event in a console line, if it is a guest progress line (the
/// prefix may follow kernel noise on the same line).
pub(crate) fn decode(line: &str) -> Option<Event> {
    let i = line.find(GUEST_PREFIX)?;
    let text = &line[i + GUEST_PREFIX.len()..];
    if let Some((ms, name)) = text
        .strip_prefix(PHASE_TAG)
        .and_then(|t| t.split_once(' '))
        .and_then(|(ms, n)| Some((ms.parse().ok()?, n)))
    {
        return Some(Event::Phase {
            name: name.to_string(),
            ms,
        });
    }
    Some(match text.strip_prefix(POINT_TAG) {
        Some(l) => Event::Point(l.to_string()),
        None => Event::Note(text.to_string()),
    })
}

/// Events written as guest console lines on stderr (the console).
pub(crate) struct GuestConsole;

impl Progress for GuestConsole {
    fn emit(&self, event: Event) {
        eprintln!("{}", encode(&event));
    }
}

/// A progress bar on the terminal (hidden when stderr is not a terminal;
/// notes are then printed as lines).
pub(crate) struct Bar {
    bar: indicatif::ProgressBar,
    prefix: String,
}

impl Bar {
    /// A bar with `len` points.
    pub(crate) fn new(len: u64) -> Self {
        let bar = indicatif::ProgressBar::new(len).with_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            bar,
            prefix: String::new(),
        }
    }

    /// The same bar, with `[name] ` before its messages.
    pub(crate) fn for_target(&self, name: &str) -> Self {
        Self {
            bar: self.bar.clone(),
            prefix: format!("[{name}] "),
        }
    }

    /// Points done so far.
    pub(crate) fn position(&self) -> u64 {
        self.bar.position()
    }

    /// Moves the bar to `pos` (e.g. past a target that ended early).
    pub(crate) fn set_position(&self, pos: u64) {
        self.bar.set_position(pos);
    }

    /// Shows a message without advancing.
    pub(crate) fn set_message(&self, msg: &str) {
        self.bar.set_message(format!("{}{msg}", self.prefix));
    }

    /// Advances by one.
    pub(crate) fn inc(&self) {
        self.bar.inc(1);
    }

    /// Prints above the bar, or to stderr when the bar is hidden.
    pub(crate) fn println(&self, text: &str) {
        if self.bar.is_hidden() {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn emit(&self, event: Event) {
        match event {
            Event::Point(label) => {
                self.bar.inc(1);
                self.bar.set_message(format!("{}{label}", self.prefix));
            }
            Event::Note(m) => self.println(&format!("  {}{m}", self.prefix)),
            Event::Phase { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_the_console() {
        for e in [
            Event::Note("step 1: ping".into()),
            Event::Point("micro noop egress 64 B · round 1/3".into()),
            Event::Phase {
                name: "step 1: ping".into(),
                ms: 512,
            },
        ] {
            let line = format!("[    2.5] {}", encode(&e));
            assert_eq!(decode(&line), Some(e));
        }
        assert_eq!(decode("[    0.0] Linux version 6.12"), None);
    }
}
