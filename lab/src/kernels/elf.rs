//! Minimal read-only ELF64 little-endian parser: section lookup by name and note iteration.
//!
//! Only what the kernel tooling needs (`.modinfo` of modules, the PVH note of a vmlinux);
//! every offset is bounds-checked, so malformed input yields an error, never a panic.

use thiserror::Error;

/// Why a byte buffer could not be read as an ELF64 little-endian object.
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum ElfError {
    /// Missing `\x7fELF` magic.
    #[error("not an ELF file (bad magic)")]
    NotElf,
    /// 32-bit or big-endian object.
    #[error("unsupported ELF class/encoding (need ELF64 little-endian)")]
    Unsupported,
    /// A header, table or section points outside the buffer.
    #[error("truncated or malformed ELF ({0})")]
    Malformed(&'static str),
}

/// `PT_NOTE` program header type.
const PT_NOTE: u32 = 4;
/// `SHT_NOTE` section header type.
const SHT_NOTE: u32 = 7;

/// A parsed ELF64 LE object borrowing its bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Elf<'a> {
    data: &'a [u8],
}

/// One ELF note: owner name (without NUL), type and descriptor bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note<'a> {
    /// Owner name, e.g. `Xen` or `GNU`.
    pub(crate) name: &'a [u8],
    /// Note type (owner specific).
    pub(crate) kind: u32,
    /// Descriptor payload.
    pub(crate) desc: &'a [u8],
}

