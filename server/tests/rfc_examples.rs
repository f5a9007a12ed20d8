//! The hex dumps of RFC.md §11 are what the server really sends: replayed against the real
//! server, byte for byte, so the document cannot drift from the code.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{Client, serve};

/// The bytes of every dump line of the `n`th code block after `heading` in RFC.md, one
/// message per dump (a dump restarts at offset 00000000).
fn dumps(heading: &str, block: usize) -> Vec<Vec<u8>> {
    let rfc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../RFC.md")).expect("RFC.md");
    let section = rfc.split(heading).nth(1).unwrap_or_else(|| panic!("no {heading} in RFC.md"));
    let code = section.split("```").nth(1 + 2 * block).expect("the code block");
    let mut messages: Vec<Vec<u8>> = Vec::new();
    for line in code.lines().filter(|l| l.len() > 10 && l.as_bytes()[8] == b' ') {
        let (offset, rest) = line.split_at(8);
        if offset == "00000000" {
            messages.push(Vec::new());
        }
        let hex = rest.split('|').next().unwrap_or_default();
        let bytes = hex.split_whitespace().map(|b| u8::from_str_radix(b, 16).expect("a hex byte"));
        messages.last_mut().expect("a dump starts at 00000000").extend(bytes);
    }
    messages
}

fn two_sample_songs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let music = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../music");
    for name in ["01-morning-scale.mp3", "02-lanterns-in-the-rain.mp3"] {
        std::fs::copy(music.join(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// Sends `request` and reads exactly as many bytes as `expected` holds.
fn exchange(client: &mut Client, request: &[u8], expected: usize) -> Vec<u8> {
    client.socket.write_all(request).unwrap();
    client.socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = vec![0u8; expected];
    client.socket.read_exact(&mut got).expect("the server's answer");
    got
}

#[test]
fn the_list_example_is_what_the_server_sends() {
    let dir = two_sample_songs();
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    let list = dumps("### 11.2. LIST and LIST_PAGE", 0);
    let page = dumps("### 11.2. LIST and LIST_PAGE", 1);
    assert_eq!(exchange(&mut client, &list[0], page[0].len()), page[0]);
}

#[test]
fn the_play_and_error_examples_are_what_the_server_sends() {
    let dir = two_sample_songs();
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    let play = dumps("### 11.3. PLAY and PLAYING", 0);
    let playing = dumps("### 11.3. PLAY and PLAYING", 1);
    assert_eq!(exchange(&mut client, &play[0], playing[0].len()), playing[0]);
    let mut client = Client::connect(server.addr);
    for block in 0..4 {
        let pair = dumps("### 11.7. ERROR", block);
        assert_eq!(exchange(&mut client, &pair[0], pair[1].len()), pair[1], "example {block} of 11.7");
    }
}

#[test]
fn the_rescan_example_is_what_the_server_sends() {
    let dir = two_sample_songs();
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    let dump = dumps("### 11.8. RESCAN, SCANNING and LIBRARY_CHANGED", 0);
    let answer: Vec<u8> = dump[1..].concat();
    assert_eq!(exchange(&mut client, &dump[0], answer.len()), answer);
}

/// The station's examples name songs and times that depend on when the example was taken, so
/// they are checked against the protocol's own encoder instead of a live server: each dump is
/// the encoding of the message the text describes.
#[test]
fn the_station_examples_are_the_encodings_of_what_the_text_says() {
    use jukebox_protocol::{
        ErrorCode, ErrorReply, Message, NowPlaying, QueueEntry, QueuePage, Queued, Request, RequestId,
        SongId, StreamId, Track, TrackChanged, Tuned,
    };
    let heading = "### 11.11. The Station: TUNE, TRACK_CHANGED, REQUEST and QUEUE";
    let synths = "The Jukebox Synths".to_string();
    let lanterns = Track {
        song: SongId(2),
        duration_ms: 32731,
        title: "Lanterns in the Rain".into(),
        artist: synths.clone(),
    };
    let scale = Track { song: SongId(1), duration_ms: 25548, title: "Morning Scale".into(), artist: synths };
    let expected = [
        vec![
            Message::Request(Request::Tune { id: RequestId(21) }),
            Message::Tuned(Tuned {
                id: RequestId(21),
                stream: StreamId(3),
                bitrate_kbps: 128,
                sample_rate: 44_100,
            }),
            Message::TrackChanged(TrackChanged {
                stream: StreamId(3),
                offset: 0,
                position_ms: 73_521,
                track: lanterns.clone(),
            }),
        ],
        vec![
            Message::Request(Request::RequestSong { id: RequestId(22), song: SongId(1) }),
            Message::Queued(Queued { id: RequestId(22), song: SongId(1), place: 1 }),
            Message::Request(Request::RequestSong { id: RequestId(23), song: SongId(1) }),
            Message::Error(ErrorReply {
                id: RequestId(23),
                code: ErrorCode::AlreadyQueued,
                message: "Morning Scale is already in the queue".into(),
            }),
        ],
        vec![
            Message::Request(Request::Queue { id: RequestId(24) }),
            Message::QueuePage(QueuePage {
                id: RequestId(24),
                last: true,
                now: Some(NowPlaying { track: lanterns, elapsed_ms: 4210 }),
                entries: vec![QueueEntry { track: scale, mine: true }],
            }),
        ],
    ];
    for (block, messages) in expected.iter().enumerate() {
        let dumps = dumps(heading, block);
        assert_eq!(dumps.len(), messages.len(), "block {block}");
        for (dump, message) in dumps.iter().zip(messages) {
            assert_eq!(dump, &message.to_bytes().unwrap(), "{message:?}");
        }
    }
}

#[test]
fn the_info_and_search_examples_are_what_the_server_sends() {
    let dir = two_sample_songs();
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    let heading = "### 11.12. INFO, SONG_INFO and SEARCH";
    for block in 0..2 {
        let pair = dumps(heading, block);
        assert_eq!(exchange(&mut client, &pair[0], pair[1].len()), pair[1], "example {block} of 11.12");
    }
}

#[test]
fn the_subscribe_example_is_what_the_server_sends_and_its_events_are_what_the_text_says() {
    use jukebox_protocol::{Event, Message, SongId};
    let heading = "### 11.13. SUBSCRIBE, SUBSCRIBED and EVENT";
    // The reply grants what a server with a station has: answered by the real server.
    let dir = two_sample_songs();
    let catalog = jukebox_server::Catalog::scanned(dir.path()).unwrap();
    let server = jukebox_server::Server::bind("127.0.0.1:0".parse().unwrap(), catalog)
        .unwrap()
        .with_radio()
        .unwrap()
        .spawn();
    let mut client = Client::connect(server.addr);
    let pair = dumps(heading, 0);
    assert_eq!(exchange(&mut client, &pair[0], pair[1].len()), pair[1]);
    // The EVENTs depend on when they happened: each dump is the encoding of what the text says.
    let expected = [
        Event::StationSong { song: Some(SongId(1)) },
        Event::StationQueue { waiting: 1 },
        Event::Library { scan: 2 },
    ];
    let events = dumps(heading, 1);
    assert_eq!(events.len(), expected.len());
    for (dump, event) in events.iter().zip(expected) {
        assert_eq!(dump, &Message::Event(event).to_bytes().unwrap(), "{event:?}");
    }
}
