//! `lab compare`: two saved benches, figure by figure. Each figure in both
//! runs gets old, new, their ratio and a verdict; a change is marked only
//! where the intervals do not overlap, and a change for the worse beyond
//! the limit is a regression (exit 1). Figures in one run only are listed,
//! never dropped. The reader is lenient (plain JSON), so variants and
//! fields added to the bench later compare without changes here.

mod error;
mod figures;
mod judge;
mod lone;
pub(crate) mod metric;
pub(crate) mod render;

use std::path::Path;

use error::CompareError;

pub(crate) use judge::{Comparison, Interval, Options, Verdict};
pub(crate) use render::{markdown, terminal};

/// Reads two `bench.json` files and compares them.
pub(crate) fn compare(
    old: &Path,
    new: &Path,
    options: Options,
) -> Result<Comparison, CompareError> {
    let a = figures::load(old)?;
    let b = figures::load(new)?;
    judge::compare(&a, &b, options)
}
