//! Turns what upstreams deliver into one continuous stream of chunks on the relay's own clock
//! (sans-IO: the relay's clock thread feeds it and airs what it returns).
//!
//! - A jukebox upstream says where each chunk sits on its station's clock (RFC §7.5.1), and so
//!   does every other jukebox of the same tree, whichever the relay is connected to: audio
//!   that was already aired (the burst of an upstream the relay has just reconnected to) is
//!   dropped frame by frame, so listeners hear nothing twice, and the relay resumes at the
//!   first frame it has not sent.
//! - An ICY station says nothing of the kind: its audio continues the relay's stream.
//! - While no upstream delivers, the relay's clock asks for silence: frames of the stream's
//!   own format (the last frame's header, with all-zero side information, which every decoder
//!   plays as silence), so listeners stay connected, as Icecast's fallback mount keeps them.
//!   Audio of a jukebox upstream that would have been heard during the silence is lost.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use jukebox_protocol::mp3::{self, AudioHeader};
use jukebox_protocol::{SongId, Track};

use crate::radio::{Airing, Chunk};

/// Frames per chunk cut from an ICY station's audio, as the station's own chunks (about
/// 209 ms at 44.1 kHz).
pub const CHUNK_FRAMES: usize = 8;

/// The furthest a jukebox upstream's audio may be from the relay's stream and still be the
/// same station on the same clock: audio further back or ahead belongs to another station
/// (or one that restarted), and continues the stream instead.
const SAME_CLOCK: Duration = Duration::from_secs(10);

/// The longest chunk cut from a jukebox upstream's audio. An upstream's AUDIO is normally one
/// of its chunks (209 ms), but one frame may carry up to 64 KiB, which at 8 kbit/s is over a
/// minute: a chunk that long would be further ahead of the relay's clock than the clock
/// waits (`feed::MAX_EARLY`), be dropped, and leave every later chunk as far ahead, so the
/// relay would air nothing for good. Audio beyond this is cut into further chunks.
const MAX_CHUNK: Duration = Duration::from_secs(1);

/// The shortest a song plays on a relay before the next begins: titles that come faster
/// (a hostile or broken upstream) wait, and only the newest of them is heard.
const MIN_SONG: Duration = Duration::from_secs(1);

/// Position ms is a u32 (RFC §6.3.1): the station clock wraps every 2^32 ms, 49.7 days.
const WRAP_US: u64 = (1 << 32) * 1000;

/// The most songs announced and not yet begun that the splicer keeps. An upstream announces
/// a song just before its audio, so one or two wait at a time; one that announces songs and
/// sends no audio for them (or a song far in the future, which holds back every later one)
/// would otherwise grow the relay's memory without bound. The oldest goes first.
const MAX_PENDING: usize = 16;

/// Where a song begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// At this time on the upstream's clock, in µs.
    Upstream(u64),
    /// With the next frame that comes.
    NextFrame,
}

/// A song announced and not yet begun.
#[derive(Debug)]
struct Pending {
    start: Start,
    airing: Arc<Airing>,
}

/// The relay's stream so far.
#[derive(Debug, Default)]
pub struct Splicer {
    /// Relay time at the end of the stream so far (where the next frame goes), in µs; `None`
    /// before the first frame.
    end_us: Option<u64>,
    /// Relay time minus upstream time, in µs, for a jukebox upstream's positions.
    offset: Option<i128>,
    /// The newest frame's header bytes and its parsed form: the format silence copies.
    last_frame: Option<([u8; 4], AudioHeader)>,
    /// The song heard at the end of the stream so far.
    current: Option<Arc<Airing>>,
    /// Whether the upstream named it (else it stands for an unnamed stream, which the first
    /// song named replaces at once).
    named: bool,
    /// Songs announced, in order, not yet begun.
    pending: VecDeque<Pending>,
    /// The chunk being cut (ICY audio), its first frame's relay time, its frames and their
    /// playing time in µs.
    building: Vec<u8>,
    building_start_us: u64,
    building_frames: usize,
    building_us: u64,
    /// A song that begins in the chunk being cut.
    building_starts: Option<Arc<Airing>>,
    /// The song heard at the chunk's first frame.
    building_airing: Option<Arc<Airing>>,
    seq: u64,
    /// Song ids given to an ICY station's titles, which have none.
    next_song: u32,
    /// The upstream's name, the title of a stream whose song nobody named.
    name: String,
}

