//! The end-to-end test bed: the scenario topology (two namespaces, one
//! veth) with one variant's data plane attached to both ends, or none.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::micro::load_variant;
use crate::dataplane::DataPlane;
use crate::domain::{BenchVariant, Counters, Side};
use crate::exec::scenario::setup::attach;
use crate::spec::bench_plan::BenchPlan;
use crate::sys::topology::Topology;

/// Namespaces, veth and (unless `none`) a data plane per end. Dropping
/// it detaches and unloads everything.
pub(crate) struct Bed {
    /// The data planes, by side (empty for `none`). Dropped before the topology.
    planes: Vec<(Side, DataPlane)>,
    /// Namespaces and veth.
    pub(crate) topo: Topology,
}

impl Bed {
    /// Builds the topology and attaches variant `v` on both ends.
    pub(crate) fn build(plan: &BenchPlan, v: BenchVariant) -> Result<Self> {
        let topo = Topology::build(plan.left, plan.right, plan.mtu, plan.inner_mtu())
            .context("building the bench topology")?;
        let mut planes = Vec::new();
        if v != BenchVariant::NoProgram {
            for side in Side::BOTH {
                let mut dp = load_variant(v, &plan.key)?;
                attach(&mut dp, topo.end(side))?;
                planes.push((side, dp));
            }
        }
        Ok(Self { planes, topo })
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
