//! `idle [library|song|queue ...]`, as `mpc idle`: waits until one of the server's subsystems
//! changes, says what changed, and returns, so a script (or a person) waits for a change
//! instead of polling. Built on SUBSCRIBE and EVENT (RFC §6.1.15, §6.3.5).
//!
//! The socket thread keeps the EVENTs that follow the SUBSCRIBED of the latest SUBSCRIBE in a
//! [`Changes`]: the newest of each subsystem only, so a server that sends many costs a fixed
//! amount of memory, and one read in frame order, so an EVENT that follows the SUBSCRIBED is
//! never lost however soon it comes. The command thread waits on it.

use std::io::Write;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jukebox_protocol::{Event, Subsystems};

use crate::connection::{ClientError, Connection};

/// The subsystems a person names, as `idle` takes them and prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Subsystem {
    /// The server's songs: a rescan added, removed or changed some.
    Library,
    /// The station's song: another song went on the air, or the station off it.
    Song,
    /// The station's queue: a song was requested, or a requested song went on the air.
    Queue,
}

impl Subsystem {
    /// Every one, in the order they are printed.
    pub const ALL: [Subsystem; 3] = [Subsystem::Library, Subsystem::Song, Subsystem::Queue];

    /// Its bit on the wire.
    pub const fn bit(self) -> Subsystems {
        match self {
            Subsystem::Library => Subsystems::LIBRARY,
            Subsystem::Song => Subsystems::STATION_SONG,
            Subsystem::Queue => Subsystems::STATION_QUEUE,
        }
    }

    /// The word `idle` takes and prints.
    pub const fn name(self) -> &'static str {
        match self {
            Subsystem::Library => "library",
            Subsystem::Song => "song",
            Subsystem::Queue => "queue",
        }
    }

    /// The subsystem a word names, in any case.
    pub fn named(word: &str) -> Option<Subsystem> {
        Subsystem::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(word))
    }
}

/// The set of subsystems `subsystems` names; none names them all, as `mpc idle` has it.
pub fn mask(subsystems: &[Subsystem]) -> Subsystems {
    let all: &[Subsystem] = if subsystems.is_empty() { &Subsystem::ALL } else { subsystems };
    all.iter().fold(Subsystems::NONE, |mask, s| mask | s.bit())
}

/// The names of the subsystems in `mask`, in print order.
pub fn names(mask: Subsystems) -> Vec<&'static str> {
    Subsystem::ALL.into_iter().filter(|s| mask.contains(s.bit())).map(Subsystem::name).collect()
}

/// The words after `idle` at the prompt: subsystem names, or none for all of them.
pub fn parse<'a>(words: impl Iterator<Item = &'a str>) -> Result<Subsystems, String> {
    let mut named = Vec::new();
    for word in words {
        match Subsystem::named(word) {
            Some(subsystem) => named.push(subsystem),
            None => {
                return Err(format!(
                    "idle: {word:?} is not something that changes; give library, song or queue \
                     (or nothing, for all three); try: idle song"
                ));
            }
        }
    }
    Ok(mask(&named))
}

/// What `idle` printed a change as: the subsystem's name first, so a script can take the
/// first word (`library: scan 3 changed the songs`).
pub fn describe(event: &Event) -> String {
    match *event {
        Event::Library { scan } => format!("library: scan {scan} changed the songs; list shows them"),
        Event::StationSong { song: Some(song) } => format!("song: song {song} is on the air"),
        Event::StationSong { song: None } => "song: the station went off the air".to_string(),
        Event::StationQueue { waiting: 0 } => "queue: no requested song waits".to_string(),
        Event::StationQueue { waiting: 1 } => "queue: 1 requested song waits".to_string(),
        Event::StationQueue { waiting } => format!("queue: {waiting} requested songs wait"),
        Event::Other { subsystem, .. } => format!("{subsystem:#010x}: changed"),
    }
}

/// How often a wait looks whether it should give up (Ctrl-C, a lost connection), as
/// `rescan` does.
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// The EVENTs that followed the last SUBSCRIBED on one connection: the newest of each
/// subsystem that has not been taken yet. Filled by the socket thread, taken by `idle`.
#[derive(Debug, Default)]
pub struct Changes {
    state: Mutex<Pending>,
    arrived: Condvar,
}

#[derive(Debug, Default)]
struct Pending {
    /// What the last SUBSCRIBED granted: EVENTs of other subsystems are not kept.
    mask: Subsystems,
    /// At most one per subsystem of `mask`, in the order they first arrived.
    events: Vec<Event>,
}

impl Changes {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The socket thread read SUBSCRIBED: what came before it is not news to the command
    /// that subscribed, and from now on only the subsystems of `mask` are kept.
    pub fn subscribed(&self, mask: Subsystems) {
        let mut pending = self.lock();
        pending.mask = mask;
        pending.events.clear();
    }

    /// The socket thread read an EVENT: kept in place of an older one of its subsystem, if
    /// it is one that was subscribed to.
    pub fn arrived(&self, event: Event) {
        let mut pending = self.lock();
        let subsystem = event.subsystem();
        // A subsystem this client did not ask for (a server's mistake) is skipped.
        if !pending.mask.contains(subsystem) || subsystem.known().is_empty() {
            return;
        }
        match pending.events.iter_mut().find(|e| e.subsystem() == subsystem) {
            Some(older) => *older = event,
            None => pending.events.push(event),
        }
        drop(pending);
        self.arrived.notify_all();
    }

