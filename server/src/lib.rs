//! The jukebox server: serves the MP3 files of one folder over the Jukebox Protocol
//! (`RFC.md`), to any number of clients at once, with blocking I/O and two threads per client;
//! and, with [`Server::with_http`], over HTTP ([`http`]): the radio for any player, songs, and
//! a web page, with one thread per connection.
//!
//! # Threads
//!
//! ```text
//!                 ┌──────────────────────────────────────┐
//!  TcpListener ─▶ │ acceptor (Server::run): mio loop     │  accepts, reads every HELLO (at most
//!                 │ over the listener and every socket   │  MAX_PENDING at once, oldest closed
//!                 │ whose handshake is not complete      │  first), writes WELCOME; turns away
//!                 └──────────────────┬───────────────────┘  SERVER_BUSY itself, without blocking
//!                    good HELLO, room: spawns (stacks of THREAD_STACK bytes)
//!                                    ▼
//!  ┌──────────────────┐  Work (crossbeam bounded(WORK_QUEUE))  ┌──────────────────────────┐
//!  │ reader           │ ─────────────────────────────────────▶ │ writer                   │
//!  │ read_frame, then │  replies, List, Play (song loaded),    │ the ONLY writer after the│
//!  │ dispatch (no I/O)│  Stop, Scanning, Tune, Queue, Goodbye  │ handshake; owns Session  │──▶ socket
//!  └──────────────────┘                                        │ (streams, pacing); select│    (writev)
//!   socket (read half)     ┌─────────────┐ "a scan finished"   │ over Work, shutdown, scan│
//!      │ PLAY: waits ≤ 5 s │ catalog     │ ──────────────────▶ │ wake-ups, next deadline; │
//!      ▼                   │ (Library    │  bounded(1) each    │ reads the newest results │
//!                          │ snapshot,   │                     └──────────────────────────┘
//!  ┌──────────────────┐    │ results)    │◀── scanner thread: scans at start and on RESCAN,
//!  │ loader threads ×4│    └─────────────┘    saves the index
//!  │ (SongCache): read│
//!  │ files, chunk them│
//!  └──────────────────┘
//!
//!  station-encoder ──▶ station-clock ──▶ Hub: a bounded queue of shared chunks per listener
//!  (radio::station)                      (native writers and HTTP /radio threads read them)
//!   or, relaying (with_relay):                        ▲
//!  relay-feed ──Feed (bounded)──▶ relay-clock ────────┘  a relay child's writer wakes on
//!  (relay::feed: connects, fails   (Splicer: drops what    each chunk (Session::relay_feed)
//!   over, reads one upstream)       was sent, silence
//!     ▲ a better upstream            while none comes)
//!  relay-probe: tries earlier --relay upstreams every 5 s
//!
//!  the station's changes (a song on the air: its clock; a request: a reader; a request picked
//!  or skipped: its encoder) ──"the station changed", bounded(1)──▶ each writer whose client
//!  SUBSCRIBEd to the station (radio::Pulse); the writer reads the newest counts, as for scans
//!
//!  HTTP (with_http)┌──────────────────────────────────────┐
//!  TcpListener ──▶ │ http-acceptor: mio loop over the     │  over http::DEFAULT_MAX_CONNECTIONS
//!                  │ listener and a waker (stop)          │  live: writes 503 itself, without
//!                  └──────────────────┬───────────────────┘  blocking, and closes
//!                          spawns one │ thread per connection (stacks of 256 KiB)
//!                                     ▼
//!                  ┌──────────────────────────────────────┐
//!                  │ http connection: the ONLY reader and │──▶ socket: one response, then
//!                  │ writer of its socket; reads the head │    Connection: close
//!                  │ (≤ 8 KiB, all within 10 s), answers  │
//!                  └──────────────────────────────────────┘
//!    /radio:  Tuning from the Hub; wakes every radio::WRITE_EVERY (1.8 s; sooner while its
//!             listener holds under radio::MIN_CUSHION), one writev of shared chunk slices and
//!             ICY blocks; select! over the live queue and shutdown
//!    /events: select! over station.watch(), shutdown and a 15 s keepalive
//!    /songs/N.mp3: open_listed, then 64 KiB reads (read_at) and writes
//!
//!  Icecast (with_icecast): icecast-source thread: a listener of the Hub (Via::Http) whose
//!  socket is Icecast's PUT; posts titles to the icecast-titles thread (newest only), which
//!  sends each on a short connection of its own
//! ```
//!
//! - The reader blocks only in `read` (timeout: `IDLE_TIMEOUT`), in waiting for a song
//!   (at most `LOAD_TIMEOUT`: the loader threads open and walk files, never a connection's
//!   thread), in waiting its turn when its client floods PLAYs (`PlayBudget`: at most half a
//!   second a PLAY), and in sending to the writer (bounded, so a client that never reads is
//!   slowed by TCP, not buffered without limit).
//! - The writer blocks only in `write` (timeout: `WRITE_TIMEOUT`), in `select!`, and, for a
//!   song too large to keep in memory, in reading the one batch it is about to send from the
//!   song's open file (a local disk; a hung network mount would stall that connection's
//!   replies, no other connection's). Because it alone switches streams and writes
//!   PLAYING/STOPPED, no audio of an old stream can follow those replies (RFC §7.4); because
//!   it looks for work before every write of audio, and one write carries at most
//!   `MAX_WRITE_AUDIO`, a reply waits behind at most one write.
//! - EVENTs (SUBSCRIBE) are made by the writer when a scan's or the station's wake-up comes:
//!   it reads the newest counts of changes and tells what its client has not heard of
//!   (`native::events`); nothing is queued per change, so a client that does not read costs
//!   one waiting wake-up of each kind. Only writers whose client subscribed to the station
//!   listen to it.
//! - The writer encodes LIST pages itself, page by page, from the library snapshot the reader
//!   took when it read the LIST; for a SEARCH, from references to the snapshot's songs that
//!   match. INFO is answered by the reader from the snapshot alone: the scan found every
//!   detail, so no file is read for it.
//! - Shutdown: the acceptor's waker stops its loop; dropping the shutdown sender wakes every
//!   writer, which says GOODBYE and shuts down the socket's sending half; its reader ends when
//!   the client closes in turn (one that does not is left to the idle timeout, after
//!   `Server::run` has returned).
//! - The station (`radio`, started by [`Server::with_radio`]) has two threads of its own: an
//!   encoder that picks songs (the fair queue, else a shuffle), loads them through the
//!   [`library::song::SongCache`], decodes, resamples and encodes them into one stream, at
//!   most 2 s ahead; and a clock that puts each chunk on the air at its time, into the queue of
//!   every listener (`try_send`: a listener who does not keep up is skipped forward, never
//!   waited for). A tuned connection's writer takes the chunks from its queue every 1.8 s
//!   (`radio::WRITE_EVERY`; sooner while its listener holds less than `radio::MIN_CUSHION`) and
//!   writes them as shared slices; its reader answers REQUEST and QUEUE
//!   from the station's state under one mutex, without waiting on the station's threads.
//! - An HTTP connection's thread blocks only in reading its head (all of it within
//!   [`http::HEAD_TIMEOUT`]), in `write` (timeout: [`http::WRITE_TIMEOUT`]), in reading a song
//!   from disk, in `select!` over the station's chunks or events and the shutdown signal, and,
//!   after its answer, in reading what the client still sends for at most a second (so that
//!   the close does not reset the answer away). At shutdown streams and event streams end, and
//!   the HTTP acceptor stops after the native one.
//! - A relay (`relay`, started by [`Server::with_relay`]) has three threads instead of the
//!   station's two: the feed blocks in connecting (each attempt bounded, `relay::jukebox::
//!   CONNECT_TIMEOUT`), in reading its upstream (at most `relay::jukebox::STALL` or
//!   `relay::icy::STALL` without audio, then it fails over) and in handing what it read to the
//!   clock (bounded: a clock that waits to put early audio on the air slows the upstream through
//!   TCP); the clock blocks only in receiving (until audio is due, or an outage is declared and
//!   it goes on with silence) and in sleeping until a chunk is due; the prober only in its own
//!   connection attempts. A relay child's writer (a RELAY stream) wakes on each chunk its queue
//!   receives, not every `radio::WRITE_EVERY`.
//! - The Icecast feeder ([`icecast`], started by [`Server::run`] after
//!   [`Server::with_icecast`]) blocks only in connecting to Icecast and reading its answer
//!   (each bounded), in `write` (timeout: [`icecast::feed::WRITE_TIMEOUT`]) and in `select!`
//!   over its queue of chunks, its backoff and the shutdown signal; its title thread blocks in
//!   one short admin request at a time. The station never waits for either.
//! - The library is an immutable snapshot behind the [`Catalog`]; a scan builds a new one and
//!   swaps it in. Loaded songs are shared through [`library::song::SongCache`] (a mutex held
//!   only for map updates).

