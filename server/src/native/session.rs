//! The writer's side of one connection as a plain state machine: which stream is current,
//! what the reader's work turns into on the wire, and when the next audio is due (RFC §7).
//! It never reads a clock or touches a socket: callers pass `now` and send what it returns, so
//! tests drive it without sockets or sleeping.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::TryRecvError;
use jukebox_protocol::mp3;
use jukebox_protocol::{
    EndOfStream, ErrorCode, ErrorReply, Goodbye, Hop, LibraryChanged, Message, NodeId, Paused, Playing,
    QueuePage, Relayed, ReplayGain, RequestId, Resumed, Scanning, SongId, Stopped, StreamId, Subscribed,
    Subsystems, TrackChanged, Tuned,
};

use crate::library::song::{LoadedSong, SeekPoint};
use crate::library::{Library, ScanResults};
use crate::native::events::{Snapshot, Subscriber};
use crate::radio::{Chunk, Cushion, QueueView, Slice, Tuning, WRITE_EVERY};
use crate::relay::tree::ChildGuard;

/// How far ahead of real time the server keeps a stream: the first `LEAD` of a song goes out at
/// once (so playback starts immediately and rides out jitter), the rest as real time reaches
/// it. Below the protocol's `MAX_LEAD` of 5 s (RFC §7.3).
pub const LEAD: Duration = Duration::from_secs(2);

/// Once a chunk is due, everything due within this much more time goes out with it, so a
/// connection's writer wakes about once per `BATCH` instead of once per chunk: each wake-up is
/// a context switch and a `writev` whose cost is mostly per call, not per byte, which at
/// thousands of listeners is most of the server's CPU (measured at 1000 listeners: 399 µs per
/// listener-second with a write per 200 ms chunk, 71 with `BATCH` = 1 s, 30 with 2 s). The
/// stream then runs between `LEAD` and `LEAD + BATCH` ahead, inside `MAX_LEAD`.
pub const BATCH: Duration = Duration::from_secs(2);

/// The most audio one write carries: the initial burst. After a stall (a client that stopped
/// reading for a while) more than this is due; it goes out in several writes with the reply
/// queue checked between them, so a reply never waits behind more than one write (RFC §7.4
/// rule 5).
pub const MAX_WRITE_AUDIO: Duration =
    Duration::from_millis(LEAD.as_millis() as u64 + BATCH.as_millis() as u64);

/// The most audio bytes one write carries: [`MAX_WRITE_AUDIO`] at the highest byte rate a frame
/// header allows (`mp3::MAX_AUDIO_BYTES_PER_SECOND`, 56,500 bytes per second: MPEG-1 Layer I
/// at 448 kbit/s), 226,000 bytes. A batch ends at this many bytes as well as at
/// `MAX_WRITE_AUDIO`, so the bound holds by construction; no real song reaches it first (a
/// 320 kbit/s MP3 takes 160,000 bytes for 4 s). The writer's buffer for a song on disk holds
/// one batch, so this is what a connection holds for it.
pub const MAX_WRITE_BYTES: usize =
    (MAX_WRITE_AUDIO.as_millis() as u64 * mp3::MAX_AUDIO_BYTES_PER_SECOND / 1000) as usize;

/// What the reader asks of the writer, in the order the requests arrived.
#[derive(Debug)]
pub enum Work {
    /// A reply decided by the reader alone (PONG, ERROR).
    Reply(Message),
    /// The pages of a LIST reply, from the library as it was when the LIST was read.
    List {
        /// The LIST's id.
        id: RequestId,
        /// The library to list.
        library: Arc<Library>,
    },
    /// The LIST_PAGEs of the songs that match `text`, from the library as it was when the
    /// SEARCH was read (RFC §6.1.14).
    Search {
        /// The SEARCH's id.
        id: RequestId,
        /// The library to search.
        library: Arc<Library>,
        /// The query.
        text: String,
    },
    /// Switch to a new stream of a loaded song and reply PLAYING: done by the writer, so that
    /// no audio of the old stream can follow the reply (RFC §7.4). A SEEK is a PLAY that
    /// begins part-way into the song.
    Play {
        /// The PLAY's or SEEK's id.
        id: RequestId,
        /// The song.
        song: SongId,
        /// Its audio.
        loaded: Arc<LoadedSong>,
        /// Where the stream begins: [`SeekPoint::start_of`] the song for PLAY.
        from: SeekPoint,
        /// For PLAYING.
        duration_ms: u32,
        /// For PLAYING.
        title: String,
        /// For PLAYING.
        artist: String,
        /// For PLAYING: the song's ReplayGain, as the scan found it.
        gain: ReplayGain,
    },
    /// End the current stream and reply STOPPED.
    Stop {
        /// The STOP's id.
        id: RequestId,
    },
    /// Stop sending the current stream's audio, keeping it current, and reply PAUSED
    /// (RFC §6.1.10).
    Pause {
        /// The PAUSE's id.
        id: RequestId,
    },
    /// Go on with a paused stream, and reply RESUMED (RFC §6.1.11).
    Resume {
        /// The RESUME's id.
        id: RequestId,
    },
    /// A RESCAN was handed to the scanner as scan `scan`: reply SCANNING, and make sure the
    /// client hears when that scan is over.
    Scanning {
        /// The RESCAN's id.
        id: RequestId,
        /// The scan's number.
        scan: u32,
    },
    /// Leave any stream for the station's, and reply TUNED (RFC §6.1.6).
    Tune {
        /// The TUNE's id.
        id: RequestId,
        /// The listener's end of the station: boxed, as it is large beside the other work.
        tuning: Box<Tuning>,
        /// The station's format for TUNED: (bitrate kbps, sample rate), 0 where not constant.
        format: (u16, u32),
    },
    /// Leave any stream for the station's as a relay's feed, and reply RELAYED (RFC §6.1.9).
    Relay {
        /// The RELAY's id.
        id: RequestId,
        /// The relay's end of the station, and its place among this server's children.
        feed: Box<RelayFeed>,
    },
    /// Reply with the QUEUE_PAGEs of the station's queue as it was when the QUEUE was read.
    Queue {
        /// The QUEUE's id.
        id: RequestId,
        /// The queue.
        view: QueueView,
    },
    /// From now on, tell the client of changes to the subsystems of `mask` that the server
    /// has, with EVENTs, and reply SUBSCRIBED (RFC §6.1.15).
    Subscribe {
        /// The SUBSCRIBE's id.
        id: RequestId,
        /// The subsystems asked for.
        mask: Subsystems,
        /// What the server could tell when the SUBSCRIBE was read: later changes are news.
        at: Snapshot,
    },
    /// Send GOODBYE and close.
    Goodbye(Goodbye),
}

/// What a relay taken in as a child gets: the station, and the facts RELAYED tells it.
#[derive(Debug)]
pub struct RelayFeed {
    /// The station, as for a TUNE.
    pub tuning: Tuning,
    /// Its place among this server's children, given up when the stream ends.
    pub child: ChildGuard,
    /// This server's identity.
    pub node: NodeId,
    /// This server's path to the origin, origin first.
    pub path: Vec<Hop>,
    /// The station's format, as for TUNED.
    pub format: (u16, u32),
}

