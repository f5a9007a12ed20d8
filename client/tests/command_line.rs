//! The command line of issue 9 through the real client: one-shot commands and their JSON and
//! exit statuses, and, in a real terminal (tmux), help, "did you mean", tab completion,
//! history across a restart, and the live status line.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::terminal::Terminal;
use common::{music_dir, run_client, serve, serve_radio, tone_song};
use serde_json::Value;

/// Runs `jukebox-client ARGS...` with nothing on standard input.
fn one_shot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jukebox-client"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run jukebox-client")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The one JSON document a one-shot command printed.
fn json(output: &Output) -> Value {
    serde_json::from_str(stdout(output).trim()).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}\n{}", stdout(output), String::from_utf8_lossy(&output.stderr))
    })
}

/// `m:ss` of a duration rounded to the nearest second, as `list` shows it.
fn length(ms: u64) -> String {
    let secs = (ms + 500) / 1000;
    format!("{}:{:02}", secs / 60, secs % 60)
}

#[test]
fn list_json_parses_and_agrees_with_the_interactive_list() {
    let server = serve(&music_dir());
    let port = server.addr.port().to_string();
    let output = one_shot(&["127.0.0.1", &port, "list", "--json"]);
    assert!(output.status.success(), "{output:?}");
    let songs = json(&output);
    let songs = songs.as_array().expect("an array of songs");
    assert_eq!(songs.len(), 4);
    // The same words as `list` typed at the client, field by field.
    let listed = run_client(server.addr.port(), &[], "list\n");
    let lines: Vec<String> = stdout(&listed).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), songs.len(), "{lines:?}");
    for (song, line) in songs.iter().zip(&lines) {
        let keys: Vec<&str> = song.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["album", "artist", "duration_ms", "id", "title"], "{song}");
        let expected = format!(
            "{:>3}  {:>5}  {} — {} ({})",
            song["id"].as_u64().unwrap(),
            length(song["duration_ms"].as_u64().unwrap()),
            song["title"].as_str().unwrap(),
            song["artist"].as_str().unwrap(),
            song["album"].as_str().unwrap()
        );
        assert_eq!(&expected, line);
    }
    assert_eq!(songs[2]["title"], "Tin Robot Shuffle");
    // --host and --port, after the command too, say the same as HOST PORT.
    let again = one_shot(&["list", "--json", "--port", &port, "--host", "127.0.0.1"]);
    assert_eq!(json(&again), json(&output));
    // Without --json: the interactive lines.
    let text = one_shot(&["127.0.0.1", &port, "list"]);
    assert_eq!(stdout(&text).lines().collect::<Vec<_>>(), lines);
}

