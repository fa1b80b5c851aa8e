//! Analysis of captured traffic.

pub mod entropy;
pub mod oracle;
pub mod wire;
