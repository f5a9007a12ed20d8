//! The radio family (RFC §6.1.6-6.1.8, §6.2.7-6.2.9, §6.3.4, §7.5): one station that plays the
//! same stream to every listener who tunes in, the songs listeners request in a fair order, and
//! a random song when nobody has asked for one.
//!
//! ```text
//! TUNE, QUEUE:    | request id (32) |
//! REQUEST:        | request id (32) | song id (32) |
//! TUNED:          | request id (32) | stream id (32) | bitrate kbps (16) | sample rate (32) |
//! QUEUED:         | request id (32) | song id (32) | place (32) |
//! QUEUE_PAGE:     | request id (32) | flags (8) | now: song id (32) | elapsed ms (32) |
//!                 | duration ms (32) | title | artist | count (16) | count × queue entry |
//!   entry:        | song id (32) | duration ms (32) | flags (8) | title | artist |
//! TRACK_CHANGED:  | stream id (32) | offset (64) | position ms (32) | song id (32) |
//!                 | duration ms (32) | title | artist |
//! ```
//!
//! TUNE, QUEUE and REQUEST are [`crate::Request`]s; this module holds the replies and the push.

use std::ops::Range;

use crate::error::{DecodeError, EncodeError};
use crate::frame::{Kind, MAX_PAYLOAD_LEN, encode_frame};
use crate::request::{RequestId, SongId};
use crate::stream::StreamId;
use crate::wire::{Cursor, put_text, put_u8, put_u16, put_u32, put_u64, text_len};

/// Reply to TUNE: the connection now hears the station as stream `stream` (RFC §6.2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuned {
    /// The TUNE request this answers.
    pub id: RequestId,
    /// The new current stream; its AUDIO carries the station's clock as Position ms.
    pub stream: StreamId,
    /// The station's constant bitrate, so a client can show it and size its buffers.
    pub bitrate_kbps: u16,
    /// The station's constant sample rate in Hz.
    pub sample_rate: u32,
}

impl Tuned {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.id.0);
        put_u32(out, self.stream.0);
        put_u16(out, self.bitrate_kbps);
        put_u32(out, self.sample_rate);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Tuned, DecodeError> {
        let id = c.request_id()?;
        let stream = match c.u32()? {
            0 => return Err(c.invalid("stream id")),
            id => StreamId(id),
        };
        Ok(Tuned { id, stream, bitrate_kbps: c.u16()?, sample_rate: c.u32()? })
    }
}

/// Reply to REQUEST: the song joined the queue (RFC §6.2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    /// The REQUEST this answers.
    pub id: RequestId,
    /// The song queued.
    pub song: SongId,
    /// Its place in the queue when the reply was sent: 1 plays next. Later requests of other
    /// listeners may come before it (the queue takes turns between listeners), never those of
    /// the same listener.
    pub place: u32,
}

impl Queued {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.id.0);
        put_u32(out, self.song.0);
        put_u32(out, self.place);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Queued, DecodeError> {
        let id = c.request_id()?;
        let song = c.u32()?;
        if song == 0 {
            return Err(c.invalid("song id"));
        }
        let place = c.u32()?;
        if place == 0 {
            return Err(c.invalid("place"));
        }
        Ok(Queued { id, song: SongId(song), place })
    }
}

/// A song as the station announces it: enough to show it without a LIST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// The song's id in the library.
    pub song: SongId,
    /// Its playing time in milliseconds, as LIST gives it.
    pub duration_ms: u32,
    /// Title, as LIST gives it.
    pub title: String,
    /// Artist, as LIST gives it; may be empty.
    pub artist: String,
}

impl Track {
    fn decode_song(c: &mut Cursor<'_>) -> Result<SongId, DecodeError> {
        match c.u32()? {
            0 => Err(c.invalid("song id")),
            id => Ok(SongId(id)),
        }
    }
}

/// One requested song waiting in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// The song.
    pub track: Track,
    /// Whether the connection that asked for the queue requested it, so a client can mark its
    /// own requests without the server telling anyone who asked for what.
    pub mine: bool,
}

/// Fixed bytes of an entry before its two text fields' contents.
const ENTRY_MIN_LEN: usize = 4 + 4 + 1 + 2 * 2;
/// QUEUE_PAGE flag: the last page of the reply.
const PAGE_LAST: u8 = 0x01;
/// QUEUE_PAGE entry flag: requested by the connection that asked.
const ENTRY_MINE: u8 = 0x01;