#[test]
fn exit_statuses_and_errors_say_what_went_wrong() {
    let (server, station) = serve_radio(&music_dir());
    let port = server.addr.port().to_string();
    // 1: the server refused; the error is JSON on standard output, with a stable code.
    let refused = one_shot(&["127.0.0.1", &port, "play", "99", "--json"]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert_eq!(json(&refused)["error"]["code"], "no_such_song");
    assert!(json(&refused)["error"]["message"].as_str().unwrap().contains("99"));
    let refused = one_shot(&["127.0.0.1", &port, "play", "99"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("server: no song with id 99"), "{refused:?}");
    // A request of several songs answers each, and fails if one was refused. (Song 3, unless
    // the shuffle put it on the air: a song on the air cannot be requested.)
    let on_air = station.queue(None).now.map(|now| now.track.song.0);
    let (wanted, title) =
        if on_air == Some(3) { (2, "Lanterns in the Rain") } else { (3, "Tin Robot Shuffle") };
    let requested = one_shot(&["--port", &port, "request", &wanted.to_string(), "99", "--json"]);
    assert_eq!(requested.status.code(), Some(1), "{requested:?}");
    let answers = json(&requested);
    assert_eq!(answers[0]["id"], wanted);
    assert_eq!(answers[0]["title"], title, "{answers}");
    assert!(answers[0]["place"].as_u64().is_some(), "{answers}");
    assert_eq!(answers[1]["error"]["code"], "no_such_song");
    let queue = one_shot(&["--port", &port, "queue", "--json"]);
    assert_eq!(queue.status.code(), Some(0));
    assert!(
        json(&queue)["requests"].as_array().unwrap().iter().any(|r| r["id"] == wanted && r["mine"] == true)
    );
    // 2: a usage mistake.
    for args in [&["play", "x"][..], &["play"], &["--json"], &["127.0.0.1", "1", "--port", "2", "list"]] {
        assert_eq!(one_shot(args).status.code(), Some(2), "{args:?}");
    }
    // 3: nothing to connect to.
    let nowhere =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let unreachable = one_shot(&["127.0.0.1", &nowhere, "status", "--json"]);
    assert_eq!(unreachable.status.code(), Some(3), "{unreachable:?}");
    assert_eq!(json(&unreachable)["error"]["code"], "cannot_connect");
    // 0: the server answers.
    let status = one_shot(&["--port", &port, "status", "--json"]);
    assert_eq!(status.status.code(), Some(0), "{status:?}");
    assert_eq!(json(&status)["server"], format!("127.0.0.1:{port}"));
}

#[test]
fn one_shot_play_plays_the_song_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    tone_song(dir.path(), "beep", 1.0);
    let server = serve(dir.path());
    let wav = dir.path().join("beep.wav");
    let started = Instant::now();
    let output = one_shot(&[
        "127.0.0.1",
        &server.addr.port().to_string(),
        "--output",
        &format!("wav:{}", wav.display()),
        "play",
        "1",
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    assert!(started.elapsed() >= Duration::from_millis(950), "it returned before the song ended");
    let lines: Vec<Value> =
        stdout(&output).lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["playing"]["id"], 1);
    assert_eq!(lines[0]["playing"]["title"], "beep");
    assert_eq!(lines[1], serde_json::json!({"finished": {"id": 1}}));
    let samples = hound::WavReader::open(&wav).expect("a WAV").duration();
    assert!((40_000..=50_000).contains(&samples), "{samples} frames for a 1 s song");
}

fn client_in(state: &Path, port: u16, extra: &str) -> String {
    format!(
        "env XDG_STATE_HOME={} {} 127.0.0.1 {port} --output null {extra}",
        state.display(),
        env!("CARGO_BIN_EXE_jukebox-client")
    )
}

#[test]
fn help_did_you_mean_and_completion_at_the_prompt() {
    let server = serve(&music_dir());
    let state = tempfile::tempdir().unwrap();
    let terminal = Terminal::start(&client_in(state.path(), server.addr.port(), "--no-status"));
    terminal.wait_for("jukebox>");
    terminal.type_text("lsit");
    terminal.enter("lsit");
    terminal.wait_for("unknown command \"lsit\"; did you mean list?");
    terminal.type_text("paly 3");
    terminal.enter("paly 3");
    terminal.wait_for("unknown command \"paly\"; did you mean play?");
    terminal.type_text("help play");
    terminal.enter("help play");
    terminal.wait_for("Plays song N (list shows the ids)");
    terminal.type_text("list");
    terminal.enter("list");
    terminal.wait_for("Evening Lullaby");
    // A command name, then a song found by part of its title.
    terminal.type_text("pl");
    terminal.press("Tab");
    terminal.wait_for("jukebox> play ");
    terminal.type_text("tin");
    terminal.press("Tab");
    terminal.wait_for("jukebox> play 3");
    terminal.enter("play 3");
    terminal.wait_for("Playing 3: Tin Robot Shuffle");
    // Several songs match: a second Tab lists them with their ids.
    terminal.type_text("request in");
    terminal.press("Tab");
    terminal.press("Tab");
    let screen = terminal.wait_for("2  Lanterns in the Rain — The Jukebox Synths");
    assert!(screen.contains("1  Morning Scale — The Jukebox Synths"), "{screen}");
    // --no-status: no status line, though a song plays.
    assert!(!screen.contains('▶'), "{screen}");
}

#[test]
fn history_survives_a_restart() {
    let server = serve(&music_dir());
    let state = tempfile::tempdir().unwrap();
    let command = client_in(state.path(), server.addr.port(), "");
    let first = Terminal::start(&command);
    first.wait_for("jukebox>");
    for line in ["list", "help stop"] {
        first.type_text(line);
        first.enter(line);
    }
    first.wait_for("Stops what is playing");
    // (Not `enter`, which looks for the line after it: the terminal closes with the client.)
    first.type_text("quit");
    first.wait_for("jukebox> quit");
    first.press("Enter");
    let deadline = Instant::now() + Duration::from_secs(10);
    while first.is_running() {
        assert!(Instant::now() < deadline, "the client did not quit");
        std::thread::sleep(Duration::from_millis(20));
    }
    let history = state.path().join("jukebox/history");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(history.parent().unwrap()), 0o700);
    assert_eq!(mode(&history), 0o600);

    let second = Terminal::start(&command);
    second.wait_for("jukebox>");
    second.press("Up");
    second.wait_for("jukebox> quit");
    second.press("Up");
    second.wait_for("jukebox> help stop");
    second.press("Up");
    second.wait_for("jukebox> list");
}

#[test]
fn the_status_line_counts_the_seconds_and_leaves_typing_intact() {
    let dir = tempfile::tempdir().unwrap();
    tone_song(dir.path(), "beep", 3.0);
    let server = serve(dir.path());
    let state = tempfile::tempdir().unwrap();
    let terminal = Terminal::start(&client_in(state.path(), server.addr.port(), ""));
    terminal.wait_for("jukebox>");
    terminal.type_text("play 1");
    terminal.enter("play 1");
    terminal.wait_for("Playing 1: beep");
    // Half a command typed while the line is redrawn, second after second.
    terminal.type_text("sta");
    for second in ["▶ beep  0:01 / 0:03  [", "▶ beep  0:02 / 0:03  ["] {
        let screen = terminal.wait_for(second);
        let lines: Vec<&str> = screen.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
        // One status line, right above the prompt, and what was typed as it was typed.
        assert_eq!(lines.iter().filter(|l| l.starts_with('▶')).count(), 1, "{screen}");
        assert!(lines[lines.len() - 2].starts_with(second), "{screen}");
        assert_eq!(lines.last(), Some(&"jukebox> sta"), "{screen}");
    }
    // The song ends: its line replaces the status line.
    let screen = terminal.wait_for("Finished 1: beep");
    let lines: Vec<&str> = screen.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[lines.len() - 2..], ["Finished 1: beep", "jukebox> sta"], "{screen}");
    assert!(!lines.iter().any(|l| l.starts_with('▶')), "{screen}");
    terminal.type_text("tus");
    terminal.press("Enter");
    terminal.wait_for("Nothing is playing.");
}

