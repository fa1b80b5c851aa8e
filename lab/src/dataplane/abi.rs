//! Rust mirrors of the structs of `ebpf/bpfcrypt_abi.h`, `ebpf/esp_abi.h`
//! and `ebpf/wg_abi.h` that userspace reads or writes. `abi_check`
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

/// Per-CPU counters, in the order of `struct wg_stats`: the first
/// [`RAW_COUNTERS`] are `struct bpfcrypt_stats` (the raw data plane has
/// only those), the first [`ESP_COUNTERS`] `struct esp_stats`.
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
/// The ESP data plane's counters (`struct esp_stats`).
pub(crate) const ESP_COUNTERS: usize = 15;
/// The WireGuard data plane's counters (`struct wg_stats`).
pub(crate) const WG_COUNTERS: usize = 19;
const _: () = assert!(WG_COUNTERS == COUNTER_NAMES.len());

/// ESP: the largest growth of a packet: SPI, seq, IV, 15 bytes of padding,
/// pad length, next header, ICV (`ESP_OVERHEAD`).
pub(crate) const ESP_OVERHEAD: u32 = 8 + 16 + 16 + 1 + 12;
/// ESP: the smallest SPI an SA may have (`ESP_SPI_MIN`).
pub(crate) const ESP_SPI_MIN: u32 = 256;
/// ESP: `provision` operations and directions (`ESP_OP_*`, `ESP_DIR_*`).
pub(crate) const ESP_OP_ADD_SA: u32 = 1;
/// See [`ESP_OP_ADD_SA`].
pub(crate) const ESP_OP_DEL_SA: u32 = 2;
/// See [`ESP_OP_ADD_SA`].
pub(crate) const ESP_DIR_IN: u32 = 1;
/// See [`ESP_OP_ADD_SA`].
pub(crate) const ESP_DIR_OUT: u32 = 2;
/// `ESP_F_ACTIVATE`: an added outbound SA becomes the one egress uses.
pub(crate) const ESP_F_ACTIVATE: u32 = 1;

/// Run context of the ESP data plane's `provision` program (`struct
/// esp_provision`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EspProvision {
    /// `ESP_OP_*`.
    pub(crate) op: u32,
    /// `ESP_DIR_*`.
    pub(crate) dir: u32,
    /// SPI (>= 256; `SET_OUT`: or 0).
    pub(crate) spi: u32,
    /// `ESP_F_*`.
    pub(crate) flags: u32,
    /// Cipher key length (16, 24, 32).
    pub(crate) enc_key_len: u32,
    /// Authentication key length (16 for AES-CMAC-96).
    pub(crate) auth_key_len: u32,
    /// Out: 0 or -errno.
    pub(crate) status: i32,
    /// Out: the outbound SPI after the operation.
    pub(crate) out_spi: u32,
    /// Outbound: the first sequence number (0 means 1).
    pub(crate) seq_start: u64,
    /// Out: operations applied so far.
    pub(crate) generation: u64,
    /// Algorithm, NUL-terminated ("" means `cbc(aes)`).
    pub(crate) algo: [u8; 32],
    /// Cipher key.
    pub(crate) enc_key: [u8; 32],
    /// Authentication key.
    pub(crate) auth_key: [u8; 32],
    /// CMAC subkey K1 of the authentication key.
    pub(crate) k1: [u8; 16],
    /// CMAC subkey K2.
    pub(crate) k2: [u8; 16],
}

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

/// WireGuard: the most bytes a packet grows by (`WG_OVERHEAD`).
pub(crate) const WG_OVERHEAD: u32 = 80;
/// WireGuard: `provision` operations (`WG_OP_*`).
pub(crate) const WG_OP_PEER: u32 = 1;
/// See [`WG_OP_PEER`].
pub(crate) const WG_OP_KEYPAIR: u32 = 2;
/// See [`WG_OP_PEER`].
pub(crate) const WG_OP_CLEAR: u32 = 3;
/// See [`WG_OP_PEER`].
pub(crate) const WG_OP_SEND: u32 = 4;
/// WireGuard: `WG_F_CONFIRMED`, a keypair that may send at once.
pub(crate) const WG_F_CONFIRMED: u32 = 1;
/// WireGuard: `WG_F_SEND`, and egress sends with it now.
pub(crate) const WG_F_SEND: u32 = 2;
/// WireGuard: `WG_F_SKIP_FIRST`, counter 0 is spent (the handshake's
/// keepalive, sealed in userspace).
pub(crate) const WG_F_SKIP_FIRST: u32 = 4;
/// WireGuard: no slot (`WG_NO_SLOT`): egress sends nothing; CLEAR: every slot.
pub(crate) const WG_NO_SLOT: u32 = u32::MAX;
/// WireGuard: keypair slots (`WG_KEYPAIRS`).
pub(crate) const WG_KEYPAIRS: u32 = 3;
/// WireGuard: allowed IPs of the peer (`WG_MAX_ALLOWED`).
pub(crate) const WG_MAX_ALLOWED: usize = 8;
/// WireGuard: words of the replay ring (`WG_REPLAY_WORDS`).
pub(crate) const WG_REPLAY_WORDS: usize = 128;

