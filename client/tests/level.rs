//! Volume and ReplayGain through the real client and server, heard in a WAV recording: a song
//! tagged -6 dB plays 6 dB quieter in track mode, one tagged +6 dB is turned up only as far as
//! its peak allows, and `volume 50` halves the amplitude.

mod common;

use std::path::Path;
use std::process::Command;

use common::{decode_music, run_client};
use id3::TagLike;
use id3::frame::ExtendedText;

/// A stereo 1 kHz tone at a quarter of full scale, tagged with a track gain and peak.
fn tagged_tone(path: &Path, gain: &str, peak: &str) {
    let wav = path.with_extension("wav");
    let made = Command::new("sox")
        .args(["-r", "44100", "-c", "2", "-n", "-b", "16"])
        .arg(&wav)
        .args(["synth", "1", "sine", "1000", "vol", "0.25"])
        .status()
        .and_then(|_| Command::new("lame").args(["--quiet", "-b", "192"]).arg(&wav).arg(path).status());
    assert!(made.is_ok_and(|s| s.success()), "the tests need sox and lame");
    let mut tag = id3::Tag::new();
    tag.set_title(path.file_stem().unwrap().to_string_lossy());
    for (description, value) in [("REPLAYGAIN_TRACK_GAIN", gain), ("REPLAYGAIN_TRACK_PEAK", peak)] {
        tag.add_frame(ExtendedText { description: description.into(), value: value.into() });
    }
    tag.write_to_path(path, id3::Version::Id3v24).unwrap();
}

fn rms(samples: &[i16]) -> f64 {
    (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

#[test]
fn replaygain_changes_the_level_by_the_tagged_decibels_and_volume_scales_it() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir(&music).unwrap();
    tagged_tone(&music.join("1-quieter.mp3"), "-6.00 dB", "0.250000");
    tagged_tone(&music.join("2-louder.mp3"), "+6.00 dB", "0.800000");
    let server = common::serve(&music);
    let wav = dir.path().join("out.wav");
    let script = "replaygain track\nplay 1\nwait\nreplaygain off\nplay 1\nwait\nvolume 50\nplay 1\nwait\n\
                  volume 100\nreplaygain track\nplay 2\nwait\nreplaygain off\nplay 2\nwait\nstatus\n";
    let output = run_client(server.addr.port(), &["--output", &format!("wav:{}", wav.display())], script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("ReplayGain: track.") && stdout.contains("Volume: 50%."), "{stdout}");

    // Five plays of a song, one after the other: each as long as the song's music.
    let recorded =
        hound::WavReader::open(&wav).unwrap().samples::<i16>().map(Result::unwrap).collect::<Vec<_>>();
    let song = decode_music(&music.join("1-quieter.mp3")).len();
    assert_eq!(recorded.len(), 5 * song, "five whole plays");
    // The middle of each play, away from the encoder's ramps.
    let level = |play: usize| rms(&recorded[play * song + song / 4..play * song + 3 * song / 4]);
    let db = |a: f64, b: f64| 20.0 * (a / b).log10();
    let (tagged, plain, halved) = (level(0), level(1), level(2));
    let (up, as_is) = (level(3), level(4));
    eprintln!(
        "track gain -6.00 dB: {:+.3} dB; volume 50: {:.4} of the amplitude; +6.00 dB with a peak of 0.8: {:+.3} dB \
         (the peak allows {:+.3})",
        db(tagged, plain),
        halved / plain,
        db(up, as_is),
        db(1.25, 1.0)
    );
    assert!((db(tagged, plain) + 6.0).abs() < 0.05, "track gain: {:+.3} dB", db(tagged, plain));
    assert!((halved / plain - 0.5).abs() < 0.005, "volume 50: {:.4}", halved / plain);
    assert!((db(up, as_is) - db(1.25, 1.0)).abs() < 0.05, "limited by the peak: {:+.3} dB", db(up, as_is));
}
