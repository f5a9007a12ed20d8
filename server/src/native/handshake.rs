//! The acceptor: one thread with an event loop (mio) that accepts connections and reads every
//! HELLO, many at once, before a connection gets threads of its own (RFC §4.5).
//!
//! A connection that has not completed its handshake costs a socket and a few bytes here, no
//! thread. Such connections have a budget of their own, [`MAX_PENDING`], apart from the client
//! limit: when it is full, the oldest of them is closed to make room, so a flood of sockets
//! that never send HELLO (a port scanner, a slowloris) cannot lock real clients out; a real
//! client's HELLO arrives within a round trip and is answered at once. A HELLO must be complete
//! within `HANDSHAKE_TIMEOUT` of the accept, and a stranger is let go at its first byte that
//! is not the magic. Only a complete, good HELLO counts toward the client limit: a client over
//! it gets WELCOME and GOODBYE(SERVER_BUSY), written from here without blocking.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use jukebox_protocol::frame::HANDSHAKE_TIMEOUT;
use jukebox_protocol::handshake::{HANDSHAKE_LEN, MAGIC};
use jukebox_protocol::{Goodbye, GoodbyeReason, Hello, Message, PROTOCOL_VERSION};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use tracing::{debug, error, info, warn};

use crate::Shared;

/// Connections whose handshake is not complete, at most; the oldest is closed for a new one.
pub const MAX_PENDING: usize = 512;

/// How long a connection that is being turned away is given to read why before it is closed.
const TURN_AWAY_GRACE: Duration = Duration::from_secs(1);

/// Bytes read and dropped from a connection being turned away, at most.
const DRAIN_LIMIT: usize = 64 * 1024;

/// How often the log gets a line of what happened to connections, when anything did.
const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// After `accept` fails (out of file descriptors, typically), wait this long before trying
/// again, instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The listening socket's token.
pub const LISTENER: Token = Token(0);
/// The token that wakes the loop to stop it.
pub const WAKER: Token = Token(1);
const FIRST_CONNECTION: usize = 2;

#[derive(Debug)]
enum Stage {
    /// Reading the 8 bytes of HELLO.
    Hello { bytes: [u8; HANDSHAKE_LEN], filled: usize },
    /// Answered (refused or turned away), sending side shut: reading until the peer closes,
    /// so that closing does not reset the connection before it has read the answer.
    Draining { drained: usize },
}

#[derive(Debug)]
struct Pending {
    socket: TcpStream,
    peer: SocketAddr,
    stage: Stage,
    /// Tells apart successive connections that used the same slot.
    generation: u64,
}

