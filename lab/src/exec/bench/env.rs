//! The environment recorded with every figure: kernel, accelerator, CPU,
//! commit and the kernel's AES implementations.

use std::collections::BTreeMap;
use std::process::Command;

use crate::job::bench::Env;
use crate::sys::proc_crypto;
use crate::sys::uname::kernel_release;

/// Algorithms whose implementations are recorded from /proc/crypto.
const CRYPTO_NAMES: &[&str] = &["aes", "ecb(aes)", "cbc(aes)"];

/// Environment variable overriding the recorded commit.
pub(crate) const COMMIT_ENV: &str = "LAB_COMMIT";

/// The lab's commit: `$LAB_COMMIT`, or `git rev-parse` in the working
/// directory (with `-dirty` when there are uncommitted changes), or `unknown`.
pub(crate) fn git_commit() -> String {
    if let Ok(c) = std::env::var(COMMIT_ENV)
        && !c.trim().is_empty()
    {
        return c.trim().to_string();
    }
    let out = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match out(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) if !rev.is_empty() => {
            let dirty = out(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{rev}-dirty") } else { rev }
        }
        _ => "unknown".into(),
    }
}

/// The first `model name` in /proc/cpuinfo.
pub(crate) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Online CPUs.
pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Implementations of `aes`, `ecb(aes)`, `cbc(aes)` from /proc/crypto text:
/// `type driver prio N`, highest priority first.
pub(crate) fn crypto_drivers(proc_crypto: &str) -> BTreeMap<String, Vec<String>> {
    let mut found: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for a in proc_crypto::parse(proc_crypto) {
        if !CRYPTO_NAMES.contains(&a.name.as_str()) {
            continue;
        }
        let entry = format!("{} {} prio {}", a.kind, a.driver, a.priority);
        let list = found.entry(a.name).or_default();
        if !list.iter().any(|(_, e)| *e == entry) {
            list.push((a.priority, entry));
        }
    }
    found
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            (k, v.into_iter().map(|(_, e)| e).collect())
        })
        .collect()
}

/// Describes the running kernel and machine. `accelerator` is `host`,
/// `kvm` or `tcg`; `commit` comes from the host for guests (no git there).
pub(crate) fn current(accelerator: &str, commit: &str) -> Env {
    Env {
        kernel: kernel_release(),
        accelerator: accelerator.to_string(),
        emulated: accelerator == "tcg",
        cpu_model: cpu_model(),
        cpus: cpus(),
        commit: commit.to_string(),
        lab_version: env!("CARGO_PKG_VERSION").to_string(),
        crypto_drivers: crypto_drivers(
            &std::fs::read_to_string("/proc/crypto").unwrap_or_default(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_crypto_is_summarised_by_priority() {
        let text = "name         : cbc(aes)\ndriver       : cbc(ecb(aes-generic))\nmodule       : kernel\npriority     : 100\ntype         : lskcipher\n\n\
                    name         : cbc(aes)\ndriver       : cbc-aes-aesni\nmodule       : aesni_intel\npriority     : 400\ntype         : skcipher\n\n\
                    name         : sha256\ndriver       : sha256-generic\npriority     : 100\ntype         : shash\n";
        let d = crypto_drivers(text);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d["cbc(aes)"],
            vec![
                "skcipher cbc-aes-aesni prio 400",
                "lskcipher cbc(ecb(aes-generic)) prio 100"
            ]
        );
    }

    #[test]
    fn env_of_this_machine_is_filled() {
        let e = current("host", "abc");
        assert!(!e.kernel.is_empty() && e.cpus >= 1 && !e.emulated);
        assert_eq!(e.label("host"), format!("host {} (host)", e.kernel));
        let t = Env {
            emulated: true,
            accelerator: "tcg".into(),
            ..e
        };
        assert!(t.label("debian-6.12").ends_with("(TCG)"));
    }
}
