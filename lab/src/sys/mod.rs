//! The system the lab drives on the kernel under test: namespaces and the
//! veth topology, offloads, capture, the kernel log, signals, PID-1 chores
//! and the traffic generators.

pub(crate) mod capture;
pub(crate) mod init;
pub(crate) mod inject;
pub(crate) mod kmsg;
pub(crate) mod netlink;
pub(crate) mod netns;
pub(crate) mod offload;
pub(crate) mod owner;
pub(crate) mod proc_crypto;
pub(crate) mod request_error;
pub(crate) mod signals;
pub(crate) mod storage;
pub(crate) mod tied;
pub(crate) mod topology;
pub(crate) mod traffic;
pub(crate) mod uname;
pub(crate) mod wireguard;
pub(crate) mod xfrm;