/// What the acceptor did with a connection's bytes.
enum Outcome {
    /// Keep waiting.
    Wait,
    /// Close it now.
    Close(&'static str),
    /// A good HELLO with room for the client: hand it over.
    Admit,
}

/// The acceptor's state.
pub(crate) struct Acceptor {
    poll: Poll,
    listener: TcpListener,
    shared: Arc<Shared>,
    max_clients: usize,
    slots: Vec<Option<Pending>>,
    free: Vec<usize>,
    /// Open pending connections, oldest first, as (slot, generation); stale entries are
    /// skipped.
    by_age: VecDeque<(usize, u64)>,
    /// When each pending connection must be done, as (deadline, slot, generation).
    deadlines: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    open: usize,
    next_generation: u64,
    accept_paused_until: Option<Instant>,
    /// When the next summary is due, and the counts at the last one.
    next_summary: Instant,
    last_tally: [usize; 4],
}

impl Acceptor {
    pub(crate) fn new(
        poll: Poll,
        listener: std::net::TcpListener,
        shared: Arc<Shared>,
        max_clients: usize,
    ) -> io::Result<Acceptor> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Acceptor {
            poll,
            listener,
            shared,
            max_clients,
            slots: Vec::new(),
            free: Vec::new(),
            by_age: VecDeque::new(),
            deadlines: BinaryHeap::new(),
            open: 0,
            next_generation: 0,
            accept_paused_until: None,
            next_summary: Instant::now() + SUMMARY_EVERY,
            last_tally: [0; 4],
        })
    }

    /// Runs until the waker fires with `stopping` set.
    pub(crate) fn run(&mut self, stopping: &std::sync::atomic::AtomicBool) {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            self.expire(now);
            if now >= self.next_summary {
                self.summarize(now);
            }
            if self.accept_paused_until.is_some_and(|t| t <= now) {
                self.accept_paused_until = None;
                self.accept_all();
            }
            let mut timeout =
                self.deadlines.peek().map(|Reverse((at, ..))| at.saturating_duration_since(now));
            if let Some(at) = self.accept_paused_until {
                let wait = at.saturating_duration_since(now);
                timeout = Some(timeout.map_or(wait, |t| t.min(wait)));
            }
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                error!("the acceptor's event loop failed: {e}");
                return;
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {}
                    Token(n) => self.readable(n - FIRST_CONNECTION),
                }
            }
            if stopping.load(Ordering::SeqCst) {
                return;
            }
        }
    }

    /// Logs what happened to connections since the last summary, if anything did.
    fn summarize(&mut self, now: Instant) {
        self.next_summary = now + SUMMARY_EVERY;
        let tally = self.shared.tally.snapshot();
        if tally == self.last_tally {
            return;
        }
        let [joined, left, troubled, turned_away] = std::array::from_fn(|i| tally[i] - self.last_tally[i]);
        self.last_tally = tally;
        let live = self.shared.live_connections.load(Ordering::SeqCst);
        let clients = if live == 1 { "client" } else { "clients" };
        info!(
            "{live} {clients} connected; in the last {} s {joined} joined and {left} left ({troubled} \
             closed for a protocol error, silence or not reading), {turned_away} turned away",
            SUMMARY_EVERY.as_secs()
        );
    }

    fn accept_all(&mut self) {
        if self.accept_paused_until.is_some() {
            return;
        }
        loop {
            match self.listener.accept() {
                Ok((socket, peer)) => self.add(socket, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    error!("accept failed: {e}");
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_BACKOFF);
                    return;
                }
            }
        }
    }

    fn add(&mut self, mut socket: TcpStream, peer: SocketAddr) {
        while self.open >= MAX_PENDING {
            let Some((slot, generation)) = self.by_age.pop_front() else { break };
            if self.slots.get(slot).and_then(Option::as_ref).is_some_and(|p| p.generation == generation) {
                debug!(%peer, "closing the oldest unfinished handshake to make room");
                self.close(slot, "more connections arrived than unfinished handshakes are kept");
            }
        }
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        if let Err(e) =
            self.poll.registry().register(&mut socket, Token(slot + FIRST_CONNECTION), Interest::READABLE)
        {
            warn!(%peer, "cannot watch a new connection, dropping it: {e}");
            self.free.push(slot);
            return;
        }
        self.next_generation += 1;
        let generation = self.next_generation;
        self.slots[slot] = Some(Pending {
            socket,
            peer,
            stage: Stage::Hello { bytes: [0; HANDSHAKE_LEN], filled: 0 },
            generation,
        });
        self.open += 1;
        self.by_age.push_back((slot, generation));
        self.deadlines.push(Reverse((Instant::now() + HANDSHAKE_TIMEOUT, slot, generation)));
        // Edge-triggered: bytes that arrived with the connection are read now.
        self.readable(slot);
    }

    fn expire(&mut self, now: Instant) {
        // Most connections leave the handshake by completing it, not by being evicted: drop
        // their entries from the oldest on, so that the queue holds only the last seconds of
        // accepts (its front is at most HANDSHAKE_TIMEOUT old), not one entry per connection
        // the server ever accepted.
        while let Some(&(slot, generation)) = self.by_age.front() {
            if self.slots.get(slot).and_then(Option::as_ref).is_some_and(|p| p.generation == generation) {
                break;
            }
            self.by_age.pop_front();
        }
        while let Some(&Reverse((at, slot, generation))) = self.deadlines.peek() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            let Some(pending) = self.slots.get(slot).and_then(Option::as_ref) else { continue };
            if pending.generation != generation {
                continue;
            }
            let why = match pending.stage {
                Stage::Hello { .. } => "no complete HELLO in time",
                Stage::Draining { .. } => "turned away",
            };
            self.close(slot, why);
        }
    }

    fn readable(&mut self, slot: usize) {
        let outcome = match self.slots.get_mut(slot).and_then(Option::as_mut) {
            Some(pending) => read(pending),
            None => return,
        };
        match outcome {
            Outcome::Wait => {}
            Outcome::Close(why) => self.close(slot, why),
            Outcome::Admit => self.answer(slot),
        }
    }

    /// A complete, good HELLO: WELCOME, then either the connection's own threads or, when the
    /// server is full or the versions do not meet, a refusal.
    fn answer(&mut self, slot: usize) {
        let Some(pending) = self.slots.get_mut(slot).and_then(Option::as_mut) else { return };
        let Stage::Hello { bytes, .. } = pending.stage else { return };
        let Ok(hello) = Hello::parse(&bytes) else { return self.close(slot, "not the Jukebox Protocol") };
        let welcome = hello.negotiate(PROTOCOL_VERSION, PROTOCOL_VERSION);
        let mut reply = welcome.encode().to_vec();
        let live = self.shared.live_connections.load(Ordering::SeqCst);
        let full = live >= self.max_clients;
        if welcome.version != 0 && full {
            let text = format!("the server is full ({} clients); try again later", self.max_clients);
            let _ = Message::Goodbye(Goodbye { reason: GoodbyeReason::ServerBusy, text }).encode(&mut reply);
        }
        // A new socket's send buffer always has room for these few bytes.
        if (&pending.socket).write_all(&reply).is_err() {
            return self.close(slot, "the connection broke during the handshake");
        }
        if welcome.version == 0 || full {
            let peer = pending.peer;
            if welcome.version == 0 {
                debug!(%peer, "refused: client speaks versions {}..={}, server only {PROTOCOL_VERSION}", hello.min_version, hello.max_version);
            } else {
                debug!(%peer, "turned away: {} clients already connected", self.max_clients);
            }
            self.shared.tally.turned_away.fetch_add(1, Ordering::Relaxed);
            let _ = pending.socket.shutdown(Shutdown::Write);
            pending.stage = Stage::Draining { drained: 0 };
            let generation = pending.generation;
            self.deadlines.push(Reverse((Instant::now() + TURN_AWAY_GRACE, slot, generation)));
            return;
        }
        let Some(mut pending) = self.take(slot) else { return };
        let _ = self.poll.registry().deregister(&mut pending.socket);
        let socket = std::net::TcpStream::from(OwnedFd::from(pending.socket));
        if let Err(e) = crate::native::start(socket, pending.peer, Arc::clone(&self.shared)) {
            warn!(peer = %pending.peer, "cannot start a thread for this connection, dropping it: {e}");
        }
    }

    fn take(&mut self, slot: usize) -> Option<Pending> {
        let pending = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        self.open -= 1;
        Some(pending)
    }

    fn close(&mut self, slot: usize, why: &'static str) {
        if let Some(mut pending) = self.take(slot) {
            debug!(peer = %pending.peer, "closing before the handshake completed: {why}");
            let _ = self.poll.registry().deregister(&mut pending.socket);
            // A FIN first: the peer reads a clean end before any reset for bytes left unread.
            let _ = pending.socket.shutdown(Shutdown::Both);
        }
    }
}

