//! The station's side of the client (RFC §7.5), as pure logic: where on the stream a song
//! announced by TRACK_CHANGED begins, the reply to QUEUE put together page by page within
//! bounds, and the words for a place in the queue.

pub use jukebox_protocol::text::ordinal;
use jukebox_protocol::{NowPlaying, QueueEntry, QueuePage};

use crate::pcm::SAMPLE_RATE;

/// The frame of a radio stream (counted from its first decoded frame, as the
/// [`crate::pcm::PcmQueue`] counts them) at which station time `position_ms` sounds, given
/// that station time `anchor_ms` sounds at frame `anchor_frame` (the first frame of the chunk
/// that AUDIO said began then). Station times are modulo 2^32 (RFC §7.5.1), so the distance
/// between the two is taken as the shorter way round; a song that began before the anchor
/// (the song a burst begins in) begins at a frame before it, possibly before the stream's
/// first (negative).
pub fn frame_at(anchor_frame: u64, anchor_ms: u32, position_ms: u32) -> i64 {
    // The difference modulo 2^32, as a signed distance of at most 24 days either way.
    let delta_ms = i64::from(position_ms.wrapping_sub(anchor_ms) as i32);
    let delta_frames = (delta_ms * i64::from(SAMPLE_RATE)).div_euclid(1000);
    i64::try_from(anchor_frame).unwrap_or(i64::MAX).saturating_add(delta_frames)
}

/// The most requests one QUEUE reply may list. The reference server allows 100 in all; a
/// server that sends a thousand times as many without a last page is not listing a queue.
pub const MAX_QUEUE_ENTRIES: usize = 100_000;

/// The most text (titles and artists together) one QUEUE reply may hold.
pub const MAX_QUEUE_TEXT: usize = 32 << 20;

/// The most pages one QUEUE reply may have. Pages are filled (RFC §6.2.9), so only an empty
/// queue's one page is empty: a server that sends page after page without entries or a last
/// page would otherwise keep `queue` waiting for ever.
pub const MAX_QUEUE_PAGES: usize = 10_000;

/// Why a QUEUE reply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// More than [`MAX_QUEUE_ENTRIES`] requests and no last page.
    #[error(
        "the server sent more than {MAX_QUEUE_ENTRIES} queued songs and still no last page; the client stops there"
    )]
    TooManyEntries,
    /// More than [`MAX_QUEUE_TEXT`] bytes of text and no last page.
    #[error(
        "the server sent more than {} MiB of queued titles and still no last page; the client stops there",
        MAX_QUEUE_TEXT >> 20
    )]
    TooMuchText,
    /// More than [`MAX_QUEUE_PAGES`] pages and no last page.
    #[error(
        "the server sent {MAX_QUEUE_PAGES} pages of its queue and still no last page; the client stops there"
    )]
    TooManyPages,
}

/// What the station plays and which requests wait, as QUEUE's reply said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StationQueue {
    /// The song on the air (at the station's live edge), if the station is on the air.
    pub now: Option<NowPlaying>,
    /// The requests, in the order they will play.
    pub entries: Vec<QueueEntry>,
}

/// A QUEUE reply being received.
#[derive(Debug, Default)]
pub struct QueueReply {
    queue: StationQueue,
    pages: usize,
    text: usize,
}

impl QueueReply {
    /// Adds one page; `Ok(true)` once the last page is in. After an error the reply is
    /// refused as a whole.
    pub fn add(&mut self, page: QueuePage) -> Result<bool, QueueError> {
        self.pages += 1;
        if self.pages == 1 {
            // Every page repeats it (RFC §6.2.9).
            self.queue.now = page.now;
        }
        for entry in page.entries {
            if self.queue.entries.len() == MAX_QUEUE_ENTRIES {
                return Err(QueueError::TooManyEntries);
            }
            self.text += entry.track.title.len() + entry.track.artist.len();
            if self.text > MAX_QUEUE_TEXT {
                return Err(QueueError::TooMuchText);
            }
            self.queue.entries.push(entry);
        }
        if !page.last && self.pages >= MAX_QUEUE_PAGES {
            return Err(QueueError::TooManyPages);
        }
        Ok(page.last)
    }

    /// The queue.
    pub fn into_queue(self) -> StationQueue {
        self.queue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::{RequestId, SongId, Track};

    #[test]
    fn a_song_begins_where_its_station_time_falls_from_the_anchor() {
        // Station time 10 000 ms is heard at frame 4410 of the stream.
        assert_eq!(frame_at(4410, 10_000, 10_000), 4410);
        // 100 ms later: 4410 frames later.
        assert_eq!(frame_at(4410, 10_000, 10_100), 8820);
        // The song a burst begins in began before it: before the stream's first frame.
        assert_eq!(frame_at(0, 10_000, 9_000), -44_100);
        assert_eq!(frame_at(0, 10_000, 9_999), -45, "44.1 frames a millisecond, rounded down");
        // Station time wraps at 2^32 ms (49.7 days): the short way round.
        assert_eq!(frame_at(0, u32::MAX - 9, 10), 20 * 441 / 10);
        assert_eq!(frame_at(441, 5, u32::MAX - 4), 441 - 441);
    }

    fn entry(id: u32, title: &str) -> QueueEntry {
        QueueEntry {
            track: Track { song: SongId(id), duration_ms: 1000, title: title.into(), artist: String::new() },
            mine: false,
        }
    }

    fn page(entries: Vec<QueueEntry>, last: bool) -> QueuePage {
        let now = Some(NowPlaying {
            track: Track {
                song: SongId(9),
                duration_ms: 5000,
                title: "on air".into(),
                artist: String::new(),
            },
            elapsed_ms: 1000,
        });
        QueuePage { id: RequestId(1), last, now, entries }
    }

    #[test]
    fn pages_make_one_queue() {
        let mut reply = QueueReply::default();
        assert_eq!(reply.add(page(vec![entry(1, "a"), entry(2, "b")], false)), Ok(false));
        assert_eq!(reply.add(page(vec![entry(3, "c")], true)), Ok(true));
        let queue = reply.into_queue();
        assert_eq!(queue.now.map(|n| n.track.song), Some(SongId(9)));
        let ids: Vec<u32> = queue.entries.iter().map(|e| e.track.song.0).collect();
        assert_eq!(ids, [1, 2, 3]);
    }

    #[test]
    fn a_reply_without_end_is_cut_off() {
        let mut reply = QueueReply::default();
        let result = (0..).find_map(|_| reply.add(page(Vec::new(), false)).err());
        assert_eq!(result, Some(QueueError::TooManyPages));

        let mut reply = QueueReply::default();
        let many: Vec<QueueEntry> = (1..=MAX_QUEUE_ENTRIES as u32 + 1).map(|id| entry(id, "")).collect();
        assert_eq!(reply.add(page(many, true)), Err(QueueError::TooManyEntries));

        let mut reply = QueueReply::default();
        let long = "x".repeat(1024);
        let result = (0..).find_map(|_| reply.add(page(vec![entry(1, &long); 60], false)).err());
        assert_eq!(result, Some(QueueError::TooMuchText));
    }
}
