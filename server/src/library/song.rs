//! A song ready to stream: its audio cut into chunks of whole frames, shared by every
//! connection that plays it; and the cache that loads songs, off the connections' threads,
//! within a memory budget and a time bound.
//!
//! Loading happens on PLAY, not at scan time, so a file that vanished or changed since the scan
//! costs that one request an ERROR (RFC §6.2.5) and nothing else. While any connection streams
//! a song, later PLAYs of it share it, and recently played songs stay loaded while the budget
//! allows.
//!
//! Where a song's bytes are ([`Audio`]):
//! - a file of at most [`IN_MEMORY_MAX`] bytes is read whole into memory when the budget has
//!   room for it, and its chunks are slices of it: no disk I/O while it streams;
//! - a larger file, or any file when the budget cannot hold its bytes, stays on disk: the
//!   loader walks its frames once, reading it in windows of [`WALK_WINDOW`], and keeps only
//!   the open file and the chunk table, which gives PLAYING its total and every chunk its
//!   exact position. A connection's writer reads each batch's bytes when it sends them
//!   ([`OnDisk::read_chunks`]).
//!
//! Bounds, whatever clients send:
//! - memory: the bytes of every song in memory and the chunk table of every song, in memory or
//!   on disk, streamed or kept for later, count against [`SONG_MEMORY`] in total; a table
//!   takes 24 bytes per chunk of about 200 ms (7.7 MB for a 1 GiB file at 128 kbit/s, in
//!   which 321,000 chunks of 209 ms take 18.6 hours to play). A PLAY that would exceed the
//!   budget (after dropping songs kept only for later) is refused; a table is counted as it
//!   grows, so a file whose table would not fit is refused before the table is built. Each
//!   loader thread also holds one [`WALK_WINDOW`] while it walks a file.
//! - open files: at most [`MAX_SONG_FILES`] songs on disk at once.
//! - time: files are read by [`LOADERS`] loader threads, never by a connection's thread, and a
//!   PLAY waits at most [`LOAD_TIMEOUT`] for its song; a disk that hangs costs the PLAYs of
//!   songs on it an ERROR, never a connection's other requests or another connection. (Once a
//!   song on disk streams, its bytes are read by the writers of its listeners: see
//!   `native::writer`.)

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use jukebox_protocol::SongId;
use jukebox_protocol::mp3::{self, AudioHeader, FrameAt, StreamClock};
use tracing::warn;

use crate::library::Song;
use crate::library::open::{OpenError, open_listed};
use crate::library::scan::{Root, show, words};

/// A chunk ends once it holds this much audio (RFC §7.2: a few hundred milliseconds), so that
/// pacing is smooth and a reply never waits long behind the chunk being written.
pub const CHUNK_DURATION: Duration = Duration::from_millis(200);

/// A chunk never holds more frame bytes than this, whatever the bitrate.
pub const CHUNK_MAX_BYTES: usize = 16 * 1024;

/// Files up to this size are held in memory while they stream (when the budget has room), so
/// that the many listeners of a typical song share its bytes and no disk is read while they
/// listen. Larger files stream from disk: 32 MiB is over half an hour at 128 kbit/s, longer
/// than nearly every song, and 16 of them fit the default [`SONG_MEMORY`].
pub const IN_MEMORY_MAX: usize = 32 * 1024 * 1024;

/// Files larger than this are refused: a sanity bound on the walk at PLAY time (see
/// [`LOAD_TIMEOUT`]) and on the chunk table (24 bytes for every 200 ms of audio: 7.7 MB per GiB
/// at 128 kbit/s).
pub const MAX_SONG_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// All songs together, streamed or kept for later, hold at most this much memory: the bytes
/// of songs in memory and the chunk tables of all songs.
pub const SONG_MEMORY: usize = 512 * 1024 * 1024;

/// Songs on disk keep their file open while they stream or are kept for later; at most this
/// many at once, so that they stay within the spare file descriptors the server keeps beside
/// one per client (`capacity::FD_MARGIN`).
pub const MAX_SONG_FILES: usize = 32;

/// A loader reads a file it walks in reads of this size, and holds one such buffer while it
/// walks.
pub const WALK_WINDOW: usize = 256 * 1024;

/// One AUDIO payload's worth of a song: whole frames, contiguous in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Where the frames lie in the file.
    pub bytes: Range<u64>,
    /// When the first frame starts to sound.
    pub start: Duration,
    /// When the last frame stops sounding: pacing compares this with the clock (RFC §7.3).
    pub end: Duration,
}

/// A chunk as the table keeps it, in 24 bytes. It starts to sound when the chunk before it
/// ends (the clock counts frames only, so junk between chunks takes no time), so only its end
/// is kept, in nanoseconds of the exact sample clock ([`StreamClock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    offset: u64,
    end_ns: u64,
    len: u32,
}

