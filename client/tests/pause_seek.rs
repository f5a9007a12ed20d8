//! Pause, resume and seek through the real client and server, heard in a WAV recording: a
//! pause is silence in the recording and the song goes on with the very next sample; a seek
//! lands on the frame that sounds at the position asked for.

mod common;

use std::path::Path;

use common::{decode, decode_music, music_dir, run_client};

fn read_wav(path: &Path) -> Vec<i16> {
    let mut reader = hound::WavReader::open(path).expect("a valid WAV file");
    reader.samples::<i16>().map(Result::unwrap).collect()
}

fn seconds(samples: usize) -> f64 {
    samples as f64 / 88_200.0
}

/// Runs `script` with the WAV output; returns what the client printed and the recording.
fn record(script: &str) -> (String, Vec<i16>) {
    let server = common::serve(&music_dir());
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("out.wav");
    let output = run_client(server.addr.port(), &["--output", &format!("wav:{}", wav.display())], script);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "client failed: {stdout}\n{stderr}");
    (stdout, read_wav(&wav))
}

#[test]
fn a_pause_is_silence_in_the_recording_and_the_song_goes_on_with_the_next_sample() {
    let (stdout, recorded) = record("play 1\nsleep 1\npause\nstatus\nsleep 1\nplay\nsleep 1\nstop\n");
    assert!(stdout.contains("Paused at 0:0"), "{stdout}");
    assert!(stdout.contains("Paused 1: Morning Scale"), "status says paused:\n{stdout}");
    assert!(stdout.contains("Resumed at 0:0"), "{stdout}");
    let song = decode_music(&music_dir().join("01-morning-scale.mp3"));
    // Audio: the song from its start.
    let paused = recorded.iter().zip(&song).take_while(|(a, b)| a == b).count();
    // Then silence: as long as the pause, give or take the output's 10 ms tick.
    let silence = recorded[paused..].iter().take_while(|&&s| s == 0).count();
    // The song may itself go on with zeros: the pause is the run of zeros after which the rest
    // of the recording is the song from where it stopped.
    let rest_matches = |pause: usize| {
        let rest = &recorded[paused + pause..];
        rest.len() > 44_100 && rest == &song[paused..paused + rest.len()]
    };
    let pause = (0..=silence).rev().find(|&p| rest_matches(p)).unwrap_or_else(|| {
        panic!(
            "after {:.3} s of song and {:.3} s of silence the recording is not the song going on",
            seconds(paused),
            seconds(silence)
        )
    });
    eprintln!(
        "paused after {:.3} s of the song, for {:.3} s of silence; resumed with the next sample (0 samples lost or repeated)",
        seconds(paused),
        seconds(pause)
    );
    assert!((0.7..=1.3).contains(&seconds(paused)), "played {:.3} s before the pause", seconds(paused));
    assert!((0.9..=1.2).contains(&seconds(pause)), "paused for {:.3} s", seconds(pause));
    assert_eq!(pause % 2, 0, "the channels stay in place");
}

#[test]
fn a_seek_lands_on_the_frame_that_sounds_at_the_position() {
    let (stdout, recorded) =
        record("play 3\nsleep 0.5\nseek 0:12\nsleep 1\nseek +5\nsleep 1\nstatus\nstop\n");
    let song = decode(&music_dir().join("03-tin-robot-shuffle.mp3"));
    // Where each seek says it went: the frame at or before 12 s, then 5 s on from where
    // playback was (about 13 s).
    let starts: Vec<f64> = stdout
        .lines()
        .filter_map(|line| line.split(" from ").nth(1))
        .map(|rest| {
            let clock = rest.split(' ').next().unwrap_or_default();
            let (m, s) = clock.split_once(':').expect("m:ss");
            m.parse::<f64>().unwrap() * 60.0 + s.parse::<f64>().unwrap()
        })
        .collect();
    assert_eq!(starts.len(), 2, "{stdout}");
    assert_eq!(starts[0], 11.0, "{stdout}");
    // About 1 s played after the first seek: the second asks for about 18 s.
    assert!((17.0..=18.0).contains(&starts[1]), "{stdout}");
    // The recording: song 3 from its start, then from the first seek, then from the second.
    let switch = recorded
        .iter()
        .zip(&decode_music(&music_dir().join("03-tin-robot-shuffle.mp3")))
        .take_while(|(a, b)| a == b)
        .count();
    assert!((0.3..=0.7).contains(&seconds(switch)), "{:.3} s before the seek", seconds(switch));
    let landed = landing(&recorded[switch..], &song, 12 * 88_200);
    let target = 12.0 * 88_200.0;
    let early = (target - landed as f64) / 88_200.0;
    eprintln!(
        "seek 0:12 landed {:.1} ms before the target ({} samples)",
        early * 1000.0,
        (target as i64 - landed as i64) / 2
    );
    assert!((0.0..0.0262).contains(&early), "landed {:.1} ms before 12 s: more than a frame", early * 1000.0);
    assert!(
        stdout.contains("Synths, 0:18 /") || stdout.contains("Synths, 0:19 /"),
        "status counts from the seek:\n{stdout}"
    );
}

/// Where in `song` (in interleaved samples) the audio of `stream` begins: the recording of a
/// stream that starts part-way into the song, searched for within 2 s of `near`. Its first
/// frames differ a little from the song decoded whole (the decoder starts without the bit
/// reservoir and filter state of the frames before), so a stretch from 0.1 s in is compared
/// at every frame-aligned lag, and the lag where it differs least wins; it must then be the
/// song, to a small fraction of its level.
fn landing(stream: &[i16], song: &[i16], near: usize) -> usize {
    let skip = 2 * 4410;
    let probe = &stream[skip..skip + 2 * 8820];
    let level: f64 = probe.iter().map(|&s| f64::from(s).abs()).sum::<f64>() / probe.len() as f64;
    let difference = |start: usize| -> f64 {
        let window = &song[start..start + probe.len()];
        window.iter().zip(probe).map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs()).sum::<f64>()
            / probe.len() as f64
    };
    let frame = 2 * 1152;
    let landings = (near.saturating_sub(2 * 88_200) / frame * frame..near + 2 * 88_200).step_by(frame);
    let (best, diff) = landings
        .filter(|&at| at + skip + probe.len() <= song.len())
        .map(|at| (at, difference(at + skip)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a landing");
    eprintln!("best match differs by {diff:.4} per sample on average (level {level:.0})");
    assert!(
        diff < level / 100.0,
        "the recording is not the song: it differs by {diff:.1} at best (level {level:.0})"
    );
    best
}

#[test]
fn the_station_cannot_be_paused_or_seeked_and_a_seek_past_the_end_is_refused() {
    let (server, _station) = common::serve_radio(&music_dir());
    let output =
        run_client(server.addr.port(), &["--output", "null"], "radio\npause\nseek 10\nplay 1\nseek 9:00\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr.lines().collect();
    assert_eq!(errors.len(), 3, "{stderr}");
    assert!(errors[0].starts_with("The station is live and cannot pause"), "{stderr}");
    assert_eq!(errors[1], "seek: the station is live and cannot be seeked; play N leaves it");
    assert!(errors[2].starts_with("server: song 1 is 25"), "{stderr}");
    assert!(errors[2].contains("nothing to play at 540000 ms"), "{stderr}");
}
