//! Every message of version 1 as one enum, and the one place that turns frames into messages
//! and back (RFC §5, §6).

use std::io::{self, Read};

use crate::error::{DecodeError, EncodeError, FrameError, ReadError};
use crate::event::{Event, Subscribed};
use crate::frame::{Class, FrameHeader, HEADER_LEN, Kind, check, encode_frame, encode_frame_of};
use crate::goodbye::Goodbye;
use crate::info::SongInfo;
use crate::library::{LibraryChanged, Scanning};
use crate::pause::{Paused, Resumed};
use crate::radio::{QueuePage, Queued, TrackChanged, Tuned};
use crate::relay::{Redirect, Relayed};
use crate::reply::{ErrorReply, ListPage, Playing, Stopped};
use crate::request::{Request, RequestId};
use crate::stream::{Audio, EndOfStream};
use crate::wire::{Cursor, put_u32};

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request from a client (RFC §6.1).
    Request(Request),
    /// Reply to PING.
    Pong {
        /// The PING's id.
        id: RequestId,
    },
    /// One page of a LIST reply.
    ListPage(ListPage),
    /// Reply to PLAY.
    Playing(Playing),
    /// Reply to STOP.
    Stopped(Stopped),
    /// Reply to RESCAN.
    Scanning(Scanning),
    /// Reply to TUNE.
    Tuned(Tuned),
    /// Reply to REQUEST.
    Queued(Queued),
    /// One page of a QUEUE reply.
    QueuePage(QueuePage),
    /// Reply to RELAY: taken in as a child.
    Relayed(Relayed),
    /// Reply to RELAY: try another node.
    Redirect(Redirect),
    /// Reply to PAUSE.
    Paused(Paused),
    /// Reply to RESUME.
    Resumed(Resumed),
    /// Reply to INFO.
    SongInfo(SongInfo),
    /// Reply to SUBSCRIBE.
    Subscribed(Subscribed),
    /// A song begins on the station's stream.
    TrackChanged(TrackChanged),
    /// A request failed.
    Error(ErrorReply),
    /// A chunk of audio.
    Audio(Audio),
    /// A stream was sent completely.
    EndOfStream(EndOfStream),
    /// A scan of the library finished.
    LibraryChanged(LibraryChanged),
    /// A subsystem the client subscribed to changed.
    Event(Event),
    /// The sender is closing.
    Goodbye(Goodbye),
    /// A kind this version does not know. A request-range kind carries the request id from
    /// the start of its payload so the server can answer it (RFC §5.4).
    Unknown {
        /// The raw kind.
        kind: u8,
        /// The request id, for kinds in the request range with at least 4 payload bytes.
        request: Option<RequestId>,
    },
}

impl Message {
    /// The kind byte that carries this message.
    pub fn kind_byte(&self) -> u8 {
        match self.known_kind() {
            Ok(kind) => kind.to_u8(),
            Err(raw) => raw,
        }
    }

    /// The known kind that carries this message; `None` for [`Message::Unknown`].
    pub fn kind(&self) -> Option<Kind> {
        self.known_kind().ok()
    }

    /// The kind, or the raw kind byte of a [`Message::Unknown`].
    fn known_kind(&self) -> Result<Kind, u8> {
        Ok(match self {
            Message::Request(r) => r.kind(),
            Message::Pong { .. } => Kind::Pong,
            Message::ListPage(_) => Kind::ListPage,
            Message::Playing(_) => Kind::Playing,
            Message::Stopped(_) => Kind::Stopped,
            Message::Scanning(_) => Kind::Scanning,
            Message::Tuned(_) => Kind::Tuned,
            Message::Queued(_) => Kind::Queued,
            Message::QueuePage(_) => Kind::QueuePage,
            Message::Relayed(_) => Kind::Relayed,
            Message::Redirect(_) => Kind::Redirect,
            Message::Paused(_) => Kind::Paused,
            Message::Resumed(_) => Kind::Resumed,
            Message::SongInfo(_) => Kind::SongInfo,
            Message::Subscribed(_) => Kind::Subscribed,
            Message::TrackChanged(_) => Kind::TrackChanged,
            Message::Error(_) => Kind::Error,
            Message::Audio(_) => Kind::Audio,
            Message::EndOfStream(_) => Kind::EndOfStream,
            Message::LibraryChanged(_) => Kind::LibraryChanged,
            Message::Event(_) => Kind::Event,
            Message::Goodbye(_) => Kind::Goodbye,
            Message::Unknown { kind, .. } => return Err(*kind),
        })
    }

