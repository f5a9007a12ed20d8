//! The HTTP side against real servers on free ports, and real players: the ICY stream read
//! byte by byte, ffmpeg, mpv, mpg123 and VLC recording the radio, curl and raw sockets for
//! songs, requests, events and hostile clients.
//!
//! A player's test says SKIPPED and passes only when its program is not installed
//! (`scripts/deps.sh test` installs them all).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Binary, serve_radio, serve_radio_with, tone_mp3};
use serde_json::Value;

const METAINT: usize = 16_000;

/// A folder of `n` songs of `seconds` each, titled "Song 1", "Song 2", ... by "Tester N".
fn songs(n: usize, seconds: f32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("01.mp3");
    tone_mp3(&first, seconds, 440.0, "Song 1", "Tester 1");
    for i in 2..=n {
        // One encode, copied and retagged: the songs differ by their tags.
        let path = dir.path().join(format!("{i:02}.mp3"));
        std::fs::copy(&first, &path).unwrap();
        let mut tag = id3::Tag::new();
        id3::TagLike::set_title(&mut tag, format!("Song {i}"));
        id3::TagLike::set_artist(&mut tag, format!("Tester {i}"));
        tag.write_to_path(&path, id3::Version::Id3v24).unwrap();
    }
    dir
}

/// What `Song N` by `Tester N` is called in a StreamTitle.
fn titles(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("Tester {i} - Song {i}")).collect()
}

/// A whole response, read until the server closes.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Splits a response head from what follows it.
fn parse_head(bytes: &[u8]) -> (u16, HashMap<String, String>, usize) {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head") + 4;
    let text = std::str::from_utf8(&bytes[..end]).expect("a UTF-8 head");
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, end)
}

/// Sends `request` as is and reads the whole response.
fn exchange_from(socket: TcpStream, request: &[u8]) -> Response {
    let mut socket = socket;
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    socket.write_all(request).unwrap();
    let mut bytes = Vec::new();
    socket.read_to_end(&mut bytes).expect("read the response");
    let (status, headers, end) = parse_head(&bytes);
    Response { status, headers, body: bytes[end..].to_vec() }
}

fn exchange(addr: SocketAddr, request: &str) -> Response {
    exchange_from(TcpStream::connect(addr).unwrap(), request.as_bytes())
}

fn request(addr: SocketAddr, method: &str, path: &str, headers: &str) -> Response {
    exchange(addr, &format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}\r\n"))
}

fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, "")
}

/// A connection from 127.0.0.`host` (Linux routes all of 127/8 to loopback): another
/// requester for the station.
fn connect_from(host: u8, addr: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: SocketAddr = ([127, 0, 0, host], 0).into();
    socket.bind(&from.into()).unwrap();
    socket.connect(&addr.into()).unwrap();
    socket.into()
}

/// `GET /radio` with ICY metadata, read block by block.
struct IcyReader {
    reader: BufReader<TcpStream>,
    headers: HashMap<String, String>,
}

impl IcyReader {
    fn connect(addr: SocketAddr) -> IcyReader {
        let mut socket = TcpStream::connect(addr).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(socket, "GET /radio HTTP/1.1\r\nHost: {addr}\r\nIcy-MetaData: 1\r\n\r\n").unwrap();
        let mut reader = BufReader::new(socket);
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut line = Vec::new();
            assert!(reader.read_until(b'\n', &mut line).unwrap() > 0, "closed in the head");
            head.extend(line);
        }
        let (status, headers, _) = parse_head(&head);
        assert_eq!(status, 200, "{headers:?}");
        IcyReader { reader, headers }
    }

    /// The next `METAINT` bytes of audio and the metadata block after them (without its
    /// length byte and padding; empty for "no change").
    fn next(&mut self) -> (Vec<u8>, String) {
        let mut audio = vec![0u8; METAINT];
        self.reader.read_exact(&mut audio).expect("audio");
        let mut len = [0u8; 1];
        self.reader.read_exact(&mut len).expect("a metadata length byte");
        let mut meta = vec![0u8; len[0] as usize * 16];
        self.reader.read_exact(&mut meta).expect("a metadata block");
        let text = String::from_utf8(meta.iter().copied().take_while(|&b| b != 0).collect()).expect("UTF-8");
        assert!(meta[text.len()..].iter().all(|&b| b == 0), "padded with zeros: {meta:?}");
        (audio, text)
    }
}