/// Reads what has arrived on a pending connection.
fn read(pending: &mut Pending) -> Outcome {
    match &mut pending.stage {
        Stage::Hello { bytes, filled } => {
            while *filled < HANDSHAKE_LEN {
                // Never past the 8th byte: what follows belongs to the connection's reader.
                match (&pending.socket).read(&mut bytes[*filled..]) {
                    Ok(0) => return Outcome::Close("closed before a complete HELLO"),
                    Ok(n) => *filled += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Outcome::Wait,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Outcome::Close("the connection broke during the handshake"),
                }
                // A stranger (an HTTP client, a port scanner) is let go at its first wrong
                // byte, without a reply (RFC §4.5).
                let magic = (*filled).min(MAGIC.len());
                if bytes[..magic] != MAGIC[..magic] {
                    return Outcome::Close("not the Jukebox Protocol");
                }
            }
            Outcome::Admit
        }
        Stage::Draining { drained } => {
            let mut scratch = [0u8; 4096];
            loop {
                match (&pending.socket).read(&mut scratch) {
                    Ok(0) => return Outcome::Close("turned away"),
                    Ok(n) => {
                        *drained += n;
                        if *drained > DRAIN_LIMIT {
                            return Outcome::Close("turned away");
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Outcome::Wait,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Outcome::Close("turned away"),
                }
            }
        }
    }
}
