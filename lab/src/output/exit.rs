//! Exit codes. Harness problems (bad input, missing privileges, a damaged
//! cache) and failures of the system under test are kept apart.

use super::summary::Verdict;

/// Every assertion passed.
pub(crate) const PASS: i32 = 0;
/// An assertion failed (or a figure failed its checks).
pub(crate) const FAIL: i32 = 1;
/// Bad input, or the harness could not run.
pub(crate) const USAGE: i32 = 2;
/// The kernel does not support the data plane.
pub(crate) const UNSUPPORTED: i32 = 3;
/// The system under test failed (verifier, panic, timeout).
pub(crate) const ERROR: i32 = 4;
/// Interrupted by Ctrl-C or SIGTERM.
pub(crate) const INTERRUPTED: i32 = 130;

/// Exit code for a run's verdict.
pub(crate) fn for_verdict(v: Verdict) -> i32 {
    match v {
        Verdict::Pass => PASS,
        Verdict::Fail => FAIL,
        Verdict::Unsupported => UNSUPPORTED,
        Verdict::Error => ERROR,
    }
}
