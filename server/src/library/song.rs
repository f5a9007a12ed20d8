//! A song loaded for streaming: its bytes, cut into chunks of whole frames, shared by every
//! connection that plays it.
//!
//! Loading happens on PLAY, not at scan time, so a file that vanished or changed since the scan
//! costs that one request an ERROR (RFC §6.2.5) and nothing else. While any connection streams
//! a song, later PLAYs of it share the same memory, and recently played songs stay loaded
//! within a memory budget.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use jukebox_protocol::SongId;
use jukebox_protocol::mp3;

use crate::library::{MAX_SONG_BYTES, Song};

/// A chunk ends once it holds this much audio (RFC §7.2: a few hundred milliseconds), so that
/// pacing is smooth and a reply never waits long behind the chunk being written.
pub const CHUNK_DURATION: Duration = Duration::from_millis(200);

/// A chunk never holds more frame bytes than this, whatever the bitrate.
pub const CHUNK_MAX_BYTES: usize = 16 * 1024;

/// One AUDIO payload's worth of a song: whole frames, contiguous in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Where the frames lie in [`LoadedSong::bytes`].
    pub bytes: Range<usize>,
    /// When the first frame starts to sound.
    pub start: Duration,
    /// When the last frame stops sounding: pacing compares this with the clock (RFC §7.3).
    pub end: Duration,
}

/// A song in memory, ready to stream.
#[derive(Debug)]
pub struct LoadedSong {
    /// The whole file.
    pub bytes: Vec<u8>,
    /// The song's audio, in order.
    pub chunks: Vec<Chunk>,
    /// Sum of the chunks' lengths: what PLAYING and END_OF_STREAM announce.
    pub total_bytes: u64,
}

impl LoadedSong {
    /// Cuts a file's frames into chunks. `None` if the data holds no MPEG audio.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<LoadedSong> {
        let mut chunks: Vec<Chunk> = Vec::new();
        let mut clock = mp3::StreamClock::default();
        for frame in mp3::frames(&bytes) {
            let range = frame.offset..frame.offset + frame.header.len;
            let start = clock.now();
            clock.advance(&frame.header);
            let end = clock.now();
            let extends = chunks.last().is_some_and(|c| {
                c.bytes.end == range.start
                    && c.end - c.start < CHUNK_DURATION
                    && range.end - c.bytes.start <= CHUNK_MAX_BYTES
            });
            match chunks.last_mut() {
                Some(chunk) if extends => {
                    chunk.bytes.end = range.end;
                    chunk.end = end;
                }
                _ => chunks.push(Chunk { bytes: range, start, end }),
            }
        }
        if chunks.is_empty() {
            return None;
        }
        let total_bytes = chunks.iter().map(|c| c.bytes.len() as u64).sum();
        Some(LoadedSong { bytes, chunks, total_bytes })
    }

    /// The frames of one chunk.
    pub fn data(&self, chunk: &Chunk) -> &[u8] {
        &self.bytes[chunk.bytes.clone()]
    }
}

/// Why a listed song could not be loaded for PLAY.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Opening or reading the file failed (it vanished, permissions changed).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// The file grew past [`MAX_SONG_BYTES`] since the scan.
    #[error("{path} is now larger than {MAX_SONG_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: String,
    },
    /// The file no longer holds MPEG audio.
    #[error("{path} no longer holds decodable MPEG audio")]
    NotMpegAudio {
        /// The file.
        path: String,
    },
}

/// Recently played songs stay in memory up to this many bytes even when nobody is playing
/// them, so a PLAY of a popular song costs neither a disk read nor a walk of its frames.
pub const RECENT_BYTES: usize = 128 * 1024 * 1024;

/// Songs in memory: every song some connection is streaming (weakly, freed with its last
/// listener), and the most recently played ones (strongly, within [`RECENT_BYTES`]).
#[derive(Debug, Default)]
pub struct SongCache {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    streaming: HashMap<SongId, Weak<LoadedSong>>,
    /// One lock per song being read from disk, so that many PLAYs of a song that is not in
    /// memory read it once and share it, while other songs load in parallel.
    loading: HashMap<SongId, Arc<Mutex<()>>>,
    /// Most recent first.
    recent: VecDeque<(SongId, Arc<LoadedSong>)>,
    recent_bytes: usize,
}

impl Entries {
    fn touch(&mut self, id: SongId, song: &Arc<LoadedSong>) {
        if let Some(index) = self.recent.iter().position(|(recent, _)| *recent == id)
            && let Some((_, old)) = self.recent.remove(index)
        {
            self.recent_bytes -= old.bytes.len();
        }
        self.recent.push_front((id, Arc::clone(song)));
        self.recent_bytes += song.bytes.len();
        while self.recent_bytes > RECENT_BYTES && self.recent.len() > 1 {
            if let Some((_, old)) = self.recent.pop_back() {
                self.recent_bytes -= old.bytes.len();
            }
        }
    }
}

