//! The Jukebox Protocol side of the server (RFC.md): the handshake of every new connection,
//! then one reader and one writer thread per client.
//!
//! - [`handshake`]: the acceptor's event loop, which reads every HELLO (many at once, none
//!   with a thread of its own) and turns away clients the server has no room for.
//! - [`reader`]: the reader thread: frames in, work for the writer out.
//! - [`dispatch`]: what each frame asks for, decided without I/O.
//! - [`session`]: the writer's state machine: streams, pacing, what goes on the wire.
//! - [`events`]: what a connection subscribed to, and the EVENTs it is owed (sans-IO).
//! - [`writer`]: the writer thread: the only code that writes to a client's socket.
//! - [`ending`]: why a connection ended, and how it is closed.

pub mod dispatch;
pub mod ending;
pub mod events;
pub mod handshake;
pub mod reader;
pub mod session;
pub mod writer;

use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;
use jukebox_protocol::frame::IDLE_TIMEOUT;
use tracing::{debug, warn};

use crate::Shared;
use crate::native::ending::drain_until;
use crate::native::writer::{Signals, WRITE_TIMEOUT};

/// Stack of each connection thread. Both threads keep their state on the heap and call no deep
/// code, and thousands of connections must fit in memory.
pub const THREAD_STACK: usize = 128 * 1024;

/// Requests the reader may queue ahead of the writer before it stops reading: a client that
/// floods requests without reading replies is slowed by TCP, not buffered without bound. The
/// channel allocates its slots up front (about 96 bytes each), so this is also memory every
/// connection holds: 32 slots were 3 KiB of the 38 KiB a connection cost.
pub const WORK_QUEUE: usize = 8;

/// How long a client is given to read the server's GOODBYE before the socket is closed.
const GOODBYE_GRACE: Duration = Duration::from_secs(1);

/// Starts serving a client whose handshake is complete: spawns its reader thread, which
/// spawns its writer. `live` is released when both are done.
pub(crate) fn start(socket: TcpStream, peer: SocketAddr, shared: Arc<Shared>) -> io::Result<()> {
    shared.live_connections.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let guard_shared = Arc::clone(&shared);
    let spawned =
        thread::Builder::new().name(format!("read {peer}")).stack_size(THREAD_STACK).spawn(move || {
            let _live = crate::LiveGuard(&guard_shared.live_connections);
            serve(socket, peer, &guard_shared);
        });
    spawned.map(|_| ()).inspect_err(|_| {
        shared.live_connections.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    })
}

/// Serves one client until its connection ends. Runs on the connection's reader thread.
fn serve(socket: TcpStream, peer: SocketAddr, shared: &Arc<Shared>) {
    let started = Instant::now();
    if let Err(e) = configure(&socket) {
        warn!(%peer, "cannot set up connection: {e}");
        return;
    }
    // Shared rather than cloned: a dup'ed descriptor per connection would halve how many
    // connections fit under the open-file limit.
    let socket = Arc::new(socket);
    let (work_tx, work_rx) = bounded(WORK_QUEUE);
    let signals = Signals {
        shutdown: shared.shutdown.clone(),
        scans: shared.catalog.subscribe(),
        station: shared.station.clone(),
    };
    let writer_socket = Arc::clone(&socket);
    let writer = thread::Builder::new()
        .name(format!("write {peer}"))
        .stack_size(THREAD_STACK)
        .spawn(move || writer::write_loop(&writer_socket, &work_rx, &signals));
    let writer = match writer {
        Ok(w) => w,
        Err(e) => {
            warn!(%peer, "cannot start a writer thread, dropping connection: {e}");
            let _ = socket.shutdown(Shutdown::Both);
            return;
        }
    };
    debug!(%peer, "client connected");
    shared.tally.joined.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let ending = reader::read_loop(&socket, peer, &work_tx, shared);
    drop(work_tx);
    let written = writer.join().unwrap_or_else(|_| Err(io::Error::other("writer thread panicked")));
    if ending.server_said_goodbye() {
        drain_until(&socket, Instant::now() + GOODBYE_GRACE);
    }
    let _ = socket.shutdown(Shutdown::Both);
    let secs = started.elapsed().as_secs_f32();
    shared.tally.left.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if ending.server_said_goodbye() || written.is_err() {
        shared.tally.troubled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    match written {
        Ok(()) => debug!(%peer, "connection ended after {secs:.1} s: {ending}"),
        Err(e) => debug!(%peer, "connection ended after {secs:.1} s: {ending}; {}", why_sending_failed(&e)),
    }
}

/// A failed write in words: a write that timed out means the client stopped reading.
fn why_sending_failed(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
            "the client read nothing for {} s, so the server stopped sending",
            WRITE_TIMEOUT.as_secs()
        ),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => {
            "the client went away while being sent to".into()
        }
        kind => format!("sending failed: {kind}"),
    }
}

fn configure(socket: &TcpStream) -> io::Result<()> {
    socket.set_nonblocking(false)?;
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(IDLE_TIMEOUT))?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))
}
