//! Replies, sent by the server, each echoing the id of the request it answers (RFC §6.2).
//!
//! ```text
//! PONG:      | request id (32) |
//! LIST_PAGE: | request id (32) | flags (8) | count (16) | count × song entry |
//!   entry:   | song id (32) | duration ms (32) | size (64) | title | artist | album |
//! PLAYING:   | request id (32) | stream id (32) | song id (32) | duration ms (32) |
//!            | total bytes (64) | title | artist | start ms (32) |
//! STOPPED:   | request id (32) | stream id (32), 0 if nothing was playing |
//! ERROR:     | request id (32) | code (16) | message |
//! ```
//! (Text fields are a 16-bit length and UTF-8, RFC §5.3.)

use std::borrow::Borrow;
use std::fmt;
use std::ops::Range;

use crate::error::{DecodeError, EncodeError};
use crate::frame::{Kind, MAX_PAYLOAD_LEN, encode_frame};
use crate::info::ReplayGain;
use crate::request::{RequestId, SongId};
use crate::stream::StreamId;
use crate::wire::{Cursor, put_text, put_u8, put_u16, put_u32, put_u64, text_len};

/// One song as LIST describes it (RFC §6.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SongEntry {
    /// The id to PLAY it by.
    pub id: SongId,
    /// Playing time in milliseconds.
    pub duration_ms: u32,
    /// Size of the file in bytes.
    pub size: u64,
    /// Title from the tags, or the file name.
    pub title: String,
    /// Artist from the tags; may be empty.
    pub artist: String,
    /// Album from the tags; may be empty.
    pub album: String,
}

/// Fixed bytes of an entry before its three text fields' contents.
const ENTRY_MIN_LEN: usize = 4 + 4 + 8 + 3 * 2;
/// Fixed bytes of a LIST_PAGE before its entries.
const PAGE_PREFIX_LEN: usize = 4 + 1 + 2;
/// LIST_PAGE flag bit: this is the last page of the reply.
const PAGE_LAST: u8 = 0x01;

impl SongEntry {
    fn encoded_len(&self) -> usize {
        4 + 4 + 8 + text_len(&self.title) + text_len(&self.artist) + text_len(&self.album)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.id.0);
        put_u32(out, self.duration_ms);
        put_u64(out, self.size);
        put_text(out, &self.title);
        put_text(out, &self.artist);
        put_text(out, &self.album);
    }

    fn decode(c: &mut Cursor<'_>) -> Result<SongEntry, DecodeError> {
        let id = c.u32()?;
        if id == 0 {
            return Err(c.invalid("song id"));
        }
        Ok(SongEntry {
            id: SongId(id),
            duration_ms: c.u32()?,
            size: c.u64()?,
            title: c.text()?,
            artist: c.text()?,
            album: c.text()?,
        })
    }
}

/// One frame of the reply to LIST. A library of any size is sent as consecutive pages that
/// each fit in one frame; the last has `last` set (RFC §6.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// The LIST request this answers.
    pub id: RequestId,
    /// True on the final page of this reply.
    pub last: bool,
    /// Songs in id order, continuing where the previous page stopped.
    pub songs: Vec<SongEntry>,
}

impl ListPage {
    /// Where a whole library splits into pages that each fit in [`MAX_PAYLOAD_LEN`]: ranges
    /// of `songs`, in order, covering all of it. An empty library is one empty page, so every
    /// LIST gets an answer. `songs` may be entries or references to them (the matches of a
    /// SEARCH, picked out of a library without copying it).
    pub fn page_bounds<E: Borrow<SongEntry>>(songs: &[E]) -> Vec<Range<usize>> {
        let budget = MAX_PAYLOAD_LEN as usize - PAGE_PREFIX_LEN;
        let mut bounds = Vec::new();
        let mut start = 0;
        let mut used = 0;
        for (i, song) in songs.iter().enumerate() {
            let len = song.borrow().encoded_len();
            if used + len > budget || i - start == usize::from(u16::MAX) {
                bounds.push(start..i);
                start = i;
                used = 0;
            }
            used += len;
        }
        bounds.push(start..songs.len());
        bounds
    }

