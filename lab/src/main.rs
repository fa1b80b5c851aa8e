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
        VmOptions {
            timeout: Duration::from_secs(self.timeout),
            memory_mb: self.memory,
        }
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
    /// Measure throughput and cost per cipher; write bench.json, plots and a report.
    Bench(BenchArgs),
    /// Regenerate the plots and report of a saved bench without rerunning it.
    Report {
        /// Run id under the results folder, or a run folder, or a bench.json.
        run: String,
        /// Write the report into this folder instead of next to bench.json.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Results root folder.
        #[arg(long, env = "LAB_RESULTS_DIR", default_value = "results")]
        results_dir: PathBuf,
    },
    /// Inside a `--backend vng` VM: load modules, run a job, write the result.
    #[command(hide = true)]
    GuestRun {
        /// The job (JSON).
        #[arg(long)]
        job: PathBuf,
        /// Kernel modules to load first, in file-name order.
        #[arg(long)]
        modules: Option<PathBuf>,
        /// Writable folder for the result archive.
        #[arg(long)]
        out: PathBuf,
        /// Kernel release the job is for (refuses to run elsewhere).
        #[arg(long)]
        kernel_release: String,
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

/// Arguments of `lab bench`.
#[derive(Args)]
struct BenchArgs {
    /// Bench file (YAML), e.g. scenarios/bench.yaml.
    bench: PathBuf,
    /// `host` (default) or a catalog kernel to boot under QEMU.
    #[arg(long)]
    kernel: Option<String>,
    /// The host and every cached catalog kernel, into one result.
    #[arg(long, conflicts_with = "kernel")]
    matrix: bool,
    /// Shortened rounds and durations (smoke test).
    #[arg(long)]
    quick: bool,
    #[command(flatten)]
    vm: VmArgs,
    /// Results root folder.
    #[arg(long, env = "LAB_RESULTS_DIR", default_value = "results")]
    results_dir: PathBuf,
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
        .with_context(|| {
            format!(
                "no kernels/kernels.yaml in {} or its parents: run lab from the repository",
                cwd.display()
            )
        })
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
        Command::Run {
            scenario,
            backend,
            kernel,
            vm,
            results_dir,
            quiet,
        } => {
            let plan = plan::load(&scenario)?;
            let kind = backend.unwrap_or(if kernel.is_some() {
                BackendKind::Qemu
            } else {
                BackendKind::Host
            });
            let backend: Box<dyn Backend> = match kind {
                BackendKind::Host => {
                    if let Some(k) = &kernel {
                        bail!("--kernel {k} needs a VM backend; drop --backend host");
                    }
                    Box::new(backend::host::Host { probe: Vec::new() })
                }
                BackendKind::Qemu => {
                    let name = kernel
                        .context("--backend qemu needs --kernel NAME (see `lab kernels list`)")?;
                    let catalog = catalog()?;
                    let k = kernels::cached(&catalog, &name)?;
                    Box::new(backend::qemu::Qemu {
                        kernel: k,
                        cache_dir: catalog.paths.cache.clone(),
                        options: vm.options(),
                        probe: Vec::new(),
                    })
                }
                BackendKind::Vng => {
                    let name = kernel
                        .context("--backend vng needs --kernel NAME (see `lab kernels list`)")?;
                    let catalog = catalog()?;
                    let k = kernels::cached(&catalog, &name)?;
                    let tools = backend::vng::preflight(&k)?;
                    Box::new(backend::vng::Vng {
                        kernel: k,
                        cache_dir: catalog.paths.cache.clone(),
                        options: vm.options(),
                        probe: Vec::new(),
                        tools,
                    })
                }
            };
            eprintln!(
                "lab: running {} ({}) on {}",
                plan.name,
                plan.source,
                backend.name()
            );
            let progress = progress_printer(quiet);
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
        Command::Kernels { command } => {
            let catalog = catalog()?;
            match command {
                KernelsCommand::List => {
                    println!(
                        "{:<14} {:<20} {:<28} {:<8} release",
                        "name", "suite", "locked version", "cached"
                    );
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
                        println!(
                            "{}: {} ({:?}) in {}",
                            k.name,
                            k.version,
                            k.boot_kind,
                            k.kernel_image.display()
                        );
                    }
                }
            }
            Ok(exit::PASS)
        }
        Command::Probe {
            kernel,
            ciphers,
            vm,
        } => {
            let ciphers: Vec<String> = if ciphers.is_empty() {
                probe::DEFAULT_CIPHERS
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            } else {
                ciphers
            };
            let (where_, report) = match kernel {
                None => {
                    backend::host::preflight()?;
                    if !lab::dataplane::kernel_has_bpf_crypto() {
                        println!(
                            "host ({}): unsupported: no bpf_crypto kfuncs",
                            backend::host::kernel_release()
                        );
                        return Ok(exit::UNSUPPORTED);
                    }
                    (
                        format!("host ({})", backend::host::kernel_release()),
                        probe::probe(&ciphers)?,
                    )
                }
                Some(name) => {
                    let catalog = catalog()?;
                    let k = kernels::cached(&catalog, &name)?;
                    let job = lab::guest::protocol::GuestJob {
                        probe: ciphers,
                        plan: None,
                    };
                    let tmp = tempfile::tempdir()?;
                    let b = lab::vm::boot::boot(
                        &k,
                        &catalog.paths.cache,
                        &job,
                        tmp.path(),
                        vm.options(),
                        &progress_printer(false),
                    )?;
                    if let Some(f) = b.failure {
                        bail!("{name}: {f}");
                    }
                    match b.result.and_then(|r| r.probe) {
                        Some(Ok(p)) => (
                            format!("{name} ({}, {})", k.version, b.accel.accel.as_str()),
                            p,
                        ),
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
        Command::Bench(args) => bench(args),
        Command::Report {
            run,
            out,
            results_dir,
        } => {
            let json = lab::bench::session::resolve(&run, &results_dir)?;
            let doc = lab::bench::session::load(&json)?;
            let dir = match out {
                Some(d) => d,
                None => json.parent().map(Path::to_path_buf).unwrap_or_default(),
            };
            let files = lab::report::generate(&doc, &dir)?;
            println!(
                "{} files written to {}: {}",
                files.len(),
                dir.display(),
                files.join(", ")
            );
            Ok(exit::PASS)
        }
        Command::GuestRun {
            job,
            modules,
            out,
            kernel_release,
        } => {
            lab::guest::run_as_process::run(&lab::guest::run_as_process::GuestRun {
                job,
                modules,
                out,
                kernel_release,
            })?;
            Ok(exit::PASS)
        }
        Command::Matrix {
            scenario,
            kernels,
            no_host,
            vm,
            results_dir,
        } => {
            let plan = plan::load(&scenario)?;
            let catalog = catalog()?;
            let opts = matrix::MatrixOptions {
                host: !no_host,
                kernels,
                vm: vm.options(),
            };
            let (m, path) = matrix::run(&plan, &catalog, &results_dir, &opts)?;
            println!("{}", matrix::render(&m));
            println!("→ {}", path.display());
            Ok(if m.all_passed() {
                exit::PASS
            } else {
                exit::FAIL
            })
        }
    }
}

/// `lab bench`: targets from the flags, run, summary, exit code.
fn bench(args: BenchArgs) -> Result<i32> {
    use lab::bench::session::{self as bench_session, Target};
    let mut plan = lab::bench::spec::load(&args.bench)?;
    if args.quick {
        plan = plan.quick();
    }
    let (targets, catalog) = if args.matrix {
        let catalog = catalog()?;
        (bench_session::matrix_targets(&catalog), Some(catalog))
    } else {
        match args.kernel.as_deref() {
            None | Some("host") => (vec![Target::Host], None),
            Some(k) => (vec![Target::Kernel(k.to_string())], Some(catalog()?)),
        }
    };
    let names: Vec<&str> = targets.iter().map(|t| t.name()).collect();
    eprintln!(
        "lab: bench {} ({}) on {}",
        plan.name,
        plan.source,
        names.join(", ")
    );
    let (doc, path) = bench_session::run(
        &plan,
        &targets,
        catalog.as_ref(),
        &args.results_dir,
        args.vm.options(),
    )?;
    print!("{}", bench_session::render(&doc, &path));
    Ok(if doc.targets.iter().all(|t| t.unsupported.is_some()) {
        exit::UNSUPPORTED
    } else if doc.targets.iter().any(|t| t.has_failures()) {
        exit::FAIL
    } else {
        exit::PASS
    })
}
