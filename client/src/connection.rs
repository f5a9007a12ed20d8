//! The client's side of one connection: the handshake, sending requests, and the socket
//! thread that reads every frame and routes it (see the diagram in `lib.rs`). A connection
//! that is lost stays lost; [`crate::link`] makes new ones.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use jukebox_protocol::frame::KEEPALIVE_INTERVAL;
use jukebox_protocol::handshake::HANDSHAKE_LEN;
use jukebox_protocol::text::printable;
use jukebox_protocol::{
    ErrorCode, ErrorReply, Goodbye, GoodbyeReason, Hello, LibraryChanged, Message, Paused, Playing, Queued,
    ReadError, Request, RequestId, Resumed, SongEntry, SongId, SongInfo, Stopped, Tuned, Welcome, read_frame,
    truncate_text,
};

use crate::explain;
use crate::list::{ListError, SongList};
use crate::playback::Playback;
use crate::playlist::{Claim, Due};
use crate::radio::{QueueError, QueueReply, StationQueue};
use crate::{Event, EventSender};

/// How long the client waits, by default, for the server to accept the connection, to
/// answer the handshake, and to answer each request (`--timeout`).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// How patient the client is with a server. The defaults are the RFC's; `--timeout` changes
/// the reply timeout, and the hidden `--keepalive` the keepalive interval, so that tests of a
/// silent server take seconds instead of half a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long to wait to connect, for the handshake, and for each reply.
    pub reply_timeout: Duration,
    /// After this long without sending anything, the client sends a PING (RFC §8.1).
    pub keepalive: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing { reply_timeout: REPLY_TIMEOUT, keepalive: KEEPALIVE_INTERVAL }
    }
}

impl Timing {
    /// A server from which nothing has been heard for this long has left a keepalive PING
    /// unanswered for the reply timeout: the client gives up on it (RFC §8.1 allows it).
    pub fn silence_limit(&self) -> Duration {
        self.keepalive + self.reply_timeout
    }
}

/// Where a server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// A host name or an IP address.
    pub host: String,
    /// The TCP port.
    pub port: u16,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// What the socket thread calls, once, when the connection ends other than by
/// [`Connection::close`]; its argument says why, in words.
pub type OnEnd = Box<dyn FnOnce(String) + Send>;

/// `10`, or `0.5`: seconds as a person writes them.
pub fn seconds(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

/// Why a command could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting failed; the text says why and what to check (see [`explain::connect`]).
    #[error("{0}")]
    Connect(String),
    /// The peer is not a jukebox server or speaks no common version; the text says so.
    #[error("{0}")]
    Handshake(String),
    /// The server refused the request; the text is the server's, made safe to show.
    #[error("server: {}", printable(&.0.message))]
    Server(ErrorReply),
    /// The station refused (RFC §6.1.6, §6.1.8: off the air, already queued, too many
    /// requests, a full queue); the server's sentence is the answer, shown as it is (made
    /// safe) with a capital: "Tin Robot Shuffle is already in the queue".
    #[error("{}", capitalized(&printable(&.0.message)))]
    Refused(ErrorReply),
    /// The command cannot be carried out in the state playback is in (`seek` with nothing
    /// playing); the text says why and what to do instead.
    #[error("{0}")]
    NotNow(String),
    /// The connection was lost while the command waited for its reply.
    #[error("the connection to the server was lost")]
    Disconnected,
    /// There is no connection now; the text says to which server, why, and what happens next
    /// (see [`crate::link::Link::connection`]).
    #[error("{}", printable(.0))]
    NotConnected(String),
    /// No reply in time.
    #[error("the server did not answer within {} s", seconds(*.0))]
    Timeout(Duration),
    /// The server answered with something that does not answer the request.
    #[error("the server sent an unexpected reply ({0})")]
    Unexpected(&'static str),
    /// The reply to LIST broke the RFC or outgrew the client's limits.
    #[error(transparent)]
    List(#[from] ListError),
    /// The reply to QUEUE outgrew the client's limits.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl ClientError {
    /// A refusal by the station is an answer in the server's words: [`ClientError::Refused`].
    fn station_refusal(self) -> ClientError {
        match self {
            ClientError::Server(error)
                if matches!(
                    error.code,
                    ErrorCode::OffAir
                        | ErrorCode::AlreadyQueued
                        | ErrorCode::RequestLimit
                        | ErrorCode::QueueFull
                        | ErrorCode::NotTheOrigin
                        | ErrorCode::LiveStream
                ) =>
            {
                ClientError::Refused(error)
            }
            other => other,
        }
    }
}

/// `text` with its first letter in capitals, to start a line.
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Replies that may wait for the command that asked for them. Only a LIST, a SEARCH and a QUEUE
/// have more than one (a page each); when the command is this far behind, the socket thread waits,
/// and TCP slows the server down, instead of the queue growing.
const REPLY_QUEUE: usize = 16;

/// How long a client that said GOODBYE waits for the server to close in turn.
const GOODBYE_GRACE: Duration = Duration::from_secs(1);

/// Replies routed to the command that waits for them.
type Pending = Mutex<HashMap<RequestId, Sender<Message>>>;

/// A request on its way: its replies arrive on `replies`. Dropping it forgets the request, so
/// replies still on their way (the rest of a refused LIST, a reply after a timeout) find no one
/// waiting and are dropped by the socket thread.
struct Awaiting<'a> {
    id: RequestId,
    replies: Receiver<Message>,
    pending: &'a Pending,
}

impl Drop for Awaiting<'_> {
    fn drop(&mut self) {
        lock(self.pending).remove(&self.id);
    }
}

