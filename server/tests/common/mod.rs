//! A minimal blocking protocol client and synthetic songs for the server's integration tests.
#![allow(dead_code)]

pub mod listener;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use jukebox_protocol::{Hello, Message, Request, RequestId, SongId, Welcome, read_message};
use jukebox_server::{Catalog, RunningServer, Server};

/// One 128 kbit/s, 44.1 kHz, stereo MPEG-1 Layer III frame header: 417-byte frames, 26.12 ms.
pub const FRAME_HEADER: [u8; 4] = [0xFF, 0xFB, 0x90, 0x00];
pub const FRAME_LEN: usize = 417;

/// `frames` synthetic frames whose bodies carry the frame index, so order can be checked.
pub fn synthetic_audio(frames: usize, seed: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(frames * FRAME_LEN);
    for i in 0..frames {
        out.extend_from_slice(&FRAME_HEADER);
        out.extend(std::iter::repeat_n((i as u8).wrapping_add(seed), FRAME_LEN - 4));
    }
    out
}

/// A file made of an ID3v2 tag, `frames` frames and an ID3v1 tag; returns the audio part.
pub fn write_song(path: &Path, frames: usize, seed: u8) -> Vec<u8> {
    let audio = synthetic_audio(frames, seed);
    let mut file = b"ID3\x03\x00\x00\x00\x00\x00\x0a".to_vec();
    file.extend_from_slice(&[0; 10]);
    file.extend_from_slice(&audio);
    let mut tag = b"TAG".to_vec();
    tag.resize(128, b' ');
    file.extend_from_slice(&tag);
    std::fs::write(path, file).expect("write test song");
    audio
}

/// A running server over `dir`.
pub fn serve(dir: &Path) -> RunningServer {
    serve_at_most(dir, jukebox_server::DEFAULT_MAX_CLIENTS)
}

/// A running server over `dir` that serves at most `max_clients` at once.
pub fn serve_at_most(dir: &Path, max_clients: usize) -> RunningServer {
    let catalog = Catalog::scanned(dir).expect("scan");
    Server::bind("127.0.0.1:0".parse().unwrap(), catalog).expect("bind").with_max_clients(max_clients).spawn()
}

/// A connected, handshaken test client.
pub struct Client {
    pub socket: TcpStream,
    next_id: u32,
    scratch: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::handshaken(TcpStream::connect(addr).expect("connect"))
    }

    /// Says HELLO on a connected socket and reads WELCOME.
    pub fn handshaken(mut socket: TcpStream) -> Client {
        socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        socket.write_all(&Hello::current().encode()).unwrap();
        let mut welcome = [0u8; 8];
        socket.read_exact(&mut welcome).expect("welcome");
        assert_eq!(Welcome::parse(&welcome).unwrap().version, 1);
        Client { socket, next_id: 1, scratch: Vec::new() }
    }

    pub fn send(&mut self, message: &Message) {
        self.socket.write_all(&message.to_bytes().expect("fits a frame")).expect("send");
    }

    pub fn request(&mut self, make: impl FnOnce(RequestId) -> Request) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.send(&Message::Request(make(id)));
        id
    }

    pub fn play(&mut self, song: u32) -> RequestId {
        self.request(|id| Request::Play { id, song: SongId(song) })
    }

    /// The next message; panics on timeout or close.
    pub fn recv(&mut self) -> Message {
        self.try_recv().expect("connection closed").expect("read failed")
    }

    pub fn try_recv(&mut self) -> Option<Result<Message, jukebox_protocol::ReadError>> {
        read_message(&mut self.socket, &mut self.scratch).transpose()
    }

    /// Messages until one that is not AUDIO; returns the audio skipped and that message.
    pub fn recv_skipping_audio(&mut self) -> (usize, Message) {
        let mut skipped = 0;
        loop {
            match self.recv() {
                Message::Audio(a) => skipped += a.data.len(),
                other => return (skipped, other),
            }
        }
    }
}

impl Client {
    /// Every song of a LIST reply, skipping audio and pushes that arrive meanwhile.
    pub fn list(&mut self) -> Vec<jukebox_protocol::SongEntry> {
        let id = self.request(|id| Request::List { id });
        let mut songs = Vec::new();
        loop {
            match self.recv() {
                Message::ListPage(page) if page.id == id => {
                    songs.extend(page.songs);
                    if page.last {
                        return songs;
                    }
                }
                Message::ListPage(page) => panic!("a page of another LIST: {page:?}"),
                _ => {}
            }
        }
    }
}