impl QueueEntry {
    fn encoded_len(&self) -> usize {
        4 + 4 + 1 + text_len(&self.track.title) + text_len(&self.track.artist)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.track.song.0);
        put_u32(out, self.track.duration_ms);
        put_u8(out, if self.mine { ENTRY_MINE } else { 0 });
        put_text(out, &self.track.title);
        put_text(out, &self.track.artist);
    }

    fn decode(c: &mut Cursor<'_>) -> Result<QueueEntry, DecodeError> {
        let song = Track::decode_song(c)?;
        let duration_ms = c.u32()?;
        let mine = c.u8()? & ENTRY_MINE != 0;
        Ok(QueueEntry { track: Track { song, duration_ms, title: c.text()?, artist: c.text()? }, mine })
    }
}

/// What is on air as QUEUE_PAGE reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NowPlaying {
    /// The song on air.
    pub track: Track,
    /// How far into it the station's live edge is, in milliseconds.
    pub elapsed_ms: u32,
}

/// One frame of the reply to QUEUE (RFC §6.2.9): what is on air, then the requested songs in
/// the order they will play. Every page repeats the same `now`; entries continue where the
/// previous page stopped, as LIST_PAGE's do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePage {
    /// The QUEUE request this answers.
    pub id: RequestId,
    /// True on the final page of this reply.
    pub last: bool,
    /// The song on air; `None` when the station is off the air (an empty library).
    pub now: Option<NowPlaying>,
    /// Requested songs in the order they will play.
    pub entries: Vec<QueueEntry>,
}

/// Fixed bytes of a QUEUE_PAGE before `now`'s two text fields and the entries.
const PAGE_PREFIX_LEN: usize = 4 + 1 + 4 + 4 + 4 + 2;

impl QueuePage {
    /// Where a queue splits into pages that each fit in [`MAX_PAYLOAD_LEN`] after `now`: ranges
    /// of `entries`, in order, covering all of them; an empty queue is one empty page.
    pub fn page_bounds(now: Option<&NowPlaying>, entries: &[QueueEntry]) -> Vec<Range<usize>> {
        let now_len = now.map_or(2 * 2, |n| text_len(&n.track.title) + text_len(&n.track.artist));
        let budget = (MAX_PAYLOAD_LEN as usize).saturating_sub(PAGE_PREFIX_LEN + now_len);
        let mut bounds = Vec::new();
        let (mut start, mut used) = (0, 0);
        for (i, entry) in entries.iter().enumerate() {
            let len = entry.encoded_len();
            if i > start && (used + len > budget || i - start == usize::from(u16::MAX)) {
                bounds.push(start..i);
                start = i;
                used = 0;
            }
            used += len;
        }
        bounds.push(start..entries.len());
        bounds
    }

    /// The whole reply to a QUEUE, as owned pages.
    pub fn paginate(id: RequestId, now: Option<NowPlaying>, entries: &[QueueEntry]) -> Vec<QueuePage> {
        let bounds = Self::page_bounds(now.as_ref(), entries);
        let pages = bounds.len();
        bounds
            .into_iter()
            .enumerate()
            .map(|(i, range)| QueuePage {
                id,
                last: i + 1 == pages,
                now: now.clone(),
                entries: entries[range].to_vec(),
            })
            .collect()
    }

    /// Appends this page as a whole frame; refused, leaving `out` as it was, if it does not fit.
    pub fn encode_frame(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        encode_frame(out, Kind::QueuePage, |out| self.encode_payload(out))
    }

    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.id.0);
        put_u8(out, if self.last { PAGE_LAST } else { 0 });
        match &self.now {
            Some(now) => {
                put_u32(out, now.track.song.0);
                put_u32(out, now.elapsed_ms);
                put_u32(out, now.track.duration_ms);
                put_text(out, &now.track.title);
                put_text(out, &now.track.artist);
            }
            None => {
                put_u32(out, 0);
                put_u32(out, 0);
                put_u32(out, 0);
                put_text(out, "");
                put_text(out, "");
            }
        }
        put_u16(out, u16::try_from(self.entries.len()).unwrap_or(u16::MAX));
        for entry in self.entries.iter().take(usize::from(u16::MAX)) {
            entry.encode(out);
        }
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<QueuePage, DecodeError> {
        let id = c.request_id()?;
        let last = c.u8()? & PAGE_LAST != 0;
        let song = c.u32()?;
        let elapsed_ms = c.u32()?;
        let duration_ms = c.u32()?;
        let title = c.text()?;
        let artist = c.text()?;
        let now = (song != 0).then_some(NowPlaying {
            track: Track { song: SongId(song), duration_ms, title, artist },
            elapsed_ms,
        });
        let count = usize::from(c.u16()?);
        // Checked before allocating: every entry takes at least ENTRY_MIN_LEN bytes.
        if count > c.remaining() / ENTRY_MIN_LEN {
            return Err(c.invalid("entry count"));
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            entries.push(QueueEntry::decode(c)?);
        }
        Ok(QueuePage { id, last, now, entries })
    }
}