/// The sending half of a connection, shared by the commands and by the follower thread, which
/// asks for the play queue's next song itself (it must not wait for a command to do it).
#[derive(Debug)]
struct Outbox {
    writer: Mutex<TcpStream>,
    next_id: AtomicU32,
    last_sent: Mutex<Instant>,
}

impl Outbox {
    /// A request id never used on this connection.
    fn next_id(&self) -> RequestId {
        RequestId(self.next_id.fetch_add(1, Ordering::SeqCst).max(1))
    }

    /// Sends `request`; false when the connection is gone.
    fn send(&self, request: Request) -> bool {
        // A request is a few bytes: it always fits a frame.
        let Ok(bytes) = Message::Request(request).to_bytes() else { return false };
        let mut writer = lock(&self.writer);
        if writer.write_all(&bytes).is_err() {
            return false;
        }
        *lock(&self.last_sent) = Instant::now();
        true
    }
}

/// A connected client.
#[derive(Debug)]
pub struct Connection {
    outbox: Arc<Outbox>,
    /// For the play queue to know the requests that change what plays.
    playback: Arc<Playback>,
    pending: Arc<Pending>,
    /// When the socket thread last read a frame; the keepalive checks it.
    last_heard: Arc<Mutex<Instant>>,
    /// Set when the keepalive gave up on a server that stopped answering.
    silent: Arc<AtomicBool>,
    closed: Arc<AtomicBool>,
    timing: Timing,
    /// Dropped or sent to when the connection closes: wakes the keepalive thread to end.
    stop_keepalive: Mutex<Option<Sender<()>>>,
    /// Joined by [`Connection::close`], so that nothing of this connection reaches playback
    /// after it returns.
    socket_thread: Mutex<Option<thread::JoinHandle<()>>>,
    /// The newest scan of the server's library this connection has heard of, for `rescan`.
    scans: Arc<Scans>,
    /// The EVENTs since the last SUBSCRIBED, for `idle`.
    changes: Arc<crate::idle::Changes>,
}

