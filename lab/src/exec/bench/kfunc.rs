//! The raw cipher baseline: a crypto-only TC program that calls
//! `bpf_crypto_encrypt`/`bpf_crypto_decrypt` once on `len` bytes of the
//! data plane's own scratch buffers, with the data plane's own key context,
//! and touches nothing else. Run through the same `BPF_PROG_TEST_RUN`
//! harness as the data plane, its time is the limit of a data plane
//! built on these kfuncs in this kernel.
//!
//! The program is a handful of instructions assembled here (no second BPF
//! object): it borrows the `keys` and `scratch` maps of a loaded, keyed
//! [`DataPlane`] and resolves the kfunc in the kernel's BTF.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::dataplane::abi::{
    KEY_SLOT_CTX, SCRATCH_BUF, SCRATCH_DST, SCRATCH_IV, SCRATCH_SRC, TC_ACT_SHOT,
};
use crate::dataplane::{DataPlane, DataPlaneError, test_run_fd};
use crate::domain::Direction;

/// Errors building or loading the crypto-only program.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KfuncError {
    /// The data plane's maps are missing.
    #[error(transparent)]
    DataPlane(#[from] DataPlaneError),
    /// The kernel's BTF has no such kfunc.
    #[error("kfunc {0} not found in the kernel's BTF (/sys/kernel/btf/vmlinux)")]
    NoKfunc(&'static str),
    /// The cipher length is not a positive multiple of the block size within the scratch buffer.
    #[error("cipher length {0} is not a multiple of 16 in 16..=2048 (the scratch buffer)")]
    BadLength(u32),
    /// The verifier refused the program.
    #[error("loading the crypto-only program failed: {source}\n{log}")]
    Load {
        /// OS error.
        source: std::io::Error,
        /// Verifier log.
        log: String,
    },
}

const HELPER_MAP_LOOKUP: i32 = 1;
const HELPER_DYNPTR_FROM_MEM: i32 = 197;
const PSEUDO_MAP_FD: u8 = 1;
const PSEUDO_KFUNC_CALL: u8 = 2;

/// One BPF instruction, encoded as the kernel's `struct bpf_insn`.
#[derive(Clone, Copy)]
struct Insn(u64);

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn(
        code as u64
            | ((dst as u64 | ((src as u64) << 4)) << 8)
            | ((off as u16 as u64) << 16)
            | ((imm as u32 as u64) << 32),
    )
}

fn mov_imm(dst: u8, imm: i32) -> Insn {
    insn(0xb7, dst, 0, 0, imm)
}
fn mov_reg(dst: u8, src: u8) -> Insn {
    insn(0xbf, dst, src, 0, 0)
}
fn add_imm(dst: u8, imm: i32) -> Insn {
    insn(0x07, dst, 0, 0, imm)
}
fn st_w(dst: u8, off: i16, imm: i32) -> Insn {
    insn(0x62, dst, 0, off, imm)
}
fn ldx_dw(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x79, dst, src, off, 0)
}
fn call(src: u8, imm: i32) -> Insn {
    insn(0x85, 0, src, 0, imm)
}
fn exit() -> Insn {
    insn(0x95, 0, 0, 0, 0)
}
fn ld_map_fd(dst: u8, fd: RawFd) -> [Insn; 2] {
    [insn(0x18, dst, PSEUDO_MAP_FD, 0, fd), insn(0, 0, 0, 0, 0)]
}

/// A jump to the error exit, patched once the program is complete.
enum Item {
    I(Insn),
    /// `if dst <op> imm goto err` with the opcode (`0x15` eq, `0xc5` s<).
    JumpErr(u8, u8, i32),
}

