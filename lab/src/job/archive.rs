//! The result archive a guest sends back: a tar archive of `result.json`
//! ([`JobResult`]) and the artifact files the job wrote (pcaps, logs).

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::JobResult;

/// Name of the result document inside the archive.
pub(crate) const RESULT_JSON: &str = "result.json";

/// Writes the archive: `result.json` then every regular file in `dir`.
pub(crate) fn write_archive<W: Write>(out: W, result: &JobResult, dir: &Path) -> Result<()> {
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
pub(crate) fn read_archive<R: Read>(input: R, dir: &Path) -> Result<JobResult> {
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
            let path = dir.join(&name);
            entry
                .unpack(&path)
                .with_context(|| format!("unpacking {name}"))?;
            // Artifacts (pcaps, logs) are as private as the rest of a
            // results folder, whatever mode the guest gave them.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("making {name} private"))?;
        }
    }
    result.context("the result archive has no result.json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Outcome;

    #[test]
    fn archive_roundtrip() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("wire.pcap"), b"pcap bytes").unwrap();
        let result = JobResult {
            kernel: "6.12.0".into(),
            modules: vec!["veth".into()],
            phases: Vec::new(),
            probe: None,
            outcome: Ok(Outcome::Unsupported("no".into())),
        };
        let mut buf = Vec::new();
        write_archive(&mut buf, &result, src.path()).unwrap();
        let dst = tempfile::tempdir().unwrap();
        let back = read_archive(buf.as_slice(), dst.path()).unwrap();
        assert_eq!(back.kernel, "6.12.0");
        assert!(matches!(back.outcome, Ok(Outcome::Unsupported(_))));
        assert_eq!(
            std::fs::read(dst.path().join("wire.pcap")).unwrap(),
            b"pcap bytes"
        );
        let mode = std::fs::metadata(dst.path().join("wire.pcap"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // A truncated archive is an error, not a silent partial result.
        assert!(read_archive(&buf[..100], dst.path()).is_err());
    }
}
