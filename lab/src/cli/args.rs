//! The clap types of the command line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::kernels::LocalSource;
use crate::output::compare::{Interval, Options};
use crate::spec::bench_plan::Inject;
use crate::target::Backend;
use crate::vm::VmOptions;

/// Test harness and benchmark lab for eBPF packet encryption with bpf_crypto.
#[derive(Parser)]
#[command(name = "lab", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where to run: `--backend`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BackendKind {
    /// Namespaces on the running kernel.
    Host,
    /// A catalog kernel booted under QEMU (needs --kernel).
    Qemu,
    /// virtme-ng (optional; needs `vng` installed).
    Vng,
}

impl From<BackendKind> for Backend {
    fn from(k: BackendKind) -> Self {
        match k {
            BackendKind::Host => Backend::Host,
            BackendKind::Qemu => Backend::Qemu,
            BackendKind::Vng => Backend::Vng,
        }
    }
}

/// A known regression for `lab bench --inject`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum InjectKind {
    /// The copy and raw crypto builds copy the payload once more per packet.
    ExtraCopy,
}

impl From<InjectKind> for Inject {
    fn from(k: InjectKind) -> Self {
        match k {
            InjectKind::ExtraCopy => Inject::ExtraCopy,
        }
    }
}

/// VM limits.
#[derive(Args, Clone)]
pub(crate) struct VmArgs {
    /// Time limit for one VM boot, seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Guest memory, MiB.
    #[arg(long, default_value_t = 512)]
    memory: u32,
    /// Give up early when the VM prints nothing on its console for this
    /// long after starting (a kernel that does not start), seconds.
    #[arg(long, default_value_t = 20)]
    silence: u64,
}

impl VmArgs {
    /// The limits, checked: a zero timeout or too little memory cannot boot.
    pub(crate) fn options(&self) -> Result<VmOptions> {
        if self.timeout == 0 {
            bail!("--timeout 0: a VM boot needs at least 1 second");
        }
        if !(128..=65536).contains(&self.memory) {
            bail!(
                "--memory {}: guest memory must be 128..=65536 MiB (the guest kernels need about 128 MiB)",
                self.memory
            );
        }
        if self.silence == 0 {
            bail!("--silence 0: the console needs at least 1 second to say something");
        }
        Ok(VmOptions {
            timeout: Duration::from_secs(self.timeout),
            memory_mb: self.memory,
            silence: Duration::from_secs(self.silence),
        })
    }
}

/// A kernel the developer built, instead of a catalog kernel.
#[derive(Args, Clone, Default)]
pub(crate) struct ImageArgs {
    /// Boot this kernel image (a bzImage, e.g. arch/x86/boot/bzImage) under
    /// QEMU, like a catalog kernel; its results name it `local`.
    #[arg(long, value_name = "PATH")]
    pub(crate) kernel_image: Option<PathBuf>,
    /// Its modules: lib/modules/<release>, a root holding it, or the build
    /// tree (default: none, everything built in).
    #[arg(long, value_name = "DIR", requires = "kernel_image")]
    pub(crate) modules: Option<PathBuf>,
    /// Its .config (default: found next to the image or in DIR).
    #[arg(long, value_name = "FILE", requires = "kernel_image")]
    pub(crate) config: Option<PathBuf>,
}

impl ImageArgs {
    /// The image as a local kernel source, when one was given (paths made
    /// absolute: results name them).
    pub(crate) fn source(&self) -> Option<LocalSource> {
        let src = LocalSource {
            image: self.kernel_image.clone()?,
            modules: self.modules.clone(),
            config: self.config.clone(),
        };
        Some(match std::env::current_dir() {
            Ok(cwd) => src.rooted(&cwd),
            Err(_) => src,
        })
    }
}

/// The results root.
#[derive(Args, Clone)]
pub(crate) struct ResultsArgs {
    /// Results root folder.
    #[arg(long, env = "LAB_RESULTS_DIR", default_value = "results")]
    pub(crate) results_dir: PathBuf,
}

