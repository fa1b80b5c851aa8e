//! newc cpio initramfs writer.
//!
//! Builds the uncompressed `070701` ("newc") archive the kernel unpacks into its rootfs:
//! directories, regular files, symlinks and device nodes, terminated by `TRAILER!!!`.
//! Paths are relative to `/` (a leading `/` is accepted and dropped); missing parent
//! directories are added automatically with mode 0755. Timestamps and ownership are
//! zero, so the same inputs give byte-identical archives.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;
use thiserror::Error;

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
#[cfg(test)]
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

/// Errors from building an initramfs.
#[derive(Debug, Error)]
pub(crate) enum InitramfsError {
    /// Empty path, `..`, `.` components or NUL bytes.
    #[error("invalid initramfs path `{0}`")]
    InvalidPath(String),
    /// The path was already added (directories may be added repeatedly).
    #[error("initramfs path `{0}` added twice")]
    Duplicate(String),
    /// A path component is an existing non-directory entry.
    #[error("initramfs path `{0}` is used as a directory but is not one")]
    NotADirectory(String),
    /// Reading a source file failed.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The source file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// What an archive member is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File(Vec<u8>),
    #[cfg(test)]
    Symlink(String),
    CharDev {
        major: u32,
        minor: u32,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    path: String,
    mode: u32,
    kind: Kind,
}

/// An in-memory initramfs under construction; entries are written in insertion order
/// (parents always precede children).
#[derive(Debug, Clone, Default)]
pub(crate) struct Builder {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

/// Validates and normalises an archive path (`/init` → `init`).
fn normalize(path: &str) -> Result<String, InitramfsError> {
    let p = path.trim_start_matches('/').trim_end_matches('/');
    let bad = p.is_empty()
        || p.contains('\0')
        || p.split('/').any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(InitramfsError::InvalidPath(path.to_string()));
    }
    Ok(p.to_string())
}

impl Builder {
    /// An empty archive.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds `path` and its missing parents; `Dir` entries may be re-added (no-op).
    fn add(&mut self, path: &str, mode: u32, kind: Kind) -> Result<&mut Self, InitramfsError> {
        let path = normalize(path)?;
        let mut parent = String::new();
        for comp in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .expect("non-empty")
            .1
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(comp);
            match self.index.get(&parent) {
                Some(&i) if self.entries[i].kind != Kind::Dir => {
                    return Err(InitramfsError::NotADirectory(parent));
                }
                Some(_) => {}
                None => self.push(parent.clone(), 0o755, Kind::Dir),
            }
        }
        if let Some(&i) = self.index.get(&path) {
            if kind == Kind::Dir && self.entries[i].kind == Kind::Dir {
                self.entries[i].mode = mode & 0o7777;
                return Ok(self);
            }
            return Err(InitramfsError::Duplicate(path));
        }
        self.push(path, mode & 0o7777, kind);
        Ok(self)
    }

    fn push(&mut self, path: String, mode: u32, kind: Kind) {
        self.index.insert(path.clone(), self.entries.len());
        self.entries.push(Entry { path, mode, kind });
    }

    /// Adds a directory with permission bits `mode` (e.g. `0o755`).
    pub(crate) fn add_dir(&mut self, path: &str, mode: u32) -> Result<&mut Self, InitramfsError> {
        self.add(path, mode, Kind::Dir)
    }

    /// Adds a regular file with contents `data` and permission bits `mode`.
    pub(crate) fn add_file(
        &mut self,
        path: &str,
        data: impl Into<Vec<u8>>,
        mode: u32,
    ) -> Result<&mut Self, InitramfsError> {
        self.add(path, mode, Kind::File(data.into()))
    }

    /// Adds a regular file read from `source` on the host.
    pub(crate) fn add_file_from(
        &mut self,
        path: &str,
        source: &Path,
        mode: u32,
    ) -> Result<&mut Self, InitramfsError> {
        let data = std::fs::read(source).map_err(|e| InitramfsError::Io {
            path: source.to_path_buf(),
            source: e,
        })?;
        self.add_file(path, data, mode)
    }