/// What to put on the wire for a piece of work or an event.
#[derive(Debug)]
pub enum Outgoing {
    /// This frame.
    Frame(Message),
    /// The LIST_PAGEs of the whole library, or of the songs that match a SEARCH, page by
    /// page.
    List {
        /// The LIST's or SEARCH's id.
        id: RequestId,
        /// The library to list.
        library: Arc<Library>,
        /// A SEARCH's query; `None` lists every song.
        query: Option<String>,
    },
    /// These frames, in order.
    Frames(Vec<Message>),
    /// This GOODBYE, then close.
    Close(Goodbye),
    /// Nothing.
    Nothing,
}

/// One chunk of a [`Batch`], ready for an AUDIO head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkOut {
    /// Audio bytes of the stream sent before it.
    pub offset: u64,
    /// Where it starts in the song.
    pub position_ms: u32,
    /// Where its whole MP3 frames lie in [`Batch::song`]'s file.
    pub bytes: Range<u64>,
}

impl ChunkOut {
    /// Its data length.
    pub fn data_len(&self) -> usize {
        (self.bytes.end - self.bytes.start) as usize
    }
}

/// Audio to send in one write.
#[derive(Debug)]
pub struct Batch {
    /// The stream it belongs to.
    pub stream: StreamId,
    /// The song whose file the chunks point into.
    pub song: Arc<LoadedSong>,
    /// The chunks, in order (possibly none, when only the end is left).
    pub chunks: Vec<ChunkOut>,
    /// Set when the stream is complete after these chunks: send END_OF_STREAM.
    pub end: Option<EndOfStream>,
}

impl Batch {
    /// Where in the song this batch begins: what a PAUSE of a stream halted before it would
    /// report.
    pub fn position(&self) -> Duration {
        self.chunks
            .first()
            .map_or(self.song.end(), |chunk| Duration::from_millis(u64::from(chunk.position_ms)))
    }
}

/// Something of a radio stream to put on the wire, in order.
#[derive(Debug)]
pub enum RadioItem {
    /// Announce a song (sent before the chunk it names).
    Track(TrackChanged),
    /// An AUDIO frame: the head's fields and the shared data.
    Audio {
        /// Radio bytes of the stream sent before it.
        offset: u64,
        /// Station time of its first frame, modulo 2^32 (RFC §7.5.1).
        position_ms: u32,
        /// The frames.
        slice: Slice,
    },
}

/// Radio audio to send in one write.
#[derive(Debug)]
pub struct RadioBatch {
    /// The stream.
    pub stream: StreamId,
    /// What to send, in order.
    pub items: Vec<RadioItem>,
    /// Set when the station went off the air: end the stream after the items.
    pub end: Option<EndOfStream>,
}

/// What the writer should do about audio at `now`.
#[derive(Debug)]
pub enum Next {
    /// Write this, then ask again (after checking for replies to send).
    Send(Batch),
    /// Write this radio audio, then ask again.
    Radio(RadioBatch),
    /// Nothing is due before this instant.
    WaitUntil(Instant),
    /// Nothing is streaming.
    Idle,
}

/// The current stream of a connection.
#[derive(Debug)]
enum Current {
    /// Its audio goes out as real time reaches it.
    Sending(ActiveStream),
    /// Its song's file changed under the server, so it sends no more audio; it stays current
    /// until the client's STOP or PLAY ends it (see [`Session::halt`]). It stopped at the
    /// position given, in the song.
    Halted(StreamId, Duration),
    /// The station, as it goes on the air.
    Radio(Box<RadioStream>),
}

/// A connection's radio stream.
#[derive(Debug)]
struct RadioStream {
    id: StreamId,
    tuning: Tuning,
    /// Chunks received from the station and not yet sent: first the burst.
    pending: VecDeque<Slice>,
    /// Radio bytes sent: the next AUDIO's Offset.
    sent: u64,
    /// The newest song announced with TRACK_CHANGED (its airing's number).
    announced: u64,
    /// The next write is not before this.
    next_write: Instant,
    /// How much the listener holds, so it is written before it runs low.
    cushion: Cushion,
    /// For a relay: its place among this server's children. A relay's stream is written
    /// chunk by chunk as each goes on the air, so that every hop adds no more than the
    /// network's delay; its own listeners get their cushion from it.
    child: Option<ChildGuard>,
}

impl Current {
    fn id(&self) -> StreamId {
        match self {
            Current::Sending(stream) => stream.id,
            Current::Halted(id, _) => *id,
            Current::Radio(radio) => radio.id,
        }
    }
}

#[derive(Debug)]
struct ActiveStream {
    id: StreamId,
    song: Arc<LoadedSong>,
    /// Where the stream begins in the song: its first chunk is `from.chunk` cut at `from.byte`.
    from: SeekPoint,
    next_chunk: usize,
    /// t0 of RFC §7.3: when the stream's first frame would have started to sound at the
    /// client, moved later by every pause, so a resumed stream is paced as if it had not
    /// been paused.
    started: Instant,
    sent: u64,
    /// Chunks due before this instant go out in the current batch.
    horizon: Instant,
    /// Set while the client has it paused: since when. Nothing is sent meanwhile.
    paused: Option<Instant>,
}

impl ActiveStream {
    /// Chunk `index` of the stream: the song's chunk, the first one cut where the stream
    /// begins.
    fn chunk(&self, index: usize) -> Option<crate::library::song::Chunk> {
        let mut chunk = self.song.chunk(index)?;
        if index == self.from.chunk {
            chunk.bytes.start = self.from.byte;
            chunk.start = self.from.start;
        }
        Some(chunk)
    }

    /// Where in the song the next audio to send begins: PAUSED's and RESUMED's position.
    fn position(&self) -> Duration {
        self.chunk(self.next_chunk).map_or(self.song.end(), |chunk| chunk.start)
    }
}

/// Milliseconds as a u32 field holds them; a song longer than 49 days is cut to the limit.
fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// The streaming state of one connection.
#[derive(Debug, Default)]
pub struct Session {
    /// The last stream id given; ids are never reused on a connection (RFC §7.1).
    last_stream: u32,
    current: Option<Current>,
    /// The newest scan this client asked for and has not yet heard the end of.
    awaited_scan: Option<u32>,
    /// The newest scan result this connection has seen (announced or not, when it changed
    /// nothing): a RESCAN whose scan is already over is answered with it at once.
    latest_scan: Option<LibraryChanged>,
    /// The number of the newest scan that changed something that this connection has seen.
    seen_change: u32,
    /// What the client subscribed to, and which changes it has been told of (RFC §6.3.5).
    subscriber: Subscriber,
}

impl Session {
    /// A session whose last stream id was `last`, for tests of what happens near the end of
    /// the id space.
    pub fn after_stream(last: u32) -> Session {
        Session { last_stream: last, ..Session::default() }
    }

