//! The HTTP side of the server (`--http`): the station for any player (`/radio`, Icecast-style,
//! with ICY metadata), single songs with byte ranges (`/songs/N.mp3`), the station's state as
//! JSON and as Server-Sent Events, requests (`POST /request/N`), and the web page.
//!
//! Blocking threads, as the native side: one acceptor thread, and one thread per connection,
//! at most [`DEFAULT_MAX_CONNECTIONS`] at once (more are answered 503 by the acceptor, without
//! blocking, and closed). A connection's head must arrive whole within [`HEAD_TIMEOUT`] and
//! fit [`MAX_HEAD`]; each connection serves one request and closes (`Connection: close`): a
//! page makes a handful of requests, and a stream or event stream holds its connection for
//! good, so keep-alive would save little.
//!
//! | Path | Methods | Answer |
//! |---|---|---|
//! | `/`, `/app.js`, `/style.css` | GET, HEAD | the web page ([`page`]) |
//! | `/radio` | GET, HEAD | the station, `audio/mpeg`, endless ([`radio`]) |
//! | `/radio.m3u`, `/radio.pls` | GET, HEAD | playlists of `/radio` |
//! | `/songs/N.mp3` | GET, HEAD | song N's file, with ranges ([`songs`]) |
//! | `/status.json`, `/library.json` | GET, HEAD | JSON ([`status`]) |
//! | `/request/N` | POST | asks the station for song N ([`status`]) |
//! | `/events` | GET, HEAD | Server-Sent Events ([`events`]) |
//!
//! Anything else is 404; a known path asked with another method 405 with `Allow`. Heads are
//! parsed by `httparse` ([`head`]); text from the network is passed through
//! [`printable`] before it reaches the log.

pub mod client;
pub mod events;
pub mod head;
pub mod icy;
pub mod page;
pub mod radio;
pub mod songs;
pub mod status;

use std::io::{self, BufWriter, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use jukebox_protocol::SongId;
use jukebox_protocol::text::printable;
use mio::{Events, Interest, Poll, Token, Waker};
use tracing::{debug, error, info, warn};

pub use head::{HEAD_TIMEOUT, MAX_HEAD};

use crate::Shared;
use crate::native::ending::drain_until;
use crate::radio::Requester;
use head::Head;

/// HTTP connections served at once unless [`crate::Server::with_http_max_connections`] says
/// otherwise: listeners, downloads, pages and event streams together.
pub const DEFAULT_MAX_CONNECTIONS: usize = 2000;

/// A write that makes no progress for this long drops the connection (a listener who stopped
/// reading).
pub const WRITE_TIMEOUT: Duration = crate::native::writer::WRITE_TIMEOUT;

/// The largest request body accepted (`POST /request/N` needs none; it is read and dropped).
pub const MAX_BODY: u64 = 1024;

/// How long, after its answer, a connection's thread reads and drops what the client still
/// sends, so that closing does not reset the connection before the answer is read.
const LINGER: Duration = Duration::from_secs(1);

/// Stack of each connection's thread: it formats JSON and log lines, nothing deep.
const THREAD_STACK: usize = 256 * 1024;

/// After `accept` fails (out of file descriptors), wait this long before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What the server calls itself in `Server:`.
const SERVER_HEADER: &str = concat!("jukebox/", env!("CARGO_PKG_VERSION"));

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

const LISTENER: Token = Token(0);
const WAKE: Token = Token(1);

/// How much the HTTP side takes on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections served at once.
    pub(crate) max_connections: usize,
    /// Connections served at once from one address.
    pub(crate) max_per_address: usize,
    /// Time for a whole request head.
    pub(crate) head_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_per_address: DEFAULT_MAX_PER_ADDRESS,
            head_timeout: HEAD_TIMEOUT,
        }
    }
}

/// HTTP connections served at once from one address unless told otherwise, so that one host
/// cannot take every connection (idle event streams cost it nothing) and lock the others out.
/// High enough for an office behind one NAT: a browser listening holds two (the stream and
/// its page's event stream).
pub const DEFAULT_MAX_PER_ADDRESS: usize = 256;

/// The HTTP listener, bound and not yet accepting.
#[derive(Debug)]
pub(crate) struct Endpoint {
    listener: std::net::TcpListener,
    addr: SocketAddr,
}

