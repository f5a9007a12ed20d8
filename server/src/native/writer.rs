//! The writer thread of a connection: the only code that writes to its socket after the
//! handshake. It carries out what the [`Session`] decides: replies first, then at most one
//! write of audio, then replies again, so a reply waits behind at most one write of audio
//! (RFC §7.4 rule 5). It blocks only in `write` (bounded by [`WRITE_TIMEOUT`]), in
//! `select!` over the reader's work, the shutdown signal, the library's scan results, the
//! station's changes (only while its client subscribed to them) and the next chunk's deadline,
//! and in reading one batch of a song that streams from disk (`Writer::write_batch`).
//!
//! EVENTs (RFC §6.3.5) are made where LIBRARY_CHANGED is: when a wake-up says that scans
//! finished or the station changed, the writer reads the newest state and the [`Session`]
//! decides what its client has not been told. At most one wake-up of each kind waits for a
//! connection, so a client that does not read costs nothing more while its writer is blocked.
//!
//! What a connection holds for audio: an `Arc` of its song, shared with every listener and
//! counted once in the song cache's budget; and, while it writes a batch of a song on disk,
//! that batch's bytes, at most `session::MAX_WRITE_BYTES` (226,000 bytes), dropped after the
//! write.

use std::borrow::Borrow;
use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError, select};
use jukebox_protocol::{
    AUDIO_HEAD_LEN, Goodbye, GoodbyeReason, ListPage, Message, RequestId, SongEntry, Subsystems,
    audio_frame_head,
};
use tracing::warn;

use crate::library::song::Audio;
use crate::native::events::Snapshot;
use crate::native::session::{Batch, Next, Outgoing, RadioBatch, RadioItem, Session, Work};
use crate::net::write_all_vectored;

/// A write that makes no progress for this long means the client stopped reading; the
/// connection is closed so its threads and buffers are freed (RFC §7.3).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an idle writer sleeps before it looks again for nothing in particular.
const IDLE_WAKE: Duration = Duration::from_secs(3600);

/// How the writer stopped, when it was not by an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterEnd {
    /// The reader is gone: the client closed or broke the connection, or its reader stopped.
    ReaderGone,
    /// A GOODBYE was the last frame sent.
    SaidGoodbye,
}

/// What the writer listens to besides the reader's work.
pub struct Signals {
    /// Never sent on; disconnected when the server shuts down.
    pub shutdown: Receiver<()>,
    /// A wake-up when scans of the library have finished, and where their results are.
    pub scans: crate::library::catalog::Subscription,
    /// The station, to count the radio bytes sent, and to hear of its changes.
    pub station: crate::radio::Station,
}

/// Runs the writer until the connection ends, then shuts the socket down: after a GOODBYE
/// only the sending half, so the peer reads it and closes in turn (RFC §8.2), which also ends
/// the reader thread; otherwise both halves, to wake a reader still blocked in `read`.
pub fn write_loop(socket: &TcpStream, work: &Receiver<Work>, signals: &Signals) -> io::Result<()> {
    let mut session = Session::default();
    session.scans_seen(signals.scans.results());
    let mut writer = Writer {
        socket,
        session,
        buf: Vec::new(),
        audio: Vec::new(),
        station: &signals.station,
        pulse: None,
    };
    let result = writer.run(work, signals);
    let how = if matches!(result, Ok(WriterEnd::SaidGoodbye)) { Shutdown::Write } else { Shutdown::Both };
    let _ = socket.shutdown(how);
    result.map(|_| ())
}

struct Writer<'a> {
    socket: &'a TcpStream,
    session: Session,
    /// Encoded replies; one frame at most, so it stays small.
    buf: Vec<u8>,
    /// The data of one batch of a song on disk, while it is written; empty otherwise.
    audio: Vec<u8>,
    station: &'a crate::radio::Station,
    /// The station's wake-ups, while the client subscribed to its changes: a connection that
    /// did not subscribe takes no place among the station's subscribers.
    pulse: Option<crate::radio::Pulse>,
}

