//! The station's two threads.
//!
//! ```text
//!  ┌──────────────────────────────┐  Chunk (bounded: LOOKAHEAD)  ┌──────────────────────────┐
//!  │ encoder: picks the next song │ ───────────────────────────▶ │ clock: sleeps until each │
//!  │ (queue, else shuffle), loads │                              │ chunk's time, publishes  │──▶ Hub
//!  │ it (SongCache), decodes,     │                              │ it, moves "on the air"   │   (every
//!  │ resamples, encodes (LAME)    │                              │ and tells the watchers   │  listener)
//!  └──────────────────────────────┘                              └──────────────────────────┘
//! ```
//!
//! The encoder runs ahead of the clock by at most [`LOOKAHEAD`], so a song that loads slowly
//! (a cold disk) does not starve the air, and a request made now plays after at most the song
//! on the air and the one already encoded. The clock never waits on the encoder for longer
//! than a chunk is due: when the encoder falls behind (a song that takes longer than
//! `LOAD_TIMEOUT` to load), the air goes quiet and the clock takes up again from the next chunk
//! without bursting to catch up.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use jukebox_codec::{Encoder, FrameDecoder, Resampler, SAMPLES_PER_FRAME};
use jukebox_protocol::SongId;
use jukebox_protocol::mp3::{self, AudioHeader};
use tracing::{debug, info, warn};

use super::{
    Airing, BITRATE_KBPS, Chunk, Event, Station, Upcoming, queue::ShuffleBag, samples_to_ms, track_of,
};
use crate::library::Song;
use crate::library::song::{Audio, SongCache};

/// Frames per chunk: 8 frames of 26 ms, about 209 ms, as the on-demand chunks (RFC §7.2).
const CHUNK_FRAMES: usize = 8;

/// The playing time of a chunk, near enough for sizing queues.
pub const CHUNK: Duration = Duration::from_millis(209);

/// How far the encoder may run ahead of the air.
pub const LOOKAHEAD: Duration = Duration::from_secs(2);

/// Samples between a song's first sample going into LAME and it sounding out of a decoder of
/// the stream: LAME's encoder delay (576) and the MP3 decoder's (529).
const CODEC_DELAY: u64 = 576 + 529;

/// After a song that could not be played, the encoder waits this long times the number of
/// failures in a row (at most [`MAX_SKIP_PAUSES`] times): a playable song follows at once, a
/// library of unreadable files costs a look every few seconds, not a core.
const SKIP_PAUSE: Duration = Duration::from_millis(250);

/// The most [`SKIP_PAUSE`]s the encoder waits after failures in a row (5 s).
const MAX_SKIP_PAUSES: u32 = 20;

/// How long the encoder waits for the library to have songs before it looks again (a scan that
/// finishes wakes it sooner).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Starts the encoder and the clock.
pub(super) fn spawn(station: Station, cache: Arc<SongCache>) -> std::io::Result<()> {
    let (tx, rx) = crossbeam_channel::bounded(LOOKAHEAD.as_millis() as usize / CHUNK.as_millis() as usize);
    let encoder = Encoding::new(station.clone(), cache, tx).map_err(std::io::Error::other)?;
    thread::Builder::new().name("station-encoder".into()).spawn(move || encoder.run())?;
    thread::Builder::new().name("station-clock".into()).spawn(move || run_clock(station, rx))?;
    Ok(())
}

/// The encoder thread's state.
struct Encoding {
    station: Station,
    cache: Arc<SongCache>,
    out: Sender<Chunk>,
    encoder: Encoder,
    shuffle: ShuffleBag,
    rng: fastrand::Rng,
    /// Stereo samples fed to LAME so far.
    fed: u64,
    /// Frames LAME has produced so far.
    frames: u64,
    /// The chunk being filled: its frames' bytes and how many.
    building: Vec<u8>,
    building_frames: usize,
    /// Songs that begin in frames not yet produced, by the frame their first sample sounds in.
    starts: std::collections::VecDeque<(u64, Arc<Airing>)>,
    /// The song heard at the start of the chunk being filled.
    current: Option<Arc<Airing>>,
    seq: u64,
    /// Reused buffers.
    pcm: Vec<i16>,
    encoded: Vec<u8>,
    disk: Vec<u8>,
}

/// The clock thread's receiver was dropped: the station is shutting down.
struct Closed;

impl Encoding {
    fn new(station: Station, cache: Arc<SongCache>, out: Sender<Chunk>) -> Result<Encoding, String> {
        let encoder =
            Encoder::new(BITRATE_KBPS).map_err(|e| format!("cannot start the station's encoder: {e}"))?;
        Ok(Encoding {
            station,
            cache,
            out,
            encoder,
            shuffle: ShuffleBag::default(),
            rng: fastrand::Rng::new(),
            fed: 0,
            frames: 0,
            building: Vec::new(),
            building_frames: 0,
            starts: std::collections::VecDeque::new(),
            current: None,
            seq: 0,
            pcm: Vec::new(),
            encoded: Vec::new(),
            disk: Vec::new(),
        })
    }

