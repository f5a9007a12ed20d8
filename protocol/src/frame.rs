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

use std::fmt;
use std::time::Duration;

use byteorder::{BigEndian, ByteOrder};

use crate::error::{EncodeError, FrameError};

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

/// How far ahead a server SHOULD stay when TCP lets it: after the initial burst, every chunk
/// goes out before real time comes within this much of its end (RFC §7.3), so a client that
/// reads promptly always holds at least this much audio it has not played.
pub const MIN_LEAD: Duration = Duration::from_millis(1500);

/// The furthest a server may run ahead of real time: at `t` seconds after its PLAYING reply it
/// MUST NOT have sent audio that ends later than `t + MAX_LEAD` into the song (RFC §7.3).
pub const MAX_LEAD: Duration = Duration::from_secs(5);

/// Defines [`Kind`] from one table: each row gives the variant, its wire value and its name
/// in RFC.md, so the three can never disagree.
macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident = $value:literal, $name:literal; )*) => {
        /// The kinds of message this version knows, with their wire values as discriminants
        /// (RFC §5.2). A kind byte that is not one of these is kept as a raw `u8` (see
        /// [`FrameHeader::kind`]) so a newer peer's frame can still be skipped or answered.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Kind {
            $( $(#[$doc])* $variant = $value, )*
        }

        impl Kind {
            /// Every known kind, in wire order.
            pub const ALL: &[Kind] = &[$(Kind::$variant),*];

            /// The known kind with this wire value, if any.
            pub const fn from_u8(value: u8) -> Option<Kind> {
                match value {
                    $( $value => Some(Kind::$variant), )*
                    _ => None,
                }
            }

            /// The name used in RFC.md, for logs and error messages.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Kind::$variant => $name, )*
                }
            }
        }
    };
}

kinds! {
    /// Client asks for a PONG; also the keepalive (RFC §6.1.1).
    Ping = 0x01, "PING";
    /// Client asks for the song list (RFC §6.1.2).
    List = 0x02, "LIST";
    /// Client asks to play a song, replacing any current stream (RFC §6.1.3).
    Play = 0x03, "PLAY";
    /// Client asks to stop the current stream (RFC §6.1.4).
    Stop = 0x04, "STOP";
    /// Client asks the server to stop sending the current stream, keeping its place (RFC §6.1.10).
    Pause = 0x05, "PAUSE";
    /// Client asks the server to go on with a paused stream (RFC §6.1.11).
    Resume = 0x06, "RESUME";
    /// Client asks to play a song from a position, as a new stream (RFC §6.1.12).
    Seek = 0x07, "SEEK";
    /// Client asks for every detail of one song (RFC §6.1.13).
    Info = 0x08, "INFO";
    /// Client asks to hear the station (RFC §6.1.6).
    Tune = 0x09, "TUNE";
    /// Client asks what the station plays now and next (RFC §6.1.7).
    Queue = 0x0A, "QUEUE";
    /// Client asks the station to play a song (RFC §6.1.8).
    Request = 0x0B, "REQUEST";
    /// Client asks the server to look for new, changed and removed files (RFC §6.1.5).
    Rescan = 0x0C, "RESCAN";
    /// A relay asks to hear the station and to be counted as a child (RFC §6.1.9).
    Relay = 0x0D, "RELAY";
    /// Client asks for the songs that match some words (RFC §6.1.14).
    Search = 0x0E, "SEARCH";
    /// Client asks to hear of changes to some subsystems (RFC §6.1.15).
    Subscribe = 0x0F, "SUBSCRIBE";
    /// Reply to PING.
    Pong = 0x41, "PONG";
    /// One page of the reply to LIST.
    ListPage = 0x42, "LIST_PAGE";
    /// Reply to PLAY: the new stream has begun.
    Playing = 0x43, "PLAYING";
    /// Reply to STOP.
    Stopped = 0x44, "STOPPED";
    /// Reply to RESCAN: the scan that will see the files as they are now.
    Scanning = 0x45, "SCANNING";
    /// Reply to TUNE: the station's stream has begun.
    Tuned = 0x46, "TUNED";
    /// Reply to REQUEST: the song's place in the queue.
    Queued = 0x47, "QUEUED";
    /// One page of the reply to QUEUE.
    QueuePage = 0x48, "QUEUE_PAGE";
    /// Reply to RELAY: the relay is a child now, and here is the path to the origin.
    Relayed = 0x49, "RELAYED";
    /// Reply to RELAY from a full node: try one of its children.
    Redirect = 0x4A, "REDIRECT";
    /// Reply to PAUSE: the stream is paused, and where it will go on.
    Paused = 0x4B, "PAUSED";
    /// Reply to RESUME: the stream goes on, from where.
    Resumed = 0x4C, "RESUMED";
    /// Reply to INFO: the song's details.
    SongInfo = 0x4D, "SONG_INFO";
    /// Reply to SUBSCRIBE: the subsystems granted (RFC §6.2.15).
    Subscribed = 0x4E, "SUBSCRIBED";
    /// A request failed, or (with request id 0) the server refused a frame that belongs to
    /// no request.
    Error = 0x7F, "ERROR";
    /// A chunk of whole MP3 frames of one stream.
    Audio = 0x80, "AUDIO";
    /// The last chunk of a stream has been sent.
    EndOfStream = 0x81, "END_OF_STREAM";
    /// A scan of the library has finished (RFC §6.3.3).
    LibraryChanged = 0x82, "LIBRARY_CHANGED";
    /// A song begins on the station's stream (RFC §6.3.4).
    TrackChanged = 0x83, "TRACK_CHANGED";
    /// A subsystem the client subscribed to has changed (RFC §6.3.5).
    Event = 0x84, "EVENT";
    /// The sender is closing the connection.
    Goodbye = 0xFF, "GOODBYE";
}

