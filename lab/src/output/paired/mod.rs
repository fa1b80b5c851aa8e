//! A paired bench's verdict (`lab bench --baseline`): every figure of our
//! data plane against its baseline twin measured in the same rounds,
//! judged from the per-round ratios ([`stats`]) rather than from two
//! independent means, so the machine's drift between rounds cancels.

pub(crate) mod judge;
pub(crate) mod render;
pub(crate) mod stats;

pub(crate) use judge::{PairedReport, judge};
pub(crate) use render::{markdown, terminal};

/// The Markdown file a paired bench writes into its results folder.
pub(crate) const PAIRED_MD: &str = "paired.md";