    /// The whole reply to a LIST, as owned pages.
    pub fn paginate(id: RequestId, songs: &[SongEntry]) -> Vec<ListPage> {
        let bounds = Self::page_bounds(songs);
        let pages = bounds.len();
        bounds
            .into_iter()
            .enumerate()
            .map(|(i, range)| ListPage { id, last: i + 1 == pages, songs: songs[range].to_vec() })
            .collect()
    }

    /// Appends one whole LIST_PAGE frame for `songs` (a range from [`ListPage::page_bounds`]),
    /// borrowing them: a server answers LIST from its library without copying it.
    pub fn encode_page<E: Borrow<SongEntry>>(
        id: RequestId,
        songs: &[E],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        encode_frame(out, Kind::ListPage, |out| encode_page_payload(id, songs, last, out))
    }

    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        encode_page_payload(self.id, &self.songs, self.last, out);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<ListPage, DecodeError> {
        let id = c.request_id()?;
        let last = c.u8()? & PAGE_LAST != 0;
        let count = usize::from(c.u16()?);
        // Each entry needs at least ENTRY_MIN_LEN bytes: a count the payload cannot hold is
        // refused before the vector is sized from it.
        if count * ENTRY_MIN_LEN > c.remaining() {
            return Err(c.invalid("song count"));
        }
        let mut songs = Vec::with_capacity(count);
        for _ in 0..count {
            songs.push(SongEntry::decode(c)?);
        }
        Ok(ListPage { id, last, songs })
    }
}

fn encode_page_payload<E: Borrow<SongEntry>>(id: RequestId, songs: &[E], last: bool, out: &mut Vec<u8>) {
    put_u32(out, id.0);
    put_u8(out, if last { PAGE_LAST } else { 0 });
    // More than u16::MAX entries cannot fit the frame limit either; the encoders refuse it.
    put_u16(out, songs.len().min(usize::from(u16::MAX)) as u16);
    for song in songs {
        song.borrow().encode(out);
    }
}

/// Reply to PLAY: from here on the connection's audio belongs to `stream` (RFC §6.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Playing {
    /// The PLAY request this answers.
    pub id: RequestId,
    /// The new stream; every AUDIO of this song carries it.
    pub stream: StreamId,
    /// The song being streamed.
    pub song: SongId,
    /// Playing time in milliseconds.
    pub duration_ms: u32,
    /// How many audio bytes the stream will carry if it runs to the end.
    pub total_bytes: u64,
    /// Title, so the client can say what plays without caching the list.
    pub title: String,
    /// Artist; may be empty.
    pub artist: String,
    /// Where in the song the stream's first frame starts, in milliseconds: 0 for PLAY, the
    /// frame boundary reached for SEEK. Appended after the first edition of version 1
    /// (RFC §14 rule 1): a PLAYING without it decodes as 0.
    pub start_ms: u32,
    /// The song's ReplayGain, as SONG_INFO gives it, so that a player can apply it from the
    /// stream's first sample without asking INFO first. Appended after Start ms (RFC §14 rule
    /// 1): a PLAYING without it decodes with nothing known.
    pub gain: ReplayGain,
}

impl Playing {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.id.0);
        put_u32(out, self.stream.0);
        put_u32(out, self.song.0);
        put_u32(out, self.duration_ms);
        put_u64(out, self.total_bytes);
        put_text(out, &self.title);
        put_text(out, &self.artist);
        put_u32(out, self.start_ms);
        put_u8(out, self.gain.known());
        self.gain.encode_values(out);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Playing, DecodeError> {
        let id = c.request_id()?;
        let stream = StreamId(c.u32()?);
        if stream.0 == 0 {
            return Err(c.invalid("stream id"));
        }
        let song = c.u32()?;
        if song == 0 {
            return Err(c.invalid("song id"));
        }
        Ok(Playing {
            id,
            stream,
            song: SongId(song),
            duration_ms: c.u32()?,
            total_bytes: c.u64()?,
            title: c.text()?,
            artist: c.text()?,
            // An older server ends the payload here; a part of the field is still malformed.
            start_ms: if c.remaining() == 0 { 0 } else { c.u32()? },
            gain: if c.remaining() == 0 {
                ReplayGain::default()
            } else {
                ReplayGain::decode_values(c.u8()?, c)?
            },
        })
    }
}

