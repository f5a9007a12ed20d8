//! The replies to PAUSE and RESUME (RFC §6.2.12, §6.2.13). The requests are
//! [`crate::Request::Pause`] and [`crate::Request::Resume`]; SEEK is answered with PLAYING.
//!
//! ```text
//! PAUSED, RESUMED:  | request id (32) | stream id (32) | position ms (32) |
//! ```
//!
//! Both say where the stream stands in the song, so a client that paused locally at once can
//! check where the server will go on, and show it.

use crate::error::DecodeError;
use crate::request::RequestId;
use crate::stream::StreamId;
use crate::wire::{Cursor, put_u32};

/// Reply to PAUSE: the server sends no audio of `stream` until a RESUME (RFC §6.2.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paused {
    /// The PAUSE this answers.
    pub id: RequestId,
    /// The stream paused: still the current stream.
    pub stream: StreamId,
    /// Where in the song the next audio the server will send begins (Position ms of the next
    /// AUDIO), in milliseconds.
    pub position_ms: u32,
}

/// Reply to RESUME: the server sends `stream` again, from where it stopped (RFC §6.2.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resumed {
    /// The RESUME this answers.
    pub id: RequestId,
    /// The stream that goes on.
    pub stream: StreamId,
    /// Where in the song the next audio the server will send begins, in milliseconds.
    pub position_ms: u32,
}

/// The three fields both replies share, in wire order.
fn encode(id: RequestId, stream: StreamId, position_ms: u32, out: &mut Vec<u8>) {
    put_u32(out, id.0);
    put_u32(out, stream.0);
    put_u32(out, position_ms);
}

fn decode(c: &mut Cursor<'_>) -> Result<(RequestId, StreamId, u32), DecodeError> {
    let id = c.request_id()?;
    let stream = match c.u32()? {
        0 => return Err(c.invalid("stream id")),
        stream => StreamId(stream),
    };
    Ok((id, stream, c.u32()?))
}

impl Paused {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        encode(self.id, self.stream, self.position_ms, out);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Paused, DecodeError> {
        let (id, stream, position_ms) = decode(c)?;
        Ok(Paused { id, stream, position_ms })
    }
}

impl Resumed {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        encode(self.id, self.stream, self.position_ms, out);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Resumed, DecodeError> {
        let (id, stream, position_ms) = decode(c)?;
        Ok(Resumed { id, stream, position_ms })
    }
}
