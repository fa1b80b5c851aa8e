//! Threads of a scenario (receivers, listeners, the capture) that run
//! inside a namespace and stop when asked, or when dropped on an error path.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use anyhow::{Context, Result, anyhow};

/// A thread inside a namespace with a stop switch. Dropping it (an error
/// path) asks the thread to stop, so no socket or namespace outlives the run.
pub(crate) struct Worker<T> {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<std::io::Result<T>>>,
}

impl<T> Worker<T> {
    pub(crate) fn new(stop: Arc<AtomicBool>, handle: JoinHandle<std::io::Result<T>>) -> Self {
        Self {
            stop,
            handle: Some(handle),
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Asks the thread to stop without waiting for it: workers asked
    /// together wind down together (each waits out its socket's receive
    /// timeout), then [`Worker::finish`] collects each.
    pub(crate) fn ask_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub(crate) fn finish(mut self, what: &str) -> Result<T> {
        self.stop.store(true, Ordering::SeqCst);
        let handle = self
            .handle
            .take()
            .ok_or_else(|| anyhow!("{what} already finished"))?;
        handle
            .join()
            .map_err(|_| anyhow!("{what} thread panicked"))?
            .with_context(|| format!("{what} failed"))
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
