//! The command line: clap types ([`args`]) and one short function per
//! subcommand.

mod args;
mod audit;
mod baseline;
mod bench;
mod calibrate;
mod check;
mod compare;
mod dataplane;
mod fuzz;
mod kernels;
mod matrix;
mod parallel;
mod probe;
mod repo;
mod report;
mod run;
mod vm_loop;

use anyhow::Result;
use clap::Parser;

use crate::guest::{self, GuestRun};
use args::{Cli, Command};

/// Parses the command line and runs the command; returns its exit code.
/// `Err` is a harness problem (bad input, missing privileges, a damaged
/// cache) or an interrupt.
pub(crate) fn main() -> Result<i32> {
    dispatch(Cli::parse().command)
}

fn dispatch(command: Command) -> Result<i32> {
    match command {
        Command::Run(a) => run::run(a),
        Command::Check { scenarios } => check::check(&scenarios),
        Command::Kernels { command } => kernels::kernels(command),
        Command::Probe(a) => probe::probe(a),
        Command::Bench(a) if a.calibrate => calibrate::calibrate(&a),
        Command::Bench(a) => bench::bench(a),
        Command::Report { run, out, results } => report::report(&run, out, &results.results_dir),
        Command::GuestRun {
            job,
            modules,
            out,
            kernel_release,
        } => {
            guest::guest_run(&GuestRun {
                job,
                modules,
                out,
                kernel_release,
            })?;
            Ok(crate::output::exit::PASS)
        }
        Command::Matrix(a) => matrix::matrix(a),
        Command::Compare(a) => compare::compare(a),
        Command::Fuzz(a) => fuzz::fuzz(a),
        Command::Audit(a) => audit::audit(a),
        Command::ExecTied { program, args } => crate::sys::tied::run(&program, &args),
    }
}
