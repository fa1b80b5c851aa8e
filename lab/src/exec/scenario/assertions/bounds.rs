//! Bounds of counts and ratios, and how the checks word them.

use crate::spec::plan::Ratio;

/// `>= 3`, `<= 5`, `2..=4`, `= 1` or `any`.
pub(crate) fn text(min: Option<u64>, max: Option<u64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) if a == b => format!("= {a}"),
        (Some(a), Some(b)) => format!("{a}..={b}"),
        (Some(a), None) => format!(">= {a}"),
        (None, Some(b)) => format!("<= {b}"),
        (None, None) => "any".into(),
    }
}

/// Whether `v` lies within the bounds.
pub(crate) fn within(v: u64, min: Option<u64>, max: Option<u64>) -> bool {
    min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)
}

/// The words of count and ratio bounds.
pub(crate) fn ratio_text(r: &Ratio) -> String {
    let mut parts = Vec::new();
    if let Some(s) = r.step {
        parts.push(format!("(step {})", s + 1));
    }
    if r.min.is_some() || r.max.is_some() {
        parts.push(text(r.min, r.max));
    }
    match (r.min_ratio, r.max_ratio) {
        (Some(a), Some(b)) => parts.push(format!("ratio {a}..={b}")),
        (Some(a), None) => parts.push(format!("ratio >= {a}")),
        (None, Some(b)) => parts.push(format!("ratio <= {b}")),
        (None, None) => {}
    }
    parts.join(", ")
}

/// Whether `count` of `total` meets the count and ratio bounds.
pub(crate) fn ratio_ok(r: &Ratio, count: u64, total: u64) -> bool {
    let ratio = if total == 0 {
        0.0
    } else {
        count as f64 / total as f64
    };
    within(count, r.min, r.max)
        && r.min_ratio.is_none_or(|m| total > 0 && ratio >= m)
        && r.max_ratio.is_none_or(|m| ratio <= m)
}
