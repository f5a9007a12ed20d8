//! The station: one stream of songs that every listener hears at the same moment, through the
//! Jukebox Protocol (TUNE, RFC §7.5) or HTTP (`GET /radio`). Listeners' requests play in a fair
//! order; when nobody has asked, a shuffle of the library plays, so the station never falls
//! silent while it has songs.
//!
//! - [`queue`]: what plays next (sans-IO): the requests in turns, and the shuffle.
//! - [`hub`]: the chunks on the air, shared by every listener without a copy; a slow listener
//!   skips forward instead of slowing anyone.
//! - [`station`]: the two threads that make the stream: the encoder (loads songs, decodes,
//!   resamples, encodes one continuous MP3 stream) and the clock (puts each chunk on the air
//!   at its time).
//!
//! The output is re-encoded to one format ([`BITRATE_KBPS`], 44.1 kHz stereo) because players
//! do not all survive a change of sample rate or channels in the middle of a stream, and
//! because one continuous encode joins songs without a gap.

pub mod hub;
pub mod queue;
pub mod station;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use jukebox_protocol::text::ordinal;
use jukebox_protocol::{ErrorCode, NodeId, NowPlaying, QueueEntry, SongId, Track};
use tracing::info;

use crate::library::Catalog;
use crate::library::song::SongCache;
use crate::native::session::RelayFeed;
use crate::relay::tree::{Admission, Tree};

pub use hub::{Slice, Tuning, Via};
pub use queue::{Refusal, Requester};

/// The station's bitrate: near-transparent for most music, and what Icecast's examples use.
pub const BITRATE_KBPS: u16 = 128;

/// The station's sample rate: every song is resampled to it.
pub const SAMPLE_RATE: u32 = 44_100;

/// Audio a new listener gets at once: its cushion against network jitter, and how far behind
/// live every listener is (RFC §7.5.2; the issue asks for at most 2.5 s). With
/// [`WRITE_EVERY`] it sets the cushion a listener keeps: between `BURST - WRITE_EVERY`
/// (0.5 s) just before a write and `BURST` just after. Icecast's default burst (64 KiB) is 4 s
/// at 128 kbit/s.
pub const BURST: Duration = Duration::from_millis(2300);

/// How often a listener's writer (native or HTTP) wakes to send what the station has put on
/// the air since. Each wake-up is a context switch and a `writev`, whose cost is per call more
/// than per byte. Measured at 1,000 listeners (`bench/compare-icecast.sh --radio`), in µs of
/// server CPU per listener-second against Icecast's 73-89: every 0.5 s, 81; every 1 s, 69;
/// every 1.8 s, 48 (37 above the station's own encoding).
pub const WRITE_EVERY: Duration = Duration::from_millis(1800);

/// The least audio a listener should hold: a listener's writer writes sooner than
/// [`WRITE_EVERY`] when the listener would otherwise drop below it (a listener who tuned in
/// while the station was still putting its first burst on the air, or after a stall).
pub const MIN_CUSHION: Duration = Duration::from_millis(500);

/// When a listener's writer should next write, from what it has sent: every [`WRITE_EVERY`]
/// in the steady state, sooner when the listener's buffer would fall below [`MIN_CUSHION`]
/// first. Counts as if the listener plays from the moment it tuned in, which a player that
/// waits to buffer only makes safer.
#[derive(Debug, Clone, Copy)]
pub struct Cushion {
    tuned: Instant,
    sent: Duration,
}

impl Cushion {
    /// A listener who tunes in at `now`.
    pub fn new(now: Instant) -> Cushion {
        Cushion { tuned: now, sent: Duration::ZERO }
    }

    /// `audio` more has been handed to the listener's socket.
    pub fn sent(&mut self, audio: Duration) {
        self.sent += audio;
    }

    /// The next write: [`WRITE_EVERY`] from `now`, or when the listener would fall below
    /// [`MIN_CUSHION`] if that is sooner, but not sooner than a chunk from now (when nothing has
    /// gone on the air, there is nothing to send).
    pub fn next_write(&self, now: Instant) -> Instant {
        let low = (self.tuned + self.sent).checked_sub(MIN_CUSHION).unwrap_or(now);
        (now + WRITE_EVERY).min(low.max(now + station::CHUNK))
    }
}

/// Audio the station holds for a listener who does not read before it skips them forward
/// (RFC §7.5.4). Icecast's default queue-size (512 KiB) is 32 s at 128 kbit/s; a listener so
/// far behind hears stale radio, so the bound here is shorter.
pub const LAG_LIMIT: Duration = Duration::from_secs(8);

