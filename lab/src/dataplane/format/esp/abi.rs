//! Rust mirrors of `ebpf/esp_abi.h`: the constants and structs of the ESP
//! data plane that userspace reads or writes, and their layouts for the
//! ABI check.

use crate::dataplane::layout::{Layout, mirror};

/// The ESP data plane's counters (`struct esp_stats`).
pub(crate) const ESP_COUNTERS: usize = 15;

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

/// A value of `sa_in`/`sa_out` as userspace would read it (lock and kptrs
/// read as 0); `struct esp_sa_state`.
#[repr(C)]
#[derive(Default)]
struct EspSaState {
    spi: u32,
    dir: u32,
    generation: u64,
    k1: [u8; 16],
    k2: [u8; 16],
    seq_next: u64,
    lock: u32,
    replay_top: u32,
    replay_bitmap: [u64; 4],
    cipher: u64,
    auth: u64,
}

/// The value of `esp_cfg`; `struct esp_config`.
#[repr(C)]
#[derive(Default)]
struct EspConfig {
    out_spi: u32,
    _pad: u32,
    generation: u64,
}

/// The layouts of the ESP structs userspace reads or writes, the
/// provisioning context first (`Abi::layouts`).
pub(crate) fn layouts() -> Vec<Layout> {
    vec![
        mirror!(
            "esp_provision",
            EspProvision,
            [
                op,
                dir,
                spi,
                flags,
                enc_key_len,
                auth_key_len,
                status,
                out_spi,
                seq_start,
                generation,
                algo,
                enc_key,
                auth_key,
                k1,
                k2
            ]
        ),
        mirror!(
            "esp_sa_state",
            EspSaState,
            [
                spi,
                dir,
                generation,
                k1,
                k2,
                seq_next,
                lock,
                replay_top,
                replay_bitmap,
                cipher,
                auth
            ]
        ),
        mirror!("esp_config", EspConfig, [out_spi, _pad, generation]),
    ]
}
