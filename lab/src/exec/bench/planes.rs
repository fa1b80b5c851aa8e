//! The lab's data plane as the bench uses it: one build, keyed for a
//! variant by its wire format, optionally with a named AES driver
//! (`cbc(aes-generic)`), receiving what it sends (one SPI each way, where
//! the format has SPIs), so that ingress takes egress's output.

use anyhow::{Context, Result};

use crate::dataplane::DataPlane;
use crate::dataplane::format::{self, Keys};
use crate::domain::BenchVariant;
use crate::spec::bench_plan::{BenchPlan, Inject};

/// The SPI of both directions, where the format has SPIs.
const SPI: u32 = 0x4000;

/// The authentication key, where the format authenticates: the bench key
/// with every byte inverted (the bench file names one key).
pub(crate) fn auth_key(key: &[u8]) -> Vec<u8> {
    key.iter().take(16).map(|b| !b).collect()
}

/// The plan's key for `v`'s cipher (`chacha20_key` for ChaCha20-Poly1305,
/// `key` for AES); the AES key for a variant without a cipher.
pub(crate) fn variant_key(plan: &BenchPlan, v: BenchVariant) -> &[u8] {
    v.algorithm().map_or(&plan.key[..], |a| plan.key_of(a))
}

/// The keys of a crypto variant's data plane: `v`'s cipher, its key
/// ([`variant_key`]) and [`auth_key`] of it (`auth`), through `driver` when named.
/// `None` for a variant without a cipher.
pub(crate) fn keys<'a>(
    v: BenchVariant,
    key: &'a [u8],
    auth: &'a [u8],
    driver: Option<&'a str>,
) -> Option<Keys<'a>> {
    let alg = v.algorithm()?;
    Some(Keys::new(alg, key, auth).spis(SPI, SPI).driver(driver))
}

/// The kernel name of `v`'s cipher with `driver` as its block cipher,
/// e.g. `cbc(aes-generic)`.
pub(crate) fn algo_name(v: BenchVariant, driver: &str) -> Option<String> {
    Some(v.algorithm()?.with_driver(driver))
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
/// baseline's the plan's baseline object. Keys it with its cipher's key
/// ([`keys`]) as its wire format does.
pub(crate) fn load_variant(
    plan: &BenchPlan,
    v: BenchVariant,
    driver: Option<&str>,
    arm: Arm,
) -> Result<DataPlane> {
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
        Arm::Candidate if plan.user_object(build).is_some() => {
            let bytes = plan.user_object(build).unwrap_or_default();
            DataPlane::load_bytes(build, bytes).context("loading your data plane object")?
        }
        Arm::Candidate => match plan.inject {
            Some(Inject::ExtraCopy) => {
                DataPlane::load_extra_copy(build).unwrap_or_else(|| DataPlane::load(build))?
            }
            None => DataPlane::load(build)?,
        },
    };
    provision(plan, v, driver, &dp)?;
    Ok(dp)
}

/// Keys `dp`, a data plane of `v`, as its wire format does, with its
/// cipher's key ([`variant_key`]) through `driver` when named; nothing for
/// a variant without a cipher.
fn provision(
    plan: &BenchPlan,
    v: BenchVariant,
    driver: Option<&str>,
    dp: &DataPlane,
) -> Result<()> {
    let key = variant_key(plan, v);
    let auth = auth_key(key);
    let (Some((f, _)), Some(k)) = (format::of_variant(v), keys(v, key, &auth, driver)) else {
        return Ok(());
    };
    f.provision(dp, &k).with_context(|| match driver {
        Some(d) => format!("keying the data plane with {}", k.algorithm.with_driver(d)),
        None => format!("keying the {} data plane", v.as_str()),
    })
}

/// Keys `v`'s data planes `dps` afresh when its keys expire: a format
/// keyed by a handshake (WireGuard) rejects a keypair after its lifetime
/// (180 s), which a bench's interleaved rounds outlast, and its peer
/// would have handshaken again by then. Called before each round (a
/// micro pass); the keypair starts over, its send counter and replay
/// window too. Other formats' keys do not expire: nothing is done.
pub(crate) fn refresh<'a>(
    plan: &BenchPlan,
    v: BenchVariant,
    driver: Option<&str>,
    dps: impl IntoIterator<Item = &'a DataPlane>,
) -> Result<()> {
    if !format::of_variant(v).is_some_and(|(f, _)| f.handshake()) {
        return Ok(());
    }
    for dp in dps {
        provision(plan, v, driver, dp)?;
    }
    Ok(())
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