impl Entry {
    fn end(&self) -> Duration {
        Duration::from_nanos(self.end_ns)
    }

    fn bytes_end(&self) -> u64 {
        self.offset + u64::from(self.len)
    }
}

/// Where a song's bytes are while it streams.
#[derive(Debug)]
pub enum Audio {
    /// The whole file, read when the song was loaded; chunk `bytes` index it.
    Memory(Vec<u8>),
    /// The file, open; its bytes are read when they are sent.
    Disk(OnDisk),
}

/// A song's file, kept open while the song is loaded.
#[derive(Debug)]
pub struct OnDisk {
    file: File,
    /// For logs.
    path: PathBuf,
}

/// Why the bytes of a song on disk could not be sent: the file changed under the server.
#[derive(Debug, thiserror::Error)]
pub enum ChunkReadError {
    /// Reading failed.
    #[error("cannot read {}: {}", show(.path), words(.source))]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is now shorter than the chunks found when it was loaded.
    #[error("{} was cut short while it streamed", show(.path))]
    Truncated {
        /// The file.
        path: PathBuf,
    },
    /// The bytes where a chunk was found are no longer whole MPEG audio frames.
    #[error("{} changed while it streamed: no whole frames at byte {offset} any more", show(.path))]
    Changed {
        /// The file.
        path: PathBuf,
        /// Where the chunk starts.
        offset: u64,
    },
}

impl OnDisk {
    /// Reads the bytes of `chunks` (chunks of this song, in order) into `buf`, one after
    /// another, with one read per run of contiguous chunks (junk between chunks is not read),
    /// and checks that each still holds whole frames: a file truncated or rewritten since it
    /// was loaded is never sent as if it were the audio announced.
    pub fn read_chunks(&self, chunks: &[Range<u64>], buf: &mut Vec<u8>) -> Result<(), ChunkReadError> {
        let total: u64 = chunks.iter().map(|c| c.end - c.start).sum();
        buf.clear();
        buf.resize(usize::try_from(total).unwrap_or(usize::MAX), 0);
        let mut filled = 0;
        let mut rest = chunks;
        while let Some(first) = rest.first() {
            let run = 1 + rest.windows(2).take_while(|w| w[0].end == w[1].start).count();
            let bytes = first.start..rest[run - 1].end;
            let len = (bytes.end - bytes.start) as usize;
            self.file.read_exact_at(&mut buf[filled..filled + len], bytes.start).map_err(|source| {
                match source.kind() {
                    io::ErrorKind::UnexpectedEof => ChunkReadError::Truncated { path: self.path.clone() },
                    _ => ChunkReadError::Io { path: self.path.clone(), source },
                }
            })?;
            filled += len;
            rest = &rest[run..];
        }
        let mut at = 0;
        for chunk in chunks {
            let len = (chunk.end - chunk.start) as usize;
            if !holds_whole_frames(&buf[at..at + len]) {
                return Err(ChunkReadError::Changed { path: self.path.clone(), offset: chunk.start });
            }
            at += len;
        }
        Ok(())
    }
}

/// Whether `data` is MPEG audio frames laid end to end, from its first byte to its last. This
/// finds no frames (the walk did that, once, at load time): it only checks that the bytes read
/// now are still what the walk found, for rule 1 of RFC §7.2 holds inside a chunk.
fn holds_whole_frames(mut data: &[u8]) -> bool {
    while !data.is_empty() {
        let Some(rest) = AudioHeader::parse(data).and_then(|header| data.get(header.len..)) else {
            return false;
        };
        data = rest;
    }
    true
}

/// The frame boundary where a stream begins: the start of the song for PLAY, the frame found
/// by [`LoadedSong::seek`] for SEEK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeekPoint {
    /// The chunk that holds the stream's first frame.
    pub chunk: usize,
    /// Where in the file that frame starts, inside the chunk's bytes.
    pub byte: u64,
    /// When in the song it starts to sound: PLAYING's Start ms, AUDIO's first Position ms.
    pub start: Duration,
}

impl SeekPoint {
    /// The start of `song`: where a PLAY's stream begins.
    pub fn start_of(song: &LoadedSong) -> SeekPoint {
        let byte = song.chunks.first().map_or(0, |first| first.offset);
        SeekPoint { chunk: 0, byte, start: Duration::ZERO }
    }
}

