//! Field-level helpers shared by every message module: a bounds-checked cursor for decoding
//! and the matching writers for encoding. Integers are big-endian (RFC §3), text is a 16-bit
//! length followed by UTF-8 (RFC §5.3).

use byteorder::{BigEndian, ByteOrder, WriteBytesExt};

use crate::error::DecodeError;
use crate::frame::MAX_TEXT_LEN;

/// Reads fields from one payload, refusing to run past its end.
pub(crate) struct Cursor<'a> {
    kind: &'static str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(kind: &'static str, bytes: &'a [u8]) -> Self {
        Self { kind, bytes, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let available = self.bytes.len() - self.pos;
        if available < n {
            return Err(DecodeError::Truncated { kind: self.kind, offset: self.pos, needed: n - available });
        }
        let field = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(field)
    }

    pub(crate) fn request_id(&mut self) -> Result<crate::RequestId, DecodeError> {
        Ok(crate::RequestId(self.u32()?))
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(BigEndian::read_u16(self.take(2)?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(BigEndian::read_u32(self.take(4)?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(BigEndian::read_u64(self.take(8)?))
    }

    pub(crate) fn text(&mut self) -> Result<String, DecodeError> {
        let len = usize::from(self.u16()?);
        if len > MAX_TEXT_LEN {
            return Err(DecodeError::TextTooLong { kind: self.kind, len, max: MAX_TEXT_LEN });
        }
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidUtf8 { kind: self.kind })
    }

    /// Everything not yet read. Used by AUDIO, whose data runs to the end of the payload.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = &self.bytes[self.pos..];
        self.pos = self.bytes.len();
        rest
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn invalid(&self, field: &'static str) -> DecodeError {
        DecodeError::InvalidField { kind: self.kind, field }
    }
}

// Writes into a Vec<u8> cannot fail; these wrappers keep that fact in one place.

pub(crate) fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    let _ = out.write_u16::<BigEndian>(v);
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    let _ = out.write_u32::<BigEndian>(v);
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    let _ = out.write_u64::<BigEndian>(v);
}

/// Writes a text field, cut to [`MAX_TEXT_LEN`] bytes at a character boundary: a sender
/// never produces a field that a receiver must refuse (RFC §5.3).
pub(crate) fn put_text(out: &mut Vec<u8>, text: &str) {
    let text = truncate_text(text);
    put_u16(out, text.len() as u16);
    out.extend_from_slice(text.as_bytes());
}

/// The longest prefix of `text` that fits in a text field.
pub fn truncate_text(text: &str) -> &str {
    if text.len() <= MAX_TEXT_LEN {
        return text;
    }
    let mut end = MAX_TEXT_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Encoded size of a text field after truncation.
pub(crate) fn text_len(text: &str) -> usize {
    2 + truncate_text(text).len()
}
