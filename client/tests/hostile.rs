//! Servers that break the protocol on purpose: the client stays bounded in memory, says what
//! went wrong in words, and never lets the server's text drive the terminal.

mod common;

use common::{fake_server, run_client};
use jukebox_protocol::{ErrorCode, ErrorReply, ListPage, Message, Request, RequestId, SongEntry, SongId};

fn song(id: u32) -> SongEntry {
    SongEntry {
        id: SongId(id),
        duration_ms: 1000,
        size: 1,
        title: String::new(),
        artist: String::new(),
        album: String::new(),
    }
}

/// What the client printed on standard output, and on both outputs together.
fn stdout_and_all(output: &std::process::Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    (stdout, all)
}

#[test]
fn a_list_that_never_ends_is_cut_off_at_a_million_songs() {
    // Pages of ascending ids, as the RFC wants, but never a last one: 1.1 million songs, then
    // silence (a client that keeps waiting times out).
    let server = fake_server(|mut peer| {
        let Some(Request::List { id }) = peer.request() else { panic!("expected LIST") };
        let mut page: Vec<SongEntry> = (1..=2900).map(song).collect();
        let mut next = 1;
        let mut bytes = Vec::new();
        while next <= 1_100_000 {
            for entry in &mut page {
                entry.id = SongId(next);
                next += 1;
            }
            bytes.clear();
            ListPage::encode_page(id, &page, false, &mut bytes).unwrap();
            if std::io::Write::write_all(&mut peer.socket, &bytes).is_err() {
                return;
            }
        }
        peer.drain();
    });
    let output = run_client(server.port, &["--output", "null", "--timeout", "3"], "list\nstatus\n");
    let (stdout, all) = stdout_and_all(&output);
    assert!(!output.status.success());
    assert!(
        all.contains("more than 1000000 songs and still no last page"),
        "the output ends:\n{}",
        &all[all.len().saturating_sub(300)..]
    );
    // The session goes on: the next command works.
    assert!(stdout.ends_with("Nothing is playing.\n"), "{}", &stdout[stdout.len().saturating_sub(300)..]);
}

#[test]
fn a_list_whose_ids_go_back_is_refused() {
    // The same page over and over: songs 1, 2, 3, 1, 2, 3, ... never a last page.
    let server = fake_server(|mut peer| {
        let Some(Request::List { id }) = peer.request() else { panic!("expected LIST") };
        let page = ListPage { id, last: false, songs: (1..=3).map(song).collect() };
        for _ in 0..1000 {
            peer.send(&Message::ListPage(page.clone()));
        }
        peer.drain();
    });
    let output = run_client(server.port, &["--output", "null", "--timeout", "3"], "list\n");
    let (_, all) = stdout_and_all(&output);
    assert!(!output.status.success());
    assert!(all.contains("song 1 came after song 3"), "{all}");
    assert!(all.contains("ascending"), "{all}");

    // Within one page, too.
    let server = fake_server(|mut peer| {
        let Some(Request::List { id }) = peer.request() else { panic!("expected LIST") };
        let songs = [1, 3, 3].into_iter().map(song).collect();
        peer.send(&Message::ListPage(ListPage { id, last: true, songs }));
        peer.drain();
    });
    let output = run_client(server.port, &["--output", "null", "--timeout", "3"], "list\n");
    let (stdout, all) = stdout_and_all(&output);
    assert!(all.contains("song 3 came after song 3"), "{all}");
    assert!(!stdout.contains("0:01"), "no part of a broken list is shown: {stdout}");
}

