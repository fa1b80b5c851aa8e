//! Anonymous network namespaces held by a file descriptor.
//!
//! A namespace is created by `unshare(CLONE_NEWNET)` on a throwaway thread
//! and kept alive only by our descriptor (and threads inside it): nothing is
//! mounted under /run/netns, so a crash or Ctrl-C cannot leave one behind.
//! `setns` affects one thread only, so work inside a namespace runs on a
//! dedicated std thread ([`Netns::run`], [`Netns::spawn`]), never on a
//! shared async worker.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::thread::JoinHandle;

use nix::sched::{CloneFlags, setns, unshare};

/// A network namespace.
#[derive(Debug)]
pub(crate) struct Netns {
    name: String,
    fd: OwnedFd,
}

impl Netns {
    /// Creates a new, empty namespace (only a down `lo`).
    pub(crate) fn new(name: &str) -> std::io::Result<Self> {
        let fd = std::thread::spawn(|| -> std::io::Result<OwnedFd> {
            unshare(CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
            Ok(File::open("/proc/thread-self/ns/net")?.into())
        })
        .join()
        .map_err(|_| std::io::Error::other("namespace thread panicked"))??;
        Ok(Self {
            name: name.to_string(),
            fd,
        })
    }

    /// The namespace descriptor (e.g. to move a link into it).
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    fn enter(fd: &OwnedFd) -> std::io::Result<()> {
        setns(fd.as_fd(), CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
    }

    /// Runs `f` on a thread inside the namespace and waits for it.
    pub(crate) fn run<T, F>(&self, f: F) -> std::io::Result<T>
    where
        T: Send,
        F: FnOnce() -> T + Send,
    {
        std::thread::scope(|s| {
            s.spawn(|| {
                Self::enter(&self.fd)?;
                Ok(f())
            })
            .join()
            .map_err(|_| {
                std::io::Error::other(format!("thread in namespace {} panicked", self.name))
            })?
        })
    }

    /// Starts `f` on a named thread inside the namespace.
    pub(crate) fn spawn<T, F>(
        &self,
        thread_name: &str,
        f: F,
    ) -> std::io::Result<JoinHandle<std::io::Result<T>>>
    where
        T: Send + 'static,
        F: FnOnce() -> std::io::Result<T> + Send + 'static,
    {
        let fd = self.fd.try_clone()?;
        std::thread::Builder::new()
            .name(thread_name.to_string())
            .spawn(move || {
                Self::enter(&fd)?;
                drop(fd);
                f()
            })
    }
}

/// Writes a sysctl of the calling thread's namespace (`net.ipv6.conf.all.disable_ipv6`).
pub(crate) fn set_sysctl(key: &str, value: &str) -> std::io::Result<()> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(&path, value).map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}")))
}

impl Netns {
    /// Starts a worker inside the namespace in two phases: `open` runs first
    /// (sockets are created in the namespace) and hands back a handle `S`;
    /// the returned loop then runs on the same thread. Returns once `open`
    /// succeeded, so the worker is ready when this returns.
    pub(crate) fn spawn_ready<S, T, G, F>(
        &self,
        thread_name: &str,
        open: F,
    ) -> std::io::Result<(S, JoinHandle<std::io::Result<T>>)>
    where
        S: Send + 'static,
        T: Send + 'static,
        G: FnOnce() -> std::io::Result<T>,
        F: FnOnce() -> std::io::Result<(S, G)> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = self.spawn(thread_name, move || {
            let (s, run) = match open() {
                Ok(v) => v,
                Err(e) => {
                    let kind = e.kind();
                    let _ = tx.send(Err(e));
                    return Err(std::io::Error::new(kind, "worker failed to start"));
                }
            };
            let _ = tx.send(Ok(s));
            run()
        })?;
        match rx.recv() {
            Ok(Ok(s)) => Ok((s, handle)),
            Ok(Err(e)) => {
                let _ = handle.join();
                Err(e)
            }
            Err(_) => Err(std::io::Error::other(format!(
                "{thread_name} thread exited before starting"
            ))),
        }
    }
}

/// Tests: runs `f` on a thread inside a fresh network namespace; `None`
/// (with the reason printed) when not root.
#[cfg(test)]
pub(crate) fn in_fresh_netns<T: Send>(f: impl FnOnce() -> T + Send) -> Option<T> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to create a network namespace");
        return None;
    }
    Some(std::thread::scope(|s| {
        s.spawn(|| {
            unshare(CloneFlags::CLONE_NEWNET).expect("unshare");
            f()
        })
        .join()
        .expect("namespace thread")
    }))
}
