//! Rust mirror of `ebpf/bpfcrypt_abi.h`.

/// Largest IPv4 payload the data plane encrypts.
pub const BPFCRYPT_MAX_PLAIN: u32 = 2032;
/// Largest growth of a packet on the wire (CBC IV + a full pad block).
pub const BPFCRYPT_OVERHEAD: u32 = 32;
/// `provision` operation: create and swap in a context.
pub const OP_INSTALL: u32 = 1;
/// `provision` operation: remove the context.
pub const OP_CLEAR: u32 = 2;

/// Run context of the `provision` SYSCALL program.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Provision {
    /// `OP_INSTALL` or `OP_CLEAR`.
    pub op: u32,
    /// Key length in bytes.
    pub key_len: u32,
    /// IV length (16 for CBC, 0 for ECB).
    pub iv_len: u32,
    /// Out: 0 or -errno.
    pub status: i32,
    /// Out: key generation.
    pub generation: u64,
    /// Algorithm name, NUL-terminated.
    pub algo: [u8; 32],
    /// Key bytes.
    pub key: [u8; 32],
}

/// Per-CPU counters, in the order of `struct bpfcrypt_stats`.
pub const COUNTER_NAMES: &[&str] = &[
    "encrypted",
    "encrypted_bytes",
    "decrypted",
    "decrypted_bytes",
    "dropped_nokey",
    "dropped_unsupported",
    "dropped_invalid",
    "errors",
    "passed",
    "copied",
    "tampered",
];

/// Size of `struct bpfcrypt_stats`.
pub const STATS_SIZE: usize = COUNTER_NAMES.len() * 8;

const _: () = assert!(std::mem::size_of::<Provision>() == 88);

/// tcx verdict the data plane returns for packets it lets through
/// (`TCX_NEXT`): the next program on the hook runs, the last one passes.
pub const TCX_NEXT: i32 = -1;

/// Whether a TC program's `BPF_PROG_TEST_RUN` return value lets the packet
/// through (`TCX_NEXT` or `TC_ACT_OK`).
pub fn is_pass(retval: u32) -> bool {
    retval as i32 == TCX_NEXT || retval == 0
}
