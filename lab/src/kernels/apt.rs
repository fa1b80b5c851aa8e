//! A private apt instance per (archive, suite): own config, sources list, lists, cache and
//! status under the cache dir, driven through `APT_CONFIG` so the host's apt setup
//! (`/etc/apt/apt.conf.d`, sources, state) is neither read for packages nor modified.

use super::archive::Archive;
use super::catalog::AptSettings;
use super::error::KernelError;
use super::sources::{self, Mirror, SignedBy};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variable overriding the Debian archive URI.
pub(crate) const MIRROR_ENV: &str = "LAB_APT_MIRROR";
/// Environment variable overriding the Debian security archive URI.
pub(crate) const SECURITY_MIRROR_ENV: &str = "LAB_APT_SECURITY_MIRROR";
/// Keyring used when neither the source nor the catalog names one.
const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Picks the archive URI: env override, then `apt:` in the catalog, then the machine's apt
/// sources (the entry listing the host codename, or `<codename>-security`). For the
/// security archive, a Debian mirror ending in `/debian` is also tried with `-security`.
pub(crate) fn resolve_mirror(
    archive: Archive,
    settings: &AptSettings,
    etc_apt: &Path,
) -> Result<Mirror, KernelError> {
    let (env, key, configured) = match archive {
        Archive::Debian => (MIRROR_ENV, "mirror", &settings.mirror),
        Archive::DebianSecurity => (
            SECURITY_MIRROR_ENV,
            "security_mirror",
            &settings.security_mirror,
        ),
    };
    let over = std::env::var(env)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| configured.clone());
    if let Some(uri) = over {
        return Ok(Mirror {
            uri: uri.trim().trim_end_matches('/').to_string(),
            signed_by: None,
        });
    }
    let codename = sources::host_codename().unwrap_or_default();
    let entries = sources::read_system_sources(etc_apt);
    let suite = match archive {
        Archive::Debian => codename.clone(),
        Archive::DebianSecurity => format!("{codename}-security"),
    };
    let found = (!codename.is_empty())
        .then(|| sources::find_mirror(&entries, &suite))
        .flatten();
    let found = found.or_else(|| match archive {
        Archive::Debian => None,
        Archive::DebianSecurity => resolve_mirror(Archive::Debian, settings, etc_apt)
            .ok()
            .filter(|m| m.uri.ends_with("/debian"))
            .map(|m| Mirror {
                uri: format!("{}-security", m.uri),
                signed_by: m.signed_by,
            }),
    });
    found.ok_or(KernelError::NoMirror {
        archive: archive.as_str(),
        suite,
        env,
        key,
    })
}

/// One package stanza from `apt-cache show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackageRecord {
    /// Package name.
    pub(crate) package: String,
    /// Version.
    pub(crate) version: String,
    /// Archive path (`pool/…/x.deb`).
    pub(crate) filename: String,
    /// Size in bytes.
    pub(crate) size: u64,
    /// sha256 from the index.
    pub(crate) sha256: String,
}

impl PackageRecord {
    /// Basename of `filename`.
    pub(crate) fn deb_name(&self) -> &str {
        self.filename.rsplit('/').next().unwrap_or(&self.filename)
    }
}

/// Parses `apt-cache show` output into records (stanzas without the needed fields are skipped).
pub(crate) fn parse_records(text: &str) -> Vec<PackageRecord> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut f: HashMap<&str, &str> = HashMap::new();
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                f.insert(k, v.trim());
            }
        }
        let (Some(p), Some(v), Some(fname), Some(sha)) = (
            f.get("Package"),
            f.get("Version"),
            f.get("Filename"),
            f.get("SHA256"),
        ) else {
            continue;
        };
        out.push(PackageRecord {
            package: p.to_string(),
            version: v.to_string(),
            filename: fname.to_string(),
            size: f.get("Size").and_then(|s| s.parse().ok()).unwrap_or(0),
            sha256: sha.to_ascii_lowercase(),
        });
    }
    out
}

/// A private apt root for one suite.
#[derive(Debug, Clone)]
pub(crate) struct PrivateApt {
    root: PathBuf,
    conf: PathBuf,
    sources_text: String,
}