/// A song begins on the station's stream (RFC §6.3.4). Sent to each tuned connection before
/// the AUDIO chunk whose data first holds the song, and once right after TUNED for the song
/// the stream begins in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackChanged {
    /// The radio stream this concerns; ignored unless current, like AUDIO.
    pub stream: StreamId,
    /// The stream offset (as in AUDIO) of the first chunk that holds the song's audio.
    pub offset: u64,
    /// The station time (as in AUDIO's Position ms, modulo 2^32) at which the song begins;
    /// a client shows the song from the moment its playback reaches this position.
    pub position_ms: u32,
    /// The song.
    pub track: Track,
}

impl TrackChanged {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.stream.0);
        put_u64(out, self.offset);
        put_u32(out, self.position_ms);
        put_u32(out, self.track.song.0);
        put_u32(out, self.track.duration_ms);
        put_text(out, &self.track.title);
        put_text(out, &self.track.artist);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<TrackChanged, DecodeError> {
        let stream = match c.u32()? {
            0 => return Err(c.invalid("stream id")),
            id => StreamId(id),
        };
        let offset = c.u64()?;
        let position_ms = c.u32()?;
        let song = Track::decode_song(c)?;
        let duration_ms = c.u32()?;
        Ok(TrackChanged {
            stream,
            offset,
            position_ms,
            track: Track { song, duration_ms, title: c.text()?, artist: c.text()? },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u32, title_len: usize) -> QueueEntry {
        QueueEntry {
            track: Track {
                song: SongId(id),
                duration_ms: 1,
                title: "t".repeat(title_len),
                artist: "a".into(),
            },
            mine: id.is_multiple_of(2),
        }
    }

    fn now() -> NowPlaying {
        NowPlaying {
            track: Track { song: SongId(9), duration_ms: 5000, title: "x".repeat(1_000), artist: "y".into() },
            elapsed_ms: 1200,
        }
    }

    #[test]
    fn an_empty_queue_is_one_last_page() {
        let pages = QueuePage::paginate(RequestId(3), None, &[]);
        assert_eq!(pages, vec![QueuePage { id: RequestId(3), last: true, now: None, entries: vec![] }]);
    }

    #[test]
    fn a_long_queue_with_a_long_title_on_air_spans_pages_that_each_fit() {
        let entries: Vec<_> = (1..=400).map(|i| entry(i, 1000)).collect();
        let pages = QueuePage::paginate(RequestId(1), Some(now()), &entries);
        assert!(pages.len() > 5);
        for page in &pages {
            let mut out = Vec::new();
            page.encode_frame(&mut out).expect("every page fits a frame");
            let decoded = crate::Message::decode_from_slice(&out).unwrap().unwrap().0;
            assert_eq!(decoded, crate::Message::QueuePage(page.clone()));
        }
        let all: Vec<_> = pages.iter().flat_map(|p| p.entries.clone()).collect();
        assert_eq!(all, entries);
        assert!(pages.last().is_some_and(|p| p.last) && pages.iter().rev().skip(1).all(|p| !p.last));
    }

    #[test]
    fn a_queue_page_with_an_impossible_count_is_refused_before_allocating() {
        let page = QueuePage { id: RequestId(1), last: true, now: None, entries: vec![] };
        let mut payload = Vec::new();
        page.encode_payload(&mut payload);
        let len = payload.len();
        payload[len - 2..].copy_from_slice(&u16::MAX.to_be_bytes());
        assert!(matches!(
            QueuePage::decode(&mut Cursor::new("QUEUE_PAGE", &payload)),
            Err(DecodeError::InvalidField { field: "entry count", .. })
        ));
    }
}