/// What the socket thread tells a `rescan` waiting for the end of its scan.
#[derive(Debug, Default)]
struct Scans {
    state: Mutex<ScanState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct ScanState {
    /// The newest LIBRARY_CHANGED received.
    latest: Option<LibraryChanged>,
    /// A `rescan` is waiting (for its SCANNING, then for its scan): what the scans bring
    /// meanwhile is that command's to show, not an event's.
    rescanning: bool,
}

impl Connection {
    /// Connects, shakes hands, and starts the socket thread, which feeds `playback`, sends
    /// warnings to `events`, and calls `on_end` if the server goes away.
    pub fn open(
        address: &Address,
        timing: Timing,
        playback: Arc<Playback>,
        events: EventSender,
        on_end: OnEnd,
    ) -> Result<Arc<Connection>, ClientError> {
        let addr = address.to_string();
        let connect_error =
            |e: io::Error| ClientError::Connect(explain::connect(&addr, &e, timing.reply_timeout));
        let candidates = (address.host.as_str(), address.port)
            .to_socket_addrs()
            .map_err(|_| ClientError::Connect(explain::lookup(&address.host)))?;
        let mut last_error = io::Error::from(io::ErrorKind::AddrNotAvailable);
        let mut socket = None;
        for candidate in candidates {
            match TcpStream::connect_timeout(&candidate, timing.reply_timeout) {
                Ok(s) => {
                    socket = Some(s);
                    break;
                }
                Err(e) => last_error = e,
            }
        }
        let mut socket = socket.ok_or_else(|| connect_error(last_error))?;
        socket.set_nodelay(true).map_err(connect_error)?;
        // A server that stops reading would otherwise block a request, or the GOODBYE of a
        // client that quits, for ever.
        socket.set_write_timeout(Some(timing.reply_timeout)).map_err(connect_error)?;
        handshake(&mut socket, &addr, timing)?;
        let reader = socket.try_clone().map_err(connect_error)?;
        let (stop_keepalive, keepalive_stopped) = bounded(1);
        let connection = Arc::new(Connection {
            outbox: Arc::new(Outbox {
                writer: Mutex::new(socket),
                next_id: AtomicU32::new(1),
                last_sent: Mutex::new(Instant::now()),
            }),
            pending: Arc::new(Mutex::new(HashMap::new())),
            playback: Arc::clone(&playback),
            last_heard: Arc::new(Mutex::new(Instant::now())),
            silent: Arc::new(AtomicBool::new(false)),
            closed: Arc::new(AtomicBool::new(false)),
            timing,
            stop_keepalive: Mutex::new(Some(stop_keepalive)),
            socket_thread: Mutex::new(None),
            scans: Arc::new(Scans::default()),
            changes: Arc::default(),
        });
        let (wake, woken) = bounded(1);
        playback.set_follower(wake);
        let follower = Follower {
            outbox: Arc::clone(&connection.outbox),
            playback: Arc::clone(&playback),
            closed: Arc::clone(&connection.closed),
        };
        thread::Builder::new()
            .name("queue".into())
            .spawn(move || follower.run(&woken))
            .map_err(connect_error)?;
        let router = Router {
            pending: Arc::clone(&connection.pending),
            playback,
            events,
            last_heard: Arc::clone(&connection.last_heard),
            silent: Arc::clone(&connection.silent),
            closed: Arc::clone(&connection.closed),
            timing,
            on_end: Some(on_end),
            started_a_stream: false,
            scans: Arc::clone(&connection.scans),
            changes: Arc::clone(&connection.changes),
        };
        let socket_thread = thread::Builder::new()
            .name("socket".into())
            .spawn(move || router.run(reader))
            .map_err(connect_error)?;
        *lock(&connection.socket_thread) = Some(socket_thread);
        let keepalive = Arc::downgrade(&connection);
        thread::Builder::new()
            .name("keepalive".into())
            .spawn(move || {
                // Wakes at the next deadline (a PING to send, or silence to give up on), or
                // at once when the connection closes.
                while let Some(connection) = keepalive.upgrade() {
                    if connection.is_closed() {
                        break;
                    }
                    let next_check = connection.keep_alive();
                    drop(connection);
                    if !matches!(keepalive_stopped.recv_timeout(next_check), Err(RecvTimeoutError::Timeout)) {
                        break;
                    }
                }
            })
            .map_err(connect_error)?;
        Ok(connection)
    }

    /// True once the server has gone.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Every song the server offers, checked as [`SongList`] describes.
    pub fn list(&self) -> Result<Vec<SongEntry>, ClientError> {
        self.songs(|id| Request::List { id })
    }

    /// The songs whose title, artist or album hold every word of `text`, whatever their case
    /// and accents (RFC §6.1.14), checked as LIST's are.
    pub fn search(&self, text: &str) -> Result<Vec<SongEntry>, ClientError> {
        self.songs(|id| Request::Search { id, text: truncate_text(text).to_string() })
    }

    /// The songs of the LIST_PAGEs that answer the request `make` builds (LIST or SEARCH).
    fn songs(&self, make: impl FnOnce(RequestId) -> Request) -> Result<Vec<SongEntry>, ClientError> {
        let request = self.send_request(make)?;
        let mut list = SongList::default();
        loop {
            match self.wait(&request)? {
                Message::ListPage(page) => {
                    if list.add(page)? {
                        return Ok(list.into_songs());
                    }
                }
                other => return Err(unexpected(other)),
            }
        }
    }