impl SongCache {
    /// The loaded song, from memory when it is streaming or was played recently, else from
    /// disk.
    pub fn load(&self, song: &Song) -> Result<Arc<LoadedSong>, LoadError> {
        if let Some(loaded) = self.cached(song.id) {
            return Ok(loaded);
        }
        let gate = Arc::clone(self.lock().loading.entry(song.id).or_default());
        let _loading = gate.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Whoever held the gate before us may have loaded it.
        if let Some(loaded) = self.cached(song.id) {
            return Ok(loaded);
        }
        // Read outside the cache's lock: a slow disk must not hold up PLAYs of other songs.
        let result = read_song(song).map(Arc::new);
        let mut entries = self.lock();
        entries.loading.remove(&song.id);
        let loaded = result?;
        entries.streaming.retain(|_, weak| weak.strong_count() > 0);
        entries.streaming.insert(song.id, Arc::downgrade(&loaded));
        entries.touch(song.id, &loaded);
        Ok(loaded)
    }

    fn cached(&self, id: SongId) -> Option<Arc<LoadedSong>> {
        let mut entries = self.lock();
        let loaded = entries.streaming.get(&id).and_then(Weak::upgrade)?;
        entries.touch(id, &loaded);
        Some(loaded)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Every update leaves the entries consistent before it can panic, so a poisoned lock
        // is still usable.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn read_song(song: &Song) -> Result<LoadedSong, LoadError> {
    let path = song.path.display().to_string();
    let io_error = |source| LoadError::Io { path: path.clone(), source };
    let file = File::open(&song.path).map_err(io_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_SONG_BYTES + 1).read_to_end(&mut bytes).map_err(io_error)?;
    if bytes.len() as u64 > MAX_SONG_BYTES {
        return Err(LoadError::TooLarge { path });
    }
    LoadedSong::from_bytes(bytes).ok_or(LoadError::NotMpegAudio { path })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417-byte frames of 26.12 ms.
    fn frames(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..n {
            let start = out.len();
            out.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
            out.resize(start + 417, 0x55);
        }
        out
    }

    #[test]
    fn chunks_hold_whole_frames_of_about_200_ms() {
        let song = LoadedSong::from_bytes(frames(100)).unwrap();
        assert_eq!(song.total_bytes, 100 * 417);
        for chunk in &song.chunks {
            assert_eq!(chunk.bytes.len() % 417, 0);
            assert!(chunk.bytes.len() <= CHUNK_MAX_BYTES);
        }
        // 8 frames = 209 ms is the first length at or past 200 ms.
        assert_eq!(song.chunks[0].bytes.len(), 8 * 417);
        let covered: usize = song.chunks.iter().map(|c| c.bytes.len()).sum();
        assert_eq!(covered, 100 * 417);
        assert!(song.chunks.windows(2).all(|w| w[0].end == w[1].start && w[0].bytes.end == w[1].bytes.start));
    }

    #[test]
    fn junk_between_frames_splits_chunks() {
        let mut data = frames(3);
        data.extend_from_slice(b"junk");
        data.extend(frames(3));
        let song = LoadedSong::from_bytes(data).unwrap();
        assert_eq!(song.chunks.len(), 2);
        assert_eq!(song.total_bytes, 6 * 417);
        assert_eq!(song.chunks[1].bytes.start, 3 * 417 + 4);
    }

    #[test]
    fn recent_songs_are_kept_within_the_budget() {
        let mut entries = Entries::default();
        let big =
            Arc::new(LoadedSong { bytes: vec![0; RECENT_BYTES / 2], chunks: Vec::new(), total_bytes: 0 });
        entries.touch(SongId(1), &big);
        entries.touch(
            SongId(2),
            &Arc::new(LoadedSong { bytes: vec![0; RECENT_BYTES / 2], chunks: Vec::new(), total_bytes: 0 }),
        );
        entries.touch(SongId(1), &big);
        assert_eq!(entries.recent.iter().map(|(id, _)| id.0).collect::<Vec<_>>(), [1, 2]);
        entries.touch(
            SongId(3),
            &Arc::new(LoadedSong { bytes: vec![0; 10], chunks: Vec::new(), total_bytes: 0 }),
        );
        assert_eq!(entries.recent.iter().map(|(id, _)| id.0).collect::<Vec<_>>(), [3, 1]);
        assert_eq!(entries.recent_bytes, RECENT_BYTES / 2 + 10);
    }

    #[test]
    fn data_without_frames_is_not_a_song() {
        assert!(LoadedSong::from_bytes(b"hello world, not audio at all".to_vec()).is_none());
    }
}