    /// Appends the whole frame (header and payload) to `out`. A message whose payload would
    /// exceed [`crate::MAX_PAYLOAD_LEN`] (an oversized AUDIO chunk or LIST_PAGE) is refused and
    /// `out` is left as it was: a sender never puts a frame on the wire that the receiver
    /// must treat as a protocol error.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let payload = |out: &mut Vec<u8>| match self {
            Message::Request(r) => r.encode_payload(out),
            Message::Pong { id } => put_u32(out, id.0),
            Message::ListPage(p) => p.encode_payload(out),
            Message::Playing(p) => p.encode_payload(out),
            Message::Stopped(s) => s.encode_payload(out),
            Message::Scanning(s) => s.encode_payload(out),
            Message::Tuned(t) => t.encode_payload(out),
            Message::Queued(q) => q.encode_payload(out),
            Message::QueuePage(p) => p.encode_payload(out),
            Message::Relayed(r) => r.encode_payload(out),
            Message::Redirect(r) => r.encode_payload(out),
            Message::Paused(p) => p.encode_payload(out),
            Message::Resumed(r) => r.encode_payload(out),
            Message::SongInfo(i) => i.encode_payload(out),
            Message::Subscribed(s) => s.encode_payload(out),
            Message::TrackChanged(t) => t.encode_payload(out),
            Message::Error(e) => e.encode_payload(out),
            Message::Audio(a) => a.encode_payload(out),
            Message::EndOfStream(e) => e.encode_payload(out),
            Message::LibraryChanged(l) => l.encode_payload(out),
            Message::Event(e) => e.encode_payload(out),
            Message::Goodbye(g) => g.encode_payload(out),
            Message::Unknown { request, .. } => {
                if let Some(id) = request {
                    put_u32(out, id.0);
                }
            }
        };
        match self.known_kind() {
            Ok(kind) => encode_frame(out, kind, payload),
            Err(raw) => encode_frame_of(out, raw, "unknown", payload),
        }
    }

    /// The whole frame as a new buffer.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Decodes the payload of a frame whose header has already been read and checked. Any
    /// kind byte is accepted: one this version does not know becomes [`Message::Unknown`].
    pub fn decode(kind_byte: u8, payload: &[u8]) -> Result<Message, DecodeError> {
        let Some(kind) = Kind::from_u8(kind_byte) else {
            let request =
                if Class::of(kind_byte) == Class::Request { Request::peek_id(payload) } else { None };
            return Ok(Message::Unknown { kind: kind_byte, request });
        };
        let mut c = Cursor::new(kind.name(), payload);
        if let Some(request) = Request::decode(kind, &mut c) {
            return request.map(Message::Request);
        }
        Ok(match kind {
            Kind::Pong => Message::Pong { id: c.request_id()? },
            Kind::ListPage => Message::ListPage(ListPage::decode(&mut c)?),
            Kind::Playing => Message::Playing(Playing::decode(&mut c)?),
            Kind::Stopped => Message::Stopped(Stopped::decode(&mut c)?),
            Kind::Scanning => Message::Scanning(Scanning::decode(&mut c)?),
            Kind::Tuned => Message::Tuned(Tuned::decode(&mut c)?),
            Kind::Queued => Message::Queued(Queued::decode(&mut c)?),
            Kind::QueuePage => Message::QueuePage(QueuePage::decode(&mut c)?),
            Kind::Relayed => Message::Relayed(Relayed::decode(&mut c)?),
            Kind::Redirect => Message::Redirect(Redirect::decode(&mut c)?),
            Kind::Paused => Message::Paused(Paused::decode(&mut c)?),
            Kind::Resumed => Message::Resumed(Resumed::decode(&mut c)?),
            Kind::SongInfo => Message::SongInfo(SongInfo::decode(&mut c)?),
            Kind::Subscribed => Message::Subscribed(Subscribed::decode(&mut c)?),
            Kind::TrackChanged => Message::TrackChanged(TrackChanged::decode(&mut c)?),
            Kind::Error => Message::Error(ErrorReply::decode(&mut c)?),
            Kind::Audio => Message::Audio(Audio::decode(&mut c)?),
            Kind::EndOfStream => Message::EndOfStream(EndOfStream::decode(&mut c)?),
            Kind::LibraryChanged => Message::LibraryChanged(LibraryChanged::decode(&mut c)?),
            Kind::Event => Message::Event(Event::decode(&mut c)?),
            Kind::Goodbye => Message::Goodbye(Goodbye::decode(&mut c)?),
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
            | Kind::Subscribe => {
                return Err(c.invalid("request"));
            }
        })
    }

    /// Decodes the first frame of `buf` if it is wholly there: `Ok(None)` asks for more bytes,
    /// `Ok(Some((message, used)))` says how many bytes the frame took. A malformed frame is
    /// [`FrameError::Malformed`], which says how many bytes to skip. For callers that buffer
    /// bytes themselves (an event loop).
    pub fn decode_from_slice(buf: &[u8]) -> Result<Option<(Message, usize)>, FrameError> {
        let Some(header) = check(buf)? else {
            return Ok(None);
        };
        let used = header.frame_len();
        Message::decode(header.kind_byte, &buf[HEADER_LEN..used])
            .map(|message| Some((message, used)))
            .map_err(|error| malformed(&header, error))
    }
}

