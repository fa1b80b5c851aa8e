//! Provisioning the ESP data plane: security associations (two crypto
//! contexts each, created by the SYSCALL program) and the outbound SA.

use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Aes192, Aes256};

use super::abi::{
    ESP_DIR_IN, ESP_DIR_OUT, ESP_F_ACTIVATE, ESP_OP_ADD_SA, ESP_OP_DEL_SA, EspProvision,
};
use crate::dataplane::format::SaDir;
use crate::dataplane::{DataPlane, DataPlaneError};

/// One security association.
#[derive(Debug, Clone)]
pub(crate) struct Sa<'a> {
    /// Its SPI (>= 256).
    pub(crate) spi: u32,
    /// Inbound or outbound.
    pub(crate) dir: SaDir,
    /// AES-CBC key (16, 24 or 32 bytes).
    pub(crate) enc_key: &'a [u8],
    /// AES-CMAC key (16 bytes for AES-CMAC-96).
    pub(crate) auth_key: &'a [u8],
    /// Outbound: make it the SA egress uses.
    pub(crate) activate: bool,
    /// Outbound: the first sequence number (0 means 1).
    pub(crate) seq_start: u64,
}

/// The CMAC subkeys of `key` (RFC 4493 2.3): L = AES(key, 0^128),
/// K1 = dbl(L), K2 = dbl(K1). The SYSCALL program cannot encrypt.
pub(crate) fn cmac_subkeys(key: &[u8]) -> Option<([u8; 16], [u8; 16])> {
    let mut l = Array::from([0u8; 16]);
    match key.len() {
        16 => Aes128::new_from_slice(key).ok()?.encrypt_block(&mut l),
        24 => Aes192::new_from_slice(key).ok()?.encrypt_block(&mut l),
        32 => Aes256::new_from_slice(key).ok()?.encrypt_block(&mut l),
        _ => return None,
    }
    let k1 = dbl(l.into());
    Some((k1, dbl(k1)))
}

/// Doubling in GF(2^128) as CMAC defines it.
fn dbl(b: [u8; 16]) -> [u8; 16] {
    let v = u128::from_be_bytes(b);
    let d = (v << 1) ^ if v >> 127 == 1 { 0x87 } else { 0 };
    d.to_be_bytes()
}

impl DataPlane {
    /// Adds an SA (ESP builds).
    pub(crate) fn add_sa(&self, sa: &Sa) -> Result<u64, DataPlaneError> {
        let (k1, k2) = cmac_subkeys(sa.auth_key).ok_or(DataPlaneError::Crypto {
            algo: "cmac(aes)".into(),
            errno: libc::EINVAL,
        })?;
        let mut args = EspProvision {
            op: ESP_OP_ADD_SA,
            dir: dir_code(sa.dir),
            spi: sa.spi,
            flags: if sa.activate { ESP_F_ACTIVATE } else { 0 },
            enc_key_len: sa.enc_key.len() as u32,
            auth_key_len: sa.auth_key.len() as u32,
            seq_start: sa.seq_start,
            k1,
            k2,
            ..Default::default()
        };
        args.enc_key[..sa.enc_key.len().min(32)]
            .copy_from_slice(&sa.enc_key[..sa.enc_key.len().min(32)]);
        args.auth_key[..sa.auth_key.len().min(32)]
            .copy_from_slice(&sa.auth_key[..sa.auth_key.len().min(32)]);
        self.run_esp(&mut args, "cbc(aes) SA")
    }

    /// Removes an SA (an outbound one that is active is deselected first).
    pub(crate) fn del_sa(&self, dir: SaDir, spi: u32) -> Result<u64, DataPlaneError> {
        let mut args = EspProvision {
            op: ESP_OP_DEL_SA,
            dir: dir_code(dir),
            spi,
            ..Default::default()
        };
        self.run_esp(&mut args, "SA removal")
    }

    fn run_esp(&self, args: &mut EspProvision, what: &str) -> Result<u64, DataPlaneError> {
        self.run_syscall(args)?;
        if args.status < 0 {
            return Err(DataPlaneError::Crypto {
                algo: format!("{what} {:#x}", args.spi),
                errno: -args.status,
            });
        }
        Ok(args.generation)
    }
}

fn dir_code(d: SaDir) -> u32 {
    match d {
        SaDir::In => ESP_DIR_IN,
        SaDir::Out => ESP_DIR_OUT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subkeys_match_rfc_4493() {
        let key: Vec<u8> = (0..16)
            .map(|i| {
                u8::from_str_radix(&"2b7e151628aed2a6abf7158809cf4f3c"[i * 2..i * 2 + 2], 16)
                    .unwrap()
            })
            .collect();
        let (k1, k2) = cmac_subkeys(&key).unwrap();
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(hex(&k1), "fbeed618357133667c85e08f7236a8de");
        assert_eq!(hex(&k2), "f7ddac306ae266ccf90bc11ee46d513b");
        assert!(cmac_subkeys(&[0u8; 15]).is_none());
    }
}
