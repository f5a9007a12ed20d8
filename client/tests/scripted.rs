//! The real client binary, driven by a script on standard input against a real server.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{decode_music, fake_server, music_dir, run_client, tone_song};
use jukebox_server::RunningServer;

fn serve() -> RunningServer {
    common::serve(&music_dir())
}

fn read_wav(path: &Path) -> Vec<i16> {
    let mut reader = hound::WavReader::open(path).expect("a valid WAV file");
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (2, 44_100, 16));
    reader.samples::<i16>().map(Result::unwrap).collect()
}

#[test]
fn wav_of_a_switched_session_holds_song_1_then_song_3() {
    let server = serve();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("session.wav");
    let started = Instant::now();
    let output = run_client(
        server.addr.port(),
        &["--output", &format!("wav:{}", wav.display())],
        "play 1\nsleep 1.5\nplay 3\nsleep 1.5\nstop\n",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "client failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("Playing 1: Morning Scale"), "{stdout}");
    assert!(stdout.contains("Playing 3: Tin Robot Shuffle"), "{stdout}");
    // Real time: the script sleeps 3 s and the output plays at the pace of a sound card.
    assert!(started.elapsed() >= Duration::from_secs(3));

    let recorded = read_wav(&wav);
    let song1 = decode_music(&music_dir().join("01-morning-scale.mp3"));
    let song3 = decode_music(&music_dir().join("03-tin-robot-shuffle.mp3"));
    let switch = recorded.iter().zip(&song1).take_while(|(a, b)| a == b).count();
    // About 1.5 s of song 1 (the first 150 ms may be spent connecting and buffering).
    let seconds = |samples: usize| samples as f64 / 88_200.0;
    assert!((1.2..=1.6).contains(&seconds(switch)), "song 1 played for {:.2} s", seconds(switch));
    let rest = &recorded[switch..];
    assert!((1.2..=1.6).contains(&seconds(rest.len())), "song 3 played for {:.2} s", seconds(rest.len()));
    assert!(
        rest == &song3[..rest.len()],
        "after the switch the WAV must be song 3 from its start, and nothing of song 1"
    );
}

#[test]
fn a_song_plays_to_its_end_and_wait_returns() {
    let dir = tempfile::tempdir().unwrap();
    // A 2-second song, so the test is short.
    let song = tone_song(dir.path(), "short", 2.0);
    let server = common::serve(dir.path());
    let wav = dir.path().join("out.wav");
    let output = run_client(
        server.addr.port(),
        &["--output", &format!("wav:{}", wav.display())],
        "play 1\nwait\nstatus\n",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("Finished 1: short"), "{stdout}");
    assert!(stdout.trim_end().ends_with("Nothing is playing."), "{stdout}");
    assert_eq!(
        read_wav(&wav),
        decode_music(&song),
        "the whole song, exactly, its encoder's delay and padding cut"
    );
}

#[test]
fn usage_mistakes_and_server_refusals_read_differently_and_go_to_stderr() {
    let server = serve();
    let output = run_client(
        server.addr.port(),
        &["--output", "null"],
        "list\nplay 42\nplay x\nseek\nstop\nstatus\nsleep forever\nbogus\n",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Results on standard output: the list and the two answers, nothing else.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    for (i, line) in lines[..4].iter().enumerate() {
        assert!(line.trim_start().starts_with(&(i + 1).to_string()), "{line}");
    }
    assert!(lines[0].contains("Morning Scale — The Jukebox Synths"));
    assert_eq!(&lines[4..], ["Nothing was playing.", "Nothing is playing."]);
    // Mistakes on standard error, each saying whose it is.
    let errors: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        errors,
        [
            "server: no song with id 42",
            "play: \"x\" is not a song id (list shows them); try: play 2",
            "seek: where to? Give a time (1:30 or 90) or a step (+10, -10); try: seek 1:30",
            "sleep: \"forever\" is not a number of seconds from 0 to 86400; try: sleep 2.5",
            "unknown command \"bogus\"; type help for the list",
        ],
        "{stderr}"
    );
    assert_eq!(output.status.code(), Some(1), "a script with errors exits with status 1");
}

#[test]
fn help_reads_well_at_any_width() {
    for width in [60, 80, 120] {
        let output = Command::new(env!("CARGO_BIN_EXE_jukebox-client"))
            .arg("--help")
            .env("COLUMNS", width.to_string())
            .output()
            .unwrap();
        assert!(output.status.success());
        let help = String::from_utf8_lossy(&output.stdout);
        // Past 100 columns, lines of prose get hard to follow.
        let limit = width.min(100);
        let lines: Vec<&str> = help.lines().collect();
        for line in &lines {
            assert!(line.chars().count() <= limit, "at {width} columns, too long: {line:?}\n{help}");
        }
        // Paragraphs are filled: a line ends early only where the next word would not fit.
        let indent = |line: &str| line.len() - line.trim_start().len();
        for pair in lines.windows(2) {
            let (line, next) = (pair[0], pair[1]);
            if line.trim().is_empty() || next.trim().is_empty() || indent(line) != indent(next) {
                continue;
            }
            // The next item of a list, not the rest of a sentence; or the next row of the
            // table of one-shot commands (a name, then two spaces or more).
            let row = |l: &str| l.trim_start().split_once(' ').is_some_and(|(_, rest)| rest.starts_with(' '));
            if next.trim_start().starts_with(['-', '[']) || next.ends_with(':') || (row(line) && row(next)) {
                continue;
            }
            let word = next.split_whitespace().next().unwrap_or_default();
            assert!(
                line.chars().count() + 1 + word.chars().count() > limit,
                "at {width} columns, {line:?} ends before {word:?} although it fits:\n{help}"
            );
        }
        assert!(help.contains("--timeout <SECS>"), "{help}");
        assert!(!help.contains("--keepalive"), "hidden: {help}");
    }
}

#[test]
fn a_server_that_goes_away_is_reported_without_a_hang() {
    let server = serve();
    let port = server.addr.port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jukebox-client"))
        .args(["127.0.0.1", &port.to_string(), "--output", "null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"play 2\nwait\n").unwrap();
    std::thread::sleep(Duration::from_millis(700));
    server.shutdown();
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    drop(stdin);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(stdout.contains("Disconnected: the server is shutting down"), "{stdout}");
    assert!(!output.status.success());
}

#[test]
fn unreachable_or_foreign_servers_get_a_clear_message() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let output = run_client(port, &["--output", "null"], "list\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(
        stderr.trim_end(),
        format!(
            "jukebox-client: nothing is listening on 127.0.0.1:{port} (connection refused); is the server running?"
        )
    );
    // Something that accepts and hangs up, as an HTTP server does on garbage.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            drop(s);
        }
    });
    let output = run_client(port, &["--output", "null"], "list\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a jukebox server"), "{stderr}");
    assert!(!stderr.contains("os error"), "{stderr}");
}