/// The real `jukebox-server` binary, started on a free port of 127.0.0.1; killed when dropped.
pub struct Binary {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// Where it serves HTTP, when started with `--http`.
    pub http: Option<SocketAddr>,
    /// What it logged up to the "listening on" line, and after, as read so far.
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Binary {
    /// Starts `jukebox-server DIR 0 --bind 127.0.0.1 ARGS...` and waits until it listens.
    pub fn start(dir: &Path, args: &[&str]) -> Binary {
        let mut all: Vec<&str> = vec![dir.to_str().expect("a UTF-8 path"), "0", "--bind", "127.0.0.1"];
        all.extend_from_slice(args);
        Binary::start_args(&all)
    }

    /// Starts `jukebox-server ARGS...` and waits until it listens (and, with `--http`, until
    /// it serves HTTP).
    pub fn start_args(args: &[&str]) -> Binary {
        use std::io::BufRead;
        let wants_http = args.contains(&"--http");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jukebox-server"))
            .args(args)
            .env("RUST_LOG", "info")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start jukebox-server");
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let (http_tx, http_rx) = std::sync::mpsc::channel();
        let sink = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default().to_string();
                    let _ = tx.send(addr);
                }
                if let Some(rest) = line.split("HTTP on http://").nth(1) {
                    let addr = rest.split('/').next().unwrap_or_default().to_string();
                    let _ = http_tx.send(addr);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(10)).expect("the server logs where it listens");
        let http = wants_http.then(|| {
            let http =
                http_rx.recv_timeout(Duration::from_secs(10)).expect("the server logs where it serves HTTP");
            http.parse().expect("an address")
        });
        Binary { child, addr: addr.parse().expect("an address"), http, log }
    }

    /// Waits until the log holds `text`; returns the log.
    pub fn wait_for_log(&self, text: &str) -> String {
        self.wait_for_log_within(text, Duration::from_secs(10))
    }

    /// Waits at most `limit` until the log holds `text`; returns the log.
    pub fn wait_for_log_within(&self, text: &str, limit: Duration) -> String {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let log = self.log.lock().unwrap().clone();
            if log.contains(text) {
                return log;
            }
            assert!(std::time::Instant::now() < deadline, "waited for {text:?}; the log holds:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it with SIGTERM, as Ctrl-C would, and waits for it to exit.
    pub fn stop(mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `frames` frames with header `header` (any MPEG audio header), bodies filled with `fill`.
pub fn frames_with(header: [u8; 4], frames: usize, fill: u8) -> Vec<u8> {
    let len = jukebox_protocol::mp3::AudioHeader::parse(&header).expect("a valid header").len;
    let mut out = Vec::with_capacity(frames * len);
    for _ in 0..frames {
        out.extend_from_slice(&header);
        out.resize(out.len() + len - 4, fill);
    }
    out
}

/// Writes a real MP3 (LAME through jukebox-codec: 44.1 kHz stereo, 128 kbit/s) of a `freq` Hz
/// tone lasting `seconds`, tagged (ID3v2.4) with `title` and `artist`. The station decodes
/// and re-encodes its songs, so its tests need audio a decoder accepts, not synthetic frames.
pub fn tone_mp3(path: &Path, seconds: f32, freq: f32, title: &str, artist: &str) {
    let mut encoder = jukebox_codec::Encoder::new(128).expect("an encoder");
    let samples = (seconds * 44_100.0) as usize;
    let pcm: Vec<i16> = (0..samples)
        .flat_map(|i| {
            let v = ((i as f32 * freq * std::f32::consts::TAU / 44_100.0).sin() * 8000.0) as i16;
            [v, v]
        })
        .collect();
    let mut mp3 = Vec::new();
    encoder.encode(&pcm, &mut mp3).expect("encode");
    encoder.flush(&mut mp3).expect("flush");
    std::fs::write(path, &mp3).expect("write the song");
    let mut tag = id3::Tag::new();
    id3::TagLike::set_title(&mut tag, title);
    id3::TagLike::set_artist(&mut tag, artist);
    tag.write_to_path(path, id3::Version::Id3v24).expect("tag the song");
}

/// A running server over `dir` with the radio on and HTTP on a free port of 127.0.0.1
/// (`RunningServer::http`); `tweak` may set limits before it starts.
pub fn serve_radio_with(dir: &Path, tweak: impl FnOnce(Server) -> Server) -> RunningServer {
    let catalog = Catalog::scanned(dir).expect("scan");
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), catalog)
        .expect("bind")
        .with_http("127.0.0.1:0".parse().unwrap())
        .expect("bind HTTP");
    tweak(server).with_radio().expect("start the radio").spawn()
}

/// [`serve_radio_with`] with the default limits.
pub fn serve_radio(dir: &Path) -> RunningServer {
    serve_radio_with(dir, |server| server)
}
