//! A check's finding.

/// A check's finding before it gets its label.
#[derive(Debug)]
pub(crate) struct Judged {
    pub(crate) expected: String,
    pub(crate) observed: String,
    pub(crate) pass: bool,
}

impl Judged {
    /// What was expected, what was observed, and whether it held.
    pub(crate) fn new(expected: String, observed: String, pass: bool) -> Self {
        Self {
            expected,
            observed,
            pass,
        }
    }
}