impl Endpoint {
    /// Binds `addr` at once, so that a taken port is an error before anything starts.
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<Endpoint> {
        let listener = crate::listen(addr)?;
        let addr = listener.local_addr()?;
        Ok(Endpoint { listener, addr })
    }

    /// The address bound.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts the acceptor thread.
    pub(crate) fn start(self, shared: Arc<Shared>, limits: Limits) -> io::Result<Running> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKE)?;
        self.listener.set_nonblocking(true)?;
        let mut listener = mio::net::TcpListener::from_std(self.listener);
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        let ctx =
            Arc::new(Ctx { shared, live: AtomicUsize::new(0), per_address: Default::default(), limits });
        let acceptor_ctx = Arc::clone(&ctx);
        let thread = thread::Builder::new()
            .name("http-acceptor".into())
            .spawn(move || accept_loop(poll, listener, &acceptor_ctx))?;
        info!(
            "HTTP on http://{}/ (the radio at /radio; at most {} connections)",
            self.addr, limits.max_connections
        );
        Ok(Running { waker, thread: Some(thread), ctx })
    }
}

/// The running acceptor; [`Running::stop`] ends it.
#[derive(Debug)]
pub(crate) struct Running {
    waker: Waker,
    thread: Option<thread::JoinHandle<()>>,
    ctx: Arc<Ctx>,
}

impl Running {
    /// Stops accepting and waits for the acceptor thread. Connections end by themselves: each
    /// watches the server's shutdown signal (one still sending its head, at its head timeout).
    pub(crate) fn stop(&mut self) {
        let _ = self.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Connections being served now.
    pub(crate) fn live(&self) -> usize {
        self.ctx.live.load(Ordering::SeqCst)
    }
}

/// What every HTTP connection's thread shares.
#[derive(Debug)]
struct Ctx {
    shared: Arc<Shared>,
    live: AtomicUsize,
    /// Connections being served, by address.
    per_address: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
    limits: Limits,
}

/// Counts a connection against its address while its thread runs, even if it panics.
struct AddressGuard<'a> {
    ctx: &'a Ctx,
    ip: std::net::IpAddr,
}

impl Drop for AddressGuard<'_> {
    fn drop(&mut self) {
        let mut per = self.ctx.per_address.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = per.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per.remove(&self.ip);
            }
        }
    }
}

fn accept_loop(mut poll: Poll, listener: mio::net::TcpListener, ctx: &Arc<Ctx>) {
    let mut events = Events::with_capacity(16);
    let mut paused_until: Option<Instant> = None;
    loop {
        let timeout = paused_until.map(|t| t.saturating_duration_since(Instant::now()));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            error!("the HTTP acceptor's event loop failed: {e}");
            return;
        }
        if events.iter().any(|e| e.token() == WAKE) {
            return;
        }
        if paused_until.is_some_and(|t| t > Instant::now()) {
            continue;
        }
        paused_until = None;
        loop {
            match listener.accept() {
                Ok((socket, peer)) => admit(std::net::TcpStream::from(OwnedFd::from(socket)), peer, ctx),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    error!("HTTP accept failed: {e}");
                    paused_until = Some(Instant::now() + ACCEPT_BACKOFF);
                    break;
                }
            }
        }
    }
}

/// Gives a new connection its thread, or turns it away when the server has no room.
fn admit(socket: TcpStream, peer: SocketAddr, ctx: &Arc<Ctx>) {
    let max = ctx.limits.max_connections;
    if ctx.live.load(Ordering::SeqCst) >= max {
        debug!(%peer, "HTTP: turned away, {max} connections already");
        turn_away(&socket, 503, &format!("the server is serving {max} connections; try again soon"));
        return;
    }
    let ip = peer.ip().to_canonical();
    {
        let mut per = ctx.per_address.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = per.entry(ip).or_default();
        let most = ctx.limits.max_per_address;
        if *n >= most {
            debug!(%peer, "HTTP: turned away, {most} connections from this address already");
            drop(per);
            turn_away(
                &socket,
                429,
                &format!("{most} connections from your address already; close some first"),
            );
            return;
        }
        *n += 1;
    }
    ctx.live.fetch_add(1, Ordering::SeqCst);
    let thread_ctx = Arc::clone(ctx);
    let spawned =
        thread::Builder::new().name(format!("http {peer}")).stack_size(THREAD_STACK).spawn(move || {
            let _live = crate::LiveGuard(&thread_ctx.live);
            let _address = AddressGuard { ctx: &thread_ctx, ip };
            serve(socket, peer, &thread_ctx.shared, thread_ctx.limits.head_timeout);
        });
    if let Err(e) = spawned {
        ctx.live.fetch_sub(1, Ordering::SeqCst);
        drop(AddressGuard { ctx, ip });
        warn!(%peer, "cannot start a thread for an HTTP connection, dropping it: {e}");
    }
}