fn u16_at(d: &[u8], off: usize) -> Result<u16, ElfError> {
    d.get(off..off + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or(ElfError::Malformed("header"))
}

fn u32_at(d: &[u8], off: usize) -> Result<u32, ElfError> {
    d.get(off..off + 4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .ok_or(ElfError::Malformed("header"))
}

fn u64_at(d: &[u8], off: usize) -> Result<usize, ElfError> {
    let v = d
        .get(off..off + 8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .ok_or(ElfError::Malformed("header"))?;
    usize::try_from(v).map_err(|_| ElfError::Malformed("offset"))
}

fn slice<'d>(
    d: &'d [u8],
    off: usize,
    len: usize,
    what: &'static str,
) -> Result<&'d [u8], ElfError> {
    off.checked_add(len)
        .and_then(|end| d.get(off..end))
        .ok_or(ElfError::Malformed(what))
}

impl<'a> Elf<'a> {
    /// Checks the identification bytes; fails on non-ELF, 32-bit or big-endian input.
    pub(crate) fn parse(data: &'a [u8]) -> Result<Self, ElfError> {
        if !data.starts_with(b"\x7fELF") {
            return Err(ElfError::NotElf);
        }
        if data.len() < 64 {
            return Err(ElfError::Malformed("header"));
        }
        if data[4] != 2 || data[5] != 1 {
            return Err(ElfError::Unsupported);
        }
        Ok(Self { data })
    }

    /// Iterates section headers as `(name_offset, type, file_offset, size)`.
    fn sections(&self) -> Result<Vec<(u32, u32, usize, usize)>, ElfError> {
        let d = self.data;
        let shoff = u64_at(d, 0x28)?;
        let shentsize = usize::from(u16_at(d, 0x3a)?);
        let shnum = usize::from(u16_at(d, 0x3c)?);
        if shoff == 0 || shnum == 0 {
            return Ok(Vec::new());
        }
        if shentsize < 64 {
            return Err(ElfError::Malformed("section header size"));
        }
        (0..shnum)
            .map(|i| {
                let h = slice(d, shoff + i * shentsize, 64, "section header table")?;
                Ok((
                    u32_at(h, 0)?,
                    u32_at(h, 4)?,
                    u64_at(h, 0x18)?,
                    u64_at(h, 0x20)?,
                ))
            })
            .collect()
    }

    /// Returns the contents of the first section called `name`, if any.
    pub(crate) fn section(&self, name: &str) -> Result<Option<&'a [u8]>, ElfError> {
        let sections = self.sections()?;
        let shstrndx = usize::from(u16_at(self.data, 0x3e)?);
        let Some(&(_, _, stroff, strsize)) = sections.get(shstrndx) else {
            return Ok(None);
        };
        let strtab = slice(self.data, stroff, strsize, "section name table")?;
        for &(name_off, _, off, size) in &sections {
            let Some(rest) = strtab.get(name_off as usize..) else {
                continue;
            };
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            if &rest[..end] == name.as_bytes() {
                return slice(self.data, off, size, "section").map(Some);
            }
        }
        Ok(None)
    }

    /// All notes from `PT_NOTE` segments, or from `SHT_NOTE` sections when there are no
    /// program headers (relocatable objects such as modules).
    pub(crate) fn notes(&self) -> Result<Vec<Note<'a>>, ElfError> {
        let d = self.data;
        let phoff = u64_at(d, 0x20)?;
        let phentsize = usize::from(u16_at(d, 0x36)?);
        let phnum = usize::from(u16_at(d, 0x38)?);
        let mut areas = Vec::new();
        if phoff != 0 && phnum != 0 {
            if phentsize < 56 {
                return Err(ElfError::Malformed("program header size"));
            }
            for i in 0..phnum {
                let h = slice(d, phoff + i * phentsize, 56, "program header table")?;
                if u32_at(h, 0)? == PT_NOTE {
                    areas.push((u64_at(h, 0x08)?, u64_at(h, 0x20)?));
                }
            }
        } else {
            for (_, kind, off, size) in self.sections()? {
                if kind == SHT_NOTE {
                    areas.push((off, size));
                }
            }
        }
        let mut notes = Vec::new();
        for (off, size) in areas {
            parse_notes(slice(d, off, size, "note area")?, &mut notes)?;
        }
        Ok(notes)
    }

    /// How many bytes the headers say the file holds: the ends of the
    /// program and section header tables and of every segment's file
    /// bytes. More than the buffer holds means it was cut short.
    pub(crate) fn extent(&self) -> Result<u64, ElfError> {
        let d = self.data;
        let end = |off: usize, len: usize| {
            (off as u64)
                .checked_add(len as u64)
                .ok_or(ElfError::Malformed("offset"))
        };
        let phoff = u64_at(d, 0x20)?;
        let phentsize = usize::from(u16_at(d, 0x36)?);
        let phnum = usize::from(u16_at(d, 0x38)?);
        let shoff = u64_at(d, 0x28)?;
        let shnum = usize::from(u16_at(d, 0x3c)?);
        let shentsize = usize::from(u16_at(d, 0x3a)?);
        let mut extent = end(shoff, shnum * shentsize)?.max(64);
        if phoff == 0 || phnum == 0 {
            return Ok(extent);
        }
        if phentsize < 56 {
            return Err(ElfError::Malformed("program header size"));
        }
        let table = end(phoff, phnum * phentsize)?;
        extent = extent.max(table);
        if table > d.len() as u64 {
            return Ok(extent);
        }
        for i in 0..phnum {
            let h = slice(d, phoff + i * phentsize, 56, "program header table")?;
            extent = extent.max(end(u64_at(h, 0x08)?, u64_at(h, 0x20)?)?);
        }
        Ok(extent)
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn parse_notes<'a>(mut area: &'a [u8], out: &mut Vec<Note<'a>>) -> Result<(), ElfError> {
    while area.len() >= 12 {
        let namesz = u32_at(area, 0)? as usize;
        let descsz = u32_at(area, 4)? as usize;
        let kind = u32_at(area, 8)?;
        let name = slice(area, 12, namesz, "note name")?;
        let desc_off = 12 + align4(namesz);
        let desc = slice(area, desc_off, descsz, "note descriptor")?;
        let name = name.strip_suffix(b"\0").unwrap_or(name);
        out.push(Note { name, kind, desc });
        let next = desc_off + align4(descsz);
        area = area.get(next..).unwrap_or(&[]);
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a minimal ELF64 relocatable object with the given named sections.
    pub(crate) fn synthetic_elf(sections: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut shstrtab = vec![0u8];
        let mut name_offs = Vec::new();
        for (name, _, _) in sections {
            name_offs.push(shstrtab.len() as u32);
            shstrtab.extend_from_slice(name.as_bytes());
            shstrtab.push(0);
        }
        let shstr_name = shstrtab.len() as u32;
        shstrtab.extend_from_slice(b".shstrtab\0");

        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // ELFCLASS64
        out[5] = 1; // little endian
        out[6] = 1; // version
        out[0x10..0x12].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        out[0x12..0x14].copy_from_slice(&62u16.to_le_bytes()); // x86_64
        let mut placed = Vec::new();
        for (_, _, data) in sections {
            placed.push((out.len(), data.len()));
            out.extend_from_slice(data);
        }
        let shstr_off = out.len();
        out.extend_from_slice(&shstrtab);
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let shoff = out.len();
        out.extend_from_slice(&[0u8; 64]); // null section
        let push_sh = |out: &mut Vec<u8>, name: u32, kind: u32, off: usize, size: usize| {
            let mut h = [0u8; 64];
            h[0..4].copy_from_slice(&name.to_le_bytes());
            h[4..8].copy_from_slice(&kind.to_le_bytes());
            h[0x18..0x20].copy_from_slice(&(off as u64).to_le_bytes());
            h[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            out.extend_from_slice(&h);
        };
        for (i, (_, kind, _)) in sections.iter().enumerate() {
            push_sh(&mut out, name_offs[i], *kind, placed[i].0, placed[i].1);
        }
        push_sh(&mut out, shstr_name, 3, shstr_off, shstrtab.len());
        let shnum = sections.len() as u16 + 2;
        out[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        out[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        out[0x3c..0x3e].copy_from_slice(&shnum.to_le_bytes());
        out[0x3e..0x40].copy_from_slice(&(shnum - 1).to_le_bytes());
        out
    }

    /// Encodes one ELF note.
    pub(crate) fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut n = Vec::new();
        n.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
        n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        n.extend_from_slice(&kind.to_le_bytes());
        n.extend_from_slice(name);
        n.push(0);
        while !n.len().is_multiple_of(4) {
            n.push(0);
        }
        n.extend_from_slice(desc);
        while !n.len().is_multiple_of(4) {
            n.push(0);
        }
        n
    }

    #[test]
    fn finds_sections_and_notes() {
        let mut notes = note(b"Xen", 18, &[1, 2, 3, 4]);
        notes.extend(note(b"GNU", 3, b"abc"));
        let elf = synthetic_elf(&[(".modinfo", 1, b"license=GPL\0"), (".note.x", 7, &notes)]);
        let e = Elf::parse(&elf).unwrap();
        assert_eq!(e.section(".modinfo").unwrap(), Some(&b"license=GPL\0"[..]));
        assert_eq!(e.section(".nope").unwrap(), None);
        let n = e.notes().unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(
            (n[0].name, n[0].kind, n[0].desc),
            (&b"Xen"[..], 18, &[1u8, 2, 3, 4][..])
        );
        assert_eq!(
            (n[1].name, n[1].kind, n[1].desc),
            (&b"GNU"[..], 3, &b"abc"[..])
        );
    }

    #[test]
    fn extent_covers_the_headers() {
        let elf = synthetic_elf(&[(".modinfo", 1, b"x\0")]);
        let e = Elf::parse(&elf).unwrap();
        assert_eq!(e.extent().unwrap(), elf.len() as u64);
        let cut = &elf[..elf.len() - 10];
        assert_eq!(Elf::parse(cut).unwrap().extent().unwrap(), elf.len() as u64);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(Elf::parse(b"MZ\0\0").unwrap_err(), ElfError::NotElf);
        let mut elf = synthetic_elf(&[(".modinfo", 1, b"x\0")]);
        elf.truncate(elf.len() - 10);
        assert!(Elf::parse(&elf).unwrap().section(".modinfo").is_err());
    }
}