/// The subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run a scenario and write results/<run-id>/.
    Run(RunArgs),
    /// Validate scenario and bench files without running them.
    Check {
        /// Scenario or bench files (told apart by their top-level keys).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Manage the kernel catalog (kernels/kernels.yaml) and its cache.
    Kernels {
        #[command(subcommand)]
        command: KernelsCommand,
    },
    /// Which cipher names bpf_crypto_ctx_create accepts, with errnos.
    Probe(ProbeArgs),
    /// Measure throughput and cost per cipher; write bench.json, plots and a report.
    Bench(BenchArgs),
    /// Regenerate the plots and report of a saved bench without rerunning it.
    Report {
        /// Run id under the results folder, or a run folder, or a bench.json.
        run: String,
        /// Write the report into this folder instead of next to bench.json.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        results: ResultsArgs,
    },
    /// Runs PROGRAM in this process group and kills the group when lab dies
    /// (virtme-ng and the QEMU and virtiofsd it starts, even on SIGKILL).
    #[command(hide = true)]
    ExecTied {
        /// The program (absolute path).
        program: PathBuf,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
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
    Matrix(MatrixArgs),
    /// Compare two saved benches figure by figure; exit 1 on a regression.
    Compare(CompareArgs),
    /// Feed the data plane generated (or saved) frames and check its invariants.
    Fuzz(FuzzArgs),
    /// Run the scenario suite and the fuzzer on your data plane object and
    /// print each property held or broken, with the evidence.
    Audit(AuditArgs),
}

/// Arguments of `lab audit`.
#[derive(Args)]
pub(crate) struct AuditArgs {
    /// The data plane object (ELF, following docs/dataplane-abi.md).
    #[arg(value_name = "PATH.bpf.o")]
    pub(crate) object: PathBuf,
    /// Audit on this catalog kernel in a VM (one boot per scenario) instead
    /// of the running kernel.
    #[arg(long, conflicts_with = "kernel_image")]
    pub(crate) kernel: Option<String>,
    /// The scenario folder whose files of the object's format run.
    #[arg(long, default_value = "scenarios")]
    pub(crate) scenarios: PathBuf,
    /// Generated frames per program for the fuzzer (0: no fuzzing).
    #[arg(long, default_value_t = 2000)]
    pub(crate) cases: u32,
    /// Seed of the fuzzer (default: from the clock; printed).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    #[command(flatten)]
    pub(crate) image: ImageArgs,
    #[command(flatten)]
    pub(crate) vm: VmArgs,
    #[command(flatten)]
    pub(crate) results: ResultsArgs,
    /// Print only the table.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

/// Arguments of `lab fuzz`.
#[derive(Args)]
pub(crate) struct FuzzArgs {
    /// Fuzz this catalog kernel in a VM instead of the running kernel.
    #[arg(long, conflicts_with = "kernel_image")]
    pub(crate) kernel: Option<String>,
    /// Generated frames per program.
    #[arg(long, default_value_t = crate::job::fuzz::DEFAULT_CASES)]
    pub(crate) cases: u32,
    /// Seed of the generator (default: from the clock; printed).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Rerun the frames of a pcap file (e.g. a saved failures.pcap) instead.
    #[arg(long, conflicts_with_all = ["cases", "seed"])]
    pub(crate) replay: Option<PathBuf>,
    /// Fuzz this data plane object of yours (docs/dataplane-abi.md) instead
    /// of the lab's builds.
    #[arg(long, value_name = "PATH.bpf.o")]
    pub(crate) dataplane: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) image: ImageArgs,
    #[command(flatten)]
    pub(crate) vm: VmArgs,
    #[command(flatten)]
    pub(crate) results: ResultsArgs,
    /// Print only the summary.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

/// Arguments of `lab run`.
#[derive(Args)]
pub(crate) struct RunArgs {
    /// Scenario file (YAML).
    pub(crate) scenario: PathBuf,
    /// A data plane object of yours (ELF, following docs/dataplane-abi.md)
    /// instead of the lab's build; overrides the scenario's `dataplane:`.
    #[arg(long, value_name = "PATH.bpf.o")]
    pub(crate) dataplane: Option<PathBuf>,
    /// Where to run it: `host` by default, `qemu` when --kernel is given.
    #[arg(long, value_enum)]
    pub(crate) backend: Option<BackendKind>,
    /// Catalog kernel for the VM backends (see `lab kernels list`).
    #[arg(long, conflicts_with = "kernel_image")]
    pub(crate) kernel: Option<String>,
    #[command(flatten)]
    pub(crate) image: ImageArgs,
    #[command(flatten)]
    pub(crate) vm: VmArgs,
    #[command(flatten)]
    pub(crate) results: ResultsArgs,
    /// Print only the summary.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

impl RunArgs {
    /// The backend: as given, else `qemu` with --kernel or --kernel-image,
    /// else `host`.
    pub(crate) fn backend(&self) -> Backend {
        match (self.backend, &self.kernel, &self.image.kernel_image) {
            (Some(b), _, _) => b.into(),
            (None, Some(_), _) | (None, _, Some(_)) => Backend::Qemu,
            (None, None, None) => Backend::Host,
        }
    }
}

/// Arguments of `lab probe`.
#[derive(Args)]
pub(crate) struct ProbeArgs {
    /// Probe this catalog kernel in a VM instead of the running kernel.
    #[arg(long, conflicts_with = "kernel_image")]
    pub(crate) kernel: Option<String>,
    /// Cipher names (default: a fixed list of common ones).
    #[arg(long = "cipher")]
    pub(crate) ciphers: Vec<String>,
    #[command(flatten)]
    pub(crate) image: ImageArgs,
    #[command(flatten)]
    pub(crate) vm: VmArgs,
}

/// Arguments of `lab bench`.
#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Bench file (YAML), e.g. scenarios/bench.yaml.
    pub(crate) bench: PathBuf,
    /// Measure this data plane object of yours (docs/dataplane-abi.md) in
    /// place of the lab's build of its wire format.
    #[arg(long, value_name = "PATH.bpf.o", conflicts_with_all = ["baseline", "baseline_objects", "inject"])]
    pub(crate) dataplane: Option<PathBuf>,
    /// `host` (default) or a catalog kernel to boot under QEMU.
    #[arg(long, conflicts_with = "kernel_image")]
    pub(crate) kernel: Option<String>,
    /// The host and every cached catalog kernel, into one result.
    #[arg(long, conflicts_with = "kernel")]
    pub(crate) matrix: bool,
    /// Shortened rounds and durations (smoke test).
    #[arg(long)]
    pub(crate) quick: bool,
    /// Test hook: build a known regression into the data plane (recorded
    /// as `plan.inject`), e.g. to show that `lab compare` catches it.
    #[arg(long, value_enum, value_name = "REGRESSION")]
    pub(crate) inject: Option<InjectKind>,
    /// Paired bench: compile the data plane objects of this git revision
    /// (its ebpf/ folder, with clang) and measure them beside this lab's
    /// objects in the same process, round for round; exit 1 on a regression.
    #[arg(long, value_name = "REV", conflicts_with = "baseline_objects")]
    pub(crate) baseline: Option<String>,
    /// Paired bench against prebuilt objects: DIR/<build>.bpf.o (crypto,
    /// crypto_inplace, copy, noop, esp, esp_inplace; those the bench uses).
    #[arg(long, value_name = "DIR")]
    pub(crate) baseline_objects: Option<PathBuf>,
    /// Paired bench: a figure whose whole 95 % interval is worse than the
    /// baseline by more than this many percent is a regression (exit 1).
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "PERCENT",
        allow_negative_numbers = true
    )]
    pub(crate) max_regression: f64,
    /// Calibrate the paired bench on the host: A/A runs (our objects against
    /// themselves) and A/B runs (--inject extra-copy against the plain
    /// build); prints false alarms, detections and the smallest regression
    /// detectable per part.
    #[arg(long, conflicts_with_all = ["baseline", "baseline_objects", "inject", "kernel", "matrix", "kernel_image"])]
    pub(crate) calibrate: bool,
    /// Calibration: paired A/A runs.
    #[arg(long, default_value_t = 5, value_name = "N", requires = "calibrate")]
    pub(crate) aa_runs: u32,
    /// Calibration: paired A/B runs.
    #[arg(long, default_value_t = 20, value_name = "N", requires = "calibrate")]
    pub(crate) ab_runs: u32,
    #[command(flatten)]
    pub(crate) image: ImageArgs,
    #[command(flatten)]
    pub(crate) vm: VmArgs,
    #[command(flatten)]
    pub(crate) results: ResultsArgs,
}

