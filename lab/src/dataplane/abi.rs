//! Rust mirror of `ebpf/bpfcrypt_abi.h` and of the layouts in
//! `ebpf/crypto_dp.bpf.c` that userspace programs rely on.

/// Largest IPv4 payload the data plane encrypts.
pub(crate) const BPFCRYPT_MAX_PLAIN: u32 = 2032;
/// Largest growth of a packet on the wire (CBC IV + a full pad block).
pub(crate) const BPFCRYPT_OVERHEAD: u32 = 32;
/// `provision` operation: create and swap in a context.
pub(crate) const OP_INSTALL: u32 = 1;
/// `provision` operation: remove the context.
pub(crate) const OP_CLEAR: u32 = 2;

/// Run context of the `provision` SYSCALL program.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Provision {
    /// `OP_INSTALL` or `OP_CLEAR`.
    pub(crate) op: u32,
    /// Key length in bytes.
    pub(crate) key_len: u32,
    /// IV length (16 for CBC, 0 for ECB).
    pub(crate) iv_len: u32,
    /// Out: 0 or -errno.
    pub(crate) status: i32,
    /// Out: key generation.
    pub(crate) generation: u64,
    /// Algorithm name, NUL-terminated.
    pub(crate) algo: [u8; 32],
    /// Key bytes.
    pub(crate) key: [u8; 32],
}

/// Per-CPU counters, in the order of `struct bpfcrypt_stats`.
pub(crate) const COUNTER_NAMES: &[&str] = &[
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
pub(crate) const STATS_SIZE: usize = COUNTER_NAMES.len() * 8;

const _: () = assert!(std::mem::size_of::<Provision>() == 88);

/// `TC_ACT_OK`: the packet passes.
pub(crate) const TC_ACT_OK: i32 = 0;
/// `TC_ACT_SHOT`: the packet is dropped.
pub(crate) const TC_ACT_SHOT: i32 = 2;
/// tcx verdict the data plane returns for packets it lets through
/// (`TCX_NEXT`): the next program on the hook runs, the last one passes.
pub(crate) const TCX_NEXT: i32 = -1;

/// Whether a TC program's `BPF_PROG_TEST_RUN` return value lets the packet
/// through (`TCX_NEXT` or `TC_ACT_OK`).
pub(crate) fn is_pass(retval: u32) -> bool {
    retval as i32 == TCX_NEXT || retval as i32 == TC_ACT_OK
}

/// A TC verdict for messages.
pub(crate) fn verdict_name(retval: u32) -> String {
    match retval as i32 {
        TCX_NEXT => "TCX_NEXT".into(),
        TC_ACT_OK => "TC_ACT_OK".into(),
        TC_ACT_SHOT => "TC_ACT_SHOT".into(),
        n => n.to_string(),
    }
}

/// Offsets in `struct scratch` (per-CPU map `scratch`): IV, source and
/// destination buffers.
pub(crate) const SCRATCH_IV: i32 = 0;
/// See [`SCRATCH_IV`].
pub(crate) const SCRATCH_SRC: i32 = 16;
/// See [`SCRATCH_IV`].
pub(crate) const SCRATCH_DST: i32 = 16 + 2048;
/// Bytes of each scratch buffer (`BPFCRYPT_BUF`).
pub(crate) const SCRATCH_BUF: u32 = 2048;
/// Offset of the context kptr in `struct key_slot` (map `keys`).
pub(crate) const KEY_SLOT_CTX: i16 = 16;
