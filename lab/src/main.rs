//! `lab`: the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use lab::backend::{self, Backend};
use lab::kernels::{self, Catalog};
use lab::session::exit;
use lab::vm::boot::VmOptions;
use lab::{matrix, plan, probe, session, signals, summary_text};

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
    /// A catalog kernel booted under QEMU (needs --kernel).
    Qemu,
    /// virtme-ng (optional; needs `vng` installed).
    Vng,
}

#[derive(Args, Clone)]
struct VmArgs {
    /// Time limit for one VM boot, seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Guest memory, MiB.
    #[arg(long, default_value_t = 512)]
    memory: u32,
}

impl VmArgs {
    fn options(&self) -> VmOptions {
        VmOptions { timeout: Duration::from_secs(self.timeout), memory_mb: self.memory }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write results/<run-id>/.
    Run {
        /// Scenario file (YAML).
        scenario: PathBuf,
        /// Where to run it: `host` by default, `qemu` when --kernel is given.
        #[arg(long, value_enum)]
        backend: Option<BackendKind>,
        /// Catalog kernel for the VM backends (see `lab kernels list`).
        #[arg(long)]
        kernel: Option<String>,
        #[command(flatten)]
        vm: VmArgs,
        /// Results root folder.
        #[arg(long, env = "LAB_RESULTS_DIR", default_value = "results")]
        results_dir: PathBuf,
        /// Print only the summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Validate scenario files without running them.
    Check {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Manage the kernel catalog (kernels/kernels.yaml) and its cache.
    Kernels {
        #[command(subcommand)]
        command: KernelsCommand,
    },
    /// Which cipher names bpf_crypto_ctx_create accepts, with errnos.
    Probe {
        /// Probe this catalog kernel in a VM instead of the running kernel.
        #[arg(long)]
        kernel: Option<String>,
        /// Cipher names (default: a fixed list of common ones).
        #[arg(long = "cipher")]
        ciphers: Vec<String>,
        #[command(flatten)]
        vm: VmArgs,
    },
    /// Run a scenario on every catalog kernel (and the host) into one result.
    Matrix {
        /// Scenario file (YAML).
        scenario: PathBuf,
        /// Only these catalog kernels (comma separated).
        #[arg(long, value_delimiter = ',')]
        kernels: Vec<String>,
        /// Leave the host out.
        #[arg(long)]
        no_host: bool,
        #[command(flatten)]
        vm: VmArgs,
        /// Results root folder.
        #[arg(long, env = "LAB_RESULTS_DIR", default_value = "results")]
        results_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum KernelsCommand {
    /// List catalog kernels with their locked version and cache state.
    List,
    /// Download and extract kernels (all when none named).
    Fetch {
        /// Re-resolve to the newest versions and rewrite the lock file.
        #[arg(long)]
        update: bool,
        /// Catalog names.
        names: Vec<String>,
    },
}

fn main() -> ExitCode {
    if lab::guest::is_init() {
        lab::guest::main();
    }
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

/// The repository root: the nearest ancestor of the working directory with
/// `kernels/kernels.yaml`.
fn repo_root() -> Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    cwd.ancestors()
        .find(|d| d.join("kernels/kernels.yaml").is_file())
        .map(Path::to_path_buf)
        .with_context(|| format!("no kernels/kernels.yaml in {} or its parents: run lab from the repository", cwd.display()))
}

fn catalog() -> Result<Catalog> {
    Ok(Catalog::load(&repo_root()?)?)
}

fn progress_printer(quiet: bool) -> impl Fn(&str) {
    move |msg: &str| {
        if !quiet {
            eprintln!("  · {msg}");
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Run { scenario, backend, kernel, vm, results_dir, quiet } => {
            let plan = plan::load(&scenario)?;
            let kind = backend.unwrap_or(if kernel.is_some() { BackendKind::Qemu } else { BackendKind::Host });
            let backend: Box<dyn Backend> = match kind {
                BackendKind::Host => {
                    if let Some(k) = &kernel {
                        bail!("--kernel {k} needs a VM backend; drop --backend host");
                    }
                    Box::new(backend::host::Host { probe: Vec::new() })
                }
                BackendKind::Qemu => {
                    let name = kernel.context("--backend qemu needs --kernel NAME (see `lab kernels list`)")?;
                    let catalog = catalog()?;
                    let k = kernels::cached(&catalog, &name)?;
                    Box::new(backend::qemu::Qemu {
                        kernel: k,
                        cache_dir: catalog.paths.cache.clone(),
                        options: vm.options(),
                        probe: Vec::new(),
                    })
                }
                BackendKind::Vng => bail!(
                    "the vng backend is not available in this build: virtme-ng needs virtiofsd or 9p, which the \
                     Debian cloud kernels lack; use --backend qemu"
                ),
            };
            eprintln!("lab: running {} ({}) on {}", plan.name, plan.source, backend.name());
            let progress = progress_printer(quiet);
            let (summary, path) =
                session::run(&plan, backend.as_ref(), &results_dir, &progress).context("running the scenario")?;
            print!("{}", summary_text::render(&summary, &path.display().to_string()));
            Ok(session::exit_code(summary.verdict))
        }
        Command::Check { scenarios } => {
            for s in &scenarios {
                let plan = plan::load(s)?;
                println!("{}: ok ({} steps, {} assertions)", s.display(), plan.steps.len(), plan.assertions.len());
            }
            Ok(exit::PASS)
        }
        Command::Kernels { command } => {
            let catalog = catalog()?;
            match command {
                KernelsCommand::List => {
                    println!("{:<14} {:<20} {:<28} {:<8} release", "name", "suite", "locked version", "cached");
                    for k in kernels::list(&catalog) {
                        println!(
                            "{:<14} {:<20} {:<28} {:<8} {}",
                            k.name,
                            k.suite,
                            k.locked_version.as_deref().unwrap_or("-"),
                            if k.cached { "yes" } else { "no" },
                            k.release.as_deref().unwrap_or("-")
                        );
                    }
                }
                KernelsCommand::Fetch { update, names } => {
                    for k in kernels::fetch(&catalog, &names, update)? {
                        println!("{}: {} ({:?}) in {}", k.name, k.version, k.boot_kind, k.kernel_image.display());
                    }
                }
            }
            Ok(exit::PASS)
        }
        Command::Probe { kernel, ciphers, vm } => {
            let ciphers: Vec<String> =
                if ciphers.is_empty() { probe::DEFAULT_CIPHERS.iter().map(|s| s.to_string()).collect() } else { ciphers };
            let (where_, report) = match kernel {
                None => {
                    backend::host::preflight()?;
                    if !lab::dataplane::kernel_has_bpf_crypto() {
                        println!("host ({}): unsupported: no bpf_crypto kfuncs", backend::host::kernel_release());
                        return Ok(exit::UNSUPPORTED);
                    }
                    (format!("host ({})", backend::host::kernel_release()), probe::probe(&ciphers)?)
                }
                Some(name) => {
                    let catalog = catalog()?;
                    let k = kernels::cached(&catalog, &name)?;
                    let job = lab::guest::protocol::GuestJob { probe: ciphers, plan: None };
                    let tmp = tempfile::tempdir()?;
                    let b = lab::vm::boot::boot(&k, &catalog.paths.cache, &job, tmp.path(), vm.options(), &progress_printer(false))?;
                    if let Some(f) = b.failure {
                        bail!("{name}: {f}");
                    }
                    match b.result.and_then(|r| r.probe) {
                        Some(Ok(p)) => (format!("{name} ({}, {})", k.version, b.accel.accel.as_str()), p),
                        Some(Err(why)) => {
                            println!("{name}: unsupported: {why}");
                            return Ok(exit::UNSUPPORTED);
                        }
                        None => bail!("{name}: the guest returned no probe"),
                    }
                }
            };
            println!("bpf_crypto_ctx_create on {where_}:");
            for e in &report.entries {
                println!("  {:<20} {}", e.cipher, e.error.as_deref().unwrap_or("ok"));
            }
            Ok(exit::PASS)
        }
        Command::Matrix { scenario, kernels, no_host, vm, results_dir } => {
            let plan = plan::load(&scenario)?;
            let catalog = catalog()?;
            let opts = matrix::MatrixOptions { host: !no_host, kernels, vm: vm.options() };
            let (m, path) = matrix::run(&plan, &catalog, &results_dir, &opts)?;
            println!("{}", matrix::render(&m));
            println!("→ {}", path.display());
            Ok(if m.all_passed() { exit::PASS } else { exit::FAIL })
        }
    }
}
