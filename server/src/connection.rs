//! One client connection: the handshake, then a reader thread that turns requests into work for
//! a writer thread, which alone writes to the socket (see the diagram in `lib.rs`).

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::ops::Range;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded, select};
use jukebox_protocol::frame::{HANDSHAKE_TIMEOUT, IDLE_TIMEOUT, Kind};
use jukebox_protocol::handshake::{HANDSHAKE_LEN, MAGIC};
use jukebox_protocol::{
    AUDIO_HEAD_LEN, DecodeError, ErrorCode, ErrorReply, Goodbye, GoodbyeReason, Hello, ListPage, Message,
    PROTOCOL_VERSION, Playing, ReadError, Request, RequestId, SongId, Stopped, audio_frame_head, read_frame,
};
use tracing::{debug, info, warn};

use crate::Shared;
use crate::library::duration_ms;
use crate::session::{Session, Step};
use crate::song::LoadedSong;

/// Stack of each connection thread. Both threads keep their state on the heap and call no deep
/// code, and thousands of connections must fit in memory.
pub const THREAD_STACK: usize = 128 * 1024;

/// A write that makes no progress for this long means the client stopped reading; the
/// connection is closed so its threads and buffers are freed (RFC §7.3).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Requests the reader may queue ahead of the writer before it stops reading: a client that
/// floods requests without reading replies is slowed by TCP, not buffered without bound.
const OUTBOUND_QUEUE: usize = 32;

/// Work for the writer thread, in the order the reader decided it.
#[derive(Debug)]
enum Outbound {
    /// Replies to send as they are.
    Replies(Vec<Message>),
    /// The pages of a LIST reply.
    List { id: RequestId },
    /// Switch to a new stream and reply PLAYING: done by the writer, so that no audio of the
    /// old stream can follow the reply (RFC §7.4).
    Play {
        id: RequestId,
        song: SongId,
        loaded: Arc<LoadedSong>,
        duration_ms: u32,
        title: String,
        artist: String,
    },
    /// End the current stream and reply STOPPED.
    Stop { id: RequestId },
    /// Send GOODBYE and close.
    Goodbye(Goodbye),
}

/// How a connection ended, for the log.
#[derive(Debug)]
enum Ending {
    ClientClosed,
    ClientGoodbye(Goodbye),
    IdleTimeout,
    ProtocolError(DecodeError),
    Vanished(ReadError),
    WriterGone,
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::ClientClosed => f.write_str("client closed the connection"),
            Ending::ClientGoodbye(g) if g.text.is_empty() => f.write_str("client said goodbye"),
            Ending::ClientGoodbye(g) => write!(f, "client said goodbye: {}", g.text),
            Ending::IdleTimeout => write!(f, "nothing received for {} s", IDLE_TIMEOUT.as_secs()),
            Ending::ProtocolError(e) => write!(f, "protocol error: {e}"),
            Ending::Vanished(e) => write!(f, "connection lost: {e}"),
            Ending::WriterGone => f.write_str("writer stopped"),
        }
    }
}