    /// What a piece of the reader's work puts on the wire, acting on it at `now`.
    pub fn apply(&mut self, work: Work, now: Instant) -> Outgoing {
        match work {
            Work::Reply(message) => Outgoing::Frame(message),
            Work::List { id, library } => Outgoing::List { id, library, query: None },
            Work::Search { id, library, text } => Outgoing::List { id, library, query: Some(text) },
            Work::Play { id, song, loaded, from, duration_ms, title, artist, gain } => {
                let total_bytes = loaded.bytes_from(&from);
                match self.play_from(loaded, from, now) {
                    Some(stream) => Outgoing::Frame(Message::Playing(Playing {
                        id,
                        stream,
                        song,
                        duration_ms,
                        total_bytes,
                        title,
                        artist,
                        start_ms: millis(from.start),
                        gain,
                    })),
                    None => Outgoing::Frame(Message::Error(ErrorReply {
                        id,
                        code: ErrorCode::StreamIdsExhausted,
                        message: "this connection has used every stream id; reconnect to play more".into(),
                    })),
                }
            }
            Work::Stop { id } => Outgoing::Frame(Message::Stopped(Stopped { id, stream: self.stop() })),
            Work::Pause { id } => Outgoing::Frame(match self.pause(now) {
                Ok((stream, at)) => Message::Paused(Paused { id, stream, position_ms: millis(at) }),
                Err(code) => refusal(id, code, "pause"),
            }),
            Work::Resume { id } => Outgoing::Frame(match self.resume(now) {
                Ok((stream, at)) => Message::Resumed(Resumed { id, stream, position_ms: millis(at) }),
                Err(code) => refusal(id, code, "resume"),
            }),
            Work::Scanning { id, scan } => {
                let scanning = Message::Scanning(Scanning { id, scan });
                // The scanner may finish before the reader has handed this reply over: then
                // its result follows the reply at once, so that SCANNING(n) is always
                // followed by a LIBRARY_CHANGED of scan n or later (RFC §6.1.5).
                match self.latest_scan.filter(|latest| latest.scan >= scan) {
                    Some(latest) => Outgoing::Frames(vec![scanning, Message::LibraryChanged(latest)]),
                    None => {
                        self.awaited_scan = Some(self.awaited_scan.map_or(scan, |a| a.max(scan)));
                        Outgoing::Frame(scanning)
                    }
                }
            }
            Work::Tune { id, tuning, format: (bitrate_kbps, sample_rate) } => match self.tune(*tuning, now) {
                Some(stream) => {
                    Outgoing::Frame(Message::Tuned(Tuned { id, stream, bitrate_kbps, sample_rate }))
                }
                None => ids_exhausted(id),
            },
            Work::Relay { id, feed } => {
                let RelayFeed { tuning, child, node, path, format: (bitrate_kbps, sample_rate) } = *feed;
                match self.tune(tuning, now) {
                    Some(stream) => {
                        if let Some(Current::Radio(radio)) = self.current.as_mut() {
                            radio.child = Some(child);
                        }
                        Outgoing::Frame(Message::Relayed(Relayed {
                            id,
                            stream,
                            bitrate_kbps,
                            sample_rate,
                            node,
                            path,
                        }))
                    }
                    None => ids_exhausted(id),
                }
            }
            Work::Queue { id, view } => Outgoing::Frames(
                QueuePage::paginate(id, view.now, &view.entries)
                    .into_iter()
                    .map(Message::QueuePage)
                    .collect(),
            ),
            Work::Subscribe { id, mask, at } => {
                let mask = self.subscriber.subscribe(mask, &at);
                Outgoing::Frame(Message::Subscribed(Subscribed { id, mask }))
            }
            Work::Goodbye(goodbye) => Outgoing::Close(goodbye),
        }
    }

    /// The subsystems the client subscribed to (and the server has): the writer listens for
    /// the station's wake-ups only when one of the station's is among them.
    pub fn subscribed(&self) -> Subsystems {
        self.subscriber.mask()
    }

    /// The EVENTs owed now that the server is as `now` says (RFC §6.3.5): at most one per
    /// subscribed subsystem that changed since the client was last told, with its newest value.
    pub fn notice(&mut self, now: &Snapshot) -> Outgoing {
        let mut events: Vec<Message> = self.subscriber.changes(now).into_iter().map(Message::Event).collect();
        match events.len() {
            0 => Outgoing::Nothing,
            1 => Outgoing::Frame(events.remove(0)),
            _ => Outgoing::Frames(events),
        }
    }

    /// The station's queue of a relay's stream, for the writer to wake on: a relay is written
    /// each chunk as it goes on the air. `None` for any other stream.
    pub fn relay_feed(&self) -> Option<crossbeam_channel::Receiver<Arc<Chunk>>> {
        match &self.current {
            Some(Current::Radio(radio)) if radio.child.is_some() => Some(radio.tuning.live.clone()),
            _ => None,
        }
    }

    /// A chunk the writer took from [`Session::relay_feed`] while it waited: it goes out next.
    pub fn relay_chunk(&mut self, chunk: Arc<Chunk>) {
        if let Some(Current::Radio(radio)) = self.current.as_mut() {
            radio.pending.push_back(Slice::whole(chunk));
        }
    }

    /// Starts a radio stream at `now`, replacing any current stream: the burst goes out at
    /// once. `None` once every stream id has been used.
    pub fn tune(&mut self, tuning: Tuning, now: Instant) -> Option<StreamId> {
        self.last_stream = self.last_stream.checked_add(1)?;
        let id = StreamId(self.last_stream);
        let pending = tuning.burst.iter().cloned().collect();
        let cushion = Cushion::new(now);
        let radio =
            RadioStream { id, tuning, pending, sent: 0, announced: 0, next_write: now, cushion, child: None };
        self.current = Some(Current::Radio(Box::new(radio)));
        Some(id)
    }

    /// Takes note of the scans that finished before this connection began: they are not news
    /// to it.
    pub fn scans_seen(&mut self, results: ScanResults) {
        self.latest_scan = results.latest;
        self.seen_change = results.latest_change.map_or(0, |c| c.scan);
    }

    /// What the scans that finished since the last call put on the wire (RFC §6.3.3): the
    /// newest that changed something, if this connection has not seen it, and the newest, if
    /// this connection waits for it (once, when both are the same scan).
    pub fn scans_finished(&mut self, results: ScanResults) -> Outgoing {
        let mut frames = Vec::new();
        if let Some(change) = results.latest_change.filter(|c| c.scan > self.seen_change) {
            self.seen_change = change.scan;
            frames.push(Message::LibraryChanged(change));
            if self.awaited_scan.is_some_and(|a| change.scan >= a) {
                self.awaited_scan = None;
            }
        }
        if let Some(latest) = results.latest {
            if self.latest_scan.is_none_or(|seen| latest.scan > seen.scan) {
                self.latest_scan = Some(latest);
            }
            if self.awaited_scan.is_some_and(|a| latest.scan >= a) {
                self.awaited_scan = None;
                frames.push(Message::LibraryChanged(latest));
            }
        }
        match frames.len() {
            0 => Outgoing::Nothing,
            1 => Outgoing::Frame(frames.remove(0)),
            _ => Outgoing::Frames(frames),
        }
    }

    /// [`Session::scans_finished`] for one scan.
    #[cfg(test)]
    fn scan_finished(&mut self, result: LibraryChanged) -> Outgoing {
        let latest_change = if result.changed_anything() { Some(result) } else { None };
        self.scans_finished(ScanResults { latest: Some(result), latest_change })
    }

    /// Starts a new stream of `song` at `now`, replacing any current one, and returns its id
    /// (never 0, never reused on this connection: RFC §7.1); `None` once all 2^32 - 1 ids
    /// have been used, and the current stream goes on.
    pub fn play(&mut self, song: Arc<LoadedSong>, now: Instant) -> Option<StreamId> {
        let from = SeekPoint::start_of(&song);
        self.play_from(song, from, now)
    }

