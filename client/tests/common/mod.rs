//! Songs and servers for the client's integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use jukebox_server::{Catalog, RunningServer, Server};

/// The sample songs shipped in `music/`.
pub fn music_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../music")
}

/// A server on a free port of 127.0.0.1 over `dir`.
pub fn serve(dir: &Path) -> RunningServer {
    let catalog = Catalog::scanned(dir).expect("scan the music folder");
    Server::bind("127.0.0.1:0".parse().unwrap(), catalog).expect("bind").spawn()
}

/// Writes a mono 64 kbit/s MP3 of a sine tone lasting `seconds`, titled by its file name.
pub fn tone_song(dir: &Path, name: &str, seconds: f32) -> PathBuf {
    let tone = dir.join(format!("{name}.wav"));
    let song = dir.join(format!("{name}.mp3"));
    let made = Command::new("sox")
        .args(["-n", "-r", "44100", "-c", "1"])
        .arg(&tone)
        .args(["synth", &seconds.to_string(), "sine", "440"])
        .status()
        .and_then(|_| Command::new("lame").args(["--quiet", "-b", "64"]).arg(&tone).arg(&song).status());
    assert!(made.is_ok_and(|s| s.success()), "the client tests need sox and lame (apt-get install sox lame)");
    std::fs::remove_file(tone).expect("remove the WAV");
    song
}

/// Runs the real client against 127.0.0.1:`port` with `script` on its standard input, and
/// extra environment variables; returns what it printed and how it exited.
pub fn run_client_with_env(port: u16, args: &[&str], env: &[(&str, String)], script: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jukebox-client"))
        .args(["127.0.0.1", &port.to_string()])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start jukebox-client");
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("write the script");
    child.wait_with_output().expect("wait for jukebox-client")
}

/// [`run_client_with_env`] without extra environment.
pub fn run_client(port: u16, args: &[&str], script: &str) -> Output {
    run_client_with_env(port, args, &[], script)
}
