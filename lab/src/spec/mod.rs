//! The lab's YAML files, parsed with locations and validated: scenarios
//! into [`plan::Plan`], bench files into [`bench_plan::BenchPlan`]. Every
//! error names the file, line, column and field ([`error::SpecError`]);
//! the field validators live once, in [`fields`].

pub(crate) mod baseline;
pub(crate) mod bench;
pub(crate) mod bench_file;
pub(crate) mod bench_plan;
pub(crate) mod checks;
pub(crate) mod dataplane;
pub(crate) mod error;
pub(crate) mod fields;
pub(crate) mod kind;
pub(crate) mod limits;
pub(crate) mod paths;
pub(crate) mod plan;
pub(crate) mod scenario;
pub(crate) mod scenario_file;
pub(crate) mod steps;
pub(crate) mod wireguard;
mod yaml;