impl Kind {
    /// The wire value.
    pub const fn to_u8(self) -> u8 {
        self as u8
    }
}

/// Who may send a kind, by the range its value falls in (RFC §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 0x00: never assigned.
    Unassigned,
    /// 0x01-0x3F, client to server; every payload starts with a request id.
    Request,
    /// 0x40-0x7F, server to client, answering a request.
    Reply,
    /// 0x80-0xBF, server to client, on the server's own initiative.
    Push,
    /// 0xC0-0xFF: connection-level messages either side may send (GOODBYE).
    Either,
}

impl Class {
    /// The class of the kind byte `value`, known or not.
    pub const fn of(value: u8) -> Class {
        match value {
            0x00 => Class::Unassigned,
            0x01..=0x3F => Class::Request,
            0x40..=0x7F => Class::Reply,
            0x80..=0xBF => Class::Push,
            0xC0..=0xFF => Class::Either,
        }
    }
}

/// The fixed part of every frame (RFC §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length in bytes, at most [`MAX_PAYLOAD_LEN`] (checked on parse and on build).
    pub len: u32,
    /// The kind byte as sent, known or not: [`FrameHeader::kind`] interprets it.
    pub kind_byte: u8,
    /// Reserved: sent as 0 in version 1 and ignored on receipt (RFC §5.1).
    pub flags: u8,
}

impl FrameHeader {
    /// The header of a frame of `kind` with `len` payload bytes; refuses a payload over the
    /// limit, so a sender never puts a frame on the wire that the receiver must treat as a
    /// protocol error.
    pub fn new(kind: Kind, len: usize) -> Result<FrameHeader, EncodeError> {
        match u32::try_from(len) {
            Ok(len) if len <= MAX_PAYLOAD_LEN => Ok(FrameHeader { len, kind_byte: kind.to_u8(), flags: 0 }),
            _ => Err(EncodeError::PayloadTooLarge { kind: kind.name(), len }),
        }
    }

    /// Parses and checks a header. The length check happens here, before any caller could
    /// allocate a buffer for the payload.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Result<FrameHeader, FrameError> {
        let len = BigEndian::read_u32(&bytes[..4]);
        if len > MAX_PAYLOAD_LEN {
            return Err(FrameError::TooLarge { len, max: MAX_PAYLOAD_LEN });
        }
        Ok(FrameHeader { len, kind_byte: bytes[4], flags: bytes[5] })
    }

    /// The known kind, or `None` for a kind byte this version does not know.
    pub const fn kind(&self) -> Option<Kind> {
        Kind::from_u8(self.kind_byte)
    }

    /// Who may send this frame, by its kind byte's range.
    pub const fn class(&self) -> Class {
        Class::of(self.kind_byte)
    }

    /// Header and payload together: how far the next frame starts after this one's first byte.
    pub const fn frame_len(&self) -> usize {
        HEADER_LEN + self.len as usize
    }

    /// The 6 bytes on the wire.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        BigEndian::write_u32(&mut bytes[..4], self.len);
        bytes[4] = self.kind_byte;
        bytes[5] = self.flags;
        bytes
    }
}

/// The kind byte as a person reads it: its RFC name, or its value when unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindName(pub u8);

impl fmt::Display for KindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Kind::from_u8(self.0) {
            Some(kind) => write!(f, "{} ({:#04x})", kind.name(), self.0),
            None => write!(f, "unknown kind {:#04x}", self.0),
        }
    }
}

/// Whether `buf` starts with a whole frame (mini-redis's `check`): `Ok(Some(header))` when
/// all `header.frame_len()` bytes are there, `Ok(None)` when more bytes are needed, and an
/// error only for a header whose length is over the limit, which no receiver can recover
/// from (RFC §5.4.1). Nothing is allocated.
pub fn check(buf: &[u8]) -> Result<Option<FrameHeader>, FrameError> {
    let Some(head) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let header = FrameHeader::parse(head)?;
    Ok((buf.len() >= header.frame_len()).then_some(header))
}

/// Appends one whole frame of `kind` to `out`: the header, then whatever `payload` writes,
/// with the header's length patched in afterwards. A payload over [`MAX_PAYLOAD_LEN`] is
/// refused and `out` is left as it was. The one place that writes a frame header.
pub fn encode_frame(
    out: &mut Vec<u8>,
    kind: Kind,
    payload: impl FnOnce(&mut Vec<u8>),
) -> Result<(), EncodeError> {
    encode_frame_of(out, kind.to_u8(), kind.name(), payload)
}