pub mod backoff;
pub mod capacity;
pub mod http;
pub mod icecast;
pub mod library;
pub mod native;
mod net;
pub mod radio;
pub mod relay;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use tracing::{info, warn};

pub use library::{Catalog, CatalogOptions, Library, ScanError};

use crate::library::song::SongCache;
use crate::native::handshake::{Acceptor, WAKER};
use crate::radio::Station;

/// How long [`Server::run`] waits, after shutdown, for connections to say goodbye.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Clients served at once unless [`Server::with_max_clients`] says otherwise (and the
/// machine's limits allow fewer). Each takes two threads.
pub const DEFAULT_MAX_CLIENTS: usize = 10_000;

/// Connections the kernel queues while the acceptor is busy. The default of 128 drops SYNs
/// when thousands of listeners connect at once, which costs each of them a one-second
/// retransmission; the kernel caps this at `net.core.somaxconn`.
const LISTEN_BACKLOG: i32 = 4096;

/// What every connection thread shares.
#[derive(Debug)]
pub(crate) struct Shared {
    catalog: Arc<Catalog>,
    cache: Arc<SongCache>,
    /// The station: off unless [`Server::with_radio`] started it.
    station: Station,
    /// Never sent on; disconnected when the server shuts down.
    shutdown: Receiver<()>,
    live_connections: AtomicUsize,
    /// Counts for the log's summary line.
    tally: Tally,
}

