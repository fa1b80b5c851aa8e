//! Loading, attaching, keying and reading the data plane.
//!
//! One [`DataPlane`] per namespace end: its own object, maps and key.
//! Everything it creates is held by file descriptors (object, programs,
//! maps, tcx links), so dropping it — or the process dying — removes it.

pub(crate) mod abi;
#[cfg(test)]
mod abi_check;
/// The table of BPF objects and clang flags, shared with `lab/build.rs`.
pub(crate) mod bpf_objects;
#[cfg(test)]
mod chacha_test;
mod cipher_only;
pub(crate) mod contract;
mod embed;
pub(crate) mod format;
mod layout;
mod object;
mod rodata;
mod type_probe;
mod verifier_log;

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use libbpf_rs::{MapCore, MapFlags, Object, ObjectBuilder};

use crate::domain::{Build, CipherSpec, Counters, Direction, Unsupported};
use abi::{COUNTER_NAMES, OP_CLEAR, OP_INSTALL, Plain, Provision, Tamper, TestIv};
pub(crate) use cipher_only::CipherOnlyProg;
pub(crate) use embed::BPF_OBJECTS;
use embed::Flavor;
pub(crate) use object::plain as embedded_object;
pub(crate) use type_probe::TypeProbeProg;

/// Names of the programs in the object.
const EGRESS_PROG: &str = "encrypt_egress";
const INGRESS_PROG: &str = "decrypt_ingress";
const PROVISION_PROG: &str = "provision";
const TAMPER_PROG: &str = "tamper_egress";

/// Errors of the data plane.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DataPlaneError {
    /// libbpf could not open or load the object; `log` is libbpf's and the verifier's output.
    #[error(
        "loading the {variant} data plane failed: {source}: {} (full log in verifier.log)",
        verifier_reason(log)
    )]
    Load {
        /// Variant.
        variant: &'static str,
        /// libbpf error.
        source: libbpf_rs::Error,
        /// Captured libbpf/verifier log.
        log: String,
    },
    /// A program or map is missing from the object.
    #[error("the BPF object has no {0}")]
    Missing(&'static str),
    /// tcx attach failed.
    #[error("attaching {prog} to ifindex {ifindex} with tcx failed: {source}")]
    Attach {
        /// Program name.
        prog: &'static str,
        /// Interface index.
        ifindex: u32,
        /// OS error.
        source: std::io::Error,
    },
    /// BPF_PROG_RUN of the provisioning program failed.
    #[error("running the provision program failed: {0}")]
    Run(std::io::Error),
    /// The kernel refused the key or algorithm.
    #[error("bpf_crypto_ctx_create({algo}) failed: {}", errno_name(*errno))]
    Crypto {
        /// Algorithm name.
        algo: String,
        /// Positive errno.
        errno: i32,
    },
    /// The provision program refused an operation (WireGuard).
    #[error("the data plane refused {what}: {}", errno_name(*errno))]
    Provision {
        /// The operation.
        what: String,
        /// Positive errno.
        errno: i32,
    },
    /// BPF_PROG_TEST_RUN of a TC program failed.
    #[error("test run of {prog} failed: {source}")]
    TestRun {
        /// Program name.
        prog: &'static str,
        /// OS error.
        source: std::io::Error,
    },
    /// Reading a map failed.
    #[error("reading map `{map}` failed: {source}")]
    Map {
        /// Map name.
        map: &'static str,
        /// libbpf error.
        source: libbpf_rs::Error,
    },
}

/// The verifier's reason for a rejection: the last log line before the
/// statistics (`processed N insns`) or the end marker.
pub(crate) fn verifier_reason(log: &str) -> &str {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with("processed ") || l.starts_with("-- END PROG LOAD LOG"))
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .rev()
        .find(|l| !l.starts_with(';'))
        .copied()
        .unwrap_or("no verifier log")
}

/// Names an errno, e.g. `EINVAL (Invalid argument)`.
pub(crate) fn errno_name(errno: i32) -> String {
    let e = nix::errno::Errno::from_raw(errno);
    format!("{e:?} ({})", e.desc())
}

