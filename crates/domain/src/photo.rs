//! Photos attached to a report: uploaded bytes become a `Photo` only when their content is a JPEG,
//! PNG, WebP or HEIC image, and only after the location and other metadata are removed from it.
//!
//! The format is found from the content alone, never from the file name or the declared type. Every
//! parser reads untrusted bytes through bounds-checked accessors, so no input can make it panic.
#![deny(clippy::indexing_slicing)]

use crate::error::FieldError;
use std::fmt;

/// The largest photo accepted, in bytes (5 MiB).
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;
/// The most photos one report carries.
pub const MAX_PHOTOS: usize = 3;

/// The image formats a photo may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoFormat {
    Jpeg,
    Png,
    WebP,
    Heic,
}

impl PhotoFormat {
    /// The media type to serve the photo with.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::WebP => "image/webp",
            Self::Heic => "image/heic",
        }
    }

    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::WebP => "webp",
            Self::Heic => "heic",
        }
    }

    /// Reads a media type such as a stored one back; case and parameters (`; charset=…`) are ignored,
    /// and the common aliases `image/jpg` and `image/heif` are understood. Never used to decide what an
    /// upload is: `Photo::parse` looks at the content.
    pub fn parse_mime(s: &str) -> Option<Self> {
        let essence = s.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "image/jpeg" | "image/jpg" => Some(Self::Jpeg),
            "image/png" => Some(Self::Png),
            "image/webp" => Some(Self::WebP),
            "image/heic" | "image/heif" => Some(Self::Heic),
            _ => None,
        }
    }

    /// Recognises the format from the first bytes of the content (its magic numbers).
    fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(&png::SIGNATURE) {
            Some(Self::Png)
        } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
            Some(Self::WebP)
        } else if heic::is_heic(bytes) {
            Some(Self::Heic)
        } else {
            None
        }
    }
}

impl fmt::Display for PhotoFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::WebP => "WebP",
            Self::Heic => "HEIC",
        })
    }
}

/// An image whose format is known from its content and which carries no Exif, XMP, IPTC or text
/// metadata, so it reveals neither where nor when it was taken nor with which device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    format: PhotoFormat,
    bytes: Vec<u8>,
}

impl Photo {
    /// Checks the content (never the file name or the declared type), and removes location and other metadata.
    ///
    /// - JPEG: drops every APP1 (Exif, XMP), APP13 (Photoshop, IPTC) and COM segment, and anything
    ///   after the end-of-image marker; the compressed image data is kept unchanged.
    /// - PNG: drops the `eXIf`, `tEXt`, `zTXt`, `iTXt` and `tIME` chunks.
    /// - WebP: drops the `EXIF` and `XMP ` chunks and clears their flags in `VP8X`.
    /// - HEIC: overwrites the data of every Exif and XMP item with zero bytes in place, so that every
    ///   offset in the file stays valid; a file whose metadata cannot be located that way is refused.
    ///
    /// The Exif orientation tag goes with the rest of the Exif data, so a photo that relied on it is
    /// shown in the sensor's orientation (usually turned by 90°). That is accepted: rotating would
    /// mean decoding and re-encoding the image, which this pure module does not do.
    pub fn parse(field: &str, bytes: &[u8]) -> Result<Photo, PhotoError> {
        if bytes.len() > MAX_PHOTO_BYTES {
            return Err(PhotoError::TooLarge { field: field.to_owned(), bytes: bytes.len(), max: MAX_PHOTO_BYTES });
        }
        if bytes.is_empty() {
            return Err(PhotoError::Empty { field: field.to_owned() });
        }
        let format = PhotoFormat::sniff(bytes).ok_or_else(|| PhotoError::NotAnImage { field: field.to_owned() })?;
        let stripped = match format {
            PhotoFormat::Jpeg => jpeg::strip(bytes),
            PhotoFormat::Png => png::strip(bytes),
            PhotoFormat::WebP => webp::strip(bytes),
            PhotoFormat::Heic => heic::strip(bytes),
        };
        match stripped {
            Ok(bytes) => Ok(Photo { format, bytes }),
            Err(Flaw::Truncated) => Err(PhotoError::Truncated { field: field.to_owned(), format }),
            Err(Flaw::Malformed(detail)) => Err(PhotoError::Malformed { field: field.to_owned(), format, detail }),
        }
    }

    pub fn format(&self) -> PhotoFormat {
        self.format
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Why uploaded bytes are not accepted as a photo. Each variant names the form field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    /// No bytes at all.
    Empty { field: String },
    /// More than `max` bytes; checked before anything else.
    TooLarge { field: String, bytes: usize, max: usize },
    /// The content is none of the accepted formats, whatever its name or declared type.
    NotAnImage { field: String },
    /// The content ends before the image does, as in an interrupted upload.
    Truncated { field: String, format: PhotoFormat },
    /// The content breaks the format's rules, or keeps metadata where it cannot be removed safely.
    Malformed { field: String, format: PhotoFormat, detail: &'static str },
}

impl PhotoError {
    /// A stable, machine-readable code for clients to translate.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty { .. } => "empty_photo",
            Self::TooLarge { .. } => "photo_too_large",
            Self::NotAnImage { .. } => "not_an_image",
            Self::Truncated { .. } => "truncated_image",
            Self::Malformed { .. } => "malformed_image",
        }
    }

    /// The form field the error concerns.
    pub fn field(&self) -> &str {
        match self {
            Self::Empty { field }
            | Self::TooLarge { field, .. }
            | Self::NotAnImage { field }
            | Self::Truncated { field, .. }
            | Self::Malformed { field, .. } => field,
        }
    }

    /// The problem, without the field name.
    fn problem(&self) -> String {
        match self {
            Self::Empty { .. } => "the file is empty".to_owned(),
            Self::TooLarge { bytes, max, .. } => format!("a file of {bytes} bytes is over the {max}-byte limit"),
            Self::NotAnImage { .. } => "not a JPEG, PNG, WebP or HEIC image".to_owned(),
            Self::Truncated { format, .. } => format!("the {format} image is cut short"),
            Self::Malformed { format, detail, .. } => format!("the {format} image is malformed: {detail}"),
        }
    }
}

impl fmt::Display for PhotoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field(), self.problem())
    }
}

impl From<PhotoError> for FieldError {
    fn from(error: PhotoError) -> Self {
        FieldError::new(error.field(), error.code(), error.problem())
    }
}

/// What a format parser found wrong; `Photo::parse` adds the field and the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flaw {
    Truncated,
    Malformed(&'static str),
}

/// A bounds-checked cursor over untrusted bytes: a read that would run past the end gives `None`
/// and leaves the cursor where it was.
struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.position.checked_add(n)?;
        let taken = self.bytes.get(self.position..end)?;
        self.position = end;
        Some(taken)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(u8::from_be_bytes(self.array()?))
    }

    fn u16_be(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.array()?))
    }

    fn u32_be(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }

    fn u32_le(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    fn u64_be(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.array()?))
    }

    /// A big-endian number of 0, 4 or 8 bytes, as ISO BMFF sizes its fields.
    fn sized_be(&mut self, size: u8) -> Option<u64> {
        match size {
            0 => Some(0),
            4 => self.u32_be().map(u64::from),
            8 => self.u64_be(),
            _ => None,
        }
    }

    /// The bytes up to the next NUL, consuming the NUL; `None` when there is none.
    fn c_string(&mut self) -> Option<&'a [u8]> {
        let rest = self.bytes.get(self.position..)?;
        let length = rest.iter().position(|&byte| byte == 0)?;
        let string = self.take(length)?;
        self.take(1)?;
        Some(string)
    }

    /// Everything not read yet.
    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.position..).unwrap_or_default()
    }
}

/// The bytes of `bytes` from `start` to `end`, or `None` when that range is not inside it.
fn range(bytes: &[u8], start: usize, end: usize) -> Option<&[u8]> {
    bytes.get(start..end)
}

mod jpeg {
    //! JPEG: a walk over the marker segments that drops the metadata ones and copies the rest.

