//! Checks of the kernel log.

use super::observations::Observations;
use super::verdict::Judged;
use crate::sys::kmsg;

/// At most `max_warnings` WARNING/BUG/Oops lines logged during the run.
pub(crate) fn kernel_log(obs: &Observations, max_warnings: u64) -> Judged {
    let warnings: Vec<&String> = obs
        .kernel_log
        .iter()
        .filter(|l| kmsg::is_warning(l))
        .collect();
    let mut o = format!(
        "{} warning lines in {} kernel log lines",
        warnings.len(),
        obs.kernel_log.len()
    );
    if let Some(first) = warnings.first() {
        o.push_str(&format!("; first: {first}"));
    }
    Judged::new(
        format!("<= {max_warnings} WARNING/BUG/Oops lines"),
        o,
        warnings.len() as u64 <= max_warnings,
    )
}
