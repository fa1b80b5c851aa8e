//! The hardware reference: userspace AES on one core with RustCrypto's
//! `aes` (AES-NI when the CPU has it, detected at run time), same modes
//! and the same cipher bytes per packet as the data plane. What the CPU
//! can do without the kernel: the physical limit line of the report.

use std::hint::black_box;
use std::time::Instant;

use aes::Aes128;
use aes::Aes256;
use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use anyhow::Result;

use super::cpu;
use super::frames::cipher_len;
use crate::domain::{Algorithm, Direction};
use crate::job::bench::HardwarePoint;
use crate::job::stats::Stats;
use crate::output::progress::Progress;
use crate::spec::bench_plan::{BenchPlan, HardwarePlan};
use crate::sys::signals;

/// What runs the reference, for the report.
pub(crate) fn implementation() -> String {
    let ni = if std::arch::is_x86_feature_detected!("aes") {
        "AES-NI"
    } else {
        "no AES-NI: table-free software AES"
    };
    format!("RustCrypto aes 0.9 with cbc/ecb 0.2, one core ({ni})")
}

/// One pass of `alg` over `buf` in `dir`, in place.
fn pass(alg: Algorithm, dir: Direction, key: &[u8], buf: &mut [u8]) {
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
                (Algorithm::ChaCha20Poly1305, _) => {
                    unreachable!("the AES reference runs the AES modes only")
                }
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
    let mut buf = vec![0x5au8; len];
    let budget = std::time::Duration::from_millis(round_ms);
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed() < budget {
        for _ in 0..16 {
            pass(alg, dir, key, black_box(&mut buf));
        }
        n += 16;
    }
    t0.elapsed().as_nanos() as f64 / n as f64
}

/// Measures every mode, direction and size of `plan`, on CPU 0.
pub(crate) fn run(
    plan: &BenchPlan,
    h: &HardwarePlan,
    progress: &dyn Progress,
) -> Result<Vec<HardwarePoint>> {
    cpu::pin_current_thread(0);
    let implementation = implementation();
    let mut out = Vec::new();
    for alg in [Algorithm::EcbAes, Algorithm::CbcAes] {
        for dir in [Direction::Egress, Direction::Ingress] {
            for &size in &plan.sizes {
                signals::check()?;
                progress.point(&format!(
                    "hardware {} {} {size} B",
                    alg.kernel_name(),
                    dir.as_str()
                ));
                let len = cipher_len(size) as usize;
                round(alg, dir, &plan.key, len, h.round_ms.min(5));
                let ns: Vec<f64> = (0..h.rounds)
                    .map(|_| round(alg, dir, &plan.key, len, h.round_ms))
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
        let mut block: Vec<u8> = (0..16).map(|i| i * 0x11).collect();
        pass(Algorithm::EcbAes, Direction::Egress, &key, &mut block);
        let hex: String = block.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "69c4e0d86a7b0430d8cdb78070b4c55a");
        pass(Algorithm::EcbAes, Direction::Ingress, &key, &mut block);
        assert_eq!(block, (0..16).map(|i| i * 0x11).collect::<Vec<u8>>());
    }
}
