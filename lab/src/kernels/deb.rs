//! Reading Debian packages in Rust: sha256 of a file and unpacking a .deb's `data.tar.*`
//! (ar container, xz/zstd/uncompressed tar) into a directory.

use super::compress::{self, Format};
use super::error::KernelError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Component, Path};

/// Lowercase hex sha256 of a file.
pub(crate) fn sha256_file(path: &Path) -> Result<String, KernelError> {
    let mut f = std::fs::File::open(path).map_err(|e| KernelError::io("opening", path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| KernelError::io("reading", path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a data.tar member is worth extracting (documentation and bug-report helpers
/// under `usr/share/` are skipped).
fn wanted(path: &Path) -> bool {
    let mut parts = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir | Component::RootDir));
    !(parts.next() == Some(Component::Normal("usr".as_ref()))
        && parts.next() == Some(Component::Normal("share".as_ref())))
}

/// Unpacks the `data.tar[.xz|.zst]` member of `deb` below `dest` (created if needed).
/// Paths are confined to `dest`; existing files are overwritten.
pub(crate) fn extract_data(deb: &Path, dest: &Path) -> Result<(), KernelError> {
    let err = |message: String| KernelError::Deb {
        path: deb.to_path_buf(),
        message,
    };
    std::fs::create_dir_all(dest).map_err(|e| KernelError::io("creating", dest, e))?;
    let file = std::fs::File::open(deb).map_err(|e| KernelError::io("opening", deb, e))?;
    let mut ar = ar::Archive::new(std::io::BufReader::new(file));
    while let Some(member) = ar.next_entry() {
        let member = member.map_err(|e| err(format!("bad ar archive: {e}")))?;
        let id = String::from_utf8_lossy(member.header().identifier())
            .trim_end_matches('/')
            .to_string();
        let format = match id.as_str() {
            "data.tar" => Format::None,
            "data.tar.xz" => Format::Xz,
            "data.tar.zst" => Format::Zstd,
            other if other.starts_with("data.tar") => {
                return Err(err(format!("unsupported member compression `{other}`")));
            }
            _ => continue,
        };
        let reader = compress::reader(format, member).map_err(|e| err(e.to_string()))?;
        let mut tar = tar::Archive::new(reader);
        tar.set_overwrite(true);
        tar.set_preserve_permissions(true);
        let entries = tar.entries().map_err(|e| err(format!("{id}: {e}")))?;
        for entry in entries {
            // A kernel package unpacks for a second or more: Ctrl-C is heard.
            crate::sys::signals::check()?;
            let mut entry = entry.map_err(|e| err(format!("{id}: {e}")))?;
            let path = entry
                .path()
                .map_err(|e| err(format!("{id}: {e}")))?
                .into_owned();
            if !wanted(&path) {
                continue;
            }
            entry
                .unpack_in(dest)
                .map_err(|e| err(format!("{id}: unpacking {}: {e}", path.display())))?;
        }
        return Ok(());
    }
    Err(err("no data.tar member".into()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a .deb-shaped ar archive whose data.tar.xz holds `files` (path, contents).
    pub(crate) fn fake_deb(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, format!("./{path}"), *data).unwrap();
        }
        let tar = tar.into_inner().unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        std::io::Write::write_all(&mut xz, &tar).unwrap();
        let data = xz.finish().unwrap();
        let mut ar = ar::Builder::new(Vec::new());
        for (name, bytes) in [
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar.xz", Vec::new()),
            ("data.tar.xz", data),
        ] {
            let h = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
            ar.append(&h, &bytes[..]).unwrap();
        }
        ar.into_inner().unwrap()
    }

    #[test]
    fn extracts_data_tar_xz() {
        let dir = tempfile::tempdir().unwrap();
        let deb = dir.path().join("x.deb");
        std::fs::write(
            &deb,
            fake_deb(&[
                ("boot/vmlinuz-1", b"kernel"),
                ("usr/share/doc/x/copyright", b"skip"),
            ]),
        )
        .unwrap();
        let out = dir.path().join("root");
        extract_data(&deb, &out).unwrap();
        assert_eq!(
            std::fs::read(out.join("boot/vmlinuz-1")).unwrap(),
            b"kernel"
        );
        assert!(!out.join("usr/share").exists());
        assert_eq!(sha256_file(&deb).unwrap().len(), 64);
        std::fs::write(&deb, b"!<arch>\n").unwrap();
        assert!(matches!(
            extract_data(&deb, &out),
            Err(KernelError::Deb { .. })
        ));
    }

    #[test]
    fn sha256_known_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