/// Serves one accepted connection until it ends. Runs on the connection's reader thread.
pub(crate) fn serve(socket: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let started = Instant::now();
    if let Err(e) = handshake(&socket) {
        info!(%peer, "handshake failed: {e}");
        let _ = socket.shutdown(Shutdown::Both);
        return;
    }
    if let Err(e) = configure(&socket) {
        warn!(%peer, "cannot set up connection: {e}");
        return;
    }
    // Shared rather than cloned: a dup'ed descriptor per connection would halve how many
    // connections fit under the open-file limit.
    let socket = Arc::new(socket);
    let writer_socket = Arc::clone(&socket);
    let (outbound, work) = bounded(OUTBOUND_QUEUE);
    let shutdown = shared.shutdown.clone();
    let writer = thread::Builder::new().name(format!("write {peer}")).stack_size(THREAD_STACK).spawn({
        let shared = Arc::clone(&shared);
        move || write_loop(writer_socket, work, shutdown, &shared)
    });
    let writer = match writer {
        Ok(w) => w,
        Err(e) => {
            warn!(%peer, "cannot start a writer thread, dropping connection: {e}");
            let _ = socket.shutdown(Shutdown::Both);
            return;
        }
    };
    info!(%peer, "client connected");
    let ending = read_loop(&socket, &outbound, &shared);
    drop(outbound);
    let written = writer.join().unwrap_or_else(|_| Err(io::Error::other("writer thread panicked")));
    if matches!(ending, Ending::ProtocolError(_) | Ending::IdleTimeout) {
        // The server closes, with a GOODBYE: let the client read it before the socket goes.
        drain_until(&socket, Instant::now() + Duration::from_secs(1));
    }
    let _ = socket.shutdown(Shutdown::Both);
    let secs = started.elapsed().as_secs_f32();
    match written {
        Ok(()) => info!(%peer, "connection ended after {secs:.1} s: {ending}"),
        Err(e) => info!(%peer, "connection ended after {secs:.1} s: {ending}; sending failed: {e}"),
    }
}

/// Reads HELLO and answers WELCOME (RFC §4). A peer that does not begin with the magic gets
/// nothing back. The whole HELLO must arrive within [`HANDSHAKE_TIMEOUT`], however slowly its
/// bytes trickle in.
fn handshake(mut socket: &TcpStream) -> io::Result<()> {
    let mut hello = [0u8; HANDSHAKE_LEN];
    read_exact_before(socket, &mut hello, Instant::now() + HANDSHAKE_TIMEOUT)?;
    let hello = Hello::parse(&hello).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let welcome = hello.negotiate(PROTOCOL_VERSION, PROTOCOL_VERSION);
    socket.write_all(&welcome.encode())?;
    if welcome.version == 0 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "client speaks versions {}..={}, server only {PROTOCOL_VERSION}",
                hello.min_version, hello.max_version
            ),
        ));
    }
    Ok(())
}

/// Fills `buf` with a HELLO from the socket, failing once `deadline` has passed, and at once
/// when a byte that should be part of the magic is not: an HTTP client or a port scanner is
/// let go as soon as its first byte arrives, not after 8 bytes or 10 seconds (RFC §4.5).
fn read_exact_before(mut socket: &TcpStream, buf: &mut [u8], deadline: Instant) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no complete HELLO in time"));
        }
        socket.set_read_timeout(Some(left))?;
        match socket.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed before a complete HELLO"));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no complete HELLO in time"));
            }
            Err(e) => return Err(e),
        }
        let magic = filled.min(MAGIC.len());
        if buf[..magic] != MAGIC[..magic] {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not the Jukebox Protocol (first bytes {:02x?})", &buf[..magic]),
            ));
        }
    }
    Ok(())
}

/// Answers a connection the server has no room for: WELCOME, then GOODBYE with
/// [`GoodbyeReason::ServerBusy`], so the client can tell the user why (RFC §8.2). Runs on the
/// server's one turn-away thread, never on a thread of the connection's own.
pub(crate) fn turn_away(socket: TcpStream, clients: usize) {
    const PATIENCE: Duration = Duration::from_secs(1);
    let Ok(peer) = socket.peer_addr() else { return };
    let mut reply = Vec::new();
    let mut hello = [0u8; HANDSHAKE_LEN];
    if read_exact_before(&socket, &mut hello, Instant::now() + PATIENCE).is_ok()
        && let Ok(hello) = Hello::parse(&hello)
    {
        // Negotiated as for any client: a client of another version gets version 0 and no
        // frame, since no framing was agreed (RFC §4.5).
        let welcome = hello.negotiate(PROTOCOL_VERSION, PROTOCOL_VERSION);
        reply.extend_from_slice(&welcome.encode());
        if welcome.version != 0 {
            let text = format!("the server is full ({clients} clients); try again later");
            let _ = Message::Goodbye(Goodbye { reason: GoodbyeReason::ServerBusy, text }).encode(&mut reply);
        }
    }
    let _ = socket.set_write_timeout(Some(PATIENCE));
    let _ = (&socket).write_all(&reply);
    let _ = socket.shutdown(Shutdown::Write);
    drain_until(&socket, Instant::now() + PATIENCE);
    info!(%peer, "turned away: {clients} clients already connected");
}

