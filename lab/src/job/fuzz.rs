//! The fuzz job (`lab fuzz`): what to feed the data plane, and what broke.

use serde::{Deserialize, Serialize};

use crate::spec::dataplane::UserDataplane;

/// Default number of generated cases per program.
pub(crate) const DEFAULT_CASES: u32 = 10_000;

/// What to fuzz.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FuzzPlan {
    /// Seed of the generator; case `i` is a function of (seed, i).
    pub(crate) seed: u64,
    /// Generated cases per program.
    pub(crate) cases: u32,
    /// Frames to rerun instead of generating (`--replay`).
    pub(crate) replay: Vec<Vec<u8>>,
    /// The user's data plane object (`--dataplane`), fuzzed instead of the
    /// lab's builds.
    #[serde(default)]
    pub(crate) dataplane: Option<UserDataplane>,
}

/// The invariants every fuzzed data plane is held to (the lab's own builds
/// also to `in place = bounce` and `reference cipher, fixed IV`, a format
/// with integrity also to `forged`).
pub(crate) const INVARIANTS: [&str; 4] = [
    "one counter per verdict",
    "plaintext",
    "round trip",
    "reference cipher",
];

/// One broken invariant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Violation {
    /// Case number (generated) or frame number (replayed).
    pub(crate) case: u64,
    /// The program and cipher, e.g. `egress cbc(aes)`.
    pub(crate) program: String,
    /// Which invariant, e.g. `plaintext`.
    pub(crate) invariant: String,
    /// What was seen.
    pub(crate) detail: String,
}

/// What a fuzz job found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct FuzzReport {
    /// The seed used.
    pub(crate) seed: u64,
    /// Frames fed to each program.
    pub(crate) cases: u64,
    /// Test runs made in all.
    pub(crate) runs: u64,
    /// Frames `BPF_PROG_TEST_RUN` itself refused (not the data plane's doing).
    #[serde(default)]
    pub(crate) refused: u64,
    /// Frames each program let through / dropped, by program.
    pub(crate) verdicts: Vec<(String, u64, u64)>,
    /// Frames that went through egress and back through ingress.
    pub(crate) round_trips: u64,
    /// Runs compared between the bounce and the in-place build.
    #[serde(default)]
    pub(crate) twin_runs: u64,
    /// Ingress runs on frames the format must drop unless a holder of the
    /// keys sent them (`forged`; none for a format without integrity).
    #[serde(default)]
    pub(crate) forged_checked: u64,
    /// Kernel WARNING/BUG/Oops lines logged while fuzzing.
    pub(crate) kernel_warnings: Vec<String>,
    /// Broken invariants (at most a few per invariant are kept).
    pub(crate) violations: Vec<Violation>,
    /// Every broken invariant with how often it broke: (program,
    /// invariant, count), all counted, not only those kept.
    #[serde(default)]
    pub(crate) counts: Vec<(String, String, u64)>,
    /// The frames of the violations, in order (saved as a pcap).
    #[serde(default)]
    pub(crate) frames: Vec<Vec<u8>>,
}

impl FuzzReport {
    /// How many times invariants broke in all (the examples kept are fewer).
    pub(crate) fn violation_count(&self) -> u64 {
        self.counts.iter().map(|c| c.2).sum()
    }

    /// Whether every invariant held.
    pub(crate) fn passed(&self) -> bool {
        self.violations.is_empty() && self.kernel_warnings.is_empty()
    }
}