/// A loaded data plane.
pub(crate) struct DataPlane {
    obj: Object,
    links: Vec<OwnedFd>,
}

/// A tcx attachment request that can be carried into a namespace thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttachFds {
    egress: RawFd,
    ingress: RawFd,
}

impl DataPlane {
    /// Opens and loads (verifies) a build of the data plane.
    pub(crate) fn load(build: Build) -> Result<Self, DataPlaneError> {
        Self::load_object(build, Flavor::Plain, None)
    }

    /// Loads the test object of a crypto build with a fixed IV (`iv`),
    /// so that two builds can be compared byte for byte.
    pub(crate) fn load_with_fixed_iv(build: Build, iv: [u8; 16]) -> Result<Self, DataPlaneError> {
        Self::load_object(build, Flavor::TestIv, Some(iv))
    }

    /// Loads the build that copies the payload once more per packet (a
    /// known regression for `lab bench --inject extra-copy`); `None` for
    /// builds without one (noop, ESP).
    pub(crate) fn load_extra_copy(build: Build) -> Option<Result<Self, DataPlaneError>> {
        object::bytes(build, Flavor::ExtraCopy)?;
        Some(Self::load_object(build, Flavor::ExtraCopy, None))
    }

    /// Loads `build` from an object compiled elsewhere (a baseline's:
    /// `lab bench --baseline`), not the embedded one.
    pub(crate) fn load_bytes(build: Build, bytes: &[u8]) -> Result<Self, DataPlaneError> {
        Self::open_and_load(build, bytes, None)
    }

    fn load_object(
        build: Build,
        flavor: Flavor,
        fixed_iv: Option<[u8; 16]>,
    ) -> Result<Self, DataPlaneError> {
        let bytes = object::bytes(build, flavor).ok_or(DataPlaneError::Missing(match flavor {
            Flavor::TestIv => "test object (only crypto builds take a fixed IV)",
            _ => "object of that build and flavor",
        }))?;
        Self::open_and_load(build, bytes, fixed_iv)
    }

    fn open_and_load(
        build: Build,
        bytes: &[u8],
        fixed_iv: Option<[u8; 16]>,
    ) -> Result<Self, DataPlaneError> {
        let _capture = verifier_log::Capture::start();
        let load = || -> Result<Object, libbpf_rs::Error> {
            let mut builder = ObjectBuilder::default();
            builder.name(format!("bpfcrypt_{}", build.as_str()))?;
            let mut open = builder.open_memory(bytes)?;
            if let Some(iv) = fixed_iv {
                rodata::set(&mut open, ".rodata.test_iv", &TestIv { fixed: 1, iv })?;
            }
            open.load()
        };
        match load() {
            Ok(obj) => Ok(Self {
                obj,
                links: Vec::new(),
            }),
            Err(source) => Err(DataPlaneError::Load {
                variant: build.as_str(),
                source,
                log: verifier_log::take(),
            }),
        }
    }

    fn prog_fd(&self, name: &'static str) -> Result<RawFd, DataPlaneError> {
        self.obj
            .progs()
            .find(|p| p.name() == name)
            .map(|p| p.as_fd().as_raw_fd())
            .ok_or(DataPlaneError::Missing(name))
    }

    /// Program descriptors for [`attach_in_current_netns`], to be used on a
    /// thread that entered the interface's namespace.
    pub(crate) fn attach_fds(&self) -> Result<AttachFds, DataPlaneError> {
        Ok(AttachFds {
            egress: self.prog_fd(EGRESS_PROG)?,
            ingress: self.prog_fd(INGRESS_PROG)?,
        })
    }