    use super::{Flaw, Reader};

    const SOI: u8 = 0xD8;
    const EOI: u8 = 0xD9;
    const SOS: u8 = 0xDA;
    const TEM: u8 = 0x01;
    /// APP1 holds Exif (with the GPS position) and XMP.
    const APP1: u8 = 0xE1;
    /// APP13 holds Photoshop image resources, including IPTC captions and places.
    const APP13: u8 = 0xED;
    const COM: u8 = 0xFE;

    fn is_restart(code: u8) -> bool {
        (0xD0..=0xD7).contains(&code)
    }

    /// SOF0 to SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
    fn is_frame_header(code: u8) -> bool {
        (0xC0..=0xCF).contains(&code) && !matches!(code, 0xC4 | 0xC8 | 0xCC)
    }

    fn is_metadata(code: u8) -> bool {
        matches!(code, APP1 | APP13 | COM)
    }

    /// Copies the image without its metadata segments. Segments between progressive scans are walked
    /// like those before the first scan; anything after the end-of-image marker (trailers, appended
    /// secondary images or videos, which may carry their own metadata) is dropped.
    pub(super) fn strip(bytes: &[u8]) -> Result<Vec<u8>, Flaw> {
        let mut out = Vec::with_capacity(bytes.len());
        out.extend_from_slice(&[0xFF, SOI]);
        let mut position = 2;
        let mut seen_frame = false;
        let mut seen_scan = false;
        loop {
            match bytes.get(position) {
                None => return Err(Flaw::Truncated),
                Some(0xFF) => {}
                Some(_) => return Err(Flaw::Malformed("data where a marker should be")),
            }
            // Any number of 0xFF fill bytes may precede the marker code.
            while bytes.get(position) == Some(&0xFF) {
                position += 1;
            }
            let Some(&code) = bytes.get(position) else { return Err(Flaw::Truncated) };
            position += 1;
            match code {
                EOI if seen_scan => {
                    out.extend_from_slice(&[0xFF, EOI]);
                    return Ok(out);
                }
                EOI => return Err(Flaw::Truncated),
                TEM => {
                    out.extend_from_slice(&[0xFF, code]);
                    continue;
                }
                code if is_restart(code) => {
                    out.extend_from_slice(&[0xFF, code]);
                    continue;
                }
                0x00 => return Err(Flaw::Malformed("a stuffed zero byte outside the scan data")),
                SOI => return Err(Flaw::Malformed("a second start-of-image marker")),
                _ => {}
            }
            let mut reader = Reader::new(bytes.get(position..).unwrap_or_default());
            let length = usize::from(reader.u16_be().ok_or(Flaw::Truncated)?);
            if length < 2 {
                return Err(Flaw::Malformed("a segment length below 2"));
            }
            // The length counts its own two bytes.
            let segment = reader.take(length - 2).ok_or(Flaw::Truncated)?;
            let segment_end = position + length;
            if is_frame_header(code) {
                check_frame_header(segment)?;
                seen_frame = true;
            }
            if code == SOS {
                if !seen_frame {
                    return Err(Flaw::Malformed("a scan before any frame header (SOF)"));
                }
                check_scan_header(segment)?;
                seen_scan = true;
            }
            if !is_metadata(code) {
                out.extend_from_slice(&[0xFF, code]);
                out.extend_from_slice(super::range(bytes, position, segment_end).ok_or(Flaw::Truncated)?);
            }
            position = segment_end;
            if code == SOS {
                let data_end = entropy_coded_end(bytes, position)?;
                out.extend_from_slice(super::range(bytes, position, data_end).ok_or(Flaw::Truncated)?);
                position = data_end;
            }
        }
    }

    /// SOFn: precision, height, width, component count, then three bytes per component.
    fn check_frame_header(segment: &[u8]) -> Result<(), Flaw> {
        let mut reader = Reader::new(segment);
        let malformed = Flaw::Malformed("a bad frame header (SOF)");
        let (_precision, _height) = (reader.u8().ok_or(malformed)?, reader.u16_be().ok_or(malformed)?);
        let width = reader.u16_be().ok_or(malformed)?;
        let components = usize::from(reader.u8().ok_or(malformed)?);
        if width == 0 || components == 0 || reader.rest().len() != 3 * components {
            return Err(malformed);
        }
        Ok(())
    }

    /// SOS: component count (1 to 4), two bytes per component, then three bytes of spectral selection.
    fn check_scan_header(segment: &[u8]) -> Result<(), Flaw> {
        let mut reader = Reader::new(segment);
        let malformed = Flaw::Malformed("a bad scan header (SOS)");
        let components = usize::from(reader.u8().ok_or(malformed)?);
        if !(1..=4).contains(&components) || reader.rest().len() != 2 * components + 3 {
            return Err(malformed);
        }
        Ok(())
    }

    /// Where the entropy-coded data that starts at `start` ends: at the first 0xFF that is neither a
    /// stuffed `FF 00` nor a restart marker `FF D0`–`FF D7`. Running out of bytes first means the
    /// file was cut.
    fn entropy_coded_end(bytes: &[u8], start: usize) -> Result<usize, Flaw> {
        let mut position = start;
        loop {
            let rest = bytes.get(position..).ok_or(Flaw::Truncated)?;
            let marker = position + rest.iter().position(|&byte| byte == 0xFF).ok_or(Flaw::Truncated)?;
            let mut code_at = marker + 1;
            while bytes.get(code_at) == Some(&0xFF) {
                code_at += 1;
            }
            match bytes.get(code_at) {
                None => return Err(Flaw::Truncated),
                Some(&code) if code == 0x00 || is_restart(code) => position = code_at + 1,
                Some(_) => return Ok(marker),
            }
        }
    }
}

mod png {
    //! PNG: a walk over the chunks, checking each CRC, that drops the metadata chunks.

    use super::{Flaw, Reader};

    pub(super) const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// Exif (with the GPS position), free text of any kind, and the last-modification time.
    const METADATA: [&[u8; 4]; 5] = [b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"];

    /// Copies the image without its metadata chunks; anything after `IEND` is dropped.
    pub(super) fn strip(bytes: &[u8]) -> Result<Vec<u8>, Flaw> {
        let mut out = Vec::with_capacity(bytes.len());
        out.extend_from_slice(&SIGNATURE);
        let mut reader = Reader::new(bytes);
        reader.take(SIGNATURE.len()).ok_or(Flaw::Truncated)?;
        let mut first = true;
        let mut seen_data = false;
        loop {
            let start = reader.position;
            let length = reader.u32_be().ok_or(Flaw::Truncated)?;
            if length > 0x7FFF_FFFF {
                return Err(Flaw::Malformed("a chunk length over 2^31 - 1"));
            }
            let length = usize::try_from(length).map_err(|_| Flaw::Truncated)?;
            let kind: [u8; 4] = reader.array().ok_or(Flaw::Truncated)?;
            let data = reader.take(length).ok_or(Flaw::Truncated)?;
            let crc = reader.u32_be().ok_or(Flaw::Truncated)?;
            if !kind.iter().all(u8::is_ascii_alphabetic) {
                return Err(Flaw::Malformed("a chunk type that is not four letters"));
            }
            if crc32(&[&kind, data]) != crc {
                return Err(Flaw::Malformed("a chunk whose CRC does not match"));
            }
            match (first, &kind) {
                (true, b"IHDR") => check_header(data)?,
                (true, _) => return Err(Flaw::Malformed("the first chunk is not IHDR")),
                (false, b"IHDR") => return Err(Flaw::Malformed("a second IHDR chunk")),
                (false, b"IDAT") => seen_data = true,
                (false, _) => {}
            }
            first = false;
            if !METADATA.contains(&&kind) {
                out.extend_from_slice(super::range(bytes, start, reader.position).ok_or(Flaw::Truncated)?);
            }
            if &kind == b"IEND" {
                return if seen_data { Ok(out) } else { Err(Flaw::Malformed("no image data (IDAT)")) };
            }
        }
    }

    /// IHDR: width and height from 1 to 2^31 - 1, an allowed bit depth for the colour type, and the
    /// only defined compression and filter methods.
    fn check_header(data: &[u8]) -> Result<(), Flaw> {
        let malformed = Flaw::Malformed("a bad image header (IHDR)");
        if data.len() != 13 {
            return Err(malformed);
        }
        let mut reader = Reader::new(data);
        let width = reader.u32_be().ok_or(malformed)?;
        let height = reader.u32_be().ok_or(malformed)?;
        let [bit_depth, colour_type, compression, filter, interlace] = reader.array().ok_or(malformed)?;
        let depth_allowed = match colour_type {
            0 => matches!(bit_depth, 1 | 2 | 4 | 8 | 16),
            3 => matches!(bit_depth, 1 | 2 | 4 | 8),
            2 | 4 | 6 => matches!(bit_depth, 8 | 16),
            _ => false,
        };
        let in_range = |n: u32| (1..=0x7FFF_FFFF).contains(&n);
        if !in_range(width) || !in_range(height) || !depth_allowed || compression != 0 || filter != 0 || interlace > 1 {
            return Err(malformed);
        }
        Ok(())
    }

    /// The CRC-32 lookup table, one entry per byte value.
    #[allow(clippy::indexing_slicing, reason = "evaluated at compile time, where an index out of bounds fails the build")]
    const CRC_TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };

