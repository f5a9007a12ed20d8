//! A song loaded for streaming: its bytes, cut into chunks of whole frames, shared by every
//! connection that plays it; and the cache that loads songs, off the connections' threads,
//! within a memory budget and a time bound.
//!
//! Loading happens on PLAY, not at scan time, so a file that vanished or changed since the scan
//! costs that one request an ERROR (RFC §6.2.5) and nothing else. While any connection streams
//! a song, later PLAYs of it share the same memory, and recently played songs stay loaded
//! while the budget allows.
//!
//! Bounds, whatever clients send:
//! - memory: every song in memory, streamed or kept, counts against [`SONG_MEMORY`] in total;
//!   a PLAY that would exceed it (after dropping songs kept only for later) is refused;
//! - time: files are read by [`LOADERS`] loader threads, never by a connection's thread, and a
//!   PLAY waits at most [`LOAD_TIMEOUT`] for its song; a disk that hangs costs the PLAYs of
//!   songs on it an ERROR, never a connection's other requests or another connection.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use jukebox_protocol::SongId;
use jukebox_protocol::mp3;
use tracing::warn;

use crate::library::Song;
use crate::library::open::{OpenError, open_listed};
use crate::library::scan::{Root, show, words};

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
    /// The budget this song's memory is counted against, given back when it is dropped.
    budget: Option<Arc<AtomicUsize>>,
}

impl Drop for LoadedSong {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.fetch_sub(self.memory(), Ordering::SeqCst);
        }
    }
}

impl LoadedSong {
    /// Cuts a file's frames, from `audio_start` on, into chunks. `None` if the data holds no
    /// MPEG audio.
    pub fn from_bytes(bytes: Vec<u8>, audio_start: usize) -> Option<LoadedSong> {
        let mut chunks: Vec<Chunk> = Vec::new();
        let mut clock = mp3::StreamClock::default();
        for frame in mp3::frames_from(&bytes, audio_start) {
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
        Some(LoadedSong { bytes, chunks, total_bytes, budget: None })
    }

    /// Memory this song holds.
    pub fn memory(&self) -> usize {
        self.bytes.capacity() + self.chunks.capacity() * std::mem::size_of::<Chunk>()
    }

    /// The frames of one chunk.
    pub fn data(&self, chunk: &Chunk) -> &[u8] {
        &self.bytes[chunk.bytes.clone()]
    }
}

/// Files larger than this are not loaded: a song is held in memory while it streams.
pub const MAX_SONG_BYTES: u64 = 256 * 1024 * 1024;

/// All songs in memory together, streamed or kept for later, hold at most this much.
pub const SONG_MEMORY: usize = 512 * 1024 * 1024;

/// Threads that read song files, so that no connection thread ever waits on a disk.
pub const LOADERS: usize = 4;

/// Loads waiting for a loader thread; more are refused at once.
const LOAD_QUEUE: usize = 64;

/// The longest a PLAY waits for its song to be read: a slow or hung disk (a network mount)
/// costs that PLAY an ERROR after this, nothing more.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a listed song could not be loaded for PLAY.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Opening it failed, or it is no longer a regular file inside the music folder.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Reading it failed.
    #[error("cannot read {}: {}", show(.path), words(.source))]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_SONG_BYTES`].
    #[error("{} is larger than {MAX_SONG_BYTES} bytes", show(.path))]
    TooLarge {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The file no longer holds MPEG audio.
    #[error("{} no longer holds MPEG audio", show(.path))]
    NotMpegAudio {
        /// The file.
        path: std::path::PathBuf,
    },
    /// Loading it would take the songs in memory past [`SONG_MEMORY`].
    #[error("too many different songs are playing to load another now")]
    OverBudget,
    /// Every loader is busy with slow reads.
    #[error("the server is busy reading other songs")]
    Busy,
    /// The read did not finish within [`LOAD_TIMEOUT`].
    #[error("reading the song took longer than {} s", LOAD_TIMEOUT.as_secs())]
    TooSlow,
}

impl LoadError {
    /// What a client is told: the reason in words, without paths (a client never learns where
    /// the server keeps its files).
    pub fn for_client(&self) -> &'static str {
        match self {
            LoadError::Open(_) | LoadError::Read { .. } => "its file cannot be read now",
            LoadError::TooLarge { .. } => "its file is too large to stream",
            LoadError::NotMpegAudio { .. } => "its file no longer holds MPEG audio",
            LoadError::OverBudget => "too many different songs are playing; try again later",
            LoadError::Busy => "the server is busy reading other songs; try again later",
            LoadError::TooSlow => "its file could not be read in time",
        }
    }
}

