//! What the server pushes while a song streams (RFC §6.3, §7).
//!
//! ```text
//! AUDIO:          | stream id (32) | offset (64) | position ms (32) | MP3 frames ... |
//! END_OF_STREAM:  | stream id (32) | total bytes (64) |
//! ```

use std::fmt;

use crate::error::{DecodeError, EncodeError};
use crate::frame::{FrameHeader, HEADER_LEN, Kind, MAX_PAYLOAD_LEN};
use crate::wire::{Cursor, put_u32, put_u64};

/// Names one stream of one connection, assigned by the server in PLAYING, never 0. Every AUDIO
/// chunk carries it, so a client can drop audio of a stream it no longer wants (RFC §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u32);

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Size of AUDIO's fields before the MP3 data.
pub const AUDIO_PREFIX_LEN: usize = 16;

/// The most MP3 data one AUDIO frame can carry.
pub const MAX_AUDIO_DATA_LEN: usize = MAX_PAYLOAD_LEN as usize - AUDIO_PREFIX_LEN;

/// A chunk of one stream: one or more whole MPEG audio frames (RFC §7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    /// The stream this chunk belongs to.
    pub stream: StreamId,
    /// How many audio bytes of this stream were sent before this chunk; lets a receiver
    /// detect a gap.
    pub offset: u64,
    /// Where in the song the chunk's first frame starts to sound, in milliseconds; in a radio
    /// stream, the station time at which it does (RFC §7.5.1).
    pub position_ms: u32,
    /// Whole MP3 frames.
    pub data: Vec<u8>,
}

impl Audio {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        encode_audio_prefix(self.stream, self.offset, self.position_ms, out);
        out.extend_from_slice(&self.data);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Audio, DecodeError> {
        let stream = StreamId(c.u32()?);
        if stream.0 == 0 {
            return Err(c.invalid("stream id"));
        }
        let offset = c.u64()?;
        let position_ms = c.u32()?;
        Ok(Audio { stream, offset, position_ms, data: c.rest().to_vec() })
    }
}

/// Writes AUDIO's fixed fields.
fn encode_audio_prefix(stream: StreamId, offset: u64, position_ms: u32, out: &mut Vec<u8>) {
    put_u32(out, stream.0);
    put_u64(out, offset);
    put_u32(out, position_ms);
}

/// Size of everything in an AUDIO frame before the MP3 data: frame header and fields.
pub const AUDIO_HEAD_LEN: usize = HEADER_LEN + AUDIO_PREFIX_LEN;

/// The frame header and fields of an AUDIO frame whose data is `data_len` bytes: the server's
/// hot path sends this followed by the data straight out of a song shared by many connections,
/// without copying it. Refuses data longer than [`MAX_AUDIO_DATA_LEN`].
pub fn audio_frame_head(
    stream: StreamId,
    offset: u64,
    position_ms: u32,
    data_len: usize,
) -> Result<[u8; AUDIO_HEAD_LEN], EncodeError> {
    let header = FrameHeader::new(Kind::Audio, AUDIO_PREFIX_LEN + data_len)?;
    let mut prefix = Vec::with_capacity(AUDIO_PREFIX_LEN);
    encode_audio_prefix(stream, offset, position_ms, &mut prefix);
    let mut head = [0u8; AUDIO_HEAD_LEN];
    head[..HEADER_LEN].copy_from_slice(&header.to_bytes());
    head[HEADER_LEN..].copy_from_slice(&prefix);
    Ok(head)
}

/// The last AUDIO of a stream has been sent (RFC §6.3.2). Not sent for a stream that was
/// replaced or stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndOfStream {
    /// The stream that is complete.
    pub stream: StreamId,
    /// Total audio bytes sent for the stream: the sum of its AUDIO data lengths.
    pub total_bytes: u64,
}

impl EndOfStream {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.stream.0);
        put_u64(out, self.total_bytes);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<EndOfStream, DecodeError> {
        let stream = StreamId(c.u32()?);
        if stream.0 == 0 {
            return Err(c.invalid("stream id"));
        }
        Ok(EndOfStream { stream, total_bytes: c.u64()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    #[test]
    fn the_audio_head_and_data_are_the_message_encoding() {
        let audio =
            Audio { stream: StreamId(3), offset: 417, position_ms: 26, data: vec![0xFF, 0xFB, 0x90, 0] };
        let mut out = audio_frame_head(audio.stream, audio.offset, audio.position_ms, audio.data.len())
            .unwrap()
            .to_vec();
        out.extend_from_slice(&audio.data);
        assert_eq!(out, Message::Audio(audio).to_bytes().unwrap());
        assert!(audio_frame_head(StreamId(1), 0, 0, MAX_AUDIO_DATA_LEN + 1).is_err());
    }
}
