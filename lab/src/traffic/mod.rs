//! Traffic generators and receivers used by scenario steps.

pub mod icmp;
pub mod payload;
pub mod tcp;
pub mod udp;
