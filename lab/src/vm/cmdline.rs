//! The guest kernel's command line: quiet, fast to boot, no mitigations
//! (a test VM), and a panic on soft lockups so they end the run.

/// Environment variable with extra kernel command-line words (debugging;
/// the tests use it to provoke a real panic, `LAB_FORCE_LOAD=1` passes an
/// environment variable to the guest's init).
pub(crate) const APPEND_ENV: &str = "LAB_KERNEL_APPEND";

/// Words every lab guest gets (virtme-ng adds its own console and root).
const COMMON: &str = "mitigations=off cryptomgr.notests tsc=reliable no_timer_check audit=0 \
                      random.trust_cpu=on softlockup_panic=1";

/// Words of the hermetic QEMU boot besides [`COMMON`].
const QEMU: &str = "console=ttyS0 panic=-1 loglevel=5 nokaslr";

/// `$LAB_KERNEL_APPEND`, trimmed, when set.
fn extra() -> Option<String> {
    std::env::var(APPEND_ENV)
        .ok()
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
}

fn with_extra(base: String) -> String {
    match extra() {
        Some(e) => format!("{base} {e}"),
        None => base,
    }
}

/// The command line of a QEMU boot.
pub(crate) fn qemu() -> String {
    with_extra(format!("{QEMU} {COMMON}"))
}

/// The words added to virtme-ng's own command line.
pub(crate) fn vng_append() -> String {
    with_extra(COMMON.to_string())
}