/// Assembles the program for one direction and cipher length.
fn assemble(keys: RawFd, scratch: RawFd, kfunc_id: i32, cbc: bool, len: u32) -> Vec<Insn> {
    let mut p: Vec<Item> = Vec::new();
    let mut push = |i: Insn| p.push(Item::I(i));
    push(st_w(10, -4, 0));
    for i in ld_map_fd(1, keys) {
        push(i);
    }
    push(mov_reg(2, 10));
    push(add_imm(2, -4));
    push(call(0, HELPER_MAP_LOOKUP));
    p.push(Item::JumpErr(0x15, 0, 0));
    p.push(Item::I(ldx_dw(7, 0, KEY_SLOT_CTX)));
    p.push(Item::JumpErr(0x15, 7, 0));
    let mut tail: Vec<Insn> = Vec::new();
    tail.extend(ld_map_fd(1, scratch));
    tail.extend([mov_reg(2, 10), add_imm(2, -4), call(0, HELPER_MAP_LOOKUP)]);
    p.extend(tail.into_iter().map(Item::I));
    p.push(Item::JumpErr(0x15, 0, 0));
    let mut body = vec![mov_reg(8, 0)];
    let dynptr = |off: i32, size: i32, slot: i32| {
        [
            mov_reg(1, 8),
            add_imm(1, off),
            mov_imm(2, size),
            mov_imm(3, 0),
            mov_reg(4, 10),
            add_imm(4, slot),
            call(0, HELPER_DYNPTR_FROM_MEM),
        ]
    };
    body.extend(dynptr(SCRATCH_SRC, len as i32, -24));
    body.extend(dynptr(SCRATCH_DST, len as i32, -40));
    if cbc {
        body.extend(dynptr(SCRATCH_IV, 16, -56));
    }
    body.extend([
        mov_reg(1, 7),
        mov_reg(2, 10),
        add_imm(2, -24),
        mov_reg(3, 10),
        add_imm(3, -40),
    ]);
    if cbc {
        body.extend([mov_reg(4, 10), add_imm(4, -56)]);
    } else {
        body.push(mov_imm(4, 0));
    }
    body.push(call(PSEUDO_KFUNC_CALL, kfunc_id));
    p.extend(body.into_iter().map(Item::I));
    p.push(Item::JumpErr(0xc5, 0, 0));
    p.extend([mov_imm(0, 0), exit()].map(Item::I));
    let err_at = p.len();
    p.extend([mov_imm(0, TC_ACT_SHOT), exit()].map(Item::I));
    p.into_iter()
        .enumerate()
        .map(|(pc, item)| match item {
            Item::I(i) => i,
            Item::JumpErr(op, dst, imm) => insn(op, dst, 0, (err_at - pc - 1) as i16, imm),
        })
        .collect()
}

/// The BTF id of a kernel function in vmlinux BTF.
fn kfunc_btf_id(name: &'static str) -> Result<i32, KfuncError> {
    // SAFETY: libbpf loads and frees its own BTF object; name is NUL-terminated.
    unsafe {
        let btf = libbpf_sys::btf__load_vmlinux_btf();
        if btf.is_null() {
            return Err(KfuncError::NoKfunc(name));
        }
        let cname = CString::new(name).expect("no NUL");
        let id = libbpf_sys::btf__find_by_name_kind(btf, cname.as_ptr(), libbpf_sys::BTF_KIND_FUNC);
        libbpf_sys::btf__free(btf);
        if id <= 0 {
            Err(KfuncError::NoKfunc(name))
        } else {
            Ok(id)
        }
    }
}

/// A loaded crypto-only program for one direction and cipher length. It
/// uses the key installed in the data plane it was built from.
pub(crate) struct CipherOnly {
    fd: OwnedFd,
}