/// Events a subscriber (a web page's event stream) may have waiting before it misses some.
const EVENT_QUEUE: usize = 64;

/// A connection's wake-ups from the station, for its EVENTs (RFC §6.3.5): a message means that
/// the station has changed since the last one was received, and [`Station::changes`] says how.
/// At most one waits, however many changes a busy writer has not looked at, so a client that
/// does not read costs the station nothing. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Pulse {
    wakes: Receiver<()>,
    id: u64,
    inner: std::sync::Weak<Inner>,
}

impl Pulse {
    /// A message here means the station has changed since the last one was received.
    pub fn wakes(&self) -> &Receiver<()> {
        &self.wakes
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            lock(&inner.pulses).remove(&self.id);
        }
    }
}

/// The station's changes, counted, for the EVENTs of subscribed connections (RFC §6.3.5): a
/// connection compares the counts with those of the last changes it told its client of, so
/// however many happened while it could not send, it tells of each kind once, with the newest
/// value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// Songs that went on the air, and times the station went off it, since it started.
    pub songs: u64,
    /// The song on the air now; `None` off the air.
    pub on_air: Option<SongId>,
    /// Changes of the queue of requests since the station started.
    pub queue: u64,
    /// Requested songs waiting now, as QUEUE lists them.
    pub waiting: u32,
}

/// A subscription to the station's events: [`Watch::events`] until dropped, when the station
/// forgets it (so watchers that come and go, a page's event streams, leave nothing behind).
#[derive(Debug)]
pub struct Watch {
    /// The events.
    pub events: Receiver<Event>,
    id: u64,
    inner: std::sync::Weak<Inner>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            lock(&inner.watchers).remove(&self.id);
        }
    }
}

/// One song's turn on the air.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Airing {
    /// Counts the station's songs from 1: two airings of one song differ.
    pub seq: u64,
    /// The song as TRACK_CHANGED announces it.
    pub track: Track,
    /// The album, for the web page.
    pub album: String,
    /// Station time, in milliseconds, at which its first sample sounds.
    pub start_ms: u64,
}

/// A piece of the station's stream: whole MP3 frames, shared by every listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Station time at which its first frame starts to sound.
    pub position_ms: u64,
    /// How long its frames play.
    pub duration: Duration,
    /// The frames.
    pub data: Arc<[u8]>,
    /// The song heard at the chunk's start.
    pub airing: Arc<Airing>,
    /// A song that begins inside this chunk, if any.
    pub starts: Option<Arc<Airing>>,
}

/// What the station tells those who watch it (the web page, the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A song went on the air.
    TrackChanged(Arc<Airing>),
    /// A request joined the queue, or the queue moved.
    QueueChanged,
    /// The station went off the air: its library is empty.
    OffAir,
    /// A song's turn came and it could not be played.
    Skipped {
        /// The song.
        song: SongId,
        /// Its title.
        title: String,
        /// Why, in words.
        reason: String,
    },
}

/// Why a REQUEST (or `POST /request/N`) was refused, in words a person understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// The code of RFC §9.
    pub code: ErrorCode,
    /// What to tell the requester.
    pub message: String,
}

/// A request accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The song.
    pub track: Track,
    /// Its place in the queue, from 1.
    pub place: u32,
}

impl Accepted {
    /// "Tin Robot Shuffle is 2nd in the queue".
    pub fn message(&self) -> String {
        format!("{} is {} in the queue", self.track.title, ordinal(self.place))
    }
}

/// The queue as QUEUE and the web page show it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueView {
    /// On the air now, at the live edge.
    pub now: Option<NowPlaying>,
    /// Its album.
    pub now_album: String,
    /// Requests in the order they will play; `mine` for the asker's own.
    pub entries: Vec<QueueEntry>,
}

/// A requested song on its way: popped from the queue, loading or encoding, not yet on air.
#[derive(Debug, Clone)]
struct Upcoming {
    seq: u64,
    song: SongId,
    requester: Option<Requester>,
}

/// What the station plays: now, soon, and later.
#[derive(Debug, Default)]
struct Program {
    requests: queue::Requests,
    upcoming: VecDeque<Upcoming>,
    on_air: Option<Arc<Airing>>,
    /// Station time at the live edge.
    live_ms: u64,
    /// When the newest chunk went on the air, and its station time: the station's clock.
    aired: Option<(Instant, u64)>,
    /// Songs that went on the air, and times the station went off it ([`Changes::songs`]).
    song_changes: u64,
    /// Changes of the requests waiting ([`Changes::queue`]).
    queue_changes: u64,
}

