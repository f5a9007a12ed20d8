//! The frame header, the message kinds, and every limit and timer of the protocol, in one
//! place (RFC §5 and §8).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +---------------------------------------------------------------+
//! |                     Payload Length (32)                       |
//! +---------------+---------------+-------------------------------+
//! |   Kind (8)    |   Flags (8)   |  Payload (Length bytes) ...
//! +---------------+---------------+-------------------------------
//! ```

use std::time::Duration;

use byteorder::{BigEndian, ByteOrder};

use crate::error::DecodeError;

/// Size of the fixed frame header (RFC §5.1).
pub const HEADER_LEN: usize = 6;

/// Largest payload a peer may send and the largest a receiver accepts (RFC §5.1). A receiver
/// checks the announced length against this BEFORE allocating anything for the payload.
pub const MAX_PAYLOAD_LEN: u32 = 65_536;

/// Longest text field in bytes (RFC §5.3). Senders cut longer text at a character boundary.
pub const MAX_TEXT_LEN: usize = 1_024;

/// How long the server waits for the client's HELLO before closing (RFC §4).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A client that has sent nothing for this long SHOULD send a PING (RFC §8.1).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// A server MAY close a connection from which it has received nothing for this long (RFC §8.1).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The furthest a server may run ahead of real time: at `t` seconds after its PLAYING reply it
/// MUST NOT have sent audio that ends later than `t + MAX_LEAD` into the song (RFC §7.3).
pub const MAX_LEAD: Duration = Duration::from_secs(5);

/// Kinds of message, with their wire values (RFC §5.2). The ranges say who may send what:
/// `0x01..=0x3F` requests (client), `0x40..=0x7F` replies and `0x80..=0xBF` pushes (server),
/// `0xC0..=0xFF` either side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Client asks for a PONG; also the keepalive.
    Ping,
    /// Client asks for the song list.
    List,
    /// Client asks to play a song, replacing any current stream.
    Play,
    /// Client asks to stop the current stream.
    Stop,
    /// Reply to PING.
    Pong,
    /// One page of the reply to LIST.
    ListPage,
    /// Reply to PLAY: the new stream has begun.
    Playing,
    /// Reply to STOP.
    Stopped,
    /// A request failed, or (with request id 0) the server refused a frame that belongs to no
    /// request.
    Error,
    /// A chunk of whole MP3 frames of one stream.
    Audio,
    /// The last chunk of a stream has been sent.
    EndOfStream,
    /// The sender is closing the connection.
    Goodbye,
    /// A kind this version does not know, kept so a newer peer's frame can be skipped.
    Unknown(u8),
}

impl Kind {
    /// The wire value of this kind.
    pub const fn to_u8(self) -> u8 {
        match self {
            Kind::Ping => 0x01,
            Kind::List => 0x02,
            Kind::Play => 0x03,
            Kind::Stop => 0x04,
            Kind::Pong => 0x41,
            Kind::ListPage => 0x42,
            Kind::Playing => 0x43,
            Kind::Stopped => 0x44,
            Kind::Error => 0x7F,
            Kind::Audio => 0x80,
            Kind::EndOfStream => 0x81,
            Kind::Goodbye => 0xFF,
            Kind::Unknown(v) => v,
        }
    }

    /// The kind with this wire value; unassigned values become [`Kind::Unknown`].
    pub const fn from_u8(v: u8) -> Kind {
        match v {
            0x01 => Kind::Ping,
            0x02 => Kind::List,
            0x03 => Kind::Play,
            0x04 => Kind::Stop,
            0x41 => Kind::Pong,
            0x42 => Kind::ListPage,
            0x43 => Kind::Playing,
            0x44 => Kind::Stopped,
            0x7F => Kind::Error,
            0x80 => Kind::Audio,
            0x81 => Kind::EndOfStream,
            0xFF => Kind::Goodbye,
            v => Kind::Unknown(v),
        }
    }

    /// True for the kinds a client sends as requests (`0x01..=0x3F`), known or not: every
    /// request payload starts with a request id, so even an unknown request can be answered.
    pub const fn is_request(self) -> bool {
        matches!(self.to_u8(), 0x01..=0x3F)
    }

    /// The name used in RFC.md, for logs and error messages.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Ping => "PING",
            Kind::List => "LIST",
            Kind::Play => "PLAY",
            Kind::Stop => "STOP",
            Kind::Pong => "PONG",
            Kind::ListPage => "LIST_PAGE",
            Kind::Playing => "PLAYING",
            Kind::Stopped => "STOPPED",
            Kind::Error => "ERROR",
            Kind::Audio => "AUDIO",
            Kind::EndOfStream => "END_OF_STREAM",
            Kind::Goodbye => "GOODBYE",
            Kind::Unknown(_) => "unknown",
        }
    }
}

/// The fixed part of every frame (RFC §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length in bytes, already checked against [`MAX_PAYLOAD_LEN`].
    pub len: u32,
    /// What the payload holds.
    pub kind: Kind,
    /// Reserved: sent as 0 in version 1 and ignored on receipt (RFC §5.1).
    pub flags: u8,
}

impl FrameHeader {
    /// Parses and checks a header. The length check happens here, before any caller could
    /// allocate a buffer for the payload.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Result<FrameHeader, DecodeError> {
        let len = BigEndian::read_u32(&bytes[..4]);
        if len > MAX_PAYLOAD_LEN {
            return Err(DecodeError::PayloadTooLarge { len, max: MAX_PAYLOAD_LEN });
        }
        Ok(FrameHeader { len, kind: Kind::from_u8(bytes[4]), flags: bytes[5] })
    }

    /// Appends this header to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut bytes = [0u8; HEADER_LEN];
        BigEndian::write_u32(&mut bytes[..4], self.len);
        bytes[4] = self.kind.to_u8();
        bytes[5] = self.flags;
        out.extend_from_slice(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_kind_round_trips_through_its_wire_value() {
        for v in 0..=u8::MAX {
            assert_eq!(Kind::from_u8(v).to_u8(), v);
        }
    }

    #[test]
    fn header_over_the_limit_is_refused_before_allocation() {
        let mut bytes = [0u8; HEADER_LEN];
        BigEndian::write_u32(&mut bytes[..4], MAX_PAYLOAD_LEN + 1);
        bytes[4] = 0x02;
        assert_eq!(
            FrameHeader::parse(&bytes),
            Err(DecodeError::PayloadTooLarge { len: MAX_PAYLOAD_LEN + 1, max: MAX_PAYLOAD_LEN })
        );
    }

    #[test]
    fn header_at_the_limit_is_accepted() {
        let mut bytes = [0u8; HEADER_LEN];
        BigEndian::write_u32(&mut bytes[..4], MAX_PAYLOAD_LEN);
        bytes[4] = 0x80;
        let header = FrameHeader::parse(&bytes).expect("at the limit is allowed");
        assert_eq!(header.kind, Kind::Audio);
    }

    #[test]
    fn request_range_includes_unknown_requests() {
        assert!(Kind::from_u8(0x3F).is_request());
        assert!(!Kind::from_u8(0x41).is_request());
        assert!(!Kind::from_u8(0x00).is_request());
    }
}
