//! The play queue through the real client and server: it moves on by itself, `next` and `prev`
//! count from the song heard, a song the server cannot play is skipped, `repeat one` plays a
//! song again, and `wait` waits for the whole queue.

mod common;

use common::{run_client, tone_song};

/// A music folder of `n` one-second tones, `1-tone` to `n-tone`, served.
fn tones(n: usize) -> (tempfile::TempDir, jukebox_server::RunningServer) {
    let dir = tempfile::tempdir().unwrap();
    for i in 1..=n {
        tone_song(dir.path(), &format!("{i}-tone"), 1.0);
    }
    let server = common::serve(dir.path());
    (dir, server)
}

fn run(port: u16, script: &str) -> String {
    let output = run_client(port, &["--output", "null"], script);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// The lines that say what played, in order.
fn played(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("Playing ") || l.starts_with("Finished ")).collect()
}

#[test]
fn the_queue_plays_its_songs_in_turn_and_wait_waits_for_all_of_them() {
    let (_dir, server) = tones(3);
    let stdout = run(server.addr.port(), "add 1-3\nwait\nqueue\nstatus\n");
    assert_eq!(
        played(&stdout),
        [
            "Playing 1: 1-tone (0:01)",
            "Finished 1: 1-tone",
            "Playing 2: 2-tone (0:01)",
            "Finished 2: 2-tone",
            "Playing 3: 3-tone (0:01)",
            "Finished 3: 3-tone",
        ],
        "{stdout}"
    );
    assert!(stdout.contains("Queue: 3 songs, shuffle off, repeat off"), "{stdout}");
    assert!(stdout.trim_end().ends_with("Nothing is playing."), "{stdout}");
}

#[test]
fn next_and_prev_move_from_the_song_heard_and_stop_at_the_ends() {
    let (_dir, server) = tones(3);
    let port = server.addr.port();
    let output = run_client(
        port,
        &["--output", "null"],
        "add 1 2 3\nnext\nnext\nnext\nprev\nprev\nprev\nclear\nqueue\nstop\n",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let playing: Vec<&str> = stdout.lines().filter(|l| l.starts_with("Playing ")).collect();
    assert_eq!(
        playing,
        [
            "Playing 1: 1-tone (0:01)",
            "Playing 2: 2-tone (0:01)",
            "Playing 3: 3-tone (0:01)",
            "Playing 2: 2-tone (0:01)",
            "Playing 1: 1-tone (0:01)"
        ],
        "{stdout}\n{stderr}"
    );
    assert!(stderr.contains("next: this is the end of the queue"), "{stderr}");
    assert!(stderr.contains("prev: this is the start of the queue"), "{stderr}");
    assert!(stdout.contains("Cleared the queue (3 songs removed)"), "{stdout}");
    assert!(stdout.contains("The queue is empty"), "{stdout}");
}

#[test]
fn a_song_the_server_cannot_play_is_skipped_with_a_warning() {
    let (dir, server) = tones(3);
    // The server listed song 2 when it scanned; its file is gone now.
    std::fs::remove_file(dir.path().join("2-tone.mp3")).unwrap();
    let stdout = run(server.addr.port(), "add 1 2 3\nwait\n");
    assert!(stdout.contains("warning: the queue skips song 2: server: "), "{stdout}");
    assert_eq!(
        played(&stdout),
        ["Playing 1: 1-tone (0:01)", "Finished 1: 1-tone", "Playing 3: 3-tone (0:01)", "Finished 3: 3-tone"],
        "{stdout}"
    );
}

#[test]
fn repeat_one_plays_the_song_again_until_stopped() {
    let (_dir, server) = tones(2);
    let stdout = run(server.addr.port(), "repeat one\nadd 2\nsleep 2.5\nstop\nwait\nrepeat\n");
    let again = stdout.lines().filter(|l| l.starts_with("Playing 2: 2-tone")).count();
    assert!(again >= 3, "song 2 played {again} times in 2.5 s:\n{stdout}");
    assert!(!stdout.contains("Playing 1"), "{stdout}");
    assert!(stdout.contains("Repeat is one."), "{stdout}");
}

#[test]
fn a_song_added_after_the_last_one_arrived_still_follows_it() {
    let (_dir, server) = tones(2);
    // Song 1 (a second long) arrives whole at once, with nothing after it in the queue.
    let stdout = run(server.addr.port(), "add 1\nadd 2\nwait\n");
    assert_eq!(
        played(&stdout),
        ["Playing 1: 1-tone (0:01)", "Finished 1: 1-tone", "Playing 2: 2-tone (0:01)", "Finished 2: 2-tone"],
        "{stdout}"
    );
}
