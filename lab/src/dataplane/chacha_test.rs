//! ChaCha20-Poly1305 in BPF C (`ebpf/chacha20poly1305.h`), checked on the
//! running kernel through `BPF_PROG_TEST_RUN` of its harness
//! (`ebpf/chacha_test.bpf.c`): RFC 8439's vectors, agreement with
//! RustCrypto on random inputs, and the verifier's and the run's costs
//! (printed, not asserted: they are the host's, not a contract).

use std::os::fd::{AsFd, AsRawFd, RawFd};

use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use libbpf_rs::btf::Btf;
use libbpf_rs::{MapCore, MapFlags, Object, ObjectBuilder};

use super::abi::Plain;
use super::layout::{Layout, btf_layout};
use super::{DataPlaneError, object, test_run_fd, verifier_log};
use crate::domain::hex;

/// `CP_MAX_LEN`: the largest message.
const MAX_LEN: usize = 1536;
/// `CP_MAX_AAD`: the largest additional data.
const MAX_AAD: usize = 64;
/// `CP_BUF`: the room of each buffer.
const BUF: usize = 1536;
/// `CP_E_INVAL`, `CP_E_BADMSG`: the statuses of a refusal.
const EINVAL: i32 = 22;
const EBADMSG: i32 = 74;

/// The value of the `jobs` map (`struct chacha_job`).
#[repr(C)]
#[derive(Clone, Copy)]
struct Job {
    key: [u8; 32],
    nonce: [u8; 12],
    counter: u32,
    aad_len: u32,
    len: u32,
    status: i32,
    _pad: u32,
    tag: [u8; 16],
    aad: [u8; MAX_AAD],
    input: [u8; BUF],
    out: [u8; BUF],
}

// SAFETY: repr(C); 32 + 12 bytes then five u32 at 44..64 and byte arrays
// from 64 on: no padding (size 3216, a multiple of every alignment).
unsafe impl Plain for Job {}

impl Job {
    /// A job for `input` and `aad` (which must fit), `out` filled with a
    /// pattern so that a test sees bytes written past the length.
    fn new(key: [u8; 32], nonce: [u8; 12], aad: &[u8], input: &[u8]) -> Self {
        let mut job = Job {
            key,
            nonce,
            counter: 0,
            aad_len: aad.len() as u32,
            len: input.len() as u32,
            status: 1,
            _pad: 0,
            tag: [0; 16],
            aad: [0; MAX_AAD],
            input: [0; BUF],
            out: [0xa5; BUF],
        };
        job.aad[..aad.len()].copy_from_slice(aad);
        job.input[..input.len()].copy_from_slice(input);
        job
    }

    fn output(&self) -> &[u8] {
        &self.out[..self.len as usize]
    }
}

/// The harness's programs, one per operation.
#[derive(Debug, Clone, Copy)]
enum Op {
    Seal,
    Open,
    Chacha20,
    Poly1305,
}

impl Op {
    fn prog(self) -> &'static str {
        match self {
            Op::Seal => "cp_seal_test",
            Op::Open => "cp_open_test",
            Op::Chacha20 => "cp_chacha20_test",
            Op::Poly1305 => "cp_poly1305_test",
        }
    }
}

/// The loaded harness (only the programs a test asked for: each takes the
/// verifier a fraction of a second).
struct Harness {
    obj: Object,
}

impl Harness {
    fn load(ops: &[Op]) -> Result<Self, DataPlaneError> {
        let _capture = verifier_log::Capture::start();
        let load = || -> Result<Object, libbpf_rs::Error> {
            let mut open = ObjectBuilder::default().open_memory(object::chacha_test())?;
            for mut p in open.progs_mut() {
                let wanted = ops.iter().any(|op| p.name() == op.prog());
                p.set_autoload(wanted);
            }
            open.load()
        };
        let obj = load().map_err(|source| DataPlaneError::Load {
            variant: "chacha20-poly1305 test",
            source,
            log: verifier_log::take(),
        })?;
        Ok(Self { obj })
    }

