//! The play queue through the real client and server, heard in a WAV recording: two songs cut
//! from one continuous recording (a sine sweep, whose every sample differs from its
//! neighbours, so a join off by one sample shows) play as a queue and join sample-exact, with
//! the encoders' delay and padding cut.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::run_client;

/// Samples per channel of the sweep, and where it is cut: 6 s and a bit, not on an MP3 frame
/// boundary (1152 samples), so that both songs end with padding. Each half is longer than the
/// server's burst and the client's prefetch (4 s), so the second song is asked for while the
/// first plays, as in a queue of real songs.
const SWEEP_FRAMES: usize = 12 * 44_100 + 777;
const CUT_AT: usize = 6 * 44_100 + 123;

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).status();
    assert!(status.is_ok_and(|s| s.success()), "{program} {args:?} failed (the tests need sox and lame)");
}

/// The sweep as 16-bit stereo, and the music folder with its two halves as MP3s (LAME, which
/// writes the delay and padding in its tag).
fn sweep_songs(dir: &Path) -> (Vec<i16>, PathBuf) {
    let sweep = dir.join("sweep.wav");
    let path = |p: &Path| p.to_str().unwrap().to_string();
    run(
        "sox",
        &[
            // The rate before -n: sox's synth counts samples at its input's rate.
            "-r",
            "44100",
            "-c",
            "2",
            "-n",
            "-b",
            "16",
            &path(&sweep),
            "synth",
            &format!("{SWEEP_FRAMES}s"),
            "sine",
            "200-4000",
            "vol",
            "0.5",
        ],
    );
    let music = dir.join("music");
    std::fs::create_dir(&music).unwrap();
    for (name, trim) in
        [("1-first", vec!["0".to_string(), format!("{CUT_AT}s")]), ("2-second", vec![format!("{CUT_AT}s")])]
    {
        let half = dir.join(format!("{name}.wav"));
        let mut args = vec![path(&sweep), path(&half), "trim".to_string()];
        args.extend(trim);
        run("sox", &args.iter().map(String::as_str).collect::<Vec<_>>());
        run("lame", &["--quiet", "-b", "192", &path(&half), &path(&music.join(format!("{name}.mp3")))]);
    }
    (read_wav(&sweep), music)
}

fn read_wav(path: &Path) -> Vec<i16> {
    let mut reader = hound::WavReader::open(path).expect("a valid WAV file");
    reader.samples::<i16>().map(Result::unwrap).collect()
}

/// How far `recorded` (from `at`, in stereo frames) is from `source` over `len` frames from
/// `from`: the root mean square of the difference.
fn distance(recorded: &[i16], at: usize, source: &[i16], from: usize, len: usize) -> f64 {
    let a = &recorded[2 * at..2 * (at + len)];
    let b = &source[2 * from..2 * (from + len)];
    let sum: f64 = a.iter().zip(b).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum();
    (sum / a.len() as f64).sqrt()
}

/// The frame of `recorded` where frame `from` of `source` best lines up, searched around
/// `guess`, and how far the two are there.
fn line_up(recorded: &[i16], source: &[i16], from: usize, guess: usize) -> (usize, f64) {
    const WINDOW: usize = 2048;
    let lo = guess.saturating_sub(3000);
    let hi = (guess + 3000).min(recorded.len() / 2 - WINDOW);
    (lo..hi)
        .map(|at| (at, distance(recorded, at, source, from, WINDOW)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a recording long enough")
}

#[test]
fn two_songs_cut_from_one_recording_join_sample_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (source, music) = sweep_songs(dir.path());
    assert_eq!(source.len(), 2 * SWEEP_FRAMES);
    let server = common::serve(&music);
    let wav = dir.path().join("out.wav");
    let output = run_client(
        server.addr.port(),
        &["--output", &format!("wav:{}", wav.display())],
        "add 1 2\nqueue\nwait\nstatus\n",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "client failed: {stdout}\n{stderr}");
    for said in [
        "Added 2 songs to the queue",
        "Playing 1: 1-first",
        "Finished 1",
        "Playing 2: 2-second",
        "Finished 2",
    ] {
        assert!(stdout.contains(said), "{said:?} not in:\n{stdout}");
    }
    assert!(stdout.contains(">   1.   1"), "the queue marks the song heard:\n{stdout}");

    let recorded = read_wav(&wav);
    // The recording starts with the first sample played: the sweep's, if the start was cut.
    let (start, first) = line_up(&recorded, &source, 1000, 1000);
    // Where the second song's first samples sit, measured on their own, against where the
    // sweep's would sit if the join were exact.
    let (second, at_join) = line_up(&recorded, &source, CUT_AT + 100, start + CUT_AT - 1000 + 100);
    let slip = second as i64 - (start + CUT_AT - 1000 + 100) as i64;
    let played = recorded.len() / 2;
    let total = played as i64 - (start as i64 - 1000);
    eprintln!(
        "start: sweep frame 1000 at recorded frame {start} (rms {first:.1}); join slip {slip} samples \
         (rms {at_join:.1}); recording {played} frames for a sweep of {SWEEP_FRAMES}: {} extra",
        total - SWEEP_FRAMES as i64
    );
    assert_eq!(start, 1000, "the first song's encoder delay is cut exactly");
    assert_eq!(slip, 0, "the second song follows the first sample-exact");
    // MP3 at 192 kbit/s of a half-scale sweep: a few hundred of 16,384; one sample off near
    // the join (2 kHz) would be about 3,500.
    assert!(first < 1000.0 && at_join < 1000.0, "the recording is the sweep (rms {first:.1}, {at_join:.1})");
    // Across the join itself, the recording stays the sweep: a gap or a click shows here.
    let across = distance(&recorded, CUT_AT - 256, &source, CUT_AT - 256, 512);
    assert!(across < 1000.0, "the join sounds like the sweep (rms {across:.1})");
    // Nothing was added or lost: the recording is as long as the sweep, to a sample a song.
    assert!((total - SWEEP_FRAMES as i64).abs() <= 2, "{total} frames played for {SWEEP_FRAMES}");
}
