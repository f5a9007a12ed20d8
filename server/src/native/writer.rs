//! The writer thread of a connection: the only code that writes to its socket after the
//! handshake. It carries out what the [`Session`] decides: replies first, then at most one
//! write of audio, then replies again, so a reply waits behind at most one write of audio
//! (RFC §7.4 rule 5). It blocks only in `write` (bounded by [`WRITE_TIMEOUT`]) and in
//! `select!` over the reader's work, the shutdown signal, the library's scan results and the
//! next chunk's deadline.

use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError, select};
use jukebox_protocol::{
    AUDIO_HEAD_LEN, Goodbye, GoodbyeReason, LibraryChanged, ListPage, Message, RequestId, audio_frame_head,
};

use crate::library::Library;
use crate::native::session::{Batch, Next, Outgoing, Session, Work};

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
    /// Every finished scan of the library.
    pub scans: Receiver<LibraryChanged>,
}

/// Runs the writer until the connection ends, then shuts the socket down: after a GOODBYE
/// only the sending half, so the peer reads it and closes in turn (RFC §8.2), which also ends
/// the reader thread; otherwise both halves, to wake a reader still blocked in `read`.
pub fn write_loop(socket: &TcpStream, work: &Receiver<Work>, signals: &Signals) -> io::Result<()> {
    let mut writer = Writer { socket, session: Session::default(), buf: Vec::new() };
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
}

impl Writer<'_> {
    fn run(&mut self, work: &Receiver<Work>, signals: &Signals) -> io::Result<WriterEnd> {
        loop {
            // Replies first: everything the reader has decided so far.
            match work.try_recv() {
                Ok(item) => {
                    let outgoing = self.session.apply(item, Instant::now());
                    if let Some(end) = self.send(outgoing)? {
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
                Next::WaitUntil(at) => Some(at),
                Next::Idle => None,
            };
            // With nothing streaming, wake up now and then anyway: cheaper than a second select.
            let timeout = wait_until.map_or(IDLE_WAKE, |at| at.saturating_duration_since(Instant::now()));
            select! {
                recv(work) -> item => {
                    let Ok(item) = item else { return Ok(WriterEnd::ReaderGone) };
                    let outgoing = self.session.apply(item, Instant::now());
                    if let Some(end) = self.send(outgoing)? {
                        return Ok(end);
                    }
                }
                recv(signals.scans) -> result => {
                    if let Ok(result) = result {
                        let outgoing = self.session.scan_finished(result);
                        self.send(outgoing)?;
                    }
                }
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

    /// Puts `outgoing` on the wire; `Some` when the connection is over.
    fn send(&mut self, outgoing: Outgoing) -> io::Result<Option<WriterEnd>> {
        match outgoing {
            Outgoing::Nothing => {}
            Outgoing::Frame(message) => self.frame(&message)?,
            Outgoing::List { id, library } => self.list(id, &library)?,
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
    /// copies of the library.
    fn list(&mut self, id: RequestId, library: &Library) -> io::Result<()> {
        let songs = library.entries();
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

    /// Writes a batch of chunks (and END_OF_STREAM) with one vectored write, without copying
    /// audio: each chunk goes out as its 22-byte head and a slice of the song that every
    /// listener of it shares.
    fn write_batch(&mut self, batch: &Batch) -> io::Result<()> {
        let mut heads: Vec<[u8; AUDIO_HEAD_LEN]> = Vec::with_capacity(batch.chunks.len());
        for chunk in &batch.chunks {
            heads.push(
                audio_frame_head(batch.stream, chunk.offset, chunk.position_ms, chunk.data.len())
                    .map_err(io::Error::other)?,
            );
        }
        let mut tail = Vec::new();
        if let Some(end) = batch.end {
            Message::EndOfStream(end).encode(&mut tail).map_err(io::Error::other)?;
        }
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(heads.len() * 2 + 1);
        for (head, chunk) in heads.iter().zip(&batch.chunks) {
            slices.push(IoSlice::new(head));
            slices.push(IoSlice::new(&batch.song.bytes[chunk.data.clone()]));
        }
        if !tail.is_empty() {
            slices.push(IoSlice::new(&tail));
        }
        write_all_vectored(self.socket, &mut slices)
    }
}

fn write_all_vectored(mut socket: &TcpStream, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !slices.is_empty() {
        match socket.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