/// Why a stream cannot begin where SEEK asked.
#[derive(Debug, thiserror::Error)]
pub enum SeekError {
    /// The position is at or after the end of the song's last frame (RFC §6.1.12:
    /// BAD_POSITION).
    #[error("the song ends at {} ms", .end.as_millis())]
    BeyondEnd {
        /// When the last frame ends.
        end: Duration,
    },
    /// The chunk to seek in could not be read from the song's file.
    #[error(transparent)]
    Read(ChunkReadError),
}

/// A song ready to stream: its chunk table and where its bytes are.
#[derive(Debug)]
pub struct LoadedSong {
    audio: Audio,
    chunks: Box<[Entry]>,
    total_bytes: u64,
    /// What this song holds of the cache's limits, given back when it is dropped.
    charge: Option<Charge>,
}

impl LoadedSong {
    /// Cuts a file's frames, from `audio_start` on, into chunks, and keeps the file in memory.
    /// `None` if the data holds no MPEG audio.
    pub fn from_bytes(bytes: Vec<u8>, audio_start: usize) -> Option<LoadedSong> {
        let frames = mp3::frames_from(&bytes, audio_start)
            .map(|f| Ok(FrameAt { offset: f.offset as u64, header: f.header }));
        let chunks = chunk_table(frames, |_| true).ok()?;
        LoadedSong::new(Audio::Memory(bytes), chunks)
    }

    fn new(audio: Audio, chunks: Box<[Entry]>) -> Option<LoadedSong> {
        if chunks.is_empty() {
            return None;
        }
        let total_bytes = chunks.iter().map(|c| u64::from(c.len)).sum();
        Some(LoadedSong { audio, chunks, total_bytes, charge: None })
    }

    /// Sum of the chunks' lengths: what PLAYING and END_OF_STREAM announce.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// How many chunks the song has.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Chunk `index`, in order of the song.
    pub fn chunk(&self, index: usize) -> Option<Chunk> {
        let entry = self.chunks.get(index)?;
        let start = index.checked_sub(1).map_or(Duration::ZERO, |before| self.chunks[before].end());
        Some(Chunk { bytes: entry.offset..entry.bytes_end(), start, end: entry.end() })
    }

    /// When the song's last frame stops sounding: the first position SEEK refuses.
    pub fn end(&self) -> Duration {
        self.chunks.last().map_or(Duration::ZERO, Entry::end)
    }

    /// Where a stream that starts at `position` begins: the frame that sounds at `position`,
    /// that is the last frame starting at or before it (RFC §6.1.12). The table keeps chunks,
    /// not frames, so the chunk that holds `position` is found in it and its frames are walked:
    /// for a song on disk that reads one chunk, at most [`CHUNK_MAX_BYTES`], from the file, on
    /// the caller's thread.
    pub fn seek(&self, position: Duration) -> Result<SeekPoint, SeekError> {
        let index = self.chunks.partition_point(|entry| entry.end() <= position);
        let chunk = self.chunk(index).ok_or(SeekError::BeyondEnd { end: self.end() })?;
        let mut buf = Vec::new();
        let data: &[u8] = match &self.audio {
            Audio::Memory(bytes) => {
                bytes.get(chunk.bytes.start as usize..chunk.bytes.end as usize).unwrap_or_default()
            }
            Audio::Disk(file) => {
                file.read_chunks(std::slice::from_ref(&chunk.bytes), &mut buf).map_err(SeekError::Read)?;
                &buf
            }
        };
        // The chunk's frames lie end to end (the walk and `read_chunks` made sure of it). The
        // clock restarts at the chunk's start, so no rounding builds up: the frame's start is
        // at most 1 ns early (two values rounded down to the nanosecond, added).
        let mut clock = StreamClock::default();
        let mut at = 0;
        while let Some(header) = data.get(at..).and_then(AudioHeader::parse) {
            let start = chunk.start + clock.now();
            clock.advance(&header);
            if chunk.start + clock.now() > position || at + header.len >= data.len() {
                return Ok(SeekPoint { chunk: index, byte: chunk.bytes.start + at as u64, start });
            }
            at += header.len;
        }
        // Not frames any more: the file changed under the server since it was loaded.
        Ok(SeekPoint { chunk: index, byte: chunk.bytes.start, start: chunk.start })
    }

    /// The audio bytes of a stream that begins at `from`: PLAYING's Total Bytes for it.
    pub fn bytes_from(&self, from: &SeekPoint) -> u64 {
        let Some(first) = self.chunks.get(from.chunk) else { return 0 };
        let rest: u64 = self.chunks[from.chunk + 1..].iter().map(|c| u64::from(c.len)).sum();
        rest + first.bytes_end().saturating_sub(from.byte)
    }

    /// Where the song's bytes are.
    pub fn audio(&self) -> &Audio {
        &self.audio
    }

