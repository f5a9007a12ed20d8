//! The jukebox server: serves the MP3 files of one folder over the Jukebox Protocol
//! (`RFC.md`), to any number of clients at once, with blocking I/O.
//!
//! # Threads
//!
//! ```text
//!                       ┌───────────────┐
//!   TcpListener ──────▶ │  acceptor     │  (Server::run; blocks in accept)
//!                       └───────┬───────┘
//!                 spawns, per connection (stacks of THREAD_STACK bytes):
//!        ┌──────────────────────┴─────────────────────────┐
//!        ▼                                                ▼
//!  ┌───────────┐   Outbound (bounded(32) crossbeam)  ┌───────────┐
//!  │  reader   │ ──────────────────────────────────▶ │  writer   │ ──▶ socket (write half)
//!  └───────────┘  replies, Play, Stop, Goodbye        └───────────┘
//!   socket (read half)                                  owns the Session (pacing) and
//!   handshake, then read_frame;                         is the ONLY writer after the
//!   answers LIST/PING itself,                           handshake; select! over Outbound,
//!   loads songs for PLAY (SongCache)                    the shutdown channel, and the next
//!                                                       chunk's deadline
//! ```
//!
//! - The reader blocks only in `read` (timeout: `IDLE_TIMEOUT`) and in sending to the writer
//!   (bounded, so a client that never reads is slowed by TCP, not buffered without limit).
//! - The writer blocks only in `write` (timeout: `WRITE_TIMEOUT`) and in `select!`. Because it
//!   alone switches streams and writes PLAYING/STOPPED, no audio of an old stream can follow
//!   those replies (RFC §7.4); because it checks for work before every chunk, a reply waits
//!   behind at most one chunk.
//! - Shutdown: dropping the shutdown sender wakes every writer, which says GOODBYE and shuts
//!   the socket down; that wakes its reader. The acceptor is woken by a connection to itself.
//! - The library is read-only after the scan and shared by `Arc`; loaded songs are shared
//!   through [`song::SongCache`] (a mutex held only for a map lookup).

pub mod capacity;
pub mod connection;
pub mod library;
pub mod session;
pub mod song;
pub mod tags;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use tracing::{error, info, warn};

pub use library::{Library, ScanError};

/// How long [`Server::run`] waits, after shutdown, for connections to say goodbye.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Clients served at once unless [`Server::with_max_clients`] says otherwise. Each takes two
/// threads, and the kernel's default `pid_max` of 32768 caps threads machine-wide.
pub const DEFAULT_MAX_CLIENTS: usize = 10_000;

/// Connections the kernel queues while the acceptor is busy. The default of 128 drops SYNs
/// when thousands of listeners connect at once, which costs each of them a one-second
/// retransmission; the kernel caps this at `net.core.somaxconn`.
const LISTEN_BACKLOG: i32 = 4096;

/// Connections over the limit waiting to be told so; more are closed without a word.
const TURN_AWAY_QUEUE: usize = 64;

/// What every connection thread shares.
#[derive(Debug)]
pub(crate) struct Shared {
    library: Library,
    cache: song::SongCache,
    /// Never sent on; disconnected when the server shuts down.
    shutdown: Receiver<()>,
    live_connections: AtomicUsize,
}

/// A bound server, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: ShutdownHandle,
    max_clients: usize,
}

/// Stops a running server from another thread (a signal handler, a test). Cloneable.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    shutdown: Arc<Mutex<Option<Sender<()>>>>,
}

impl ShutdownHandle {
    /// Asks the server to stop: every client gets GOODBYE, then [`Server::run`] returns.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.shutdown.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        // Wake the acceptor, which is blocked in accept().
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() {
                [127, 0, 0, 1].into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
    }
}

