//! The lab's data plane as the bench uses it: one build, keyed for a
//! variant, optionally with a named AES driver (`cbc(aes-generic)`), and
//! for ESP with one SA each way under the same SPI, so that ingress takes
//! egress's output.

use anyhow::{Context, Result};

use crate::dataplane::DataPlane;
use crate::dataplane::esp::{Sa, SaDir};
use crate::domain::{BenchVariant, CipherSpec};
use crate::spec::bench_plan::{BenchPlan, Inject};

/// The ESP variants' SPI.
pub(crate) const SPI: u32 = 0x4000;

/// ESP's authentication key: the bench key with every byte inverted (the
/// bench file names one key).
pub(crate) fn auth_key(key: &[u8]) -> Vec<u8> {
    key.iter().take(16).map(|b| !b).collect()
}

/// The kernel name of `v`'s cipher with `driver` as its block cipher,
/// e.g. `cbc(aes-generic)`.
pub(crate) fn algo_name(v: BenchVariant, driver: &str) -> Option<String> {
    let mode = v.algorithm()?.kernel_name().split('(').next()?;
    Some(format!("{mode}({driver})"))
}

/// Which side of a paired bench a data plane is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arm {
    /// The lab's own objects (with `--inject`, the injected ones).
    Candidate,
    /// The plan's baseline objects (`--baseline`).
    Baseline,
}

/// Loads `v`'s build for `arm`: the candidate's is the embedded object (its
/// `--inject` object when the plan asks for one and the build has it), the
/// baseline's the plan's baseline object. Keys it with the plan's key: the
/// raw format (through `driver` when given), ESP with an inbound and an
/// outbound SA.
pub(crate) fn load_variant(
    plan: &BenchPlan,
    v: BenchVariant,
    driver: Option<&str>,
    arm: Arm,
) -> Result<DataPlane> {
    let key = &plan.key[..];
    let build = v
        .build()
        .with_context(|| format!("the {} variant has no data plane", v.as_str()))?;
    let dp = match arm {
        Arm::Baseline => {
            let b = plan.baseline.as_ref().context("the plan has no baseline")?;
            let bytes = b.object(build.as_str()).with_context(|| {
                format!(
                    "the baseline ({}) has no {} object",
                    b.label,
                    build.as_str()
                )
            })?;
            DataPlane::load_bytes(build, bytes)
                .with_context(|| format!("loading the baseline's {} object", build.as_str()))?
        }
        Arm::Candidate => match plan.inject {
            Some(Inject::ExtraCopy) => {
                DataPlane::load_extra_copy(build).unwrap_or_else(|| DataPlane::load(build))?
            }
            None => DataPlane::load(build)?,
        },
    };
    let Some(algorithm) = v.algorithm() else {
        return Ok(dp);
    };
    if v.is_esp() {
        let auth = auth_key(key);
        for dir in [SaDir::In, SaDir::Out] {
            let sa = Sa {
                spi: SPI,
                dir,
                enc_key: key,
                auth_key: &auth,
                activate: dir == SaDir::Out,
                seq_start: 0,
            };
            dp.add_sa(&sa)
                .with_context(|| format!("adding the {} SAs", v.as_str()))?;
        }
        return Ok(dp);
    }
    match driver.and_then(|d| algo_name(v, d)) {
        Some(name) => dp
            .provision_raw(&name, key, algorithm.iv_len())
            .with_context(|| format!("keying the data plane with {name}"))?,
        None => dp
            .provision(&CipherSpec {
                algorithm,
                key: key.to_vec(),
            })
            .with_context(|| format!("keying the {} data plane", v.as_str()))?,
    };
    Ok(dp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_names_keep_the_mode() {
        assert_eq!(
            algo_name(BenchVariant::CbcInPlace, "aes-generic").as_deref(),
            Some("cbc(aes-generic)")
        );
        assert_eq!(
            algo_name(BenchVariant::Ecb, "aes-aesni").as_deref(),
            Some("ecb(aes-aesni)")
        );
        assert_eq!(algo_name(BenchVariant::Copy, "aes-generic"), None);
        assert_eq!(auth_key(&[0u8; 32]), vec![0xff; 16]);
    }
}