/// Reads a whole file of `size` bytes (it may have grown since) and cuts it into chunks.
fn read_whole(file: &mut std::fs::File, size: usize, song: &Song) -> Result<LoadedSong, LoadError> {
    let read_error = |source| LoadError::Read { path: song.path.clone(), source };
    let mut bytes = Vec::with_capacity(size);
    file.seek(SeekFrom::Start(0)).map_err(read_error)?;
    file.take(size as u64).read_to_end(&mut bytes).map_err(read_error)?;
    let audio_start = usize::try_from(song.audio_start).unwrap_or(usize::MAX).min(bytes.len());
    LoadedSong::from_bytes(bytes, audio_start).ok_or(LoadError::NotMpegAudio { path: song.path.clone() })
}

/// The result of one load, shared by every PLAY waiting for it.
#[derive(Debug, Default)]
struct Pending {
    result: Mutex<Option<Result<Arc<LoadedSong>, Arc<LoadError>>>>,
    done: Condvar,
}

/// A song to read, handed to a loader thread.
struct Job {
    song: Song,
    pending: Arc<Pending>,
}

/// Songs in memory: every song some connection is streaming (weakly, freed with its last
/// listener), and the most recently played ones (strongly, while the budget allows).
#[derive(Debug)]
pub struct SongCache {
    root: Root,
    entries: Mutex<Entries>,
    /// Bytes held by every loaded song alive, wherever it is held.
    in_memory: Arc<AtomicUsize>,
    budget: usize,
    jobs: Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("song", &self.song.id).finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Entries {
    streaming: HashMap<SongId, Weak<LoadedSong>>,
    /// Loads in flight, so that many PLAYs of a song that is not in memory read it once.
    loading: HashMap<SongId, Arc<Pending>>,
    /// Most recent first.
    recent: VecDeque<(SongId, Arc<LoadedSong>)>,
}

impl Entries {
    fn touch(&mut self, id: SongId, song: &Arc<LoadedSong>) {
        self.recent.retain(|(recent, _)| *recent != id);
        self.recent.push_front((id, Arc::clone(song)));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update leaves the state consistent before it can panic, so a poisoned lock is
    // still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SongCache {
    /// A cache of the songs under `root`, with its loader threads.
    pub fn new(root: Root) -> Arc<SongCache> {
        SongCache::with_budget(root, SONG_MEMORY)
    }

    /// A cache with another memory budget (tests).
    pub fn with_budget(root: Root, budget: usize) -> Arc<SongCache> {
        let (jobs, queue) = crossbeam_channel::bounded(LOAD_QUEUE);
        let cache = Arc::new(SongCache {
            root,
            entries: Mutex::new(Entries::default()),
            in_memory: Arc::new(AtomicUsize::new(0)),
            budget,
            jobs,
        });
        for n in 0..LOADERS {
            let cache = Arc::downgrade(&cache);
            let queue: Receiver<Job> = queue.clone();
            let spawned = thread::Builder::new().name(format!("loader {n}")).spawn(move || {
                for job in queue {
                    let Some(cache) = cache.upgrade() else { return };
                    cache.run(job);
                }
            });
            if let Err(e) = spawned {
                warn!("cannot start a loader thread: {e}");
            }
        }
        cache
    }

    /// Bytes of song data in memory now.
    pub fn memory(&self) -> usize {
        self.in_memory.load(Ordering::SeqCst)
    }

    /// The loaded song: from memory when it is streaming or was played recently, else read by
    /// a loader thread, waiting at most [`LOAD_TIMEOUT`].
    pub fn load(&self, song: &Song) -> Result<Arc<LoadedSong>, Arc<LoadError>> {
        let pending = {
            let mut entries = lock(&self.entries);
            if let Some(loaded) = entries.streaming.get(&song.id).and_then(Weak::upgrade) {
                entries.touch(song.id, &loaded);
                return Ok(loaded);
            }
            match entries.loading.get(&song.id) {
                Some(pending) => Arc::clone(pending),
                None => {
                    let pending = Arc::new(Pending::default());
                    let job = Job { song: song.clone(), pending: Arc::clone(&pending) };
                    match self.jobs.try_send(job) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                            return Err(Arc::new(LoadError::Busy));
                        }
                    }
                    entries.loading.insert(song.id, Arc::clone(&pending));
                    pending
                }
            }
        };
        let deadline = Instant::now() + LOAD_TIMEOUT;
        let mut result = lock(&pending.result);
        loop {
            if let Some(result) = result.as_ref() {
                return result.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Arc::new(LoadError::TooSlow));
            }
            result = pending.done.wait_timeout(result, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// On a loader thread: reads the song and wakes whoever waits for it.
    fn run(&self, job: Job) {
        let result = self.read(&job.song).map_err(Arc::new);
        let mut entries = lock(&self.entries);
        entries.loading.remove(&job.song.id);
        if let Ok(loaded) = &result {
            entries.streaming.retain(|_, weak| weak.strong_count() > 0);
            entries.streaming.insert(job.song.id, Arc::downgrade(loaded));
            entries.touch(job.song.id, loaded);
        }
        drop(entries);
        *lock(&job.pending.result) = Some(result);
        job.pending.done.notify_all();
    }

    /// Reserves `bytes` of the budget, dropping songs kept only for later, oldest first, until
    /// they fit. False when they do not fit even then.
    fn reserve(&self, bytes: usize) -> bool {
        let mut entries = lock(&self.entries);
        loop {
            if self.memory() + bytes <= self.budget {
                self.in_memory.fetch_add(bytes, Ordering::SeqCst);
                return true;
            }
            // The oldest song that nothing but the cache holds; dropping it gives its memory
            // back at once.
            let Some(index) = entries.recent.iter().rposition(|(_, song)| Arc::strong_count(song) == 1)
            else {
                return false;
            };
            entries.recent.remove(index);
        }
    }

    fn read(&self, song: &Song) -> Result<Arc<LoadedSong>, LoadError> {
        let (mut file, size) = open_listed(&self.root, &song.path, &song.real)?;
        if size > MAX_SONG_BYTES {
            return Err(LoadError::TooLarge { path: song.path.clone() });
        }
        let size = usize::try_from(size).map_err(|_| LoadError::TooLarge { path: song.path.clone() })?;
        if !self.reserve(size) {
            return Err(LoadError::OverBudget);
        }
        let loaded = read_whole(&mut file, size, song);
        // The reservation becomes the song's own count, or is given back.
        self.in_memory.fetch_sub(size, Ordering::SeqCst);
        let mut loaded = loaded?;
        self.in_memory.fetch_add(loaded.memory(), Ordering::SeqCst);
        loaded.budget = Some(Arc::clone(&self.in_memory));
        Ok(Arc::new(loaded))
    }
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
        let song = LoadedSong::from_bytes(frames(100), 0).unwrap();
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
        let song = LoadedSong::from_bytes(data, 0).unwrap();
        assert_eq!(song.chunks.len(), 2);
        assert_eq!(song.total_bytes, 6 * 417);
        assert_eq!(song.chunks[1].bytes.start, 3 * 417 + 4);
    }

