//! Analysis of captured traffic.

pub mod entropy;
pub mod wire;