/// The title a metadata block sets.
fn stream_title(block: &str) -> &str {
    block
        .strip_prefix("StreamTitle='")
        .and_then(|rest| rest.strip_suffix("';"))
        .unwrap_or_else(|| panic!("not a StreamTitle block: {block:?}"))
}

/// Asserts `audio` is whole MP3 frames from its first byte on (the last one may be cut where
/// the reading stopped).
fn assert_frames(audio: &[u8]) {
    let mut next = 0;
    for frame in jukebox_protocol::mp3::frames(audio) {
        assert_eq!(frame.offset, next, "frames follow each other without a gap or junk");
        assert_eq!((frame.header.bitrate_kbps, frame.header.sample_rate), (128, 44_100));
        next = frame.offset + frame.header.len;
    }
    assert!(audio.len() - next < jukebox_protocol::mp3::MAX_AUDIO_FRAME_LEN, "audio after the last frame");
    assert!(next > audio.len() / 2, "hardly any frames");
}

#[test]
fn icy_metadata_lands_every_metaint_bytes_and_names_the_song_on_air() {
    let dir = songs(2, 10.0);
    let server = serve_radio(dir.path());
    let addr = server.http.unwrap();
    let mut radio = IcyReader::connect(addr);
    assert_eq!(radio.headers.get("icy-metaint").map(String::as_str), Some("16000"));
    assert_eq!(radio.headers.get("content-type").map(String::as_str), Some("audio/mpeg"));
    assert_eq!(radio.headers.get("icy-br").map(String::as_str), Some("128"));
    assert!(!radio.headers.contains_key("content-length"));

    let mut audio = Vec::new();
    let mut blocks = Vec::new();
    for _ in 0..3 {
        let (bytes, block) = radio.next();
        audio.extend(bytes);
        blocks.push(block);
    }
    // The first block names the song on the air; the song has not changed since.
    let on_air = get(addr, "/status.json").json()["now"].clone();
    let expected = format!("{} - {}", on_air["artist"].as_str().unwrap(), on_air["title"].as_str().unwrap());
    assert_eq!(stream_title(&blocks[0]), expected);
    assert!(blocks[1..].iter().all(String::is_empty), "no change, no text: {blocks:?}");
    // Cut out of the stream at exact multiples of 16000, the audio is whole frames.
    assert_frames(&audio);
    server.shutdown();
}

#[test]
fn a_song_change_shows_in_the_stream_title() {
    let dir = songs(2, 2.0);
    let server = serve_radio(dir.path());
    let mut radio = IcyReader::connect(server.http.unwrap());
    let known = titles(2);
    let mut first = None;
    let mut audio = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert!(Instant::now() < deadline, "the title did not change");
        let (bytes, block) = radio.next();
        audio.extend(bytes);
        if block.is_empty() {
            continue;
        }
        let title = stream_title(&block).to_string();
        assert!(known.contains(&title), "{title:?} is none of {known:?}");
        match &first {
            None => first = Some(title),
            Some(first) => {
                assert_ne!(first, &title, "a block with text means the title changed");
                break;
            }
        }
    }
    // Across the change too, the audio is whole frames.
    assert_frames(&audio);
    server.shutdown();
}

/// `program`'s path, or None (with a message) when it is not installed.
fn installed(program: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|path| path.is_file());
    if found.is_none() {
        // CI installs every player (scripts/deps.sh test) and says so: a skip there is a failure.
        assert!(
            std::env::var_os("JUKEBOX_REQUIRE_PLAYERS").is_none(),
            "{program} is not installed (Debian package {package}) and JUKEBOX_REQUIRE_PLAYERS is set"
        );
        eprintln!("SKIPPED: {program} is not installed (Debian package {package}; scripts/deps.sh test)");
    }
    found
}

/// Seconds and loudness (RMS of 16-bit samples) of a WAV file of 44.1 kHz 16-bit stereo.
fn wav_seconds_and_rms(path: &Path) -> (f64, f64) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let data = bytes.windows(4).position(|w| w == b"data").expect("a data chunk") + 8;
    let samples: Vec<i16> =
        bytes[data..].chunks_exact(2).map(|pair| i16::from_le_bytes([pair[0], pair[1]])).collect();
    let rms =
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len().max(1) as f64).sqrt();
    (samples.len() as f64 / 2.0 / 44_100.0, rms)
}