    /// Everything the server knows about `song` (RFC §6.1.13).
    pub fn info(&self, song: SongId) -> Result<SongInfo, ClientError> {
        let replies = self.send_request(|id| Request::Info { id, song })?;
        match self.wait(&replies)? {
            Message::SongInfo(info) if info.song == song => Ok(info),
            other => Err(unexpected(other)),
        }
    }

    /// Asks to hear of changes to `mask` from now on, instead of what was asked before
    /// (RFC §6.1.15); returns what the server granted. The EVENTs that follow are kept in
    /// [`Connection::changes`].
    pub fn subscribe(
        &self,
        mask: jukebox_protocol::Subsystems,
    ) -> Result<jukebox_protocol::Subsystems, ClientError> {
        let replies = self.send_request(|id| Request::Subscribe { id, mask })?;
        match self.wait(&replies)? {
            Message::Subscribed(subscribed) => Ok(subscribed.mask),
            other => Err(unexpected(other)),
        }
    }

    /// The changes the server announced since the last SUBSCRIBED (see [`crate::idle`]).
    pub fn changes(&self) -> &crate::idle::Changes {
        &self.changes
    }

    /// Starts `song`. Playback has already switched when this returns.
    pub fn play(&self, song: SongId) -> Result<Playing, ClientError> {
        self.play_noting(song, |id| self.playback.switching(id))
    }

    /// [`Connection::play`], calling `note` with the request's id before it is sent, instead of
    /// telling the play queue that a switch is on its way: the queue notes its own songs, to
    /// know their PLAYING when the socket thread reads it.
    pub fn play_noting(&self, song: SongId, note: impl FnOnce(RequestId)) -> Result<Playing, ClientError> {
        let replies = self.send_request(|id| {
            note(id);
            Request::Play { id, song }
        })?;
        match self.wait(&replies)? {
            Message::Playing(playing) => Ok(playing),
            other => Err(unexpected(other)),
        }
    }

    /// Plays `song` from the frame at `position_ms` (RFC §6.1.12): the PLAYING's Start ms says
    /// where it begins. Playback has already switched when this returns. `note` is called with
    /// the request's id before it is sent, as in [`Connection::play_noting`].
    pub fn seek(
        &self,
        song: SongId,
        position_ms: u32,
        note: impl FnOnce(RequestId),
    ) -> Result<Playing, ClientError> {
        let replies = self.send_request(|id| {
            note(id);
            Request::Seek { id, song, position_ms }
        })?;
        match self.wait(&replies)? {
            Message::Playing(playing) => Ok(playing),
            other => Err(unexpected(other)),
        }
    }

    /// Asks the server to stop sending the current stream (RFC §6.1.10). `Ok(None)` when the
    /// server has nothing to pause (NO_STREAM: it has sent the whole song already, which the
    /// client still plays); the station's refusal is [`ClientError::Refused`].
    pub fn pause(&self) -> Result<Option<Paused>, ClientError> {
        let replies = self.send_request(|id| Request::Pause { id })?;
        match self.wait(&replies).map_err(ClientError::station_refusal) {
            Ok(Message::Paused(paused)) => Ok(Some(paused)),
            Err(ClientError::Server(e)) if e.code == ErrorCode::NoStream => Ok(None),
            Ok(other) => Err(unexpected(other)),
            Err(e) => Err(e),
        }
    }

    /// Asks the server to go on with the current stream (RFC §6.1.11); `Ok(None)` as for
    /// [`Connection::pause`].
    pub fn resume(&self) -> Result<Option<Resumed>, ClientError> {
        let replies = self.send_request(|id| Request::Resume { id })?;
        match self.wait(&replies).map_err(ClientError::station_refusal) {
            Ok(Message::Resumed(resumed)) => Ok(Some(resumed)),
            Err(ClientError::Server(e)) if e.code == ErrorCode::NoStream => Ok(None),
            Ok(other) => Err(unexpected(other)),
            Err(e) => Err(e),
        }
    }

    /// Tunes in to the station (RFC §6.1.6). Playback has already switched when this returns.
    pub fn tune(&self) -> Result<Tuned, ClientError> {
        let replies = self.send_request(|id| {
            self.playback.switching(id);
            Request::Tune { id }
        })?;
        match self.wait(&replies).map_err(ClientError::station_refusal)? {
            Message::Tuned(tuned) => Ok(tuned),
            other => Err(unexpected(other)),
        }
    }