/// A frame's playing time in µs.
fn frame_us(header: &AudioHeader) -> u64 {
    u64::from(header.samples) * 1_000_000 / u64::from(header.sample_rate.max(1))
}

impl Splicer {
    /// A new stream.
    pub fn new() -> Splicer {
        Splicer::default()
    }

    /// An upstream connection began; `name` describes it, the title of the stream until a
    /// song is named.
    pub fn session(&mut self, name: &str) {
        self.name = name.to_string();
        // Songs the lost upstream announced and whose audio never came: the new upstream
        // announces what its own audio begins with, and a start on the old one's clock may
        // mean nothing on the new one's (far ahead, it would hold back every later song).
        self.pending.clear();
    }

    /// Relay time at the end of the stream so far, in ms (0 before any audio).
    pub fn end_ms(&self) -> u64 {
        self.end_us.unwrap_or(0) / 1000
    }

    /// Whether any audio has come: before, there is no format to make silence in.
    pub fn started(&self) -> bool {
        self.last_frame.is_some()
    }

    /// A song announced by the upstream: a jukebox's `song` id and station time, or an ICY
    /// title (beginning with the next audio).
    pub fn song(
        &mut self,
        song: Option<SongId>,
        title: &str,
        artist: &str,
        duration_ms: u32,
        position_ms: Option<u64>,
    ) {
        let start =
            position_ms.map_or(Start::NextFrame, |ms| Start::Upstream(self.near(ms.saturating_mul(1000))));
        // An upstream the relay reconnects to announces the song its burst begins in again:
        // the same title, beginning at the same time (a one-song station repeats its song).
        let named = |a: &Airing| a.track.title == title && a.track.artist == artist;
        let again = match self.pending.back() {
            Some(p) => named(&p.airing) && (p.start == start || start == Start::NextFrame),
            None => self.current.as_ref().is_some_and(|a| {
                named(a)
                    && match (start, self.offset) {
                        (Start::Upstream(us), Some(o)) => {
                            ((i128::from(us) + o) / 1000 - i128::from(a.start_ms)).abs() <= 30
                        }
                        _ => true,
                    }
            }),
        };
        if again {
            return;
        }
        let song = song.unwrap_or_else(|| {
            self.next_song = self.next_song.wrapping_add(1).max(1);
            SongId(self.next_song)
        });
        self.seq += 1;
        let track = Track { song, duration_ms, title: title.to_string(), artist: artist.to_string() };
        let airing = Arc::new(Airing { seq: self.seq, track, album: String::new(), start_ms: 0 });
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(Pending { start, airing });
    }

    /// Whole frames from the upstream, the first at `position_ms` on a jukebox upstream's
    /// clock: the chunks they complete, in order. A jukebox's audio makes one chunk (it comes
    /// cut); an ICY station's is cut into chunks of [`CHUNK_FRAMES`].
    pub fn audio(&mut self, frames: &[u8], position_ms: Option<u64>) -> Vec<Chunk> {
        let mut out = Vec::new();
        let mut upstream_us = position_ms.map(|ms| self.near(ms.saturating_mul(1000)));
        if let (Some(at), Some(end)) = (upstream_us, self.end_us) {
            let mapped = self.offset.map(|o| i128::from(at) + o);
            let same_clock =
                mapped.is_some_and(|m| (m - i128::from(end)).unsigned_abs() <= SAME_CLOCK.as_micros());
            if !same_clock {
                // Another clock: this audio continues the stream.
                self.offset = Some(i128::from(end) - i128::from(at));
            }
        }
        for span in mp3::frames(frames) {
            let frame = &frames[span.offset..span.offset + span.header.len];
            let duration = frame_us(&span.header);
            let at = match upstream_us.as_mut() {
                Some(at) => {
                    let this = *at;
                    *at += duration;
                    Some(this)
                }
                None => None,
            };
            self.frame(frame, span.header, duration, at, &mut out);
        }
        if position_ms.is_some() {
            self.cut(&mut out);
        }
        out
    }

    /// An upstream time, in µs, moved by whole turns of the 32-bit clock to where the stream
    /// expects it: a new connection's positions start from their 32 bits again, and must not
    /// look like another clock after 49.7 days on the air.
    fn near(&self, at: u64) -> u64 {
        let (Some(offset), Some(end)) = (self.offset, self.end_us) else { return at };
        let expected = i128::from(end) - offset;
        let turns = ((expected - i128::from(at)) as f64 / WRAP_US as f64).round() as i128;
        u64::try_from(i128::from(at) + turns * i128::from(WRAP_US)).unwrap_or(at)
    }

