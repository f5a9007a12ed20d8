//! The command line of issue 9 through the real client, in a real terminal (tmux): help,
//! "did you mean", tab completion, history across a restart, and the live status line.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::terminal::Terminal;
use common::{music_dir, serve, tone_song};

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