    /// Descriptor of the tamper test program, after configuring it to XOR
    /// `xor` into the payload byte at `offset`. Attach it with
    /// [`attach_one_in_current_netns`] on egress (it runs after encryption).
    pub(crate) fn tamper_fd(&self, offset: u32, xor: u8) -> Result<RawFd, DataPlaneError> {
        let map = self
            .obj
            .maps()
            .find(|m| m.name() == "tamper")
            .ok_or(DataPlaneError::Missing("tamper map"))?;
        let value = Tamper {
            offset,
            xor_mask: xor,
            enabled: 1,
            _pad: 0,
        };
        map.update(&0u32.to_ne_bytes(), value.bytes(), MapFlags::ANY)
            .map_err(|source| DataPlaneError::Map {
                map: "tamper",
                source,
            })?;
        self.prog_fd(TAMPER_PROG)
    }

    /// Keeps tcx links created by [`attach_in_current_netns`]; they detach
    /// when the data plane is dropped.
    pub(crate) fn hold_links(&mut self, links: Vec<OwnedFd>) {
        self.links.extend(links);
    }

    /// Detaches every program (closing the tcx links); the object, its
    /// maps and counters stay.
    pub(crate) fn detach(&mut self) {
        self.links.clear();
    }

    /// Installs (or rotates to) a key. Returns the new key generation.
    pub(crate) fn provision(&self, cipher: &CipherSpec) -> Result<u64, DataPlaneError> {
        let mut args = Provision {
            op: OP_INSTALL,
            key_len: cipher.key.len() as u32,
            iv_len: cipher.algorithm.iv_len(),
            ..Default::default()
        };
        args.key[..cipher.key.len()].copy_from_slice(&cipher.key);
        let name = cipher.algorithm.kernel_name().as_bytes();
        args.algo[..name.len()].copy_from_slice(name);
        self.run_provision(&mut args, cipher.algorithm.kernel_name())
    }

    /// Tries to create a context for any algorithm name (capability probe).
    pub(crate) fn provision_raw(
        &self,
        algo: &str,
        key: &[u8],
        iv_len: u32,
    ) -> Result<u64, DataPlaneError> {
        let mut args = Provision {
            op: OP_INSTALL,
            key_len: key.len() as u32,
            iv_len,
            ..Default::default()
        };
        let n = key.len().min(32);
        args.key[..n].copy_from_slice(&key[..n]);
        let a = algo.as_bytes();
        let n = a.len().min(31);
        args.algo[..n].copy_from_slice(&a[..n]);
        self.run_provision(&mut args, algo)
    }

    /// Removes the key: from now on both directions drop IPv4 traffic.
    pub(crate) fn clear_key(&self) -> Result<u64, DataPlaneError> {
        let mut args = Provision {
            op: OP_CLEAR,
            ..Default::default()
        };
        self.run_provision(&mut args, "(clear)")
    }

    fn run_provision(&self, args: &mut Provision, algo: &str) -> Result<u64, DataPlaneError> {
        self.run_syscall(args)?;
        if args.status < 0 {
            return Err(DataPlaneError::Crypto {
                algo: algo.to_string(),
                errno: -args.status,
            });
        }
        Ok(args.generation)
    }

    /// Runs the SYSCALL program `provision` with `ctx` as its context
    /// (`ctx_in` only: the kernel refuses anything else for SYSCALL
    /// programs, and copies the possibly modified context back).
    fn run_syscall<T: Copy>(&self, ctx: &mut T) -> Result<(), DataPlaneError> {
        run_syscall_fd(self.prog_fd(PROVISION_PROG)?, ctx)
    }

    /// Reads the per-CPU counters, summed over CPUs.
    pub(crate) fn counters(&self) -> Result<Counters, DataPlaneError> {
        let values = self.counter_values()?;
        Ok(COUNTER_NAMES
            .iter()
            .zip(values)
            .map(|(n, v)| (n.to_string(), v))
            .collect())
    }