    /// Waits until an EVENT has arrived, and takes every one that has: `None` if `give_up`
    /// said so first.
    pub fn wait(&self, give_up: impl Fn() -> bool) -> Option<Vec<Event>> {
        let mut pending = self.lock();
        loop {
            if !pending.events.is_empty() {
                return Some(std::mem::take(&mut pending.events));
            }
            if give_up() {
                return None;
            }
            pending =
                self.arrived.wait_timeout(pending, LOOK_EVERY).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

/// Subscribes to `wanted` on `connection`, then calls `subscribed` with what the server
/// granted, then waits for a change of one of them; returns the changes, in the order of
/// their subsystems' bits, or `None` when `interrupted` (Ctrl-C) said to stop waiting. A
/// server that grants none of `wanted` (the station's, from a server without one) is an
/// error: nothing would ever end the wait.
pub fn wait_for_change(
    connection: &Connection,
    wanted: Subsystems,
    subscribed: impl FnOnce(Subsystems),
    interrupted: impl Fn() -> bool,
) -> Result<Option<Vec<Event>>, ClientError> {
    let granted = connection.subscribe(wanted)?;
    if granted.is_empty() {
        return Err(ClientError::NotNow(format!(
            "idle: the server has no {}: it runs no station, so nothing of it changes",
            names(wanted).join(" or ")
        )));
    }
    subscribed(granted);
    let changes = connection.changes().wait(|| interrupted() || connection.is_closed());
    match changes {
        Some(mut events) => {
            events.sort_by_key(|e| e.subsystem().0);
            Ok(Some(events))
        }
        None if connection.is_closed() => Err(ClientError::Disconnected),
        None => Ok(None),
    }
}

/// `idle` at the prompt (or in a script): waits, then prints a line per change. Ctrl-C stops
/// waiting. The subscription ends with the command, so the server sends nothing more.
pub fn at_prompt(
    connection: &Connection,
    wanted: Subsystems,
    interrupted: impl Fn() -> bool,
    out: &mut dyn Write,
) -> Result<(), ClientError> {
    let missing = |granted: Subsystems| {
        let left_out = names(Subsystems(wanted.0 & !granted.0));
        if !left_out.is_empty() {
            let _ = writeln!(
                out,
                "idle: the server runs no station, so {} never changes; waiting for {}.",
                left_out.join(" or "),
                names(granted).join(" or ")
            );
        }
    };
    let result = wait_for_change(connection, wanted, missing, interrupted);
    let changes = result?;
    match changes {
        Some(events) => {
            for event in &events {
                let _ = writeln!(out, "{}", describe(event));
            }
        }
        None => {
            let _ = writeln!(out, "idle: no longer waiting.");
        }
    }
    // Nothing more is wanted; a connection that fails here says so at the next command.
    let _ = connection.subscribe(Subsystems::NONE);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::SongId;

    #[test]
    fn idle_names_what_it_waits_for_or_waits_for_everything() {
        assert_eq!(parse(std::iter::empty()), Ok(Subsystems::KNOWN));
        assert_eq!(parse(["SONG", "queue"].into_iter()), Ok(Subsystems(6)));
        assert_eq!(parse(["library", "library"].into_iter()), Ok(Subsystems::LIBRARY));
        let error = parse(["songs"].into_iter()).unwrap_err();
        assert!(error.starts_with("idle: \"songs\" is not") && error.contains("try: idle song"), "{error}");
        assert_eq!(names(Subsystems(5)), ["library", "queue"]);
        assert_eq!(mask(&[]), Subsystems::KNOWN);
    }

    #[test]
    fn each_change_is_one_line_that_begins_with_its_subsystem() {
        let lines = [
            describe(&Event::Library { scan: 3 }),
            describe(&Event::StationSong { song: Some(SongId(2)) }),
            describe(&Event::StationSong { song: None }),
            describe(&Event::StationQueue { waiting: 1 }),
            describe(&Event::StationQueue { waiting: 4 }),
        ];
        assert_eq!(lines[0], "library: scan 3 changed the songs; list shows them");
        assert_eq!(lines[1], "song: song 2 is on the air");
        assert_eq!(lines[2], "song: the station went off the air");
        assert_eq!(lines[3], "queue: 1 requested song waits");
        assert_eq!(lines[4], "queue: 4 requested songs wait");
    }

    #[test]
    fn only_the_newest_event_of_each_subscribed_subsystem_is_kept() {
        let changes = Changes::default();
        // Before any SUBSCRIBED, nothing is wanted.
        changes.arrived(Event::Library { scan: 1 });
        changes.subscribed(Subsystems::LIBRARY | Subsystems::STATION_QUEUE);
        assert_eq!(changes.wait(|| true), None, "what came before the SUBSCRIBED is not news");
        for waiting in 0..1000 {
            changes.arrived(Event::StationQueue { waiting });
            changes.arrived(Event::StationSong { song: Some(SongId(waiting + 1)) });
        }
        changes.arrived(Event::Library { scan: 2 });
        changes.arrived(Event::Other { subsystem: 0x100, value: 1 });
        assert_eq!(
            changes.wait(|| false),
            Some(vec![Event::StationQueue { waiting: 999 }, Event::Library { scan: 2 }])
        );
        // Taken: the next wait waits.
        assert_eq!(changes.wait(|| true), None);
    }

    #[test]
    fn a_wait_ends_when_an_event_arrives_from_another_thread() {
        let changes = std::sync::Arc::new(Changes::default());
        changes.subscribed(Subsystems::STATION_SONG);
        let sender = std::sync::Arc::clone(&changes);
        let thread = std::thread::spawn(move || sender.arrived(Event::StationSong { song: None }));
        assert_eq!(changes.wait(|| false), Some(vec![Event::StationSong { song: None }]));
        thread.join().unwrap();
    }
}
