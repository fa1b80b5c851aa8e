//! Rust mirrors of the structs of `ebpf/bpfcrypt_abi.h` (the raw format
//! and what every format shares) that userspace reads or writes; a
//! format's own ABI is in its module. `abi_check`
//! compares each one's size and field offsets with every embedded object's
//! BTF.

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

/// Per-CPU counters by name, the one list every format's counter struct
/// is a prefix of: the first [`RAW_COUNTERS`] are `struct bpfcrypt_stats`
/// (the raw data plane has only those), a format that counts more starts
/// its struct with them and takes the names that follow (`Abi::counters`
/// says how many); a counter no format has yet goes at the end.
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
    "auth_failed",
    "replayed",
    "seq_exhausted",
    "unknown_spi",
    "not_allowed",
    "expired",
    "keepalives",
    "handshakes",
];

/// The raw data plane's counters (`struct bpfcrypt_stats`).
pub(crate) const RAW_COUNTERS: usize = 11;

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

/// Bytes of each buffer of `struct bpfcrypt_scratch` (`BPFCRYPT_BUF`).
pub(crate) const SCRATCH_BUF: u32 = 2048;

/// Mirrors whose every byte belongs to a field (no padding), so that their
/// bytes can go into a map value or a section as they are.
///
/// # Safety
/// Only for `#[repr(C)]` structs without padding bytes.
pub(crate) unsafe trait Plain: Copy {
    /// The struct's bytes, in the layout the C side reads.
    fn bytes(&self) -> &[u8] {
        // SAFETY: Self is repr(C) without padding (the trait's contract),
        // so all size_of::<Self>() bytes are initialised.
        unsafe {
            std::slice::from_raw_parts(
                (self as *const Self).cast::<u8>(),
                std::mem::size_of::<Self>(),
            )
        }
    }
}

/// Value of the `tamper` map (`struct bpfcrypt_tamper`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tamper {
    /// Byte offset in the IPv4 payload.
    pub(crate) offset: u32,
    /// XORed into that byte.
    pub(crate) xor_mask: u8,
    /// 1: the program flips the byte.
    pub(crate) enabled: u8,
    /// Padding to 8 bytes.
    pub(crate) _pad: u16,
}

// SAFETY: repr(C), 4 + 1 + 1 + 2 bytes, no padding.
unsafe impl Plain for Tamper {}

/// The fixed IV of the test builds (`struct bpfcrypt_test_iv`, alone in
/// the section `.rodata.test_iv`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TestIv {
    /// 1: use `iv` instead of a fresh one.
    pub(crate) fixed: u8,
    /// The IV.
    pub(crate) iv: [u8; 16],
}

// SAFETY: repr(C), all u8: no padding.
unsafe impl Plain for TestIv {}

/// Settings of the cipher-only probe (`struct bpfcrypt_cipher_probe`,
/// alone in the section `.rodata.probe`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CipherProbe {
    /// Bytes to encrypt or decrypt.
    pub(crate) len: u32,
    /// 1: CBC (the scratch IV is passed), 0: ECB.
    pub(crate) cbc: u32,
}

// SAFETY: repr(C), two u32: no padding.
unsafe impl Plain for CipherProbe {}

/// Run context of the type probe (`struct bpfcrypt_type_probe`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TypeProbe {
    /// The bpf_crypto type, NUL-terminated.
    pub(crate) r#type: [u8; 16],
    /// The algorithm, NUL-terminated.
    pub(crate) algo: [u8; 32],
    /// Key bytes.
    pub(crate) key: [u8; 32],
    /// Key length.
    pub(crate) key_len: u32,
    /// AEAD tag length (0 for skcipher).
    pub(crate) authsize: u32,
    /// Out: 0 or -errno.
    pub(crate) status: i32,
    /// Padding.
    pub(crate) _pad: u32,
}