/// Answers `status` (503: the server is full; 429: this address has too many connections)
/// from the acceptor, without blocking: reads what has arrived of the request (so that closing
/// does not reset the connection before the answer is read), writes the answer into the new
/// socket's empty send buffer, and closes.
fn turn_away(mut socket: &TcpStream, status: u16, why: &str) {
    let mut scratch = [0u8; 4096];
    for _ in 0..4 {
        match socket.read(&mut scratch) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    let body = format!("{status} {}: {why}\n", reason(status));
    let reply =
        Reply::new(status).header("Retry-After", "10").header("Content-Type", TEXT).length(body.len() as u64);
    let mut bytes = reply.head().into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    let _ = socket.write(&bytes);
    let _ = socket.shutdown(Shutdown::Write);
}

/// Serves one connection: reads its head, answers, closes.
fn serve(socket: TcpStream, peer: SocketAddr, shared: &Shared, head_timeout: Duration) {
    if let Err(e) = configure(&socket) {
        debug!(%peer, "cannot set up an HTTP connection: {e}");
        return;
    }
    let deadline = Instant::now() + head_timeout;
    let mut linger = true;
    match head::read(&socket, deadline) {
        Ok((head, body)) => {
            // A stream ends because the client left or the server is stopping: nothing of an
            // answer is left for the client to read.
            linger =
                head.method != "GET" || !matches!(Route::of(head.path()), Some(Route::Radio | Route::Events));
            let result = respond(&socket, peer, &head, &body, deadline, shared);
            let (method, target) = (printable(&head.method), printable(&head.target));
            match result {
                Ok(status) => debug!(%peer, "HTTP {method} {target}: {status}"),
                Err(e) => debug!(%peer, "HTTP {method} {target}: ended: {}", e.kind()),
            }
        }
        Err(e) => {
            debug!(%peer, "HTTP: {e}");
            if let Some(status) = e.status() {
                let _ = error(&socket, status, &e.to_string(), false);
            }
        }
    }
    if linger {
        let _ = socket.shutdown(Shutdown::Write);
        drain_until(&socket, Instant::now() + LINGER);
    }
    let _ = socket.shutdown(Shutdown::Both);
}

fn configure(socket: &TcpStream) -> io::Result<()> {
    socket.set_nonblocking(false)?;
    socket.set_nodelay(true)?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))
}

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Asset(&'static page::Asset),
    Radio,
    M3u,
    Pls,
    Song(SongId),
    Status,
    Library,
    Request(SongId),
    Events,
}

impl Route {
    fn of(path: &str) -> Option<Route> {
        if let Some(asset) = page::asset(path) {
            return Some(Route::Asset(asset));
        }
        let route = match path {
            "/radio" => Route::Radio,
            "/radio.m3u" => Route::M3u,
            "/radio.pls" => Route::Pls,
            "/status.json" => Route::Status,
            "/library.json" => Route::Library,
            "/events" => Route::Events,
            _ => {
                if let Some(n) = path.strip_prefix("/songs/").and_then(|rest| rest.strip_suffix(".mp3")) {
                    return song_id(n).map(Route::Song);
                }
                return path.strip_prefix("/request/").and_then(song_id).map(Route::Request);
            }
        };
        Some(route)
    }

    fn methods(self) -> &'static [&'static str] {
        match self {
            Route::Request(_) => &["POST"],
            _ => &["GET", "HEAD"],
        }
    }
}

/// A song id in a path: decimal digits, nonzero, within u32.
fn song_id(text: &str) -> Option<SongId> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&n| n != 0).map(SongId)
}