fn malformed(header: &FrameHeader, error: DecodeError) -> FrameError {
    FrameError::Malformed { kind: header.kind_byte, frame_len: header.frame_len(), error }
}

/// Reads one whole frame from a blocking reader and decodes it.
///
/// Returns `Ok(None)` when the stream ends cleanly between frames and
/// [`ReadError::UnexpectedEof`] when it ends inside one. `scratch` is reused between calls so a
/// connection does not allocate per frame.
pub fn read_message<R: Read>(reader: &mut R, scratch: &mut Vec<u8>) -> Result<Option<Message>, ReadError> {
    match read_frame(reader, scratch)? {
        None => Ok(None),
        Some(header) => {
            Ok(Some(Message::decode(header.kind_byte, scratch).map_err(|error| malformed(&header, error))?))
        }
    }
}

/// Reads one whole frame, leaving its payload in `scratch`, for a receiver that decides by the
/// kind whether to decode it at all (a server refuses server-only kinds undecoded).
///
/// The payload buffer is sized only after the header's length has passed
/// [`FrameHeader::parse`], so a hostile length never causes an allocation.
pub fn read_frame<R: Read>(reader: &mut R, scratch: &mut Vec<u8>) -> Result<Option<FrameHeader>, ReadError> {
    let mut head = [0u8; HEADER_LEN];
    if !read_exact_or_eof(reader, &mut head)? {
        return Ok(None);
    }
    let header = FrameHeader::parse(&head)?;
    scratch.clear();
    scratch.resize(header.len as usize, 0);
    reader.read_exact(scratch).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => ReadError::UnexpectedEof,
        _ => ReadError::Io(e),
    })?;
    Ok(Some(header))
}