/// What happened to connections since the server started, for a summary in the log once a
/// minute instead of a line per connection: at thousands of clients a line each is noise,
/// and formatting a log line on a connection's thread costs that thread a page of stack
/// (measured: 4 KiB per connection).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Clients whose handshake completed and who were served.
    joined: AtomicUsize,
    /// Served clients whose connection ended.
    left: AtomicUsize,
    /// Of those, connections the server ended because the client broke the protocol, fell
    /// silent, or stopped reading.
    troubled: AtomicUsize,
    /// Clients told the server is full, or refused for their protocol version.
    turned_away: AtomicUsize,
}

impl Tally {
    /// The counts now: joined, left, troubled, turned away.
    fn snapshot(&self) -> [usize; 4] {
        [&self.joined, &self.left, &self.troubled, &self.turned_away].map(|n| n.load(Ordering::Relaxed))
    }
}

/// A bound server, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    listener: std::net::TcpListener,
    poll: mio::Poll,
    shared: Arc<Shared>,
    stop: ShutdownHandle,
    max_clients: Option<usize>,
    /// The HTTP side, when [`Server::with_http`] bound it.
    http: Option<http::Endpoint>,
    http_limits: http::Limits,
    /// The Icecast to feed the station to, when [`Server::with_icecast`] named one.
    icecast: Option<icecast::Target>,
}

/// Stops a running server from another thread (a signal handler, a test). Cloneable.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    waker: Arc<mio::Waker>,
    shutdown: Arc<Mutex<Option<Sender<()>>>>,
}

impl ShutdownHandle {
    /// Asks the server to stop: every client gets GOODBYE, then [`Server::run`] returns.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.shutdown.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let _ = self.waker.wake();
    }
}

