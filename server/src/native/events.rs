//! What one connection subscribed to (SUBSCRIBE, RFC §6.1.15) and the EVENTs it is owed
//! (RFC §6.3.5), as a plain state machine that compares what the server can tell now (a
//! [`Snapshot`]) with what it last told. It never reads a clock or touches a socket or the
//! station, so tests drive it with made-up snapshots.
//!
//! Coalescing is by construction: the state is a few counters, not a queue. However many
//! changes happen while the writer cannot send (its client does not read), the next look sends
//! at most one EVENT per subsystem, with the newest value, and the connection holds nothing
//! more for them. The wake-ups that make the writer look are coalesced too: the catalog's and
//! the station's hold at most one per connection ([`crate::library::catalog::Subscription`],
//! [`crate::radio::Pulse`]).

use jukebox_protocol::{Event, Subsystems};

use crate::library::ScanResults;
use crate::radio::{Changes, Station};

/// What the server can tell a subscriber at one moment: which subsystems it has, and, for
/// each, a count of its changes so far and its value now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// The subsystems this server has: the library always; the station's song when it runs a
    /// station, and its queue unless it relays (a relay has no queue: RFC §6.1.8).
    pub offered: Subsystems,
    /// The newest scan that changed the library (0: none yet), which is also its count.
    pub library: u32,
    /// The station's changes.
    pub station: Changes,
}

impl Snapshot {
    /// What the server can tell now, from the scans' results and the station.
    pub fn read(scans: ScanResults, station: &Station) -> Snapshot {
        let mut offered = Subsystems::LIBRARY;
        if station.runs() {
            offered = offered | Subsystems::STATION_SONG;
            if !station.relaying() {
                offered = offered | Subsystems::STATION_QUEUE;
            }
        }
        Snapshot {
            offered,
            library: scans.latest_change.map_or(0, |change| change.scan),
            station: if station.runs() { station.changes() } else { Changes::default() },
        }
    }
}

/// The counts of the changes a connection has told of (or that came before it subscribed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Told {
    library: u32,
    songs: u64,
    queue: u64,
}

impl Told {
    fn of(snapshot: &Snapshot) -> Told {
        Told { library: snapshot.library, songs: snapshot.station.songs, queue: snapshot.station.queue }
    }
}

/// One connection's subscription: what it asked to hear of, and what it has been told.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Subscriber {
    mask: Subsystems,
    told: Told,
}

impl Subscriber {
    /// SUBSCRIBE with `asked`, read when the server was as `now` says: from then on, the
    /// subsystems asked for that the server has are told of when they change (changes before
    /// `now` are not news), and the others no more. Returns what was granted, for SUBSCRIBED.
    pub fn subscribe(&mut self, asked: Subsystems, now: &Snapshot) -> Subsystems {
        self.mask = asked & now.offered;
        self.told = Told::of(now);
        self.mask
    }

    /// The subsystems granted, for the writer to listen for the station's wake-ups only
    /// when they matter.
    pub fn mask(&self) -> Subsystems {
        self.mask
    }

