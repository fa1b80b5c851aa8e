//! Compression formats seen in Debian kernel packages: detection by magic and decoding.
//!
//! Decoders stop at the end of the first stream/frame and ignore trailing bytes, which is
//! what a bzImage payload (compressed kernel followed by its 4-byte size) needs.

use std::io::{self, Read};

/// A compression format recognised by its leading magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Zstandard frame (`28 b5 2f fd`).
    Zstd,
    /// xz container (`fd 37 7a 58 5a 00`).
    Xz,
    /// gzip (`1f 8b`): recognised but not decoded here.
    Gzip,
    /// LZ4 legacy frame (`02 21 4c 18`, kernel payloads): recognised but not decoded.
    Lz4,
    /// No known magic: treat as uncompressed.
    None,
}

impl Format {
    /// Detects the format from the first bytes of `data`.
    pub(crate) fn detect(data: &[u8]) -> Self {
        if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Format::Zstd
        } else if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Format::Xz
        } else if data.starts_with(&[0x1f, 0x8b]) {
            Format::Gzip
        } else if data.starts_with(&[0x02, 0x21, 0x4c, 0x18]) {
            Format::Lz4
        } else {
            Format::None
        }
    }
}

/// Wraps `r` in a streaming decoder for `format` (single stream, trailing bytes ignored).
pub(crate) fn reader<'a, R: Read + 'a>(format: Format, r: R) -> io::Result<Box<dyn Read + 'a>> {
    match format {
        Format::Zstd => Ok(Box::new(
            zstd::stream::read::Decoder::new(r)?.single_frame(),
        )),
        Format::Xz => Ok(Box::new(liblzma::read::XzDecoder::new(r))),
        Format::None => Ok(Box::new(r)),
        Format::Gzip | Format::Lz4 => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{format:?} decompression is not supported"),
        )),
    }
}

/// Decodes all of `data` (format detected from its magic; unknown magic = returned as is).
pub(crate) fn decompress(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() * 4);
    reader(Format::detect(data), data)?.read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn roundtrip_with_trailing_garbage() {
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut z = zstd::stream::encode_all(&payload[..], 3).unwrap();
        z.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(Format::detect(&z), Format::Zstd);
        assert_eq!(decompress(&z).unwrap(), payload);

        let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 1);
        enc.write_all(&payload).unwrap();
        let mut x = enc.finish().unwrap();
        x.extend_from_slice(&[9, 9, 9, 9]);
        assert_eq!(Format::detect(&x), Format::Xz);
        assert_eq!(decompress(&x).unwrap(), payload);

        assert_eq!(decompress(b"plain").unwrap(), b"plain");
        assert!(decompress(&[0x1f, 0x8b, 0, 0]).is_err());
    }
}
