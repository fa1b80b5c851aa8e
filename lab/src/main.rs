//! `lab`: the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use lab::session::exit;
use lab::{backend, plan, session, signals, summary_text};

/// Test harness and benchmark lab for eBPF packet encryption with bpf_crypto.
#[derive(Parser)]
#[command(name = "lab", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendKind {
    /// Namespaces on the running kernel.
    Host,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write results/<run-id>/.
    Run {
        /// Scenario file (YAML).
        scenario: PathBuf,
        /// Where to run it.
        #[arg(long, value_enum, default_value = "host")]
        backend: BackendKind,
        /// Results root folder.
        #[arg(long, env = "LAB_RESULTS_DIR", default_value = "results")]
        results_dir: PathBuf,
        /// Print only the summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Validate a scenario file without running it.
    Check {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("LAB_LOG"))
        .with_writer(std::io::stderr)
        .init();
    signals::install();
    let cli = Cli::parse();
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            if signals::interrupted() {
                eprintln!("lab: interrupted; cleaned up");
                exit::INTERRUPTED
            } else {
                eprintln!("lab: error: {e:#}");
                exit::USAGE
            }
        }
    };
    ExitCode::from(code as u8)
}

fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Run {
            scenario,
            backend,
            results_dir,
            quiet,
        } => {
            let plan = plan::load(&scenario)?;
            let backend: Box<dyn backend::Backend> = match backend {
                BackendKind::Host => Box::new(backend::host::Host),
            };
            let progress = |msg: &str| {
                if !quiet {
                    eprintln!("  · {msg}");
                }
            };
            eprintln!(
                "lab: running {} ({}) on {}",
                plan.name,
                plan.source,
                backend.name()
            );
            let (summary, path) = session::run(&plan, backend.as_ref(), &results_dir, &progress)
                .context("running the scenario")?;
            print!(
                "{}",
                summary_text::render(&summary, &path.display().to_string())
            );
            Ok(session::exit_code(summary.verdict))
        }
        Command::Check { scenarios } => {
            for s in &scenarios {
                let plan = plan::load(s)?;
                println!(
                    "{}: ok ({} steps, {} assertions)",
                    s.display(),
                    plan.steps.len(),
                    plan.assertions.len()
                );
            }
            Ok(exit::PASS)
        }
    }
}