/// Reply to STOP (RFC §6.2.4). STOP with nothing playing succeeds with `stream: None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// The STOP request this answers.
    pub id: RequestId,
    /// The stream that was ended, if one was current.
    pub stream: Option<StreamId>,
}

impl Stopped {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.id.0);
        put_u32(out, self.stream.map_or(0, |s| s.0));
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Stopped, DecodeError> {
        let id = c.request_id()?;
        let stream = c.u32()?;
        Ok(Stopped { id, stream: (stream != 0).then_some(StreamId(stream)) })
    }
}

/// Why a request failed (RFC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request's payload is shorter than its kind requires (RFC §9: the only way a version
    /// 1 request can be malformed).
    MalformedRequest,
    /// The request's kind is not one this server knows.
    UnknownRequest,
    /// The client sent a kind only a server may send.
    UnexpectedMessage,
    /// No song has the id PLAY, REQUEST or INFO named.
    NoSuchSong,
    /// The song is listed but cannot be read now (file vanished, unreadable or corrupt).
    SongUnavailable,
    /// This connection has used every stream id; a new connection can play again (RFC §7.1).
    StreamIdsExhausted,
    /// REQUEST named a song that is already waiting in the queue or on air.
    AlreadyQueued,
    /// The requester already has as many songs waiting as the station allows one listener.
    RequestLimit,
    /// The queue holds as many songs as the station allows in all.
    QueueFull,
    /// The station has nothing to play (an empty library, or the radio is switched off).
    OffAir,
    /// RELAY cannot be granted by this server: it would make a loop, or it feeds no relays.
    RelayRefused,
    /// The server relays another's station: songs are requested at the origin.
    NotTheOrigin,
    /// PAUSE or RESUME with no current stream (none was started, or it was sent whole).
    NoStream,
    /// PAUSE or RESUME of the station's stream, which is live: it cannot wait for a listener.
    LiveStream,
    /// SEEK to a position at or beyond the end of the song.
    BadPosition,
    /// The server failed in a way that is not the client's fault.
    Internal,
    /// A code from a newer version.
    Other(u16),
}

impl ErrorCode {
    /// The wire value.
    pub const fn to_u16(self) -> u16 {
        match self {
            ErrorCode::MalformedRequest => 0x0001,
            ErrorCode::UnknownRequest => 0x0002,
            ErrorCode::UnexpectedMessage => 0x0003,
            ErrorCode::NoSuchSong => 0x0010,
            ErrorCode::SongUnavailable => 0x0011,
            ErrorCode::StreamIdsExhausted => 0x0012,
            ErrorCode::AlreadyQueued => 0x0013,
            ErrorCode::RequestLimit => 0x0014,
            ErrorCode::QueueFull => 0x0015,
            ErrorCode::OffAir => 0x0016,
            ErrorCode::RelayRefused => 0x0017,
            ErrorCode::NotTheOrigin => 0x0018,
            ErrorCode::NoStream => 0x0019,
            ErrorCode::LiveStream => 0x001A,
            ErrorCode::BadPosition => 0x001B,
            ErrorCode::Internal => 0x00FF,
            ErrorCode::Other(v) => v,
        }
    }

