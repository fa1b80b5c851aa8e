//! Booting a pinned kernel under QEMU with a hermetic initramfs whose PID 1
//! is this very (statically linked) `lab` binary.

pub mod accel;
pub mod boot;
pub mod image;
pub mod init_binary;
pub mod qemu;
