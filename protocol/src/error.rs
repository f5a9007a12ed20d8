//! Why bytes from a peer were refused. Every variant names the situation in which it happens,
//! so that a log line or an ERROR frame can say it in words.
//!
//! The split follows what a receiver can do next (RFC §5.4): after a [`DecodeError`] the
//! frame's length is known and the receiver skips it and carries on; after a
//! [`FrameError::TooLarge`] it cannot find the next frame and must close.

use std::io;

/// A payload that does not follow RFC §6: its frame was read whole, so the byte stream is
/// still in step and a receiver may answer and carry on (RFC §5.4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload ended before a field that the message kind requires.
    #[error("{kind} payload is truncated: needed {needed} more bytes at offset {offset}")]
    Truncated {
        /// Name of the message kind being decoded.
        kind: &'static str,
        /// Offset in the payload where the missing field starts.
        offset: usize,
        /// How many bytes were missing.
        needed: usize,
    },
    /// A text field was not valid UTF-8.
    #[error("{kind} payload has a text field that is not UTF-8")]
    InvalidUtf8 {
        /// Name of the message kind being decoded.
        kind: &'static str,
    },
    /// A text field is longer than [`crate::frame::MAX_TEXT_LEN`].
    #[error("{kind} payload has a text field of {len} bytes (limit {max})")]
    TextTooLong {
        /// Name of the message kind being decoded.
        kind: &'static str,
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A field holds a value the RFC forbids (for example stream id 0 in AUDIO).
    #[error("{kind} payload has an invalid {field}")]
    InvalidField {
        /// Name of the message kind being decoded.
        kind: &'static str,
        /// Name of the offending field.
        field: &'static str,
    },
}

/// Bytes that cannot be taken as the next frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header announces a payload longer than [`crate::MAX_PAYLOAD_LEN`]; nothing was
    /// allocated for it and the stream cannot be resynchronised (RFC §5.4.1: close).
    #[error("frame payload of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The length the header announced.
        len: u32,
        /// The largest length a receiver accepts.
        max: u32,
    },
    /// The frame is whole but its payload is malformed. `frame_len` bytes (header included)
    /// can be skipped to reach the next frame.
    #[error("{error}")]
    Malformed {
        /// The kind byte of the frame.
        kind: u8,
        /// Header and payload length: where the next frame starts.
        frame_len: usize,
        /// What is wrong with the payload.
        error: DecodeError,
    },
}

/// The handshake did not start with the magic bytes `JUKE`: the peer does not speak this
/// protocol (an HTTP client, a port scanner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("peer does not speak the Jukebox Protocol (got bytes {0:02x?})")]
pub struct BadMagic(pub [u8; 4]);

/// Failure to read one whole frame from a byte stream.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The frame itself was refused.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The stream ended after some but not all bytes of a frame: the peer vanished mid-frame.
    #[error("connection closed in the middle of a frame")]
    UnexpectedEof,
    /// The underlying reader failed (including a read timeout).
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A message that cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The payload would exceed [`crate::MAX_PAYLOAD_LEN`]: an AUDIO chunk or a LIST_PAGE built
    /// by hand with too much in it ([`crate::ListPage::page_bounds`] never does this).
    #[error("{kind} payload of {len} bytes exceeds the frame limit")]
    PayloadTooLarge {
        /// The message kind.
        kind: &'static str,
        /// The payload length it would have had.
        len: usize,
    },
}