impl Writer<'_> {
    fn run(&mut self, work: &Receiver<Work>, signals: &Signals) -> io::Result<WriterEnd> {
        let mut scans = signals.scans.wakes().clone();
        loop {
            // Replies first: everything the reader has decided so far.
            match work.try_recv() {
                Ok(item) => {
                    if let Some(end) = self.apply(item, signals)? {
                        return Ok(end);
                    }
                    continue;
                }
                Err(TryRecvError::Disconnected) => return Ok(WriterEnd::ReaderGone),
                Err(TryRecvError::Empty) => {}
            }
            // Then at most one write of audio.
            let wait_until = match self.session.next(Instant::now()) {
                Next::Send(batch) => {
                    self.write_batch(&batch)?;
                    continue;
                }
                Next::Radio(batch) => {
                    self.write_radio(&batch)?;
                    continue;
                }
                Next::WaitUntil(at) => Some(at),
                Next::Idle => None,
            };
            // With nothing streaming, wake up now and then anyway: cheaper than a second select.
            let timeout = wait_until.map_or(IDLE_WAKE, |at| at.saturating_duration_since(Instant::now()));
            // A relay is written each chunk as it goes on the air.
            let feed = self.session.relay_feed().unwrap_or_else(crossbeam_channel::never);
            let pulses = self.pulse.as_ref().map_or_else(crossbeam_channel::never, |p| p.wakes().clone());
            select! {
                recv(feed) -> chunk => {
                    // A closed feed (the station stopped) is noticed by the session's next turn.
                    if let Ok(chunk) = chunk {
                        self.session.relay_chunk(chunk);
                    }
                }
                recv(work) -> item => {
                    let Ok(item) = item else { return Ok(WriterEnd::ReaderGone) };
                    if let Some(end) = self.apply(item, signals)? {
                        return Ok(end);
                    }
                }
                recv(scans) -> woken => match woken {
                    Ok(()) => {
                        let outgoing = self.session.scans_finished(signals.scans.results());
                        self.send(outgoing)?;
                        self.send_events(signals)?;
                    }
                    // The catalog is gone: no more scans, and no busy loop on a closed channel.
                    Err(_) => scans = crossbeam_channel::never(),
                },
                recv(pulses) -> woken => match woken {
                    Ok(()) => self.send_events(signals)?,
                    // The station outlives every writer; were it gone, no busy loop on a closed
                    // channel: it has nothing more to tell.
                    Err(_) => self.pulse = None,
                },
                recv(signals.shutdown) -> _ => {
                    let goodbye = Goodbye {
                        reason: GoodbyeReason::ShuttingDown,
                        text: "the server is shutting down".into(),
                    };
                    return self.send(Outgoing::Close(goodbye)).map(|end| end.unwrap_or(WriterEnd::SaidGoodbye));
                }
                default(timeout) => {}
            }
        }
    }

    /// Carries out one piece of the reader's work; `Some` when the connection is over. After a
    /// SUBSCRIBE, the writer listens for the station's changes if they were asked for (and no
    /// more if not), then tells of what changed since the reader read it.
    fn apply(&mut self, item: Work, signals: &Signals) -> io::Result<Option<WriterEnd>> {
        let subscribing = matches!(item, Work::Subscribe { .. });
        let outgoing = self.session.apply(item, Instant::now());
        if let Some(end) = self.send(outgoing)? {
            return Ok(Some(end));
        }
        if subscribing {
            let station = Subsystems::STATION_SONG | Subsystems::STATION_QUEUE;
            let wanted = self.session.subscribed().intersects(station);
            // Listening before reading the state: a change after the read wakes the writer.
            match (&self.pulse, wanted) {
                (None, true) => self.pulse = Some(signals.station.pulse()),
                (Some(_), false) => self.pulse = None,
                _ => {}
            }
            self.send_events(signals)?;
        }
        Ok(None)
    }

    /// Sends the EVENTs the client is owed now, if it subscribed to any (RFC §6.3.5).
    fn send_events(&mut self, signals: &Signals) -> io::Result<()> {
        if self.session.subscribed().is_empty() {
            return Ok(());
        }
        let now = Snapshot::read(signals.scans.results(), &signals.station);
        let outgoing = self.session.notice(&now);
        self.send(outgoing).map(|_| ())
    }

    /// Puts `outgoing` on the wire; `Some` when the connection is over.
    fn send(&mut self, outgoing: Outgoing) -> io::Result<Option<WriterEnd>> {
        match outgoing {
            Outgoing::Nothing => {}
            Outgoing::Frame(message) => {
                self.frame(&message)?;
                if let Message::Playing(playing) = &message {
                    // RFC §7.3 counts from the moment PLAYING is sent: if that write waited
                    // behind a full socket, the stream's clock starts now, not before.
                    self.session.playing_sent(playing.stream, Instant::now());
                }
            }
            Outgoing::Frames(messages) => {
                for message in &messages {
                    self.frame(message)?;
                }
            }
            Outgoing::List { id, library, query: None } => self.list(id, library.entries())?,
            Outgoing::List { id, library, query: Some(query) } => self.list(id, &library.search(&query))?,
            Outgoing::Close(goodbye) => {
                self.frame(&Message::Goodbye(goodbye))?;
                return Ok(Some(WriterEnd::SaidGoodbye));
            }
        }
        Ok(None)
    }

    fn frame(&mut self, message: &Message) -> io::Result<()> {
        self.buf.clear();
        message.encode(&mut self.buf).map_err(io::Error::other)?;
        let result = (&*self.socket).write_all(&self.buf);
        self.buf.clear();
        self.buf.shrink_to(1024);
        result
    }

    /// One page at a time, straight from the shared library, so the buffer never grows past
    /// one frame and a client that sends LISTs without reading cannot make the server hold
    /// copies of the library (a SEARCH's matches are references into it).
    fn list<E: Borrow<SongEntry>>(&mut self, id: RequestId, songs: &[E]) -> io::Result<()> {
        let pages = ListPage::page_bounds(songs);
        for (i, range) in pages.iter().enumerate() {
            self.buf.clear();
            ListPage::encode_page(id, &songs[range.clone()], i + 1 == pages.len(), &mut self.buf)
                .map_err(io::Error::other)?;
            (&*self.socket).write_all(&self.buf)?;
        }
        self.buf.clear();
        self.buf.shrink_to(1024);
        Ok(())
    }

    /// Writes a batch of chunks (and END_OF_STREAM) with one vectored write: each chunk goes
    /// out as its 22-byte head and its data. The data of a song in memory is a slice of the
    /// bytes every listener shares, never copied; that of a song on disk is read first into
    /// [`Writer::audio`], which the batch bounds to `MAX_WRITE_BYTES` and which is dropped
    /// after the write, so a connection holds it only while it writes.
    ///
    /// When that read fails (the file was truncated or changed under the server), nothing of
    /// the batch is sent, the stream is halted ([`Session::halt`]: it sends no more audio and
    /// ends with the client's STOP or PLAY), and the connection goes on.
    ///
    /// A song on disk is read here, on the writer's thread: from the page cache or a local
    /// disk this takes well under a millisecond per batch, but a hung disk (a network mount)
    /// would hold this connection's writer, and so its replies, for as long as it hangs.
    fn write_batch(&mut self, batch: &Batch) -> io::Result<()> {
        let data: Vec<&[u8]> = match batch.song.audio() {
            Audio::Memory(bytes) => {
                batch.chunks.iter().map(|c| &bytes[c.bytes.start as usize..c.bytes.end as usize]).collect()
            }
            Audio::Disk(file) => {
                let ranges: Vec<_> = batch.chunks.iter().map(|c| c.bytes.clone()).collect();
                if let Err(e) = file.read_chunks(&ranges, &mut self.audio) {
                    let peer = self.socket.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                    warn!(%peer, "stream {}: {e}; it sends no more audio", batch.stream.0);
                    self.audio = Vec::new();
                    self.session.halt(batch.stream, batch.position());
                    return Ok(());
                }
                let mut rest = self.audio.as_slice();
                batch
                    .chunks
                    .iter()
                    .map(|c| {
                        let (data, after) = rest.split_at(c.data_len());
                        rest = after;
                        data
                    })
                    .collect()
            }
        };
        let mut heads: Vec<[u8; AUDIO_HEAD_LEN]> = Vec::with_capacity(batch.chunks.len());
        for chunk in &batch.chunks {
            heads.push(
                audio_frame_head(batch.stream, chunk.offset, chunk.position_ms, chunk.data_len())
                    .map_err(io::Error::other)?,
            );
        }
        let mut tail = Vec::new();
        if let Some(end) = batch.end {
            Message::EndOfStream(end).encode(&mut tail).map_err(io::Error::other)?;
        }
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(heads.len() * 2 + 1);
        for (head, data) in heads.iter().zip(data) {
            slices.push(IoSlice::new(head));
            slices.push(IoSlice::new(data));
        }
        if !tail.is_empty() {
            slices.push(IoSlice::new(&tail));
        }
        let result = write_all_vectored(self.socket, &mut slices).map(|_| ());
        drop(slices);
        self.audio = Vec::new();
        result
    }
}