    fn run(mut self) {
        let scans = self.station.inner.catalog.subscribe();
        // Songs that could not be played in a row: the station waits longer after each, so a
        // library of unreadable files (an unmounted disk) does not spin a core.
        let mut failures: u32 = 0;
        while !self.station.stopped() {
            let Some((song, seq)) = self.next_song() else {
                // An empty library: the clock ends the listeners' streams; look again later.
                let _ = scans.wakes().recv_timeout(IDLE_POLL);
                continue;
            };
            match self.play(&song, seq) {
                Ok(()) => failures = 0,
                Err(Some(reason)) => {
                    if failures < 3 {
                        warn!("station: skipped {}: {reason}", crate::library::scan::show(&song.rel));
                    } else {
                        debug!("station: skipped {}: {reason}", crate::library::scan::show(&song.rel));
                    }
                    self.station.skipped(
                        seq,
                        Event::Skipped { song: song.id, title: song.tags.title.clone(), reason },
                    );
                    failures = failures.saturating_add(1);
                    let pause = SKIP_PAUSE.saturating_mul(failures.min(MAX_SKIP_PAUSES));
                    let _ = scans.wakes().recv_timeout(pause);
                }
                Err(None) => return,
            }
        }
    }

    /// The next song, on its way to the air: the queue's first, else the shuffle's. It joins
    /// `upcoming` under the same lock it was taken from the queue with, so no REQUEST sees it
    /// in neither. Requests for songs gone from the library are dropped here.
    fn next_song(&mut self) -> Option<(Song, u64)> {
        let library = self.station.inner.catalog.current();
        let mut program = self.station.program();
        let dropped = program.change_queue(|p| p.requests.retain(|id| library.get(id).is_some()));
        let (id, requester) = match program.requests.pop() {
            Some((requester, id)) => {
                self.shuffle.played(id);
                (id, Some(requester))
            }
            None => {
                let ids: Vec<SongId> = library.songs().iter().map(|s| s.id).collect();
                // Rather a song again at once than silence: a library of one song repeats it.
                let busy = |id| program.busy(id);
                let id = self
                    .shuffle
                    .next(&ids, &mut self.rng, busy)
                    .or_else(|| self.shuffle.next(&ids, &mut self.rng, |_| false))?;
                (id, None)
            }
        };
        let song = library.get(id).cloned()?;
        self.seq += 1;
        program.upcoming.push_back(Upcoming { seq: self.seq, song: id, requester });
        drop(program);
        if requester.is_some() || dropped {
            self.station.notify(Event::QueueChanged);
        }
        Some((song, self.seq))
    }

    /// Encodes one song into the stream. `Err(Some(why))` when it cannot be played,
    /// `Err(None)` when the station is shutting down.
    fn play(&mut self, song: &Song, seq: u64) -> Result<(), Option<String>> {
        let loaded = self.cache.load(song).map_err(|e| Some(e.to_string()))?;
        let airing = Arc::new(Airing {
            seq,
            track: track_of(song),
            album: song.tags.album.clone(),
            start_ms: samples_to_ms(self.fed + CODEC_DELAY),
        });
        let start_frame = (self.fed + CODEC_DELAY) / SAMPLES_PER_FRAME as u64;
        self.starts.push_back((start_frame, airing));
        let mut decoder = FrameDecoder::default();
        let mut resampler = Resampler::default();
        let mut decoded_any = false;
        for index in 0..loaded.chunk_count() {
            let Some(chunk) = loaded.chunk(index) else { break };
            let bytes: &[u8] = match loaded.audio() {
                Audio::Memory(bytes) => {
                    let range = usize::try_from(chunk.bytes.start).unwrap_or(usize::MAX)
                        ..usize::try_from(chunk.bytes.end).unwrap_or(usize::MAX);
                    bytes.get(range).ok_or_else(|| Some("the song changed while it played".to_string()))?
                }
                Audio::Disk(file) => {
                    file.read_chunks(std::slice::from_ref(&chunk.bytes), &mut self.disk)
                        .map_err(|e| Some(e.to_string()))?;
                    &self.disk
                }
            };
            self.pcm.clear();
            for frame in mp3::frames(bytes) {
                if let Some(decoded) = decoder.decode(&bytes[frame.offset..frame.offset + frame.header.len]) {
                    resampler.convert(decoded.samples, decoded.channels, decoded.sample_rate, &mut self.pcm);
                }
            }
            decoded_any |= !self.pcm.is_empty();
            let pcm = std::mem::take(&mut self.pcm);
            let result = self.feed(&pcm);
            self.pcm = pcm;
            result.map_err(|Closed| None)?;
        }
        if !decoded_any {
            // Nothing went into the stream: the song never aired.
            self.starts.retain(|(_, a)| a.seq != seq);
            return Err(Some("no audio could be decoded from it".into()));
        }
        debug!("station: encoded song {}", song.id);
        Ok(())
    }