    /// The counters summed over CPUs, in the order of
    /// [`abi::COUNTER_NAMES`] (no allocation per name: for hot loops).
    pub(crate) fn counter_values(&self) -> Result<[u64; COUNTER_NAMES.len()], DataPlaneError> {
        let map = self
            .obj
            .maps()
            .find(|m| m.name() == "stats")
            .ok_or(DataPlaneError::Missing("stats map"))?;
        let per_cpu = map
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(|source| DataPlaneError::Map {
                map: "stats",
                source,
            })?
            .unwrap_or_default();
        Ok(sum_counters(&per_cpu))
    }
}

/// Runs the SYSCALL program `fd` with `ctx` as its context (`ctx_in`
/// only: the kernel refuses anything else for SYSCALL programs, and copies
/// the possibly modified context back).
fn run_syscall_fd<T: Copy>(fd: RawFd, ctx: &mut T) -> Result<(), DataPlaneError> {
    // SAFETY: zeroed is a valid bpf_test_run_opts; we set sz.
    let mut opts: libbpf_sys::bpf_test_run_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _;
    opts.ctx_in = (ctx as *mut T).cast();
    opts.ctx_size_in = std::mem::size_of::<T>() as u32;
    // SAFETY: fd is a loaded program; ctx_in points to a live, writable T
    // of the given size (a #[repr(C)] mirror of the program's context).
    let rc = unsafe { libbpf_sys::bpf_prog_test_run_opts(fd, &mut opts) };
    if rc < 0 {
        return Err(DataPlaneError::Run(std::io::Error::from_raw_os_error(-rc)));
    }
    Ok(())
}

/// Sums per-CPU stats values, in counter order; counters a build does not
/// have (the raw data plane has no ESP counters) stay 0.
pub(crate) fn sum_counters(per_cpu: &[Vec<u8>]) -> [u64; COUNTER_NAMES.len()] {
    let mut out = [0u64; COUNTER_NAMES.len()];
    for cpu in per_cpu {
        for (v, b) in out.iter_mut().zip(cpu.chunks_exact(8)) {
            *v += u64::from_ne_bytes(b.try_into().expect("8 bytes"));
        }
    }
    out
}

/// Attaches the egress and ingress programs to `ifindex` with tcx. Must run
/// on a thread inside the interface's network namespace: the kernel
/// resolves the ifindex in the caller's namespace.
pub(crate) fn attach_in_current_netns(
    fds: AttachFds,
    ifindex: u32,
) -> Result<Vec<OwnedFd>, DataPlaneError> {
    let mut links = Vec::new();
    for (prog, fd, kind) in [
        (EGRESS_PROG, fds.egress, libbpf_sys::BPF_TCX_EGRESS),
        (INGRESS_PROG, fds.ingress, libbpf_sys::BPF_TCX_INGRESS),
    ] {
        // SAFETY: fd is a loaded program; NULL opts means defaults.
        let rc = unsafe { libbpf_sys::bpf_link_create(fd, ifindex as i32, kind, std::ptr::null()) };
        if rc < 0 {
            return Err(DataPlaneError::Attach {
                prog,
                ifindex,
                source: std::io::Error::from_raw_os_error(-rc),
            });
        }
        // SAFETY: rc is a new file descriptor we own.
        links.push(unsafe { OwnedFd::from_raw_fd(rc) });
    }
    Ok(links)
}

