//! Whether a developer's kernel image is whole, checked before it boots: a
//! truncated bzImage otherwise boots into nothing and QEMU exits without a
//! result, which reads like a failure of the kernel under test.

use thiserror::Error;

use super::elf::{Elf, ElfError};

/// What is wrong with an image file.
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum ImageDefect {
    /// The headers describe more bytes than the file holds.
    #[error("truncated: header says {need} bytes, file has {have}")]
    Truncated {
        /// Bytes the headers describe.
        need: u64,
        /// Bytes in the file.
        have: u64,
    },
    /// An ELF whose header cannot be read.
    #[error("bad ELF vmlinux: {0}")]
    Elf(ElfError),
    /// Neither a bzImage nor an ELF.
    #[error("not an x86 bzImage (no \"HdrS\" at 0x202) nor an ELF vmlinux")]
    Unknown,
}

/// Checks that `image` is a bzImage or an ELF vmlinux holding every byte
/// its headers describe.
pub(crate) fn check(image: &[u8]) -> Result<(), ImageDefect> {
    let need = if image.get(0x202..0x206) == Some(b"HdrS") {
        bzimage_size(image)
    } else if image.starts_with(b"\x7fELF") {
        let elf = Elf::parse(image).map_err(ImageDefect::Elf)?;
        elf.extent().map_err(ImageDefect::Elf)?
    } else {
        return Err(ImageDefect::Unknown);
    };
    let have = image.len() as u64;
    if need > have {
        return Err(ImageDefect::Truncated { need, have });
    }
    Ok(())
}

/// The size the boot header of a bzImage gives: the real-mode setup
/// (`setup_sects` + the boot sector, 512 bytes each; 0 means 4) and the
/// protected-mode kernel (`syssize`, in 16-byte units; 16 bits before
/// boot protocol 2.04).
fn bzimage_size(image: &[u8]) -> u64 {
    let setup_sects = match image[0x1f1] {
        0 => 4,
        n => u64::from(n),
    };
    let version = image
        .get(0x206..0x208)
        .map_or(0, |v| u16::from_le_bytes([v[0], v[1]]));
    let sys = &image[0x1f4..0x1f8];
    let syssize = if version >= 0x204 {
        u32::from_le_bytes(sys.try_into().expect("4 bytes"))
    } else {
        u32::from(u16::from_le_bytes([sys[0], sys[1]]))
    };
    (setup_sects + 1) * 512 + u64::from(syssize) * 16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bzImage header: `setup_sects` 1, `syssize` `sys` (16-byte units),
    /// padded to `len` bytes.
    fn bzimage(sys: u32, len: usize) -> Vec<u8> {
        let mut img = vec![0u8; len.max(0x250)];
        img[0x1f1] = 1;
        img[0x1f4..0x1f8].copy_from_slice(&sys.to_le_bytes());
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        img.truncate(len.max(0x250));
        img
    }

    /// An ELF64 header with one program header whose bytes run to `end`.
    fn elf(seg_end: u64, len: usize) -> Vec<u8> {
        let mut e = vec![0u8; len.max(120)];
        e[..4].copy_from_slice(b"\x7fELF");
        e[4] = 2;
        e[5] = 1;
        e[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        e[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        e[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        e[64..68].copy_from_slice(&1u32.to_le_bytes());
        e[64 + 8..64 + 16].copy_from_slice(&100u64.to_le_bytes());
        e[64 + 0x20..64 + 0x28].copy_from_slice(&(seg_end - 100).to_le_bytes());
        e.truncate(len);
        e
    }

    #[test]
    fn a_whole_bzimage_passes_and_a_cut_one_is_named() {
        assert_eq!(check(&bzimage(10, 1024 + 160)), Ok(()));
        assert_eq!(
            check(&bzimage(100, 1024 + 160)),
            Err(ImageDefect::Truncated {
                need: 1024 + 1600,
                have: 1024 + 160
            })
        );
        let msg = check(&bzimage(100, 1024)).unwrap_err().to_string();
        assert_eq!(msg, "truncated: header says 2624 bytes, file has 1024");
    }

    #[test]
    fn elf_segments_must_lie_inside_the_file() {
        assert_eq!(check(&elf(4000, 4000)), Ok(()));
        assert_eq!(
            check(&elf(4000, 3000)),
            Err(ImageDefect::Truncated {
                need: 4000,
                have: 3000
            })
        );
        // Cut inside the program header table.
        assert_eq!(
            check(&elf(4000, 100)),
            Err(ImageDefect::Truncated {
                need: 120,
                have: 100
            })
        );
        assert!(matches!(check(&elf(4000, 40)), Err(ImageDefect::Elf(_))));
    }

    #[test]
    fn other_files_are_not_images() {
        assert_eq!(check(b"MZ not a kernel"), Err(ImageDefect::Unknown));
        assert_eq!(check(&[]), Err(ImageDefect::Unknown));
    }
}