impl PrivateApt {
    /// Creates (or refreshes) `<kernels_cache>/apt/<archive>_<suite>/` with its config.
    pub(crate) fn prepare(
        kernels_cache: &Path,
        archive: Archive,
        suite: &str,
        mirror: &Mirror,
        fallback_keyring: Option<&Path>,
    ) -> Result<Self, KernelError> {
        let root = kernels_cache
            .join("apt")
            .join(format!("{}_{suite}", archive.as_str()));
        for d in [
            "apt.conf.d",
            "sources.list.d",
            "preferences.d",
            "lists/partial",
            "cache/archives/partial",
            "state",
            "log",
        ] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).map_err(|e| KernelError::io("creating", &p, e))?;
        }
        let status = root.join("status");
        if !status.exists() {
            std::fs::write(&status, "").map_err(|e| KernelError::io("writing", &status, e))?;
        }
        let keyring = match &mirror.signed_by {
            Some(SignedBy::Path(p)) => Some(p.clone()),
            Some(SignedBy::Inline(key)) => {
                let p = root.join("signed-by.asc");
                std::fs::write(&p, format!("{key}\n"))
                    .map_err(|e| KernelError::io("writing", &p, e))?;
                Some(p)
            }
            None => fallback_keyring
                .map(Path::to_path_buf)
                .or_else(|| Some(PathBuf::from(DEFAULT_KEYRING)).filter(|p| p.exists())),
        };
        let opts = keyring
            .map(|k| format!("[signed-by={}] ", k.display()))
            .unwrap_or_default();
        let sources_text = format!("deb {opts}{} {suite} main\n", mirror.uri);
        write_if_changed(&root.join("sources.list"), &sources_text)?;
        let conf = root.join("apt.conf");
        write_if_changed(&conf, &apt_conf(&root))?;
        Ok(Self {
            root,
            conf,
            sources_text,
        })
    }

    /// The private root directory.
    #[cfg(test)]
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("APT_CONFIG", &self.conf).env("LC_ALL", "C");
        c
    }

    /// Whether `update` ran successfully for the current sources.
    pub(crate) fn has_lists(&self) -> bool {
        std::fs::read_to_string(self.root.join("lists.stamp")).ok()
            == Some(self.sources_text.clone())
    }

    /// `apt-get update` for this suite.
    pub(crate) fn update(&self) -> Result<(), KernelError> {
        let mut c = self.command("apt-get");
        c.args(["-q", "--error-on=any", "update"]);
        run(c)?;
        let stamp = self.root.join("lists.stamp");
        std::fs::write(&stamp, &self.sources_text)
            .map_err(|e| KernelError::io("writing", &stamp, e))
    }

    /// Package names starting with `prefix`.
    pub(crate) fn pkgnames(&self, prefix: &str) -> Result<Vec<String>, KernelError> {
        let mut c = self.command("apt-cache");
        c.args(["pkgnames", prefix]);
        let out = run(c)?;
        let mut names: Vec<String> = out.lines().map(|l| l.trim().to_string()).collect();
        names.retain(|n| !n.is_empty());
        names.sort();
        Ok(names)
    }

    /// All index records of the given packages (every available version).
    pub(crate) fn show(&self, packages: &[String]) -> Result<Vec<PackageRecord>, KernelError> {
        if packages.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.command("apt-cache");
        c.arg("show").args(packages);
        Ok(parse_records(&run(c)?))
    }

    /// `apt-get download package=version` into `dest`.
    pub(crate) fn download(
        &self,
        package: &str,
        version: &str,
        dest: &Path,
    ) -> Result<(), KernelError> {
        let mut c = self.command("apt-get");
        c.current_dir(dest)
            .args(["-q", "download"])
            .arg(format!("{package}={version}"));
        run(c).map(|_| ())
    }
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), KernelError> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| KernelError::io("writing", path, e))
}