    /// Memory this song holds: its bytes if they are in memory, and its chunk table.
    pub fn memory(&self) -> usize {
        let bytes = match &self.audio {
            Audio::Memory(bytes) => bytes.capacity(),
            Audio::Disk(_) => 0,
        };
        bytes + std::mem::size_of_val::<[Entry]>(&self.chunks)
    }
}

/// The chunk table's first allocation, in entries; it then doubles, each growth counted in the
/// budget before it is made.
const TABLE_STEP: usize = 16;

/// Cuts `frames` into chunks by the reference server's rule (RFC §7.2): frames are added to a
/// chunk while it holds less than [`CHUNK_DURATION`] and the frame still fits within
/// [`CHUNK_MAX_BYTES`]; junk between two frames ends a chunk. Before the table grows,
/// `room(bytes)` is asked for the memory; when it says no, the table is not built.
fn chunk_table(
    frames: impl Iterator<Item = io::Result<FrameAt>>,
    mut room: impl FnMut(usize) -> bool,
) -> Result<Box<[Entry]>, TableError> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut clock = StreamClock::default();
    // When the last chunk starts to sound.
    let mut last_start = Duration::ZERO;
    for frame in frames {
        let frame = frame.map_err(TableError::Read)?;
        let start = clock.now();
        clock.advance(&frame.header);
        let end_ns = u64::try_from(clock.now().as_nanos()).unwrap_or(u64::MAX);
        let len = frame.header.len as u64;
        match entries.last_mut() {
            Some(chunk)
                if chunk.bytes_end() == frame.offset
                    && chunk.end() - last_start < CHUNK_DURATION
                    && frame.offset + len - chunk.offset <= CHUNK_MAX_BYTES as u64 =>
            {
                chunk.len += len as u32;
                chunk.end_ns = end_ns;
            }
            _ => {
                if entries.len() == entries.capacity() {
                    let more = entries.capacity().max(TABLE_STEP);
                    if !room(more * std::mem::size_of::<Entry>()) {
                        return Err(TableError::OverBudget);
                    }
                    entries.reserve_exact(more);
                }
                entries.push(Entry { offset: frame.offset, end_ns, len: len as u32 });
                last_start = start;
            }
        }
    }
    Ok(entries.into_boxed_slice())
}

/// Why a chunk table was not built.
#[derive(Debug)]
enum TableError {
    Read(io::Error),
    OverBudget,
}

/// Threads that read song files, so that no connection thread ever waits on a disk to load one.
pub const LOADERS: usize = 4;

/// Loads waiting for a loader thread; more are refused at once.
const LOAD_QUEUE: usize = 64;

/// The longest a PLAY waits for its song to be read: a slow or hung disk (a network mount)
/// costs that PLAY an ERROR after this, nothing more. A song on disk is walked whole before
/// its PLAY is answered: 1 GiB took 0.1 to 0.3 s from the page cache and 1.5 s from a virtual
/// disk (release build, 2 cores). A walk that takes longer goes on after its PLAY is refused,
/// so the next PLAY of the song finds it loaded.
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
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is larger than [`MAX_SONG_BYTES`].
    #[error("{} is larger than {} GiB, the most the server streams", show(.path), MAX_SONG_BYTES >> 30)]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file no longer holds MPEG audio.
    #[error("{} no longer holds MPEG audio", show(.path))]
    NotMpegAudio {
        /// The file.
        path: PathBuf,
    },
    /// Loading it would take the songs in memory past [`SONG_MEMORY`], or the songs on disk
    /// past [`MAX_SONG_FILES`].
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

/// Reads a whole file of `size` bytes (it may have grown since; the rest is left out).
fn read_whole(file: &mut File, size: usize) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(size);
    file.seek(SeekFrom::Start(0))?;
    file.take(size as u64).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// What every loaded song together holds of the cache's limits.
#[derive(Debug, Default)]
struct Held {
    /// Bytes of memory: songs' bytes and chunk tables.
    bytes: AtomicUsize,
    /// Open song files.
    files: AtomicUsize,
}

/// What one song (or one load in progress) holds of the cache's limits; given back when it is
/// dropped, so that no path through a load can leak a reservation.
#[derive(Debug)]
struct Charge {
    held: Arc<Held>,
    bytes: usize,
    file: bool,
}