/// Fills `buf`, returning false if the stream ended before the first byte and an error if it
/// ended after it.
fn read_exact_or_eof<R: Read>(reader: &mut R, buf: &mut [u8]) -> Result<bool, ReadError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(ReadError::UnexpectedEof),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_PAYLOAD_LEN;
    use crate::request::SongId;

    #[test]
    fn a_pong_with_trailing_bytes_is_a_pong() {
        // A newer server may append fields; this used to underflow `4 - payload.len()`.
        let bytes = [0, 0, 0, 6, 0x41, 0, 0, 0, 0, 5, 0xAA, 0xBB];
        assert_eq!(Message::decode_from_slice(&bytes), Ok(Some((Message::Pong { id: RequestId(5) }, 12))));
        let short = [0, 0, 0, 2, 0x41, 0, 0, 0];
        assert!(matches!(
            Message::decode_from_slice(&short),
            Err(FrameError::Malformed { frame_len: 8, error: DecodeError::Truncated { needed: 2, .. }, .. })
        ));
    }

    #[test]
    fn play_has_the_documented_bytes() {
        let bytes = Message::Request(Request::Play { id: RequestId(7), song: SongId(2) }).to_bytes().unwrap();
        assert_eq!(bytes, [0, 0, 0, 8, 0x03, 0, 0, 0, 0, 7, 0, 0, 0, 2]);
    }

    #[test]
    fn clean_end_between_frames_is_none() {
        let mut empty: &[u8] = &[];
        assert!(matches!(read_message(&mut empty, &mut Vec::new()), Ok(None)));
    }

    #[test]
    fn end_inside_the_header_is_unexpected_eof() {
        let mut partial: &[u8] = &[0, 0, 0];
        assert!(matches!(read_message(&mut partial, &mut Vec::new()), Err(ReadError::UnexpectedEof)));
    }

    #[test]
    fn end_inside_the_payload_is_unexpected_eof() {
        let mut partial: &[u8] = &[0, 0, 0, 8, 0x03, 0, 0, 0, 0, 7];
        assert!(matches!(read_message(&mut partial, &mut Vec::new()), Err(ReadError::UnexpectedEof)));
    }

    #[test]
    fn oversized_frame_is_refused_without_allocating_its_length() {
        let mut bytes = (MAX_PAYLOAD_LEN + 1).to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0x02, 0]);
        let mut scratch = Vec::new();
        let result = read_message(&mut bytes.as_slice(), &mut scratch);
        assert!(matches!(result, Err(ReadError::Frame(FrameError::TooLarge { .. }))));
        assert_eq!(scratch.capacity(), 0, "nothing may be allocated for a refused frame");
        // The same through the slice decoder, with a length near u32::MAX.
        let huge = [0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0];
        assert!(matches!(Message::decode_from_slice(&huge), Err(FrameError::TooLarge { len: u32::MAX, .. })));
    }

    #[test]
    fn unknown_request_keeps_its_id_so_it_can_be_answered() {
        let mut bytes = vec![0, 0, 0, 4, 0x3E, 0];
        bytes.extend_from_slice(&9u32.to_be_bytes());
        let (message, used) = Message::decode_from_slice(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(message, Message::Unknown { kind: 0x3E, request: Some(RequestId(9)) });
    }

    #[test]
    fn truncated_play_is_refused() {
        let bytes = [0, 0, 0, 6, 0x03, 0, 0, 0, 0, 7, 0, 0];
        assert!(matches!(
            Message::decode_from_slice(&bytes),
            Err(FrameError::Malformed {
                kind: 0x03,
                frame_len: 12,
                error: DecodeError::Truncated { kind: "PLAY", offset: 4, needed: 2 }
            })
        ));
    }

    #[test]
    fn an_oversized_message_is_refused_and_leaves_the_buffer_alone() {
        use crate::stream::{Audio, StreamId};
        let audio =
            Audio { stream: StreamId(1), offset: 0, position_ms: 0, data: vec![0; MAX_PAYLOAD_LEN as usize] };
        let mut out = vec![1, 2, 3];
        assert!(matches!(
            Message::Audio(audio).encode(&mut out),
            Err(EncodeError::PayloadTooLarge { kind: "AUDIO", len }) if len == MAX_PAYLOAD_LEN as usize + 16
        ));
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn trailing_bytes_from_a_newer_version_are_ignored() {
        let mut bytes =
            Message::Request(Request::Play { id: RequestId(1), song: SongId(3) }).to_bytes().unwrap();
        bytes.extend_from_slice(&[0xAA; 4]);
        bytes[3] += 4;
        let (message, _) = Message::decode_from_slice(&bytes).unwrap().unwrap();
        assert_eq!(message, Message::Request(Request::Play { id: RequestId(1), song: SongId(3) }));
    }

    #[test]
    fn partial_frame_in_a_slice_asks_for_more() {
        let bytes = Message::Pong { id: RequestId(5) }.to_bytes().unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(Message::decode_from_slice(&bytes[..cut]), Ok(None));
        }
    }
}