/// Most bytes [`drain_until`] reads before it gives up.
const DRAIN_LIMIT: usize = 256 * 1024;

/// Reads and discards what the peer still sends, until it closes, `deadline` passes or
/// [`DRAIN_LIMIT`] bytes were read: closing a socket with unread data resets the connection,
/// which can destroy our last frame before the peer reads it (RFC §8.2, implementation note).
fn drain_until(mut socket: &TcpStream, deadline: Instant) {
    let mut scratch = [0u8; 4096];
    let mut drained = 0;
    while drained < DRAIN_LIMIT {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || socket.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match socket.read(&mut scratch) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}

fn configure(socket: &TcpStream) -> io::Result<()> {
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(IDLE_TIMEOUT))?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))
}

fn read_loop(mut socket: &TcpStream, outbound: &Sender<Outbound>, shared: &Shared) -> Ending {
    let mut scratch = Vec::new();
    loop {
        let header = match read_frame(&mut socket, &mut scratch) {
            Ok(Some(header)) => header,
            Ok(None) => return Ending::ClientClosed,
            Err(ReadError::Decode(e)) => {
                let text = format!("protocol error: {e}");
                let _ =
                    outbound.send(Outbound::Goodbye(Goodbye { reason: GoodbyeReason::ProtocolError, text }));
                return Ending::ProtocolError(e);
            }
            Err(ReadError::Io(e))
                if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
            {
                let text = format!("the server heard nothing for {} s", IDLE_TIMEOUT.as_secs());
                let _ =
                    outbound.send(Outbound::Goodbye(Goodbye { reason: GoodbyeReason::IdleTimeout, text }));
                return Ending::IdleTimeout;
            }
            Err(e) => return Ending::Vanished(e),
        };
        let work = match header.kind {
            Kind::Goodbye => {
                return Ending::ClientGoodbye(Message::decode(header.kind, &scratch).map_or_else(
                    |_| Goodbye { reason: GoodbyeReason::Normal, text: String::new() },
                    |m| match m {
                        Message::Goodbye(g) => g,
                        _ => Goodbye { reason: GoodbyeReason::Normal, text: String::new() },
                    },
                ));
            }
            kind if !kind.is_request() => error(
                RequestId::CONNECTION,
                ErrorCode::UnexpectedMessage,
                format!("a client may not send {} ({:#04x})", kind.name(), kind.to_u8()),
            ),
            kind => match Message::decode(kind, &scratch) {
                Ok(Message::Request(request)) => answer(request, shared),
                Ok(_) => error(
                    Request::peek_id(&scratch).unwrap_or(RequestId::CONNECTION),
                    ErrorCode::UnknownRequest,
                    format!("unknown request kind {:#04x}", kind.to_u8()),
                ),
                Err(e) => error(
                    Request::peek_id(&scratch).unwrap_or(RequestId::CONNECTION),
                    ErrorCode::MalformedRequest,
                    e.to_string(),
                ),
            },
        };
        if outbound.send(work).is_err() {
            return Ending::WriterGone;
        }
    }
}