fn run(command: &mut Command) -> (bool, String) {
    let output = command.output().unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn ffmpeg_decodes_the_stream_across_a_song_change_and_reports_the_title() {
    let Some(ffmpeg) = installed("ffmpeg", "ffmpeg") else { return };
    let dir = songs(2, 2.5);
    let server = serve_radio(dir.path());
    let out = dir.path().join("out.wav");
    let url = format!("http://{}/radio", server.http.unwrap());
    let (ok, log) = run(Command::new(ffmpeg)
        .args(["-nostdin", "-hide_banner", "-v", "info", "-icy", "1", "-i", &url, "-t", "6", "-y"])
        .arg(&out));
    assert!(ok, "ffmpeg failed:\n{log}");
    let lower = log.to_lowercase();
    assert!(!lower.contains("error") && !lower.contains("invalid"), "ffmpeg complained:\n{log}");
    let title = log
        .lines()
        .find(|l| l.trim_start().starts_with("StreamTitle"))
        .expect("ffmpeg shows the StreamTitle");
    assert!(titles(2).iter().any(|t| title.ends_with(t.as_str())), "{title}");
    let (seconds, rms) = wav_seconds_and_rms(&out);
    assert!((5.9..=6.1).contains(&seconds), "{seconds} s decoded");
    assert!(rms > 1000.0, "silent: RMS {rms}");
    server.shutdown();
}

#[test]
fn mpv_records_the_stream_and_shows_its_title() {
    let Some(mpv) = installed("mpv", "mpv") else { return };
    let dir = songs(2, 10.0);
    let server = serve_radio(dir.path());
    let out = dir.path().join("mpv.wav");
    let url = format!("http://{}/radio", server.http.unwrap());
    let (ok, log) = run(Command::new(mpv)
        .args(["--no-config", "--msg-level=all=info", "--ao=pcm", "--audio-format=s16"])
        .arg(format!("--ao-pcm-file={}", out.display()))
        .args(["--length=4", &url]));
    assert!(ok, "mpv failed:\n{log}");
    assert!(titles(2).iter().any(|t| log.contains(&format!("icy-title: {t}"))), "no icy-title:\n{log}");
    let (seconds, rms) = wav_seconds_and_rms(&out);
    assert!(seconds >= 3.5, "{seconds} s recorded:\n{log}");
    assert!(rms > 1000.0, "silent: RMS {rms}");
    server.shutdown();
}

#[test]
fn mpg123_records_the_stream_and_shows_its_title() {
    let Some(mpg123) = installed("mpg123", "mpg123") else { return };
    let dir = songs(2, 10.0);
    let server = serve_radio(dir.path());
    let out = dir.path().join("mpg123.wav");
    let url = format!("http://{}/radio", server.http.unwrap());
    // 150 frames: 3.9 s.
    let (ok, log) = run(Command::new(mpg123).arg("-w").arg(&out).args(["-n", "150", &url]));
    assert!(ok, "mpg123 failed:\n{log}");
    assert!(titles(2).iter().any(|t| log.contains(&format!("StreamTitle='{t}';"))), "no ICY-META:\n{log}");
    let (seconds, rms) = wav_seconds_and_rms(&out);
    assert!((3.8..=4.0).contains(&seconds), "{seconds} s recorded:\n{log}");
    assert!(rms > 1000.0, "silent: RMS {rms}");
    server.shutdown();
}

/// VLC refuses to run as root, so as root it runs as `nobody` (with `runuser`), writing into
/// a folder anyone may write to.
#[test]
fn vlc_records_the_stream_and_shows_its_title() {
    let Some(cvlc) = installed("cvlc", "vlc-bin and vlc-plugin-base") else { return };
    let dir = songs(2, 10.0);
    let server = serve_radio(dir.path());
    let out_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(out_dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let out = out_dir.path().join("vlc.wav");
    let url = format!("http://{}/radio", server.http.unwrap());
    let mut command = if unsafe { libc::geteuid() } == 0 {
        let Some(runuser) = installed("runuser", "util-linux") else { return };
        let mut command = Command::new(runuser);
        command.args(["-u", "nobody", "--"]).arg(&cvlc);
        command
    } else {
        Command::new(&cvlc)
    };
    command
        .env("HOME", out_dir.path())
        .args(["-vv", "--play-and-exit", "--run-time=4"])
        .arg(format!(
            "--sout=#transcode{{acodec=s16l,channels=2,samplerate=44100}}:std{{access=file,mux=wav,dst={}}}",
            out.display()
        ))
        .arg(&url);
    let (ok, log) = run(&mut command);
    assert!(ok, "vlc failed:\n{log}");
    assert!(
        titles(2).iter().any(|t| log.contains(&format!("New Icy-Title={t}"))),
        "VLC did not read the title; its log ends:\n{}",
        &log[log.len().saturating_sub(3000)..]
    );
    let (seconds, rms) = wav_seconds_and_rms(&out);
    assert!(seconds >= 3.0, "{seconds} s recorded");
    assert!(rms > 1000.0, "silent: RMS {rms}");
    server.shutdown();
}

/// The id of the song titled `title`, from /library.json.
fn id_of(addr: SocketAddr, title: &str) -> u64 {
    let library = get(addr, "/library.json").json();
    let songs = library.as_array().expect("a list");
    songs.iter().find(|s| s["title"] == title).and_then(|s| s["id"].as_u64()).expect("listed")
}

#[test]
fn songs_are_served_whole_or_by_byte_ranges() {
    let dir = songs(2, 1.0);
    let file = std::fs::read(dir.path().join("02.mp3")).unwrap();
    let len = file.len();
    let server = serve_radio(dir.path());
    let addr = server.http.unwrap();
    let id = id_of(addr, "Song 2");
    let path = format!("/songs/{id}.mp3");

    let whole = get(addr, &path);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-length"), Some(len.to_string().as_str()));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("content-type"), Some("audio/mpeg"));
    assert!(whole.body == file, "the file's bytes");

    let part = |range: &str| request(addr, "GET", &path, &format!("Range: {range}\r\n"));
    let r = part("bytes=100-199");
    assert_eq!((r.status, r.header("content-range")), (206, Some(format!("bytes 100-199/{len}").as_str())));
    assert_eq!(r.body, file[100..200]);
    let r = part("bytes=-10");
    assert_eq!(
        (r.status, r.header("content-range")),
        (206, Some(format!("bytes {}-{}/{len}", len - 10, len - 1).as_str()))
    );
    assert_eq!(r.body, file[len - 10..]);
    let r = part("bytes=5-");
    assert_eq!((r.status, r.header("content-length")), (206, Some((len - 5).to_string().as_str())));
    assert_eq!(r.body, file[5..]);
    let r = part(&format!("bytes={len}-"));
    assert_eq!((r.status, r.header("content-range")), (416, Some(format!("bytes */{len}").as_str())));
    let r = part("bytes=0-1,5-6");
    assert_eq!((r.status, r.body.len()), (200, len), "several ranges: the whole file");

    let head = request(addr, "HEAD", &path, "Range: bytes=0-9\r\n");
    assert_eq!((head.status, head.header("content-length"), head.body.len()), (206, Some("10"), 0));
    assert_eq!(get(addr, "/songs/999.mp3").status, 404);
    assert_eq!(get(addr, "/songs/x.mp3").status, 404);

    // curl agrees.
    if let Some(curl) = installed("curl", "curl") {
        let saved = dir.path().join("curl.out");
        let url = format!("http://{addr}{path}");
        let (ok, log) =
            run(Command::new(&curl).args(["-s", "-f", "-r", "100-199", "-o"]).arg(&saved).arg(&url));
        assert!(ok, "curl failed: {log}");
        assert_eq!(std::fs::read(&saved).unwrap(), file[100..200]);
    }
    server.shutdown();
}

/// Asks for songs in the order of `candidates` until one is answered other than
/// 409 (already queued: on the air or next), from `host`. Returns the song and the answer.
fn ask(addr: SocketAddr, host: u8, candidates: &mut impl Iterator<Item = u64>) -> (u64, Response) {
    for song in candidates.by_ref() {
        let answer = exchange_from(
            connect_from(host, addr),
            format!("POST /request/{song} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 2\r\n\r\n{{}}")
                .as_bytes(),
        );
        if answer.status != 409 {
            return (song, answer);
        }
    }
    panic!("every song was busy");
}

#[test]
fn requests_join_the_queue_within_the_limits_and_show_in_the_status() {
    // Songs long enough that none of the requests plays while the test runs.
    let dir = songs(8, 10.0);
    let server = serve_radio(dir.path());
    let addr = server.http.unwrap();
    let now = wait_on_air(addr);
    assert!(now["title"].as_str().unwrap().starts_with("Song "), "{now}");
    let mut candidates = 1..=8u64;
    let mut mine = Vec::new();
    for place in 1..=3 {
        let (song, answer) = ask(addr, 1, &mut candidates);
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        let json = answer.json();
        assert_eq!((json["ok"].as_bool(), json["place"].as_u64()), (Some(true), Some(place)));
        assert!(json["message"].as_str().unwrap().contains(&format!("Song {song} is")), "{json}");
        mine.push(song);
    }
    let again = exchange_from(
        connect_from(1, addr),
        format!("POST /request/{} HTTP/1.1\r\n\r\n", mine[0]).as_bytes(),
    );
    assert_eq!((again.status, again.json()["error"].as_str()), (409, Some("already_queued")));
    let (_, fourth) = ask(addr, 1, &mut candidates);
    assert_eq!((fourth.status, fourth.json()["error"].as_str()), (429, Some("request_limit")));
    assert_eq!(fourth.json()["ok"], false);
    assert_eq!(request(addr, "POST", "/request/999", "").json()["error"], "no_such_song");

    let queue = |host| {
        let status = exchange_from(connect_from(host, addr), b"GET /status.json HTTP/1.1\r\n\r\n").json();
        let entries = status["queue"].as_array().unwrap().clone();
        entries.iter().map(|e| (e["id"].as_u64().unwrap(), e["mine"].as_bool().unwrap())).collect::<Vec<_>>()
    };
    assert_eq!(queue(1), mine.iter().map(|&s| (s, true)).collect::<Vec<_>>());
    assert_eq!(queue(2), mine.iter().map(|&s| (s, false)).collect::<Vec<_>>(), "mine is the asker's");
    // A client that waits for 100 Continue before its body is told to go on.
    let mut socket = connect_from(3, addr);
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(socket, "POST /request/{} HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", mine[0])
        .unwrap();
    let mut interim = [0u8; 25];
    socket.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    let late = exchange_from(socket, b"{}");
    assert_eq!((late.status, late.json()["error"].as_str()), (409, Some("already_queued")));

    let status = get(addr, "/status.json").json();
    assert_eq!(status["server"], "jukebox 0.1.0");
    assert_eq!(status["songs"], 8);
    assert_eq!(status["station"]["on_air"], true);
    server.shutdown();
}

/// The next event of an event stream: (name, data).
fn next_event(reader: &mut BufReader<TcpStream>) -> (String, String) {
    let (mut name, mut data) = (String::new(), String::new());
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).expect("an event") > 0, "the stream ended");
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if !name.is_empty() {
                return (name, data);
            }
        } else if let Some(value) = line.strip_prefix("event: ") {
            name = value.to_string();
        } else if let Some(value) = line.strip_prefix("data: ") {
            data = value.to_string();
        }
    }
}

