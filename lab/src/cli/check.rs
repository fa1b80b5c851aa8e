//! `lab check SCENARIO…`: validate scenario files without running them.

use std::path::PathBuf;

use anyhow::Result;

use crate::output::exit;
use crate::spec::scenario;

pub(crate) fn check(scenarios: &[PathBuf]) -> Result<i32> {
    for s in scenarios {
        let plan = scenario::load(s)?;
        println!(
            "{}: ok ({} steps, {} assertions)",
            s.display(),
            plan.steps.len(),
            plan.assertions.len()
        );
    }
    Ok(exit::PASS)
}