#[test]
fn a_flood_of_server_errors_is_dropped_and_counted() {
    // While the client waits for its LIST, the server sends 20 000 connection-level ERRORs.
    const FLOOD: usize = 20_000;
    let server = fake_server(|mut peer| {
        let Some(Request::List { id }) = peer.request() else { panic!("expected LIST") };
        let error = Message::Error(ErrorReply {
            id: RequestId::CONNECTION,
            code: ErrorCode::Internal,
            message: "flood".into(),
        });
        let one = error.to_bytes().unwrap();
        let all = one.repeat(FLOOD);
        std::io::Write::write_all(&mut peer.socket, &all).unwrap();
        peer.send(&Message::ListPage(ListPage { id, last: true, songs: vec![song(1)] }));
        peer.drain();
    });
    let output = run_client(server.port, &["--output", "null"], "list\n");
    let (stdout, _) = stdout_and_all(&output);
    let warnings = stdout.lines().filter(|l| l.contains("flood")).count();
    assert!(warnings > 0 && warnings < 1000, "{warnings} warnings shown");
    let dropped = FLOOD - warnings;
    let notice = format!("({dropped} more messages were dropped: they came faster than they could be shown)");
    assert_eq!(stdout.matches("were dropped").count(), 1, "one notice:\n{stdout}");
    assert!(stdout.contains(&notice), "{notice}\n{}", &stdout[stdout.len().saturating_sub(500)..]);
}

#[test]
fn text_from_the_server_cannot_drive_the_terminal() {
    use jukebox_protocol::{EndOfStream, Goodbye, GoodbyeReason, Playing, StreamId};
    // Retitle the window, clear the screen, ring the bell, and reverse what follows.
    let nasty = |what: &str| format!("{what}\x1b]0;pwned\x07\x1b[2J\u{9b}31m\u{202E}3pm.exe\u{2066}");
    let server = fake_server(move |mut peer| {
        let Some(Request::List { id }) = peer.request() else { panic!("expected LIST") };
        let entry =
            SongEntry { title: nasty("title"), artist: nasty("artist"), album: nasty("album"), ..song(1) };
        peer.send(&Message::ListPage(ListPage { id, last: true, songs: vec![entry] }));
        let Some(Request::Play { id, .. }) = peer.request() else { panic!("expected PLAY 1") };
        peer.send(&Message::Error(ErrorReply { id, code: ErrorCode::NoSuchSong, message: nasty("refused") }));
        for stream in [2, 3] {
            let Some(Request::Play { id, song }) = peer.request() else { panic!("expected PLAY") };
            let playing = Playing {
                id,
                stream: StreamId(stream),
                song,
                duration_ms: 1000,
                total_bytes: 0,
                title: nasty("playing"),
                artist: nasty("by"),
                start_ms: 0,
                gain: Default::default(),
            };
            peer.send(&Message::Playing(playing));
            let warning =
                ErrorReply { id: RequestId::CONNECTION, code: ErrorCode::Internal, message: nasty("warn") };
            peer.send(&Message::Error(warning));
        }
        // The song of stream 3 has no audio: it finishes at once.
        peer.send(&Message::EndOfStream(EndOfStream { stream: StreamId(3), total_bytes: 0 }));
        let Some(Request::List { .. }) = peer.request() else { panic!("expected the second LIST") };
        peer.send(&Message::Goodbye(Goodbye { reason: GoodbyeReason::ShuttingDown, text: nasty("bye") }));
    });
    let output =
        run_client(server.port, &["--output", "null"], "list\nplay 1\nplay 2\nstatus\nplay 3\nwait\nlist\n");
    let (_, all) = stdout_and_all(&output);
    for what in ["title", "artist", "album", "refused", "playing", "by", "warn", "bye"] {
        assert!(all.contains(&format!("{what}]0;pwned[2J31m3pm.exe")), "{what} is shown, made safe:\n{all}");
    }
    assert!(all.contains("Finished 3: playing"), "{all}");
    let unsafe_chars: Vec<char> =
        all.chars().filter(|&c| c != '\n' && jukebox_protocol::text::is_unsafe(c)).collect();
    assert!(unsafe_chars.is_empty(), "{unsafe_chars:?} reached the terminal:\n{all:?}");
}
