//! Progress of a bench run: a bar on the host terminal, numbered console
//! lines inside a VM guest (which the host turns back into its bar).

use std::sync::atomic::{AtomicU64, Ordering};

use super::spec::BenchPlan;

/// Prefix of the guest's progress lines that advance the host's bar:
/// `bench-point <k>/<n> <label>`.
pub const POINT_PREFIX: &str = "bench-point ";

/// Receives progress of a bench on one target.
pub trait Progress: Sync {
    /// A measurement point starts.
    fn point(&self, label: &str);
    /// Free text (setup steps, warnings).
    fn note(&self, msg: &str);
}

/// Number of progress steps (rounds of measurement points, warm-up
/// included) `plan` takes on one target.
pub fn points(plan: &BenchPlan) -> u64 {
    super::micro::steps(plan)
        + plan.udp.as_ref().map_or(0, |f| super::udp::steps(plan, f))
        + super::tcp::steps(plan)
}

/// Progress on an indicatif bar (hidden when stderr is not a terminal).
pub struct Bar {
    /// The bar.
    pub bar: indicatif::ProgressBar,
    /// Shown before every message, e.g. `[debian-6.12] `.
    pub prefix: String,
}

impl Bar {
    /// A bar with `len` steps.
    pub fn new(len: u64) -> Self {
        let bar = indicatif::ProgressBar::new(len).with_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Self {
            bar,
            prefix: String::new(),
        }
    }

    /// Handles one relayed guest line: advances on `bench-point k/n`,
    /// prints anything else above the bar. `base` is the bar position when
    /// the guest started.
    pub fn guest_line(&self, base: u64, line: &str) {
        if let Some(rest) = line.strip_prefix(POINT_PREFIX) {
            let (k, label) = rest.split_once(' ').unwrap_or((rest, ""));
            if let Some(k) = k.split_once('/').and_then(|(k, _)| k.parse::<u64>().ok()) {
                self.bar.set_position(base + k);
                self.bar.set_message(format!("{}{label}", self.prefix));
                return;
            }
        }
        self.say(&format!("  {}{line}", self.prefix));
    }

    /// Prints above the bar, or to stderr when the bar is hidden (not a terminal).
    fn say(&self, text: &str) {
        if self.bar.is_hidden() {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }
}

impl Progress for Bar {
    fn point(&self, label: &str) {
        self.bar.inc(1);
        self.bar.set_message(format!("{}{label}", self.prefix));
    }

    fn note(&self, msg: &str) {
        self.say(&format!("  {}{msg}", self.prefix));
    }
}

/// Progress as guest console lines (`lab-guest: bench-point k/n label`).
pub struct GuestLines {
    total: u64,
    done: AtomicU64,
    say: fn(&str),
}

impl GuestLines {
    /// Lines for a plan of `total` points, written with `say`.
    pub fn new(total: u64, say: fn(&str)) -> Self {
        Self {
            total,
            done: AtomicU64::new(0),
            say,
        }
    }
}

impl Progress for GuestLines {
    fn point(&self, label: &str) {
        let k = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        (self.say)(&format!("{POINT_PREFIX}{k}/{} {label}", self.total));
    }

    fn note(&self, msg: &str) {
        (self.say)(msg);
    }
}

/// Discards progress (tests).
pub struct Silent;

impl Progress for Silent {
    fn point(&self, _: &str) {}
    fn note(&self, _: &str) {}
}
