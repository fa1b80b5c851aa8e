//! The bench's cipher-only probe (`ebpf/cipher_only.bpf.c`), loaded on the
//! `keys` and `scratch` maps of a loaded raw data plane: it runs the kfunc
//! alone, with that data plane's key context and buffers.

use std::os::fd::{AsFd, AsRawFd, RawFd};

use libbpf_rs::{MapCore, Object, ObjectBuilder};

use super::abi::CipherProbe;
use super::{DataPlane, DataPlaneError, object, rodata, verifier_log};
use crate::domain::Direction;

/// The maps the probe borrows from the data plane.
const SHARED_MAPS: [&str; 2] = ["keys", "scratch"];

/// A loaded cipher-only program for one direction, length and mode.
pub(crate) struct CipherOnlyProg {
    /// Holds the program (and the borrowed maps' references) loaded.
    _obj: Object,
    fd: RawFd,
}

impl DataPlane {
    /// Loads the probe's program for `dir` (egress encrypts, ingress
    /// decrypts) on `len` bytes, passing the scratch IV when `cbc`. Needs
    /// a raw crypto build (`keys`); the key it was provisioned with is used.
    pub(crate) fn load_cipher_only(
        &self,
        dir: Direction,
        cbc: bool,
        len: u32,
    ) -> Result<CipherOnlyProg, DataPlaneError> {
        let prog = match dir {
            Direction::Egress => "bcl_cipher_enc",
            Direction::Ingress => "bcl_cipher_dec",
        };
        let mut shared = Vec::new();
        for name in SHARED_MAPS {
            let map = self.obj.maps().find(|m| m.name() == name);
            shared.push((name, map.ok_or(DataPlaneError::Missing(name))?));
        }
        let _capture = verifier_log::Capture::start();
        let load = || -> Result<Object, libbpf_rs::Error> {
            let mut open = ObjectBuilder::default().open_memory(object::cipher_only())?;
            for mut map in open.maps_mut() {
                if let Some((_, m)) = shared.iter().find(|(n, _)| map.name() == *n) {
                    map.reuse_fd(m.as_fd())?;
                }
            }
            for mut p in open.progs_mut() {
                p.set_autoload(p.name() == prog);
            }
            let settings = CipherProbe {
                len,
                cbc: u32::from(cbc),
            };
            rodata::set(&mut open, ".rodata.probe", &settings)?;
            open.load()
        };
        let obj = load().map_err(|source| DataPlaneError::Load {
            variant: "cipher-only probe",
            source,
            log: verifier_log::take(),
        })?;
        let fd = obj
            .progs()
            .find(|p| p.name() == prog)
            .map(|p| p.as_fd().as_raw_fd())
            .ok_or(DataPlaneError::Missing(prog))?;
        Ok(CipherOnlyProg { _obj: obj, fd })
    }
}

impl CipherOnlyProg {
    /// The program's descriptor, for `BPF_PROG_TEST_RUN`; valid while
    /// `self` lives.
    pub(crate) fn fd(&self) -> RawFd {
        self.fd
    }
}