    /// Asks the station to play `song` (RFC §6.1.8); says where it is in the queue.
    pub fn request(&self, song: SongId) -> Result<Queued, ClientError> {
        let replies = self.send_request(|id| Request::RequestSong { id, song })?;
        match self.wait(&replies).map_err(ClientError::station_refusal)? {
            Message::Queued(queued) => Ok(queued),
            other => Err(unexpected(other)),
        }
    }

    /// What the station plays and which requests wait (RFC §6.1.7), checked as
    /// [`QueueReply`] describes.
    pub fn queue(&self) -> Result<StationQueue, ClientError> {
        let request = self.send_request(|id| Request::Queue { id })?;
        let mut reply = QueueReply::default();
        loop {
            match self.wait(&request)? {
                Message::QueuePage(page) => {
                    if reply.add(page)? {
                        return Ok(reply.into_queue());
                    }
                }
                other => return Err(unexpected(other)),
            }
        }
    }

    /// Stops the current stream; playback is already silent when this returns.
    pub fn stop(&self) -> Result<Stopped, ClientError> {
        let replies = self.send_request(|id| {
            self.playback.switching(id);
            Request::Stop { id }
        })?;
        match self.wait(&replies)? {
            Message::Stopped(stopped) => Ok(stopped),
            other => Err(unexpected(other)),
        }
    }

    /// Asks the server to scan its music folder again (RFC §6.1.5) and waits, up to
    /// `patience` or until `give_up` says so, for the scan to finish; returns what it
    /// changed, or `None` when given up on.
    pub fn rescan(
        &self,
        patience: Duration,
        give_up: impl Fn() -> bool,
    ) -> Result<Option<LibraryChanged>, ClientError> {
        lock(&self.scans.state).rescanning = true;
        let result = self.rescan_and_wait(patience, give_up);
        lock(&self.scans.state).rescanning = false;
        result
    }