impl Program {
    /// Whether `song` is on the air or on its way there (so not to be requested or shuffled in).
    fn busy(&self, song: SongId) -> bool {
        self.on_air.as_ref().is_some_and(|a| a.track.song == song)
            || self.upcoming.iter().any(|u| u.song == song)
    }

    /// Requested songs waiting, as QUEUE lists them: those on their way to the air, then the
    /// queue's.
    fn waiting(&self) -> usize {
        self.upcoming.iter().filter(|u| u.requester.is_some()).count() + self.requests.len()
    }

    /// Makes `change` and counts it as a change of the queue if the number of requests waiting
    /// is not what it was (each change either adds requests or drops some); returns whether
    /// it was.
    fn change_queue(&mut self, change: impl FnOnce(&mut Program)) -> bool {
        let before = self.waiting();
        change(self);
        let changed = self.waiting() != before;
        self.queue_changes += u64::from(changed);
        changed
    }
}

/// Where the station's audio comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Nowhere: the server runs without a station.
    Off,
    /// This server's library, encoded here.
    Library,
    /// Another station, relayed ([`crate::relay`]).
    Relay,
}

/// Why a relay is not taken in as a child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayRefusal {
    /// The station has nothing to play yet.
    OffAir,
    /// This server is full: ask this child of it (`host:port`).
    Redirect(String),
    /// Not from here; why.
    Refused(String),
}

#[derive(Debug)]
struct Inner {
    hub: hub::Hub,
    program: Mutex<Program>,
    catalog: Arc<Catalog>,
    /// Event feeds by watcher number; a [`Watch`] removes its own when it is dropped.
    watchers: Mutex<std::collections::HashMap<u64, Sender<Event>>>,
    /// Wake-ups of subscribed connections by number (bounded(1) each); a [`Pulse`] removes
    /// its own when it is dropped.
    pulses: Mutex<std::collections::HashMap<u64, Sender<()>>>,
    next_watcher: AtomicU64,
    started: Instant,
    /// Radio bytes handed to listeners' sockets, for the status page.
    sent: AtomicU64,
    source: Source,
    /// (bitrate kbps, sample rate) for TUNED: the encoder's, or the upstream's (0 when not
    /// constant).
    format: Mutex<(u16, u32)>,
    /// This server's place in a tree of relays.
    tree: Arc<Tree>,
    /// Set when the server stops: the station's threads end.
    stopped: std::sync::atomic::AtomicBool,
}

/// The station, shared by every connection. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Station {
    inner: Arc<Inner>,
}

impl Station {
    /// A station that is off the air for good: TUNE and REQUEST answer OFF_AIR.
    pub fn off(catalog: Arc<Catalog>) -> Station {
        Station::new(catalog, Source::Off, Tree::new(None))
    }

    /// Starts the station's threads: it plays from now on, to listeners or not. It feeds
    /// relays as `tree` allows.
    pub fn start(catalog: Arc<Catalog>, cache: Arc<SongCache>, tree: Arc<Tree>) -> std::io::Result<Station> {
        let station = Station::new(catalog, Source::Library, tree);
        station::spawn(station.clone(), cache)?;
        Ok(station)
    }

    /// A station that relays another ([`crate::relay::spawn`] feeds it): off the air until
    /// its first audio comes.
    pub fn relayed(catalog: Arc<Catalog>, tree: Arc<Tree>) -> Station {
        Station::new(catalog, Source::Relay, tree)
    }