    /// The EVENTs owed now: one per subscribed subsystem that changed since it was last told
    /// of, with its value in `now`, in the order of their bits.
    pub fn changes(&mut self, now: &Snapshot) -> Vec<Event> {
        let mut events = Vec::new();
        if self.mask.is_empty() {
            return events;
        }
        if self.mask.contains(Subsystems::LIBRARY) && now.library > self.told.library {
            events.push(Event::Library { scan: now.library });
        }
        if self.mask.contains(Subsystems::STATION_SONG) && now.station.songs != self.told.songs {
            events.push(Event::StationSong { song: now.station.on_air });
        }
        if self.mask.contains(Subsystems::STATION_QUEUE) && now.station.queue != self.told.queue {
            events.push(Event::StationQueue { waiting: now.station.waiting });
        }
        self.told = Told { library: self.told.library.max(now.library), ..Told::of(now) };
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::SongId;

    fn snapshot(library: u32, songs: u64, on_air: Option<u32>, queue: u64, waiting: u32) -> Snapshot {
        Snapshot {
            offered: Subsystems::KNOWN,
            library,
            station: Changes { songs, on_air: on_air.map(SongId), queue, waiting },
        }
    }

    #[test]
    fn only_changes_after_the_subscribe_of_subsystems_asked_for_are_told() {
        let mut subscriber = Subscriber::default();
        // Nobody asked: nothing, whatever changes.
        assert!(subscriber.changes(&snapshot(3, 9, Some(2), 4, 1)).is_empty());
        let at = snapshot(3, 9, Some(2), 4, 1);
        assert_eq!(subscriber.subscribe(Subsystems::LIBRARY | Subsystems::STATION_SONG, &at), Subsystems(3));
        // What happened before the SUBSCRIBE is not news.
        assert!(subscriber.changes(&at).is_empty());
        // The queue changed: not asked for.
        assert!(subscriber.changes(&snapshot(3, 9, Some(2), 5, 2)).is_empty());
        let next = snapshot(4, 10, Some(7), 5, 2);
        assert_eq!(
            subscriber.changes(&next),
            [Event::Library { scan: 4 }, Event::StationSong { song: Some(SongId(7)) }]
        );
        assert!(subscriber.changes(&next).is_empty(), "told once");
        // Off the air: the song is gone.
        assert_eq!(subscriber.changes(&snapshot(4, 11, None, 5, 0)), [Event::StationSong { song: None }]);
        // Unsubscribed: nothing more.
        assert_eq!(subscriber.subscribe(Subsystems::NONE, &next), Subsystems::NONE);
        assert!(subscriber.changes(&snapshot(9, 20, Some(1), 9, 9)).is_empty());
    }

    #[test]
    fn a_client_that_never_reads_is_owed_one_event_per_subsystem_with_the_newest_value() {
        // The writer is blocked in a write for as long as its client does not read; when it
        // looks again, thousands of changes are one EVENT each, and nothing was held meanwhile:
        // the subscriber is the same few counters whatever happened.
        let mut subscriber = Subscriber::default();
        subscriber.subscribe(Subsystems(u32::MAX), &snapshot(1, 1, Some(1), 1, 0));
        let size = std::mem::size_of_val(&subscriber);
        let mut now = snapshot(1, 1, Some(1), 1, 0);
        for i in 2..10_000u32 {
            now = snapshot(i / 100, u64::from(i), Some(i % 50 + 1), u64::from(i) * 2, i % 7);
        }
        assert_eq!(
            subscriber.changes(&now),
            [
                Event::Library { scan: 99 },
                Event::StationSong { song: Some(SongId(9999 % 50 + 1)) },
                Event::StationQueue { waiting: 9999 % 7 },
            ]
        );
        assert_eq!(std::mem::size_of_val(&subscriber), size);
        assert!(subscriber.changes(&now).is_empty());
    }

    #[test]
    fn what_the_server_does_not_have_is_not_granted() {
        let relay = Snapshot {
            offered: Subsystems::LIBRARY | Subsystems::STATION_SONG,
            ..snapshot(0, 0, None, 0, 0)
        };
        let mut subscriber = Subscriber::default();
        assert_eq!(
            subscriber.subscribe(Subsystems(0xFFFF_FFFF), &relay),
            Subsystems::LIBRARY | Subsystems::STATION_SONG
        );
        assert_eq!(subscriber.mask(), Subsystems(3));
        // A queue a relay does not have never changes, and is never told of.
        assert!(
            subscriber
                .changes(&Snapshot { station: Changes { queue: 5, ..relay.station }, ..relay })
                .is_empty()
        );
    }

    #[test]
    fn a_library_scan_older_than_the_last_told_is_not_news() {
        // A writer may see scan results out of order with its own snapshot (read by the
        // reader earlier): a lower scan number never rewinds what was told.
        let mut subscriber = Subscriber::default();
        subscriber.subscribe(Subsystems::LIBRARY, &snapshot(5, 0, None, 0, 0));
        assert!(subscriber.changes(&snapshot(4, 0, None, 0, 0)).is_empty());
        assert!(subscriber.changes(&snapshot(5, 0, None, 0, 0)).is_empty());
        assert_eq!(subscriber.changes(&snapshot(6, 0, None, 0, 0)), [Event::Library { scan: 6 }]);
    }
}
