//! Checks of the kernel's own records: its log, its xfrm counters.

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

/// Every `/proc/net/xfrm_stat` counter of the ends that used the kernel's
/// IPsec is at most `max`; no such end fails the check (nothing was
/// checked).
pub(crate) fn xfrm_stat(obs: &Observations, max: u64) -> Judged {
    let over: Vec<String> = obs
        .xfrm_stat
        .iter()
        .flat_map(|(side, stats)| {
            stats
                .iter()
                .filter(|(_, v)| **v > max)
                .map(move |(k, v)| format!("{side} {k} {v}"))
        })
        .collect();
    let ends: Vec<&str> = obs.xfrm_stat.keys().map(|s| s.as_str()).collect();
    let observed = match (ends.is_empty(), over.is_empty()) {
        (true, _) => "no end used the kernel's IPsec".to_string(),
        (false, true) => format!(
            "every counter <= {max} on {} ({} counters each)",
            ends.join(" and "),
            obs.xfrm_stat.values().map(|s| s.len()).max().unwrap_or(0)
        ),
        (false, false) => over.join(", "),
    };
    Judged::new(
        format!("every /proc/net/xfrm_stat counter <= {max}"),
        observed,
        !ends.is_empty() && over.is_empty(),
    )
}