impl Server {
    /// Binds `addr` to serve `library`. Fails if the address is taken.
    pub fn bind(addr: SocketAddr, library: Library) -> io::Result<Server> {
        let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
        // As std does: a restarted server can bind while old connections linger in TIME_WAIT.
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(LISTEN_BACKLOG)?;
        let listener: TcpListener = socket.into();
        let local = listener.local_addr()?;
        let (shutdown_tx, shutdown_rx) = crossbeam_channel::bounded(0);
        let shared = Arc::new(Shared {
            library,
            cache: song::SongCache::default(),
            shutdown: shutdown_rx,
            live_connections: AtomicUsize::new(0),
        });
        let stop = ShutdownHandle {
            addr: local,
            stopping: Arc::new(AtomicBool::new(false)),
            shutdown: Arc::new(Mutex::new(Some(shutdown_tx))),
        };
        Ok(Server { listener, shared, stop, max_clients: DEFAULT_MAX_CLIENTS })
    }

    /// Serves at most `max` clients at once; others get GOODBYE with reason SERVER_BUSY.
    pub fn with_max_clients(mut self, max: usize) -> Server {
        self.max_clients = max;
        self
    }

    /// The address actually bound (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.stop.addr
    }

    /// A handle that stops this server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.stop.clone()
    }

    /// Accepts clients until shut down, then waits briefly for connections to close.
    pub fn run(mut self) {
        capacity::raise_open_file_limit();
        if let Some((fit, why)) = capacity::connections_that_fit()
            && fit < self.max_clients
        {
            warn!("serving at most {fit} clients, not {}: {why}", self.max_clients);
            self.max_clients = fit;
        }
        info!("listening on {} (at most {} clients)", self.stop.addr, self.max_clients);
        let (turn_away, full) = crossbeam_channel::bounded::<TcpStream>(TURN_AWAY_QUEUE);
        let max_clients = self.max_clients;
        let _ = thread::Builder::new().name("turn away".into()).stack_size(connection::THREAD_STACK).spawn(
            move || {
                for socket in full {
                    connection::turn_away(socket, max_clients);
                }
            },
        );
        for incoming in self.listener.incoming() {
            if self.stop.stopping.load(Ordering::SeqCst) {
                break;
            }
            match incoming {
                Ok(socket) if self.shared.live_connections.load(Ordering::SeqCst) >= self.max_clients => {
                    // A full queue means a flood: those are closed without a reply.
                    let _ = turn_away.try_send(socket);
                }
                Ok(socket) => self.spawn_connection(socket),
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    error!("accept failed: {e}");
                    thread::sleep(Duration::from_millis(100));
                }
            }
        }
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while self.shared.live_connections.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        info!("server stopped");
    }

    /// Runs the server on a thread of its own; for tests and embedding.
    pub fn spawn(self) -> RunningServer {
        let addr = self.local_addr();
        let stop = self.shutdown_handle();
        let thread = thread::Builder::new().name("acceptor".into()).spawn(move || self.run());
        RunningServer { addr, stop, thread: thread.ok() }
    }

    fn spawn_connection(&self, socket: TcpStream) {
        let peer = match socket.peer_addr() {
            Ok(peer) => peer,
            Err(e) => {
                warn!("dropping a connection whose peer is unknown: {e}");
                return;
            }
        };
        let shared = Arc::clone(&self.shared);
        shared.live_connections.fetch_add(1, Ordering::SeqCst);
        let spawned = thread::Builder::new()
            .name(format!("read {peer}"))
            .stack_size(connection::THREAD_STACK)
            .spawn(move || {
                let _live = LiveGuard(&shared.live_connections);
                connection::serve(socket, peer, Arc::clone(&shared));
            });
        if let Err(e) = spawned {
            self.shared.live_connections.fetch_sub(1, Ordering::SeqCst);
            warn!(%peer, "cannot start a thread for this connection, dropping it: {e}");
        }
    }
}

/// Counts a connection as live for as long as its reader thread runs, even if it panics.
struct LiveGuard<'a>(&'a AtomicUsize);

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
