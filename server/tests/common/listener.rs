//! A listener of the station on a thread, for tests that watch a stream while they kill and
//! restart servers under it: what it heard, with when, and whether its stream ended.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jukebox_protocol::handshake::HANDSHAKE_LEN;
use jukebox_protocol::{Hello, Message, NodeId, Request, RequestId, read_message};

/// What a listener received, with when.
#[derive(Debug, Default)]
pub struct Heard {
    pub tracks: Vec<(u32, u32)>,
    /// (arrival, offset, position ms, data).
    pub audio: Vec<(Instant, u64, u32, Vec<u8>)>,
    /// Why the stream ended, if it did.
    pub ended: Option<String>,
}

impl Heard {
    pub fn seconds(&self) -> f64 {
        self.audio.iter().map(|(_, _, _, data)| frames(data).len()).sum::<usize>() as f64 * FRAME_S
    }

    /// Silent frames (all-zero side information and data), in seconds.
    pub fn silence(&self) -> f64 {
        let silent: usize = self
            .audio
            .iter()
            .map(|(_, _, _, data)| frames(data).iter().filter(|f| f[4..].iter().all(|&b| b == 0)).count())
            .sum();
        silent as f64 * FRAME_S
    }
}

pub const FRAME_S: f64 = 1152.0 / 44_100.0;

pub fn frames(data: &[u8]) -> Vec<&[u8]> {
    jukebox_protocol::mp3::frames(data).map(|f| &data[f.offset..f.offset + f.header.len]).collect()
}

/// Listens to the station at `addr` on a thread: with TUNE, or with RELAY (`as_relay`), which
/// is sent each chunk as it goes on the air, for measuring when that is.
pub fn listen(addr: SocketAddr, as_relay: bool) -> Arc<Mutex<Heard>> {
    let heard = Arc::new(Mutex::new(Heard::default()));
    let sink = Arc::clone(&heard);
    std::thread::spawn(move || {
        let end = |why: String| sink.lock().unwrap().ended = Some(why);
        let mut socket = match TcpStream::connect(addr) {
            Ok(socket) => socket,
            Err(e) => return end(e.to_string()),
        };
        socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        socket.write_all(&Hello::current().encode()).unwrap();
        let mut welcome = [0u8; HANDSHAKE_LEN];
        if let Err(e) = socket.read_exact(&mut welcome) {
            return end(e.to_string());
        }
        let id = RequestId(1);
        let request = if as_relay {
            Request::Relay { id, node: NodeId(fastrand::u64(1..)), port: 9 }
        } else {
            Request::Tune { id }
        };
        socket.write_all(&Message::Request(request).to_bytes().unwrap()).unwrap();
        let mut scratch = Vec::new();
        loop {
            match read_message(&mut socket, &mut scratch) {
                Ok(Some(Message::Audio(audio))) => {
                    sink.lock().unwrap().audio.push((
                        Instant::now(),
                        audio.offset,
                        audio.position_ms,
                        audio.data,
                    ));
                }
                Ok(Some(Message::TrackChanged(t))) => {
                    sink.lock().unwrap().tracks.push((t.track.song.0, t.position_ms))
                }
                Ok(Some(Message::Tuned(_) | Message::Relayed(_))) => {}
                Ok(Some(other)) => return end(format!("{other:?}")),
                Ok(None) => return end("closed".into()),
                Err(e) => return end(e.to_string()),
            }
        }
    });
    heard
}

/// Waits until `done` holds of what `heard` holds, at most `limit`.
pub fn wait(heard: &Arc<Mutex<Heard>>, limit: Duration, what: &str, done: impl Fn(&Heard) -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        {
            let heard = heard.lock().unwrap();
            assert!(heard.ended.is_none(), "the stream ended while waiting for {what}: {:?}", heard.ended);
            if done(&heard) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The stream's offsets are contiguous and its positions only go forward.
pub fn assert_continuous(heard: &Heard) {
    let mut next_offset = 0;
    let mut last_position = None;
    for (_, offset, position, data) in &heard.audio {
        assert_eq!(*offset, next_offset, "offsets are contiguous");
        next_offset += data.len() as u64;
        if let Some(last) = last_position {
            assert!(*position > last, "positions go forward: {last} then {position}");
        }
        last_position = Some(*position);
    }
}
