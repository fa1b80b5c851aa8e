//! The raw cipher baseline: a crypto-only TC program that calls
//! `bpf_crypto_encrypt`/`bpf_crypto_decrypt` once on `len` bytes of the
//! data plane's own scratch buffers, with the data plane's own key context,
//! and touches nothing else. Run through the same `BPF_PROG_TEST_RUN`
//! harness as the data plane, its time is the limit of a data plane
//! built on these kfuncs in this kernel.
//!
//! The program is `ebpf/cipher_only.bpf.c`, built on the data planes' own
//! base and ABI headers; it borrows the `keys` and `scratch` maps of a
//! loaded, keyed [`DataPlane`] (`DataPlane::load_cipher_only`).

use crate::dataplane::abi::SCRATCH_BUF;
use crate::dataplane::{CipherOnlyProg, DataPlane, DataPlaneError, test_run_fd};
use crate::domain::Direction;

/// Errors building or loading the crypto-only program.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KfuncError {
    /// The data plane's maps are missing, or the verifier refused the program.
    #[error(transparent)]
    DataPlane(#[from] DataPlaneError),
    /// The cipher length is not a positive multiple of the block size within the scratch buffer.
    #[error("cipher length {0} is not a multiple of 16 in 16..=2048 (the scratch buffer)")]
    BadLength(u32),
}

/// A loaded crypto-only program for one direction and cipher length. It
/// uses the key installed in the data plane it was built from.
pub(crate) struct CipherOnly {
    prog: CipherOnlyProg,
}

impl CipherOnly {
    /// Loads the program: `direction` egress encrypts, ingress decrypts
    /// `len` bytes; `cbc` passes the scratch IV.
    pub(crate) fn load(
        dp: &DataPlane,
        direction: Direction,
        cbc: bool,
        len: u32,
    ) -> Result<Self, KfuncError> {
        if len == 0 || !len.is_multiple_of(16) || len > SCRATCH_BUF {
            return Err(KfuncError::BadLength(len));
        }
        Ok(Self {
            prog: dp.load_cipher_only(direction, cbc, len)?,
        })
    }

    /// One `BPF_PROG_TEST_RUN` on `frame`: (return code, kernel ns).
    pub(crate) fn run(&self, frame: &[u8]) -> std::io::Result<(u32, u32)> {
        let mut out = vec![0u8; frame.len() + 64];
        let t = test_run_fd(self.prog.fd(), frame, &mut out, 1)?;
        Ok((t.retval, t.duration_ns))
    }
}