    /// The CRC-32 of ISO 3309 (as in zlib) over the concatenation of `parts`.
    pub(super) fn crc32(parts: &[&[u8]]) -> u32 {
        let mut crc = 0xFFFF_FFFF_u32;
        for &byte in parts.iter().flat_map(|part| part.iter()) {
            let index = usize::from((crc as u8) ^ byte);
            crc = CRC_TABLE.get(index).copied().unwrap_or_default() ^ (crc >> 8);
        }
        crc ^ 0xFFFF_FFFF
    }
}

mod webp {
    //! WebP: a walk over the RIFF chunks that drops the metadata ones and rewrites the RIFF size.

    use super::{Flaw, Reader};

    const EXIF_FLAG: u8 = 0x08;
    const XMP_FLAG: u8 = 0x04;

    /// Copies the image without its `EXIF` and `XMP ` chunks, clears the flags that announce them in
    /// `VP8X`, and gives the RIFF header the new size; bytes after the RIFF data are dropped.
    pub(super) fn strip(bytes: &[u8]) -> Result<Vec<u8>, Flaw> {
        let mut header = Reader::new(bytes);
        let _riff: [u8; 4] = header.array().ok_or(Flaw::Truncated)?;
        let riff_size = header.u32_le().ok_or(Flaw::Truncated)?;
        let riff_size = usize::try_from(riff_size).map_err(|_| Flaw::Truncated)?;
        if riff_size < 4 {
            return Err(Flaw::Malformed("a RIFF size below 4"));
        }
        // The RIFF size counts everything after itself, starting with "WEBP".
        let riff = bytes.get(8..).and_then(|rest| rest.get(..riff_size)).ok_or(Flaw::Truncated)?;
        let mut reader = Reader::new(riff);
        reader.take(4).ok_or(Flaw::Truncated)?;

        let mut out = Vec::with_capacity(bytes.len());
        out.extend_from_slice(b"RIFF\0\0\0\0WEBP");
        let mut has_image = false;
        while !reader.rest().is_empty() {
            let start = reader.position;
            let kind: [u8; 4] = reader.array().ok_or(Flaw::Truncated)?;
            let size = reader.u32_le().ok_or(Flaw::Truncated)?;
            let size = usize::try_from(size).map_err(|_| Flaw::Truncated)?;
            let payload_start = reader.position;
            // A chunk of odd size is followed by one pad byte.
            let padded = size.checked_add(size % 2).ok_or(Flaw::Truncated)?;
            reader.take(padded).ok_or(Flaw::Truncated)?;
            let chunk = super::range(riff, start, reader.position).ok_or(Flaw::Truncated)?;
            match &kind {
                b"EXIF" | b"XMP " => continue,
                b"VP8 " | b"VP8L" => has_image = true,
                b"VP8X" => {
                    if size < 10 {
                        return Err(Flaw::Malformed("a VP8X chunk shorter than 10 bytes"));
                    }
                    has_image = true;
                    let flags_at = out.len() + (payload_start - start);
                    out.extend_from_slice(chunk);
                    if let Some(flags) = out.get_mut(flags_at) {
                        *flags &= !(EXIF_FLAG | XMP_FLAG);
                    }
                    continue;
                }
                _ => {}
            }
            out.extend_from_slice(chunk);
        }
        if !has_image {
            return Err(Flaw::Malformed("no VP8, VP8L or VP8X chunk"));
        }
        let new_size = u32::try_from(out.len() - 8).map_err(|_| Flaw::Malformed("a RIFF size over 4 GiB"))?;
        if let Some(size_field) = out.get_mut(4..8) {
            size_field.copy_from_slice(&new_size.to_le_bytes());
        }
        Ok(out)
    }
}

mod heic {
    //! HEIC: a walk over the ISO BMFF boxes down to the item information (`iinf`) and item locations
    //! (`iloc`) in `meta`, which overwrites the data of the Exif and XMP items with zeros in place.
    //! Removing them instead would move the image data and invalidate every offset that points to it.

    use super::{Flaw, Reader};
    use std::collections::BTreeSet;

