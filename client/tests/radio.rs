//! The station (RFC §7.5) through the real client binary, against a real server whose station
//! is on the air: tuning in, requests and the queue, what is shown when, and two listeners
//! hearing the same music at the same moment.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{music_dir, run_client, serve_radio};
use jukebox_protocol::Track;
use jukebox_server::radio::Station;

/// Waits until the station has been playing its song for at least `played` and has at least
/// `left` of it to go; returns the song. A test that must know which song a listener hears
/// (the listener is 2 s behind the air) or must request a song that is not on the air
/// (RFC §6.1.8 refuses it) waits for the middle of a song.
fn middle_of_a_song(station: &Station, played: Duration, left: Duration) -> Track {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(now) = station.queue(None).now {
            let elapsed = Duration::from_millis(u64::from(now.elapsed_ms));
            let length = Duration::from_millis(u64::from(now.track.duration_ms));
            if elapsed >= played && elapsed + left <= length {
                return now.track;
            }
        }
        assert!(Instant::now() < deadline, "the station never got to the middle of a song");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_listener_tunes_in_requests_a_song_twice_sees_the_queue_and_leaves_for_a_song() {
    let (server, station) = serve_radio(&music_dir());
    let on_air = middle_of_a_song(&station, Duration::from_secs(2), Duration::from_secs(6));
    // A song that is neither on the air nor, with 6 s of this one left, about to be.
    let (wanted, title) =
        if on_air.song.0 == 2 { (3, "Tin Robot Shuffle") } else { (2, "Lanterns in the Rain") };
    let script =
        format!("radio\nsleep 0.3\nrequest {wanted}\nrequest {wanted}\nqueue\nstatus\nplay 1\nstatus\n");
    let output = run_client(server.addr.port(), &["--output", "null"], &script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stdout.lines().collect();
    let heard = format!("{} — The Jukebox Synths", on_air.title);
    assert_eq!(lines.len(), 8, "{stdout}\n{stderr}");
    assert_eq!(lines[0], "Tuned in to the station (128 kbit/s)", "{stdout}");
    // The song the listener is dropped into, as soon as it is heard.
    assert_eq!(lines[1], format!("Now playing: {heard}"), "{stdout}");
    // The client had no list: it asked for one to name the song.
    assert_eq!(lines[2], format!("{title} is 1st in the queue"), "{stdout}");
    // The second request is refused, in the server's words, as a mistake is.
    assert_eq!(stderr.trim_end(), format!("{title} is already in the queue"), "{stderr}");
    assert!(lines[3].starts_with(&format!("Now playing: {heard}  0:")), "{stdout}");
    assert!(lines[4].starts_with(&format!("1. {title} — The Jukebox Synths (0:")), "{stdout}");
    assert!(lines[4].ends_with(")  (yours)"), "{stdout}");
    assert!(lines[5].starts_with(&format!("On the radio: {heard}, 0:")), "{stdout}");
    // PLAY leaves the station as it leaves a song.
    assert_eq!(lines[6], "Playing 1: Morning Scale — The Jukebox Synths (0:26)", "{stdout}");
    assert!(lines[7].starts_with("Playing 1: Morning Scale — The Jukebox Synths, 0:00 / 0:26"), "{stdout}");
    assert_eq!(output.status.code(), Some(1), "a refused request fails the script");
}

/// Writes a stereo MP3 of `seconds` of pink noise: music whose every stretch differs from every
/// other, so that two recordings of it line up at one lag only.
fn noise_song(dir: &Path, name: &str, seconds: u32) {
    let noise = dir.join(format!("{name}.wav"));
    let made = Command::new("sox")
        .args(["-n", "-r", "44100", "-c", "2"])
        .arg(&noise)
        .args(["synth", &seconds.to_string(), "pinknoise", "vol", "0.5"])
        .status()
        .and_then(|_| {
            Command::new("lame")
                .args(["--quiet", "-b", "128"])
                .arg(&noise)
                .arg(dir.join(format!("{name}.mp3")))
                .status()
        });
    assert!(made.is_ok_and(|s| s.success()), "the client tests need sox and lame (apt-get install sox lame)");
    std::fs::remove_file(noise).expect("remove the WAV");
}

/// A recording: its samples as mono, and the wall-clock time of its first, in nanoseconds
/// since the Unix epoch (from `PATH.start`, which the client writes beside a WAV).
fn recording(path: &Path) -> (Vec<f32>, i128) {
    let mut reader = hound::WavReader::open(path).expect("a valid WAV file");
    assert_eq!((reader.spec().channels, reader.spec().sample_rate), (2, 44_100));
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let mono = samples.chunks_exact(2).map(|f| (f32::from(f[0]) + f32::from(f[1])) / 2.0).collect();
    let stamp = format!("{}.start", path.display());
    let start = std::fs::read_to_string(&stamp).unwrap_or_else(|e| panic!("{stamp}: {e}"));
    (mono, start.trim().parse().expect("nanoseconds"))
}

/// Averages of `factor` samples: a low-passed, shorter signal for a coarse search.
fn decimate(x: &[f32], factor: usize) -> Vec<f32> {
    x.chunks_exact(factor).map(|c| c.iter().sum::<f32>() / factor as f32).collect()
}

/// The lag `l` among `lags` at which `a[j + l]` best matches `b[j]` for `j` in `window`, and
/// the normalized correlation there (1 for the same signal).
fn best_lag(
    a: &[f32],
    b: &[f32],
    window: std::ops::Range<usize>,
    lags: std::ops::RangeInclusive<i64>,
) -> (i64, f64) {
    let b = &b[window.clone()];
    let b_energy: f64 = b.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    let mut best = (0, f64::MIN);
    for lag in lags {
        let Some(from) = usize::try_from(window.start as i64 + lag).ok() else { continue };
        let Some(a) = a.get(from..from + b.len()) else { continue };
        let (mut dot, mut a_energy) = (0.0f64, 0.0f64);
        for (&x, &y) in a.iter().zip(b) {
            dot += f64::from(x) * f64::from(y);
            a_energy += f64::from(x) * f64::from(x);
        }
        let score = dot / (a_energy * b_energy).sqrt().max(f64::MIN_POSITIVE);
        if score > best.1 {
            best = (lag, score);
        }
    }
    best
}

/// Runs the client with `script` in the background; returns its output when it ends.
fn client_in_background(
    port: u16,
    wav: &Path,
    script: &str,
) -> std::thread::JoinHandle<std::process::Output> {
    let (wav, script) = (format!("wav:{}", wav.display()), script.to_string());
    std::thread::spawn(move || run_client(port, &["--output", &wav], &script))
}

/// The station's promise (RFC §7.5.1-2): every listener is the burst (2 s) behind live, to
/// within a frame, whenever it tuned in. Two clients that tune in 2.3 s apart record what they
/// play; lined up by the wall clock (each WAV's `PATH.start`), the lag at which their contents
/// match best must be the wall clock's, within 100 ms. Measured: within 5 ms (the music's lag
/// is a whole number of frames, 88 × 26.12 ms, since every burst starts on a frame boundary;
/// the wall clock's varies by the moment each client tuned in within a frame and by the
/// output's 10 ms tick).
#[test]
fn two_listeners_who_tune_in_seconds_apart_hear_the_same_music_at_the_same_moment() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir(&music).unwrap();
    noise_song(&music, "noise", 30);
    let (server, station) = serve_radio(&music);
    // A listener who tunes in before the station has played a burst's worth gets a shorter
    // burst, so is less far behind live (RFC §7.5.2): wait until it has.
    while station.now_ms() < 2_500 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let port = server.addr.port();
    let (a_wav, b_wav) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
    let a = client_in_background(port, &a_wav, "radio\nsleep 7.5\n");
    std::thread::sleep(Duration::from_millis(2_300));
    let b = client_in_background(port, &b_wav, "radio\nsleep 4\n");
    for (name, client) in [("A", a), ("B", b)] {
        let output = client.join().unwrap();
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let (a, a_start) = recording(&a_wav);
    let (b, b_start) = recording(&b_wav);
    const RATE: f64 = 44_100.0;
    // By the wall clock, B's first sample played this many of A's samples after A's first.
    let wall_lag = ((b_start - a_start) as f64 * RATE / 1e9).round() as i64;
    assert!(b.len() as f64 >= 3.5 * RATE, "B recorded {:.2} s", b.len() as f64 / RATE);
    // Compare 2 s of B, from 0.5 s in, with A at every lag within 2 s of the wall clock's:
    // coarsely on averages of 20 samples, then sample by sample around the best.
    let window = (RATE * 0.5) as usize..(RATE * 2.5) as usize;
    let factor = 20;
    let (coarse, _) = best_lag(
        &decimate(&a, factor),
        &decimate(&b, factor),
        window.start / factor..window.end / factor,
        (wall_lag - 2 * 44_100) / factor as i64..=(wall_lag + 2 * 44_100) / factor as i64,
    );
    let coarse = coarse * factor as i64;
    let (lag, score) = best_lag(&a, &b, window, coarse - 2 * factor as i64..=coarse + 2 * factor as i64);
    let ms = |samples: i64| samples as f64 * 1000.0 / RATE;
    let disagreement = ms(lag - wall_lag);
    println!(
        "B started {:.1} ms after A by the wall clock, {:.1} ms by the music: they disagree by {disagreement:.1} ms \
         (correlation {score:.3})",
        ms(wall_lag),
        ms(lag)
    );
    assert!(score > 0.9, "the recordings do not hold the same music: correlation {score:.3} at best");
    assert!(disagreement.abs() <= 100.0, "the listeners are {disagreement:.1} ms apart");
}

/// Writes a mono MP3 of a sine tone of `hz` lasting `seconds`, titled by its file name.
fn tone(dir: &Path, name: &str, hz: u32, seconds: f32) {
    let wav = dir.join(format!("{name}.wav"));
    let made = Command::new("sox")
        .args(["-n", "-r", "44100", "-c", "1"])
        .arg(&wav)
        .args(["synth", &seconds.to_string(), "sine", &hz.to_string(), "vol", "0.5"])
        .status()
        .and_then(|_| {
            Command::new("lame")
                .args(["--quiet", "-b", "64"])
                .arg(&wav)
                .arg(dir.join(format!("{name}.mp3")))
                .status()
        });
    assert!(made.is_ok_and(|s| s.success()), "the client tests need sox and lame (apt-get install sox lame)");
    std::fs::remove_file(wav).expect("remove the WAV");
}

fn unix_nanos(t: std::time::SystemTime) -> i128 {
    t.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i128
}

#[test]
fn a_new_song_is_announced_when_it_is_heard_not_when_it_arrives() {
    // Three songs of 2.5 s, each a tone of its own, which the station plays by turns.
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir(&music).unwrap();
    let tones = [("low", 220), ("mid", 880), ("high", 3520)];
    for (name, hz) in tones {
        tone(&music, name, hz, 2.5);
    }
    let (server, station) = serve_radio(&music);
    while station.now_ms() < 2_500 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let wav = dir.path().join("out.wav");
    let mut child = Command::new(env!("CARGO_BIN_EXE_jukebox-client"))
        .args(["127.0.0.1", &server.addr.port().to_string(), "--output", &format!("wav:{}", wav.display())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start jukebox-client");
    child.stdin.take().unwrap().write_all(b"radio\nsleep 8\n").unwrap();
    // Each line as it is printed, with the wall-clock time it came.
    let printed: Vec<(i128, String)> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|line| (unix_nanos(std::time::SystemTime::now()), line.unwrap()))
        .collect();
    assert!(child.wait().unwrap().success());

    // The recording, and which tone sounds in each 10 ms of it (by its zero crossings), if
    // one does: between two songs there are some 50 ms of silence, LAME's padding at the end
    // of one file and its encoder delay at the start of the next.
    let (samples, start) = recording(&wav);
    let block = 441;
    let heard: Vec<Option<&str>> = samples
        .chunks_exact(block)
        .map(|b| {
            let rms = (b.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / b.len() as f64).sqrt();
            let sounding = rms > 2000.0;
            let crossings = b.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count() as f64;
            let hz = crossings / 2.0 / 0.01;
            tones
                .iter()
                .find(|(_, tone)| sounding && (hz - f64::from(*tone)).abs() < f64::from(*tone) * 0.15)
                .map(|(n, _)| *n)
        })
        .collect();
    let at = |block_index: usize| start + (block_index * block) as i128 * 1_000_000_000 / 44_100;

    // The station's burst comes at once: sound follows the reply to TUNE at once.
    let (tuned_at, tuned) = &printed[0];
    assert_eq!(tuned, "Tuned in to the station (128 kbit/s)");
    let silent_ms = (start - tuned_at) as f64 / 1e6;
    println!("the first sound played {silent_ms:.1} ms after the reply was shown");
    assert!(silent_ms < 150.0, "the first sound played {silent_ms:.1} ms after the reply was shown");

    let announced: Vec<(i128, &str)> =
        printed.iter().filter_map(|(t, line)| Some((*t, line.strip_prefix("Now playing: ")?))).collect();
    assert!(announced.len() >= 3, "{printed:?}");
    // The first is the song the listener was dropped into; each later one begins in the
    // silence between the previous song's tone and its own, and must be printed then: 2 s
    // after it went on the air, not when it arrived.
    for (printed_at, title) in &announced[1..] {
        let begins = heard
            .iter()
            .enumerate()
            .position(|(i, tone)| *tone == Some(*title) && at(i) > printed_at - 500_000_000)
            .unwrap_or_else(|| panic!("{title} is never heard after it was announced"));
        // Where the previous tone stops: the last of two blocks in a row that sound another tone
        // (one block alone may be the new tone's onset, whose MP3 pre-echo rings high).
        let ends = heard[..begins]
            .windows(2)
            .rposition(|w| w.iter().all(|tone| tone.is_some_and(|t| t != *title)))
            .map_or(0, |i| i + 2);
        let ms = |t: i128| (t - printed_at) as f64 / 1e6;
        let (silence_from, silence_to) = (ms(at(ends)), ms(at(begins)));
        println!(
            "{title}: the silence before it was heard from {silence_from:.1} to {silence_to:.1} ms after it was announced"
        );
        assert!(
            silence_from <= 30.0 && silence_to >= -30.0,
            "{title} was announced outside the silence before it, from {silence_from:.1} to {silence_to:.1} ms after"
        );
    }
}
