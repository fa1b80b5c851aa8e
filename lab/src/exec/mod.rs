//! What runs on the kernel under test, the same code on the host and as a
//! VM guest: [`run_job`] checks that the kernel can run the data plane,
//! probes ciphers when asked, then runs the scenario ([`scenario`]) or the
//! bench ([`bench`]).

pub(crate) mod analysis;
pub(crate) mod bench;
pub(crate) mod fuzz;
pub(crate) mod phase_log;
pub(crate) mod probe;
pub(crate) mod run_job;
pub(crate) mod scenario;