impl Charge {
    /// Gives back what is held beyond `bytes`.
    fn settle(&mut self, bytes: usize) {
        let surplus = self.bytes.saturating_sub(bytes);
        self.held.bytes.fetch_sub(surplus, Ordering::SeqCst);
        self.bytes -= surplus;
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.held.bytes.fetch_sub(self.bytes, Ordering::SeqCst);
        if self.file {
            self.held.files.fetch_sub(1, Ordering::SeqCst);
        }
    }
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

/// What a loaded song is cached under: its id and its file's size and time, so that a song
/// whose file a rescan found changed is loaded again, not served from memory as it was.
type Key = (SongId, crate::library::index::Stamp);

/// Loaded songs: every song some connection is streaming (weakly, freed with its last
/// listener), and the most recently played ones (strongly, while the limits allow).
#[derive(Debug)]
pub struct SongCache {
    root: Root,
    entries: Mutex<Entries>,
    /// What every loaded song alive holds, wherever it is held.
    held: Arc<Held>,
    budget: usize,
    in_memory_max: usize,
    jobs: Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("song", &self.song.id).finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Entries {
    streaming: HashMap<Key, Weak<LoadedSong>>,
    /// Loads in flight, so that many PLAYs of a song that is not loaded read it once.
    loading: HashMap<Key, Arc<Pending>>,
    /// Most recent first.
    recent: VecDeque<(SongId, Arc<LoadedSong>)>,
}

impl Entries {
    fn touch(&mut self, key: Key, song: &Arc<LoadedSong>) {
        // One version of a song is kept for later: the newest played.
        self.recent.retain(|(recent, _)| *recent != key.0);
        self.recent.push_front((key.0, Arc::clone(song)));
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

    /// A cache with another memory budget.
    pub fn with_budget(root: Root, budget: usize) -> Arc<SongCache> {
        SongCache::with_limits(root, budget, IN_MEMORY_MAX)
    }

    /// A cache with another memory budget, that holds in memory the files of at most
    /// `in_memory_max` bytes instead of [`IN_MEMORY_MAX`] (tests).
    pub fn with_limits(root: Root, budget: usize, in_memory_max: usize) -> Arc<SongCache> {
        let (jobs, queue) = crossbeam_channel::bounded(LOAD_QUEUE);
        let cache = Arc::new(SongCache {
            root,
            entries: Mutex::new(Entries::default()),
            held: Arc::new(Held::default()),
            budget,
            in_memory_max,
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

    /// Bytes of memory that loaded songs hold now: songs' bytes and chunk tables.
    pub fn memory(&self) -> usize {
        self.held.bytes.load(Ordering::SeqCst)
    }

    /// Song files open now.
    pub fn open_files(&self) -> usize {
        self.held.files.load(Ordering::SeqCst)
    }

    /// The loaded song: shared when it is streaming or was played recently, else loaded by a
    /// loader thread, waiting at most [`LOAD_TIMEOUT`].
    pub fn load(&self, song: &Song) -> Result<Arc<LoadedSong>, Arc<LoadError>> {
        let pending = {
            let mut entries = lock(&self.entries);
            let key = (song.id, song.stamp);
            if let Some(loaded) = entries.streaming.get(&key).and_then(Weak::upgrade) {
                entries.touch(key, &loaded);
                return Ok(loaded);
            }
            match entries.loading.get(&key) {
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
                    entries.loading.insert(key, Arc::clone(&pending));
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

    /// On a loader thread: loads the song and wakes whoever waits for it.
    fn run(&self, job: Job) {
        let result = self.read(&job.song).map_err(Arc::new);
        let mut entries = lock(&self.entries);
        let key = (job.song.id, job.song.stamp);
        entries.loading.remove(&key);
        if let Ok(loaded) = &result {
            entries.streaming.retain(|_, weak| weak.strong_count() > 0);
            entries.streaming.insert(key, Arc::downgrade(loaded));
            entries.touch(key, loaded);
        }
        drop(entries);
        *lock(&job.pending.result) = Some(result);
        job.pending.done.notify_all();
    }

    /// A charge of nothing yet, to grow with [`SongCache::reserve`].
    fn charge(&self) -> Charge {
        Charge { held: Arc::clone(&self.held), bytes: 0, file: false }
    }

    /// Adds `bytes` (and an open file, if `file`) to `charge`, dropping songs kept only for
    /// later, oldest first, until they fit. False when they do not fit even then.
    fn reserve(&self, charge: &mut Charge, bytes: usize, file: bool) -> bool {
        let mut entries = lock(&self.entries);
        loop {
            let fits_memory = self.memory() + bytes <= self.budget;
            let fits_files = !file || self.open_files() < MAX_SONG_FILES;
            if fits_memory && fits_files {
                self.held.bytes.fetch_add(bytes, Ordering::SeqCst);
                charge.bytes += bytes;
                if file {
                    self.held.files.fetch_add(1, Ordering::SeqCst);
                    charge.file = true;
                }
                return true;
            }
            // The oldest song that nothing but the cache holds (and that holds what is
            // missing); dropping it gives back what it holds at once.
            let Some(index) = entries.recent.iter().rposition(|(_, song)| {
                Arc::strong_count(song) == 1 && (fits_files || matches!(song.audio, Audio::Disk(_)))
            }) else {
                return false;
            };
            entries.recent.remove(index);
        }
    }

    /// Loads a song: in memory when it is small enough and the budget has room for its bytes,
    /// else on disk; either way its chunk table is counted as it grows.
    fn read(&self, song: &Song) -> Result<Arc<LoadedSong>, LoadError> {
        let (mut file, size) = open_listed(&self.root, &song.path, &song.real)?;
        if size > MAX_SONG_BYTES {
            return Err(LoadError::TooLarge { path: song.path.clone() });
        }
        let read_error = |source| LoadError::Read { path: song.path.clone(), source };
        let audio_start = song.audio_start.min(size);
        let mut charge = self.charge();
        let in_memory = usize::try_from(size)
            .is_ok_and(|bytes| bytes <= self.in_memory_max && self.reserve(&mut charge, bytes, false));
        let (audio, table) = if in_memory {
            let bytes = read_whole(&mut file, size as usize).map_err(read_error)?;
            let frames = mp3::frames_from(&bytes, audio_start as usize)
                .map(|f| Ok(FrameAt { offset: f.offset as u64, header: f.header }));
            let table = chunk_table(frames, |more| self.reserve(&mut charge, more, false));
            (Audio::Memory(bytes), table)
        } else {
            if !self.reserve(&mut charge, 0, true) {
                return Err(LoadError::OverBudget);
            }
            file.seek(SeekFrom::Start(audio_start)).map_err(read_error)?;
            let frames = mp3::frames_read(&file, audio_start, WALK_WINDOW);
            let table = chunk_table(frames, |more| self.reserve(&mut charge, more, false));
            (Audio::Disk(OnDisk { file, path: song.path.clone() }), table)
        };
        let table = table.map_err(|e| match e {
            TableError::Read(source) => read_error(source),
            TableError::OverBudget => LoadError::OverBudget,
        })?;
        let mut loaded =
            LoadedSong::new(audio, table).ok_or(LoadError::NotMpegAudio { path: song.path.clone() })?;
        // The reservation becomes the song's own count: what it holds, no more. Everything it
        // holds was reserved before it was allocated.
        debug_assert!(loaded.memory() <= charge.bytes, "{} > {}", loaded.memory(), charge.bytes);
        charge.settle(loaded.memory());
        loaded.charge = Some(charge);
        Ok(Arc::new(loaded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417-byte frames of 26.12 ms.
    fn frames(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            let start = out.len();
            out.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
            out.resize(start + 417, i as u8);
        }
        out
    }

    fn chunks(song: &LoadedSong) -> Vec<Chunk> {
        (0..song.chunk_count()).map(|i| song.chunk(i).unwrap()).collect()
    }

    fn over_budget(loaded: Result<Arc<LoadedSong>, Arc<LoadError>>) -> bool {
        matches!(loaded.as_ref().map_err(|e| &**e), Err(LoadError::OverBudget))
    }

    fn len(chunk: &Chunk) -> usize {
        (chunk.bytes.end - chunk.bytes.start) as usize
    }

    #[test]
    fn chunks_hold_whole_frames_of_about_200_ms() {
        let song = LoadedSong::from_bytes(frames(100), 0).unwrap();
        assert_eq!(song.total_bytes(), 100 * 417);
        let chunks = chunks(&song);
        for chunk in &chunks {
            assert_eq!(len(chunk) % 417, 0);
            assert!(len(chunk) <= CHUNK_MAX_BYTES);
        }
        // 8 frames = 209 ms is the first length at or past 200 ms.
        assert_eq!(len(&chunks[0]), 8 * 417);
        assert_eq!(chunks[0].end, mp3::samples_to_duration(8 * 1152, 44_100));
        let covered: usize = chunks.iter().map(len).sum();
        assert_eq!(covered, 100 * 417);
        assert!(chunks.windows(2).all(|w| w[0].end == w[1].start && w[0].bytes.end == w[1].bytes.start));
    }

    #[test]
    fn junk_between_frames_splits_chunks() {
        let mut data = frames(3);
        data.extend_from_slice(b"junk");
        data.extend(frames(3));
        let song = LoadedSong::from_bytes(data, 0).unwrap();
        let chunks = chunks(&song);
        assert_eq!(chunks.len(), 2);
        assert_eq!(song.total_bytes(), 6 * 417);
        assert_eq!(chunks[1].bytes.start, 3 * 417 + 4);
        // Junk takes no time: the second chunk starts when the first ends.
        assert_eq!(chunks[1].start, chunks[0].end);
    }

    #[test]
    fn a_chunk_takes_24_bytes_of_table() {
        assert_eq!(std::mem::size_of::<Entry>(), 24);
    }

    fn song_file(root: &Root, name: &str, data: &[u8]) -> Song {
        let path = root.given.join(name);
        std::fs::write(&path, data).unwrap();
        Song {
            id: SongId(data.len() as u32),
            rel: name.into(),
            real: root.real.join(name),
            path,
            stamp: crate::library::index::Stamp { size: 0, mtime_ns: 0 },
            audio_start: 0,
            duration: Duration::ZERO,
            tags: crate::library::tags::Tags::default(),
            details: None,
        }
    }

    #[test]
    fn songs_stay_within_the_budget_in_total() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        // Room for about two songs of 100 frames (41.7 kB each) and their chunk tables.
        let cache = SongCache::with_budget(root.clone(), 100_000);
        let a = song_file(&root, "a.mp3", &frames(100));
        let b = song_file(&root, "b.mp3", &frames(101));
        let c = song_file(&root, "c.mp3", &frames(102));
        let d = song_file(&root, "d.mp3", &frames(103));
        let playing_a = cache.load(&a).unwrap();
        let playing_b = cache.load(&b).unwrap();
        assert!(matches!(playing_a.audio(), Audio::Memory(_)));
        assert!(Arc::ptr_eq(&playing_a, &cache.load(&a).unwrap()), "a second PLAY shares the song");
        // Both are streamed: a third song's bytes do not fit, so it streams from disk, and
        // nothing was over-allocated.
        let playing_c = cache.load(&c).unwrap();
        assert!(matches!(playing_c.audio(), Audio::Disk(_)));
        assert!(cache.memory() <= 100_000, "{}", cache.memory());
        // When a listener lets go, its song is only kept for later, and makes room. (The loader
        // thread lets go of its copy of the result just after handing it over: wait for it.)
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&playing_a) > 2 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        drop(playing_a);
        let playing_d = cache.load(&d).unwrap();
        assert!(matches!(playing_d.audio(), Audio::Memory(_)));
        assert!(cache.memory() <= 100_000, "{}", cache.memory());
        // What is counted is exactly what the songs alive hold.
        let held: usize = [&playing_b, &playing_c, &playing_d].iter().map(|s| s.memory()).sum();
        assert_eq!(cache.memory(), held);
        drop((playing_b, playing_c, playing_d));
    }

    #[test]
    fn a_large_song_stays_on_disk_with_the_same_chunks_as_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let mut data = b"ID3\x03\x00\x00\x00\x00\x00\x02ab".to_vec();
        data.extend(frames(700));
        data.extend_from_slice(b"junk");
        data.extend(frames(300));
        data.extend_from_slice(&frames(1)[..100]);
        let mut song = song_file(&root, "big.mp3", &data);
        song.audio_start = 12;
        let in_memory = LoadedSong::from_bytes(data.clone(), 12).unwrap();
        // Files over 100 kB stay on disk.
        let cache = SongCache::with_limits(root, 1 << 20, 100_000);
        let on_disk = cache.load(&song).unwrap();
        assert!(matches!(on_disk.audio(), Audio::Disk(_)));
        assert_eq!(chunks(&on_disk), chunks(&in_memory));
        assert_eq!(on_disk.total_bytes(), 1000 * 417);
        // Its table is all it holds in memory, and all that is counted, with its file.
        assert_eq!(cache.memory(), on_disk.chunk_count() * 24);
        assert_eq!(cache.open_files(), 1);
        let Audio::Disk(file) = on_disk.audio() else { unreachable!() };
        let wanted: Vec<_> = chunks(&on_disk)[85..90].iter().map(|c| c.bytes.clone()).collect();
        let mut buf = Vec::new();
        file.read_chunks(&wanted, &mut buf).unwrap();
        let expected: Vec<u8> =
            wanted.iter().flat_map(|r| &data[r.start as usize..r.end as usize]).copied().collect();
        assert!(buf == expected, "the chunks around the junk, without it");
        drop(on_disk);
        cache.entries.lock().unwrap().recent.clear();
        // The loader thread lets go of its copy of the result just after handing it over.
        let deadline = Instant::now() + Duration::from_secs(5);
        while (cache.memory(), cache.open_files()) != (0, 0) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!((cache.memory(), cache.open_files()), (0, 0), "all given back");
    }

    #[test]
    fn a_song_the_budget_cannot_hold_in_memory_streams_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let song = song_file(&root, "a.mp3", &frames(200));
        // 83 kB of file, a budget of 30 kB: room for the table only.
        let cache = SongCache::with_budget(root, 30_000);
        let loaded = cache.load(&song).unwrap();
        assert!(matches!(loaded.audio(), Audio::Disk(_)));
        assert_eq!(loaded.total_bytes(), 200 * 417);
        assert!(cache.memory() <= 30_000);
    }

    #[test]
    fn songs_on_disk_keep_at_most_max_song_files_open() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let cache = SongCache::with_limits(root.clone(), 1 << 30, 0);
        let songs: Vec<_> =
            (0..=MAX_SONG_FILES).map(|n| song_file(&root, &format!("{n}.mp3"), &frames(10 + n))).collect();
        let playing: Vec<_> = songs[..MAX_SONG_FILES].iter().map(|s| cache.load(s).unwrap()).collect();
        assert_eq!(cache.open_files(), MAX_SONG_FILES);
        assert!(over_budget(cache.load(&songs[MAX_SONG_FILES])));
        // A song nobody plays any more is closed to make room.
        drop(playing);
        assert!(cache.load(&songs[MAX_SONG_FILES]).is_ok());
        assert_eq!(cache.open_files(), MAX_SONG_FILES);
    }

    #[test]
    fn a_file_truncated_or_rewritten_after_loading_is_not_sent() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let song = song_file(&root, "a.mp3", &frames(100));
        let cache = SongCache::with_limits(root, 1 << 20, 0);
        let loaded = cache.load(&song).unwrap();
        let Audio::Disk(file) = loaded.audio() else { panic!("on disk") };
        let all: Vec<_> = chunks(&loaded).iter().map(|c| c.bytes.clone()).collect();
        let mut buf = Vec::new();
        // Rewritten in place: the same length, no frames where they were.
        std::fs::write(&song.path, vec![0x55; 100 * 417]).unwrap();
        let changed = file.read_chunks(&all[..2], &mut buf);
        assert!(matches!(changed, Err(ChunkReadError::Changed { offset: 0, .. })), "{changed:?}");
        // Cut short.
        std::fs::write(&song.path, frames(50)).unwrap();
        assert!(file.read_chunks(&all[..2], &mut buf).is_ok(), "what is still there is sent");
        let cut = file.read_chunks(&all[5..8], &mut buf);
        assert!(matches!(cut, Err(ChunkReadError::Truncated { .. })), "{cut:?}");
    }

    #[test]
    fn a_file_whose_table_would_not_fit_is_refused_within_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        // 2000 chunks of two frames each (junk between them): a table of 48 kB, in a budget
        // of 20 kB.
        let mut data = Vec::new();
        for _ in 0..2000 {
            data.extend(frames(2));
            data.push(0);
        }
        let song = song_file(&root, "a.mp3", &data);
        let cache = SongCache::with_limits(root, 20_000, 0);
        assert!(over_budget(cache.load(&song)));
        assert_eq!((cache.memory(), cache.open_files()), (0, 0), "nothing left held");
    }

    #[test]
    fn seek_finds_the_frame_that_sounds_at_a_position_in_memory_and_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let data = frames(100);
        let in_memory = LoadedSong::from_bytes(data.clone(), 0).unwrap();
        let cache = SongCache::with_limits(root.clone(), 1 << 20, 0);
        let on_disk = cache.load(&song_file(&root, "a.mp3", &data)).unwrap();
        let frame = |n: u64| mp3::samples_to_duration(n * 1152, 44_100);
        for song in [&in_memory, &*on_disk] {
            // The start of the song is a PLAY.
            assert_eq!(song.seek(Duration::ZERO).unwrap(), SeekPoint::start_of(song));
            // 1 s is in frame 38 (38 × 26.12 ms = 992.6 ms), the 7th frame of chunk 4.
            let point = song.seek(Duration::from_secs(1)).unwrap();
            assert_eq!((point.chunk, point.byte), (4, 38 * 417));
            assert!(frame(38) - point.start <= Duration::from_nanos(1), "{:?}", point.start);
            assert_eq!(song.bytes_from(&point), 62 * 417);
            // A frame boundary is its own frame; a chunk's last frame is found too.
            assert_eq!(song.seek(frame(40)).unwrap().byte, 40 * 417);
            assert_eq!(song.seek(frame(40) - Duration::from_nanos(1)).unwrap().byte, 39 * 417);
            // The last frame, and past it.
            assert_eq!(song.seek(frame(100) - Duration::from_millis(1)).unwrap().byte, 99 * 417);
            assert!(matches!(song.seek(frame(100)), Err(SeekError::BeyondEnd { end }) if end == frame(100)));
            assert!(matches!(song.seek(Duration::from_secs(3600)), Err(SeekError::BeyondEnd { .. })));
        }
    }

    #[test]
    fn data_without_frames_is_not_a_song() {
        assert!(LoadedSong::from_bytes(b"hello world, not audio at all".to_vec(), 0).is_none());
    }
}