/// The private apt configuration. `APT_CONFIG` is read before `Dir::Etc::parts` and
/// `Dir::Etc::main`, so pointing those at an empty dir and /dev/null isolates it fully.
fn apt_conf(root: &Path) -> String {
    let r = root.display();
    let mut s = format!(
        "// Generated by lab (kernels): private apt for kernel downloads. Do not edit.\n\
         Dir::Etc::main \"/dev/null\";\n\
         Dir::Etc::parts \"{r}/apt.conf.d\";\n\
         Dir::Etc::sourcelist \"{r}/sources.list\";\n\
         Dir::Etc::sourceparts \"{r}/sources.list.d\";\n\
         Dir::Etc::preferences \"{r}/preferences\";\n\
         Dir::Etc::preferencesparts \"{r}/preferences.d\";\n\
         Dir::State \"{r}/state\";\n\
         Dir::State::Lists \"{r}/lists\";\n\
         Dir::State::status \"{r}/status\";\n\
         Dir::Cache \"{r}/cache\";\n\
         Dir::Log \"{r}/log\";\n\
         APT::Architecture \"amd64\";\n\
         APT::Architectures {{ \"amd64\"; }};\n\
         Acquire::Languages \"none\";\n\
         Acquire::GzipIndexes \"false\";\n\
         Acquire::IndexTargets::deb::DEP-11::DefaultEnabled \"false\";\n\
         Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled \"false\";\n\
         Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled \"false\";\n\
         Acquire::Retries \"3\";\n"
    );
    if nix::unistd::Uid::effective().is_root() {
        // Files land in a root-owned cache the `_apt` sandbox user may not reach.
        s.push_str("APT::Sandbox::User \"root\";\n");
    }
    s.push_str(&host_network_settings());
    s
}

/// Network settings worth inheriting from the host apt config (proxies, date checks).
fn host_network_settings() -> String {
    let Ok(out) = Command::new("apt-config").arg("dump").output() else {
        return String::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            let k = l.split_whitespace().next().unwrap_or("");
            (k.starts_with("Acquire::") && k.contains("::Proxy"))
                || k == "Acquire::Check-Valid-Until"
                || k == "Acquire::Check-Date"
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Runs a command, returning stdout; non-zero exit becomes [`KernelError::Apt`].
fn run(mut c: Command) -> Result<String, KernelError> {
    let line = format!(
        "{} {}",
        c.get_program().to_string_lossy(),
        c.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = c.output().map_err(|e| KernelError::Apt {
        command: line.clone(),
        status: "could not start".into(),
        output: e.to_string(),
    })?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    Err(KernelError::Apt {
        command: line,
        status: out.status.to_string(),
        output: tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_apt_cache_show() {
        let text = "Package: linux-base-7.3.4+deb13-cloud-amd64\n\
Source: linux\n\
Version: 7.3.4-1~bpo13+1\n\
Description: Linux 7.3.4\n continued: line\n\
Filename: pool/main/l/linux/linux-base-7.3.4+deb13-cloud-amd64_7.3.4-1~bpo13+1_amd64.deb\n\
Size: 1025208\n\
SHA256: E08BAA\n\
\n\
Package: broken\n\
Version: 1\n\n";
        let r = parse_records(text);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].version, "7.3.4-1~bpo13+1");
        assert_eq!(r[0].size, 1025208);
        assert_eq!(r[0].sha256, "e08baa");
        assert_eq!(
            r[0].deb_name(),
            "linux-base-7.3.4+deb13-cloud-amd64_7.3.4-1~bpo13+1_amd64.deb"
        );
    }

    #[test]
    fn private_conf_is_isolated() {
        let dir = tempfile::tempdir().unwrap();
        let m = Mirror {
            uri: "http://mirror.example/debian".into(),
            signed_by: Some(SignedBy::Inline("-----BEGIN PGP-----".into())),
        };
        let apt = PrivateApt::prepare(dir.path(), Archive::Debian, "sid", &m, None).unwrap();
        let conf = std::fs::read_to_string(apt.root().join("apt.conf")).unwrap();
        assert!(conf.contains("Dir::Etc::parts"));
        assert!(conf.contains(&apt.root().display().to_string()));
        let list = std::fs::read_to_string(apt.root().join("sources.list")).unwrap();
        assert!(list.starts_with("deb [signed-by="), "{list}");
        assert!(
            list.ends_with(" http://mirror.example/debian sid main\n"),
            "{list}"
        );
        assert!(!apt.has_lists());
    }

    #[test]
    fn env_override_wins() {
        // Only read in this test; other tests do not set it.
        let dir = tempfile::tempdir().unwrap();
        let settings = AptSettings {
            mirror: Some("http://configured.example/debian/".into()),
            ..Default::default()
        };
        let m = resolve_mirror(Archive::Debian, &settings, dir.path()).unwrap();
        if std::env::var_os(MIRROR_ENV).is_none() && std::env::var_os(SECURITY_MIRROR_ENV).is_none()
        {
            assert_eq!(m.uri, "http://configured.example/debian");
            let s = resolve_mirror(Archive::DebianSecurity, &settings, dir.path()).unwrap();
            assert_eq!(s.uri, "http://configured.example/debian-security");
        }
    }
}
