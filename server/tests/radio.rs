//! The station through the real socket (RFC §6.1.6-6.3.4, §7.5): what a listener receives
//! after TUNE, the queue's rules as REQUEST and QUEUE show them, and songs that vanish.
//! Songs are short real MP3s (tones made with the codec crate's LAME encoder), so the
//! station changes songs every second or so and a test sees several changes quickly.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::Client;
use jukebox_protocol::{ErrorCode, Message, QueuePage, Request, SongId, TrackChanged};
use jukebox_server::{Catalog, RunningServer, Server};

/// A song of `secs` seconds of a tone at `hz`, titled after its file.
fn tone(path: &Path, secs: f64, hz: f64) {
    let title = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    common::tone_mp3(path, secs as f32, hz as f32, &title, "");
}

/// A folder of `n` songs of `secs` seconds, named song-1.mp3 ... (their titles).
fn songs(n: usize, secs: f64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 1..=n {
        tone(&dir.path().join(format!("song-{i}.mp3")), secs, 220.0 * i as f64);
    }
    dir
}

fn radio(dir: &Path) -> RunningServer {
    let catalog = Catalog::scanned(dir).expect("scan");
    Server::bind("127.0.0.1:0".parse().unwrap(), catalog).unwrap().with_radio().unwrap().spawn()
}

/// A client whose connection comes from `ip` (127.0.0.x: a separate requester).
fn client_from(server: SocketAddr, ip: [u8; 4]) -> Client {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::new(IpAddr::from(ip), 0).into()).unwrap();
    socket.connect(&server.into()).unwrap();
    Client::handshaken(TcpStream::from(socket))
}

fn queue(client: &mut Client) -> Vec<QueuePage> {
    let id = client.request(|id| Request::Queue { id });
    let mut pages = Vec::new();
    loop {
        match client.recv() {
            Message::QueuePage(page) if page.id == id => {
                let last = page.last;
                pages.push(page);
                if last {
                    return pages;
                }
            }
            Message::Audio(_) | Message::TrackChanged(_) => {}
            other => panic!("expected QUEUE_PAGE, got {other:?}"),
        }
    }
}

/// Sends REQUEST and returns the place, or the error code and message.
fn request(client: &mut Client, song: u32) -> Result<u32, (ErrorCode, String)> {
    let id = client.request(|id| Request::RequestSong { id, song: SongId(song) });
    loop {
        match client.recv() {
            Message::Queued(q) if q.id == id => return Ok(q.place),
            Message::Error(e) if e.id == id => return Err((e.code, e.message)),
            Message::Audio(_) | Message::TrackChanged(_) => {}
            other => panic!("expected QUEUED or ERROR, got {other:?}"),
        }
    }
}

/// Tunes in and records, for `span`, the songs announced (in order) and the audio received.
struct Heard {
    tracks: Vec<TrackChanged>,
    /// (offset, position ms, data length) of each AUDIO.
    audio: Vec<(u64, u32, usize)>,
    data: Vec<u8>,
}