    fn fd(&self, op: Op) -> Result<RawFd, DataPlaneError> {
        self.obj
            .progs()
            .find(|p| p.name() == op.prog())
            .map(|p| p.as_fd().as_raw_fd())
            .ok_or(DataPlaneError::Missing(op.prog()))
    }

    /// Writes `job`, runs `op` `repeat` times on it, and returns the job
    /// as the program left it and the kernel's mean time per run (ns).
    fn run(&self, op: Op, job: &Job, repeat: u32) -> Result<(Job, u32), DataPlaneError> {
        let map = self
            .obj
            .maps()
            .find(|m| m.name() == "jobs")
            .ok_or(DataPlaneError::Missing("jobs map"))?;
        let key = 0u32.to_ne_bytes();
        let map_err = |source| DataPlaneError::Map {
            map: "jobs",
            source,
        };
        map.update(&key, job.bytes(), MapFlags::ANY)
            .map_err(map_err)?;
        // The frame is not read, but a tc test run needs an Ethernet header.
        let frame = [0u8; 64];
        let mut out = [0u8; 64];
        let run = test_run_fd(self.fd(op)?, &frame, &mut out, repeat).map_err(|source| {
            DataPlaneError::TestRun {
                prog: op.prog(),
                source,
            }
        })?;
        let bytes = map
            .lookup(&key, MapFlags::ANY)
            .map_err(map_err)?
            .ok_or(DataPlaneError::Missing("jobs entry"))?;
        assert_eq!(bytes.len(), std::mem::size_of::<Job>(), "jobs value size");
        // SAFETY: the value is a whole Job (size checked) of integers and
        // byte arrays, for which every bit pattern is valid.
        let done = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<Job>()) };
        let pass = i32::from(done.status != 0) * 2; // TC_ACT_OK, TC_ACT_SHOT
        assert_eq!(run.retval as i32, pass, "{} verdict", op.prog());
        Ok((done, run.duration_ns))
    }

    fn once(&self, op: Op, job: &Job) -> Job {
        self.run(op, job, 1)
            .unwrap_or_else(|e| panic!("{}: {e}", op.prog()))
            .0
    }

    /// The instructions the verifier walked to accept `op`'s program.
    fn verified_insns(&self, op: Op) -> u32 {
        let fd = self.fd(op).unwrap();
        // SAFETY: zeroed is a valid bpf_prog_info; fd is a loaded program
        // and len the size of the struct the kernel may fill.
        unsafe {
            let mut info: libbpf_sys::bpf_prog_info = std::mem::zeroed();
            let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
            let rc = libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len);
            assert_eq!(rc, 0, "bpf_prog_get_info_by_fd");
            info.verified_insns
        }
    }
}

/// The harness, or `None` (with the reason printed) when this process
/// cannot load BPF programs.
fn harness(test: &str, ops: &[Op]) -> Option<Harness> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED {test}: not root: loading BPF programs needs CAP_BPF");
        return None;
    }
    Some(Harness::load(ops).unwrap_or_else(|e| panic!("{e}")))
}

fn array<const N: usize>(s: &str) -> [u8; N] {
    hex(s).try_into().expect("length")
}

/// RustCrypto's ChaCha20-Poly1305: ciphertext and tag.
fn reference_seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], msg: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut sealed = ChaCha20Poly1305::new(&(*key).into())
        .encrypt(&(*nonce).into(), Payload { msg, aad })
        .expect("seal");
    let tag = sealed.split_off(msg.len());
    (sealed, tag)
}

