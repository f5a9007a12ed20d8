//! `info` and `search` through the real client binary, against a real server: every field in
//! words, the README's example as the client prints it, and a search that ignores case and
//! accents, printed as `list` prints.

mod common;

use id3::TagLike;
use id3::frame::ExtendedText;

use common::{music_dir, run_client, serve, tone_song};

fn stdout_of(output: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "client failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[test]
fn info_prints_what_the_readme_shows_for_a_sample_song() {
    let server = serve(&music_dir());
    let stdout = stdout_of(&run_client(server.addr.port(), &["--output", "null"], "info 2\n"));
    let readme = std::fs::read_to_string(music_dir().join("../README.md")).expect("README.md");
    let example = readme
        .split("`info 2` on the sample songs prints:")
        .nth(1)
        .and_then(|rest| rest.split("```").nth(1))
        .expect("the README's info example");
    assert_eq!(stdout.trim(), example.trim(), "the README shows what the client prints");
}

#[test]
fn info_tells_every_field_and_search_finds_songs_whatever_their_accents() {
    let dir = tempfile::tempdir().unwrap();
    let halo = tone_song(dir.path(), "a", 1.0);
    let mut tag = id3::Tag::new();
    tag.set_title("Halo");
    tag.set_artist("Beyoncé");
    tag.set_album("I Am... Sasha Fierce");
    tag.set_track(3);
    tag.set_total_tracks(12);
    tag.set_year(2008);
    tag.set_genre("Pop");
    for (description, value) in [
        ("REPLAYGAIN_TRACK_GAIN", "-6.20 dB"),
        ("REPLAYGAIN_TRACK_PEAK", "0.988235"),
        ("REPLAYGAIN_ALBUM_GAIN", "-5.10 dB"),
        ("REPLAYGAIN_ALBUM_PEAK", "1.000000"),
    ] {
        tag.add_frame(ExtendedText { description: description.into(), value: value.into() });
    }
    tag.write_to_path(&halo, id3::Version::Id3v24).unwrap();
    let spades = tone_song(dir.path(), "b", 1.0);
    let mut tag = id3::Tag::new();
    tag.set_title("Ace of Spades");
    tag.set_artist("Motörhead");
    tag.write_to_path(&spades, id3::Version::Id3v24).unwrap();

    let server = serve(dir.path());
    let script = "info 1\nsearch beyonce\nsearch MOTORHEAD spades\nsearch ABBA\n";
    let stdout = stdout_of(&run_client(server.addr.port(), &["--output", "null"], script));
    for line in [
        "Song 1: Halo",
        "Artist: Beyoncé",
        "Album: I Am... Sasha Fierce (track 3 of 12, 2008)",
        "Genre: Pop",
        "Audio: 44100 Hz, mono, 64 kbit/s",
        "Encoder delay: 576 samples, padding: ",
        "ReplayGain: track -6.20 dB (peak 0.988), album -5.10 dB (peak 1.000)",
        "  1   0:01  Halo — Beyoncé (I Am... Sasha Fierce)",
        "  2   0:01  Ace of Spades — Motörhead",
        "No song matches \"ABBA\".",
    ] {
        assert!(stdout.lines().any(|l| l.starts_with(line)), "no line {line:?} in:\n{stdout}");
    }
    assert_eq!(stdout.matches("Halo — Beyoncé").count(), 1, "search beyonce lists Halo only:\n{stdout}");
    assert_eq!(stdout.matches("Ace of Spades — Motörhead").count(), 1, "{stdout}");

    // A song that is not there is the server's refusal, and the script fails.
    let output = run_client(server.addr.port(), &["--output", "null"], "info 9\n");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no song with id 9"));
}