/// Attaches one program to `ifindex` on egress (after those already
/// there). Same namespace rule as [`attach_in_current_netns`].
pub(crate) fn attach_one_in_current_netns(
    prog_fd: RawFd,
    ifindex: u32,
    prog: &'static str,
) -> Result<OwnedFd, DataPlaneError> {
    // SAFETY: fd is a loaded program; NULL opts appends at the end.
    let rc = unsafe {
        libbpf_sys::bpf_link_create(
            prog_fd,
            ifindex as i32,
            libbpf_sys::BPF_TCX_EGRESS,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        return Err(DataPlaneError::Attach {
            prog,
            ifindex,
            source: std::io::Error::from_raw_os_error(-rc),
        });
    }
    // SAFETY: rc is a new file descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(rc) })
}

/// Environment variable: load the data plane even when the kernel has no
/// `bpf_crypto` kfuncs (to see the verifier's refusal). In a VM, pass it on
/// the kernel command line (`LAB_KERNEL_APPEND=LAB_FORCE_LOAD=1`): the
/// kernel hands unknown `key=value` words to init as environment.
pub(crate) const FORCE_LOAD_ENV: &str = "LAB_FORCE_LOAD";

/// The kfunc whose presence means the kernel has `bpf_crypto`.
const CRYPTO_KFUNC: &str = "bpf_crypto_ctx_create";

/// Whether the running kernel exports the `bpf_crypto` kfuncs. The
/// kernel's BTF names every kfunc and is read in one copy; `/proc/kallsyms`,
/// generated line by line, takes a quarter second under TCG, so it is
/// only the fallback for a kernel without BTF.
pub(crate) fn kernel_has_bpf_crypto() -> bool {
    match std::fs::read(VMLINUX_BTF) {
        Ok(btf) => btf_names(&btf, CRYPTO_KFUNC),
        Err(_) => kallsyms_has(CRYPTO_KFUNC),
    }
}

/// The kernel's own BTF.
const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Whether BTF data has `name` in its string section (NUL-separated).
fn btf_names(btf: &[u8], name: &str) -> bool {
    btf.split(|b| *b == 0).any(|s| s == name.as_bytes())
}

/// Whether `/proc/kallsyms` lists the symbol `name`.
fn kallsyms_has(name: &str) -> bool {
    std::fs::read_to_string("/proc/kallsyms")
        .map(|s| s.lines().any(|l| l.split_whitespace().nth(2) == Some(name)))
        .unwrap_or(false)
}

/// Whether the data plane can run on this kernel (`release`): `Err` says
/// why not. [`FORCE_LOAD_ENV`] loads it anyway, to see the verifier refuse.
pub(crate) fn support(release: &str) -> Result<(), Unsupported> {
    if kernel_has_bpf_crypto() || std::env::var_os(FORCE_LOAD_ENV).is_some() {
        Ok(())
    } else {
        Err(Unsupported(format!(
            "kernel {release} has no bpf_crypto kfuncs (needs Linux 6.10+ with CONFIG_BPF_SYSCALL and CONFIG_CRYPTO_SKCIPHER)"
        )))
    }
}

/// One `BPF_PROG_TEST_RUN` of the TC program `fd` on `frame` (a whole
/// Ethernet frame); the resulting frame goes to `out`.
pub(crate) fn test_run_fd(
    fd: RawFd,
    frame: &[u8],
    out: &mut [u8],
    repeat: u32,
) -> std::io::Result<TestRun> {
    test_run_with_ctx(fd, frame, out, repeat, &[])
}

/// As [`test_run_fd`], with `ctx` as the program's `struct __sk_buff`
/// (`ctx_in`: e.g. a GSO size; empty: the kernel's default).
pub(crate) fn test_run_with_ctx(
    fd: RawFd,
    frame: &[u8],
    out: &mut [u8],
    repeat: u32,
    ctx: &[u8],
) -> std::io::Result<TestRun> {
    // SAFETY: zeroed is a valid bpf_test_run_opts; we set sz.
    let mut opts: libbpf_sys::bpf_test_run_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _;
    opts.data_in = frame.as_ptr().cast();
    opts.data_size_in = frame.len() as u32;
    opts.data_out = out.as_mut_ptr().cast();
    opts.data_size_out = out.len() as u32;
    if !ctx.is_empty() {
        opts.ctx_in = ctx.as_ptr().cast();
        opts.ctx_size_in = ctx.len() as u32;
    }
    opts.repeat = repeat.max(1) as _;
    // SAFETY: fd is a loaded program; data_in/data_out (and ctx_in) point
    // to live buffers of the given sizes for the duration of the call.
    let rc = unsafe { libbpf_sys::bpf_prog_test_run_opts(fd, &mut opts) };
    if rc < 0 {
        return Err(std::io::Error::from_raw_os_error(-rc));
    }
    Ok(TestRun {
        retval: opts.retval,
        duration_ns: opts.duration,
        data_out_len: (opts.data_size_out as usize).min(out.len()),
    })
}

/// What one `BPF_PROG_TEST_RUN` of a TC program returned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TestRun {
    /// The program's return code of the last run (`TC_ACT_OK` is 0).
    pub(crate) retval: u32,
    /// Mean run time per repetition as measured by the kernel, ns.
    pub(crate) duration_ns: u32,
    /// Bytes of the resulting frame written to `data_out`.
    pub(crate) data_out_len: usize,
}