    /// Encodes samples and sends every chunk completed.
    fn feed(&mut self, pcm: &[i16]) -> Result<(), Closed> {
        self.encoded.clear();
        if let Err(e) = self.encoder.encode(pcm, &mut self.encoded) {
            warn!("station: the encoder failed ({e}); starting a new one");
            if let Ok(encoder) = Encoder::new(BITRATE_KBPS) {
                self.encoder = encoder;
            }
        }
        self.fed += (pcm.len() / 2) as u64;
        let encoded = std::mem::take(&mut self.encoded);
        let mut at = 0;
        while let Some(header) = encoded.get(at..).and_then(AudioHeader::parse) {
            let frame = &encoded[at..at + header.len.min(encoded.len() - at)];
            at += frame.len();
            // A song that begins in this frame begins the chunk it is in.
            let starting = self.starts.front().is_some_and(|(f, _)| *f <= self.frames);
            if starting && self.building_frames > 0 {
                self.send_chunk()?;
            }
            self.building.extend_from_slice(frame);
            self.building_frames += 1;
            self.frames += 1;
            if self.building_frames == CHUNK_FRAMES {
                self.send_chunk()?;
            }
        }
        self.encoded = encoded;
        Ok(())
    }

    fn send_chunk(&mut self) -> Result<(), Closed> {
        if self.station.stopped() {
            return Err(Closed);
        }
        let first_frame = self.frames - self.building_frames as u64;
        let mut starts = None;
        while self.starts.front().is_some_and(|(f, _)| *f < self.frames) {
            starts = self.starts.pop_front().map(|(_, a)| a);
        }
        // The song heard at the chunk's first sample: a song that begins inside it begins a
        // little after (it begins inside the chunk's first frame when the chunk was cut for it).
        let Some(airing) = self.current.clone().or_else(|| starts.clone()) else { return Ok(()) };
        if let Some(new) = &starts {
            self.current = Some(Arc::clone(new));
        }
        let chunk = Chunk {
            position_ms: samples_to_ms(first_frame * SAMPLES_PER_FRAME as u64),
            duration: Duration::from_micros(
                self.building_frames as u64 * SAMPLES_PER_FRAME as u64 * 1_000_000
                    / u64::from(super::SAMPLE_RATE),
            ),
            data: Arc::from(std::mem::take(&mut self.building)),
            airing,
            starts,
        };
        self.building_frames = 0;
        self.out.send(chunk).map_err(|_| Closed)
    }
}

/// Puts chunks on the air at their time.
fn run_clock(station: Station, chunks: Receiver<Chunk>) {
    info!("station: on the air at {BITRATE_KBPS} kbit/s, {} Hz stereo", super::SAMPLE_RATE);
    // Wall time of station time 0; moved forward when the encoder fell behind.
    let mut origin: Option<Instant> = None;
    loop {
        let chunk = match chunks.recv_timeout(Duration::from_secs(2)) {
            Ok(chunk) => chunk,
            Err(RecvTimeoutError::Timeout) => {
                if station.inner.catalog.current().is_empty() {
                    if station.off_air() {
                        info!("station: off the air: the library is empty");
                    }
                    station.inner.hub.close_all();
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if station.stopped() {
            return;
        }
        // A chunk goes on the air when the station has played it whole: its end's time. No
        // listener is sent audio the station has not played yet (RFC §7.5.1).
        let ends_ms = chunk.position_ms + chunk.duration.as_millis() as u64;
        let at = Duration::from_millis(ends_ms);
        let now = Instant::now();
        let due = match origin {
            // Late by less than a burst (the pre-roll, or a short stall): at once, so listeners'
            // cushions fill up again.
            Some(origin) if origin + at + super::BURST + CHUNK >= now => origin + at,
            // The encoder fell far behind (a song that took long to load): the air resumes as it
            // began, a burst in the past, so listeners whose cushions ran dry refill at once and
            // new ones get a whole burst; nothing is sent that was not encoded after the stall.
            Some(_) => {
                origin = now.checked_sub(at + super::BURST);
                now
            }
            // The first chunk: the station starts a burst in the past, so the first listener
            // is as far behind live as every later one (RFC §7.5.2), and its first BURST of
            // audio goes on the air at once.
            None => {
                origin = now.checked_sub(at + super::BURST);
                now
            }
        };
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        station.air(Arc::new(chunk), due);
    }
}