#[test]
fn search_and_info_one_shots_answer_in_json_as_the_server_knows_the_songs() {
    let server = serve(&music_dir());
    let port = server.addr.port().to_string();
    let all = json(&one_shot(&["--port", &port, "list", "--json"]));
    // Accents and case do not matter; the matches are listed as `list` lists them.
    let found = one_shot(&["--port", &port, "search", "LÄNT", "--json"]);
    assert!(found.status.success(), "{found:?}");
    let found = json(&found);
    let expected: Vec<&Value> =
        all.as_array().unwrap().iter().filter(|s| s["title"] == "Lanterns in the Rain").collect();
    assert_eq!(found.as_array().unwrap().iter().collect::<Vec<_>>(), expected);
    let none = one_shot(&["--port", &port, "search", "zzzz", "--json"]);
    assert!(none.status.success());
    assert_eq!(json(&none), Value::Array(Vec::new()));
    // INFO: the sample songs were made by lame, whose tag says the encoder's delay.
    let info = one_shot(&["--port", &port, "info", "2", "--json"]);
    assert!(info.status.success(), "{info:?}");
    let info = json(&info);
    assert_eq!(info["id"], 2);
    assert_eq!(info["title"], "Lanterns in the Rain");
    assert_eq!(info["duration_ms"], all[1]["duration_ms"]);
    assert_eq!(info["encoder_delay"], 576);
    assert!(info["replaygain"].is_object());
    let missing = one_shot(&["--port", &port, "info", "99", "--json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(json(&missing)["error"]["code"], "no_such_song");
}
