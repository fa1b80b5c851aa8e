//! The end-to-end test bed: the scenario topology (two namespaces, one
//! veth) with one variant on both ends: the lab's data plane in one of its
//! builds, the kernel's ESP or WireGuard, or nothing.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use anyhow::{Context, Result};

use super::planes::{Arm, load_variant};
use super::stacks;
use crate::dataplane::DataPlane;
use crate::domain::{BenchVariant, Counters, Side, Unsupported};
use crate::exec::scenario::setup::attach;
use crate::spec::bench_plan::BenchPlan;
use crate::sys::topology::{self, Topology};

/// Namespaces, veth and the variant on each end. Dropping it detaches and
/// unloads everything (the kernel's stacks go with the namespaces).
pub(crate) struct Bed {
    /// The data planes, by side (empty but for the lab's variants).
    /// Dropped before the topology.
    planes: Vec<(Side, DataPlane)>,
    /// Namespaces and veth.
    pub(crate) topo: Topology,
    /// Where traffic goes from and to: the veth addresses, or a tunnel's.
    pub(crate) src: Ipv4Addr,
    pub(crate) dst: Ipv4Addr,
    /// Device settings the variant needs, for the report.
    pub(crate) settings: Option<String>,
}

impl Bed {
    /// Builds the topology and sets variant `v` up on both ends (our
    /// builds from `arm`'s objects); an [`Unsupported`] error when the kernel
    /// does not have it.
    pub(crate) fn build(plan: &BenchPlan, v: BenchVariant, arm: Arm) -> Result<Self> {
        let topo = Topology::build(plan.left, plan.right, plan.mtu, plan.inner_mtu(v))
            .context("building the bench topology")?;
        let (mut src, mut dst) = (plan.left.addr, plan.right.addr);
        let mut planes = Vec::new();
        let mut settings = None;
        if let Some(stack) = v.kernel_stack() {
            (src, dst) = stacks::set_up(plan, &topo, stack)?;
        } else if v.build().is_some() {
            for side in Side::BOTH {
                let mut dp = load_variant(plan, v, None, arm)?;
                attach(&mut dp, topo.end(side))?;
                planes.push((side, dp));
            }
            if v != BenchVariant::Noop {
                // One segment per packet: the data plane drops GSO packets.
                for side in Side::BOTH {
                    let end = topo.end(side);
                    let ifname = end.ifname;
                    end.ns
                        .run(move || topology::set_gso_max_segs(ifname, 1))
                        .context("netlink thread")??;
                }
                settings = Some("gso_max_segs 1".to_string());
            }
        }
        Ok(Self {
            planes,
            topo,
            src,
            dst,
            settings,
        })
    }

    /// Keys this bed's data planes of `v` afresh where its keys expire
    /// ([`super::planes::refresh`]): before each round.
    pub(crate) fn refresh(&self, plan: &BenchPlan, v: BenchVariant) -> Result<()> {
        super::planes::refresh(plan, v, None, self.planes.iter().map(|(_, dp)| dp))
    }

    /// Counters per end (`left`, `right`); empty without a data plane.
    pub(crate) fn counters(&self) -> Result<BTreeMap<String, Counters>> {
        let mut out = BTreeMap::new();
        for (side, dp) in &self.planes {
            out.insert(side.as_str().to_string(), dp.counters()?);
        }
        Ok(out)
    }
}

/// Variants the kernel lacks, with the reason.
pub(crate) type Missing = Vec<(BenchVariant, String)>;

/// Builds the bed of every variant, the baseline first; variants the
/// kernel lacks come back with their reason.
pub(crate) fn build_all(plan: &BenchPlan) -> Result<(Vec<(BenchVariant, Bed)>, Missing)> {
    let mut beds = Vec::new();
    let mut missing = Vec::new();
    for v in std::iter::once(BenchVariant::NoProgram).chain(plan.variants.iter().copied()) {
        match Bed::build(plan, v, Arm::Candidate) {
            Ok(bed) => beds.push((v, bed)),
            Err(e) => match Unsupported::of(&e) {
                Some(why) => missing.push((v, why.to_string())),
                None => return Err(e),
            },
        }
    }
    Ok((beds, missing))
}
/// The baseline's bed of every variant of `beds` that runs our data plane
/// (a paired bench); the others do not depend on the objects.
pub(crate) fn build_baselines(
    plan: &BenchPlan,
    beds: &[(BenchVariant, Bed)],
) -> Result<Vec<(BenchVariant, Bed)>> {
    let mut out = Vec::new();
    for (v, _) in beds.iter().filter(|(v, _)| v.build().is_some()) {
        let bed = Bed::build(plan, *v, Arm::Baseline)
            .with_context(|| format!("the baseline's {} bed", v.as_str()))?;
        out.push((*v, bed));
    }
    Ok(out)
}

/// Counter increases per end between two readings (changed counters only).
pub(crate) fn counter_delta(
    before: &BTreeMap<String, Counters>,
    after: &BTreeMap<String, Counters>,
) -> BTreeMap<String, Counters> {
    after
        .iter()
        .map(|(side, c)| {
            let b = before.get(side);
            let d = c
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.saturating_sub(b.and_then(|b| b.get(k)).copied().unwrap_or(0)),
                    )
                })
                .filter(|(_, d)| *d > 0)
                .collect();
            (side.clone(), d)
        })
        .collect()
}

/// Adds `d` into `acc`, per end and counter.
pub(crate) fn counter_add(acc: &mut BTreeMap<String, Counters>, d: &BTreeMap<String, Counters>) {
    for (side, c) in d {
        let a = acc.entry(side.clone()).or_default();
        for (k, v) in c {
            *a.entry(k.clone()).or_insert(0) += v;
        }
    }
}