    /// The code with this wire value.
    pub const fn from_u16(v: u16) -> ErrorCode {
        match v {
            0x0001 => ErrorCode::MalformedRequest,
            0x0002 => ErrorCode::UnknownRequest,
            0x0003 => ErrorCode::UnexpectedMessage,
            0x0010 => ErrorCode::NoSuchSong,
            0x0011 => ErrorCode::SongUnavailable,
            0x0012 => ErrorCode::StreamIdsExhausted,
            0x0013 => ErrorCode::AlreadyQueued,
            0x0014 => ErrorCode::RequestLimit,
            0x0015 => ErrorCode::QueueFull,
            0x0016 => ErrorCode::OffAir,
            0x0017 => ErrorCode::RelayRefused,
            0x0018 => ErrorCode::NotTheOrigin,
            0x0019 => ErrorCode::NoStream,
            0x001A => ErrorCode::LiveStream,
            0x001B => ErrorCode::BadPosition,
            0x00FF => ErrorCode::Internal,
            v => ErrorCode::Other(v),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ErrorCode::MalformedRequest => "malformed request",
            ErrorCode::UnknownRequest => "unknown request",
            ErrorCode::UnexpectedMessage => "unexpected message",
            ErrorCode::NoSuchSong => "no such song",
            ErrorCode::SongUnavailable => "song unavailable",
            ErrorCode::StreamIdsExhausted => "stream ids exhausted",
            ErrorCode::AlreadyQueued => "already queued",
            ErrorCode::RequestLimit => "request limit reached",
            ErrorCode::QueueFull => "queue full",
            ErrorCode::OffAir => "station off the air",
            ErrorCode::RelayRefused => "relay refused",
            ErrorCode::NotTheOrigin => "not the origin",
            ErrorCode::NoStream => "nothing is playing",
            ErrorCode::LiveStream => "the station is live",
            ErrorCode::BadPosition => "position beyond the end of the song",
            ErrorCode::Internal => "internal server error",
            ErrorCode::Other(v) => return write!(f, "error {v:#06x}"),
        };
        f.write_str(name)
    }
}

/// A request failed; `message` says why in words (RFC §6.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    /// The failed request, or [`RequestId::CONNECTION`] when the error concerns no request.
    pub id: RequestId,
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// Human-readable reason, e.g. `no song with id 42`.
    pub message: String,
}

impl ErrorReply {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.id.0);
        put_u16(out, self.code.to_u16());
        put_text(out, &self.message);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<ErrorReply, DecodeError> {
        Ok(ErrorReply { id: c.request_id()?, code: ErrorCode::from_u16(c.u16()?), message: c.text()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song(id: u32, title_len: usize) -> SongEntry {
        SongEntry {
            id: SongId(id),
            duration_ms: 1000,
            size: 1,
            title: "t".repeat(title_len),
            artist: "a".into(),
            album: String::new(),
        }
    }

    #[test]
    fn empty_library_is_one_empty_last_page() {
        let pages = ListPage::paginate(RequestId(7), &[]);
        assert_eq!(pages, vec![ListPage { id: RequestId(7), last: true, songs: vec![] }]);
    }

    #[test]
    fn large_library_spans_pages_that_each_fit_a_frame() {
        let songs: Vec<_> = (1..=500).map(|i| song(i, 1000)).collect();
        let pages = ListPage::paginate(RequestId(1), &songs);
        assert!(pages.len() > 1);
        assert!(pages.iter().rev().skip(1).all(|p| !p.last));
        assert!(pages.last().is_some_and(|p| p.last));
        for page in &pages {
            let mut out = Vec::new();
            page.encode_payload(&mut out);
            assert!(out.len() <= MAX_PAYLOAD_LEN as usize);
        }
        let all: Vec<_> = pages.iter().flat_map(|p| p.songs.clone()).collect();
        assert_eq!(all, songs);
        // The borrowed encoder writes the same frames.
        let mut borrowed = Vec::new();
        let bounds = ListPage::page_bounds(&songs);
        for (i, range) in bounds.iter().enumerate() {
            ListPage::encode_page(RequestId(1), &songs[range.clone()], i + 1 == bounds.len(), &mut borrowed)
                .unwrap();
        }
        let mut owned = Vec::new();
        for page in pages {
            crate::Message::ListPage(page).encode(&mut owned).unwrap();
        }
        assert_eq!(borrowed, owned);
    }

    #[test]
    fn list_page_with_impossible_count_is_refused() {
        let mut payload = Vec::new();
        put_u32(&mut payload, 1);
        put_u8(&mut payload, PAGE_LAST);
        put_u16(&mut payload, u16::MAX);
        assert!(matches!(
            ListPage::decode(&mut Cursor::new("LIST_PAGE", &payload)),
            Err(DecodeError::InvalidField { field: "song count", .. })
        ));
    }
}