impl Server {
    /// Binds `addr` to serve the songs of `catalog`. Fails if the address is taken.
    pub fn bind(addr: SocketAddr, catalog: Arc<Catalog>) -> io::Result<Server> {
        let listener = listen(addr)?;
        let local = listener.local_addr()?;
        let poll = mio::Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER)?);
        let (shutdown_tx, shutdown_rx) = crossbeam_channel::bounded(0);
        let cache = SongCache::new(catalog.root().clone());
        let station = Station::off(Arc::clone(&catalog));
        let shared = Arc::new(Shared {
            catalog,
            cache,
            station,
            shutdown: shutdown_rx,
            live_connections: AtomicUsize::new(0),
            tally: Tally::default(),
        });
        let stop = ShutdownHandle {
            addr: local,
            stopping: Arc::new(AtomicBool::new(false)),
            waker,
            shutdown: Arc::new(Mutex::new(Some(shutdown_tx))),
        };
        Ok(Server {
            listener,
            poll,
            shared,
            stop,
            max_clients: None,
            http: None,
            http_limits: http::Limits::default(),
            icecast: None,
        })
    }

    /// Also serves HTTP on `addr` (see [`http`]): the station for any player, songs, the
    /// station's state, and the web page. Binds at once, so a taken port fails here; the HTTP
    /// side accepts while [`Server::run`] runs and stops with it.
    pub fn with_http(mut self, addr: SocketAddr) -> io::Result<Server> {
        self.http = Some(http::Endpoint::bind(addr)?);
        Ok(self)
    }

    /// Serves at most `max` HTTP connections at once (listeners, downloads, pages, event
    /// streams); more are answered 503. Default: [`http::DEFAULT_MAX_CONNECTIONS`].
    pub fn with_http_max_connections(mut self, max: usize) -> Server {
        self.http_limits.max_connections = max;
        self
    }

    /// Serves at most `max` HTTP connections at once from one address; more from it are
    /// answered 429. Default: [`http::DEFAULT_MAX_PER_ADDRESS`].
    pub fn with_http_max_per_address(mut self, max: usize) -> Server {
        self.http_limits.max_per_address = max;
        self
    }

    /// Gives an HTTP client `timeout` to send a whole request head, instead of
    /// [`http::HEAD_TIMEOUT`].
    pub fn with_http_head_timeout(mut self, timeout: Duration) -> Server {
        self.http_limits.head_timeout = timeout;
        self
    }

    /// The address the HTTP side is bound to, if [`Server::with_http`] bound one.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(http::Endpoint::local_addr)
    }

    /// Serves at most `max` clients at once; others get GOODBYE with reason SERVER_BUSY. The
    /// server warns and serves fewer when the machine's limits do not allow `max`.
    pub fn with_max_clients(mut self, max: usize) -> Server {
        self.max_clients = Some(max);
        self
    }

    /// Keeps the songs in memory (streamed or kept for later) within `bytes` in total, instead
    /// of [`library::song::SONG_MEMORY`].
    pub fn with_song_memory(mut self, bytes: usize) -> Server {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.cache = SongCache::with_budget(shared.catalog.root().clone(), bytes);
        }
        self
    }

    /// Starts the station (RFC §7.5): from now on it plays, to listeners or not, and TUNE and
    /// REQUEST are answered. Without it they get OFF_AIR. Call after
    /// [`Server::with_song_memory`], whose cache the station loads its songs through.
    pub fn with_radio(mut self) -> io::Result<Server> {
        let shared = Arc::get_mut(&mut self.shared)
            .ok_or_else(|| io::Error::other("the server is already running"))?;
        let tree = Arc::clone(shared.station.tree());
        shared.station = Station::start(Arc::clone(&shared.catalog), Arc::clone(&shared.cache), tree)?;
        Ok(self)
    }

    /// Feeds at most `max` relays directly (RELAY, RFC §6.1.9); more are sent on to those
    /// relays in turn, so a tree of relays builds itself. Default: any number.
    pub fn with_max_relays(self, max: Option<usize>) -> Server {
        self.shared.station.tree().set_max_children(max);
        self
    }

    /// Relays the first of `upstreams` that delivers instead of playing a library (see
    /// [`relay`]): the station is on the air once its first audio has come, and stays on (with
    /// silence while no upstream delivers). Its own relays reach it at its address.
    pub fn with_relay(mut self, upstreams: Vec<relay::Upstream>) -> io::Result<Server> {
        let listen = self.local_addr();
        let shared = Arc::get_mut(&mut self.shared)
            .ok_or_else(|| io::Error::other("the server is already running"))?;
        let tree = Arc::clone(shared.station.tree());
        shared.station = Station::relayed(Arc::clone(&shared.catalog), tree);
        relay::spawn(shared.station.clone(), upstreams, listen)?;
        Ok(self)
    }

    /// Also feeds the station to an Icecast server as a source (see [`icecast`]), so that
    /// Icecast and its relays serve audiences too large for one jukebox. The feeder starts
    /// with [`Server::run`], reconnects whenever Icecast goes away, and stops with the server;
    /// without [`Server::with_radio`] there is nothing to feed and it waits.
    pub fn with_icecast(mut self, target: icecast::Target) -> Server {
        self.icecast = Some(target);
        self
    }

    /// The station, on the air or off, for the HTTP side and tests.
    pub fn station(&self) -> Station {
        self.shared.station.clone()
    }

    /// The address actually bound (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.stop.addr
    }

    /// A handle that stops this server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.stop.clone()
    }

    /// Accepts clients until shut down, then waits briefly for connections to close. The
    /// catalog's scanner runs meanwhile.
    pub fn run(mut self) {
        let max_clients = self.client_limit();
        info!("listening on {} (at most {max_clients} clients)", self.stop.addr);
        let scanner = match self.shared.catalog.start_scanner() {
            Ok(scanner) => Some(scanner),
            Err(e) => {
                warn!("cannot start the scanner thread; the library stays as remembered: {e}");
                None
            }
        };
        let limits = self.http_limits;
        let mut http =
            self.http.take().and_then(|endpoint| match endpoint.start(Arc::clone(&self.shared), limits) {
                Ok(running) => Some(running),
                Err(e) => {
                    warn!("cannot serve HTTP: {e}");
                    None
                }
            });
        if let Some(target) = self.icecast.take() {
            let stop = self.shared.shutdown.clone();
            if let Err(e) = icecast::spawn(self.shared.station.clone(), target, stop) {
                warn!("cannot start the thread that feeds Icecast: {e}");
            }
        }
        let stopping = Arc::clone(&self.stop.stopping);
        match Acceptor::new(self.poll, self.listener, Arc::clone(&self.shared), max_clients) {
            Ok(mut acceptor) => acceptor.run(&stopping),
            Err(e) => warn!("cannot accept connections: {e}"),
        }
        // No new HTTP connection either; those being served end as the shutdown signal says.
        if let Some(http) = &mut http {
            http.stop();
        }
        let http_live = || http.as_ref().map_or(0, http::Running::live);
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while (self.shared.live_connections.load(Ordering::SeqCst) > 0 || http_live() > 0)
            && Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(10));
        }
        self.shared.catalog.stop_scanner();
        self.shared.station.stop();
        drop(scanner);
        info!("server stopped");
    }

    /// The most clients to serve: what was asked (or the default), within what the machine's
    /// limits allow. Only a limit the operator asked for is worth a warning.
    fn client_limit(&self) -> usize {
        let open_files = capacity::raise_open_file_limit();
        let wanted = self.max_clients.unwrap_or(DEFAULT_MAX_CLIENTS);
        match capacity::connections_that_fit(open_files) {
            Some((fit, why)) if fit < wanted => {
                if self.max_clients.is_some() {
                    warn!("serving at most {fit} clients, not {wanted}: {why}");
                }
                fit
            }
            _ => wanted,
        }
    }

    /// Runs the server on a thread of its own; for tests and embedding.
    pub fn spawn(self) -> RunningServer {
        let addr = self.local_addr();
        let http = self.http_addr();
        let stop = self.shutdown_handle();
        let thread = thread::Builder::new().name("acceptor".into()).spawn(move || self.run());
        RunningServer { addr, http, stop, thread: thread.ok() }
    }
}

/// A listening socket on `addr`, with a backlog for bursts of connections.
pub(crate) fn listen(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    // As std does: a restarted server can bind while old connections linger in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Counts a connection as live for as long as its reader thread runs, even if it panics.
pub(crate) struct LiveGuard<'a>(pub(crate) &'a AtomicUsize);

impl Drop for LiveGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A server running on its own thread; shuts it down when dropped.
#[derive(Debug)]
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where its HTTP side listens, if it has one.
    pub http: Option<SocketAddr>,
    stop: ShutdownHandle,
    thread: Option<thread::JoinHandle<()>>,
}

impl RunningServer {
    /// Stops the server and waits for it.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