/// Connects to /events and reads past its head.
fn events(addr: SocketAddr) -> BufReader<TcpStream> {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(socket, "GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut reader = BufReader::new(socket);
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        assert!(reader.read_line(&mut head).unwrap() > 0, "closed in the head: {head}");
    }
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Content-Type: text/event-stream"), "{head}");
    reader
}

/// Waits, through the event stream, until a song is on the air; returns its status's `now`.
fn wait_on_air(addr: SocketAddr) -> Value {
    let mut reader = events(addr);
    loop {
        let (name, data) = next_event(&mut reader);
        let status: Value = serde_json::from_str(&data).unwrap();
        if name == "status" && !status["now"].is_null() {
            return status["now"].clone();
        }
    }
}

#[test]
fn events_send_the_status_at_connect_and_again_after_a_request() {
    let dir = songs(4, 10.0);
    let server = serve_radio(dir.path());
    let addr = server.http.unwrap();
    let mut reader = events(addr);
    let (name, data) = next_event(&mut reader);
    assert_eq!(name, "status");
    let status: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(status["queue"], Value::Array(vec![]));

    let (song, answer) = ask(addr, 1, &mut (1..=4u64));
    assert_eq!(answer.status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no status showed the request");
        let (name, data) = next_event(&mut reader);
        if name != "status" {
            continue;
        }
        let status: Value = serde_json::from_str(&data).unwrap();
        // In the queue; or already on the air, when the request was granted the song the
        // shuffle had picked to play next (it airs within 2 s, maybe before this status).
        if status["queue"].as_array().unwrap().iter().any(|e| e["id"] == song) || status["now"]["id"] == song
        {
            break;
        }
    }
    server.shutdown();
}

