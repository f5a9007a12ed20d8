//! The radio page in a real browser: the real `jukebox-server` binary serves the sample songs,
//! and `scripts/browser-test.py` drives headless Chromium through it (the page shows what is
//! on the air, the <audio> element decodes the live stream, a request shows in the queue).
//!
//! Needs Debian's `chromium` and `chromium-driver`, and Python's selenium, which
//! `scripts/deps.sh test` installs into `target/browser-venv`. Without them the test says so
//! and passes, unless `JUKEBOX_REQUIRE_BROWSER=1` is set (then it fails). Set
//! `JUKEBOX_BROWSER_PYTHON` to use another Python, and `JUKEBOX_SCREENSHOT` to keep the
//! screenshot somewhere else than `target/tmp/radio-page.png`.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Binary;

/// Exit status with which the script says a prerequisite is missing.
const SKIP: i32 = 77;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// A Python that can import selenium: the one named, else the venv of scripts/deps.sh, else
/// the system's.
fn python() -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = match std::env::var_os("JUKEBOX_BROWSER_PYTHON") {
        Some(p) => vec![p.into()],
        None => vec![repo().join("target/browser-venv/bin/python"), "python3".into()],
    };
    for python in &candidates {
        let imports = Command::new(python).args(["-c", "import selenium"]).output();
        if imports.is_ok_and(|o| o.status.success()) {
            return Ok(python.clone());
        }
    }
    Err(format!("no Python with selenium (tried {candidates:?}); run scripts/deps.sh test"))
}

/// The path of `name` on PATH or in /usr/bin.
fn program(name: &str, package: &str) -> Result<PathBuf, String> {
    let dirs =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    dirs.into_iter()
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| format!("{name} is missing: install Debian's {package} (scripts/deps.sh test)"))
}

/// Passes with a message when the browser is not installed, unless it is required.
fn skip(why: &str) {
    if std::env::var_os("JUKEBOX_REQUIRE_BROWSER").is_some_and(|v| v == "1") {
        panic!("JUKEBOX_REQUIRE_BROWSER=1 and {why}");
    }
    eprintln!("SKIPPED the browser test: {why}");
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().unwrap().port()
}

/// Status code and body of `GET path`, or None while nothing answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(socket, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut reply = String::new();
    socket.read_to_string(&mut reply).ok()?;
    let code = reply.split_whitespace().nth(1)?.parse().ok()?;
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_string();
    Some((code, body))
}

/// The sample songs, and one more whose tags hold accents and markup: the page must show them
/// as text and find them by a search without the accents.
fn music_folder(root: &Path) -> PathBuf {
    let music = root.join("music");
    std::fs::create_dir(&music).unwrap();
    let samples = repo().join("music");
    for entry in std::fs::read_dir(&samples).expect("the repo's music/") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "mp3") {
            std::fs::copy(&path, music.join(path.file_name().unwrap())).unwrap();
        }
    }
    let tricky = music.join("05-cafe-ole.mp3");
    std::fs::copy(samples.join("01-morning-scale.mp3"), &tricky).unwrap();
    let mut tag = id3::Tag::new();
    id3::TagLike::set_title(&mut tag, "Café Olé <Live>");
    id3::TagLike::set_artist(&mut tag, "Zoë & the Tags");
    id3::TagLike::set_album(&mut tag, "Jukebox Sample Tunes");
    tag.write_to_path(&tricky, id3::Version::Id3v24).expect("retag the copy");
    music
}

#[test]
fn the_radio_page_plays_and_takes_requests_in_chromium() {
    let python = match python() {
        Ok(p) => p,
        Err(why) => return skip(&why),
    };
    for (name, package) in [("chromium", "chromium"), ("chromedriver", "chromium-driver")] {
        if let Err(why) = program(name, package) {
            return skip(&why);
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let music = music_folder(dir.path());
    let port = free_port();
    let http = format!("127.0.0.1:{port}");
    let server = Binary::start(&music, &["--db", "none", "--http", &http]);

    // Up once /status.json answers and the scan has found every song.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some((200, body)) = get(port, "/status.json")
            && body.contains("\"songs\":5")
            && body.contains("\"now\":{")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "http://{http}/status.json did not show 5 songs and one on the air; the server logged:\n{}",
            server.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let screenshot = std::env::var_os("JUKEBOX_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("radio-page.png"));
    let status = Command::new(&python)
        .arg(repo().join("scripts/browser-test.py"))
        .arg(format!("http://{http}/"))
        .arg(&screenshot)
        .status()
        .expect("run scripts/browser-test.py");
    if status.code() == Some(SKIP) {
        return skip("scripts/browser-test.py found a prerequisite missing (see above)");
    }
    assert!(
        status.success(),
        "scripts/browser-test.py failed ({status}); see its messages above. The server logged:\n{}",
        server.log.lock().unwrap()
    );
    eprintln!("the radio page passed in Chromium; screenshot: {}", screenshot.display());
    server.stop();
}
