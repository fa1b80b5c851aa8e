//! The hardware reference: each cipher of the bench in userspace on one
//! core, on the same bytes per packet as the data plane: RustCrypto's
//! `aes` (AES-NI when the CPU has it, detected at run time) in the AES
//! modes, and `chacha20poly1305` (AVX2 when the CPU has it) sealing and
//! opening what WireGuard's transport message carries. What the CPU can do
//! without the kernel: the physical limit line of the report.

use std::hint::black_box;
use std::time::Instant;

use aes::Aes128;
use aes::Aes256;
use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use anyhow::Result;
use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, KeyInit, Nonce, Tag};

use super::cpu;
use super::frames::cipher_len;
use crate::dataplane::format::wireguard::reference::PAD;
use crate::domain::{Algorithm, Direction};
use crate::job::bench::HardwarePoint;
use crate::job::stats::Stats;
use crate::output::progress::Progress;
use crate::spec::bench_plan::{BenchPlan, HardwarePlan};
use crate::sys::signals;

/// What runs the reference of `alg`, for the report.
pub(crate) fn implementation(alg: Algorithm) -> String {
    match alg {
        Algorithm::EcbAes | Algorithm::CbcAes => {
            let ni = if std::arch::is_x86_feature_detected!("aes") {
                "AES-NI"
            } else {
                "no AES-NI: table-free software AES"
            };
            format!("RustCrypto aes 0.9 with cbc/ecb 0.2, one core ({ni})")
        }
        Algorithm::ChaCha20Poly1305 => {
            // Both crates pick their AVX2 code at run time, else SSE2
            // ChaCha20 and portable Poly1305. Measured on the 6.18 host:
            // the same crate built for the native CPU (inlined AVX2) seals
            // a 1500-byte packet about twice as fast; the lab's binary is
            // built for any x86-64.
            let simd = if std::arch::is_x86_feature_detected!("avx2") {
                "AVX2, picked at run time"
            } else {
                "no AVX2: SSE2 ChaCha20, portable Poly1305"
            };
            format!("RustCrypto chacha20poly1305 0.11, one core ({simd})")
        }
    }
}

/// Bytes the cipher of `alg` processes for an IPv4 packet of `size` bytes:
/// the raw format's padded payload for AES, the whole packet zero-padded
/// to 16 bytes for ChaCha20-Poly1305 (WireGuard seals the inner packet).
fn cipher_bytes(alg: Algorithm, size: u32) -> usize {
    match alg {
        Algorithm::EcbAes | Algorithm::CbcAes => cipher_len(size) as usize,
        Algorithm::ChaCha20Poly1305 => (size as usize).div_ceil(PAD) * PAD,
    }
}

/// A packet's bytes for the passes of a round, and for opening
/// (ChaCha20-Poly1305 ingress) a message sealed once before the round
/// and its tag: an AEAD refuses to open anything else.
struct Packet {
    buf: Vec<u8>,
    sealed: Vec<u8>,
    tag: Tag,
}

impl Packet {
    fn new(alg: Algorithm, key: &[u8], len: usize) -> Self {
        let mut p = Packet {
            buf: vec![0x5au8; len],
            sealed: vec![0x5au8; len],
            tag: Tag::default(),
        };
        if alg == Algorithm::ChaCha20Poly1305 {
            p.tag = aead(key)
                .encrypt_inout_detached(&Nonce::default(), &[], p.sealed.as_mut_slice().into())
                .expect("ChaCha20-Poly1305 seals a packet's length");
        }
        p
    }
}

/// The AEAD keyed with `key` (32 bytes, as the bench file's validation
/// ensures).
fn aead(key: &[u8]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new_from_slice(key).expect("a 32-byte ChaCha20-Poly1305 key")
}

/// One packet of ChaCha20-Poly1305 in `dir`, as WireGuard's transport
/// message: seal `p.buf` in place with an empty AAD (egress), or check
/// the tag of `p.sealed` and open it into `p.buf` (ingress). The nonce
/// stays 0: its value costs nothing.
fn aead_pass(dir: Direction, key: &[u8], p: &mut Packet) {
    let c = aead(key);
    let nonce = Nonce::default();
    match dir {
        Direction::Egress => {
            let tag = c
                .encrypt_inout_detached(&nonce, &[], p.buf.as_mut_slice().into())
                .expect("ChaCha20-Poly1305 seals a packet's length");
            black_box(tag);
        }
        Direction::Ingress => {
            let io = InOutBuf::new(&p.sealed, &mut p.buf).expect("buffers of one length");
            c.decrypt_inout_detached(&nonce, &[], io, &p.tag)
                .expect("the message sealed before the round opens");
        }
    }
}