/// The one place that decides how a request is answered.
fn answer(request: Request, shared: &Shared) -> Outbound {
    debug!(?request, "request");
    match request {
        Request::Ping { id } => Outbound::Replies(vec![Message::Pong { id }]),
        // Encoded by the writer, page by page, straight from the shared library: a client that
        // sends LISTs without reading replies cannot make the server hold copies of it.
        Request::List { id } => Outbound::List { id },
        Request::Stop { id } => Outbound::Stop { id },
        Request::Play { id, song } => {
            let Some(entry) = shared.library.get(song) else {
                return error(id, ErrorCode::NoSuchSong, format!("no song with id {song}"));
            };
            match shared.cache.load(entry) {
                Ok(loaded) => Outbound::Play {
                    id,
                    song,
                    loaded,
                    duration_ms: duration_ms(entry.duration),
                    title: entry.tags.title.clone(),
                    artist: entry.tags.artist.clone(),
                },
                Err(e) => {
                    warn!("cannot play song {song}: {e}");
                    error(id, ErrorCode::SongUnavailable, format!("song {song} cannot be played now"))
                }
            }
        }
    }
}

fn error(id: RequestId, code: ErrorCode, message: String) -> Outbound {
    Outbound::Replies(vec![Message::Error(ErrorReply { id, code, message })])
}

/// How the writer stopped, when it was not by an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriterEnd {
    /// The reader is gone: the client closed or broke the connection, or its reader stopped.
    ReaderGone,
    /// A GOODBYE was the last frame sent.
    SaidGoodbye,
}

/// The writer thread: the only code that writes to the socket after the handshake. Replies go
/// out before any further audio; audio goes out when the session says it is due.
fn write_loop(
    socket: Arc<TcpStream>,
    work: Receiver<Outbound>,
    shutdown: Receiver<()>,
    shared: &Shared,
) -> io::Result<()> {
    let result = write_until_done(&socket, &work, &shutdown, shared);
    // After a GOODBYE only the sending half is closed, so the peer reads it and closes in turn
    // (RFC §8.2), which also ends the reader thread. Otherwise the reader may be waiting for a
    // request that will never come: unblock it.
    let how = if matches!(result, Ok(WriterEnd::SaidGoodbye)) { Shutdown::Write } else { Shutdown::Both };
    let _ = socket.shutdown(how);
    result.map(|_| ())
}

fn write_until_done(
    socket: &TcpStream,
    work: &Receiver<Outbound>,
    shutdown: &Receiver<()>,
    shared: &Shared,
) -> io::Result<WriterEnd> {
    let mut session = Session::default();
    let mut buf = Vec::new();
    loop {
        match work.try_recv() {
            Ok(item) => {
                if let Some(end) = handle(item, &mut session, socket, &mut buf, shared)? {
                    return Ok(end);
                }
                continue;
            }
            Err(TryRecvError::Disconnected) => return Ok(WriterEnd::ReaderGone),
            Err(TryRecvError::Empty) => {}
        }
        let wait_until = write_due_audio(&mut session, socket)?;
        let item = match wait_until {
            Some(at) => select! {
                recv(work) -> item => item,
                recv(shutdown) -> _ => return say_goodbye(socket, &mut buf),
                default(at.saturating_duration_since(Instant::now())) => continue,
            },
            None => select! {
                recv(work) -> item => item,
                recv(shutdown) -> _ => return say_goodbye(socket, &mut buf),
            },
        };
        let Ok(item) = item else { return Ok(WriterEnd::ReaderGone) };
        if let Some(end) = handle(item, &mut session, socket, &mut buf, shared)? {
            return Ok(end);
        }
    }
}

/// Chunks gathered into one vectored write (two slices each, well under `IOV_MAX`).
const CHUNKS_PER_WRITE: usize = 64;

