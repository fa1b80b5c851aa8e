//! Reading the machine's apt sources (one-line `.list` and deb822 `.sources`) to find the
//! Debian archive and security mirror URIs, so nothing host-specific is written to the repo.

use std::path::{Path, PathBuf};

/// Where a source's archive key comes from (`signed-by`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignedBy {
    /// Path to a keyring file (or comma/space separated list; first kept).
    Path(PathBuf),
    /// An inline ASCII-armoured key block (deb822 only).
    Inline(String),
}

/// One apt source entry (a one-line `deb …` or a deb822 stanza).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceEntry {
    /// `deb` and/or `deb-src`.
    pub(crate) types: Vec<String>,
    /// Repository base URIs.
    pub(crate) uris: Vec<String>,
    /// Suites (codenames), e.g. `bookworm`, `bookworm-security`.
    pub(crate) suites: Vec<String>,
    /// Components, e.g. `main`.
    pub(crate) components: Vec<String>,
    /// The key used to verify the repository, if given.
    pub(crate) signed_by: Option<SignedBy>,
}

impl SourceEntry {
    fn is_binary(&self) -> bool {
        self.types.iter().any(|t| t == "deb")
    }
}

/// Parses one-line format (`/etc/apt/sources.list`, `*.list`).
pub(crate) fn parse_one_line(text: &str) -> Vec<SourceEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (kind, mut rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        if kind != "deb" && kind != "deb-src" {
            continue;
        }
        rest = rest.trim_start();
        let mut signed_by = None;
        if let Some(opts) = rest.strip_prefix('[') {
            let Some((opts, after)) = opts.split_once(']') else {
                continue;
            };
            for opt in opts.split_whitespace() {
                if let Some(v) = opt.strip_prefix("signed-by=") {
                    let first = v.split(',').next().unwrap_or(v);
                    signed_by = Some(SignedBy::Path(PathBuf::from(first)));
                }
            }
            rest = after.trim_start();
        }
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(SourceEntry {
            types: vec![kind.to_string()],
            uris: vec![uri.to_string()],
            suites: vec![suite.to_string()],
            components: words.map(str::to_string).collect(),
            signed_by,
        });
    }
    out
}

