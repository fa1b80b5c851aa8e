//! Where a job's wall time went, phase by phase (QEMU start, kernel boot,
//! modules, data plane, each step, capture and analysis, result transfer,
//! power-off): what to shorten in the VM loop is read off these.

use serde::{Deserialize, Serialize};

/// One phase and its duration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PhaseTime {
    /// What ran (`qemu start`, `step 1: ping`, …).
    pub(crate) phase: String,
    /// How long, in milliseconds.
    pub(crate) ms: u64,
}

/// Phase names shared by the guest and the host.
pub(crate) mod names {
    /// Host: from starting QEMU until the guest kernel's clock started.
    pub(crate) const QEMU_START: &str = "qemu start";
    /// Guest: the kernel's boot until PID 1 runs (its boot clock then).
    pub(crate) const KERNEL_BOOT: &str = "kernel boot to PID 1";
    /// virtme-ng guest: its kernel and userspace boot until `lab guest-run`
    /// starts (the boot clock then).
    pub(crate) const VNG_BOOT: &str = "boot to lab guest-run";
    /// Guest: mounts and `finit_module` of the initramfs' modules.
    pub(crate) const MODULES: &str = "module loading";
    /// Guest or host: the support check and the capability probe.
    pub(crate) const PROBE: &str = "support check and probe";
    /// Namespaces, veth, addresses, capture start.
    pub(crate) const TOPOLOGY: &str = "topology";
    /// Loading, verifying, attaching and keying the data plane.
    pub(crate) const DATA_PLANE: &str = "data plane load and verification";
    /// Starting the capture and the listeners of both ends.
    pub(crate) const CAPTURE: &str = "capture start";
    /// Teardown, capture read back, wire analysis and the checks.
    pub(crate) const ANALYSIS: &str = "capture and analysis";
    /// Guest: writing the result archive to the results port.
    pub(crate) const RESULT: &str = "result transfer";
    /// Host: from the result's arrival until QEMU exited.
    pub(crate) const POWER_OFF: &str = "power-off";
    /// Host: choosing the accelerator and building the initramfs.
    pub(crate) const PREPARE: &str = "initramfs build";
}