/// Writes everything the session has due, chunks and END_OF_STREAM, with as few `writev`
/// calls as possible and without copying audio: each chunk goes out as its 22-byte head and a
/// slice of the song that every listener of it shares. The writer thus keeps no per-connection
/// audio buffer. Returns when the next chunk is due, or `None` when nothing streams.
fn write_due_audio(session: &mut Session, socket: &TcpStream) -> io::Result<Option<Instant>> {
    let now = Instant::now();
    let Some(song) = session.song() else { return Ok(None) };
    let mut heads: Vec<[u8; AUDIO_HEAD_LEN]> = Vec::new();
    let mut ranges = Vec::new();
    let mut tail = Vec::new();
    let next = loop {
        match session.poll(now) {
            Step::Send { stream, offset, position_ms, data } => {
                heads.push(
                    audio_frame_head(stream, offset, position_ms, data.len()).map_err(io::Error::other)?,
                );
                ranges.push(data);
                if heads.len() == CHUNKS_PER_WRITE {
                    write_chunks(socket, &heads, &ranges, &song, &[])?;
                    heads.clear();
                    ranges.clear();
                }
            }
            Step::End(end) => Message::EndOfStream(end).encode(&mut tail).map_err(io::Error::other)?,
            Step::WaitUntil(at) => break Some(at),
            Step::Idle => break None,
        }
    };
    write_chunks(socket, &heads, &ranges, &song, &tail)?;
    Ok(next)
}

fn write_chunks(
    mut socket: &TcpStream,
    heads: &[[u8; AUDIO_HEAD_LEN]],
    ranges: &[Range<usize>],
    song: &LoadedSong,
    tail: &[u8],
) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(heads.len() * 2 + 1);
    for (head, range) in heads.iter().zip(ranges) {
        slices.push(IoSlice::new(head));
        slices.push(IoSlice::new(&song.bytes[range.clone()]));
    }
    if !tail.is_empty() {
        slices.push(IoSlice::new(tail));
    }
    let mut slices = &mut slices[..];
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

fn handle(
    item: Outbound,
    session: &mut Session,
    mut socket: &TcpStream,
    buf: &mut Vec<u8>,
    shared: &Shared,
) -> io::Result<Option<WriterEnd>> {
    match item {
        Outbound::Replies(replies) => {
            buf.clear();
            for reply in &replies {
                reply.encode(buf).map_err(io::Error::other)?;
            }
            socket.write_all(buf)?;
        }
        Outbound::List { id } => {
            // One page at a time, so the buffer never grows past one frame.
            let songs = shared.library.entries();
            let pages = ListPage::page_bounds(songs);
            for (i, range) in pages.iter().enumerate() {
                buf.clear();
                ListPage::encode_page(id, &songs[range.clone()], i + 1 == pages.len(), buf)
                    .map_err(io::Error::other)?;
                socket.write_all(buf)?;
            }
            buf.clear();
            buf.shrink_to(1024);
        }
        Outbound::Play { id, song, loaded, duration_ms, title, artist } => {
            let total_bytes = loaded.total_bytes;
            let stream = session.play(loaded, Instant::now());
            debug!(%stream, %song, "streaming");
            let playing = Playing { id, stream, song, duration_ms, total_bytes, title, artist };
            send(socket, buf, &Message::Playing(playing))?;
        }
        Outbound::Stop { id } => {
            let stream = session.stop();
            send(socket, buf, &Message::Stopped(Stopped { id, stream }))?;
        }
        Outbound::Goodbye(goodbye) => {
            send(socket, buf, &Message::Goodbye(goodbye))?;
            return Ok(Some(WriterEnd::SaidGoodbye));
        }
    }
    Ok(None)
}

fn say_goodbye(socket: &TcpStream, buf: &mut Vec<u8>) -> io::Result<WriterEnd> {
    let goodbye = Goodbye { reason: GoodbyeReason::ShuttingDown, text: "the server is shutting down".into() };
    send(socket, buf, &Message::Goodbye(goodbye))?;
    Ok(WriterEnd::SaidGoodbye)
}

fn send(mut socket: &TcpStream, buf: &mut Vec<u8>, message: &Message) -> io::Result<()> {
    buf.clear();
    message.encode(buf).map_err(io::Error::other)?;
    socket.write_all(buf)
}
