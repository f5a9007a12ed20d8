//! A minimal blocking protocol client and synthetic songs for the server's integration tests.
#![allow(dead_code)]

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
        let mut socket = TcpStream::connect(addr).expect("connect");
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