impl BenchArgs {
    /// `--max-regression`, checked.
    pub(crate) fn max_regression(&self) -> Result<f64> {
        let m = self.max_regression;
        if !m.is_finite() || m < 0.0 {
            bail!("--max-regression {m}: must be a percentage of 0 or more");
        }
        Ok(m)
    }
}

/// The interval `lab compare`'s overlap test uses: `--interval`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum IntervalKind {
    /// The 95 % interval of the mean.
    Ci95,
    /// Smallest to largest round.
    Range,
}

/// Arguments of `lab compare`.
#[derive(Args)]
pub(crate) struct CompareArgs {
    /// The old run: a run id under the results folder, a run folder or a bench.json.
    #[arg(value_name = "RUN_A")]
    pub(crate) old: String,
    /// The new run, likewise.
    #[arg(value_name = "RUN_B")]
    pub(crate) new: String,
    /// A change for the worse beyond this many percent (percentage points
    /// for loss) fails the comparison (exit 1).
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "PERCENT",
        allow_negative_numbers = true
    )]
    pub(crate) max_regression: f64,
    /// Which interval of each figure must not overlap for a change.
    #[arg(long, value_enum, default_value = "ci95")]
    pub(crate) interval: IntervalKind,
    /// Write the Markdown (a CI job summary) here; `-` prints it on stdout
    /// instead of the table (default: compare-<old run id>.md next to the
    /// new bench.json).
    #[arg(long, value_name = "FILE")]
    pub(crate) markdown: Option<PathBuf>,
    /// List every figure in the terminal, not only the changed ones.
    #[arg(long)]
    pub(crate) all: bool,
    #[command(flatten)]
    pub(crate) results: ResultsArgs,
}

