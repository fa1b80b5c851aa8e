//! `lab check FILE…`: validate scenario and bench files without running
//! them.

use std::path::PathBuf;

use anyhow::Result;

use crate::output::exit;
use crate::spec::kind::{self, FileKind};
use crate::spec::{bench, scenario};

pub(crate) fn check(files: &[PathBuf]) -> Result<i32> {
    for f in files {
        match kind::detect(f)? {
            FileKind::Scenario => {
                let mut plan = scenario::load(f)?;
                super::dataplane::apply(&mut plan, None)?;
                println!(
                    "{}: ok ({} steps, {} assertions)",
                    f.display(),
                    plan.steps.len(),
                    plan.assertions.len()
                );
            }
            FileKind::Bench => {
                let plan = bench::load(f)?;
                println!(
                    "{}: ok (bench: {} sizes, {} variants)",
                    f.display(),
                    plan.sizes.len(),
                    plan.variants.len()
                );
            }
        }
    }
    Ok(exit::PASS)
}