impl CipherOnly {
    /// Builds and loads the program: `direction` egress encrypts, ingress
    /// decrypts `len` bytes; `cbc` passes the scratch IV.
    pub(crate) fn load(
        dp: &DataPlane,
        direction: Direction,
        cbc: bool,
        len: u32,
    ) -> Result<Self, KfuncError> {
        if len == 0 || !len.is_multiple_of(16) || len > SCRATCH_BUF {
            return Err(KfuncError::BadLength(len));
        }
        let kfunc = match direction {
            Direction::Egress => "bpf_crypto_encrypt",
            Direction::Ingress => "bpf_crypto_decrypt",
        };
        let id = kfunc_btf_id(kfunc)?;
        let insns: Vec<u64> = assemble(dp.map_fd("keys")?, dp.map_fd("scratch")?, id, cbc, len)
            .iter()
            .map(|i| i.0)
            .collect();
        let mut log = vec![0u8; 1 << 16];
        // SAFETY: zeroed is a valid bpf_prog_load_opts; we set sz.
        let mut opts: libbpf_sys::bpf_prog_load_opts = unsafe { std::mem::zeroed() };
        opts.sz = std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _;
        opts.log_buf = log.as_mut_ptr().cast();
        opts.log_size = log.len() as u32;
        opts.log_level = 0;
        let name = CString::new("bcl_cipher_only").expect("no NUL");
        let license = CString::new("GPL").expect("no NUL");
        let load = |opts: &mut libbpf_sys::bpf_prog_load_opts| {
            // SAFETY: insns is a live array of encoded 8-byte struct bpf_insn; the
            // strings and the log buffer outlive the call.
            unsafe {
                libbpf_sys::bpf_prog_load(
                    libbpf_sys::BPF_PROG_TYPE_SCHED_CLS,
                    name.as_ptr(),
                    license.as_ptr(),
                    insns.as_ptr().cast(),
                    insns.len() as _,
                    opts,
                )
            }
        };
        let mut rc = load(&mut opts);
        if rc < 0 {
            // Again with the verifier log switched on, for the error message.
            opts.log_level = 1;
            rc = load(&mut opts);
        }
        if rc < 0 {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            return Err(KfuncError::Load {
                source: std::io::Error::from_raw_os_error(-rc),
                log: String::from_utf8_lossy(&log[..end]).into_owned(),
            });
        }
        // SAFETY: rc is a new program descriptor we own.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(rc) },
        })
    }

    /// One `BPF_PROG_TEST_RUN` on `frame`: (return code, kernel ns).
    pub(crate) fn run(&self, frame: &[u8]) -> std::io::Result<(u32, u32)> {
        let mut out = vec![0u8; frame.len() + 64];
        let t = test_run_fd(self.fd.as_raw_fd(), frame, &mut out, 1)?;
        Ok((t.retval, t.duration_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_encode_like_the_kernel_macros() {
        // BPF_MOV64_IMM(BPF_REG_0, 2) = b7 00 0000 02000000
        assert_eq!(mov_imm(0, 2).0.to_le_bytes(), [0xb7, 0, 0, 0, 2, 0, 0, 0]);
        // BPF_ALU64_IMM(BPF_ADD, BPF_REG_2, -4)
        assert_eq!(
            add_imm(2, -4).0.to_le_bytes(),
            [0x07, 0x02, 0, 0, 0xfc, 0xff, 0xff, 0xff]
        );
        // BPF_LDX_MEM(BPF_DW, BPF_REG_7, BPF_REG_0, 16)
        assert_eq!(
            ldx_dw(7, 0, 16).0.to_le_bytes(),
            [0x79, 0x07, 16, 0, 0, 0, 0, 0]
        );
        // kfunc call: src_reg = 2
        assert_eq!(call(2, 5).0.to_le_bytes(), [0x85, 0x20, 0, 0, 5, 0, 0, 0]);
    }

    #[test]
    fn error_jumps_land_on_the_error_exit() {
        let p = assemble(3, 4, 77, true, 1504);
        let n = p.len();
        assert_eq!(p[n - 2].0 & 0xff, 0xb7);
        assert_eq!((p[n - 2].0 >> 32) as i32, TC_ACT_SHOT);
        for (pc, i) in p.iter().enumerate() {
            let code = (i.0 & 0xff) as u8;
            if code == 0x15 || code == 0xc5 {
                let off = ((i.0 >> 16) & 0xffff) as u16 as i16;
                assert_eq!(pc as i64 + 1 + off as i64, n as i64 - 2, "jump at {pc}");
            }
        }
    }
}
