//! `lab probe`: which cipher names `bpf_crypto_ctx_create` accepts on the
//! running kernel or a catalog kernel.

use anyhow::{Context, Result, bail};

use super::args::ProbeArgs;
use crate::exec::probe::DEFAULT_CIPHERS;
use crate::job::{Job, Outcome};
use crate::output::exit;
use crate::output::progress::Printer;
use crate::target::Backend;

pub(crate) fn probe(a: ProbeArgs) -> Result<i32> {
    let ciphers = if a.ciphers.is_empty() {
        DEFAULT_CIPHERS.iter().map(|s| s.to_string()).collect()
    } else {
        a.ciphers
    };
    let backend = if a.kernel.is_some() || a.image.kernel_image.is_some() {
        Backend::Qemu
    } else {
        Backend::Host
    };
    let tmp = work_dir()?;
    let target = super::repo::open_target(backend, a.kernel.as_deref(), &a.image, a.vm.options()?)?;
    let exec = target.run(&Job::Probe(ciphers), tmp.path(), &Printer { quiet: false })?;
    let mut where_ = format!("{} ({}", target.name(), exec.kernel);
    if let Some(accel) = &exec.accelerator {
        where_.push_str(&format!(", {accel}"));
    }
    where_.push(')');
    let report = match (exec.outcome, exec.probe) {
        (Outcome::Unsupported(why), _) | (_, Some(Err(why))) => {
            println!("{where_}: unsupported: {why}");
            return Ok(exit::UNSUPPORTED);
        }
        (Outcome::Failed(why), _) => {
            eprintln!("lab: {}: {why}", target.name());
            return Ok(exit::ERROR);
        }
        (_, Some(Ok(report))) => report,
        (_, None) => bail!("{}: the kernel returned no probe", target.name()),
    };
    println!("bpf_crypto_ctx_create on {where_}:");
    for e in &report.entries {
        println!("  {:<20} {}", e.cipher, e.error.as_deref().unwrap_or("ok"));
    }
    if !report.types.is_empty() {
        println!("bpf_crypto types (a context of the type and algorithm created):");
        for t in &report.types {
            let state = match (&t.error, t.registered) {
                (None, _) => "registered, ok".to_string(),
                (Some(e), true) => format!("registered; {} refused: {e}", t.algo),
                (Some(e), false) => format!("not registered ({e})"),
            };
            println!("  {:<20} {state}", format!("{} {}", t.name, t.algo));
        }
    }
    if !report.resolved.is_empty() {
        println!("resolved by the kernel (/proc/crypto, highest priority of the type):");
        for r in &report.resolved {
            println!(
                "  {:<20} {} ({}, priority {})",
                r.name, r.driver, r.kind, r.priority
            );
        }
    }
    Ok(exit::PASS)
}

/// The probe's scratch folder, made before anything is opened or booted;
/// a failure names the folder and the TMPDIR that chose it.
fn work_dir() -> Result<tempfile::TempDir> {
    tempfile::tempdir().with_context(|| {
        let dir = std::env::temp_dir();
        let why = match std::env::var_os("TMPDIR") {
            Some(t) => format!("TMPDIR points to {}", t.to_string_lossy()),
            None => "TMPDIR is unset".to_string(),
        };
        format!(
            "creating the probe's temporary folder in {} ({why})",
            dir.display()
        )
    })
}