    fn song_file(root: &Root, name: &str, n: usize) -> Song {
        let path = root.given.join(name);
        std::fs::write(&path, frames(n)).unwrap();
        Song {
            id: SongId(n as u32),
            rel: name.into(),
            real: root.real.join(name),
            path,
            stamp: crate::library::index::Stamp { size: 0, mtime_ns: 0 },
            audio_start: 0,
            duration: Duration::ZERO,
            tags: crate::library::tags::Tags::default(),
        }
    }

    #[test]
    fn songs_in_memory_stay_within_the_budget_in_total() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        // Room for about two songs of 100 frames (41.7 kB each) and their chunk tables.
        let cache = SongCache::with_budget(root.clone(), 100_000);
        let (a, b, c) =
            (song_file(&root, "a.mp3", 100), song_file(&root, "b.mp3", 101), song_file(&root, "c.mp3", 102));
        let playing_a = cache.load(&a).unwrap();
        let playing_b = cache.load(&b).unwrap();
        assert!(Arc::ptr_eq(&playing_a, &cache.load(&a).unwrap()), "a second PLAY shares the song");
        // Both are streamed: a third song does not fit, and nothing was over-allocated.
        assert!(
            matches!(cache.load(&c).map_err(|e| e.for_client()), Err(m) if m == LoadError::OverBudget.for_client())
        );
        assert!(cache.memory() <= 100_000, "{}", cache.memory());
        // When a listener lets go, its song is only kept for later, and makes room.
        drop(playing_a);
        let playing_c = cache.load(&c).unwrap();
        assert!(cache.memory() <= 100_000, "{}", cache.memory());
        drop((playing_b, playing_c));
    }

    #[test]
    fn data_without_frames_is_not_a_song() {
        assert!(LoadedSong::from_bytes(b"hello world, not audio at all".to_vec(), 0).is_none());
    }
}