/// Parses deb822 format (`*.sources`): blank-line separated stanzas, continuation lines
/// start with whitespace, `Enabled: no` disables a stanza.
pub(crate) fn parse_deb822(text: &str) -> Vec<SourceEntry> {
    let mut out = Vec::new();
    for stanza in stanzas(text) {
        let get = |k: &str| {
            stanza
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let words = |k: &str| -> Vec<String> {
            get(k)
                .map(|v| v.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default()
        };
        if get("Enabled").is_some_and(|v| v.trim().eq_ignore_ascii_case("no")) {
            continue;
        }
        let signed_by = get("Signed-By").map(|v| {
            let v = v.trim();
            if v.contains('\n') || v.starts_with("-----BEGIN") {
                SignedBy::Inline(v.to_string())
            } else {
                let first = v.split([',', ' ']).next().unwrap_or(v);
                SignedBy::Path(PathBuf::from(first))
            }
        });
        let entry = SourceEntry {
            types: words("Types"),
            uris: words("URIs"),
            suites: words("Suites"),
            components: words("Components"),
            signed_by,
        };
        if !entry.types.is_empty() && !entry.uris.is_empty() {
            out.push(entry);
        }
    }
    out
}

/// Splits deb822 text into stanzas of `(field, value)`; comment lines are dropped and a
/// lone `.` continuation line becomes an empty line (inline key blocks).
fn stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    let mut all = Vec::new();
    let mut cur: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if !cur.is_empty() {
                all.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = cur.last_mut() {
                let l = line.trim();
                v.push('\n');
                v.push_str(if l == "." { "" } else { l });
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if !cur.is_empty() {
        all.push(cur);
    }
    all
}

/// Reads every sources file under an apt etc dir (`sources.list`, `sources.list.d/*.list`,
/// `sources.list.d/*.sources`); unreadable files are skipped.
pub(crate) fn read_system_sources(etc_apt: &Path) -> Vec<SourceEntry> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string(etc_apt.join("sources.list")) {
        out.extend(parse_one_line(&text));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(etc_apt.join("sources.list.d"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        match f.extension().and_then(|e| e.to_str()) {
            Some("list") => out.extend(parse_one_line(&text)),
            Some("sources") => out.extend(parse_deb822(&text)),
            _ => {}
        }
    }
    out
}

/// A repository location chosen for private apt use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mirror {
    /// Base URI of the archive.
    pub(crate) uri: String,
    /// Key to verify it with, if the source named one.
    pub(crate) signed_by: Option<SignedBy>,
}

/// Finds the first binary source whose suites contain `suite` exactly (e.g. the release
/// codename for the Debian archive, `<codename>-security` for the security archive).
pub(crate) fn find_mirror(entries: &[SourceEntry], suite: &str) -> Option<Mirror> {
    entries
        .iter()
        .filter(|e| e.is_binary() && e.suites.iter().any(|s| s == suite))
        .find_map(|e| {
            e.uris.first().map(|u| Mirror {
                uri: u.trim_end_matches('/').to_string(),
                signed_by: e.signed_by.clone(),
            })
        })
}

/// The running system's release codename (`VERSION_CODENAME` in os-release).
pub(crate) fn host_codename() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix("VERSION_CODENAME=")
            .map(|v| v.trim_matches('"').to_string())
            .filter(|v| !v.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "\
# comment
deb http://mirror.example/debian bookworm main contrib # trailing
deb-src http://mirror.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://sec.example/debian-security bookworm-security main
deb https://vendor.example/apt cloud-sdk-bookworm main
";

    const DEB822: &str = "\
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://sec.example/debian-security
Suites: bookworm-security
Components: main
Enabled: no

Types: deb deb-src
URIs: http://inline.example/debian
Suites: sid
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 abc
 -----END PGP PUBLIC KEY BLOCK-----
";

    #[test]
    fn one_line_format() {
        let e = parse_one_line(LIST);
        assert_eq!(e.len(), 4);
        assert_eq!(e[0].uris, ["http://mirror.example/debian"]);
        assert_eq!(e[0].components, ["main", "contrib"]);
        assert_eq!(e[1].types, ["deb-src"]);
        assert_eq!(
            e[2].signed_by,
            Some(SignedBy::Path("/usr/share/keyrings/k.gpg".into()))
        );
        let m = find_mirror(&e, "bookworm").unwrap();
        assert_eq!(m.uri, "http://mirror.example/debian");
        assert_eq!(m.signed_by, None);
        let s = find_mirror(&e, "bookworm-security").unwrap();
        assert_eq!(s.uri, "http://sec.example/debian-security");
        assert!(find_mirror(&e, "trixie").is_none());
    }

    #[test]
    fn deb822_format() {
        let e = parse_deb822(DEB822);
        assert_eq!(e.len(), 2, "disabled stanza skipped: {e:?}");
        assert_eq!(e[0].suites, ["bookworm", "bookworm-updates"]);
        let m = find_mirror(&e, "bookworm").unwrap();
        assert_eq!(m.uri, "http://mirror.example/debian");
        assert_eq!(
            m.signed_by,
            Some(SignedBy::Path(
                "/usr/share/keyrings/debian-archive-keyring.gpg".into()
            ))
        );
        assert!(find_mirror(&e, "bookworm-security").is_none());
        match &e[1].signed_by {
            Some(SignedBy::Inline(k)) => {
                assert!(k.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc"))
            }
            other => panic!("inline key expected, got {other:?}"),
        }
        assert_eq!(e[1].types, ["deb", "deb-src"]);
    }

    #[test]
    fn reads_directory_and_ignores_other_extensions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sources.list"), LIST).unwrap();
        std::fs::create_dir(dir.path().join("sources.list.d")).unwrap();
        std::fs::write(dir.path().join("sources.list.d/debian.sources"), DEB822).unwrap();
        std::fs::write(dir.path().join("sources.list.d/x.list.disabled"), LIST).unwrap();
        assert_eq!(read_system_sources(dir.path()).len(), 6);
    }
}