/// One pass of `alg` over `p` in `dir`.
fn pass(alg: Algorithm, dir: Direction, key: &[u8], p: &mut Packet) {
    if alg == Algorithm::ChaCha20Poly1305 {
        return aead_pass(dir, key, p);
    }
    let buf = p.buf.as_mut_slice();
    let iv = [0u8; 16];
    macro_rules! run {
        ($aes:ty) => {
            match (alg, dir) {
                (Algorithm::CbcAes, Direction::Egress) => {
                    let c = cbc::Encryptor::<$aes>::new_from_slices(key, &iv).expect("key length");
                    let _ = c.encrypt_padded::<NoPadding>(buf, buf.len());
                }
                (Algorithm::CbcAes, Direction::Ingress) => {
                    let c = cbc::Decryptor::<$aes>::new_from_slices(key, &iv).expect("key length");
                    let _ = c.decrypt_padded::<NoPadding>(buf);
                }
                (Algorithm::EcbAes, Direction::Egress) => {
                    let c = ecb::Encryptor::<$aes>::new_from_slice(key).expect("key length");
                    let _ = c.encrypt_padded::<NoPadding>(buf, buf.len());
                }
                (Algorithm::EcbAes, Direction::Ingress) => {
                    let c = ecb::Decryptor::<$aes>::new_from_slice(key).expect("key length");
                    let _ = c.decrypt_padded::<NoPadding>(buf);
                }
                (Algorithm::ChaCha20Poly1305, _) => unreachable!("sealed by aead_pass"),
            }
        };
    }
    if key.len() == 32 {
        run!(Aes256)
    } else {
        run!(Aes128)
    }
}

/// ns per pass over `len` bytes, averaged over about `round_ms`.
fn round(alg: Algorithm, dir: Direction, key: &[u8], len: usize, round_ms: u64) -> f64 {
    let mut p = Packet::new(alg, key, len);
    let budget = std::time::Duration::from_millis(round_ms);
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed() < budget {
        for _ in 0..16 {
            pass(alg, dir, key, black_box(&mut p));
        }
        n += 16;
    }
    t0.elapsed().as_nanos() as f64 / n as f64
}

/// Measures every cipher of the plan's reference (AES modes, and
/// ChaCha20-Poly1305 when a variant runs it), direction and size, on CPU 0,
/// each with its key.
pub(crate) fn run(
    plan: &BenchPlan,
    h: &HardwarePlan,
    progress: &dyn Progress,
) -> Result<Vec<HardwarePoint>> {
    cpu::pin_current_thread(0);
    let mut out = Vec::new();
    for alg in plan.hardware_algorithms() {
        let implementation = implementation(alg);
        let key = plan.key_of(alg);
        for dir in [Direction::Egress, Direction::Ingress] {
            for &size in &plan.sizes {
                signals::check()?;
                progress.point(&format!(
                    "hardware {} {} {size} B",
                    alg.kernel_name(),
                    dir.as_str()
                ));
                let len = cipher_bytes(alg, size);
                round(alg, dir, key, len, h.round_ms.min(5));
                let ns: Vec<f64> = (0..h.rounds)
                    .map(|_| round(alg, dir, key, len, h.round_ms))
                    .collect();
                let ns = Stats::of(&ns);
                out.push(HardwarePoint {
                    algorithm: alg,
                    direction: dir,
                    size,
                    gbps: ns.as_ref().and_then(|s| s.map(|v| size as f64 * 8.0 / v)),
                    ns,
                    implementation: implementation.clone(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference really encrypts: FIPS-197 C.1 through ECB.
    #[test]
    fn the_reference_computes_aes() {
        let key: Vec<u8> = (0..16).collect();
        let mut p = Packet::new(Algorithm::EcbAes, &key, 16);
        p.buf = (0..16).map(|i| i * 0x11).collect();
        pass(Algorithm::EcbAes, Direction::Egress, &key, &mut p);
        let hex: String = p.buf.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "69c4e0d86a7b0430d8cdb78070b4c55a");
        pass(Algorithm::EcbAes, Direction::Ingress, &key, &mut p);
        assert_eq!(p.buf, (0..16).map(|i| i * 0x11).collect::<Vec<u8>>());
    }

    /// The ChaCha20-Poly1305 reference does a WireGuard sender's work: its
    /// seal of a padded 1500-byte packet is the transport message's sealed
    /// part (counter 0), and its open checks the tag and gives the packet
    /// back.
    #[test]
    fn the_reference_seals_as_wireguard() {
        use crate::dataplane::format::wireguard::reference::{self, HEADER};
        let alg = Algorithm::ChaCha20Poly1305;
        let key: [u8; 32] = std::array::from_fn(|i| i as u8 + 0x40);
        let packet: Vec<u8> = (0..1500u32).map(|i| (i * 7) as u8).collect();
        let len = cipher_bytes(alg, 1500);
        assert_eq!(len, 1504);
        let mut p = Packet::new(alg, &key, len);
        p.buf = reference::padded(&packet);
        pass(alg, Direction::Egress, &key, &mut p);
        let msg = reference::seal(&key, 1, 0, &packet);
        assert_eq!(p.buf, msg[HEADER..HEADER + len]);
        p.sealed = p.buf.clone();
        p.tag = Tag::try_from(&msg[HEADER + len..]).unwrap();
        p.buf.fill(0);
        pass(alg, Direction::Ingress, &key, &mut p);
        assert_eq!(p.buf, reference::padded(&packet));
    }
}
