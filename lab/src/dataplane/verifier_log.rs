//! Captures libbpf's log (including the verifier's) while loading.

use std::sync::Mutex;

use libbpf_rs::PrintLevel;

static LOG: Mutex<String> = Mutex::new(String::new());

fn record(level: PrintLevel, msg: String) {
    if level != PrintLevel::Debug
        && let Ok(mut log) = LOG.lock()
    {
        log.push_str(&msg);
    }
}

/// Routes libbpf's output into the capture buffer until dropped.
pub(crate) struct Capture(());

impl Capture {
    /// Starts capturing (clears earlier output).
    pub(crate) fn start() -> Self {
        if let Ok(mut log) = LOG.lock() {
            log.clear();
        }
        libbpf_rs::set_print(Some((PrintLevel::Info, record)));
        Capture(())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        libbpf_rs::set_print(None);
    }
}

/// Takes the captured output.
pub(crate) fn take() -> String {
    LOG.lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default()
}