#[test]
fn a_peer_that_never_answers_the_handshake_is_named() {
    // Something that accepts and then says nothing at all.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let output = run_client(port, &["--output", "null", "--timeout", "1"], "list\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(
        stderr.trim_end(),
        format!("jukebox-client: no answer from 127.0.0.1:{port} within 1 s; is it a jukebox server?")
    );
}

#[test]
fn bad_output_choice_is_explained() {
    let output = run_client(1, &["--output", "speakers"], "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("auto, device, null or wav:PATH"), "{stderr}");
}

#[test]
fn a_server_that_stops_answering_is_given_up_on() {
    use jukebox_protocol::{Message, Playing, Request, SongId, StreamId, audio_frame_head};
    // A server that starts a song, sends its first frames, and then falls silent without
    // closing the connection (hung, or cut off by the network).
    let server = fake_server(|mut peer| {
        let Some(Request::Play { id, .. }) = peer.request() else { panic!("expected PLAY") };
        let file = std::fs::read(music_dir().join("01-morning-scale.mp3")).unwrap();
        let frames: Vec<_> = jukebox_protocol::mp3::frames(&file).take(10).collect();
        let data = &file[frames[0].offset..frames[9].offset + frames[9].header.len];
        let playing = Playing {
            id,
            stream: StreamId(1),
            song: SongId(1),
            duration_ms: 25_000,
            total_bytes: 409_181,
            title: "Morning Scale".into(),
            artist: String::new(),
            start_ms: 0,
            gain: Default::default(),
        };
        peer.send(&Message::Playing(playing));
        peer.socket.write_all(&audio_frame_head(StreamId(1), 0, 0, data.len()).unwrap()).unwrap();
        peer.socket.write_all(data).unwrap();
        // Silence: read (and ignore) whatever comes, PINGs included, never answer.
        peer.drain();
    });
    let started = Instant::now();
    let output = run_client(
        server.port,
        &["--output", "null", "--timeout", "1", "--keepalive", "1"],
        "play 1\nwait\nstatus\n",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Playing 1: Morning Scale"), "{stdout}");
    // A PING after 1 s of quiet, unanswered for 1 s more.
    assert!(
        stdout.contains("Disconnected: the server stopped answering (nothing heard for 2 s)."),
        "{stdout}"
    );
    assert!(!output.status.success());
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(4), "{waited:?}");
}

#[test]
fn song_lengths_are_rounded_to_the_nearest_second() {
    use jukebox_protocol::{ListPage, Message, Playing, Request, SongEntry, SongId, StreamId};
    let entry = |id: u32, duration_ms: u32| SongEntry {
        id: SongId(id),
        duration_ms,
        size: 1,
        title: format!("song {id}"),
        artist: String::new(),
        album: String::new(),
    };
    let server = fake_server(move |mut peer| {
        let Some(Request::List { id }) = peer.request() else { panic!("expected LIST") };
        let songs = vec![entry(1, 25_500), entry(2, 25_499), entry(3, 3_599_500)];
        peer.send(&Message::ListPage(ListPage { id, last: true, songs }));
        let Some(Request::Play { id, song }) = peer.request() else { panic!("expected PLAY") };
        let playing = Playing {
            id,
            stream: StreamId(1),
            song,
            duration_ms: 25_500,
            total_bytes: 1,
            title: "song 1".into(),
            artist: String::new(),
            start_ms: 0,
            gain: Default::default(),
        };
        peer.send(&Message::Playing(playing));
        peer.drain();
    });
    let output = run_client(server.port, &["--output", "null"], "list\nplay 1\nstatus\n");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "  1   0:26  song 1",
            "  2   0:25  song 2",
            "  3  1:00:00  song 3",
            "Playing 1: song 1 (0:26)",
            "Playing 1: song 1, 0:00 / 0:26 (0.0 s buffered)",
        ],
        "{stdout}"
    );
}

#[test]
fn rescan_finds_a_song_added_since_the_server_started() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["01-morning-scale.mp3", "03-tin-robot-shuffle.mp3"] {
        std::fs::copy(music_dir().join(name), dir.path().join(name)).unwrap();
    }
    let server = common::serve(dir.path());
    std::fs::copy(music_dir().join("02-lanterns-in-the-rain.mp3"), dir.path().join("02-lanterns.mp3"))
        .unwrap();
    std::fs::remove_file(dir.path().join("03-tin-robot-shuffle.mp3")).unwrap();
    let output = run_client(server.addr.port(), &["--output", "null"], "rescan\nlist\nplay 2\n");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "Rescanned: 2 songs (1 new, 1 removed).", "{stdout}");
    // The new song has the next id (3), the removed one's id (2) answers no more.
    assert!(lines[1].trim_start().starts_with("1 ") && lines[2].trim_start().starts_with("3 "), "{stdout}");
    assert!(lines[2].contains("Lanterns in the Rain"), "{stdout}");
    assert!(stderr.contains("no song with id 2"), "{stderr}");
}