impl DataPlane {
    /// Runs the egress or ingress program on `frame` (a whole Ethernet
    /// frame) with `BPF_PROG_TEST_RUN`; the resulting frame goes to `out`.
    /// With `repeat > 1` the kernel runs the program again on the skb the
    /// previous run left behind (not on a fresh copy of `frame`), so only
    /// programs that leave the packet unchanged give meaningful repeats.
    pub(crate) fn test_run(
        &self,
        dir: Direction,
        frame: &[u8],
        out: &mut [u8],
        repeat: u32,
    ) -> Result<TestRun, DataPlaneError> {
        let prog = match dir {
            Direction::Egress => EGRESS_PROG,
            Direction::Ingress => INGRESS_PROG,
        };
        let fd = self.prog_fd(prog)?;
        test_run_fd(fd, frame, out, repeat)
            .map_err(|source| DataPlaneError::TestRun { prog, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btf_lookup_matches_whole_names_only() {
        let btf = b"\x9f\xeb\0int\0bpf_crypto_ctx_create\0bpf_crypto_ctx_create_x\0";
        assert!(btf_names(btf, CRYPTO_KFUNC));
        assert!(!btf_names(b"\0bpf_crypto_ctx_create_x\0", CRYPTO_KFUNC));
        assert!(!btf_names(b"\0bpf_crypto_ctx\0", CRYPTO_KFUNC));
    }

    #[test]
    fn btf_and_kallsyms_agree_on_this_kernel() {
        let Ok(btf) = std::fs::read(VMLINUX_BTF) else {
            eprintln!("SKIPPED: no {VMLINUX_BTF}");
            return;
        };
        assert_eq!(btf_names(&btf, CRYPTO_KFUNC), kallsyms_has(CRYPTO_KFUNC));
        assert!(btf_names(&btf, "task_struct"));
    }

    #[test]
    fn counters_sum_over_cpus() {
        // The raw data plane's 11 counters: ESP's are missing, read as 0.
        let mut a = vec![0u8; 8 * 11];
        let mut b = vec![0u8; 8 * 11];
        a[0..8].copy_from_slice(&3u64.to_ne_bytes());
        b[0..8].copy_from_slice(&4u64.to_ne_bytes());
        b[32..40].copy_from_slice(&9u64.to_ne_bytes());
        let c = sum_counters(&[a, b]);
        let at = |n: &str| COUNTER_NAMES.iter().position(|x| *x == n).unwrap();
        assert_eq!(c[at("encrypted")], 7);
        assert_eq!(c[at("dropped_nokey")], 9);
        assert_eq!(c[at("decrypted")], 0);
        assert_eq!(c[at("auth_failed")], 0);
    }

    #[test]
    fn verifier_reason_is_the_last_line_before_the_statistics() {
        let log = "libbpf: prog 'x': BPF program load failed: -EACCES\n-- BEGIN PROG LOAD LOG --\n0: (bf) r7 = r1\n131: (85) call bpf_skb_load_bytes#26\nR4 invalid zero-sized read: u64=[0,2032]\nprocessed 151 insns (limit 1000000)\n-- END PROG LOAD LOG --\n";
        assert_eq!(
            verifier_reason(log),
            "R4 invalid zero-sized read: u64=[0,2032]"
        );
        assert_eq!(verifier_reason(""), "no verifier log");
    }

    #[test]
    fn errno_names_are_readable() {
        assert!(errno_name(22).starts_with("EINVAL"));
    }
}
