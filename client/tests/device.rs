//! The sound-card path, headless: ALSA is pointed at a configuration of the test's own, either
//! a "file" device that records what the card would play, or a card that does not exist.

mod common;

use std::path::Path;
use std::process::Output;

use common::{music_dir, run_client_with_env, serve};

/// Runs the client with ALSA configured by `alsa_conf` and `script` on stdin.
fn run_with_alsa(port: u16, output: &str, alsa_conf: &Path, script: &str) -> Output {
    let alsa = format!("/usr/share/alsa/alsa.conf:{}", alsa_conf.display());
    run_client_with_env(port, &["--output", output], &[("ALSA_CONFIG_PATH", alsa)], script)
}

#[test]
fn the_sound_card_path_plays_audio() {
    let server = serve(&music_dir());
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("card.raw");
    let conf = dir.path().join("asound.conf");
    std::fs::write(
        &conf,
        format!(
            "pcm.!default {{ type file; slave.pcm \"null\"; file \"{}\"; format \"raw\" }}\n",
            raw.display()
        ),
    )
    .unwrap();
    let output = run_with_alsa(server.addr.port(), "device", &conf, "play 1\nsleep 1\nstop\n");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("Playing 1: Morning Scale"), "{stdout}");
    let played = std::fs::read(&raw).expect("the card was opened");
    // The file device runs faster than real time, so most of what it records is the silence
    // the client plays while it waits for the network: check only that music got through
    // (the burst alone is about two seconds, several hundred kilobytes in any sample format).
    let sound = played.iter().filter(|&&b| b != 0).count();
    assert!(sound > 200_000, "only {sound} non-zero bytes of {} reached the card", played.len());
}

fn missing_card_conf(dir: &Path) -> std::path::PathBuf {
    let conf = dir.join("asound.conf");
    // The stock configuration with its default card moved to one that does not exist: the
    // same path, and the same noise from ALSA, as a machine without a sound card.
    std::fs::write(&conf, "defaults.pcm.card 99\ndefaults.ctl.card 99\n").unwrap();
    conf
}

#[test]
fn without_a_card_device_fails_plainly_and_auto_plays_silently() {
    let server = serve(&music_dir());
    let dir = tempfile::tempdir().unwrap();
    let conf = missing_card_conf(dir.path());

    let output = run_with_alsa(server.addr.port(), "device", &conf, "list\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(
        stderr.trim_end(),
        "jukebox-client: no sound card found, and --output device needs one. \
         Use --output null to play silently, or --output wav:FILE to record what plays.",
        "one plain sentence: no ALSA or rodio jargon"
    );

    let output = run_with_alsa(server.addr.port(), "auto", &conf, "play 3\nsleep 0.5\nstatus\n");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}");
    // Said once, at start-up, before anything else; nothing of ALSA's or rodio's own words.
    assert_eq!(
        stderr,
        "jukebox-client: no sound card found; playing silently (as --output null). \
         Use --output wav:FILE to record what plays.\n"
    );
    assert!(stdout.starts_with("Playing 3: Tin Robot Shuffle"), "{stdout}");
    assert!(stdout.contains("Playing 3: Tin Robot Shuffle — The Jukebox Synths, 0:00 / 0:28"), "{stdout}");
}