    /// Silence from the end of the stream to relay time `until_ms`, in whole frames of the
    /// stream's format: the chunks it makes (none before the first audio).
    pub fn silence(&mut self, until_ms: u64) -> Vec<Chunk> {
        let mut out = Vec::new();
        let Some((bytes, header)) = self.last_frame else { return out };
        let frame = silent_frame(bytes, &header);
        let Some(silent) = AudioHeader::parse(&frame) else { return out };
        let duration = frame_us(&silent);
        while self.end_us.is_some_and(|end| end + duration <= until_ms.saturating_mul(1000)) {
            self.frame(&frame, silent, duration, None, &mut out);
            if self.building_frames >= CHUNK_FRAMES {
                self.cut(&mut out);
            }
        }
        self.cut(&mut out);
        out
    }

    /// One frame, at `upstream_at` µs on a jukebox upstream's clock if known.
    fn frame(
        &mut self,
        frame: &[u8],
        header: AudioHeader,
        duration: u64,
        upstream_at: Option<u64>,
        out: &mut Vec<Chunk>,
    ) {
        let end = match (self.end_us, upstream_at) {
            (Some(end), _) => end,
            // The first frame ever: the relay's clock starts on the upstream's, if it has one.
            (None, at) => {
                let start = at.unwrap_or(0);
                self.offset = Some(0);
                start
            }
        };
        let at = upstream_at.and_then(|at| self.offset.map(|o| i128::from(at) + o));
        if let Some(at) = at
            && at + i128::from(duration / 2) < i128::from(end)
        {
            // Already in the stream (a burst after a reconnect): heard once is enough. Songs
            // announced for what is dropped begin with what is kept.
            return;
        }
        if let Some(at) = at
            && at > i128::from(end + duration / 2)
        {
            // The upstream skipped ahead (audio lost in a gap): silence up to it keeps the
            // stream's clock true.
            let until = u64::try_from(at).unwrap_or(u64::MAX) / 1000;
            tracing::debug!(
                "relay: the upstream skipped {} ms ahead; silence fills the gap",
                until.saturating_sub(end / 1000)
            );
            self.end_us = Some(end);
            out.extend(self.silence(until));
        }
        let mut end = self.end_us.unwrap_or(end);
        if let Some(at) = at.and_then(|at| u64::try_from(at).ok()) {
            // On the upstream's clock: the frame's time is the upstream's, so that rounding
            // in frame durations never adds up.
            end = at;
        }
        if let Ok(first4) = <[u8; 4]>::try_from(&frame[..4.min(frame.len())]) {
            self.last_frame = Some((first4, header));
        }
        // Songs that begin with this frame (or before it, on the upstream's clock): at most
        // one every MIN_SONG, the newest of those due, so that a station that names a new
        // song every frame costs a title a second, not a chunk and a log line per frame.
        let mut starting = None;
        let too_soon = self.named
            && self
                .current
                .as_ref()
                .is_some_and(|c| end / 1000 < c.start_ms.saturating_add(MIN_SONG.as_millis() as u64));
        while let Some(next) = self.pending.front() {
            if too_soon {
                break;
            }
            let begins = match next.start {
                Start::NextFrame => true,
                Start::Upstream(us) => match self.offset {
                    Some(o) => i128::from(us) + o < i128::from(end + duration),
                    None => true,
                },
            };
            if !begins {
                break;
            }
            let Some(next) = self.pending.pop_front() else { break };
            let start_us = match next.start {
                Start::Upstream(us) => {
                    self.offset.map_or(end, |o| u64::try_from(i128::from(us) + o).unwrap_or(end))
                }
                Start::NextFrame => end,
            };
            let airing = Airing { start_ms: start_us / 1000, ..(*next.airing).clone() };
            starting = Some(Arc::new(airing));
        }
        if let Some(airing) = starting {
            if self.building_frames > 0 {
                self.cut(out);
            }
            self.current = Some(Arc::clone(&airing));
            self.named = true;
            self.building_starts = Some(airing);
        }
        if self.current.is_none() {
            // Nobody named the song: the upstream's name stands for it.
            self.next_song = self.next_song.wrapping_add(1).max(1);
            self.seq += 1;
            let title = if self.name.is_empty() { "Live".to_string() } else { self.name.clone() };
            let track = Track { song: SongId(self.next_song), duration_ms: 0, title, artist: String::new() };
            self.current =
                Some(Arc::new(Airing { seq: self.seq, track, album: String::new(), start_ms: end / 1000 }));
        }
        if self.building_frames == 0 {
            self.building_start_us = end;
            self.building_airing = self.current.clone();
        }
        self.building.extend_from_slice(frame);
        self.building_frames += 1;
        self.building_us += duration;
        self.end_us = Some(end + duration);
        let full = match upstream_at {
            None => self.building_frames >= CHUNK_FRAMES,
            Some(_) => self.building_us >= MAX_CHUNK.as_micros() as u64,
        };
        if full {
            self.cut(out);
        }
    }

