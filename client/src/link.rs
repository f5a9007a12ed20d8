//! The client's link to its server: the connection of the moment, if any, and which server it
//! is to. A [`Connection`] that is lost stays lost; the link replaces it. In interactive mode a
//! reconnect thread does so by itself, with exponential backoff and jitter; `connect` does so
//! at once, to the same server or another. Playback is shared by every connection the link
//! makes, so the decoder and the output carry on across reconnections.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread;
use std::time::{Duration, Instant};

use crate::connection::{Address, ClientError, Connection, Timing};
use crate::playback::Playback;
use crate::{Event, EventSender};

/// The delay before the first reconnection attempt after a connection is lost.
pub const FIRST_RETRY: Duration = Duration::from_millis(500);

/// The longest delay between two reconnection attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(30);

/// Delays between reconnection attempts: from [`FIRST_RETRY`], doubling at each failure up to
/// [`MAX_RETRY`]. Each delay is drawn from the upper half of its step, so that the clients of
/// a server that restarts do not all come back at the same instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    step: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { step: FIRST_RETRY }
    }
}

impl Backoff {
    /// The delay before the next attempt, `jitter` (from 0 to 1) of the way from half the
    /// current step to all of it; the step then doubles.
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let delay = self.step.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0);
        self.step = (self.step * 2).min(MAX_RETRY);
        delay
    }
}

/// What the link knows, under one lock.
#[derive(Debug)]
struct State {
    /// The server the link connects to: the last one `connect` reached, or the first.
    server: Address,
    connection: Option<Arc<Connection>>,
    /// Which connection is current: a connection that ends reports its number, and a report
    /// from one that was replaced is ignored.
    generation: u64,
    /// Why the link is down, when it is: how the last connection ended, or why the last
    /// attempt failed.
    down_because: String,
    /// When the reconnect thread tries next; `None` when connected, or when nobody retries.
    retry_at: Option<Instant>,
    /// The reconnect thread is trying now.
    attempting: bool,
    backoff: Backoff,
    /// The client is leaving: no more attempts.
    leaving: bool,
    /// A connection that ended before it was installed (its socket thread can see the end
    /// before the one who opened it records it: a full server answers WELCOME and GOODBYE at
    /// once): its number and why, for [`Link::install`] to act on.
    lost_early: Option<(u64, String)>,
}

/// The link to the server; see the module documentation.
#[derive(Debug)]
pub struct Link {
    state: Mutex<State>,
    /// Wakes the reconnect thread when the link goes down, or when the client leaves.
    changed: Condvar,
    generations: AtomicU64,
    /// Reconnect in the background (interactive mode). A script instead ends when its
    /// connection is lost, with a failure status.
    retries: bool,
    timing: Timing,
    playback: Arc<Playback>,
    events: EventSender,
    /// This link, for the connections it opens to report their end to: weak, so that a
    /// connection does not keep the link alive.
    me: Weak<Link>,
}