    fn rescan_and_wait(
        &self,
        patience: Duration,
        give_up: impl Fn() -> bool,
    ) -> Result<Option<LibraryChanged>, ClientError> {
        let request = self.send_request(|id| Request::Rescan { id })?;
        let scan = match self.wait(&request)? {
            Message::Scanning(scanning) => scanning.scan,
            other => return Err(unexpected(other)),
        };
        let deadline = Instant::now() + patience;
        let mut state = lock(&self.scans.state);
        loop {
            if let Some(done) = state.latest.filter(|latest| latest.scan >= scan) {
                return Ok(Some(done));
            }
            if give_up() {
                return Ok(None);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.is_closed() {
                return Err(ClientError::Disconnected);
            }
            if left.is_zero() {
                return Err(ClientError::Timeout(patience));
            }
            let wait = left.min(Duration::from_millis(200));
            state = self.scans.changed.wait_timeout(state, wait).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Says GOODBYE and closes (RFC §8.2), then waits for the socket thread to end: once
    /// this returns, nothing this connection received can still reach playback.
    pub fn close(&self) {
        // Closed first, so the socket thread takes the hang-up that follows as expected.
        self.closed.store(true, Ordering::SeqCst);
        lock(&self.stop_keepalive).take();
        let goodbye = Message::Goodbye(Goodbye { reason: GoodbyeReason::Normal, text: "client quit".into() });
        {
            let mut writer = lock(&self.outbox.writer);
            if let Ok(bytes) = goodbye.to_bytes() {
                let _ = writer.write_all(&bytes);
            }
            // Only the sending half: closing a socket that still has audio arriving resets
            // the connection, which can destroy the GOODBYE before the server reads it (RFC
            // §8.2). The socket thread reads on, discarding, until the server closes in turn.
            let _ = writer.shutdown(Shutdown::Write);
        }
        let socket_thread = lock(&self.socket_thread).take();
        if let Some(socket_thread) = socket_thread
            && socket_thread.thread().id() != thread::current().id()
        {
            let deadline = Instant::now() + GOODBYE_GRACE;
            while !socket_thread.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            // A server that does not close: wake the socket thread ourselves.
            let _ = lock(&self.outbox.writer).shutdown(Shutdown::Both);
            let _ = socket_thread.join();
        }
    }

    fn send_request(&self, make: impl FnOnce(RequestId) -> Request) -> Result<Awaiting<'_>, ClientError> {
        if self.is_closed() {
            return Err(ClientError::Disconnected);
        }
        let id = self.outbox.next_id();
        let (tx, replies) = bounded(REPLY_QUEUE);
        lock(&self.pending).insert(id, tx);
        let request = Awaiting { id, replies, pending: &self.pending };
        if !self.outbox.send(make(id)) {
            return Err(ClientError::Disconnected);
        }
        Ok(request)
    }

    /// Sends a PING when nothing was sent for the keepalive interval (RFC §8.1), and gives up
    /// on a server silent for [`Timing::silence_limit`]. Returns how long until there may be
    /// something to do. The PONG is not waited for: its id has no pending entry and the router
    /// drops it; any frame from the server counts as a sign of life.
    fn keep_alive(&self) -> Duration {
        let silent_for = lock(&self.last_heard).elapsed();
        let limit = self.timing.silence_limit();
        if silent_for >= limit {
            // A PING has gone unanswered: the server is stuck or the network is gone, and a
            // blocked read would never tell. Shutting the socket down ends the socket thread,
            // which reports it (RFC §8.1 lets a client treat such a server as gone).
            self.silent.store(true, Ordering::SeqCst);
            let _ = lock(&self.outbox.writer).shutdown(Shutdown::Both);
            return limit;
        }
        let mut quiet_for = lock(&self.outbox.last_sent).elapsed();
        if quiet_for >= self.timing.keepalive && self.outbox.send(Request::Ping { id: self.outbox.next_id() })
        {
            quiet_for = Duration::ZERO;
        }
        (self.timing.keepalive.saturating_sub(quiet_for))
            .min(limit - silent_for)
            .max(Duration::from_millis(10))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Connection {
    /// The next reply to `request`.
    fn wait(&self, request: &Awaiting<'_>) -> Result<Message, ClientError> {
        match request.replies.recv_timeout(self.timing.reply_timeout) {
            Ok(Message::Error(error)) => Err(ClientError::Server(error)),
            Ok(message) => Ok(message),
            Err(RecvTimeoutError::Timeout) => Err(ClientError::Timeout(self.timing.reply_timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(ClientError::Disconnected),
        }
    }
}

fn unexpected(message: Message) -> ClientError {
    ClientError::Unexpected(message.kind().map_or("unknown", |k| k.name()))
}

fn handshake(socket: &mut TcpStream, addr: &str, timing: Timing) -> Result<(), ClientError> {
    let failed = |e: io::Error| ClientError::Handshake(explain::handshake(addr, &e, timing.reply_timeout));
    socket.set_read_timeout(Some(timing.reply_timeout)).map_err(failed)?;
    socket.write_all(&Hello::current().encode()).map_err(failed)?;
    let mut welcome = [0u8; HANDSHAKE_LEN];
    socket.read_exact(&mut welcome).map_err(failed)?;
    let welcome = Welcome::parse(&welcome).map_err(|_| {
        ClientError::Handshake(format!("{addr} answered, but not as a jukebox server does: it is not one"))
    })?;
    if welcome.version != jukebox_protocol::PROTOCOL_VERSION {
        return Err(ClientError::Handshake(format!(
            "the server at {addr} speaks protocol versions up to {}, this client only {}",
            welcome.server_max_version,
            jukebox_protocol::PROTOCOL_VERSION
        )));
    }
    socket.set_read_timeout(None).map_err(failed)?;
    Ok(())
}

/// The socket thread's state.
struct Router {
    pending: Arc<Pending>,
    playback: Arc<Playback>,
    events: EventSender,
    last_heard: Arc<Mutex<Instant>>,
    silent: Arc<AtomicBool>,
    closed: Arc<AtomicBool>,
    timing: Timing,
    on_end: Option<OnEnd>,
    /// This connection started the current song at some point: when it ends, it stops it.
    started_a_stream: bool,
    scans: Arc<Scans>,
    changes: Arc<crate::idle::Changes>,
}

/// The follower thread, one per connection: asks for the play queue's next song when it is
/// due ([`crate::playlist::Playlist::due`]: when the song received whole has a few seconds left
/// to play). The socket thread, the commands and the queue's changes wake it; it never waits
/// for a reply (the socket thread reads the PLAYING and appends the song). It notes and sends
/// its PLAY under the playlist's lock, so that a command's switch, noted under the same lock,
/// is either before it (and the follower asks for nothing) or after it (and gives it up).
struct Follower {
    outbox: Arc<Outbox>,
    playback: Arc<Playback>,
    closed: Arc<AtomicBool>,
}

impl Follower {
    fn run(self, woken: &Receiver<()>) {
        while !self.closed.load(Ordering::SeqCst) {
            let wait = {
                let mut playlist = self.playback.playlist();
                match playlist.due(self.playback.ahead()) {
                    Due::Now(pick) => {
                        let id = self.outbox.next_id();
                        playlist.ask(id, pick, true);
                        self.playback.expect_more(true);
                        if !self.outbox.send(Request::Play { id, song: pick.song }) {
                            self.playback.expect_more(false);
                        }
                        continue;
                    }
                    Due::In(wait) => Some(wait),
                    Due::Idle => None,
                }
            };
            let woke = match wait {
                Some(wait) => !matches!(woken.recv_timeout(wait), Err(RecvTimeoutError::Disconnected)),
                None => woken.recv().is_ok(),
            };
            // Disconnected: a newer connection has its own follower.
            if !woke {
                break;
            }
        }
    }
}

impl Router {
    fn run(mut self, mut socket: TcpStream) {
        let mut scratch = Vec::new();
        let ending = loop {
            match read_frame(&mut socket, &mut scratch) {
                Ok(Some(header)) => {
                    *lock(&self.last_heard) = Instant::now();
                    // Request kinds are never sent by a server: ignored undecoded (RFC §5.4.3).
                    // After our GOODBYE, what still arrives is only read until the server
                    // closes, never played or answered.
                    if header.class() == jukebox_protocol::Class::Request
                        || self.closed.load(Ordering::SeqCst)
                    {
                        continue;
                    }
                    match Message::decode(header.kind_byte, &scratch) {
                        Ok(message) => {
                            if let Some(ending) = self.route(message) {
                                break ending;
                            }
                        }
                        Err(e) => break format!("the server sent something this client cannot read: {e}"),
                    }
                }
                Ok(None) => break "the server closed the connection".to_string(),
                Err(ReadError::Frame(e)) => {
                    break format!("the server sent something this client cannot read: {e}");
                }
                Err(ReadError::Io(e)) => {
                    break format!("the connection to the server was lost ({})", explain::io(&e));
                }
                Err(ReadError::UnexpectedEof) => {
                    break "the server hung up in the middle of a frame".to_string();
                }
            }
        };
        // The keepalive shut the socket down, so the read just saw the end of it.
        let ending = if self.silent.load(Ordering::SeqCst) {
            format!(
                "the server stopped answering (nothing heard for {} s)",
                seconds(self.timing.silence_limit())
            )
        } else {
            ending
        };
        // Its request ids mean nothing on the next connection, which a report may start at once.
        self.playback.playlist().connection_ended();
        self.playback.expect_more(false);
        // Report first, then mark closed: whoever sees the connection closed can say why.
        if !self.closed.load(Ordering::SeqCst)
            && let Some(on_end) = self.on_end.take()
        {
            on_end(ending);
        }
        self.closed.store(true, Ordering::SeqCst);
        self.playback.wake_follower();
        let _ = socket.shutdown(Shutdown::Both);
        // Dropping the senders fails every command still waiting for a reply.
        lock(&self.pending).clear();
        // The server's streams end with the connection. A connection that never started one
        // (a reconnection attempt that lost to `connect`, closed while another connection
        // plays) leaves playback alone.
        if self.started_a_stream {
            self.playback.stop();
        }
    }

    /// Acts on one frame; `Some(reason)` ends the connection.
    fn route(&mut self, message: Message) -> Option<String> {
        // Audio is most of the traffic: hand its data over without a copy.
        let message = match message {
            Message::Audio(audio) => {
                self.playback.feed(audio);
                return None;
            }
            // In frame order with the audio: the decoder places it among the stream's frames.
            Message::TrackChanged(track) => {
                self.playback.track_changed(track);
                return None;
            }
            other => other,
        };
        let reply_to = match &message {
            // Replies to RELAY, which only a relaying server sends.
            Message::Audio(_) | Message::Relayed(_) | Message::Redirect(_) => return None,
            Message::EndOfStream(end) => {
                // Before the decoder hears of the end: playback must not count the song as the
                // last when another will follow.
                if let Some(song) = self.playback.song_received(end.stream) {
                    let more = self.playback.playlist().received(end.stream, song);
                    if more {
                        self.playback.expect_more(true);
                    }
                }
                self.playback.end(end.stream);
                self.playback.wake_follower();
                return None;
            }
            Message::Goodbye(goodbye) => {
                if !goodbye.text.is_empty() {
                    return Some(printable(&goodbye.text).into_owned());
                }
                let reason = match goodbye.reason {
                    GoodbyeReason::ShuttingDown => "the server is shutting down",
                    GoodbyeReason::IdleTimeout => "the server closed an idle connection",
                    GoodbyeReason::ProtocolError => "the server reported a protocol error",
                    GoodbyeReason::ServerBusy => "the server is full; try again later",
                    GoodbyeReason::Normal | GoodbyeReason::Other(_) => "the server closed the connection",
                };
                return Some(reason.to_string());
            }
            // Switch playback here, in frame order, before any audio of the new stream is read.
            Message::Playing(playing) => {
                // Not in the match: the playlist's lock must not be held while playback may
                // wait for the decoder.
                let claim = self.playback.playlist().claim(playing.id, playing.stream);
                match claim {
                    Claim::Ignore => return None,
                    Claim::Append(_) => self.playback.append(playing),
                    Claim::Start(_) | Claim::NotOurs => self.playback.start(playing),
                }
                self.started_a_stream = true;
                playing.id
            }
            Message::Stopped(stopped) => {
                self.playback.playlist().answered(stopped.id);
                self.playback.stop();
                stopped.id
            }
            Message::Pong { id } => *id,
            Message::ListPage(page) => page.id,
            Message::Error(error) if error.id == RequestId::CONNECTION => {
                self.events.send(Event::Warning(format!("server: {}", printable(&error.message))));
                return None;
            }
            Message::Error(error) => {
                let refused = {
                    let mut playlist = self.playback.playlist();
                    playlist.answered(error.id);
                    playlist.refused(error.id)
                };
                if let Some((skipped, then)) = refused {
                    self.events.send(Event::Warning(format!(
                        "the queue skips song {}: server: {}",
                        skipped.song,
                        printable(&error.message)
                    )));
                    if then.is_none() {
                        self.playback.expect_more(false);
                    }
                    self.playback.wake_follower();
                    return None;
                }
                error.id
            }
            Message::Scanning(scanning) => scanning.id,
            Message::LibraryChanged(changed) => {
                let mut state = lock(&self.scans.state);
                // The same scan may be announced twice (RFC §6.1.5: once when it ends, once
                // after this client's SCANNING): news only once.
                let news = state.latest.is_none_or(|latest| changed.scan > latest.scan);
                if news {
                    state.latest = Some(*changed);
                }
                // While a `rescan` waits, what changed is that command's to show.
                let rescanning = state.rescanning;
                drop(state);
                self.scans.changed.notify_all();
                if changed.changed_anything() && news && !rescanning {
                    self.events.send(Event::LibraryChanged(*changed));
                }
                return None;
            }
            // Like PLAYING: switch here, before any audio of the station is read.
            Message::Tuned(tuned) => {
                self.playback.playlist().answered(tuned.id);
                self.playback.tune(tuned.stream);
                self.started_a_stream = true;
                tuned.id
            }
            Message::Queued(queued) => queued.id,
            Message::Paused(paused) => paused.id,
            Message::Resumed(resumed) => resumed.id,
            Message::QueuePage(page) => page.id,
            Message::SongInfo(info) => info.id,
            // In frame order: the EVENTs after it are news to the `idle` that subscribed.
            Message::Subscribed(subscribed) => {
                self.changes.subscribed(subscribed.mask);
                subscribed.id
            }
            Message::Event(event) => {
                self.changes.arrived(*event);
                return None;
            }
            Message::TrackChanged(_) => return None,
            // Requests are not for clients; unknown kinds are from a newer server (RFC §5.4).
            Message::Request(_) | Message::Unknown { .. } => return None,
        };
        let last_reply = match &message {
            Message::ListPage(page) => page.last,
            Message::QueuePage(page) => page.last,
            _ => true,
        };
        // Not under the lock: the send may wait for the command to catch up.
        let waiter = lock(&self.pending).get(&reply_to).cloned();
        if let Some(waiter) = waiter {
            // A command that stays behind this long has given up: forget it.
            if waiter.send_timeout(message, self.timing.reply_timeout).is_err() || last_reply {
                lock(&self.pending).remove(&reply_to);
            }
        }
        None
    }
}