#[test]
fn a_slowloris_is_cut_off_at_the_head_timeout_while_others_are_served() {
    let dir = songs(1, 10.0);
    let server = serve_radio_with(dir.path(), |s| s.with_http_head_timeout(Duration::from_secs(3)));
    let addr = server.http.unwrap();
    let started = Instant::now();
    let slow = TcpStream::connect(addr).unwrap();
    let mut trickle = slow.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        // A byte a second, for ever: each read the server makes succeeds.
        for byte in b"GET /status.json HTTP/1.1\r\nX-Slow: ".iter().chain(std::iter::repeat(&b'a')) {
            if trickle.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    // Meanwhile another client is served at once.
    let quick = Instant::now();
    assert_eq!(get(addr, "/status.json").status, 200);
    assert!(quick.elapsed() < Duration::from_secs(1));
    let mut slow = slow;
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    let after = started.elapsed();
    assert!(answer.starts_with(b"HTTP/1.1 408 "), "{}", String::from_utf8_lossy(&answer));
    assert!(after >= Duration::from_millis(2900) && after < Duration::from_secs(6), "closed after {after:?}");
    // The trickle's next write fails.
    slow.shutdown(std::net::Shutdown::Both).unwrap();
    sender.join().unwrap();
    assert_eq!(get(addr, "/status.json").status, 200, "the server lives on");
    server.shutdown();
}

#[test]
fn huge_heads_garbage_and_wrong_methods_are_refused_and_the_server_survives() {
    let dir = songs(1, 10.0);
    let server = serve_radio(dir.path());
    let addr = server.http.unwrap();

    let mut huge = b"GET / HTTP/1.1\r\nX-Huge: ".to_vec();
    huge.resize(100 * 1024, b'a');
    let answer = {
        let mut socket = TcpStream::connect(addr).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        socket.write_all(&huge).unwrap();
        socket.shutdown(std::net::Shutdown::Write).unwrap();
        let mut bytes = Vec::new();
        socket.read_to_end(&mut bytes).unwrap();
        bytes
    };
    assert!(answer.starts_with(b"HTTP/1.1 431 "), "{}", String::from_utf8_lossy(&answer));

    let mut many = "GET / HTTP/1.1\r\n".to_string();
    for i in 0..100 {
        many.push_str(&format!("X-{i}: y\r\n"));
    }
    assert_eq!(exchange(addr, &(many + "\r\n")).status, 431);
    let tls_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n";
    let garbage = exchange_from(TcpStream::connect(addr).unwrap(), tls_hello);
    assert_eq!(garbage.status, 400);
    assert!(garbage.body.len() < 200, "a short body");
    assert_eq!(exchange(addr, "GET / SPDY/3\r\n\r\n").status, 400);

    let wrong = request(addr, "DELETE", "/radio", "");
    assert_eq!((wrong.status, wrong.header("allow")), (405, Some("GET, HEAD")));
    let wrong = get(addr, "/request/1");
    assert_eq!((wrong.status, wrong.header("allow")), (405, Some("POST")));
    assert_eq!(get(addr, "/../../etc/passwd").status, 404);
    let big_body = request(addr, "POST", "/request/1", "Content-Length: 100000\r\n");
    assert_eq!(big_body.status, 413);
    assert_eq!(get(addr, "/status.json").status, 200, "the server lives on");
    server.shutdown();
}

#[test]
fn playlists_the_page_and_head_requests() {
    let dir = songs(1, 10.0);
    let server = serve_radio(dir.path());
    let addr = server.http.unwrap();
    let m3u = request(addr, "GET", "/radio.m3u", "");
    assert_eq!(m3u.header("content-type"), Some("audio/x-mpegurl"));
    assert_eq!(
        String::from_utf8(m3u.body).unwrap().lines().last(),
        Some(format!("http://{addr}/radio").as_str())
    );
    let pls = exchange(addr, "GET /radio.pls HTTP/1.1\r\nHost: radio.example:8000\r\n\r\n");
    assert_eq!(pls.header("content-type"), Some("audio/x-scpls"));
    let pls = String::from_utf8(pls.body).unwrap();
    assert!(pls.starts_with("[playlist]\nFile1=http://radio.example:8000/radio\nTitle1="), "{pls}");
    assert!(pls.contains("NumberOfEntries=1") && pls.contains("Version=2"), "{pls}");
    // A Host that could break the playlist is not used.
    let pls = exchange(addr, "GET /radio.pls HTTP/1.0\r\nHost: evil.example/x?File2=\r\n\r\n");
    assert!(String::from_utf8(pls.body).unwrap().contains(&format!("File1=http://{addr}/radio\n")));

    let radio = request(addr, "HEAD", "/radio", "Icy-MetaData: 1\r\n");
    assert_eq!((radio.status, radio.header("icy-metaint"), radio.body.len()), (200, Some("16000"), 0));
    assert_eq!(radio.header("cache-control"), Some("no-cache, no-store"));
    assert_eq!(radio.header("icy-pub"), Some("0"));
    for (path, kind) in [("/", "text/html"), ("/app.js", "text/javascript"), ("/style.css", "text/css")] {
        let page = get(addr, path);
        assert_eq!(page.status, 200, "{path}");
        assert!(page.header("content-type").unwrap().starts_with(kind), "{path}");
        assert_eq!(page.header("cache-control"), Some("no-cache"), "{path}");
        assert!(!page.body.is_empty());
    }
    assert_eq!(get(addr, "/library.json").json()[0]["title"], "Song 1");
    server.shutdown();
}

#[test]
fn connections_over_the_limit_are_answered_503_and_room_comes_back() {
    let dir = songs(1, 10.0);
    let server = serve_radio_with(dir.path(), |s| s.with_http_max_connections(1));
    let addr = server.http.unwrap();
    let holder = TcpStream::connect(addr).unwrap();
    let turned_away = get(addr, "/status.json");
    assert_eq!((turned_away.status, turned_away.header("retry-after")), (503, Some("10")));
    drop(holder);
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(addr, "/status.json").status != 200 {
        assert!(Instant::now() < deadline, "the slot was never given back");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.shutdown();
}

#[test]
fn one_address_cannot_take_every_connection() {
    let dir = songs(1, 10.0);
    let server = serve_radio_with(dir.path(), |s| s.with_http_max_per_address(2));
    let addr = server.http.unwrap();
    // Two connections from 127.0.0.3 that say nothing (as idle event streams would hold them).
    let holders = [connect_from(3, addr), connect_from(3, addr)];
    let status = "GET /status.json HTTP/1.1\r\nHost: x\r\n\r\n";
    let refused = exchange_from(connect_from(3, addr), status.as_bytes());
    assert_eq!((refused.status, refused.header("retry-after")), (429, Some("10")), "a third from it");
    assert_eq!(exchange_from(connect_from(4, addr), status.as_bytes()).status, 200, "another address");
    drop(holders);
    let deadline = Instant::now() + Duration::from_secs(5);
    while exchange_from(connect_from(3, addr), status.as_bytes()).status != 200 {
        assert!(Instant::now() < deadline, "the address's slots were never given back");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.shutdown();
}

#[test]
fn the_binary_serves_http_with_the_radio_on_unless_told_otherwise() {
    let dir = songs(1, 10.0);
    for (args, on_air) in [
        (&["--db", "none", "--http", "0"][..], true),
        (&["--db", "none", "--http", "0", "--no-radio"][..], false),
    ] {
        let server = Binary::start(dir.path(), args);
        let log = server.wait_for_log("HTTP on http://");
        let addr: SocketAddr = log
            .split("HTTP on http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .expect("the log says where HTTP listens");
        // The server listens before its first scan is over: until then it has no songs, and
        // its station is not on the air yet.
        server.wait_for_log("scan 1 of");
        assert_eq!(get(addr, "/status.json").json()["station"]["on_air"], on_air, "{args:?}");
        assert_eq!(request(addr, "HEAD", "/radio", "").status == 503, !on_air, "{args:?}");
        server.stop();
    }
}

#[test]
fn a_shutdown_ends_streams_and_event_streams_and_closes_the_port() {
    let dir = songs(1, 10.0);
    let server = serve_radio(dir.path());
    let addr = server.http.unwrap();
    let mut radio = IcyReader::connect(addr);
    radio.next();
    let mut events = events(addr);
    next_event(&mut events);
    let started = Instant::now();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(2), "the shutdown waited {:?}", started.elapsed());
    let mut rest = Vec::new();
    radio.reader.read_to_end(&mut rest).expect("the stream ends cleanly");
    events.read_to_end(&mut rest).expect("the event stream ends cleanly");
    assert!(TcpStream::connect(addr).is_err(), "nothing listens any more");
}