/// An allowed source prefix of the peer (`struct wg_allowed_ip`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WgAllowedIp {
    /// The network, network order.
    pub(crate) addr: u32,
    /// 0..=32.
    pub(crate) prefix_len: u32,
}

/// The WireGuard peer (`struct wg_peer`, the value of `wg_peer`).
/// Addresses and ports are network order, as on the wire.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WgPeer {
    /// Our underlay address, the outer source.
    pub(crate) local_addr: u32,
    /// The peer's underlay address, the outer destination.
    pub(crate) endpoint_addr: u32,
    /// Our port: ingress takes messages to it.
    pub(crate) local_port: u16,
    /// The peer's port.
    pub(crate) endpoint_port: u16,
    /// Entries of `allowed` in use.
    pub(crate) n_allowed: u32,
    /// The peer's allowed IPs: egress tunnels to them, ingress takes them
    /// only from the tunnel.
    pub(crate) allowed: [WgAllowedIp; WG_MAX_ALLOWED],
    /// Keypair lifetime (0: 180 s).
    pub(crate) reject_after_ns: u64,
    /// Counter limit (0: 2^64 - 2^13 - 1).
    pub(crate) reject_after_messages: u64,
    /// Out: the keypair egress sends with, or [`WG_NO_SLOT`].
    pub(crate) send_slot: u32,
    /// Out: 1 once set.
    pub(crate) configured: u32,
    /// Out: provisioning operations applied.
    pub(crate) generation: u64,
}

// SAFETY: repr(C); 4 + 4 + 2 + 2 + 4, 64, then u64, u64, u32, u32, u64 at
// 80..112: no padding.
unsafe impl Plain for WgPeer {}

/// A keypair slot (`struct wg_keypair`, a value of `wg_keypairs`) as
/// userspace reads it (the lock reads as 0).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct WgKeypair {
    /// `struct bpf_spin_lock`.
    pub(crate) lock: u32,
    /// 1: installed.
    pub(crate) valid: u32,
    /// Receiver index of messages to us.
    pub(crate) local_index: u32,
    /// Receiver index of messages we send.
    pub(crate) remote_index: u32,
    /// `bpf_ktime_get_ns()` at install.
    pub(crate) created_ns: u64,
    /// Next counter to send.
    pub(crate) send_counter: u64,
    /// Highest counter received + 1 (0: none yet).
    pub(crate) replay_top: u64,
    /// 1 once it may send.
    pub(crate) confirmed: u32,
    /// Padding.
    pub(crate) _pad: u32,
    /// Messages authenticated under it.
    pub(crate) received: u64,
    /// The sending key.
    pub(crate) send_key: [u8; 32],
    /// The receiving key.
    pub(crate) recv_key: [u8; 32],
    /// The replay ring.
    pub(crate) replay: [u64; WG_REPLAY_WORDS],
}

impl Default for WgKeypair {
    fn default() -> Self {
        Self {
            lock: 0,
            valid: 0,
            local_index: 0,
            remote_index: 0,
            created_ns: 0,
            send_counter: 0,
            replay_top: 0,
            confirmed: 0,
            _pad: 0,
            received: 0,
            send_key: [0; 32],
            recv_key: [0; 32],
            replay: [0; WG_REPLAY_WORDS],
        }
    }
}

/// Run context of the WireGuard data plane's `provision` program
/// (`struct wg_provision`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WgProvision {
    /// `WG_OP_*`.
    pub(crate) op: u32,
    /// The keypair slot (CLEAR: or [`WG_NO_SLOT`], every slot).
    pub(crate) slot: u32,
    /// `WG_F_*`.
    pub(crate) flags: u32,
    /// Out: 0 or -errno.
    pub(crate) status: i32,
    /// KEYPAIR: the receiver index of messages to us.
    pub(crate) local_index: u32,
    /// KEYPAIR: the receiver index of messages we send.
    pub(crate) remote_index: u32,
    /// Out: operations applied so far.
    pub(crate) generation: u64,
    /// KEYPAIR: the sending key.
    pub(crate) send_key: [u8; 32],
    /// KEYPAIR: the receiving key.
    pub(crate) recv_key: [u8; 32],
    /// PEER: the peer (its outputs ignored).
    pub(crate) peer: WgPeer,
}
