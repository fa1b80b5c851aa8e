//! `lab probe`'s question to bpf_crypto (`ebpf/type_probe.bpf.c`): does it
//! make a context of this type, algorithm and key length. Asked of the
//! cipher names with `skcipher` (no wire format's data plane involved) and
//! of the types: the data planes use `skcipher` only; a kernel that
//! registers another type (an `aead`, proposed upstream) shows it here
//! without a change to the lab.

use std::os::fd::{AsFd, AsRawFd};

use libbpf_rs::{Object, ObjectBuilder};

use super::abi::TypeProbe;
use super::{DataPlaneError, object, run_syscall_fd, verifier_log};

/// The loaded probe.
pub(crate) struct TypeProbeProg {
    obj: Object,
}

/// `bpf_crypto_ctx_create`'s answer for a type: its errno when it refused.
/// `ENOENT` means the kernel has no such type.
pub(crate) type TypeAnswer = Result<(), i32>;

impl TypeProbeProg {
    /// Loads the probe (the verifier needs the bpf_crypto kfuncs).
    pub(crate) fn load() -> Result<Self, DataPlaneError> {
        let _capture = verifier_log::Capture::start();
        let obj = ObjectBuilder::default()
            .open_memory(object::type_probe())
            .and_then(|o| o.load())
            .map_err(|source| DataPlaneError::Load {
                variant: "type probe",
                source,
                log: verifier_log::take(),
            })?;
        Ok(Self { obj })
    }

    /// Creates (and releases) a context of bpf_crypto type `ty` for `algo`
    /// with a `key_len`-byte key (the program takes at most 32) and
    /// `authsize` (an AEAD's tag length, else 0).
    pub(crate) fn try_type(
        &self,
        ty: &str,
        algo: &str,
        key_len: u32,
        authsize: u32,
    ) -> Result<TypeAnswer, DataPlaneError> {
        let mut args = TypeProbe {
            key: [0x42; 32],
            key_len,
            authsize,
            ..Default::default()
        };
        let (t, a) = (ty.as_bytes(), algo.as_bytes());
        args.r#type[..t.len().min(13)].copy_from_slice(&t[..t.len().min(13)]);
        args.algo[..a.len().min(31)].copy_from_slice(&a[..a.len().min(31)]);
        let fd = self
            .obj
            .progs()
            .find(|p| p.name() == "type_probe")
            .map(|p| p.as_fd().as_raw_fd())
            .ok_or(DataPlaneError::Missing("type_probe"))?;
        run_syscall_fd(fd, &mut args)?;
        Ok(match args.status {
            0 => Ok(()),
            s => Err(-s),
        })
    }
}
