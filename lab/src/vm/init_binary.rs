//! The guest's `/init`: this `lab` executable, which must be static.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};

use crate::sys::owner;

/// Prefix of the copy being written (`<prefix><pid>`).
const TMP_PREFIX: &str = ".lab-init-";

/// Whether an ELF file has no program interpreter (is statically linked).
pub(crate) fn is_static_elf(bytes: &[u8]) -> Option<bool> {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 {
        return None;
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().ok()?) as usize;
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    for i in 0..phnum {
        let off = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(bytes.get(off..off + 4)?.try_into().ok()?);
        if p_type == 3 {
            return Some(false); // PT_INTERP
        }
    }
    Some(true)
}

/// One copy at a time in this process: parallel boots (`lab matrix`)
/// would otherwise write the same temporary file.
static PREPARING: Mutex<()> = Mutex::new(());

/// Returns a copy of the running executable, stripped of symbols and
/// debug info when `strip` is available (a smaller initramfs unpacks
/// faster in the guest), cached under `cache_dir`.
pub(crate) fn prepare(cache_dir: &Path) -> Result<PathBuf> {
    let _one = PREPARING.lock().unwrap_or_else(|p| p.into_inner());
    let exe = std::env::current_exe().context("locating the lab executable")?;
    let meta = std::fs::metadata(&exe)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default();
    let dir = cache_dir.join("guest");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    owner::sweep_pid_files(&dir, TMP_PREFIX);
    let out = dir.join(format!("lab-init-{}-{}", meta.len(), mtime.as_nanos()));
    // Only a checked copy is ever cached: reading the executable again
    // (some 80 MB) would cost every boot a tenth of a second.
    if out.exists() {
        return Ok(out);
    }
    let bytes = std::fs::read(&exe).with_context(|| format!("reading {}", exe.display()))?;
    match is_static_elf(&bytes) {
        Some(true) => {}
        Some(false) => bail!(
            "{} is dynamically linked and cannot run as the guest's PID 1; build it with the repository's \
             .cargo/config.toml (static, target x86_64-unknown-linux-gnu), e.g. `just lab …`",
            exe.display()
        ),
        None => bail!("{} is not an x86-64 ELF executable", exe.display()),
    }
    let tmp = dir.join(format!("{TMP_PREFIX}{}", std::process::id()));
    let stripped = Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&tmp)
        .arg(&exe)
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(&exe, &tmp)
            .with_context(|| format!("copying {} to {}", exe.display(), tmp.display()))?;
    }
    std::fs::rename(&tmp, &out).with_context(|| format!("writing {}", out.display()))?;
    // Drop older copies.
    for e in std::fs::read_dir(&dir)?.filter_map(|e| e.ok()) {
        if e.path() != out && e.file_name().to_string_lossy().starts_with("lab-init-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_is_static() {
        // The workspace builds everything with +crt-static.
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(is_static_elf(&bytes), Some(true));
        assert_eq!(is_static_elf(b"not an elf"), None);
    }
}
