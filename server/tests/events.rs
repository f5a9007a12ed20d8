//! SUBSCRIBE and EVENT (RFC §6.1.15, §6.3.5) through the real binary: a subscriber hears when
//! a rescan changes the library, when a request joins the station's queue and when it goes on
//! the air, and when the station's song changes; a connection that did not subscribe, or
//! unsubscribed, hears none of it; a server without a station grants only the library, and a
//! relay (which has no queue) the library and the station's song, whose changes it tells too.
//! Songs are one-second tones, so the station changes song every second.

mod common;

use std::time::{Duration, Instant};

use common::{Binary, Client, tone_mp3};
use jukebox_protocol::{ErrorCode, Event, Message, Request, SongId, Subsystems};

/// A folder of `n` one-second songs.
fn songs(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 1..=n {
        tone_mp3(&dir.path().join(format!("{i:02}.mp3")), 1.0, 220.0 * i as f32, &format!("Song {i}"), "");
    }
    dir
}

/// SUBSCRIBE with `mask`; returns what was granted.
fn subscribe(client: &mut Client, mask: Subsystems) -> Subsystems {
    let id = client.request(|id| Request::Subscribe { id, mask });
    until(client, |m| match m {
        Message::Subscribed(s) if s.id == id => Some(s.mask),
        _ => None,
    })
    .0
}

/// Reads until `wanted` picks a message; returns it and the EVENTs that came before it (a
/// push may come before the reply to a request that caused it). Panics after 10 s of nothing,
/// or 20 s without the message wanted.
fn until<T>(client: &mut Client, mut wanted: impl FnMut(&Message) -> Option<T>) -> (T, Vec<Event>) {
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "what was waited for did not come; EVENTs meanwhile: {events:?}");
        let message = client.recv();
        if let Some(found) = wanted(&message) {
            return (found, events);
        }
        if let Message::Event(event) = message {
            events.push(event);
        }
    }
}

/// The first of `earlier`, then of the EVENTs that follow, that `wanted` picks.
fn event<T>(client: &mut Client, earlier: &[Event], mut wanted: impl FnMut(&Event) -> Option<T>) -> T {
    if let Some(found) = earlier.iter().find_map(&mut wanted) {
        return found;
    }
    until(client, |m| match m {
        Message::Event(event) => wanted(event),
        _ => None,
    })
    .0
}

/// Sends PING and returns every EVENT that came before its PONG.
fn events_before_a_pong(client: &mut Client) -> Vec<Event> {
    let id = client.request(|id| Request::Ping { id });
    until(client, |m| matches!(m, Message::Pong { id: pong } if *pong == id).then_some(())).1
}

/// REQUESTs the songs in turn until one is queued (a song on the air is refused); returns it,
/// and the EVENTs that came meanwhile.
fn request_any(client: &mut Client, songs: u32) -> (SongId, Vec<Event>) {
    let mut seen = Vec::new();
    for song in (1..=songs).map(SongId) {
        let id = client.request(|id| Request::RequestSong { id, song });
        let (answer, events) = until(client, |m| match m {
            Message::Queued(q) if q.id == id => Some(Ok(())),
            Message::Error(e) if e.id == id => Some(Err(e.code)),
            _ => None,
        });
        seen.extend(events);
        match answer {
            Ok(()) => return (song, seen),
            Err(ErrorCode::AlreadyQueued) => {}
            Err(other) => panic!("REQUEST of song {song} refused with {other:?}"),
        }
    }
    panic!("every song was refused")
}

