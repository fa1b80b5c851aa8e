//! Analysis of captured traffic.

pub(crate) mod entropy;
pub(crate) mod oracle;
pub(crate) mod wire;