impl Writer<'_> {
    /// Writes radio audio with one vectored write: each chunk's AUDIO head, then its data as a
    /// slice of the bytes the station shares with every listener; TRACK_CHANGED frames where
    /// they fall.
    fn write_radio(&mut self, batch: &RadioBatch) -> io::Result<()> {
        let mut heads: Vec<Vec<u8>> = Vec::with_capacity(batch.items.len() + 1);
        let mut audio_bytes = 0;
        for item in &batch.items {
            match item {
                RadioItem::Track(track) => {
                    let mut frame = Vec::new();
                    Message::TrackChanged(track.clone()).encode(&mut frame).map_err(io::Error::other)?;
                    heads.push(frame);
                }
                RadioItem::Audio { offset, position_ms, slice } => {
                    let data = slice.data();
                    audio_bytes += data.len();
                    let head = audio_frame_head(batch.stream, *offset, *position_ms, data.len())
                        .map_err(io::Error::other)?;
                    heads.push(head.to_vec());
                }
            }
        }
        if let Some(end) = batch.end {
            let mut frame = Vec::new();
            Message::EndOfStream(end).encode(&mut frame).map_err(io::Error::other)?;
            heads.push(frame);
        }
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(heads.len() * 2);
        let mut heads_iter = heads.iter();
        for item in &batch.items {
            if let Some(head) = heads_iter.next() {
                slices.push(IoSlice::new(head));
            }
            if let RadioItem::Audio { slice, .. } = item {
                slices.push(IoSlice::new(slice.data()));
            }
        }
        for tail in heads_iter {
            slices.push(IoSlice::new(tail));
        }
        write_all_vectored(self.socket, &mut slices)?;
        self.station.count_sent(audio_bytes);
        Ok(())
    }
}
