//! Traffic generators and receivers used by scenario steps.

pub mod icmp;
pub mod payload;
