//! What crosses the VM boundary: the job (in the initramfs) and the result
//! archive (back over the `lab.results` virtio-serial port).
//!
//! The result is a tar archive: `result.json` ([`GuestResult`]) plus the
//! artifact files the job wrote (pcaps, logs).

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::probe::ProbeReport;
use crate::runner::RunReport;

/// Path of the job file inside the initramfs.
pub const JOB_PATH: &str = "/lab/job.json";
/// Directory of modules inside the initramfs, loaded in name order.
pub const MODULES_DIR: &str = "/lab/modules";
/// Name of the virtio-serial port carrying the result.
pub const RESULTS_PORT: &str = "lab.results";
/// Prefix of the guest's progress lines on the console.
pub const PROGRESS_PREFIX: &str = "lab-guest: ";
/// Name of the result document inside the archive.
pub const RESULT_JSON: &str = "result.json";
/// Path of the optional bench job ([`crate::bench::BenchJob`]) inside the
/// initramfs; `lab bench` adds it in a second cpio archive.
pub const BENCH_JOB_PATH: &str = "/lab/bench.json";

/// What the guest is asked to do: probe ciphers (if any), then run a
/// scenario (if any).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GuestJob {
    /// Cipher names to probe with `bpf_crypto_ctx_create`.
    pub probe: Vec<String>,
    /// Scenario to run.
    pub plan: Option<Plan>,
}

/// How the scenario ended in the guest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum GuestOutcome {
    /// The scenario ran.
    Completed(Box<RunReport>),
    /// The kernel cannot run the data plane.
    Unsupported(String),
    /// The job failed inside the guest.
    Failed(String),
}

/// `result.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GuestResult {
    /// `uname -r` inside the guest.
    pub kernel: String,
    /// Modules loaded, and ones that failed with the reason.
    pub modules: Vec<String>,
    /// Capability probe, when asked: the report or why it could not run.
    pub probe: Option<Result<ProbeReport, String>>,
    /// Scenario outcome, when a scenario was given.
    pub outcome: Option<GuestOutcome>,
    /// Bench figures, when a bench job was given, or why it could not run.
    #[serde(default)]
    pub bench: Option<Result<crate::bench::model::TargetResult, String>>,
}

/// Writes the archive: `result.json` then every regular file in `dir`.
pub fn write_archive<W: Write>(out: W, result: &GuestResult, dir: &Path) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    let json = serde_json::to_vec_pretty(result)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, RESULT_JSON, json.as_slice())?;
    if dir.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if e.file_type()?.is_file() {
                tar.append_path_with_name(e.path(), e.file_name())?;
            }
        }
    }
    tar.into_inner()?.flush()?;
    Ok(())
}

/// Reads the archive into `dir`; returns the result document.
pub fn read_archive<R: Read>(input: R, dir: &Path) -> Result<GuestResult> {
    let mut tar = tar::Archive::new(input);
    let mut result = None;
    for entry in tar
        .entries()
        .context("reading the guest's result archive")?
    {
        let mut entry = entry.context("truncated result archive")?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if name.contains('/') || name.starts_with('.') {
            bail!("unexpected entry `{name}` in the result archive");
        }
        if name == RESULT_JSON {
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf)?;
            result = Some(serde_json::from_slice(&buf).context("parsing result.json")?);
        } else {
            entry
                .unpack(dir.join(&name))
                .with_context(|| format!("unpacking {name}"))?;
        }
    }
    result.context("the result archive has no result.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_roundtrip() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("wire.pcap"), b"pcap bytes").unwrap();
        let result = GuestResult {
            kernel: "6.12.0".into(),
            modules: vec!["veth".into()],
            probe: None,
            outcome: Some(GuestOutcome::Unsupported("no".into())),
            bench: None,
        };
        let mut buf = Vec::new();
        write_archive(&mut buf, &result, src.path()).unwrap();
        let dst = tempfile::tempdir().unwrap();
        let back = read_archive(buf.as_slice(), dst.path()).unwrap();
        assert_eq!(back.kernel, "6.12.0");
        assert!(matches!(back.outcome, Some(GuestOutcome::Unsupported(_))));
        assert_eq!(
            std::fs::read(dst.path().join("wire.pcap")).unwrap(),
            b"pcap bytes"
        );
        // A truncated archive is an error, not a silent partial result.
        assert!(read_archive(&buf[..100], dst.path()).is_err());
    }
}
