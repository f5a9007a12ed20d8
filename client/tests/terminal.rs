//! The real REPL in a real terminal (tmux), typed at as a person would.

mod common;

use std::time::{Duration, Instant};

use common::terminal::{Terminal, state_home};
use common::{fake_server, music_dir, serve, serve_on, serve_radio, tone_song};

fn client_command(port: u16) -> String {
    format!(
        "env XDG_STATE_HOME={} {} 127.0.0.1 {port} --output null",
        state_home().display(),
        env!("CARGO_BIN_EXE_jukebox-client")
    )
}

#[test]
fn a_person_lists_plays_switches_and_leaves() {
    let server = serve(&music_dir());
    let terminal = Terminal::start(&client_command(server.addr.port()));
    terminal.wait_for("jukebox>");
    terminal.type_text("list");
    terminal.press("Enter");
    let screen = terminal.wait_for("Evening Lullaby");
    assert!(screen.contains("  2   0:33  Lanterns in the Rain — The Jukebox Synths"), "{screen}");
    terminal.type_text("play 2");
    terminal.press("Enter");
    terminal.wait_for("Playing 2: Lanterns in the Rain");
    terminal.type_text("play 4");
    terminal.press("Enter");
    terminal.wait_for("Playing 4: Evening Lullaby");
    std::thread::sleep(Duration::from_millis(1200));
    terminal.type_text("status");
    terminal.press("Enter");
    // (The status line above the prompt shows "/ 0:34" too.)
    let screen = terminal.wait_for("Playing 4: Evening Lullaby — The Jukebox Synths, 0:");
    assert!(screen.contains("Playing 4: Evening Lullaby — The Jukebox Synths, 0:0"), "{screen}");
    // History: the up arrow brings back the last command.
    terminal.press("Up");
    terminal.wait_for("jukebox> status");
    terminal.press("C-u");
    terminal.press("C-d");
    let deadline = Instant::now() + Duration::from_secs(5);
    while terminal.is_running() {
        assert!(Instant::now() < deadline, "the client did not leave on Ctrl-D:\n{}", terminal.screen());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_event_while_typing_does_not_garble_the_prompt() {
    let dir = tempfile::tempdir().unwrap();
    tone_song(dir.path(), "beep", 1.0);
    let server = serve(dir.path());
    let terminal = Terminal::start(&client_command(server.addr.port()));
    terminal.wait_for("jukebox>");
    terminal.type_text("play 1");
    terminal.press("Enter");
    terminal.wait_for("Playing 1: beep");
    // Half a command typed when the song ends.
    terminal.type_text("sta");
    let screen = terminal.wait_for("Finished 1: beep");
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.iter().any(|l| l.trim_end() == "Finished 1: beep"), "{screen}");
    assert_eq!(lines.last().map(|l| l.trim_end()), Some("jukebox> sta"), "{screen}");
    terminal.type_text("tus");
    terminal.press("Enter");
    terminal.wait_for("Nothing is playing.");
}

#[test]
fn on_the_radio_each_new_song_is_shown_above_the_prompt() {
    // Songs of 2 s, so that one follows another while the person types.
    let dir = tempfile::tempdir().unwrap();
    for name in ["first", "second"] {
        tone_song(dir.path(), name, 2.0);
    }
    let (server, station) = serve_radio(dir.path());
    let terminal = Terminal::start(&client_command(server.addr.port()));
    terminal.wait_for("jukebox>");
    while station.now_ms() < 2_500 {
        std::thread::sleep(Duration::from_millis(50));
    }
    terminal.type_text("radio");
    terminal.press("Enter");
    terminal.wait_for("Tuned in to the station (128 kbit/s)");
    terminal.wait_for("Now playing: ");
    // Half a command typed when the next song is reached.
    terminal.type_text("que");
    let deadline = Instant::now() + Duration::from_secs(10);
    let screen = loop {
        let screen = terminal.screen();
        if screen.matches("Now playing: ").count() >= 2 {
            break screen;
        }
        assert!(Instant::now() < deadline, "no second song was shown:\n{screen}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("Now playing") || ["first", "second"].iter().any(|s| l.ends_with(s))),
        "{screen}"
    );
    assert_eq!(lines.last().map(|l| l.trim_end()), Some("jukebox> que"), "{screen}");
    terminal.type_text("ue");
    terminal.press("Enter");
    terminal.wait_for("The queue is empty: the station plays a random song next.");
    terminal.type_text("stop");
    terminal.press("Enter");
    terminal.wait_for("Stopped.");
}

#[test]
fn a_lost_server_is_reconnected_to_and_playback_carries_on() {
    let server = serve(&music_dir());
    let port = server.addr.port();
    let terminal = Terminal::start(&client_command(port));
    terminal.wait_for("jukebox>");
    terminal.type_text("play 1");
    terminal.press("Enter");
    terminal.wait_for("Playing 1: Morning Scale");
    server.shutdown();
    terminal.wait_for("Disconnected: the server is shutting down; reconnecting in the background");
    // While it is gone, commands say so plainly, and how to retry now.
    terminal.type_text("list");
    terminal.press("Enter");
    let screen = terminal.wait_for(&format!("not connected to 127.0.0.1:{port}: "));
    assert!(
        screen.contains("; type connect to retry now.") || screen.contains("Trying to reconnect now."),
        "{screen}"
    );
    // The server comes back where it was: the client finds it by itself.
    let _server = serve_on(&music_dir(), port);
    terminal.wait_for(&format!("Reconnected to 127.0.0.1:{port}."));
    // The decoder and output survived: a song plays, and its audio arrives.
    terminal.type_text("play 2");
    terminal.press("Enter");
    terminal.wait_for("Playing 2: Lanterns in the Rain");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        terminal.type_text("status");
        terminal.press("Enter");
        let screen = terminal.wait_for("buffered)");
        if screen
            .lines()
            .any(|l| l.contains("Playing 2:") && !l.contains("(0.0 s buffered)") && l.contains("buffered"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no audio after reconnecting:\n{screen}");
        terminal.press("C-l");
    }
}

#[test]
fn connect_switches_to_another_server_at_once() {
    let first = serve(&music_dir());
    let dir = tempfile::tempdir().unwrap();
    tone_song(dir.path(), "other", 1.0);
    let second = serve(dir.path());
    let terminal = Terminal::start(&client_command(first.addr.port()));
    terminal.wait_for("jukebox>");
    terminal.type_text(&format!("connect 127.0.0.1 {}", second.addr.port()));
    terminal.press("Enter");
    terminal.wait_for(&format!("Connected to 127.0.0.1:{}.", second.addr.port()));
    terminal.type_text("list");
    terminal.press("Enter");
    let screen = terminal.wait_for("  1   0:01  other");
    assert!(!screen.contains("Morning Scale"), "{screen}");
    // A server that is not there: the client says so and stays where it was.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    terminal.type_text(&format!("connect 127.0.0.1 {nowhere}"));
    terminal.press("Enter");
    terminal.wait_for(&format!("nothing is listening on 127.0.0.1:{nowhere}"));
    terminal.type_text("play 1");
    terminal.press("Enter");
    terminal.wait_for("Playing 1: other");
}

#[test]
fn ctrl_c_cancels_a_wait_or_a_sleep_and_the_client_stays() {
    let server = serve(&music_dir());
    let terminal = Terminal::start(&client_command(server.addr.port()));
    terminal.wait_for("jukebox>");
    terminal.type_text("play 2");
    terminal.press("Enter");
    terminal.wait_for("Playing 2: Lanterns in the Rain");
    terminal.type_text("wait");
    terminal.enter("wait");
    terminal.press("C-c");
    terminal.wait_for("wait: cancelled; the song plays on.");
    // The song was not stopped, and the client is still there.
    terminal.type_text("status");
    terminal.press("Enter");
    terminal.wait_for("Playing 2: Lanterns in the Rain — The Jukebox Synths, 0:");
    terminal.type_text("sleep 60");
    terminal.enter("sleep 60");
    terminal.press("C-c");
    terminal.wait_for("sleep: cancelled.");
    terminal.type_text("stop");
    terminal.press("Enter");
    terminal.wait_for("Stopped.");
    assert!(terminal.is_running());
}

#[test]
fn ctrl_c_ends_a_script_with_goodbye_and_status_130() {
    use jukebox_protocol::{GoodbyeReason, Message, Playing, Request, StreamId};
    let (goodbye_tx, goodbye) = std::sync::mpsc::channel();
    // A song that never ends: PLAYING, and no audio after it.
    let server = fake_server(move |mut peer| {
        let Some(Request::Play { id, song }) = peer.request() else { panic!("expected PLAY") };
        let playing = Playing {
            id,
            stream: StreamId(1),
            song,
            duration_ms: 60_000,
            total_bytes: 1,
            title: "endless".into(),
            artist: String::new(),
            start_ms: 0,
            gain: Default::default(),
        };
        peer.send(&Message::Playing(playing));
        let _ = goodbye_tx.send(peer.drain());
    });
    let script = format!(
        "printf 'play 1\\nwait\\n' | {}; echo \"exit status $?\"; read _",
        client_command(server.port)
    );
    let terminal = Terminal::start(&format!("bash -c '{}'", script.replace('\'', "'\\''")));
    terminal.wait_for("Playing 1: endless");
    terminal.press("C-c");
    terminal.wait_for("exit status 130");
    let goodbye =
        goodbye.recv_timeout(Duration::from_secs(10)).expect("the fake server saw the client leave");
    assert_eq!(goodbye.map(|g| g.reason), Some(GoodbyeReason::Normal), "the client said GOODBYE");
}

#[test]
fn a_full_server_does_not_stop_the_reconnecting() {
    let server = serve(&music_dir());
    let port = server.addr.port();
    let terminal = Terminal::start(&client_command(port));
    terminal.wait_for("jukebox>");
    server.shutdown();
    terminal.wait_for("reconnecting in the background");
    // The server comes back full: each attempt gets WELCOME and GOODBYE(SERVER_BUSY) at once,
    // and ends before the client has installed the connection.
    let catalog = jukebox_server::Catalog::scanned(&music_dir()).expect("scan");
    let full = jukebox_server::Server::bind(([127, 0, 0, 1], port).into(), catalog)
        .expect("bind the same port again")
        .with_max_clients(0)
        .spawn();
    terminal.wait_for("the server is full");
    // Then there is room again: the client keeps trying and gets in.
    full.shutdown();
    let _server = serve_on(&music_dir(), port);
    terminal.wait_for(&format!("Reconnected to 127.0.0.1:{port}."));
}
