//! bpfcrypt-lab: test harness and benchmark lab for eBPF packet-encryption
//! data planes built on the kernel's `bpf_crypto` kfuncs.
//!
//! Data flows one way: a YAML file ([`spec`]) becomes a plan, a [`target`]
//! (the host, or a catalog kernel in a VM via [`vm`] and [`guest`]) runs it
//! as a [`job`] on the kernel under test ([`exec`], [`sys`], [`dataplane`]),
//! and [`output`] turns the result into a results folder, reports and an
//! exit code. `docs/architecture.md` describes every folder.

mod cli;
mod dataplane;
mod domain;
mod exec;
mod guest;
mod job;
pub mod kernels;
mod net;
mod output;
mod spec;
mod sys;
mod target;
mod vm;

pub use guest::{is_init, pid1};

/// Runs the command line and returns the process exit code: harness
/// problems exit 2, an interrupt 130 (after cleaning up).
///
/// Everything the lab and its children (QEMU, virtme-ng) create is private
/// to its owner (umask 077): VM work folders hold the job and so the keys,
/// results folders the keys and captures.
pub fn run() -> i32 {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    match cli::main() {
        Ok(code) => code,
        Err(_) if sys::signals::interrupted() => {
            eprintln!("lab: interrupted; cleaned up");
            output::exit::INTERRUPTED
        }
        Err(e) if e.chain().any(unsupported) => {
            eprintln!("lab: unsupported: {e:#}");
            output::exit::UNSUPPORTED
        }
        Err(e) => {
            eprintln!("lab: error: {e:#}");
            output::exit::USAGE
        }
    }
}

/// An error that means the kernel lacks a feature (exit 3): the one
/// `Unsupported`, alone or in a kernel's typed error.
fn unsupported(e: &(dyn std::error::Error + 'static)) -> bool {
    domain::Unsupported::in_chain(e).is_some()
        || matches!(
            e.downcast_ref::<kernels::KernelError>(),
            Some(kernels::KernelError::Unsupported(_))
        )
}

/// Installs the SIGINT and SIGTERM handlers: long work polls a flag and
/// unwinds through its normal cleanup.
pub fn install_signal_handlers() {
    sys::signals::install();
}
