//! bpfcrypt-lab: test harness and benchmark lab for eBPF packet-encryption
//! data planes built on the kernel's `bpf_crypto` kfuncs.
//!
//! Data flows one way: [`scenario`] → [`plan`] → [`backend`] → [`runner`]
//! → [`results`] → [`summary_text`].

pub mod analysis;
pub mod assertions;
pub mod backend;
pub mod bench;
pub mod capture;
pub mod dataplane;
pub mod guest;
pub mod initramfs;
pub mod kernels;
pub mod kmsg;
pub mod matrix;
pub mod netns;
pub mod offload;
pub mod plan;
pub mod probe;
pub mod report;
pub mod results;
pub mod run_report;
pub mod runner;
pub mod scenario;
pub mod session;
pub mod signals;
pub mod summary_text;
pub mod topology;
pub mod traffic;
pub mod vm;