/// Answers one request. Returns the status sent.
fn respond(
    socket: &TcpStream,
    peer: SocketAddr,
    head: &Head,
    body: &[u8],
    deadline: Instant,
    shared: &Shared,
) -> io::Result<u16> {
    let head_only = head.method == "HEAD";
    let Some(route) = Route::of(head.path()) else {
        return error(socket, 404, "nothing here; the radio is at /radio", head_only);
    };
    let methods = route.methods();
    if !methods.contains(&head.method.as_str()) {
        let reply = Reply::new(405).header("Allow", methods.join(", "));
        let body = format!("405 Method Not Allowed: use {}\n", methods.join(" or "));
        return reply.send(socket, TEXT, body.as_bytes(), head_only);
    }
    let asker = Requester::new(peer.ip());
    match route {
        Route::Asset(asset) => Reply::new(200)
            .header("Cache-Control", "no-cache")
            .header("X-Content-Type-Options", "nosniff")
            .send(socket, asset.content_type, asset.body.as_bytes(), head_only),
        Route::Radio => radio::serve(socket, peer, head, head_only, shared),
        Route::M3u | Route::Pls => {
            let base = radio::base_url(head, socket.local_addr()?);
            let (content_type, text) = match route {
                Route::M3u => ("audio/x-mpegurl", radio::m3u(&base)),
                _ => ("audio/x-scpls", radio::pls(&base)),
            };
            Reply::new(200).header("Cache-Control", "no-cache").send(
                socket,
                content_type,
                text.as_bytes(),
                head_only,
            )
        }
        Route::Song(id) => songs::serve(socket, head, head_only, shared, id),
        Route::Status => {
            let json = status::status_json(shared, asker);
            Reply::new(200).header("Cache-Control", "no-cache").send(socket, JSON, json.as_bytes(), head_only)
        }
        Route::Library => {
            // Streamed as it is serialized, its end marked by the close.
            Reply::new(200)
                .header("Content-Type", JSON)
                .header("Cache-Control", "no-cache")
                .write_head(socket)?;
            if !head_only {
                let library = shared.catalog.current();
                let mut out = BufWriter::with_capacity(16 * 1024, socket);
                serde_json::to_writer(&mut out, &status::LibraryList(&library)).map_err(io::Error::other)?;
                out.flush()?;
            }
            Ok(200)
        }
        Route::Request(id) => {
            if let Err((status, why)) = discard_body(socket, head, body.len(), deadline) {
                return error(socket, status, why, false);
            }
            let result = shared.station.request(asker, id);
            match &result {
                Ok(accepted) => info!(
                    "station: {} asked for {} over HTTP ({})",
                    asker.ip(),
                    id,
                    printable(&accepted.message())
                ),
                Err(refused) => {
                    debug!(%peer, "HTTP request for {id} refused: {}", printable(&refused.message))
                }
            }
            let (status, json) = status::request_answer(&result);
            Reply::new(status).header("Cache-Control", "no-store").send(socket, JSON, json.as_bytes(), false)
        }
        Route::Events => events::serve(socket, peer, head_only, shared),
    }
}

/// Reads and drops a request's body (at most [`MAX_BODY`]), `already` bytes of which came with
/// the head. `Err` carries the status and words of a refusal.
fn discard_body(
    mut socket: &TcpStream,
    head: &Head,
    already: usize,
    deadline: Instant,
) -> Result<(), (u16, &'static str)> {
    let length = head.body_length().map_err(|e| match e {
        head::HeadError::LengthRequired => (411, "a request body needs a Content-Length"),
        _ => (400, "a bad Content-Length"),
    })?;
    if length > MAX_BODY {
        return Err((413, "the body is too large: this request needs none"));
    }
    let mut left = length.saturating_sub(already as u64);
    if left > 0 && head.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        // The client waits for this before it sends the body (curl does, for larger bodies).
        socket.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").map_err(|_| (400, "the connection broke"))?;
    }
    let mut scratch = [0u8; MAX_BODY as usize];
    while left > 0 {
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() || socket.set_read_timeout(Some(wait)).is_err() {
            return Err((408, "the body did not arrive in time"));
        }
        let want = usize::try_from(left).unwrap_or(scratch.len()).min(scratch.len());
        match socket.read(&mut scratch[..want]) {
            Ok(0) => return Err((400, "the body ended early")),
            Ok(n) => left -= n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err((408, "the body did not arrive in time")),
        }
    }
    Ok(())
}