    fn new(catalog: Arc<Catalog>, source: Source, tree: Arc<Tree>) -> Station {
        Station {
            inner: Arc::new(Inner {
                hub: hub::Hub::new(LAG_LIMIT, station::CHUNK),
                program: Mutex::default(),
                catalog,
                watchers: Mutex::default(),
                pulses: Mutex::default(),
                next_watcher: AtomicU64::new(0),
                started: Instant::now(),
                sent: AtomicU64::new(0),
                source,
                format: Mutex::new((BITRATE_KBPS, SAMPLE_RATE)),
                tree,
                stopped: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// Takes the station off the air for good: its threads end, and its listeners' streams
    /// with them.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.hub.close_all();
    }

    pub(crate) fn stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// Tunes a listener in: the burst, then live chunks. `None` when the station is off the
    /// air (RFC §6.1.6: OFF_AIR).
    pub fn tune(&self, via: Via) -> Option<Tuning> {
        if !self.on_air() || self.stopped() {
            return None;
        }
        let from_ms = self.now_ms().saturating_sub(BURST.as_millis() as u64);
        Some(self.inner.hub.subscribe(from_ms, via))
    }

    /// Station time now, by the wall clock since the newest chunk went on the air.
    pub fn now_ms(&self) -> u64 {
        match self.program().aired {
            Some((at, position_ms)) => position_ms + at.elapsed().as_millis() as u64,
            None => 0,
        }
    }

    /// The station's format: (bitrate in kbit/s, sample rate in Hz), 0 where not constant.
    pub fn format(&self) -> (u16, u32) {
        *lock(&self.inner.format)
    }

    /// A relay learned its upstream's format.
    pub(crate) fn set_format(&self, format: (u16, u32)) {
        *lock(&self.inner.format) = format;
    }

    /// Whether the station plays: it is on, and has a song on the air or in its library (a
    /// relay: once its first audio has come).
    pub fn on_air(&self) -> bool {
        match self.inner.source {
            Source::Off => false,
            Source::Library => self.program().on_air.is_some() || !self.inner.catalog.current().is_empty(),
            Source::Relay => self.program().on_air.is_some(),
        }
    }

    /// Whether this station relays another.
    pub fn relaying(&self) -> bool {
        self.inner.source == Source::Relay
    }

    /// Whether the server runs a station at all (one that relays included), on the air or not.
    pub fn runs(&self) -> bool {
        self.inner.source != Source::Off
    }

    /// This server's place in the tree of relays.
    pub fn tree(&self) -> &Arc<Tree> {
        &self.inner.tree
    }

    /// Takes in a relay `node`, serving at `address`, as a child (RFC §6.1.9): the station
    /// as for a TUNE, or where to ask instead.
    pub fn relay(&self, node: NodeId, address: String) -> Result<RelayFeed, RelayRefusal> {
        if !self.on_air() || self.stopped() {
            return Err(RelayRefusal::OffAir);
        }
        let child = match self.inner.tree.admit(node, address) {
            Admission::Child(child) => child,
            Admission::Redirect(to) => return Err(RelayRefusal::Redirect(to)),
            Admission::Refused(why) => return Err(RelayRefusal::Refused(why)),
        };
        let tuning = self.tune(Via::Native).ok_or(RelayRefusal::OffAir)?;
        Ok(RelayFeed {
            tuning,
            child,
            node: self.inner.tree.node(),
            path: self.inner.tree.path(),
            format: self.format(),
        })
    }

    /// Asks for `song` on behalf of `requester` (RFC §6.1.8 gives the order of the checks).
    pub fn request(&self, requester: Requester, song: SongId) -> Result<Accepted, RequestError> {
        let refuse = |code, message: String| Err(RequestError { code, message });
        if self.relaying() {
            return refuse(
                ErrorCode::NotTheOrigin,
                "this server relays another station: request songs at its origin".into(),
            );
        }
        if !self.on_air() {
            return refuse(ErrorCode::OffAir, "the station is off the air: it has no songs".into());
        }
        let library = self.inner.catalog.current();
        let Some(found) = library.get(song) else {
            return refuse(ErrorCode::NoSuchSong, format!("no song with id {song}"));
        };
        let track = track_of(found);
        let mut program = self.program();
        let playing_now = program.on_air.as_ref().is_some_and(|a| a.track.song == song);
        // A song the shuffle has already picked to play next is granted: it plays next anyway,
        // and the asker sees it in the queue as theirs.
        let ahead = program.upcoming.iter().filter(|u| u.requester.is_some()).count();
        let waiting = program.requests.waiting_for(requester)
            + program.upcoming.iter().filter(|u| u.requester == Some(requester)).count();
        if let Some(picked) = program.upcoming.iter_mut().find(|u| u.song == song && u.requester.is_none())
            && !playing_now
            && waiting < queue::PER_REQUESTER
        {
            picked.requester = Some(requester);
            program.requests.served(requester);
            program.queue_changes += 1;
            drop(program);
            self.notify(Event::QueueChanged);
            return Ok(Accepted { track, place: u32::try_from(ahead + 1).unwrap_or(u32::MAX) });
        }
        let Program { requests, upcoming, on_air, .. } = &mut *program;
        let elsewhere = upcoming.iter().filter(|u| u.requester == Some(requester)).count();
        let busy = |s: SongId| {
            on_air.as_ref().is_some_and(|a| a.track.song == s) || upcoming.iter().any(|u| u.song == s)
        };
        match requests.push(requester, song, busy, elsewhere) {
            Ok(place) => {
                let place = place + ahead;
                program.queue_changes += 1;
                drop(program);
                self.notify(Event::QueueChanged);
                Ok(Accepted { track, place: u32::try_from(place).unwrap_or(u32::MAX) })
            }
            Err(Refusal::AlreadyQueued) => {
                let when = if playing_now { "is playing now" } else { "is already in the queue" };
                refuse(ErrorCode::AlreadyQueued, format!("{} {when}", track.title))
            }
            Err(Refusal::Limit) => refuse(
                ErrorCode::RequestLimit,
                format!(
                    "you already have {} songs waiting; ask again when one has played",
                    queue::PER_REQUESTER
                ),
            ),
            Err(Refusal::Full) => refuse(
                ErrorCode::QueueFull,
                format!("the queue is full ({} songs); try later", queue::MAX_QUEUE),
            ),
        }
    }

    /// What is on the air and what waits, with `mine` set for `asker`'s requests.
    pub fn queue(&self, asker: Option<Requester>) -> QueueView {
        let program = self.program();
        let library = self.inner.catalog.current();
        let now = program.on_air.as_ref().map(|airing| NowPlaying {
            track: airing.track.clone(),
            elapsed_ms: u32::try_from(program.live_ms.saturating_sub(airing.start_ms)).unwrap_or(u32::MAX),
        });
        let now_album = program.on_air.as_ref().map(|a| a.album.clone()).unwrap_or_default();
        let upcoming = program.upcoming.iter().filter_map(|u| u.requester.map(|r| (r, u.song)));
        let entries = upcoming
            .chain(program.requests.order())
            .filter_map(|(requester, song)| {
                library
                    .get(song)
                    .map(|found| QueueEntry { track: track_of(found), mine: Some(requester) == asker })
            })
            .collect();
        QueueView { now, now_album, entries }
    }

    /// What has changed since the station started, for EVENTs (RFC §6.3.5).
    pub fn changes(&self) -> Changes {
        let program = self.program();
        Changes {
            songs: program.song_changes,
            on_air: program.on_air.as_ref().map(|airing| airing.track.song),
            queue: program.queue_changes,
            waiting: u32::try_from(program.waiting()).unwrap_or(u32::MAX),
        }
    }

    /// Wake-ups whenever the station changes, until the [`Pulse`] is dropped: for a connection
    /// that subscribed to the station's EVENTs.
    pub fn pulse(&self) -> Pulse {
        let (tx, wakes) = crossbeam_channel::bounded(1);
        let id = self.inner.next_watcher.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.pulses).insert(id, tx);
        Pulse { wakes, id, inner: Arc::downgrade(&self.inner) }
    }

    /// A feed of the station's [`Event`]s, until the [`Watch`] is dropped. A watcher that
    /// falls [`EVENT_QUEUE`] events behind misses the rest: it should reread the state when it
    /// next looks.
    pub fn watch(&self) -> Watch {
        let (tx, events) = crossbeam_channel::bounded(EVENT_QUEUE);
        let id = self.inner.next_watcher.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.watchers).insert(id, tx);
        Watch { events, id, inner: Arc::downgrade(&self.inner) }
    }

    /// Listeners now: (native, HTTP).
    pub fn listeners(&self) -> (usize, usize) {
        self.inner.hub.listeners()
    }

    /// When the station started.
    pub fn started(&self) -> Instant {
        self.inner.started
    }

    /// Counts radio bytes handed to a listener's socket.
    pub fn count_sent(&self, bytes: usize) {
        self.inner.sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Radio bytes sent to listeners since the start.
    pub fn bytes_sent(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }

    /// Puts `chunk` on the air at `due`, the clock's time for its end (not the moment its
    /// thread woke: a late wake-up must not move every later listener's burst): the live edge
    /// moves, every listener gets it, and a song that begins in it is announced.
    pub(crate) fn air(&self, chunk: Arc<Chunk>, due: Instant) {
        let ends_ms = chunk.position_ms + chunk.duration.as_millis() as u64;
        let changed = {
            let mut program = self.program();
            program.live_ms = ends_ms;
            program.aired = Some((due, ends_ms));
            let newest = chunk.starts.as_ref().unwrap_or(&chunk.airing);
            let changed = program.on_air.as_ref().is_none_or(|a| a.seq != newest.seq);
            if changed {
                program.on_air = Some(Arc::clone(newest));
                program.song_changes += 1;
                // A requested song that goes on the air leaves the queue.
                program.change_queue(|p| p.upcoming.retain(|u| u.seq > newest.seq));
            }
            changed.then(|| Arc::clone(newest))
        };
        self.inner.hub.publish(chunk);
        if let Some(airing) = changed {
            info!(
                "station: now playing {} ({})",
                jukebox_protocol::text::printable(&airing.track.title),
                airing.track.song
            );
            self.notify(Event::TrackChanged(airing));
        }
    }

    /// The station is off the air (its library is empty): the song on the air is no more.
    /// Returns whether it was on the air until now.
    pub(crate) fn off_air(&self) -> bool {
        let was = {
            let mut program = self.program();
            let was = program.on_air.take().is_some();
            program.song_changes += u64::from(was);
            was
        };
        if was {
            self.notify(Event::OffAir);
        }
        was
    }

    /// A song whose turn came could not be played: it is not on its way to the air any more.
    pub(crate) fn skipped(&self, seq: u64, event: Event) {
        self.program().change_queue(|p| p.upcoming.retain(|u| u.seq != seq));
        self.notify(event);
    }

    /// Tells the watchers, and wakes the subscribed connections, which read the changes
    /// themselves ([`Station::changes`]): a wake-up already waiting stands for this one too.
    fn notify(&self, event: Event) {
        for watcher in lock(&self.inner.watchers).values() {
            // A watcher that is behind misses this one (see `watch`).
            let _ = watcher.try_send(event.clone());
        }
        for pulse in lock(&self.inner.pulses).values() {
            let _ = pulse.try_send(());
        }
    }

    fn program(&self) -> MutexGuard<'_, Program> {
        lock(&self.inner.program)
    }
}

/// The song as the station announces it.
fn track_of(song: &crate::library::Song) -> Track {
    let entry = song.entry();
    Track { song: entry.id, duration_ms: entry.duration_ms, title: entry.title, artist: entry.artist }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The station time of `samples` at [`SAMPLE_RATE`], in milliseconds.
pub fn samples_to_ms(samples: u64) -> u64 {
    samples * 1000 / u64::from(SAMPLE_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscriber_that_does_not_look_holds_one_wake_up_and_reads_the_newest_changes() {
        let station = Station::new(Catalog::without_folder(), Source::Library, Tree::new(None));
        let pulse = station.pulse();
        let silent = |seq: u64| {
            let track = Track {
                song: SongId(seq as u32),
                duration_ms: 1,
                title: String::new(),
                artist: String::new(),
            };
            Arc::new(Airing { seq, track, album: String::new(), start_ms: seq })
        };
        for seq in 1..=1000 {
            let airing = silent(seq);
            let chunk = Chunk {
                position_ms: seq,
                duration: Duration::from_millis(1),
                data: Arc::from(Vec::new()),
                airing: Arc::clone(&airing),
                starts: Some(airing),
            };
            station.air(Arc::new(chunk), Instant::now());
        }
        // A thousand songs went on the air while the connection did not look: one wake-up
        // waits, and the changes it reads say a thousand, and which song is on the air now.
        assert_eq!(pulse.wakes().len(), 1);
        let changes = station.changes();
        assert_eq!((changes.songs, changes.on_air, changes.queue), (1000, Some(SongId(1000)), 0));
        assert!(station.off_air());
        assert_eq!((station.changes().songs, station.changes().on_air), (1001, None));
        drop(pulse);
        assert!(lock(&station.inner.pulses).is_empty(), "a subscriber that leaves leaves nothing");
    }

    #[test]
    fn a_listener_with_a_full_cushion_is_written_every_write_every_and_a_short_one_sooner() {
        let t0 = Instant::now();
        let mut full = Cushion::new(t0);
        full.sent(BURST);
        assert_eq!(full.next_write(t0), t0 + WRITE_EVERY);
        // A listener who got only 0.4 s (the station was still starting): written again after
        // a chunk, and again, until it holds a burst.
        let mut short = Cushion::new(t0);
        short.sent(Duration::from_millis(400));
        assert_eq!(short.next_write(t0), t0 + station::CHUNK);
        short.sent(BURST - Duration::from_millis(400));
        assert_eq!(short.next_write(t0 + station::CHUNK), t0 + BURST - MIN_CUSHION);
    }
}
