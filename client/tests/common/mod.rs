//! Songs and servers for the client's integration tests.
#![allow(dead_code)]

pub mod terminal;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use jukebox_protocol::handshake::HANDSHAKE_LEN;
use jukebox_protocol::{Goodbye, Message, PROTOCOL_VERSION, Request, Welcome, read_message};
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

/// A server on a free port of 127.0.0.1 over `dir`, with its station on the air (RFC §7.5),
/// and the station, for the test to watch.
pub fn serve_radio(dir: &Path) -> (RunningServer, jukebox_server::radio::Station) {
    let catalog = Catalog::scanned(dir).expect("scan the music folder");
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), catalog)
        .expect("bind")
        .with_radio()
        .expect("start the station");
    let station = server.station();
    (server.spawn(), station)
}

/// A server over `dir` on 127.0.0.1:`port`, for a test that needs a server back where an
/// earlier one was.
pub fn serve_on(dir: &Path, port: u16) -> RunningServer {
    let catalog = Catalog::scanned(dir).expect("scan the music folder");
    Server::bind(([127, 0, 0, 1], port).into(), catalog).expect("bind the same port again").spawn()
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
    // A client that refuses to start (a missing sound card) may exit before reading it.
    match child.stdin.take().expect("stdin").write_all(script.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write the script: {e}"),
        _ => {}
    }
    child.wait_with_output().expect("wait for jukebox-client")
}

/// [`run_client_with_env`] without extra environment.
pub fn run_client(port: u16, args: &[&str], script: &str) -> Output {
    run_client_with_env(port, args, &[], script)
}

/// A jukebox server played by the test itself, for behaviour a real server never shows
/// (hostile, broken or stuck). It accepts one connection, answers the handshake, and runs
/// `script` with the connection.
pub fn fake_server(script: impl FnOnce(Peer) + Send + 'static) -> FakeServer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a fake server");
    let port = listener.local_addr().expect("its address").port();
    let thread = std::thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else { return };
        let mut hello = [0u8; HANDSHAKE_LEN];
        if socket.read_exact(&mut hello).is_err() {
            return;
        }
        let welcome = Welcome { version: PROTOCOL_VERSION, server_max_version: PROTOCOL_VERSION };
        if socket.write_all(&welcome.encode()).is_err() {
            return;
        }
        script(Peer { socket, scratch: Vec::new() });
    });
    FakeServer { port, thread }
}

/// A running [`fake_server`].
pub struct FakeServer {
    /// Where it listens, on 127.0.0.1.
    pub port: u16,
    thread: std::thread::JoinHandle<()>,
}

impl FakeServer {
    /// Waits for the script to end; panics if it panicked (a failed assertion in it).
    pub fn join(self) {
        self.thread.join().expect("the fake server's script failed");
    }
}

/// The fake server's end of the connection.
pub struct Peer {
    /// The socket, for scripts that write raw bytes.
    pub socket: TcpStream,
    scratch: Vec<u8>,
}

impl Peer {
    /// The next message from the client; `None` when it hung up.
    pub fn next(&mut self) -> Option<Message> {
        read_message(&mut self.socket, &mut self.scratch).ok().flatten()
    }

    /// The client's next request other than a keepalive PING (which is answered); `None` when
    /// the client hung up or said GOODBYE.
    pub fn request(&mut self) -> Option<Request> {
        loop {
            match self.next()? {
                Message::Request(Request::Ping { id }) => self.send(&Message::Pong { id }),
                Message::Request(request) => return Some(request),
                Message::Goodbye(_) => return None,
                _ => {}
            }
        }
    }

    /// Sends a message; a client that has gone is not an error here.
    pub fn send(&mut self, message: &Message) {
        let _ = self.socket.write_all(&message.to_bytes().expect("a message that fits a frame"));
    }

    /// Reads and drops whatever comes until the client hangs up; returns the GOODBYE if the
    /// client said one.
    pub fn drain(&mut self) -> Option<Goodbye> {
        let mut goodbye = None;
        while let Some(message) = self.next() {
            if let Message::Goodbye(g) = message {
                goodbye = Some(g);
            }
        }
        goodbye
    }
}

/// Decodes a whole file, frame by frame as `jukebox_protocol::mp3::frames` finds them, into
/// 44.1 kHz interleaved stereo, as it is in the file: with the header frame (a frame of
/// silence) and the encoder's delay and padding.
pub fn decode(path: &Path) -> Vec<i16> {
    let file = std::fs::read(path).unwrap();
    let mut decoder = jukebox_codec::FrameDecoder::default();
    let mut out = Vec::new();
    for span in jukebox_protocol::mp3::frames(&file) {
        if let Some(frame) = decoder.decode(&file[span.offset..span.offset + span.header.len]) {
            assert_eq!(frame.sample_rate, 44_100);
            match frame.channels {
                1 => out.extend(frame.samples.iter().flat_map(|&s| [s, s])),
                _ => out.extend_from_slice(frame.samples),
            }
        }
    }
    out
}

/// The music of a LAME-encoded file as a gapless player plays it: [`decode`] without the
/// header frame (1152 samples), the encoder's delay and the decoder's 529 samples at the
/// start, and the padding less those 529 at the end (the numbers from the file's LAME tag).
pub fn decode_music(path: &Path) -> Vec<i16> {
    let file = std::fs::read(path).unwrap();
    let first = jukebox_protocol::mp3::frames(&file).next().expect("an MP3");
    let tag = jukebox_protocol::lame::parse(&file[first.offset..first.offset + first.header.len]);
    let gapless = tag.and_then(|t| t.lame).expect("a LAME tag").gapless;
    let mut song = decode(path).split_off(2 * (1152 + usize::from(gapless.delay) + 529));
    song.truncate(song.len() - 2 * usize::from(gapless.padding).saturating_sub(529));
    song
}