fn listen(client: &mut Client, span: Duration) -> Heard {
    let id = client.request(|id| Request::Tune { id });
    let stream = match client.recv() {
        Message::Tuned(tuned) if tuned.id == id => {
            assert_eq!((tuned.bitrate_kbps, tuned.sample_rate), (128, 44_100));
            tuned.stream
        }
        other => panic!("expected TUNED, got {other:?}"),
    };
    let mut heard = Heard { tracks: Vec::new(), audio: Vec::new(), data: Vec::new() };
    let end = Instant::now() + span;
    while Instant::now() < end {
        match client.recv() {
            Message::TrackChanged(t) => {
                assert_eq!(t.stream, stream);
                let next_offset = heard.audio.last().map_or(0, |&(o, _, len)| o + len as u64);
                assert_eq!(t.offset, next_offset, "TRACK_CHANGED comes right before the chunk it names");
                heard.tracks.push(t);
            }
            Message::Audio(a) => {
                assert_eq!(a.stream, stream);
                assert!(!heard.tracks.is_empty(), "the song is announced before any audio");
                heard.audio.push((a.offset, a.position_ms, a.data.len()));
                heard.data.extend_from_slice(&a.data);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    heard
}

#[test]
fn a_listener_hears_the_station_live_with_every_song_announced_before_its_audio() {
    let dir = songs(4, 1.0);
    let server = radio(dir.path());
    let mut client = Client::connect(server.addr);
    let started = Instant::now();
    let heard = listen(&mut client, Duration::from_secs(5));
    // Offsets are contiguous; the data is whole 128 kbit/s 44.1 kHz frames.
    let mut offset = 0;
    for &(o, _, len) in &heard.audio {
        assert_eq!(o, offset);
        offset += len as u64;
    }
    let frames: Vec<_> = jukebox_protocol::mp3::frames(&heard.data).collect();
    assert_eq!(frames.iter().map(|f| f.header.len).sum::<usize>(), heard.data.len(), "nothing but frames");
    assert!(frames.iter().all(|f| f.header.sample_rate == 44_100 && f.header.bitrate_kbps == 128));
    // Positions follow the station clock: they advance as the audio does.
    let (first, last) = (heard.audio[0].1, heard.audio.last().unwrap().1);
    let played_ms = frames.len() as f64 * 1152.0 / 44.1;
    let last_len_ms = heard.audio.last().unwrap().2 as f64 / 417.6 * 26.12;
    assert!((f64::from(last - first) + last_len_ms - played_ms).abs() < 60.0, "{first} {last} {played_ms}");
    // Real time: about the burst (2 s) plus the 5 s listened, never much more.
    let audio_secs = played_ms / 1000.0;
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        audio_secs > elapsed + 0.5 && audio_secs < elapsed + 2.5,
        "{audio_secs:.2} s of audio in {elapsed:.2} s"
    );
    // Four songs of a second each: several changes, each a different song from the last.
    assert!(heard.tracks.len() >= 4, "{:?}", heard.tracks);
    for pair in heard.tracks.windows(2) {
        assert_ne!(pair[0].track.song, pair[1].track.song, "the shuffle does not repeat a song at once");
        assert!(pair[1].position_ms > pair[0].position_ms);
    }
    let titles: Vec<&str> = heard.tracks.iter().map(|t| t.track.title.as_str()).collect();
    assert!(titles.iter().all(|t| t.starts_with("song-")), "{titles:?}");
}

#[test]
fn requests_play_in_turns_and_the_rules_refuse_duplicates_and_hoarders() {
    let dir = songs(12, 2.5);
    let server = radio(dir.path());
    let mut alice = client_from(server.addr, [127, 0, 0, 1]);
    let mut bob = client_from(server.addr, [127, 0, 0, 2]);
    let mut carol = client_from(server.addr, [127, 0, 0, 3]);
    // Songs not on the air: the station may change songs meanwhile, so a song that has just
    // gone on the air is passed over for the next.
    let mut free: Vec<u32> = (1..=12).collect();
    let mut take = |client: &mut Client| loop {
        let song = free.remove(0);
        match request(client, song) {
            Ok(place) => return (song, place),
            Err((ErrorCode::AlreadyQueued, _)) => {}
            Err(other) => panic!("{other:?}"),
        }
    };
    let (a1, _) = take(&mut alice);
    let (a2, _) = take(&mut alice);
    // Bob's first song goes before Alice's second.
    let (b1, b_place) = take(&mut bob);
    let (code, message) = request(&mut bob, a1).unwrap_err();
    assert_eq!(code, ErrorCode::AlreadyQueued);
    assert!(message.contains("already in the queue") || message.contains("playing now"), "{message}");
    let (a3, _) = take(&mut alice);
    // Three waiting songs each. Carol asks behind songs that take seconds to play, so none of
    // hers can go on the air meanwhile (which would make room for another).
    let carols: Vec<u32> = (0..3).map(|_| take(&mut carol).0).collect();
    let refused = free
        .iter()
        .map(|&song| request(&mut carol, song).unwrap_err().0)
        .find(|&code| code != ErrorCode::AlreadyQueued);
    assert_eq!(refused, Some(ErrorCode::RequestLimit), "three waiting songs each: {carols:?}");
    let (code, _) = request(&mut alice, 999).unwrap_err();
    assert_eq!(code, ErrorCode::NoSuchSong);
    // The queue as Alice sees it: in turns, her songs marked hers.
    let pages = queue(&mut alice);
    let entries: Vec<(u32, bool)> =
        pages.iter().flat_map(|p| p.entries.iter().map(|e| (e.track.song.0, e.mine))).collect();
    // A request may already be on the air: then it is "now", ahead of the queue.
    let now = pages[0].now.as_ref().map(|n| n.track.song.0);
    let requested = [a1, a2, a3, b1];
    let on_air = now.filter(|n| requested.contains(n));
    let order: Vec<u32> = on_air.into_iter().chain(entries.iter().map(|e| e.0)).collect();
    let ahead_of_queue = usize::from(on_air.is_some());
    let pos = |s| order.iter().position(|&x| x == s).unwrap();
    // Alice asked first, so at most one of hers comes first (the first she asked for, or one the
    // shuffle had already picked to play next, granted to her; Bob may have had such luck instead).
    let alices_before_bob = [a1, a2, a3].iter().filter(|&&s| pos(s) < pos(b1)).count();
    assert!(alices_before_bob <= 1, "{order:?}");
    // QUEUED told Bob his place then. Since, a song may have gone on the air (moving him up by
    // one), or Carol may have been granted the song the shuffle had already picked to play next
    // (shown ahead of the queue now: down by one; RFC §6.2.8 says a place can change).
    let place_now = pos(b1) + 1 - ahead_of_queue;
    assert!((b_place as usize).abs_diff(place_now) <= 1, "{b_place} then, {place_now} now");
    assert!(entries.iter().all(|&(s, mine)| mine == [a1, a2, a3].contains(&s)), "{entries:?}");
    // And that is the order they play in.
    // Long enough for the song on the air, one the shuffle may have picked before the
    // requests, and four requested ones, whatever the timing.
    let heard = listen(&mut alice, Duration::from_secs(15));
    let played: Vec<u32> = heard.tracks.iter().map(|t| t.track.song.0).collect();
    let at =
        |s| played.iter().position(|&x| x == s).unwrap_or_else(|| panic!("{s} never played: {played:?}"));
    // The order shown is the order played.
    let mut shown = [a1, a2, b1];
    shown.sort_by_key(|&s| pos(s));
    assert!(shown.windows(2).all(|w| at(w[0]) < at(w[1])), "shown {shown:?}, played {played:?}");
}

#[test]
fn a_requested_song_whose_file_vanished_is_skipped_and_the_station_plays_on() {
    let dir = songs(5, 1.0);
    let server = radio(dir.path());
    let mut client = Client::connect(server.addr);
    // A song added now, so the shuffle has not drawn it (its round holds the first five).
    tone(&dir.path().join("song-6.mp3"), 1.0, 990.0);
    let scan = client.request(|id| Request::Rescan { id });
    let mut added = None;
    while added.is_none() {
        match client.recv() {
            Message::LibraryChanged(c) if c.added == 1 => added = Some(c),
            Message::Scanning(s) if s.id == scan => {}
            Message::LibraryChanged(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let id = client.list().iter().find(|s| s.title == "song-6").expect("listed").id.0;
    std::fs::remove_file(dir.path().join("song-6.mp3")).unwrap();
    assert!(request(&mut client, id).is_ok(), "still listed: the request is taken");
    let heard = listen(&mut client, Duration::from_secs(4));
    assert!(heard.tracks.iter().all(|t| t.track.song.0 != id), "the vanished song never airs");
    assert!(heard.tracks.len() >= 3, "the station plays on: {:?}", heard.tracks);
    let waiting: Vec<u32> =
        queue(&mut client).iter().flat_map(|p| p.entries.iter().map(|e| e.track.song.0)).collect();
    assert!(!waiting.contains(&id), "its turn came and went");
}

#[test]
fn without_a_station_or_without_songs_tune_and_request_are_off_the_air() {
    let dir = songs(1, 1.0);
    let server = common::serve(dir.path());
    let mut client = Client::connect(server.addr);
    let id = client.request(|id| Request::Tune { id });
    assert!(matches!(client.recv(), Message::Error(e) if e.id == id && e.code == ErrorCode::OffAir));
    assert_eq!(request(&mut client, 1).unwrap_err().0, ErrorCode::OffAir);
    let pages = queue(&mut client);
    assert!(pages.len() == 1 && pages[0].now.is_none() && pages[0].entries.is_empty());

    let empty = tempfile::tempdir().unwrap();
    let server = radio(empty.path());
    let mut client = Client::connect(server.addr);
    let id = client.request(|id| Request::Tune { id });
    assert!(matches!(client.recv(), Message::Error(e) if e.id == id && e.code == ErrorCode::OffAir));
}

#[test]
fn listeners_who_tune_in_seconds_apart_are_behind_live_by_the_same_time() {
    let dir = songs(3, 2.0);
    let server = radio(dir.path());
    let mut first = Client::connect(server.addr);
    let tune = |client: &mut Client| {
        let id = client.request(|id| Request::Tune { id });
        assert!(matches!(client.recv(), Message::Tuned(t) if t.id == id));
        let sent = Instant::now();
        loop {
            if let Message::Audio(a) = client.recv() {
                return (sent, a.position_ms);
            }
        }
    };
    // The first listener tunes in as the station starts: it is as far behind live as later
    // ones (the station starts a burst in the past).
    let mut starts: HashMap<&str, (Instant, u32)> = HashMap::new();
    starts.insert("a", tune(&mut first));
    // The second joins a while later (a spacing, not a wait for something to happen).
    std::thread::sleep(Duration::from_millis(1300));
    let mut b = Client::connect(server.addr);
    starts.insert("b", tune(&mut b));
    let (ta, pa) = starts["a"];
    let (tb, pb) = starts["b"];
    // What each will play at the moment it starts, against the wall clock: the same delay.
    let wall = tb.duration_since(ta).as_millis() as i64;
    let station = i64::from(pb) - i64::from(pa);
    assert!((wall - station).abs() <= 100, "joined {wall} ms apart, bursts start {station} ms apart");
}

#[test]
fn a_library_of_one_song_plays_it_again_rather_than_fall_silent() {
    let dir = songs(1, 1.0);
    let server = radio(dir.path());
    let mut client = Client::connect(server.addr);
    let heard = listen(&mut client, Duration::from_millis(3500));
    assert!(heard.tracks.len() >= 3, "{:?}", heard.tracks);
    assert!(heard.tracks.iter().all(|t| t.track.song == SongId(1)));
    assert!(heard.tracks.windows(2).all(|w| w[1].position_ms > w[0].position_ms), "each a new airing");
}