    /// Adds a symbolic link `path` → `target`.
    #[cfg(test)]
    pub(crate) fn add_symlink(
        &mut self,
        path: &str,
        target: &str,
    ) -> Result<&mut Self, InitramfsError> {
        self.add(path, 0o777, Kind::Symlink(target.to_string()))
    }

    /// Adds a character device node (e.g. `dev/console`, 5, 1, `0o600`).
    pub(crate) fn add_char_dev(
        &mut self,
        path: &str,
        major: u32,
        minor: u32,
        mode: u32,
    ) -> Result<&mut Self, InitramfsError> {
        self.add(path, mode, Kind::CharDev { major, minor })
    }

    /// Adds `/dev/console` (5,1): the kernel opens it for PID 1's stdio before devtmpfs.
    pub(crate) fn add_console(&mut self) -> Result<&mut Self, InitramfsError> {
        self.add_char_dev("dev/console", 5, 1, 0o600)
    }

    /// Whether `path` was added (explicitly or as a parent).
    #[cfg(test)]
    pub(crate) fn contains(&self, path: &str) -> bool {
        normalize(path).is_ok_and(|p| self.index.contains_key(&p))
    }

    /// Writes the archive (entries then `TRAILER!!!`); returns the bytes written.
    pub(crate) fn write_to(&self, mut w: impl Write) -> io::Result<u64> {
        let mut written = 0u64;
        for (i, e) in self.entries.iter().enumerate() {
            let ino = i as u32 + 1;
            let (type_bits, data, nlink, rdev): (u32, &[u8], u32, (u32, u32)) = match &e.kind {
                Kind::Dir => (S_IFDIR, &[], 2, (0, 0)),
                Kind::File(d) => (S_IFREG, d, 1, (0, 0)),
                #[cfg(test)]
                Kind::Symlink(t) => (S_IFLNK, t.as_bytes(), 1, (0, 0)),
                Kind::CharDev { major, minor } => (S_IFCHR, &[], 1, (*major, *minor)),
            };
            written += write_member(&mut w, ino, type_bits | e.mode, nlink, rdev, &e.path, data)?;
        }
        written += write_member(&mut w, 0, 0, 1, (0, 0), "TRAILER!!!", &[])?;
        w.flush()?;
        Ok(written)
    }

    /// Writes the archive to a file.
    #[cfg(test)]
    pub(crate) fn write_file(&self, path: &std::path::Path) -> io::Result<u64> {
        let f = std::fs::File::create(path)?;
        self.write_to(io::BufWriter::new(f))
    }

    /// The archive as bytes.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v).expect("writing to a Vec cannot fail");
        v
    }
}