/// The reason phrase of a status.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// A response's status line and header fields. Values come from the server, never verbatim
/// from a request.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    length: Option<u64>,
}

impl Reply {
    pub(crate) fn new(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), length: None }
    }

    pub(crate) fn status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    pub(crate) fn code(&self) -> u16 {
        self.status
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        let value: String = value.into();
        // A value with a line break would forge header fields.
        let value = if value.contains(['\r', '\n']) { value.replace(['\r', '\n'], " ") } else { value };
        self.headers.push((name, value));
        self
    }

    /// Sets `Content-Length`. Without it the body ends when the connection closes.
    pub(crate) fn length(mut self, length: u64) -> Reply {
        self.length = Some(length);
        self
    }

    fn head(&self) -> String {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nServer: {SERVER_HEADER}\r\nConnection: close\r\n",
            self.status,
            reason(self.status)
        );
        for (name, value) in &self.headers {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        }
        if let Some(length) = self.length {
            out.push_str(&format!("Content-Length: {length}\r\n"));
        }
        out.push_str("\r\n");
        out
    }

    pub(crate) fn write_head(&self, mut socket: &TcpStream) -> io::Result<()> {
        socket.write_all(self.head().as_bytes())
    }

    /// Writes the head and the first bytes of the body in one write.
    pub(crate) fn write_head_and(&self, socket: &TcpStream, body: &[u8]) -> io::Result<()> {
        let head = self.head();
        write_all_vectored(socket, &mut [IoSlice::new(head.as_bytes()), IoSlice::new(body)]).map(|_| ())
    }

    /// Sends a whole response with `body` (only its length for HEAD). Returns the status.
    pub(crate) fn send(
        self,
        socket: &TcpStream,
        content_type: &str,
        body: &[u8],
        head_only: bool,
    ) -> io::Result<u16> {
        let reply = self.header("Content-Type", content_type).length(body.len() as u64);
        reply.write_head_and(socket, if head_only { &[] } else { body })?;
        Ok(reply.status)
    }
}

/// A short plain-text answer: `404 Not Found: why`.
pub(crate) fn error(socket: &TcpStream, status: u16, why: &str, head_only: bool) -> io::Result<u16> {
    let body = format!("{status} {}: {why}\n", reason(status));
    Reply::new(status).header("Cache-Control", "no-store").send(socket, TEXT, body.as_bytes(), head_only)
}

pub(crate) use crate::net::write_all_vectored;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_routes_and_ids_are_strict() {
        assert_eq!(Route::of("/radio"), Some(Route::Radio));
        assert_eq!(Route::of("/songs/12.mp3"), Some(Route::Song(SongId(12))));
        assert_eq!(Route::of("/request/4294967295"), Some(Route::Request(SongId(u32::MAX))));
        for bad in [
            "/songs/0.mp3",
            "/songs/.mp3",
            "/songs/-1.mp3",
            "/songs/1.ogg",
            "/songs/+1.mp3",
            "/request/4294967296",
            "/request/1/2",
            "/radio/",
            "/RADIO",
            "/songs/99999999999.mp3",
        ] {
            assert_eq!(Route::of(bad), None, "{bad}");
        }
        assert_eq!(Route::Request(SongId(1)).methods(), ["POST"]);
        assert_eq!(Route::of("/").map(Route::methods), Some(&["GET", "HEAD"][..]));
    }

    #[test]
    fn a_reply_head_cannot_be_split_by_a_value() {
        let head = Reply::new(200).header("X-Test", "a\r\nSet-Cookie: x").length(3).head();
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nServer: jukebox/0.1.0\r\nConnection: close\r\nX-Test: a  Set-Cookie: x\r\n\
             Content-Length: 3\r\n\r\n"
        );
    }

    #[test]
    fn vectored_writes_finish_across_short_writes() {
        /// Takes at most 3 bytes a call.
        struct Trickle(Vec<u8>);
        impl Write for Trickle {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let n = buf.len().min(3);
                self.0.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut out = Trickle(Vec::new());
        let parts: [&[u8]; 4] = [b"hello", b"", b" wor", b"ld"];
        let mut slices: Vec<IoSlice> = parts.iter().map(|p| IoSlice::new(p)).collect();
        assert_eq!(write_all_vectored(&mut out, &mut slices).unwrap(), 11);
        assert_eq!(out.0, b"hello world");
    }
}