/// [`encode_frame`] for any kind byte, known or not (a test or a newer peer's message).
pub(crate) fn encode_frame_of(
    out: &mut Vec<u8>,
    kind_byte: u8,
    name: &'static str,
    payload: impl FnOnce(&mut Vec<u8>),
) -> Result<(), EncodeError> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    payload(out);
    let len = out.len() - start - HEADER_LEN;
    match u32::try_from(len) {
        Ok(len) if len <= MAX_PAYLOAD_LEN => {
            let header = FrameHeader { len, kind_byte, flags: 0 };
            out[start..start + HEADER_LEN].copy_from_slice(&header.to_bytes());
            Ok(())
        }
        _ => {
            out.truncate(start);
            Err(EncodeError::PayloadTooLarge { kind: name, len })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_kind_round_trips_through_its_wire_value() {
        for &kind in Kind::ALL {
            assert_eq!(Kind::from_u8(kind.to_u8()), Some(kind));
        }
        let known = (0..=u8::MAX).filter_map(Kind::from_u8).count();
        assert_eq!(known, Kind::ALL.len());
    }

    #[test]
    fn every_known_kind_is_in_the_range_of_its_sender() {
        for &kind in Kind::ALL {
            let class = Class::of(kind.to_u8());
            let expected = match kind {
                Kind::Ping
                | Kind::List
                | Kind::Play
                | Kind::Stop
                | Kind::Pause
                | Kind::Resume
                | Kind::Seek
                | Kind::Rescan
                | Kind::Tune
                | Kind::Queue
                | Kind::Request
                | Kind::Relay
                | Kind::Info
                | Kind::Search
                | Kind::Subscribe => Class::Request,
                Kind::Pong
                | Kind::ListPage
                | Kind::Playing
                | Kind::Stopped
                | Kind::Scanning
                | Kind::Tuned
                | Kind::Queued
                | Kind::QueuePage
                | Kind::Relayed
                | Kind::Redirect
                | Kind::Paused
                | Kind::Resumed
                | Kind::SongInfo
                | Kind::Subscribed
                | Kind::Error => Class::Reply,
                Kind::Audio | Kind::EndOfStream | Kind::LibraryChanged | Kind::TrackChanged | Kind::Event => {
                    Class::Push
                }
                Kind::Goodbye => Class::Either,
            };
            assert_eq!(class, expected, "{}", kind.name());
        }
    }

    #[test]
    fn header_over_the_limit_is_refused_before_allocation() {
        let mut bytes = [0u8; HEADER_LEN];
        BigEndian::write_u32(&mut bytes[..4], MAX_PAYLOAD_LEN + 1);
        bytes[4] = 0x02;
        assert_eq!(
            FrameHeader::parse(&bytes),
            Err(FrameError::TooLarge { len: MAX_PAYLOAD_LEN + 1, max: MAX_PAYLOAD_LEN })
        );
        assert_eq!(
            check(&bytes),
            Err(FrameError::TooLarge { len: MAX_PAYLOAD_LEN + 1, max: MAX_PAYLOAD_LEN })
        );
    }

    #[test]
    fn header_at_the_limit_is_accepted() {
        let mut bytes = [0u8; HEADER_LEN];
        BigEndian::write_u32(&mut bytes[..4], MAX_PAYLOAD_LEN);
        bytes[4] = 0x80;
        let header = FrameHeader::parse(&bytes).expect("at the limit is allowed");
        assert_eq!(header.kind(), Some(Kind::Audio));
        assert_eq!(header.frame_len(), HEADER_LEN + MAX_PAYLOAD_LEN as usize);
    }

    #[test]
    fn check_waits_for_the_whole_frame() {
        let mut frame = Vec::new();
        encode_frame(&mut frame, Kind::Ping, |out| out.extend_from_slice(&7u32.to_be_bytes())).unwrap();
        for cut in 0..frame.len() {
            assert_eq!(check(&frame[..cut]), Ok(None));
        }
        frame.push(0xAA);
        let header = check(&frame).unwrap().unwrap();
        assert_eq!((header.kind(), header.frame_len()), (Some(Kind::Ping), 10));
    }

    #[test]
    fn encode_frame_refuses_an_oversized_payload_and_leaves_the_buffer_alone() {
        let mut out = vec![1, 2, 3];
        let result = encode_frame(&mut out, Kind::Audio, |out| out.resize(out.len() + 70_000, 0));
        assert_eq!(result, Err(EncodeError::PayloadTooLarge { kind: "AUDIO", len: 70_000 }));
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn request_range_includes_unknown_requests() {
        assert_eq!(Class::of(0x3F), Class::Request);
        assert_eq!(Class::of(0x41), Class::Reply);
        assert_eq!(Class::of(0x00), Class::Unassigned);
        assert_eq!(KindName(0x3F).to_string(), "unknown kind 0x3f");
        assert_eq!(KindName(0x41).to_string(), "PONG (0x41)");
    }
}
