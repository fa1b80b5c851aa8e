//! Cutting the uncompressed ELF `vmlinux` out of an x86 bzImage, for QEMU's PVH boot.
//!
//! The compressed kernel's position comes from the boot protocol header
//! (`setup_sects`, `payload_offset`, `payload_length`, protocol ≥ 2.08); the format is
//! detected from its magic (Debian uses zstd; xz is also handled). The result must be an
//! ELF with the Xen `PHYS32_ENTRY` note (`CONFIG_PVH=y`), which is what QEMU looks for.

use super::compress::{self, Format};
use super::elf::Elf;
use thiserror::Error;

/// Why a vmlinux could not be produced (the caller then boots the bzImage).
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum VmlinuxError {
    /// No `HdrS` setup header or a protocol older than 2.08 (no payload fields).
    #[error("not a bzImage with boot protocol >= 2.08")]
    NotBzImage,
    /// The payload fields point outside the file.
    #[error("payload offset/length outside the image")]
    BadPayload,
    /// Compression this code cannot decode.
    #[error("payload compression {0:?} is not supported")]
    Unsupported(Format),
    /// Decompression failed.
    #[error("decompressing the payload: {0}")]
    Decompress(String),
    /// The payload is not an ELF64 object.
    #[error("decompressed payload is not an ELF64 image")]
    NotElf,
    /// No PVH entry note: QEMU could not boot the ELF directly.
    #[error("vmlinux has no PVH entry note (CONFIG_PVH not set)")]
    NoPvhNote,
}

/// `XEN_ELFNOTE_PHYS32_ENTRY`.
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

fn u32_at(d: &[u8], off: usize) -> Option<u32> {
    d.get(off..off + 4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
}

/// Locates the compressed payload inside a bzImage.
pub(crate) fn payload(bzimage: &[u8]) -> Result<&[u8], VmlinuxError> {
    if bzimage.get(0x202..0x206) != Some(b"HdrS") {
        return Err(VmlinuxError::NotBzImage);
    }
    let version = u16::from_le_bytes([bzimage[0x206], bzimage[0x207]]);
    if version < 0x208 {
        return Err(VmlinuxError::NotBzImage);
    }
    let setup_sects = match bzimage[0x1f1] {
        0 => 4,
        n => usize::from(n),
    };
    let offset = u32_at(bzimage, 0x248).ok_or(VmlinuxError::NotBzImage)? as usize;
    let length = u32_at(bzimage, 0x24c).ok_or(VmlinuxError::NotBzImage)? as usize;
    let start = (setup_sects + 1) * 512 + offset;
    bzimage
        .get(start..start.checked_add(length).ok_or(VmlinuxError::BadPayload)?)
        .ok_or(VmlinuxError::BadPayload)
}

/// Decompresses the bzImage payload and checks it is a PVH-bootable ELF.
/// Returns the ELF bytes and the payload format.
pub(crate) fn extract(bzimage: &[u8]) -> Result<(Vec<u8>, Format), VmlinuxError> {
    let payload = payload(bzimage)?;
    let format = Format::detect(payload);
    if !matches!(format, Format::Zstd | Format::Xz) {
        return Err(VmlinuxError::Unsupported(format));
    }
    // The payload ends with the 4-byte uncompressed size; the decoders stop at the end of
    // the first frame/stream, so that trailer is ignored.
    let elf = compress::decompress(payload).map_err(|e| VmlinuxError::Decompress(e.to_string()))?;
    check_pvh(&elf)?;
    Ok((elf, format))
}

/// The kernel release (`uname -r`) of a bzImage, from the boot header's
/// `kernel_version` string (protocol >= 2.00), or of an ELF vmlinux, from
/// its `Linux version …` banner: a developer's image comes with no package
/// to say it, and modules must match it.
pub(crate) fn release(image: &[u8]) -> Option<String> {
    let text = if image.get(0x202..0x206) == Some(b"HdrS") {
        let off = usize::from(u16::from_le_bytes([*image.get(0x20e)?, *image.get(0x20f)?]));
        image.get(0x200 + off..)?
    } else {
        const BANNER: &[u8] = b"Linux version ";
        let i = image.windows(BANNER.len()).position(|w| w == BANNER)?;
        &image[i + BANNER.len()..]
    };
    let end = text
        .iter()
        .position(|&b| b == 0 || b.is_ascii_whitespace())
        .unwrap_or(text.len().min(256));
    let r = std::str::from_utf8(&text[..end]).ok()?;
    let plausible = !r.is_empty() && r.len() < 128 && r.starts_with(|c: char| c.is_ascii_digit());
    plausible.then(|| r.to_string())
}

/// Checks for an ELF64 image carrying the Xen PVH entry note.
pub(crate) fn check_pvh(elf: &[u8]) -> Result<(), VmlinuxError> {
    let parsed = Elf::parse(elf).map_err(|_| VmlinuxError::NotElf)?;
    let notes = parsed.notes().map_err(|_| VmlinuxError::NotElf)?;
    if notes
        .iter()
        .any(|n| n.name == b"Xen" && n.kind == XEN_ELFNOTE_PHYS32_ENTRY)
    {
        Ok(())
    } else {
        Err(VmlinuxError::NoPvhNote)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::kernels::elf::tests::{note, synthetic_elf};

    /// A fake bzImage: 1 setup sector + boot sector, then `payload` after 0x40 bytes of junk.
    pub(crate) fn fake_bzimage(payload: &[u8]) -> Vec<u8> {
        let mut img = vec![0u8; 1024];
        img[0x1f1] = 1;
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        img[0x248..0x24c].copy_from_slice(&0x40u32.to_le_bytes());
        img[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        img.extend_from_slice(&[0xaa; 0x40]);
        img.extend_from_slice(payload);
        img.extend_from_slice(&[0x55; 100]);
        img
    }

    #[test]
    fn extracts_zstd_payload_with_size_trailer() {
        let elf = synthetic_elf(&[(".note.Xen", 7, &note(b"Xen", 18, &[0; 4]))]);
        let mut z = zstd::stream::encode_all(&elf[..], 1).unwrap();
        z.extend_from_slice(&(elf.len() as u32).to_le_bytes());
        let (out, fmt) = extract(&fake_bzimage(&z)).unwrap();
        assert_eq!(fmt, Format::Zstd);
        assert_eq!(out, elf);
    }

    #[test]
    fn reads_the_release() {
        let mut bz = fake_bzimage(b"");
        bz[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
        bz[0x300..0x320].copy_from_slice(b"6.12.1-dev (me@host) #1 SMP\0\0\0\0\0");
        assert_eq!(release(&bz).as_deref(), Some("6.12.1-dev"));
        let elf = b"\x7fELF junk Linux version 7.0.0-rc1+ (gcc) #3";
        assert_eq!(release(elf).as_deref(), Some("7.0.0-rc1+"));
        assert_eq!(release(b"nothing here"), None);
    }

    #[test]
    fn reports_why_not() {
        assert_eq!(extract(b"MZ").unwrap_err(), VmlinuxError::NotBzImage);
        let no_note = synthetic_elf(&[(".text", 1, b"x")]);
        let z = zstd::stream::encode_all(&no_note[..], 1).unwrap();
        assert_eq!(
            extract(&fake_bzimage(&z)).unwrap_err(),
            VmlinuxError::NoPvhNote
        );
        assert_eq!(
            extract(&fake_bzimage(&[0x1f, 0x8b, 8, 0])).unwrap_err(),
            VmlinuxError::Unsupported(Format::Gzip)
        );
    }
}