#[test]
fn a_subscriber_hears_of_the_library_the_queue_and_the_song_and_nobody_else_does() {
    let dir = songs(4);
    let server = Binary::start(dir.path(), &["--db", "none"]);
    server.wait_for_log("now playing");
    let mut silent = Client::connect(server.addr);
    let mut leaving = Client::connect(server.addr);
    let mut subscriber = Client::connect(server.addr);
    // Bits this server does not know are cleared from what it grants.
    assert_eq!(subscribe(&mut subscriber, Subsystems(u32::MAX)), Subsystems::KNOWN);
    assert_eq!(subscribe(&mut leaving, Subsystems::STATION_SONG), Subsystems::STATION_SONG);
    assert_eq!(subscribe(&mut leaving, Subsystems::NONE), Subsystems::NONE);

    // The station's song changes every second: each change is an EVENT naming the song now
    // on the air.
    let on_air = event(&mut subscriber, &[], |e| match e {
        Event::StationSong { song } => Some(*song),
        _ => None,
    });
    assert!(on_air.is_some_and(|song| (1..=4).contains(&song.0)), "{on_air:?}");

    // A request joins the queue, then goes on the air and leaves it.
    let (wanted, meanwhile) = request_any(&mut subscriber, 4);
    let mut waited = false;
    let mut aired = false;
    event(&mut subscriber, &meanwhile, |e| {
        match *e {
            Event::StationQueue { waiting } if waiting > 0 => waited = true,
            Event::StationSong { song } if song == Some(wanted) => aired = true,
            Event::StationQueue { waiting: 0 } if aired => return Some(()),
            _ => {}
        }
        None
    });
    assert!(waited, "the request's joining the queue was told before it went on the air");

    // A new file and a rescan: the library changed.
    tone_mp3(&dir.path().join("05.mp3"), 1.0, 1100.0, "Song 5", "");
    let id = subscriber.request(|id| Request::Rescan { id });
    let (scan, meanwhile) = until(&mut subscriber, |m| match m {
        Message::Scanning(s) if s.id == id => Some(s.scan),
        _ => None,
    });
    let told = event(&mut subscriber, &meanwhile, |e| match e {
        Event::Library { scan } => Some(*scan),
        _ => None,
    });
    assert_eq!(told, scan, "the scan asked for is the one that changed the library");
    assert_eq!(subscriber.list().len(), 5, "after the EVENT, LIST shows the change");

    // Meanwhile the others heard of none of it (LIBRARY_CHANGED, which every connection gets
    // for a scan that changed something, is not an EVENT).
    assert_eq!(events_before_a_pong(&mut silent), []);
    assert_eq!(events_before_a_pong(&mut leaving), []);
}

#[test]
fn a_server_grants_only_the_subsystems_it_has() {
    let dir = songs(1);
    let server = Binary::start(dir.path(), &["--db", "none", "--no-radio"]);
    let mut client = Client::connect(server.addr);
    assert_eq!(subscribe(&mut client, Subsystems::KNOWN), Subsystems::LIBRARY);
    assert_eq!(subscribe(&mut client, Subsystems::STATION_SONG), Subsystems::NONE);
    // A SUBSCRIBE cut short is malformed, and changes nothing.
    client.socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    std::io::Write::write_all(&mut client.socket, &[0, 0, 0, 6, 0x0F, 0, 0, 0, 0, 9, 0, 0]).unwrap();
    let Message::Error(error) = client.recv() else { panic!("an ERROR") };
    assert_eq!((error.id.0, error.code), (9, ErrorCode::MalformedRequest));
}

#[test]
fn a_relay_tells_of_the_songs_it_relays_and_has_no_queue() {
    let dir = songs(3);
    let origin = Binary::start(dir.path(), &["--db", "none"]);
    origin.wait_for_log("now playing");
    let upstream = format!("jukebox://{}", origin.addr);
    let relay = Binary::start_args(&["--relay", &upstream, "0", "--bind", "127.0.0.2"]);
    relay.wait_for_log("relay: relaying");
    let mut client = Client::connect(relay.addr);
    let granted = subscribe(&mut client, Subsystems::KNOWN);
    assert_eq!(granted, Subsystems::LIBRARY | Subsystems::STATION_SONG);
    let started = Instant::now();
    let song = event(&mut client, &[], |e| match e {
        Event::StationSong { song: Some(song) } => Some(*song),
        _ => None,
    });
    assert!((1..=3).contains(&song.0), "{song:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}