impl Link {
    /// Connects to `server`; the first connection must succeed. With `retries`, starts the
    /// reconnect thread.
    pub fn open(
        server: Address,
        timing: Timing,
        playback: Arc<Playback>,
        events: EventSender,
        retries: bool,
    ) -> Result<Arc<Link>, ClientError> {
        let link = Arc::new_cyclic(|me| Link {
            state: Mutex::new(State {
                server: server.clone(),
                connection: None,
                generation: 0,
                lost_early: None,
                down_because: String::new(),
                retry_at: None,
                attempting: false,
                backoff: Backoff::default(),
                leaving: false,
            }),
            changed: Condvar::new(),
            generations: AtomicU64::new(0),
            retries,
            timing,
            playback,
            events,
            me: me.clone(),
        });
        let (generation, connection) = link.connect_to(&server)?;
        link.install(&mut link.lock(), server, generation, connection);
        if retries {
            let reconnecting = Arc::clone(&link);
            thread::Builder::new()
                .name("reconnect".into())
                .spawn(move || reconnecting.run_reconnect())
                .map_err(|e| {
                    ClientError::Connect(format!("cannot start a thread: {}", crate::explain::io(&e)))
                })?;
        }
        Ok(link)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection of the moment, or, when there is none, an error that says to which
    /// server, why, and what happens next.
    pub fn connection(&self) -> Result<Arc<Connection>, ClientError> {
        let state = self.lock();
        match &state.connection {
            Some(connection) if !connection.is_closed() => Ok(Arc::clone(connection)),
            _ => Err(ClientError::NotConnected(self.describe_down(&state))),
        }
    }

    /// The server the link connects to.
    pub fn server(&self) -> Address {
        self.lock().server.clone()
    }

    /// True once [`Link::close`] has begun: the client is being ended (by its user, or by a
    /// signal on another thread, which exits the process when the GOODBYE is out).
    pub fn is_leaving(&self) -> bool {
        self.lock().leaving
    }

    /// True while a connection is up.
    pub fn is_connected(&self) -> bool {
        self.lock().connection.as_ref().is_some_and(|c| !c.is_closed())
    }

    /// `None` when connected; otherwise the sentence [`Link::connection`] would fail with.
    pub fn down(&self) -> Option<String> {
        let state = self.lock();
        match &state.connection {
            Some(connection) if !connection.is_closed() => None,
            _ => Some(self.describe_down(&state)),
        }
    }

    /// "not connected to HOST:PORT: why. What next.", where why is how the connection ended
    /// or why the last attempt failed.
    fn describe_down(&self, state: &State) -> String {
        // Empty only in the instant between a connection closing and the link hearing of it.
        let why = if state.down_because.is_empty() { "the connection was lost" } else { &state.down_because };
        let stop = if why.ends_with(['.', '?', '!']) { "" } else { "." };
        let next = if state.attempting {
            "Trying to reconnect now.".to_string()
        } else if let Some(at) = state.retry_at {
            let secs = at.saturating_duration_since(Instant::now()).as_secs_f64().ceil().max(1.0);
            format!("Retrying in {secs} s; type connect to retry now.")
        } else {
            "Type connect to try again.".to_string()
        };
        format!("not connected to {}: {why}{stop} {next}", state.server)
    }

    /// Connects now, to `to` or, if `None`, to the server of the link, and returns what to
    /// tell the user. On success the new connection replaces the old one, which is closed; on
    /// failure the link stays as it was (connected to its server, or retrying it).
    pub fn connect(&self, to: Option<Address>) -> Result<String, ClientError> {
        let server = {
            let state = self.lock();
            let server = to.unwrap_or_else(|| state.server.clone());
            if server == state.server && state.connection.as_ref().is_some_and(|c| !c.is_closed()) {
                return Ok(format!("Already connected to {server}."));
            }
            server
        };
        match self.connect_to(&server) {
            Ok((generation, connection)) => {
                let old = self.install(&mut self.lock(), server.clone(), generation, connection);
                // Not under the lock: closing waits for the old socket thread, which may be
                // about to report its end to this link.
                if let Some(old) = old {
                    old.close();
                }
                Ok(format!("Connected to {server}."))
            }
            Err(e) => {
                let mut state = self.lock();
                if server == state.server && state.connection.is_none() {
                    state.down_because = e.to_string();
                    self.schedule_retry(&mut state);
                }
                Err(e)
            }
        }
    }

    /// Says GOODBYE to the server, if connected, and stops reconnecting.
    pub fn close(&self) {
        let connection = {
            let mut state = self.lock();
            state.leaving = true;
            state.retry_at = None;
            self.changed.notify_all();
            state.connection.take()
        };
        if let Some(connection) = connection {
            connection.close();
        }
    }

    /// Opens a connection to `server` whose end, if it is lost, is reported to this link.
    fn connect_to(&self, server: &Address) -> Result<(u64, Arc<Connection>), ClientError> {
        let generation = self.generations.fetch_add(1, Ordering::SeqCst) + 1;
        let link = self.me.clone();
        let on_end = Box::new(move |why: String| {
            if let Some(link) = link.upgrade() {
                link.lost(generation, why);
            }
        });
        let connection =
            Connection::open(server, self.timing, Arc::clone(&self.playback), self.events.clone(), on_end)?;
        Ok((generation, connection))
    }

    /// Makes `connection` the current one; returns the one it replaces.
    fn install(
        &self,
        state: &mut State,
        server: Address,
        generation: u64,
        connection: Arc<Connection>,
    ) -> Option<Arc<Connection>> {
        state.server = server;
        state.generation = generation;
        state.retry_at = None;
        state.backoff = Backoff::default();
        state.down_because.clear();
        let old = state.connection.replace(connection);
        if let Some((_, why)) = state.lost_early.take_if(|(lost, _)| *lost == generation) {
            self.went_down(state, why);
        }
        old
    }

    /// The socket thread of connection `generation` saw it end.
    fn lost(&self, generation: u64, why: String) {
        let mut state = self.lock();
        if state.leaving {
            return;
        }
        if generation > state.generation {
            // Not installed yet: the one who opened it will find out when it installs it.
            state.lost_early = Some((generation, why));
            return;
        }
        if state.generation == generation {
            self.went_down(&mut state, why);
        }
    }

    /// The current connection has ended: say why, and retry if this link retries.
    fn went_down(&self, state: &mut State, why: String) {
        state.connection = None;
        state.down_because.clone_from(&why);
        if self.retries {
            self.schedule_retry(state);
            self.events.send(Event::Disconnected(format!(
                "{why}; reconnecting in the background (type connect to try now)"
            )));
        } else {
            self.events.send(Event::Disconnected(why));
        }
    }

    fn schedule_retry(&self, state: &mut State) {
        if self.retries && !state.leaving {
            state.retry_at = Some(Instant::now() + state.backoff.next_delay(fastrand::f64()));
            self.changed.notify_all();
        }
    }

    /// The reconnect thread: sleeps until the link is down and an attempt is due, tries, and
    /// on failure schedules the next attempt; ends when the client leaves.
    fn run_reconnect(&self) {
        let mut state = self.lock();
        loop {
            if state.leaving {
                return;
            }
            let due = match (&state.connection, state.retry_at) {
                (None, Some(due)) => due,
                _ => {
                    state = self.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
                    continue;
                }
            };
            let now = Instant::now();
            if due > now {
                state = self.changed.wait_timeout(state, due - now).unwrap_or_else(PoisonError::into_inner).0;
                continue;
            }
            state.retry_at = None;
            state.attempting = true;
            let server = state.server.clone();
            drop(state);
            let attempt = self.connect_to(&server);
            state = self.lock();
            state.attempting = false;
            match attempt {
                // Still wanted: nobody connected meanwhile, to this server or another.
                Ok((generation, connection))
                    if state.connection.is_none() && !state.leaving && state.server == server =>
                {
                    self.install(&mut state, server.clone(), generation, connection);
                    // It may have ended already, and said so.
                    if state.connection.is_some() {
                        self.events.send(Event::Reconnected(server.to_string()));
                    }
                }
                Ok((_, unwanted)) => {
                    drop(state);
                    unwanted.close();
                    state = self.lock();
                }
                Err(e) => {
                    if state.connection.is_none() && state.server == server {
                        state.down_because = e.to_string();
                        self.schedule_retry(&mut state);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_half_a_second_to_thirty_with_jitter() {
        let mut backoff = Backoff::default();
        let lowest: Vec<f64> = (0..9).map(|_| backoff.next_delay(0.0).as_secs_f64()).collect();
        assert_eq!(lowest, [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]);
        let mut backoff = Backoff::default();
        let highest: Vec<f64> = (0..9).map(|_| backoff.next_delay(1.0).as_secs_f64()).collect();
        assert_eq!(highest, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
    }
}