    /// Brands, major or compatible, of HEIF files holding HEVC-coded images or image sequences.
    const BRANDS: [&[u8; 4]; 8] = [b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"];

    const XMP_CONTENT_TYPE: &[u8] = b"application/rdf+xml";

    /// True when the file starts with an `ftyp` box naming one of the HEIC brands.
    pub(super) fn is_heic(bytes: &[u8]) -> bool {
        let mut reader = Reader::new(bytes);
        let (Some(size), Some(kind)) = (reader.u32_be(), reader.array::<4>()) else { return false };
        if &kind != b"ftyp" {
            return false;
        }
        let size = usize::try_from(size).unwrap_or(usize::MAX).min(bytes.len());
        let major = bytes.get(8..12);
        let compatible = bytes.get(16..size).unwrap_or_default().chunks_exact(4);
        major.into_iter().chain(compatible).any(|brand| BRANDS.iter().any(|accepted| accepted.as_slice() == brand))
    }

    /// One box: its type and where its payload and its end are in the file.
    struct BoxSpan {
        kind: [u8; 4],
        payload: usize,
        end: usize,
    }

    impl BoxSpan {
        fn payload<'a>(&self, bytes: &'a [u8]) -> Result<&'a [u8], Flaw> {
            super::range(bytes, self.payload, self.end).ok_or(Flaw::Malformed("a box outside the file"))
        }
    }

    /// The boxes laid end to end from `start` to `end`. A box that runs past `end` is `overrun`:
    /// a cut file at the top level, a malformed one inside another box.
    fn boxes(bytes: &[u8], start: usize, end: usize, overrun: Flaw) -> Result<Vec<BoxSpan>, Flaw> {
        let container = super::range(bytes, start, end).ok_or(overrun)?;
        let mut reader = Reader::new(container);
        let mut spans = Vec::new();
        while !reader.rest().is_empty() {
            let box_start = reader.position;
            let size = reader.u32_be().ok_or(overrun)?;
            let kind: [u8; 4] = reader.array().ok_or(overrun)?;
            let size = match size {
                // Size 0: the box extends to the end of its container.
                0 => container.len() - box_start,
                // Size 1: the real size follows as 64 bits.
                1 => usize::try_from(reader.u64_be().ok_or(overrun)?).map_err(|_| overrun)?,
                size => usize::try_from(size).map_err(|_| overrun)?,
            };
            let header = reader.position - box_start;
            if size < header {
                return Err(Flaw::Malformed("a box smaller than its header"));
            }
            reader.take(size - header).ok_or(overrun)?;
            spans.push(BoxSpan { kind, payload: start + box_start + header, end: start + reader.position });
        }
        Ok(spans)
    }

    /// The only box of type `kind` among `spans`, if any.
    fn only<'a>(spans: &'a [BoxSpan], kind: &[u8; 4], duplicate: &'static str) -> Result<Option<&'a BoxSpan>, Flaw> {
        let mut found = spans.iter().filter(|span| &span.kind == kind);
        let first = found.next();
        if found.next().is_some() {
            return Err(Flaw::Malformed(duplicate));
        }
        Ok(first)
    }

    /// Returns the file with every byte of its Exif and XMP items set to zero and nothing else changed.
    pub(super) fn strip(bytes: &[u8]) -> Result<Vec<u8>, Flaw> {
        let top = boxes(bytes, 0, bytes.len(), Flaw::Truncated)?;
        if top.first().map(|span| &span.kind) != Some(b"ftyp") {
            return Err(Flaw::Malformed("the first box is not ftyp"));
        }
        if top.iter().any(|span| &span.kind == b"moov") {
            // Sequence tracks keep their own metadata (such as a location in udta), which is not removed.
            return Err(Flaw::Malformed("image sequences (moov) are not supported"));
        }
        let meta = only(&top, b"meta", "more than one meta box")?.ok_or(Flaw::Malformed("no meta box"))?;
        let inside = Flaw::Malformed("a box larger than the box around it");
        // meta is a full box: version and flags come before its children.
        let meta_children = boxes(bytes, meta.payload.checked_add(4).ok_or(inside)?, meta.end, inside)?;
        let item_info = only(&meta_children, b"iinf", "more than one iinf box")?.ok_or(Flaw::Malformed("no item information (iinf)"))?;
        let item_locations = only(&meta_children, b"iloc", "more than one iloc box")?.ok_or(Flaw::Malformed("no item locations (iloc)"))?;

        let metadata_items = metadata_items(bytes, item_info)?;
        let extents = metadata_extents(item_locations.payload(bytes)?, &metadata_items)?;

        let mut out = bytes.to_vec();
        for (offset, length) in extents {
            let outside = Flaw::Malformed("an Exif or XMP extent outside the media data");
            let start = usize::try_from(offset).map_err(|_| outside)?;
            let end = usize::try_from(length).ok().and_then(|length| start.checked_add(length)).ok_or(outside)?;
            // The extent must lie in the payload of one top-level box other than ftyp and meta, so
            // zeroing it cannot damage the structure this walk relied on.
            let holder = top.iter().find(|span| span.payload <= start && end <= span.end).ok_or(outside)?;
            if matches!(&holder.kind, b"ftyp" | b"meta") {
                return Err(outside);
            }
            out.get_mut(start..end).ok_or(outside)?.fill(0);
        }
        Ok(out)
    }

    /// The ids of the items that are Exif, or XMP (a `mime` item of type `application/rdf+xml`).
    fn metadata_items(bytes: &[u8], item_info: &BoxSpan) -> Result<BTreeSet<u32>, Flaw> {
        let malformed = Flaw::Malformed("a bad item information box (iinf)");
        let mut reader = Reader::new(item_info.payload(bytes)?);
        let version = reader.u8().ok_or(malformed)?;
        reader.take(3).ok_or(malformed)?;
        let _entry_count = if version == 0 { reader.u16_be().map(u32::from) } else { reader.u32_be() }.ok_or(malformed)?;
        let inside = Flaw::Malformed("a box larger than the box around it");
        let entries = boxes(bytes, item_info.payload + reader.position, item_info.end, inside)?;
        let mut items = BTreeSet::new();
        for entry in entries.iter().filter(|span| &span.kind == b"infe") {
            if let Some(id) = metadata_item(entry.payload(bytes)?)? {
                items.insert(id);
            }
        }
        Ok(items)
    }

    /// The item's id when an item information entry (`infe`) describes Exif or XMP.
    fn metadata_item(entry: &[u8]) -> Result<Option<u32>, Flaw> {
        let malformed = Flaw::Malformed("a bad item information entry (infe)");
        let mut reader = Reader::new(entry);
        let version = reader.u8().ok_or(malformed)?;
        reader.take(3).ok_or(malformed)?;
        let id = match version {
            2 => u32::from(reader.u16_be().ok_or(malformed)?),
            3 => reader.u32_be().ok_or(malformed)?,
            // Versions 0 and 1 have no item type, so Exif could not be told apart; HEIF requires 2 or 3.
            _ => return Err(Flaw::Malformed("an item information entry (infe) of a version other than 2 or 3")),
        };
        let _protection_index = reader.u16_be().ok_or(malformed)?;
        let item_type: [u8; 4] = reader.array().ok_or(malformed)?;
        match &item_type {
            b"Exif" => Ok(Some(id)),
            b"mime" => {
                let _name = reader.c_string().ok_or(malformed)?;
                // The content type ends with a NUL, which some writers leave out at the end of the box.
                let content_type = reader.c_string().unwrap_or_else(|| reader.rest());
                Ok(content_type.eq_ignore_ascii_case(XMP_CONTENT_TYPE).then_some(id))
            }
            _ => Ok(None),
        }
    }

    /// The file extents, as (offset, length), of the items in `items`, read from the item location
    /// box (`iloc`, versions 0 to 2). Items stored other than at file offsets are refused.
    fn metadata_extents(item_locations: &[u8], items: &BTreeSet<u32>) -> Result<Vec<(u64, u64)>, Flaw> {
        let malformed = Flaw::Malformed("a bad item location box (iloc)");
        let mut reader = Reader::new(item_locations);
        let version = reader.u8().ok_or(malformed)?;
        reader.take(3).ok_or(malformed)?;
        if version > 2 {
            return Err(Flaw::Malformed("an item location box (iloc) of a version above 2"));
        }
        let sizes = reader.u8().ok_or(malformed)?;
        let (offset_size, length_size) = (sizes >> 4, sizes & 0x0F);
        let sizes = reader.u8().ok_or(malformed)?;
        let (base_offset_size, index_size) = (sizes >> 4, if version == 0 { 0 } else { sizes & 0x0F });
        if [offset_size, length_size, base_offset_size, index_size].iter().any(|size| !matches!(size, 0 | 4 | 8)) {
            return Err(Flaw::Malformed("an item location field size other than 0, 4 or 8"));
        }
        let item_count = if version < 2 { reader.u16_be().map(u32::from) } else { reader.u32_be() }.ok_or(malformed)?;
        let mut extents = Vec::new();
        for _ in 0..item_count {
            let id = if version < 2 { reader.u16_be().map(u32::from) } else { reader.u32_be() }.ok_or(malformed)?;
            let construction_method = if version == 0 { 0 } else { reader.u16_be().ok_or(malformed)? & 0x000F };
            let data_reference_index = reader.u16_be().ok_or(malformed)?;
            let base_offset = reader.sized_be(base_offset_size).ok_or(malformed)?;
            let extent_count = reader.u16_be().ok_or(malformed)?;
            let is_metadata = items.contains(&id);
            if is_metadata && construction_method != 0 {
                return Err(Flaw::Malformed("an Exif or XMP item stored other than at a file offset"));
            }
            if is_metadata && data_reference_index != 0 {
                return Err(Flaw::Malformed("an Exif or XMP item stored in another file"));
            }
            // When every extent field has size 0, all extents read alike and read nothing: one is enough.
            let extent_count = if offset_size == 0 && length_size == 0 && index_size == 0 { extent_count.min(1) } else { extent_count };
            for _ in 0..extent_count {
                reader.sized_be(index_size).ok_or(malformed)?;
                let offset = reader.sized_be(offset_size).ok_or(malformed)?;
                let length = reader.sized_be(length_size).ok_or(malformed)?;
                if is_metadata {
                    if length == 0 {
                        // Length 0 means "the whole file", which cannot be Exif or XMP alone.
                        return Err(Flaw::Malformed("an Exif or XMP extent of unknown length"));
                    }
                    let offset = base_offset.checked_add(offset).ok_or(Flaw::Malformed("an Exif or XMP extent outside the media data"))?;
                    extents.push((offset, length));
                }
            }
        }
        Ok(extents)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn windows_contain(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|window| window == needle)
    }

    // ---- JPEG samples ----

    fn jpeg_segment(code: u8, payload: &[u8]) -> Vec<u8> {
        let length = u16::try_from(payload.len() + 2).unwrap();
        let mut segment = vec![0xFF, code];
        segment.extend_from_slice(&length.to_be_bytes());
        segment.extend_from_slice(payload);
        segment
    }

    fn jfif() -> Vec<u8> {
        jpeg_segment(0xE0, b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    }

    fn exif_app1() -> Vec<u8> {
        jpeg_segment(0xE1, b"Exif\0\0MM\0\x2A\0\0\0\x08GPS 24.7136N 46.6753E")
    }

    fn quantisation_table() -> Vec<u8> {
        let mut payload = vec![0x00];
        payload.extend(1..=64u8);
        jpeg_segment(0xDB, &payload)
    }

    fn frame_header() -> Vec<u8> {
        // 8-bit, 16x16, one component (id 1, sampling 1x1, table 0).
        jpeg_segment(0xC0, &[0x08, 0x00, 0x10, 0x00, 0x10, 0x01, 0x01, 0x11, 0x00])
    }

    fn huffman_table() -> Vec<u8> {
        let mut payload = vec![0x00, 0x01];
        payload.extend([0u8; 15]);
        payload.push(0x00);
        jpeg_segment(0xC4, &payload)
    }

    fn scan_header() -> Vec<u8> {
        jpeg_segment(0xDA, &[0x01, 0x01, 0x00, 0x00, 0x3F, 0x00])
    }

    /// Entropy-coded data with a stuffed byte (FF 00) and a restart marker (FF D0).
    const SCAN_DATA: &[u8] = &[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD0, 0x78, 0x9A];

    fn jpeg_from(parts: &[Vec<u8>]) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8];
        for part in parts {
            bytes.extend_from_slice(part);
        }
        bytes
    }

    fn jpeg_sample() -> Vec<u8> {
        jpeg_from(&[jfif(), exif_app1(), quantisation_table(), frame_header(), huffman_table(), scan_header(), SCAN_DATA.to_vec(), vec![0xFF, 0xD9]])
    }

    fn jpeg_sample_stripped() -> Vec<u8> {
        jpeg_from(&[jfif(), quantisation_table(), frame_header(), huffman_table(), scan_header(), SCAN_DATA.to_vec(), vec![0xFF, 0xD9]])
    }

    // ---- PNG samples ----

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut chunk = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
        chunk.extend_from_slice(kind);
        chunk.extend_from_slice(data);
        chunk.extend_from_slice(&png::crc32(&[kind, data]).to_be_bytes());
        chunk
    }

    fn png_header() -> Vec<u8> {
        // 1x1, 8-bit greyscale.
        png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0])
    }

    fn png_data() -> Vec<u8> {
        // A zlib stream with one stored block holding the filter byte and the one grey pixel.
        png_chunk(b"IDAT", &[0x78, 0x01, 0x01, 0x02, 0x00, 0xFD, 0xFF, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01])
    }

    fn png_from(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut bytes = png::SIGNATURE.to_vec();
        for chunk in chunks {
            bytes.extend_from_slice(chunk);
        }
        bytes
    }

    fn png_sample() -> Vec<u8> {
        png_from(&[
            png_header(),
            png_chunk(b"gAMA", &45455u32.to_be_bytes()),
            png_chunk(b"eXIf", b"MM\0\x2A\0\0\0\x08GPS 24.7136N 46.6753E"),
            png_chunk(b"tEXt", b"Comment\0GPS by the mosque"),
            png_chunk(b"zTXt", b"Author\0\0x"),
            png_chunk(b"iTXt", b"Location\0\0\0ar\0\0GPS"),
            png_chunk(b"tIME", &[0x07, 0xE9, 1, 2, 3, 4, 5]),
            png_data(),
            png_chunk(b"IEND", &[]),
        ])
    }

    fn png_sample_stripped() -> Vec<u8> {
        png_from(&[png_header(), png_chunk(b"gAMA", &45455u32.to_be_bytes()), png_data(), png_chunk(b"IEND", &[])])
    }

    // ---- WebP samples ----

    fn riff_chunk(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_le_bytes());
        chunk.extend_from_slice(payload);
        if payload.len() % 2 == 1 {
            chunk.push(0);
        }
        chunk
    }

    fn webp_from(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut bytes = b"RIFF".to_vec();
        bytes.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_le_bytes());
        bytes.extend_from_slice(b"WEBP");
        bytes.extend_from_slice(&body);
        bytes
    }

    /// VP8X with the ICC (0x20), EXIF (0x08) and XMP (0x04) flags, 1x1.
    fn vp8x(flags: u8) -> Vec<u8> {
        riff_chunk(b"VP8X", &[flags, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    fn webp_sample() -> Vec<u8> {
        webp_from(&[
            vp8x(0x2C),
            riff_chunk(b"ICCP", b"icc"),
            riff_chunk(b"VP8L", &[0x2F, 0x00, 0x00, 0x00, 0x00]),
            riff_chunk(b"EXIF", b"MM\0\x2A\0\0\0\x08GPS"),
            riff_chunk(b"XMP ", b"<x:xmpmeta>GPS</x:xmpmeta>"),
        ])
    }

    fn webp_sample_stripped() -> Vec<u8> {
        webp_from(&[vp8x(0x20), riff_chunk(b"ICCP", b"icc"), riff_chunk(b"VP8L", &[0x2F, 0x00, 0x00, 0x00, 0x00])])
    }

    // ---- HEIC samples ----

    fn bmff_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut bytes = u32::try_from(payload.len() + 8).unwrap().to_be_bytes().to_vec();
        bytes.extend_from_slice(kind);
        bytes.extend_from_slice(payload);
        bytes
    }

    fn full_box(kind: &[u8; 4], version: u8, payload: &[u8]) -> Vec<u8> {
        let mut body = vec![version, 0, 0, 0];
        body.extend_from_slice(payload);
        bmff_box(kind, &body)
    }

    fn item_info_entry(id: u16, item_type: &[u8; 4], content_type: &[u8]) -> Vec<u8> {
        let mut payload = id.to_be_bytes().to_vec();
        payload.extend_from_slice(&[0, 0]);
        payload.extend_from_slice(item_type);
        payload.push(0); // empty item name
        if item_type == b"mime" {
            payload.extend_from_slice(content_type);
            payload.push(0);
        }
        full_box(b"infe", 2, &payload)
    }

    /// How the test file's `iloc` box is written.
    #[derive(Clone, Copy)]
    struct IlocLayout {
        version: u8,
        base_offset_size: u8,
        index_size: u8,
        exif_construction_method: u16,
    }

    const ILOC_V1: IlocLayout = IlocLayout { version: 1, base_offset_size: 0, index_size: 0, exif_construction_method: 0 };

    const IMAGE_DATA: &[u8] = b"HEVC-CODED-IMAGE-DATA";
    const EXIF_DATA: &[u8] = b"\0\0\0\x06Exif\0\0MM\0\x2A\0\0\0\x08GPS 24.7136N";
    const XMP_DATA: &[u8] = b"<x:xmpmeta><exif:GPSLatitude>24,42.8N</exif:GPSLatitude></x:xmpmeta>";

    fn item_locations(layout: IlocLayout, items: &[(u16, u16, u64, u64)]) -> Vec<u8> {
        let put = |out: &mut Vec<u8>, size: u8, value: u64| match size {
            0 => {}
            4 => out.extend_from_slice(&u32::try_from(value).unwrap().to_be_bytes()),
            _ => out.extend_from_slice(&value.to_be_bytes()),
        };
        let mut payload = vec![0x44, (layout.base_offset_size << 4) | layout.index_size];
        if layout.version < 2 {
            payload.extend_from_slice(&u16::try_from(items.len()).unwrap().to_be_bytes());
        } else {
            payload.extend_from_slice(&u32::try_from(items.len()).unwrap().to_be_bytes());
        }
        for &(id, method, base_offset, offset) in items {
            let length = match id {
                1 => IMAGE_DATA.len(),
                2 => EXIF_DATA.len(),
                _ => XMP_DATA.len(),
            };
            if layout.version < 2 {
                payload.extend_from_slice(&id.to_be_bytes());
            } else {
                payload.extend_from_slice(&u32::from(id).to_be_bytes());
            }
            if layout.version > 0 {
                payload.extend_from_slice(&method.to_be_bytes());
            }
            payload.extend_from_slice(&[0, 0]); // data reference index: this file
            put(&mut payload, layout.base_offset_size, base_offset);
            payload.extend_from_slice(&1u16.to_be_bytes());
            put(&mut payload, layout.index_size, 0);
            put(&mut payload, 4, offset);
            put(&mut payload, 4, u64::try_from(length).unwrap());
        }
        full_box(b"iloc", layout.version, &payload)
    }

    /// A HEIC-like file with an image item (1), an Exif item (2) and an XMP item (3), and where the
    /// Exif and XMP data sit in it.
    fn heic_with(layout: IlocLayout) -> (Vec<u8>, std::ops::Range<usize>, std::ops::Range<usize>) {
        let mut ftyp_payload = b"heic\0\0\0\0".to_vec();
        ftyp_payload.extend_from_slice(b"mif1heic");
        let ftyp = bmff_box(b"ftyp", &ftyp_payload);
        let meta_for = |mdat_payload: u64| {
            let handler = full_box(b"hdlr", 0, b"\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0");
            let mut entries = 3u16.to_be_bytes().to_vec();
            entries.extend(item_info_entry(1, b"hvc1", b""));
            entries.extend(item_info_entry(2, b"Exif", b""));
            entries.extend(item_info_entry(3, b"mime", XMP_CONTENT_TYPE_FOR_TESTS));
            let item_info = full_box(b"iinf", 0, &entries);
            let exif_at = u64::try_from(IMAGE_DATA.len()).unwrap();
            let xmp_at = exif_at + u64::try_from(EXIF_DATA.len()).unwrap();
            let (base, absolute) = if layout.base_offset_size > 0 { (mdat_payload, 0) } else { (0, mdat_payload) };
            let locations = item_locations(
                layout,
                &[(1, 0, base, absolute), (2, layout.exif_construction_method, base, absolute + exif_at), (3, 0, base, absolute + xmp_at)],
            );
            full_box(b"meta", 0, &[handler, item_info, locations].concat())
        };
        let meta_length = meta_for(0).len();
        let mdat_payload = ftyp.len() + meta_length + 8;
        let meta = meta_for(u64::try_from(mdat_payload).unwrap());
        assert_eq!(meta.len(), meta_length);
        let mdat = bmff_box(b"mdat", &[IMAGE_DATA, EXIF_DATA, XMP_DATA].concat());
        let exif_start = mdat_payload + IMAGE_DATA.len();
        let xmp_start = exif_start + EXIF_DATA.len();
        let bytes = [ftyp, meta, mdat].concat();
        (bytes, exif_start..xmp_start, xmp_start..xmp_start + XMP_DATA.len())
    }

    const XMP_CONTENT_TYPE_FOR_TESTS: &[u8] = b"application/rdf+xml";

    fn heic_sample() -> Vec<u8> {
        heic_with(ILOC_V1).0
    }

    fn zeroed(bytes: &[u8], ranges: &[std::ops::Range<usize>]) -> Vec<u8> {
        let mut expected = bytes.to_vec();
        for range in ranges {
            expected[range.clone()].fill(0);
        }
        expected
    }

    fn parse(bytes: &[u8]) -> Result<Photo, PhotoError> {
        Photo::parse("photo", bytes)
    }

    fn truncated(format: PhotoFormat) -> Result<Photo, PhotoError> {
        Err(PhotoError::Truncated { field: "photo".to_owned(), format })
    }

    fn malformed(format: PhotoFormat, detail: &'static str) -> Result<Photo, PhotoError> {
        Err(PhotoError::Malformed { field: "photo".to_owned(), format, detail })
    }

    // ---- JPEG ----

    #[test]
    fn jpeg_loses_exif_and_keeps_every_other_byte() {
        let photo = parse(&jpeg_sample()).unwrap();
        assert_eq!(photo.format(), PhotoFormat::Jpeg);
        assert_eq!(photo.bytes(), jpeg_sample_stripped());
        assert!(!windows_contain(photo.bytes(), b"GPS"));
        assert!(!windows_contain(photo.bytes(), b"Exif"));
    }

    #[test]
    fn jpeg_loses_xmp_iptc_and_comments_but_keeps_icc_and_adobe_segments() {
        let xmp = jpeg_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>GPS</x:xmpmeta>");
        let iptc = jpeg_segment(0xED, b"Photoshop 3.0\08BIM\x04\x04GPS");
        let comment = jpeg_segment(0xFE, b"taken at GPS 24.7N");
        let icc = jpeg_segment(0xE2, b"ICC_PROFILE\0\x01\x01profile");
        let adobe = jpeg_segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01");
        let tail = [quantisation_table(), frame_header(), huffman_table(), scan_header(), SCAN_DATA.to_vec(), vec![0xFF, 0xD9]];
        let input = jpeg_from(&[&[jfif(), xmp, icc.clone(), iptc, adobe.clone(), comment][..], &tail].concat());
        let expected = jpeg_from(&[&[jfif(), icc, adobe][..], &tail].concat());
        assert_eq!(parse(&input).unwrap().bytes(), expected);
    }

    #[test]
    fn jpeg_fill_bytes_and_standalone_markers_are_handled() {
        // Fill bytes before markers are dropped; TEM and a stray restart marker between segments are kept.
        let with_fill = |segment: Vec<u8>| [vec![0xFF, 0xFF], segment].concat();
        let input = jpeg_from(&[
            with_fill(jfif()),
            vec![0xFF, 0x01],
            with_fill(exif_app1()),
            vec![0xFF, 0xD3],
            quantisation_table(),
            frame_header(),
            huffman_table(),
            with_fill(scan_header()),
            SCAN_DATA.to_vec(),
            vec![0xFF, 0xFF, 0xFF, 0xD9],
        ]);
        let expected = jpeg_from(&[
            jfif(),
            vec![0xFF, 0x01],
            vec![0xFF, 0xD3],
            quantisation_table(),
            frame_header(),
            huffman_table(),
            scan_header(),
            SCAN_DATA.to_vec(),
            vec![0xFF, 0xD9],
        ]);
        assert_eq!(parse(&input).unwrap().bytes(), expected);
    }

    #[test]
    fn jpeg_metadata_between_progressive_scans_and_data_after_the_end_are_dropped() {
        let input = jpeg_from(&[
            jfif(),
            frame_header(),
            huffman_table(),
            scan_header(),
            SCAN_DATA.to_vec(),
            exif_app1(),
            huffman_table(),
            scan_header(),
            SCAN_DATA.to_vec(),
            vec![0xFF, 0xD9],
            b"appended video with GPS".to_vec(),
        ]);
        let expected = jpeg_from(&[
            jfif(),
            frame_header(),
            huffman_table(),
            scan_header(),
            SCAN_DATA.to_vec(),
            huffman_table(),
            scan_header(),
            SCAN_DATA.to_vec(),
            vec![0xFF, 0xD9],
        ]);
        assert_eq!(parse(&input).unwrap().bytes(), expected);
    }

    #[test]
    fn jpeg_flaws_are_named() {
        use PhotoFormat::Jpeg;
        let no_frame = jpeg_from(&[jfif(), quantisation_table(), huffman_table(), scan_header(), SCAN_DATA.to_vec(), vec![0xFF, 0xD9]]);
        assert_eq!(parse(&no_frame), malformed(Jpeg, "a scan before any frame header (SOF)"));
        let no_scan = jpeg_from(&[jfif(), quantisation_table(), frame_header(), huffman_table(), vec![0xFF, 0xD9]]);
        assert_eq!(parse(&no_scan), truncated(Jpeg));
        let bad_frame = jpeg_from(&[jfif(), jpeg_segment(0xC2, &[0x08, 0x00, 0x10, 0x00, 0x10, 0x02, 0x01, 0x11, 0x00])]);
        assert_eq!(parse(&bad_frame), malformed(Jpeg, "a bad frame header (SOF)"));
        let bad_scan = jpeg_from(&[jfif(), frame_header(), jpeg_segment(0xDA, &[0x05, 0x01, 0x00, 0x00, 0x3F, 0x00])]);
        assert_eq!(parse(&bad_scan), malformed(Jpeg, "a bad scan header (SOS)"));
        let junk_between_segments = jpeg_from(&[jfif(), vec![0x00], frame_header()]);
        assert_eq!(parse(&junk_between_segments), malformed(Jpeg, "data where a marker should be"));
        let short_length = jpeg_from(&[vec![0xFF, 0xE0, 0x00, 0x01]]);
        assert_eq!(parse(&short_length), malformed(Jpeg, "a segment length below 2"));
        let second_start = jpeg_from(&[jfif(), vec![0xFF, 0xD8]]);
        assert_eq!(parse(&second_start), malformed(Jpeg, "a second start-of-image marker"));
        let sample = jpeg_sample();
        // Cut inside a segment, inside the scan data, and just before the end-of-image marker.
        for cut in [3, 10, sample.len() - 6, sample.len() - 2, sample.len() - 1] {
            assert_eq!(parse(&sample[..cut]), truncated(Jpeg), "cut at {cut}");
        }
    }

    // ---- PNG ----

    #[test]
    fn png_loses_exif_text_and_time_and_keeps_every_other_chunk() {
        let photo = parse(&png_sample()).unwrap();
        assert_eq!(photo.format(), PhotoFormat::Png);
        assert_eq!(photo.bytes(), png_sample_stripped());
        assert!(!windows_contain(photo.bytes(), b"GPS"));
    }

    #[test]
    fn png_crc_is_the_standard_one() {
        assert_eq!(png::crc32(&[b"IEND"]), 0xAE42_6082);
        assert_eq!(png::crc32(&[b"123456789"]), 0xCBF4_3926);
    }

    #[test]
    fn png_flaws_are_named() {
        use PhotoFormat::Png;
        let mut bad_crc = png_sample();
        let last = bad_crc.len() - 1;
        bad_crc[last] ^= 0x01;
        assert_eq!(parse(&bad_crc), malformed(Png, "a chunk whose CRC does not match"));
        let data_first = png_from(&[png_data(), png_header(), png_chunk(b"IEND", &[])]);
        assert_eq!(parse(&data_first), malformed(Png, "the first chunk is not IHDR"));
        let no_data = png_from(&[png_header(), png_chunk(b"IEND", &[])]);
        assert_eq!(parse(&no_data), malformed(Png, "no image data (IDAT)"));
        let zero_width = png_from(&[png_chunk(b"IHDR", &[0, 0, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0]), png_data(), png_chunk(b"IEND", &[])]);
        assert_eq!(parse(&zero_width), malformed(Png, "a bad image header (IHDR)"));
        let bad_type = png_from(&[png_header(), png_chunk(b"ID4T", &[]), png_data(), png_chunk(b"IEND", &[])]);
        assert_eq!(parse(&bad_type), malformed(Png, "a chunk type that is not four letters"));
        let no_end = png_from(&[png_header(), png_data()]);
        assert_eq!(parse(&no_end), truncated(Png));
        let sample = png_sample();
        for cut in [8, 12, 20, sample.len() - 1] {
            assert_eq!(parse(&sample[..cut]), truncated(Png), "cut at {cut}");
        }
    }

    // ---- WebP ----

    #[test]
    fn webp_loses_exif_and_xmp_chunks_and_their_flags() {
        let photo = parse(&webp_sample()).unwrap();
        assert_eq!(photo.format(), PhotoFormat::WebP);
        assert_eq!(photo.bytes(), webp_sample_stripped());
        assert!(!windows_contain(photo.bytes(), b"GPS"));
        assert_eq!(photo.bytes()[20] & 0x0C, 0, "EXIF and XMP flags cleared");
        let riff_size = u32::from_le_bytes(photo.bytes()[4..8].try_into().unwrap());
        assert_eq!(usize::try_from(riff_size).unwrap(), photo.bytes().len() - 8);
    }

    #[test]
    fn webp_simple_format_is_kept_as_is() {
        let simple = webp_from(&[riff_chunk(b"VP8 ", b"\x30\x01\x00\x9D\x01\x2A\x01\x00\x01\x00")]);
        assert_eq!(parse(&simple).unwrap().bytes(), simple);
    }

    #[test]
    fn webp_flaws_are_named() {
        use PhotoFormat::WebP;
        let no_image = webp_from(&[riff_chunk(b"ICCP", b"icc"), riff_chunk(b"EXIF", b"GPS")]);
        assert_eq!(parse(&no_image), malformed(WebP, "no VP8, VP8L or VP8X chunk"));
        let short_vp8x = webp_from(&[riff_chunk(b"VP8X", &[0x08, 0, 0, 0])]);
        assert_eq!(parse(&short_vp8x), malformed(WebP, "a VP8X chunk shorter than 10 bytes"));
        let mut tiny_riff = webp_sample();
        tiny_riff[4..8].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(parse(&tiny_riff), malformed(WebP, "a RIFF size below 4"));
        let sample = webp_sample();
        for cut in [12, 13, 20, 31, sample.len() - 1] {
            assert_eq!(parse(&sample[..cut]), truncated(WebP), "cut at {cut}");
        }
    }

    // ---- HEIC ----

    #[test]
    fn heic_exif_and_xmp_items_are_zeroed_in_place() {
        let (input, exif, xmp) = heic_with(ILOC_V1);
        let photo = parse(&input).unwrap();
        assert_eq!(photo.format(), PhotoFormat::Heic);
        assert_eq!(photo.bytes().len(), input.len());
        assert_eq!(photo.bytes(), zeroed(&input, &[exif, xmp]));
        assert!(!windows_contain(photo.bytes(), b"GPS"));
        assert!(windows_contain(photo.bytes(), IMAGE_DATA));
    }

    #[test]
    fn heic_every_item_location_version_and_field_size_is_understood() {
        let layouts = [
            IlocLayout { version: 0, ..ILOC_V1 },
            IlocLayout { version: 1, base_offset_size: 8, index_size: 4, ..ILOC_V1 },
            IlocLayout { version: 2, base_offset_size: 4, index_size: 8, ..ILOC_V1 },
        ];
        for layout in layouts {
            let (input, exif, xmp) = heic_with(layout);
            assert_eq!(parse(&input).unwrap().bytes(), zeroed(&input, &[exif, xmp]), "iloc version {}", layout.version);
        }
    }

    #[test]
    fn heic_is_recognised_by_a_compatible_brand() {
        let (mut input, exif, xmp) = heic_with(ILOC_V1);
        input[8..12].copy_from_slice(b"zzzz");
        assert_eq!(parse(&input).unwrap().bytes(), zeroed(&input, &[exif, xmp]));
        input[16..24].copy_from_slice(b"avc1mp42");
        assert_eq!(parse(&input), Err(PhotoError::NotAnImage { field: "photo".to_owned() }));
    }

    #[test]
    fn heic_flaws_are_named() {
        use PhotoFormat::Heic;
        let (in_item_data, ..) = heic_with(IlocLayout { exif_construction_method: 1, ..ILOC_V1 });
        assert_eq!(parse(&in_item_data), malformed(Heic, "an Exif or XMP item stored other than at a file offset"));
        let (sample, ..) = heic_with(ILOC_V1);
        let no_meta = [&sample[..24], &bmff_box(b"mdat", IMAGE_DATA)[..]].concat();
        assert_eq!(parse(&no_meta), malformed(Heic, "no meta box"));
        let with_movie = [&sample[..], &bmff_box(b"moov", b"")[..]].concat();
        assert_eq!(parse(&with_movie), malformed(Heic, "image sequences (moov) are not supported"));
        let mut bad_field_size = sample.clone();
        let iloc_at = sample.windows(4).position(|window| window == b"iloc").unwrap();
        bad_field_size[iloc_at + 8] = 0x34;
        assert_eq!(parse(&bad_field_size), malformed(Heic, "an item location field size other than 0, 4 or 8"));
        let mut old_entry = sample.clone();
        let infe_at = sample.windows(4).position(|window| window == b"infe").unwrap();
        old_entry[infe_at + 4] = 1;
        assert_eq!(parse(&old_entry), malformed(Heic, "an item information entry (infe) of a version other than 2 or 3"));
        let mut oversized_child = sample.clone();
        oversized_child[iloc_at - 1] = 0xF0;
        assert_eq!(parse(&oversized_child), malformed(Heic, "a box larger than the box around it"));
        for cut in [20, 30, sample.len() - 1] {
            assert_eq!(parse(&sample[..cut]), truncated(Heic), "cut at {cut}");
        }
    }

    #[test]
    fn heic_metadata_pointing_into_the_structure_is_refused() {
        let (mut input, ..) = heic_with(ILOC_V1);
        // In iloc version 1 with these field sizes, the entries start after the type, version and flags,
        // field sizes and item count, and each has 16 bytes: id, method, reference, extent count,
        // offset, length. Point the Exif item (the second entry) into the meta box.
        let iloc_at = input.windows(4).position(|window| window == b"iloc").unwrap();
        let exif_offset_at = iloc_at + 4 + 4 + 2 + 2 + 16 + 8;
        let inside_meta = u32::try_from(24 + 12).unwrap();
        input[exif_offset_at..exif_offset_at + 4].copy_from_slice(&inside_meta.to_be_bytes());
        assert_eq!(parse(&input), malformed(PhotoFormat::Heic, "an Exif or XMP extent outside the media data"));
    }

    // ---- All formats ----

    #[test]
    fn the_format_comes_from_the_content_alone() {
        for (sample, format) in
            [(jpeg_sample(), PhotoFormat::Jpeg), (png_sample(), PhotoFormat::Png), (webp_sample(), PhotoFormat::WebP), (heic_sample(), PhotoFormat::Heic)]
        {
            assert_eq!(Photo::parse("photo.txt", &sample).unwrap().format(), format);
            let shifted = [&[0u8][..], &sample].concat();
            assert_eq!(parse(&shifted), Err(PhotoError::NotAnImage { field: "photo".to_owned() }));
        }
        for not_an_image in [&b"GIF89a\x01\x00\x01\x00"[..], b"%PDF-1.7", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>", b"RIFF\x04\0\0\0WAVE", b"\xFF\xD8"] {
            assert_eq!(parse(not_an_image), Err(PhotoError::NotAnImage { field: "photo".to_owned() }));
        }
    }

    #[test]
    fn stripping_twice_changes_nothing() {
        for sample in [jpeg_sample(), png_sample(), webp_sample(), heic_sample()] {
            let once = parse(&sample).unwrap();
            assert_eq!(parse(once.bytes()), Ok(once.clone()));
        }
    }

    #[test]
    fn size_is_checked_before_anything_else() {
        assert_eq!(parse(&[]), Err(PhotoError::Empty { field: "photo".to_owned() }));
        let mut oversized = jpeg_sample();
        oversized.resize(MAX_PHOTO_BYTES + 1, 0);
        assert_eq!(parse(&oversized), Err(PhotoError::TooLarge { field: "photo".to_owned(), bytes: MAX_PHOTO_BYTES + 1, max: MAX_PHOTO_BYTES }));
        let mut at_limit = jpeg_sample();
        at_limit.resize(MAX_PHOTO_BYTES, 0);
        assert_eq!(parse(&at_limit).unwrap().bytes(), jpeg_sample_stripped(), "data after the end of image is dropped");
    }

    #[test]
    fn error_messages_name_the_field_and_the_problem() {
        fn check(error: PhotoError, code: &str, message: &str) {
            assert_eq!(error.code(), code);
            assert_eq!(error.to_string(), message);
            let field_error = FieldError::from(error);
            assert_eq!(field_error.code, code);
            assert_eq!(field_error.to_string(), message);
        }
        let field = || "photo".to_owned();
        check(PhotoError::Empty { field: field() }, "empty_photo", "photo: the file is empty");
        check(
            PhotoError::TooLarge { field: field(), bytes: 7_340_032, max: MAX_PHOTO_BYTES },
            "photo_too_large",
            "photo: a file of 7340032 bytes is over the 5242880-byte limit",
        );
        check(PhotoError::NotAnImage { field: field() }, "not_an_image", "photo: not a JPEG, PNG, WebP or HEIC image");
        check(PhotoError::Truncated { field: field(), format: PhotoFormat::WebP }, "truncated_image", "photo: the WebP image is cut short");
        check(
            PhotoError::Malformed { field: "photos[2]".to_owned(), format: PhotoFormat::Png, detail: "a chunk whose CRC does not match" },
            "malformed_image",
            "photos[2]: the PNG image is malformed: a chunk whose CRC does not match",
        );
        check(Photo::parse("photos[0]", b"GIF89a").unwrap_err(), "not_an_image", "photos[0]: not a JPEG, PNG, WebP or HEIC image");
        check(Photo::parse("photos[1]", &jpeg_sample()[..40]).unwrap_err(), "truncated_image", "photos[1]: the JPEG image is cut short");
        let field_error = FieldError::from(PhotoError::Empty { field: field() });
        assert_eq!((field_error.field.as_str(), field_error.message.as_str()), ("photo", "the file is empty"));
    }

    #[test]
    fn media_types_and_extensions_round_trip() {
        for format in [PhotoFormat::Jpeg, PhotoFormat::Png, PhotoFormat::WebP, PhotoFormat::Heic] {
            assert_eq!(PhotoFormat::parse_mime(format.mime()), Some(format));
            assert!(!format.extension().starts_with('.'));
        }
        assert_eq!(PhotoFormat::parse_mime(" Image/JPG; q=1"), Some(PhotoFormat::Jpeg));
        assert_eq!(PhotoFormat::parse_mime("image/heif"), Some(PhotoFormat::Heic));
        assert_eq!(PhotoFormat::parse_mime("image/gif"), None);
        assert_eq!(PhotoFormat::parse_mime(""), None);
    }

    fn samples() -> Vec<Vec<u8>> {
        vec![jpeg_sample(), png_sample(), webp_sample(), heic_sample()]
    }

    /// Checks what must hold for any input: no panic, and an accepted photo is accepted again unchanged.
    fn accepted_photos_are_stable(bytes: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(photo) = parse(bytes) {
            prop_assert!(photo.bytes().len() <= bytes.len());
            prop_assert_eq!(parse(photo.bytes()), Ok(photo.clone()));
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            accepted_photos_are_stable(&bytes)?;
        }

        #[test]
        fn parsing_arbitrary_bytes_after_a_magic_number_never_panics(
            magic in prop_oneof![
                Just(b"\xFF\xD8\xFF".to_vec()),
                Just(png::SIGNATURE.to_vec()),
                Just(b"RIFF\x40\0\0\0WEBP".to_vec()),
                Just(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec()),
            ],
            tail in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            accepted_photos_are_stable(&[magic, tail].concat())?;
        }

        #[test]
        fn parsing_damaged_samples_never_panics(
            sample in 0usize..4,
            edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..6),
            cut in any::<proptest::sample::Index>(),
            cut_it in any::<bool>(),
        ) {
            let mut bytes = samples().swap_remove(sample);
            for (position, value) in edits {
                let at = position.index(bytes.len());
                bytes[at] = value;
            }
            if cut_it {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            accepted_photos_are_stable(&bytes)?;
        }
    }
}