    /// Ends the chunk being cut, if it has frames.
    fn cut(&mut self, out: &mut Vec<Chunk>) {
        if self.building_frames == 0 {
            return;
        }
        let starts = self.building_starts.take();
        let airing = match (&self.building_airing, &starts) {
            // A chunk cut for a song that begins in its first frame: that song is heard.
            (_, Some(s)) if s.start_ms <= self.building_start_us / 1000 => Arc::clone(s),
            (Some(a), _) => Arc::clone(a),
            (None, Some(s)) => Arc::clone(s),
            (None, None) => return,
        };
        let starts = starts.filter(|s| s.seq != airing.seq || s.start_ms >= self.building_start_us / 1000);
        out.push(Chunk {
            position_ms: self.building_start_us / 1000,
            duration: Duration::from_micros(self.building_us),
            data: Arc::from(std::mem::take(&mut self.building)),
            airing,
            starts,
        });
        self.building_frames = 0;
        self.building_us = 0;
        self.building_airing = None;
    }
}

/// A frame of silence in the format of the frame whose header is `first4`: the same header
/// without padding or CRC, and all-zero side information and main data (no bits for any
/// band), which every decoder plays as silence.
pub fn silent_frame(first4: [u8; 4], header: &AudioHeader) -> Vec<u8> {
    let mut head = first4;
    head[1] |= 0x01; // no CRC
    head[2] &= !0x02; // no padding
    let len = AudioHeader::parse(&head).map_or(header.len, |h| h.len).max(4);
    let mut frame = vec![0u8; len];
    frame[..4].copy_from_slice(&head);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` frames of 128 kbit/s, 44.1 kHz stereo (417 bytes, 26.122 ms each), each filled
    /// with `fill`.
    fn frames(n: usize, fill: u8) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..n {
            let start = out.len();
            out.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
            out.resize(start + 417, fill);
        }
        out
    }

    fn fills(chunks: &[Chunk]) -> Vec<u8> {
        chunks
            .iter()
            .flat_map(|c| mp3::frames(&c.data).map(|f| c.data[f.offset + 4]).collect::<Vec<_>>())
            .collect()
    }

    const FRAME_MS: f64 = 1152.0 * 1000.0 / 44100.0;

    fn at(frame: u64) -> u64 {
        (frame as f64 * FRAME_MS) as u64
    }

    #[test]
    fn a_jukebox_stream_keeps_its_clock_and_chunks() {
        let mut s = Splicer::new();
        s.song(Some(SongId(4)), "Tin Robot", "Ada", 60_000, Some(at(100)));
        let one = s.audio(&frames(8, 1), Some(at(100)));
        let two = s.audio(&frames(8, 2), Some(at(108)));
        assert_eq!((one.len(), two.len()), (1, 1));
        assert_eq!(one[0].position_ms, at(100));
        assert_eq!(two[0].position_ms, at(108));
        assert_eq!(one[0].airing.track.song, SongId(4));
        assert_eq!(one[0].airing.start_ms, at(100));
        assert!(two[0].starts.is_none() && two[0].airing.track.song == SongId(4));
    }

    #[test]
    fn after_a_reconnect_the_burst_is_trimmed_to_the_first_frame_not_sent() {
        let mut s = Splicer::new();
        s.song(Some(SongId(4)), "Tin Robot", "Ada", 60_000, Some(at(0)));
        let mut sent = Vec::new();
        for n in 0..10u64 {
            sent.extend(s.audio(&frames(8, n as u8), Some(at(n * 8))));
        }
        // A new upstream of the same tree: its burst goes back 88 frames (2.3 s) from its live
        // edge at frame 96, and repeats the song the burst begins in.
        s.session("jukebox://other");
        s.song(Some(SongId(4)), "Tin Robot", "Ada", 60_000, Some(at(0)));
        for n in 1..12u64 {
            sent.extend(s.audio(&frames(8, n as u8), Some(at(n * 8))));
        }
        let heard = fills(&sent);
        let expected: Vec<u8> = (0..12u8).flat_map(|n| [n; 8]).collect();
        assert_eq!(heard, expected, "nothing twice, nothing lost");
        let songs: Vec<u64> = sent.iter().filter_map(|c| c.starts.as_ref().map(|a| a.seq)).collect();
        assert!(songs.len() <= 1, "the song is announced once: {songs:?}");
        let positions: Vec<u64> = sent.iter().map(|c| c.position_ms).collect();
        assert!(positions.windows(2).all(|w| w[1] > w[0]));
    }

    #[test]
    fn silence_fills_an_outage_and_what_it_covered_is_lost() {
        let mut s = Splicer::new();
        s.audio(&frames(8, 1), Some(at(0)));
        assert_eq!(s.end_ms(), at(8));
        // The upstream is silent: the clock asks for silence up to frame 24.
        let silence = s.silence(at(24) + 1);
        let silent_frames: usize = silence.iter().map(|c| mp3::frames(&c.data).count()).sum();
        assert_eq!(silent_frames, 16);
        assert!(silence.iter().all(|c| c.data.iter().skip(4).take(100).all(|&b| b == 0)));
        // The upstream comes back with frames 16 to 32: those up to 24 are already covered.
        let back = s.audio(&frames(16, 9), Some(at(16)));
        let kept: usize = back.iter().map(|c| mp3::frames(&c.data).count()).sum();
        assert_eq!(kept, 8);
        assert!(back[0].position_ms.abs_diff(at(24)) <= 1);
    }

    #[test]
    fn icy_audio_is_cut_into_chunks_and_titles_begin_with_the_next_frame() {
        let mut s = Splicer::new();
        s.session("Old School FM");
        let first = s.audio(&frames(12, 1), None);
        assert_eq!(first.len(), 1, "eight frames make a chunk, four wait");
        assert_eq!(first[0].airing.track.title, "Old School FM");
        s.song(None, "Don't Cry", "Guns N' Roses", 0, None);
        let next = s.audio(&frames(8, 2), None);
        // The four waiting frames are cut off, then the song begins a chunk of its own.
        assert_eq!(next.iter().map(|c| c.data.len() / 417).collect::<Vec<_>>(), [4, 8]);
        assert!(next[0].starts.is_none());
        let song = next[1].starts.as_ref().unwrap_or(&next[1].airing);
        assert_eq!((song.track.title.as_str(), song.track.artist.as_str()), ("Don't Cry", "Guns N' Roses"));
        assert_eq!(next[1].airing.track.title, "Don't Cry", "heard from the chunk's first frame");
        assert_ne!(song.track.song, first[0].airing.track.song);
        // The same title again (a station repeats its metadata) is not a new song.
        s.song(None, "Don't Cry", "Guns N' Roses", 0, None);
        let more = s.audio(&frames(8, 3), None);
        assert!(more[0].starts.is_none() && more[0].airing.seq == song.seq);
        // The chunks continue each other.
        let all = [first, next, more].concat();
        for w in all.windows(2) {
            let end = w[0].position_ms as f64 + w[0].duration.as_secs_f64() * 1000.0;
            assert!((w[1].position_ms as f64 - end).abs() <= 1.0);
        }
    }

    #[test]
    fn a_new_connection_after_the_clock_wrapped_is_the_same_clock() {
        let mut s = Splicer::new();
        let wrap_ms = 1u64 << 32;
        // Before and after the wrap, on one connection (widened) ...
        s.audio(&frames(8, 1), Some(wrap_ms + at(0)));
        s.audio(&frames(8, 2), Some(wrap_ms + at(8)));
        // ... and a new connection, whose positions start from their 32 bits: its burst
        // repeats the last chunk, which is dropped, and goes on.
        s.session("jukebox://other");
        let again = s.audio(&frames(8, 2), Some(at(8)));
        assert!(again.is_empty(), "heard once");
        let next = s.audio(&frames(8, 3), Some(at(16)));
        assert_eq!(fills(&next), vec![3; 8]);
        assert!(next[0].position_ms.abs_diff(wrap_ms + at(16)) <= 1);
    }

    #[test]
    fn titles_that_come_faster_than_a_second_apart_are_heard_one_a_second_the_newest_first() {
        let mut s = Splicer::new();
        let mut starts = Vec::new();
        for n in 0..100u8 {
            s.song(None, &format!("Title {n}"), "", 0, None);
            for chunk in s.audio(&frames(1, n), None) {
                starts.extend(chunk.starts.map(|a| (a.start_ms, a.track.title.clone())));
            }
        }
        // 100 frames are 2.6 s: at most three songs, each at least a second after the last.
        assert!(starts.len() <= 3, "{starts:?}");
        assert!(starts.windows(2).all(|w| w[1].0 >= w[0].0 + 1000), "{starts:?}");
    }

    #[test]
    fn another_stations_clock_continues_the_stream() {
        let mut s = Splicer::new();
        s.audio(&frames(8, 1), Some(at(1000)));
        // A restarted origin, whose clock begins again near 0.
        let after = s.audio(&frames(8, 2), Some(at(3)));
        assert_eq!(fills(&after), vec![2; 8]);
        assert!(after[0].position_ms.abs_diff(at(1008)) <= 1, "continues within 1 ms of rounding");
    }

    #[test]
    fn one_long_audio_frame_is_cut_into_chunks_the_clock_can_pace() {
        // 64 KiB of MPEG-2.5 Layer III, 8 kHz, 8 kbit/s: 72-byte frames of 72 ms, 65 s in one
        // AUDIO. As one chunk it would be dropped as too early, and the relay silenced for good.
        let header = [0xFF, 0xE3, 0x18, 0x00];
        let len = AudioHeader::parse(&header).unwrap().len;
        let mut data = Vec::new();
        while data.len() + len <= jukebox_protocol::MAX_AUDIO_DATA_LEN {
            let start = data.len();
            data.extend(header);
            data.resize(start + len, 0);
        }
        let mut s = Splicer::new();
        let chunks = s.audio(&data, Some(5_000));
        assert!(chunks.len() > 60, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.duration <= MAX_CHUNK + Duration::from_millis(72)));
        for w in chunks.windows(2) {
            let end = w[0].position_ms as f64 + w[0].duration.as_secs_f64() * 1000.0;
            assert!((w[1].position_ms as f64 - end).abs() <= 1.0, "chunks continue each other");
        }
        let total: Duration = chunks.iter().map(|c| c.duration).sum();
        assert_eq!(total.as_millis(), (data.len() / len) as u128 * 72);
    }

    #[test]
    fn songs_without_audio_are_bounded_and_a_new_session_forgets_them() {
        let mut s = Splicer::new();
        s.audio(&frames(8, 1), Some(at(0)));
        // A song far ahead of the audio, then a flood of songs that never come.
        s.song(Some(SongId(1)), "Far", "", 0, Some(at(1_000_000)));
        for n in 0..10_000u32 {
            s.song(Some(SongId(n + 2)), &format!("t{n}"), "", 0, Some(at(8) + u64::from(n)));
        }
        assert!(s.pending.len() <= MAX_PENDING);
        // The one far ahead no longer holds back the songs behind it.
        let next = s.audio(&frames(8, 2), Some(at(10_000)));
        assert_ne!(next[0].airing.track.title, "Far");
        // A song announced by an upstream that is then lost does not outlive it.
        s.song(Some(SongId(99)), "Lost", "", 0, Some(at(2_000_000)));
        s.session("jukebox://other");
        assert!(s.pending.is_empty());
    }

    #[test]
    fn silent_frames_decode_to_silence_in_the_same_format() {
        let header = AudioHeader::parse(&[0xFF, 0xFB, 0x92, 0x64]).unwrap();
        let frame = silent_frame([0xFF, 0xFB, 0x92, 0x64], &header);
        let silent = AudioHeader::parse(&frame).unwrap();
        assert_eq!((silent.sample_rate, silent.bitrate_kbps, silent.len), (44_100, 128, 417));
        let mut decoder = jukebox_codec::FrameDecoder::default();
        let mut heard = Vec::new();
        for _ in 0..3 {
            if let Some(pcm) = decoder.decode(&frame) {
                heard.extend_from_slice(pcm.samples);
            }
        }
        assert!(!heard.is_empty() && heard.iter().all(|&s| s == 0));
    }
}