impl CompareArgs {
    /// The judging options, checked.
    pub(crate) fn options(&self) -> Result<Options> {
        let m = self.max_regression;
        if !m.is_finite() || m < 0.0 {
            bail!("--max-regression {m}: must be a percentage of 0 or more");
        }
        Ok(Options {
            max_regression_pct: m,
            interval: match self.interval {
                IntervalKind::Ci95 => Interval::Ci95,
                IntervalKind::Range => Interval::Range,
            },
        })
    }
}

/// Arguments of `lab matrix`.
#[derive(Args)]
pub(crate) struct MatrixArgs {
    /// Scenario file (YAML).
    pub(crate) scenario: PathBuf,
    /// A data plane object of yours (ELF, following docs/dataplane-abi.md)
    /// instead of the lab's build; overrides the scenario's `dataplane:`.
    #[arg(long, value_name = "PATH.bpf.o")]
    pub(crate) dataplane: Option<PathBuf>,
    /// Only these catalog kernels (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub(crate) kernels: Vec<String>,
    /// Leave the host out.
    #[arg(long)]
    pub(crate) no_host: bool,
    #[command(flatten)]
    pub(crate) image: ImageArgs,
    #[command(flatten)]
    pub(crate) vm: VmArgs,
    #[command(flatten)]
    pub(crate) results: ResultsArgs,
}

/// `lab kernels …`.
#[derive(Subcommand)]
pub(crate) enum KernelsCommand {
    /// List catalog kernels with their locked version and cache state.
    List,
    /// Download and extract kernels (all when none named).
    Fetch {
        /// Re-resolve to the newest versions and rewrite the lock file.
        #[arg(long)]
        update: bool,
        /// Extract again from re-verified packages even when the cache looks
        /// fine (repairs a damaged cache).
        #[arg(long)]
        force: bool,
        /// Catalog names.
        names: Vec<String>,
    },
}
