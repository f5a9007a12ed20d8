//! `idle` through the real client, as `mpc idle`: the one-shot returns when something it
//! waits for changes on the server, prints what in JSON a script can parse (or in words), and
//! exits 0. The first JSON line says what the server will tell of, so this test starts the
//! change only once the client waits for it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{fake_server, music_dir, run_client, serve, serve_radio};
use jukebox_protocol::{Event, Message, Request, Subscribed, Subsystems};
use serde_json::{Value, json};

/// Starts `jukebox-client --port PORT ARGS...` with its standard output to read line by line.
fn start(port: u16, args: &[&str]) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jukebox-client"))
        .args(["--port", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start jukebox-client");
    let stdout = BufReader::new(child.stdout.take().expect("its standard output"));
    (child, stdout)
}

fn line(stdout: &mut BufReader<std::process::ChildStdout>) -> String {
    let mut line = String::new();
    stdout.read_line(&mut line).expect("a line from the client");
    line
}

#[test]
fn one_shot_idle_returns_when_a_rescan_changes_the_library_with_json_that_parses() {
    let dir = tempfile::tempdir().unwrap();
    let music = music_dir();
    std::fs::copy(music.join("01-morning-scale.mp3"), dir.path().join("01.mp3")).unwrap();
    let server = serve(dir.path());
    let (idle, mut stdout) = start(server.addr.port(), &["idle", "library", "--json"]);
    // The server answered: the client waits, and says for what.
    let waiting: Value = serde_json::from_str(&line(&mut stdout)).expect("JSON");
    assert_eq!(waiting, json!({"idle": {"for": ["library"]}}));
    std::fs::copy(music.join("02-lanterns-in-the-rain.mp3"), dir.path().join("02.mp3")).unwrap();
    let rescanned = run_client(server.addr.port(), &[], "rescan\n");
    assert!(rescanned.status.success(), "{rescanned:?}");
    let changed: Value = serde_json::from_str(&line(&mut stdout)).expect("JSON");
    let scan = changed["changed"]["scan"].as_u64().expect("the scan's number");
    assert_eq!(changed, json!({"changed": {"subsystem": "library", "scan": scan}}));
    assert!(String::from_utf8_lossy(&rescanned.stdout).contains("1 new"), "{rescanned:?}");
    let output = idle.wait_with_output().expect("the client exits");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(line(&mut stdout), "", "one line per change, then nothing");
}

#[test]
fn one_shot_idle_queue_returns_when_a_song_is_requested() {
    let (server, station) = serve_radio(&music_dir());
    let port = server.addr.port();
    let (idle, mut stdout) = start(port, &["idle", "queue", "--json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&line(&mut stdout)).unwrap(),
        json!({"idle": {"for": ["queue"]}})
    );
    // A song on the air cannot be requested: wait for the station's first, if it has none yet.
    let watch = station.watch();
    let on_air = match station.queue(None).now {
        Some(now) => now.track.song.0,
        None => loop {
            match watch.events.recv_timeout(Duration::from_secs(10)) {
                Ok(jukebox_server::radio::Event::TrackChanged(airing)) => break airing.track.song.0,
                Ok(_) => {}
                Err(e) => panic!("the station did not go on the air: {e}"),
            }
        },
    };
    let song = if on_air == 3 { "2" } else { "3" };
    let requested = run_client(port, &[], &format!("request {song}\n"));
    assert!(requested.status.success(), "{requested:?}");
    let changed: Value = serde_json::from_str(&line(&mut stdout)).expect("JSON");
    assert_eq!(changed, json!({"changed": {"subsystem": "queue", "waiting": 1}}));
    assert!(idle.wait_with_output().expect("the client exits").status.success());
}

#[test]
fn idle_in_words_begins_each_line_with_what_changed_and_says_what_the_server_cannot_tell() {
    // A server that has no station grants only part of what was asked, and its EVENT follows
    // the SUBSCRIBED in the same write: the client must take it as news.
    let server = fake_server(|mut peer| {
        let Some(Request::Subscribe { id, mask }) = peer.request() else { panic!("expected SUBSCRIBE") };
        assert_eq!(mask, Subsystems::STATION_SONG | Subsystems::STATION_QUEUE);
        let mut bytes =
            Message::Subscribed(Subscribed { id, mask: Subsystems::STATION_QUEUE }).to_bytes().unwrap();
        Message::Event(Event::StationQueue { waiting: 2 }).encode(&mut bytes).unwrap();
        std::io::Write::write_all(&mut peer.socket, &bytes).unwrap();
        peer.drain();
    });
    let output = Command::new(env!("CARGO_BIN_EXE_jukebox-client"))
        .args(["--port", &server.port.to_string(), "idle", "song", "queue"])
        .stdin(Stdio::null())
        .output()
        .expect("run jukebox-client");
    server.join();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "queue: 2 requested songs wait\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the server runs no station, so song never changes"), "{stderr}");

    // A server that grants nothing asked for: nothing would end the wait, so it is an error.
    let plain = serve(&music_dir());
    let nothing = Command::new(env!("CARGO_BIN_EXE_jukebox-client"))
        .args(["--port", &plain.addr.port().to_string(), "idle", "song", "queue", "--json"])
        .stdin(Stdio::null())
        .output()
        .expect("run jukebox-client");
    assert_eq!(nothing.status.code(), Some(1), "{nothing:?}");
    let error: Value = serde_json::from_slice(&nothing.stdout).expect("JSON");
    assert_eq!(error["error"]["code"], "not_now");
}