/// splitmix64: reproducible random inputs from a printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        std::array::from_fn(|_| self.next() as u8)
    }

    fn vec(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// RFC 8439 2.8.2's inputs and outputs.
const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
const AEAD_KEY: &str = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
const AEAD_NONCE: &str = "070000004041424344454647";
const AEAD_AAD: &str = "50515253c0c1c2c3c4c5c6c7";
const AEAD_CT: &str = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
    3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee3
    28091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116";
const AEAD_TAG: &str = "1ae10b594f09e26a7e902ecbd0600691";

#[test]
fn the_job_mirror_is_the_objects_struct() {
    let btf = Btf::from_raw("chacha_test", object::chacha_test())
        .expect("BTF readable")
        .expect("the object has BTF");
    let got = btf_layout(&btf, "chacha_job", false).expect("struct chacha_job");
    let job = Job::new([0; 32], [0; 12], &[], &[]);
    let field = |name: &str, at: usize, size: usize| (name.to_string(), at, size);
    use std::mem::{offset_of, size_of, size_of_val};
    let want = Layout {
        name: "chacha_job".into(),
        size: size_of::<Job>(),
        fields: vec![
            field("key", offset_of!(Job, key), size_of_val(&job.key)),
            field("nonce", offset_of!(Job, nonce), size_of_val(&job.nonce)),
            field("counter", offset_of!(Job, counter), 4),
            field("aad_len", offset_of!(Job, aad_len), 4),
            field("len", offset_of!(Job, len), 4),
            field("status", offset_of!(Job, status), 4),
            field("_pad", offset_of!(Job, _pad), 4),
            field("tag", offset_of!(Job, tag), size_of_val(&job.tag)),
            field("aad", offset_of!(Job, aad), MAX_AAD),
            field("in", offset_of!(Job, input), BUF),
            field("out", offset_of!(Job, out), BUF),
        ],
    };
    assert_eq!(got, want);
}

#[test]
fn rfc8439_2_4_2_chacha20_encryption() {
    let Some(h) = harness("rfc8439_2_4_2_chacha20_encryption", &[Op::Chacha20]) else {
        return;
    };
    let key = array("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    let mut job = Job::new(key, array("000000000000004a00000000"), &[], SUNSCREEN);
    job.counter = 1;
    let done = h.once(Op::Chacha20, &job);
    assert_eq!(done.status, 0);
    let want = hex(
        "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b
         f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8
         07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736
         5af90bbf74a35be6b40b8eedf2785e42874d",
    );
    assert_eq!(done.output(), want);
    // The chunk's bytes past the message are left alone.
    assert!(done.out[SUNSCREEN.len()..].iter().all(|b| *b == 0xa5));
}

/// Poly1305 (key, message, tag): RFC 8439 2.5.2, then A.3 #5 to #11,
/// which reach the carries and the final reduction.
const POLY1305_VECTORS: [(&str, &str, &str); 8] = [
    (
        "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b",
        "43727970746f6772617068696320466f72756d2052657365617263682047726f7570",
        "a8061dc1305136c6c22b8baf0c0127a9",
    ),
    (
        "0200000000000000000000000000000000000000000000000000000000000000",
        "ffffffffffffffffffffffffffffffff",
        "03000000000000000000000000000000",
    ),
    (
        "02000000000000000000000000000000ffffffffffffffffffffffffffffffff",
        "02000000000000000000000000000000",
        "03000000000000000000000000000000",
    ),
    (
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ffffffffffffffffffffffffffffffff f0ffffffffffffffffffffffffffffff \
         11000000000000000000000000000000",
        "05000000000000000000000000000000",
    ),
    (
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ffffffffffffffffffffffffffffffff fbfefefefefefefefefefefefefefefe \
         01010101010101010101010101010101",
        "00000000000000000000000000000000",
    ),
    (
        "0200000000000000000000000000000000000000000000000000000000000000",
        "fdffffffffffffffffffffffffffffff",
        "faffffffffffffffffffffffffffffff",
    ),
    (
        "0100000000000000040000000000000000000000000000000000000000000000",
        "e33594d7505e43b90000000000000000 3394d7505e4379cd0100000000000000 \
         00000000000000000000000000000000 01000000000000000000000000000000",
        "14000000000000005500000000000000",
    ),
    (
        "0100000000000000040000000000000000000000000000000000000000000000",
        "e33594d7505e43b90000000000000000 3394d7505e4379cd0100000000000000 \
         00000000000000000000000000000000",
        "13000000000000000000000000000000",
    ),
];

#[test]
fn rfc8439_2_5_2_and_a_3_poly1305() {
    let Some(h) = harness("rfc8439_2_5_2_and_a_3_poly1305", &[Op::Poly1305]) else {
        return;
    };
    for (i, (key, msg, tag)) in POLY1305_VECTORS.iter().enumerate() {
        let done = h.once(Op::Poly1305, &Job::new(array(key), [0; 12], &[], &hex(msg)));
        assert_eq!(done.status, 0, "vector {i}");
        assert_eq!(done.tag.to_vec(), hex(tag), "vector {i}");
    }
}
#[test]
fn rfc8439_2_8_2_seal_and_open() {
    let Some(h) = harness("rfc8439_2_8_2_seal_and_open", &[Op::Seal, Op::Open]) else {
        return;
    };
    let (key, nonce, aad) = (array(AEAD_KEY), array(AEAD_NONCE), hex(AEAD_AAD));
    let sealed = h.once(Op::Seal, &Job::new(key, nonce, &aad, SUNSCREEN));
    assert_eq!(sealed.status, 0);
    assert_eq!(sealed.output(), hex(AEAD_CT));
    assert_eq!(sealed.tag.to_vec(), hex(AEAD_TAG));

    let mut open = Job::new(key, nonce, &aad, sealed.output());
    open.tag = sealed.tag;
    let opened = h.once(Op::Open, &open);
    assert_eq!(opened.status, 0);
    assert_eq!(opened.output(), SUNSCREEN);

    // A flipped bit of the tag, the ciphertext (first and last byte) or
    // the AAD is refused, and no plaintext is left behind.
    let mut tampered = vec![];
    for (what, at) in [
        ("tag", 15),
        ("ciphertext", 0),
        ("ciphertext", SUNSCREEN.len() - 1),
        ("aad", 0),
    ] {
        let mut bad = open;
        match what {
            "tag" => bad.tag[at] ^= 0x01,
            "ciphertext" => bad.input[at] ^= 0x80,
            _ => bad.aad[at] ^= 0x01,
        }
        tampered.push((what, at, bad));
    }
    for (what, at, bad) in tampered {
        let refused = h.once(Op::Open, &bad);
        assert_eq!(refused.status, -EBADMSG, "{what} byte {at}");
        assert!(
            refused.output().iter().all(|b| *b == 0),
            "{what} byte {at}: plaintext left"
        );
        assert!(
            refused.out[SUNSCREEN.len()..].iter().all(|b| *b == 0xa5),
            "{what} byte {at}"
        );
    }
}

#[test]
fn rfc8439_a_5_decryption() {
    let Some(h) = harness("rfc8439_a_5_decryption", &[Op::Open]) else {
        return;
    };
    let ct = hex(
        "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea09ee94e382d26b0
         bdb7b73c321b0100d4f03b7f355894cf332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855
         9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4b9166c767b804d46a59b5216cde7a4e9
         9040c5a40433225ee282a1b0a06c523eaf4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a
         0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a1049e617d91d361094fa68f0ff77987130
         305beaba2eda04df997b714d6c6f2c29a6ad5cb4022b02709b",
    );
    let key = array("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
    let mut job = Job::new(
        key,
        array("000000000102030405060708"),
        &hex("f33388860000000000004e91"),
        &ct,
    );
    job.tag = array("eead9d67890cbb22392336fea1851f38");
    let done = h.once(Op::Open, &job);
    assert_eq!(done.status, 0);
    let text = "Internet-Drafts are draft documents valid for a maximum of six months and may be \
                updated, replaced, or obsoleted by other documents at any time. It is inappropriate \
                to use Internet-Drafts as reference material or to cite them other than as \
                /\u{201c}work in progress./\u{201d}";
    assert_eq!(done.output(), text.as_bytes());
}

/// Random keys, nonces, AAD and lengths 0..=1536 (the edges of every
/// chunk and block among them) agree with RustCrypto both ways; lengths
/// over the bounds are refused.
#[test]
fn agrees_with_rustcrypto_on_random_inputs() {
    let Some(h) = harness(
        "agrees_with_rustcrypto_on_random_inputs",
        &[Op::Seal, Op::Open],
    ) else {
        return;
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut rng = Rng(seed);
    let edges = [
        0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 1023, 1471, 1472, 1500, 1535, 1536,
    ];
    let lens: Vec<usize> = edges
        .into_iter()
        .chain((0..48).map(|_| rng.below(MAX_LEN + 1)))
        .collect();
    for (i, len) in lens.into_iter().enumerate() {
        let (key, nonce) = (rng.bytes::<32>(), rng.bytes::<12>());
        let aad_len = match i % 2 {
            0 => [0, 1, 16, 17, 63, 64][i / 2 % 6],
            _ => rng.below(MAX_AAD + 1),
        };
        let aad = rng.vec(aad_len);
        let msg = rng.vec(len);
        let what = format!("seed {seed}, case {i}: len {len}, aad {}", aad.len());
        let (ct, tag) = reference_seal(&key, &nonce, &aad, &msg);

        let sealed = h.once(Op::Seal, &Job::new(key, nonce, &aad, &msg));
        assert_eq!(sealed.status, 0, "{what}");
        assert_eq!(sealed.output(), ct, "{what}");
        assert_eq!(sealed.tag.to_vec(), tag, "{what}");
        assert!(
            sealed.out[len..].iter().all(|b| *b == 0xa5),
            "{what}: wrote past the length"
        );

        let mut open = Job::new(key, nonce, &aad, &ct);
        open.tag.copy_from_slice(&tag);
        let opened = h.once(Op::Open, &open);
        assert_eq!(opened.status, 0, "{what}");
        assert_eq!(opened.output(), msg, "{what}");
    }
    for (len, aad) in [(MAX_LEN + 1, 0), (0, MAX_AAD + 1), (u32::MAX as usize, 0)] {
        for op in [Op::Seal, Op::Open] {
            let mut job = Job::new([7; 32], [9; 12], &[], &[]);
            (job.len, job.aad_len) = (len as u32, aad as u32);
            let done = h.once(op, &job);
            assert_eq!(done.status, -EINVAL, "{op:?} len {len} aad {aad}");
            assert!(
                done.out.iter().all(|b| *b == 0xa5),
                "{op:?} len {len} aad {aad}"
            );
        }
    }
}

/// The verifier's work per program and the time per call at 1500 bytes
/// (printed for the record; the repeated runs must still give RustCrypto's
/// result, which is what this test checks).
#[test]
fn cost_at_1500_bytes() {
    let ops = [Op::Seal, Op::Open, Op::Chacha20, Op::Poly1305];
    let Some(h) = harness("cost_at_1500_bytes", &ops) else {
        return;
    };
    for op in ops {
        eprintln!(
            "{}: {} verified instructions",
            op.prog(),
            h.verified_insns(op)
        );
    }
    let mut rng = Rng(1500);
    let (key, nonce, msg) = (rng.bytes::<32>(), rng.bytes::<12>(), rng.vec(1500));
    let (ct, tag) = reference_seal(&key, &nonce, &[], &msg);
    let (sealed, seal_ns) = h
        .run(Op::Seal, &Job::new(key, nonce, &[], &msg), 1000)
        .unwrap();
    assert_eq!(
        (sealed.status, sealed.output(), sealed.tag.to_vec()),
        (0, &ct[..], tag.clone())
    );
    let mut open = Job::new(key, nonce, &[], &ct);
    open.tag.copy_from_slice(&tag);
    let (opened, open_ns) = h.run(Op::Open, &open, 1000).unwrap();
    assert_eq!((opened.status, opened.output()), (0, &msg[..]));
    eprintln!("1500 bytes, mean of 1000 runs: seal {seal_ns} ns, open {open_ns} ns");
}