    /// [`Session::play`] from `from`, a frame boundary in the song (RFC §6.1.12): the stream's
    /// first chunk is cut there, and it is paced from there, as if the song began there.
    pub fn play_from(&mut self, song: Arc<LoadedSong>, from: SeekPoint, now: Instant) -> Option<StreamId> {
        self.last_stream = self.last_stream.checked_add(1)?;
        let id = StreamId(self.last_stream);
        let stream = ActiveStream {
            id,
            song,
            from,
            next_chunk: from.chunk,
            started: now,
            sent: 0,
            horizon: now,
            paused: None,
        };
        self.current = Some(Current::Sending(stream));
        Some(id)
    }

    /// Pauses the current stream at `now` (RFC §6.1.10): it sends nothing until
    /// [`Session::resume`]. Returns the stream and where its next audio begins in the song;
    /// refused with NO_STREAM when nothing is current and LIVE_STREAM for the station, which
    /// does not wait for one listener. Pausing a paused stream changes nothing.
    pub fn pause(&mut self, now: Instant) -> Result<(StreamId, Duration), ErrorCode> {
        match self.current.as_mut() {
            None => Err(ErrorCode::NoStream),
            Some(Current::Radio(_)) => Err(ErrorCode::LiveStream),
            Some(Current::Halted(id, at)) => Ok((*id, *at)),
            Some(Current::Sending(stream)) => {
                stream.paused.get_or_insert(now);
                Ok((stream.id, stream.position()))
            }
        }
    }

    /// Goes on with a paused stream at `now` (RFC §6.1.11): its clock moves on by the time it
    /// was paused, so the client, which kept what it held, holds as much ahead as when it
    /// paused, and no burst is sent. The refusals are [`Session::pause`]'s; resuming a stream
    /// that is not paused changes nothing.
    pub fn resume(&mut self, now: Instant) -> Result<(StreamId, Duration), ErrorCode> {
        match self.current.as_mut() {
            None => Err(ErrorCode::NoStream),
            Some(Current::Radio(_)) => Err(ErrorCode::LiveStream),
            Some(Current::Halted(id, at)) => Ok((*id, *at)),
            Some(Current::Sending(stream)) => {
                if let Some(since) = stream.paused.take() {
                    let paused_for = now.saturating_duration_since(since);
                    stream.started += paused_for;
                    stream.horizon += paused_for;
                }
                Ok((stream.id, stream.position()))
            }
        }
    }

    /// Whether the current stream is paused.
    pub fn is_paused(&self) -> bool {
        matches!(&self.current, Some(Current::Sending(stream)) if stream.paused.is_some())
    }

    /// The PLAYING of `stream` has been handed to TCP at `now`: t0 of RFC §7.3, from which the
    /// stream is paced. (It was started when the PLAY was applied; the write may have waited.)
    pub fn playing_sent(&mut self, stream: StreamId, now: Instant) {
        if let Some(Current::Sending(active)) = self.current.as_mut()
            && active.id == stream
            && active.sent == 0
        {
            active.started = now;
            active.horizon = now;
        }
    }

    /// Ends the current stream, returning its id if there was one.
    pub fn stop(&mut self) -> Option<StreamId> {
        self.current.take().map(|s| s.id())
    }

    /// The current stream, if any.
    pub fn current(&self) -> Option<StreamId> {
        self.current.as_ref().map(Current::id)
    }

    /// Stops sending the audio of `stream`, whose last batch could not be read (its song's
    /// file was truncated or changed under the server); call it right after the [`Next::Send`]
    /// of that batch, instead of sending it, with the batch's [`Batch::position`].
    ///
    /// RFC.md has no message that ends a stream early: END_OF_STREAM must carry PLAYING's
    /// total, which can no longer be reached, and STOPPED and ERROR answer requests. So the
    /// stream stays current, silent, as if the server had stalled (RFC §7.3 allows a server to
    /// fall behind), and ends as any stream does: the client's STOP is answered with its id,
    /// its PLAY replaces it. The connection and its other requests go on.
    pub fn halt(&mut self, stream: StreamId, position: Duration) {
        // The batch may have ended the stream (it held the last chunk): the END_OF_STREAM it
        // carried is not sent, so the stream is current again. A newer stream is left alone.
        if self.current.as_ref().is_none_or(|current| current.id() == stream) {
            self.current = Some(Current::Halted(stream, position));
        }
    }

    /// The audio to write at `now`. A chunk is due once the clock is within [`LEAD`] of the
    /// chunk's end; when one is due, the chunks due within the next [`BATCH`] go out with it,
    /// so the stream never runs more than `LEAD + BATCH` ahead of real time. One batch holds
    /// at most [`MAX_WRITE_AUDIO`] of audio.
    pub fn next(&mut self, now: Instant) -> Next {
        if let Some(Current::Radio(radio)) = self.current.as_mut() {
            let next = radio_next(radio, now);
            if matches!(&next, Next::Radio(batch) if batch.end.is_some()) {
                self.current = None;
            }
            return next;
        }
        let Some(Current::Sending(stream)) = self.current.as_mut() else { return Next::Idle };
        if stream.paused.is_some() {
            // Nothing is due until a RESUME, which comes as work and wakes the writer.
            return Next::Idle;
        }
        let mut chunks = Vec::new();
        let mut carried = Duration::ZERO;
        let mut bytes = 0;
        let song = Arc::clone(&stream.song);
        while let Some(chunk) = stream.chunk(stream.next_chunk) {
            // Paced from the stream's first frame, which is not the song's after a SEEK.
            let due = stream.started + chunk.end.saturating_sub(stream.from.start).saturating_sub(LEAD);
            if due <= now {
                stream.horizon = stream.horizon.max(now + BATCH);
            } else if due > stream.horizon {
                if chunks.is_empty() {
                    return Next::WaitUntil(due);
                }
                break;
            }
            let length = chunk.end.saturating_sub(chunk.start);
            let len = (chunk.bytes.end - chunk.bytes.start) as usize;
            if !chunks.is_empty() && (carried + length > MAX_WRITE_AUDIO || bytes + len > MAX_WRITE_BYTES) {
                break;
            }
            carried += length;
            bytes += len;
            chunks.push(ChunkOut {
                offset: stream.sent,
                position_ms: millis(chunk.start),
                bytes: chunk.bytes,
            });
            stream.sent += len as u64;
            stream.next_chunk += 1;
        }
        let id = stream.id;
        let end = (stream.next_chunk >= song.chunk_count())
            .then_some(EndOfStream { stream: id, total_bytes: stream.sent });
        if end.is_some() {
            self.current = None;
        }
        Next::Send(Batch { stream: id, song, chunks, end })
    }
}

/// The ERROR that refuses a PAUSE or a RESUME (`what`) with `code`, in words.
fn refusal(id: RequestId, code: ErrorCode, what: &str) -> Message {
    let message = match code {
        ErrorCode::LiveStream => {
            format!("the station is live and cannot {what}: it plays to every listener at once")
        }
        _ => format!("nothing is playing to {what}"),
    };
    Message::Error(ErrorReply { id, code, message })
}

fn ids_exhausted(id: RequestId) -> Outgoing {
    Outgoing::Frame(Message::Error(ErrorReply {
        id,
        code: ErrorCode::StreamIdsExhausted,
        message: "this connection has used every stream id; reconnect to listen".into(),
    }))
}