/// Writes one newc header + name + data, each padded to 4 bytes.
fn write_member(
    w: &mut impl Write,
    ino: u32,
    mode: u32,
    nlink: u32,
    rdev: (u32, u32),
    name: &str,
    data: &[u8],
) -> io::Result<u64> {
    let size = u32::try_from(data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "cpio member over 4 GiB"))?;
    let namesize = name.len() as u32 + 1;
    let header = format!(
        "070701{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{size:08x}{:08x}{:08x}{:08x}{:08x}{namesize:08x}{:08x}",
        0, 0, 0, 0, 0, rdev.0, rdev.1, 0
    );
    debug_assert_eq!(header.len(), 110);
    let pad = |n: usize| (4 - n % 4) % 4;
    let zeros = [0u8; 4];
    w.write_all(header.as_bytes())?;
    w.write_all(name.as_bytes())?;
    w.write_all(&zeros[..1 + pad(110 + name.len() + 1)])?;
    w.write_all(data)?;
    w.write_all(&zeros[..pad(data.len())])?;
    Ok((110 + name.len() + 1 + pad(110 + name.len() + 1) + data.len() + pad(data.len())) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn sample() -> Builder {
        let mut b = Builder::new();
        b.add_dir("/proc", 0o555).unwrap();
        b.add_console().unwrap();
        b.add_file("/init", b"#!/bin/sh\necho hi\n".to_vec(), 0o755)
            .unwrap();
        b.add_file(
            "lib/modules/veth.ko",
            vec![0x7f, b'E', b'L', b'F', 1],
            0o644,
        )
        .unwrap();
        b.add_symlink("bin/sh", "/init").unwrap();
        b
    }

    #[test]
    fn layout_and_errors() {
        let mut b = sample();
        assert!(b.contains("dev") && b.contains("/lib/modules"));
        assert!(matches!(
            b.add_file("init", vec![], 0o644),
            Err(InitramfsError::Duplicate(_))
        ));
        assert!(matches!(
            b.add_file("init/x", vec![], 0o644),
            Err(InitramfsError::NotADirectory(_))
        ));
        assert!(matches!(
            b.add_dir("a/../b", 0o755),
            Err(InitramfsError::InvalidPath(_))
        ));
        assert!(matches!(
            b.add_dir("/", 0o755),
            Err(InitramfsError::InvalidPath(_))
        ));
        b.add_dir("dev", 0o700).unwrap(); // re-adding a dir only updates its mode
        let bytes = b.to_bytes();
        assert_eq!(bytes.len() % 4, 0);
        assert!(bytes.starts_with(b"070701"));
        assert_eq!(&bytes[6..14], b"00000001");
        let name_at = |n: &str| bytes.windows(n.len()).position(|w| w == n.as_bytes());
        assert!(name_at("dev").unwrap() < name_at("dev/console").unwrap());
        assert!(name_at("TRAILER!!!").is_some());
        // /dev/console: mode 020600, rdev 5:1.
        let c = name_at("dev/console\0").unwrap() - 110;
        assert_eq!(&bytes[c + 14..c + 22], b"00002180");
        assert_eq!(&bytes[c + 78..c + 94], b"0000000500000001");
        assert_eq!(sample().to_bytes(), sample().to_bytes(), "deterministic");
    }

    fn have_cpio() -> bool {
        let ok = Command::new("cpio").arg("--version").output().is_ok();
        if !ok {
            eprintln!("SKIP: system `cpio` not installed (apt-get install -y cpio)");
        }
        ok
    }

    #[test]
    fn system_cpio_lists_and_extracts() {
        if !have_cpio() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("initramfs.cpio");
        let b = sample();
        let n = b.write_file(&archive).unwrap();
        assert_eq!(n, std::fs::metadata(&archive).unwrap().len());

        let run = |args: &[&str], cwd: &Path| {
            let out = Command::new("cpio")
                .args(args)
                .current_dir(cwd)
                .stdin(std::fs::File::open(&archive).unwrap())
                .stderr(Stdio::piped())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let list = run(&["-it", "--quiet"], dir.path());
        let names: Vec<&str> = list.lines().collect();
        assert_eq!(
            names,
            [
                "proc",
                "dev",
                "dev/console",
                "init",
                "lib",
                "lib/modules",
                "lib/modules/veth.ko",
                "bin",
                "bin/sh"
            ]
        );
        let verbose = run(&["-itv", "--quiet"], dir.path());
        let console = verbose
            .lines()
            .find(|l| l.ends_with("dev/console"))
            .unwrap();
        assert!(console.starts_with("crw-------"), "{console}");
        assert!(console.contains("5,"), "{console}");
        let init = verbose.lines().find(|l| l.ends_with(" init")).unwrap();
        assert!(init.starts_with("-rwxr-xr-x"), "{init}");
        let sh = verbose.lines().find(|l| l.contains("bin/sh")).unwrap();
        assert!(
            sh.starts_with('l') && sh.ends_with("bin/sh -> /init"),
            "{sh}"
        );

        // Extract (without device nodes, which need privileges) and compare contents.
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        run(
            &[
                "-id",
                "--quiet",
                "--no-absolute-filenames",
                "init",
                "lib/modules/veth.ko",
            ],
            &out,
        );
        assert_eq!(
            std::fs::read(out.join("init")).unwrap(),
            b"#!/bin/sh\necho hi\n"
        );
        assert_eq!(
            std::fs::read(out.join("lib/modules/veth.ko")).unwrap(),
            [0x7f, b'E', b'L', b'F', 1]
        );
    }
}