/// The radio audio to write at `now`: whatever the station has put on the air since the last
/// write, at most every [`crate::radio::WRITE_EVERY`] (the burst at once), with a TRACK_CHANGED before the
/// chunk in which each song is first heard (RFC §7.5.2).
fn radio_next(radio: &mut RadioStream, now: Instant) -> Next {
    // A relay is written whenever a chunk is there.
    if now < radio.next_write && radio.child.is_none() {
        return Next::WaitUntil(radio.next_write);
    }
    if radio.tuning.take_lag() {
        // The station dropped chunks for this listener: skip forward to live (RFC §7.5.4).
        radio.pending.clear();
    }
    let mut off_air = false;
    loop {
        match radio.tuning.live.try_recv() {
            Ok(chunk) => radio.pending.push_back(Slice::whole(chunk)),
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Disconnected) => {
                off_air = true;
                break;
            }
        }
    }
    radio.next_write = match radio.child {
        // A relay's writer wakes when a chunk comes (Session::relay_feed); this is a fallback.
        Some(_) => now + WRITE_EVERY,
        None => radio.cushion.next_write(now),
    };
    if radio.pending.is_empty() && !off_air {
        return Next::WaitUntil(radio.next_write);
    }
    let mut items = Vec::new();
    let (mut bytes, mut carried) = (0, Duration::ZERO);
    while let Some(slice) = radio.pending.front() {
        let len = slice.data().len();
        if bytes > 0 && (bytes + len > MAX_WRITE_BYTES || carried + slice.duration() > MAX_WRITE_AUDIO) {
            // The rest goes in the next write, at once: a reply never waits behind more than
            // one write of MAX_WRITE_AUDIO (RFC §7.4 rule 5).
            radio.next_write = now;
            break;
        }
        let Some(slice) = radio.pending.pop_front() else { break };
        carried += slice.duration();
        radio.cushion.sent(slice.duration());
        // A slice that starts inside a chunk where a song begins starts in that song (the chunk
        // was cut where it begins): the song before is not heard and not announced.
        let before = (slice.start == 0 || slice.chunk.starts.is_none()).then_some(&slice.chunk.airing);
        let heard = [before, slice.chunk.starts.as_ref()];
        for airing in heard.into_iter().flatten() {
            if airing.seq > radio.announced {
                radio.announced = airing.seq;
                items.push(RadioItem::Track(TrackChanged {
                    stream: radio.id,
                    offset: radio.sent,
                    position_ms: airing.start_ms as u32,
                    track: airing.track.clone(),
                }));
            }
        }
        items.push(RadioItem::Audio { offset: radio.sent, position_ms: slice.position_ms as u32, slice });
        radio.sent += len as u64;
        bytes += len;
    }
    if radio.next_write > now && radio.child.is_none() {
        radio.next_write = radio.cushion.next_write(now);
    }
    let end = (off_air && radio.pending.is_empty())
        .then_some(EndOfStream { stream: radio.id, total_bytes: radio.sent });
    Next::Radio(RadioBatch { stream: radio.id, items, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten seconds of 128 kbit/s, 44.1 kHz frames.
    fn song() -> Arc<LoadedSong> {
        let mut bytes = Vec::new();
        for _ in 0..383 {
            let start = bytes.len();
            bytes.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
            bytes.resize(start + 417, 0);
        }
        Arc::new(LoadedSong::from_bytes(bytes, 0).unwrap())
    }

    /// Sends everything due at `now`, batch after batch; returns the bytes sent, the number
    /// of batches, and when the next is due.
    fn drain(session: &mut Session, now: Instant) -> (usize, usize, Option<Instant>) {
        let (mut sent, mut batches) = (0, 0);
        loop {
            match session.next(now) {
                Next::Send(batch) => {
                    batches += 1;
                    sent += batch.chunks.iter().map(ChunkOut::data_len).sum::<usize>();
                    if batch.end.is_some() {
                        return (sent, batches, None);
                    }
                }
                Next::WaitUntil(at) => return (sent, batches, Some(at)),
                Next::Idle | Next::Radio(_) => return (sent, batches, None),
            }
        }
    }

    mod radio {
        use super::*;
        use crate::radio::WRITE_EVERY;
        use crate::radio::hub::{Hub, Via};
        use crate::radio::{Airing, Chunk};
        use jukebox_protocol::Track;

        fn airing(seq: u64, start_ms: u64) -> Arc<Airing> {
            let track = Track {
                song: SongId(seq as u32),
                duration_ms: 5000,
                title: format!("song {seq}"),
                artist: String::new(),
            };
            Arc::new(Airing { seq, track, album: String::new(), start_ms })
        }

        /// A chunk of eight 417-byte frames at station time `n` × 209 ms.
        fn chunk(n: u64, airing: &Arc<Airing>, starts: Option<&Arc<Airing>>) -> Arc<Chunk> {
            let mut data = Vec::new();
            for _ in 0..8 {
                let start = data.len();
                data.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
                data.resize(start + 417, 0);
            }
            Arc::new(Chunk {
                position_ms: n * 209,
                duration: Duration::from_millis(209),
                data: Arc::from(data),
                airing: Arc::clone(airing),
                starts: starts.cloned(),
            })
        }

        fn batch(session: &mut Session, now: Instant) -> Option<RadioBatch> {
            match session.next(now) {
                Next::Radio(batch) => Some(batch),
                _ => None,
            }
        }

        #[test]
        fn the_burst_goes_at_once_then_the_air_every_radio_batch_with_songs_announced_before_their_audio() {
            let hub = Hub::new(Duration::from_secs(8), Duration::from_millis(209));
            let (one, two) = (airing(1, 0), airing(2, 16 * 209 + 10));
            for n in 0..16 {
                hub.publish(chunk(n, &one, None));
            }
            let t0 = Instant::now();
            let mut session = Session::default();
            // A whole burst: the 11 chunks from 5 on, 2.3 s.
            let stream = session.tune(hub.subscribe(5 * 209, Via::Native), t0).unwrap();
            let burst = batch(&mut session, t0).expect("the burst at once");
            assert_eq!(burst.stream, stream);
            // The song heard first is announced at offset 0, before any audio.
            assert!(
                matches!(&burst.items[0], RadioItem::Track(t) if t.offset == 0 && t.track.song == SongId(1))
            );
            let audio: Vec<(u64, u32)> = burst
                .items
                .iter()
                .filter_map(|i| match i {
                    RadioItem::Audio { offset, position_ms, .. } => Some((*offset, *position_ms)),
                    RadioItem::Track(_) => None,
                })
                .collect();
            let expected: Vec<(u64, u32)> = (0..11).map(|i| (i * 3336, (5 + i as u32) * 209)).collect();
            assert_eq!(audio, expected, "chunks 5 to 15, offsets contiguous");
            // Nothing more before WRITE_EVERY (when the listener's cushion gets down to
            // MIN_CUSHION), even with new audio on the air.
            hub.publish(chunk(16, &one, Some(&two)));
            hub.publish(chunk(17, &two, None));
            let Next::WaitUntil(due) = session.next(t0 + WRITE_EVERY / 2) else { panic!("a wait") };
            let cushion_low = t0 + Duration::from_millis(11 * 209) - crate::radio::MIN_CUSHION;
            assert!(
                due == cushion_low.min(t0 + WRITE_EVERY)
                    && due + Duration::from_millis(10) > t0 + WRITE_EVERY
            );
            let next = batch(&mut session, due).expect("the air since");
            // The new song is announced once, before the chunk it begins in, naming its offset.
            let kinds: Vec<String> = next
                .items
                .iter()
                .map(|i| match i {
                    RadioItem::Track(t) => format!("track {} at {}", t.track.song, t.offset),
                    RadioItem::Audio { offset, .. } => format!("audio at {offset}"),
                })
                .collect();
            assert_eq!(kinds, ["track 2 at 36696", "audio at 36696", "audio at 40032"]);
            assert!(matches!(&next.items[0], RadioItem::Track(t) if t.position_ms == 16 * 209 + 10));
        }

        #[test]
        fn a_listener_who_lagged_skips_to_live_and_one_whose_station_stopped_gets_its_end() {
            let hub = Hub::new(Duration::from_millis(500), Duration::from_millis(209));
            let one = airing(1, 0);
            let t0 = Instant::now();
            let mut session = Session::default();
            session.tune(hub.subscribe(0, Via::Native), t0).unwrap();
            for n in 0..10 {
                hub.publish(chunk(n, &one, None));
            }
            let after_lag = batch(&mut session, t0).map(|b| b.items.len()).unwrap_or(0);
            assert_eq!(after_lag, 0, "the backlog was dropped");
            hub.publish(chunk(10, &one, None));
            let later = t0 + WRITE_EVERY;
            let live = batch(&mut session, later).expect("live again");
            assert!(
                matches!(live.items.last(), Some(RadioItem::Audio { position_ms: 2090, offset: 0, .. })),
                "position jumps, offset stays contiguous"
            );
            hub.close_all();
            drop(hub);
            let end = batch(&mut session, later + WRITE_EVERY).expect("the end");
            assert_eq!(end.end.map(|e| e.total_bytes), Some(3336));
            assert!(session.current().is_none());
        }
    }

    const RATE: f64 = 16_000.0; // bytes per second of the test song

    #[test]
    fn a_burst_of_lead_plus_batch_then_one_batch_at_a_time() {
        let ahead = (LEAD + BATCH).as_secs_f64();
        let t0 = Instant::now();
        let mut session = Session::default();
        session.play(song(), t0);
        let (burst, batches, next) = drain(&mut session, t0);
        assert_eq!(batches, 1, "the burst is one write");
        // LEAD + BATCH of audio at once, never more.
        let burst_secs = burst as f64 / RATE;
        assert!(burst_secs <= ahead && burst_secs > ahead - 0.3, "burst of {burst_secs:.2} s");
        let next = next.expect("more to come");
        let wait = next - t0;
        assert!(wait >= BATCH.mul_f64(0.9) && wait <= BATCH + Duration::from_millis(250), "{wait:?}");
        // Nothing goes out before that: a wake-up for a reply sends no audio.
        assert_eq!(drain(&mut session, t0 + BATCH / 2).0, 0);
        // At the next wake-up, about one more BATCH of audio goes out.
        let (batch, _, after) = drain(&mut session, next);
        let batch_secs = batch as f64 / RATE;
        assert!((batch_secs - BATCH.as_secs_f64()).abs() < 0.3, "batch of {batch_secs:.2} s");
        assert!(after.expect("more to come") >= next + BATCH.mul_f64(0.9));
        // Never more than LEAD + BATCH ahead of real time, inside the protocol's MAX_LEAD;
        // and just before each write, still at least MIN_LEAD ahead (RFC §7.3's floor).
        assert!(LEAD + BATCH < jukebox_protocol::frame::MAX_LEAD);
        let ahead_before_write =
            (burst + batch) as f64 / RATE - (after.expect("more to come") - t0).as_secs_f64();
        assert!(
            ahead_before_write >= jukebox_protocol::frame::MIN_LEAD.as_secs_f64(),
            "{ahead_before_write:.2} s ahead just before a write"
        );
    }

    #[test]
    fn after_a_stall_the_backlog_goes_out_in_bounded_writes() {
        let t0 = Instant::now();
        let mut session = Session::default();
        session.play(song(), t0);
        drain(&mut session, t0);
        // The writer was blocked for 5 s: 5 s of audio are overdue, plus the next batch.
        let mut writes = Vec::new();
        while let Next::Send(batch) = session.next(t0 + Duration::from_secs(5)) {
            writes.push(batch.chunks.iter().map(ChunkOut::data_len).sum::<usize>() as f64 / RATE);
        }
        assert!(writes.len() >= 2, "{writes:?}");
        assert!(writes.iter().all(|&s| s <= MAX_WRITE_AUDIO.as_secs_f64() + 0.01), "{writes:?}");
    }

    #[test]
    fn offsets_are_contiguous_and_the_end_counts_every_byte() {
        let t0 = Instant::now();
        let mut session = Session::default();
        let id = session.play(song(), t0).unwrap();
        let later = t0 + Duration::from_secs(60);
        let mut expected_offset = 0;
        loop {
            let Next::Send(batch) = session.next(later) else { panic!("the song is due whole") };
            assert_eq!(batch.stream, id);
            for chunk in &batch.chunks {
                assert_eq!(chunk.offset, expected_offset);
                expected_offset += chunk.data_len() as u64;
            }
            if let Some(end) = batch.end {
                assert_eq!(end, EndOfStream { stream: id, total_bytes: 383 * 417 });
                break;
            }
        }
        assert!(matches!(session.next(later), Next::Idle));
    }

    #[test]
    fn at_the_highest_bitrate_a_header_allows_a_write_is_4_s_and_max_write_bytes() {
        // MPEG-1 Layer I, 448 kbit/s, 48 kHz, padded: 452-byte frames of 8 ms, for 16 s.
        let mut bytes = Vec::new();
        for _ in 0..2000 {
            let start = bytes.len();
            bytes.extend_from_slice(&[0xFF, 0xFF, 0xE6, 0x00]);
            bytes.resize(start + 452, 0);
        }
        let t0 = Instant::now();
        let mut session = Session::default();
        session.play(Arc::new(LoadedSong::from_bytes(bytes, 0).unwrap()), t0);
        let Next::Send(burst) = session.next(t0) else { panic!("a burst") };
        assert_eq!(burst.chunks.iter().map(ChunkOut::data_len).sum::<usize>(), MAX_WRITE_BYTES);
        // After a stall, every write stays within the bound.
        let later = t0 + Duration::from_secs(20);
        while let Next::Send(batch) = session.next(later) {
            assert!(batch.chunks.iter().map(ChunkOut::data_len).sum::<usize>() <= MAX_WRITE_BYTES);
        }
    }

    #[test]
    fn a_halted_stream_sends_nothing_more_and_ends_with_stop() {
        let t0 = Instant::now();
        let mut session = Session::default();
        let id = session.play(song(), t0).unwrap();
        let Next::Send(batch) = session.next(t0) else { panic!("a burst") };
        session.halt(batch.stream, Duration::ZERO);
        assert!(matches!(session.next(t0 + Duration::from_secs(60)), Next::Idle));
        assert_eq!(session.current(), Some(id));
        assert_eq!(session.stop(), Some(id));
        // A batch that would have ended the stream: the stream is current again, so that
        // STOP does not claim it ended with an END_OF_STREAM the client never got.
        let id = session.play(song(), t0).unwrap();
        let last = loop {
            let Next::Send(batch) = session.next(t0 + Duration::from_secs(60)) else { panic!("due") };
            if batch.end.is_some() {
                break batch;
            }
        };
        assert_eq!(session.current(), None);
        session.halt(last.stream, Duration::ZERO);
        assert_eq!(session.current(), Some(id));
        // A PLAY replaces it as any stream.
        let next = session.play(song(), t0).unwrap();
        session.halt(id, Duration::ZERO);
        assert!(matches!(session.next(t0), Next::Send(b) if b.stream == next), "a newer stream goes on");
    }

    #[test]
    fn play_replaces_the_stream_and_no_audio_of_the_old_one_follows() {
        let t0 = Instant::now();
        let mut session = Session::default();
        let first = session.play(song(), t0).unwrap();
        assert!(matches!(session.next(t0), Next::Send(b) if b.stream == first));
        let second = session.play(song(), t0).unwrap();
        assert_ne!(first, second);
        match session.next(t0) {
            Next::Send(batch) => {
                assert_eq!(batch.stream, second);
                assert_eq!((batch.chunks[0].offset, batch.chunks[0].position_ms), (0, 0));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(session.stop(), Some(second));
        assert_eq!(session.stop(), None);
        assert!(matches!(session.next(t0), Next::Idle));
    }

    #[test]
    fn a_stream_is_paced_from_the_moment_its_playing_was_sent() {
        let t0 = Instant::now();
        let mut session = Session::default();
        let id = session.play(song(), t0).unwrap();
        // The PLAYING took 3 s to go out (a client that did not read): the burst is still
        // LEAD + BATCH ahead of that moment, not 3 s more.
        let sent = t0 + Duration::from_secs(3);
        session.playing_sent(id, sent);
        let (burst, _, next) = drain(&mut session, sent);
        assert!(burst as f64 / RATE <= (LEAD + BATCH).as_secs_f64(), "{burst} bytes");
        assert!(next.expect("more to come") >= sent + BATCH.mul_f64(0.9));
    }

    /// The AUDIO (offset, position ms, length) of everything due at `now`.
    fn sent(session: &mut Session, now: Instant) -> Vec<(u64, u32, usize)> {
        let mut out = Vec::new();
        while let Next::Send(batch) = session.next(now) {
            out.extend(batch.chunks.iter().map(|c| (c.offset, c.position_ms, c.data_len())));
            if batch.end.is_some() {
                break;
            }
        }
        out
    }

    #[test]
    fn a_paused_stream_sends_nothing_and_resumes_with_contiguous_offsets_paced_from_the_resume() {
        let t0 = Instant::now();
        let mut session = Session::default();
        let id = session.play(song(), t0).unwrap();
        let burst = sent(&mut session, t0);
        let next_due = match session.next(t0) {
            Next::WaitUntil(at) => at,
            other => panic!("a wait, got {other:?}"),
        };
        // Paused 1 s in: where the server stopped is the end of the burst.
        let paused_at = t0 + Duration::from_secs(1);
        let (last_offset, last_position, last_len) = *burst.last().unwrap();
        let end_of_burst = song().chunk(burst.len()).unwrap().start;
        assert_eq!(session.pause(paused_at), Ok((id, end_of_burst)));
        assert!(session.is_paused());
        // Nothing goes out while paused, however long: not even what fell due.
        assert!(matches!(session.next(t0 + Duration::from_secs(60)), Next::Idle));
        // Idempotent: a second PAUSE changes nothing, not even when the pause began.
        assert_eq!(session.pause(t0 + Duration::from_secs(5)), Ok((id, end_of_burst)));
        // Resumed 30 s later: the schedule moves on by 30 s, no burst.
        let resumed_at = paused_at + Duration::from_secs(30);
        assert_eq!(session.resume(resumed_at), Ok((id, end_of_burst)));
        assert!(!session.is_paused());
        assert!(sent(&mut session, resumed_at).is_empty(), "no burst after a resume");
        let Next::WaitUntil(due) = session.next(resumed_at) else { panic!("a wait") };
        assert_eq!(due, next_due + Duration::from_secs(30));
        let after = sent(&mut session, due);
        // The first chunk after the pause follows the last before it, byte for byte.
        assert_eq!(after[0].0, last_offset + last_len as u64);
        assert!(after[0].1 > last_position);
        assert_eq!(after[0].1, end_of_burst.as_millis() as u32);
        let seconds = after.iter().map(|c| c.2).sum::<usize>() as f64 / RATE;
        assert!((seconds - BATCH.as_secs_f64()).abs() < 0.3, "one batch after the resume: {seconds:.2} s");
        // Resuming a stream that plays changes nothing.
        let Next::WaitUntil(next) = session.next(due) else { panic!("a wait") };
        assert!(session.resume(due + Duration::from_secs(9)).is_ok());
        assert!(matches!(session.next(due), Next::WaitUntil(at) if at == next));
    }

    #[test]
    fn a_play_while_paused_replaces_the_stream_and_is_not_paused() {
        let t0 = Instant::now();
        let mut session = Session::default();
        let first = session.play(song(), t0).unwrap();
        sent(&mut session, t0);
        session.pause(t0).unwrap();
        let second = session.play(song(), t0 + Duration::from_secs(3)).unwrap();
        assert_ne!(first, second);
        assert!(!session.is_paused());
        let burst = sent(&mut session, t0 + Duration::from_secs(3));
        assert_eq!((burst[0].0, burst[0].1), (0, 0), "the new stream from its start, at once");
        // STOP ends a paused stream as any other; nothing is left to pause.
        session.pause(t0 + Duration::from_secs(4)).unwrap();
        assert_eq!(session.stop(), Some(second));
        assert_eq!(session.pause(t0), Err(ErrorCode::NoStream));
        assert_eq!(session.resume(t0), Err(ErrorCode::NoStream));
    }

    #[test]
    fn pause_and_resume_are_refused_without_a_stream_and_on_the_radio_in_words() {
        let t0 = Instant::now();
        let mut session = Session::default();
        let refused = |outgoing: Outgoing| match outgoing {
            Outgoing::Frame(Message::Error(e)) => (e.id, e.code, e.message),
            other => panic!("an ERROR, got {other:?}"),
        };
        let (id, code, message) = refused(session.apply(Work::Pause { id: RequestId(3) }, t0));
        assert_eq!((id, code), (RequestId(3), ErrorCode::NoStream));
        assert_eq!(message, "nothing is playing to pause");
        // A song sent whole is no stream any more.
        session.play(song(), t0).unwrap();
        sent(&mut session, t0 + Duration::from_secs(60));
        assert_eq!(session.resume(t0), Err(ErrorCode::NoStream));
        // The station.
        let hub = crate::radio::hub::Hub::new(Duration::from_secs(8), Duration::from_millis(209));
        session.tune(hub.subscribe(0, crate::radio::hub::Via::Native), t0).unwrap();
        let (_, code, message) = refused(session.apply(Work::Resume { id: RequestId(4) }, t0));
        assert_eq!(code, ErrorCode::LiveStream);
        assert!(message.contains("live"), "{message}");
        assert_eq!(session.pause(t0), Err(ErrorCode::LiveStream));
    }

    #[test]
    fn a_halted_stream_pauses_at_the_batch_it_could_not_send() {
        let t0 = Instant::now();
        let mut session = Session::default();
        let id = session.play(song(), t0).unwrap();
        let Next::Send(batch) = session.next(t0) else { panic!("a burst") };
        session.halt(batch.stream, batch.position());
        assert_eq!(session.pause(t0), Ok((id, Duration::ZERO)));
        assert_eq!(session.resume(t0), Ok((id, Duration::ZERO)));
    }

    #[test]
    fn a_seek_stream_starts_at_its_frame_and_is_paced_from_there() {
        let t0 = Instant::now();
        let mut session = Session::default();
        let loaded = song();
        // 5 s into the 10 s song: frame 191, the 8th frame of chunk 23.
        let from = loaded.seek(Duration::from_secs(5)).unwrap();
        assert_eq!(from.byte, 191 * 417);
        let work = Work::Play {
            id: RequestId(5),
            song: SongId(1),
            loaded: Arc::clone(&loaded),
            from,
            duration_ms: 10_000,
            title: String::new(),
            artist: String::new(),
            gain: ReplayGain::default(),
        };
        let Outgoing::Frame(Message::Playing(playing)) = session.apply(work, t0) else { panic!("PLAYING") };
        assert_eq!(playing.start_ms, 4989, "191 frames of 26.12 ms");
        assert_eq!(playing.total_bytes, (383 - 191) * 417);
        let burst = sent(&mut session, t0);
        // Offsets from 0, positions in the song, the first chunk cut at the frame.
        assert_eq!(burst[0], (0, 4989, 417));
        assert_eq!(burst[1].0, 417);
        // Paced from the stream's first frame: a burst of LEAD + BATCH, not the song's 9 s.
        let seconds = burst.iter().map(|c| c.2).sum::<usize>() as f64 / RATE;
        let ahead = (LEAD + BATCH).as_secs_f64();
        assert!(seconds <= ahead && seconds > ahead - 0.3, "burst of {seconds:.2} s");
        // The rest adds up to PLAYING's Total Bytes.
        let rest = sent(&mut session, t0 + Duration::from_secs(60));
        let total: usize = burst.iter().chain(&rest).map(|c| c.2).sum();
        assert_eq!(total as u64, playing.total_bytes);
    }

    #[test]
    fn stream_ids_are_never_reused_even_after_four_billion_plays() {
        let t0 = Instant::now();
        let mut session = Session::after_stream(u32::MAX - 1);
        assert_eq!(session.play(song(), t0), Some(StreamId(u32::MAX)));
        // The id space is used up: the PLAY fails and the current stream goes on.
        let loaded = song();
        let work = Work::Play {
            id: RequestId(9),
            song: SongId(1),
            from: SeekPoint::start_of(&loaded),
            loaded,
            duration_ms: 1,
            title: String::new(),
            artist: String::new(),
            gain: ReplayGain::default(),
        };
        match session.apply(work, t0) {
            Outgoing::Frame(Message::Error(e)) => {
                assert_eq!((e.id, e.code), (RequestId(9), ErrorCode::StreamIdsExhausted))
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(session.current(), Some(StreamId(u32::MAX)));
    }

    #[test]
    fn a_scan_is_announced_when_it_changed_something_or_was_asked_for() {
        let mut session = Session::default();
        let quiet = LibraryChanged { scan: 3, songs: 4, added: 0, removed: 0, updated: 0 };
        assert!(matches!(session.scan_finished(quiet), Outgoing::Nothing));
        let reply = session.apply(Work::Scanning { id: RequestId(2), scan: 4 }, Instant::now());
        assert!(matches!(reply, Outgoing::Frame(Message::Scanning(Scanning { id: RequestId(2), scan: 4 }))));
        let asked = LibraryChanged { scan: 4, ..quiet };
        assert!(
            matches!(session.scan_finished(asked), Outgoing::Frame(Message::LibraryChanged(m)) if m == asked)
        );
        assert!(matches!(session.scan_finished(LibraryChanged { scan: 5, ..quiet }), Outgoing::Nothing));
        // A scan that ended before its SCANNING reply was handed over follows the reply.
        let reply = session.apply(Work::Scanning { id: RequestId(3), scan: 5 }, Instant::now());
        assert!(matches!(
            reply,
            Outgoing::Frames(frames) if frames == [
                Message::Scanning(Scanning { id: RequestId(3), scan: 5 }),
                Message::LibraryChanged(LibraryChanged { scan: 5, ..quiet }),
            ]
        ));
        let busy = LibraryChanged { scan: 6, added: 1, ..quiet };
        assert!(
            matches!(session.scan_finished(busy), Outgoing::Frame(Message::LibraryChanged(m)) if m == busy)
        );
    }

    #[test]
    fn a_subscribe_is_answered_with_what_was_granted_and_later_changes_are_events() {
        use crate::native::events::Snapshot;
        use crate::radio::Changes;
        use jukebox_protocol::{Event, Subsystems};
        let relay = |library: u32, songs: u64| Snapshot {
            offered: Subsystems::LIBRARY | Subsystems::STATION_SONG,
            library,
            station: Changes { songs, on_air: Some(SongId(4)), queue: 0, waiting: 0 },
        };
        let mut session = Session::default();
        assert!(session.subscribed().is_empty());
        assert!(matches!(session.notice(&relay(2, 2)), Outgoing::Nothing), "nothing asked, nothing told");
        let work = Work::Subscribe { id: RequestId(7), mask: Subsystems(0xFF), at: relay(2, 2) };
        match session.apply(work, Instant::now()) {
            Outgoing::Frame(Message::Subscribed(s)) => {
                assert_eq!((s.id, s.mask), (RequestId(7), Subsystems::LIBRARY | Subsystems::STATION_SONG))
            }
            other => panic!("expected SUBSCRIBED, got {other:?}"),
        }
        assert!(matches!(session.notice(&relay(2, 2)), Outgoing::Nothing));
        assert!(matches!(
            session.notice(&relay(2, 3)),
            Outgoing::Frame(Message::Event(Event::StationSong { song: Some(SongId(4)) }))
        ));
        match session.notice(&relay(3, 9)) {
            Outgoing::Frames(frames) => assert_eq!(
                frames,
                [
                    Message::Event(Event::Library { scan: 3 }),
                    Message::Event(Event::StationSong { song: Some(SongId(4)) })
                ]
            ),
            other => panic!("two EVENTs, got {other:?}"),
        }
    }

    #[test]
    fn scans_that_finished_while_the_writer_was_busy_are_announced_as_their_newest() {
        let mut session = Session::default();
        let base = LibraryChanged { scan: 1, songs: 4, added: 0, removed: 0, updated: 0 };
        session.scans_seen(ScanResults { latest: Some(base), latest_change: None });
        session.apply(Work::Scanning { id: RequestId(1), scan: 3 }, Instant::now());
        // Scans 2 (a change), 3 (nothing) and 4 (a change) finished before the writer woke.
        let change = LibraryChanged { scan: 4, added: 2, songs: 6, ..base };
        let results =
            ScanResults { latest: Some(LibraryChanged { scan: 4, ..change }), latest_change: Some(change) };
        match session.scans_finished(results) {
            Outgoing::Frame(Message::LibraryChanged(m)) => assert_eq!(m, change),
            other => panic!("one LIBRARY_CHANGED for the change and the awaited scan, got {other:?}"),
        }
        // Nothing is announced twice.
        assert!(matches!(session.scans_finished(results), Outgoing::Nothing));
        // A quiet scan after an old change: the client waiting for it hears of it alone.
        session.apply(Work::Scanning { id: RequestId(2), scan: 5 }, Instant::now());
        let quiet = LibraryChanged { scan: 5, songs: 6, ..base };
        match session.scans_finished(ScanResults { latest: Some(quiet), latest_change: Some(change) }) {
            Outgoing::Frame(Message::LibraryChanged(m)) => assert_eq!(m, quiet),
            other => panic!("expected the quiet scan, got {other:?}"),
        }
    }
}
