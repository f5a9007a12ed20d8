//! A jukebox upstream: another jukebox server, reached over the Jukebox Protocol with RELAY
//! (RFC §6.1.9). It says where each chunk sits on its station's clock, so a relay that
//! reconnects (to it or to another server of the same tree) resumes at the first frame it has
//! not sent.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use jukebox_protocol::frame::IDLE_TIMEOUT;
use jukebox_protocol::handshake::HANDSHAKE_LEN;
use jukebox_protocol::text::printable;
use jukebox_protocol::{
    Hello, Hop, Message, NodeId, PROTOCOL_VERSION, ReadError, Request, RequestId, StreamId, Welcome,
    read_message,
};

use super::Piece;

/// How long connecting, the handshake and the answer to RELAY may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long an upstream may send nothing before the relay gives up on it: it writes a relay
/// every chunk (209 ms) as it goes on the air, so this is a dozen chunks missed.
pub const STALL: Duration = Duration::from_secs(3);

/// How often the relay says it is alive: well within the upstream's idle timeout.
const PING_EVERY: Duration = Duration::from_secs(IDLE_TIMEOUT.as_secs() / 4);

/// The most frames read while waiting for the answer to RELAY (a server may send a
/// LIBRARY_CHANGED or the like first).
const MAX_FRAMES_BEFORE_ANSWER: usize = 16;

/// What a jukebox upstream answered.
#[derive(Debug)]
pub enum Answer {
    /// Taken in as a child: the station follows.
    Attached(Attached),
    /// Full: ask this address instead.
    Redirect(String),
}

/// A relay's connection to its parent.
#[derive(Debug)]
pub struct Attached {
    /// The connection, reading the station.
    pub source: JukeboxSource,
    /// The parent's identity.
    pub node: NodeId,
    /// The parent's path to the origin, origin first.
    pub path: Vec<Hop>,
    /// The station's format: (bitrate kbps, sample rate), 0 where not constant.
    pub format: (u16, u32),
}

/// Why an upstream could not be used or was lost, in words for the log.
#[derive(Debug, thiserror::Error)]
pub enum JukeboxError {
    /// The connection failed or broke.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// It answered, but not as a jukebox server of this version does.
    #[error("{0}")]
    Protocol(String),
    /// It refused (an ERROR or a GOODBYE): what it said.
    #[error("it said: {0}")]
    Refused(String),
    /// Nothing came for [`STALL`].
    #[error("nothing came for {} s", STALL.as_secs())]
    Stalled,
    /// Its station went off the air.
    #[error("its station went off the air")]
    OffAir,
}

/// The station as a jukebox parent sends it.
#[derive(Debug)]
pub struct JukeboxSource {
    socket: TcpStream,
    scratch: Vec<u8>,
    stream: StreamId,
    last_ping: Instant,
    /// When the last AUDIO of the stream came: [`STALL`] runs from there, whatever else the
    /// upstream sends (PONGs, TRACK_CHANGEDs) or however slowly it trickles a frame in.
    last_audio: Instant,
    next_id: u32,
    /// The newest Position ms, widened past its 32 bits (the clock wraps after 49 days).
    last_position: Option<u64>,
}

/// Connects to the jukebox at `address` (`host:port`) from `from` (the relay's own address,
/// so the parent sees where the relay's children reach it) and asks to relay as `node`, which
/// serves relays at `port`.
pub fn attach(address: &str, from: Option<IpAddr>, node: NodeId, port: u16) -> Result<Answer, JukeboxError> {
    let mut socket = connect(address, from)?;
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    socket.set_write_timeout(Some(CONNECT_TIMEOUT))?;
    socket.write_all(&Hello::current().encode())?;
    let mut welcome = [0u8; HANDSHAKE_LEN];
    Deadline { socket: &socket, deadline }.read_exact(&mut welcome)?;
    let welcome = Welcome::parse(&welcome)
        .map_err(|_| JukeboxError::Protocol("it answered, but not as a jukebox server does".into()))?;
    if welcome.version != PROTOCOL_VERSION {
        return Err(JukeboxError::Protocol(format!(
            "it speaks protocol versions up to {}, this server {PROTOCOL_VERSION}",
            welcome.server_max_version
        )));
    }
    let id = RequestId(1);
    let relay = Message::Request(Request::Relay { id, node, port });
    socket.write_all(&relay.to_bytes().map_err(|e| JukeboxError::Protocol(e.to_string()))?)?;
    let mut scratch = Vec::new();
    for _ in 0..MAX_FRAMES_BEFORE_ANSWER {
        match read(&socket, &mut scratch, deadline)? {
            Message::Relayed(relayed) if relayed.id == id => {
                let source = JukeboxSource {
                    socket,
                    scratch,
                    stream: relayed.stream,
                    last_ping: Instant::now(),
                    last_audio: Instant::now(),
                    next_id: 2,
                    last_position: None,
                };
                return Ok(Answer::Attached(Attached {
                    source,
                    node: relayed.node,
                    path: relayed.path,
                    format: (relayed.bitrate_kbps, relayed.sample_rate),
                }));
            }
            Message::Redirect(redirect) if redirect.id == id => {
                return Ok(Answer::Redirect(redirect.address));
            }
            Message::Error(error) if error.id == id => {
                return Err(JukeboxError::Refused(format!("{} ({})", printable(&error.message), error.code)));
            }
            Message::Error(error) if error.code == jukebox_protocol::ErrorCode::UnknownRequest => {
                return Err(JukeboxError::Refused("it is an older jukebox that cannot feed relays".into()));
            }
            Message::Goodbye(goodbye) => {
                return Err(JukeboxError::Refused(printable(&goodbye.text).into_owned()));
            }
            _ => {}
        }
    }
    Err(JukeboxError::Protocol("it did not answer RELAY in time".into()))
}

impl JukeboxSource {
    /// The next piece of the station. Blocks at most [`STALL`].
    pub fn piece(&mut self) -> Result<Piece, JukeboxError> {
        loop {
            if self.last_ping.elapsed() >= PING_EVERY {
                self.ping()?;
            }
            // A live upstream sends audio many times a second, so pings go out between.
            match read(&self.socket, &mut self.scratch, self.last_audio + STALL) {
                Ok(Message::Audio(audio)) if audio.stream == self.stream => {
                    self.last_audio = Instant::now();
                    let position = self.widen(audio.position_ms);
                    return Ok(Piece::Audio { frames: audio.data, position_ms: Some(position) });
                }
                Ok(Message::TrackChanged(track)) if track.stream == self.stream => {
                    let position = self.widen(track.position_ms);
                    return Ok(Piece::Song {
                        song: Some(track.track.song),
                        title: track.track.title,
                        artist: track.track.artist,
                        duration_ms: track.track.duration_ms,
                        position_ms: Some(position),
                    });
                }
                Ok(Message::EndOfStream(end)) if end.stream == self.stream => {
                    return Err(JukeboxError::OffAir);
                }
                Ok(Message::Goodbye(goodbye)) => {
                    return Err(JukeboxError::Refused(printable(&goodbye.text).into_owned()));
                }
                Ok(_) => {}
                Err(JukeboxError::Io(e))
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
                {
                    return Err(JukeboxError::Stalled);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn ping(&mut self) -> Result<(), JukeboxError> {
        self.next_id = self.next_id.wrapping_add(1).max(2);
        let ping = Message::Request(Request::Ping { id: RequestId(self.next_id) });
        self.socket.write_all(&ping.to_bytes().map_err(|e| JukeboxError::Protocol(e.to_string()))?)?;
        self.last_ping = Instant::now();
        Ok(())
    }

    /// A 32-bit Position ms as the 64-bit time nearest the previous one.
    fn widen(&mut self, position: u32) -> u64 {
        let widened = match self.last_position {
            None => u64::from(position),
            Some(last) => {
                let base = last & !0xFFFF_FFFF;
                [base.wrapping_sub(1 << 32), base, base + (1 << 32)]
                    .into_iter()
                    .map(|b| b.wrapping_add(u64::from(position)))
                    .min_by_key(|c| c.abs_diff(last))
                    .unwrap_or(u64::from(position))
            }
        };
        self.last_position = Some(widened);
        widened
    }
}

impl Drop for JukeboxSource {
    fn drop(&mut self) {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
    }
}

/// Reads from a socket until `deadline` in all, however slowly the bytes trickle in: a
/// timeout for each `read` alone lets an upstream that sends a byte now and then hold the
/// relay (and its failover) for as long as it likes.
struct Deadline<'a> {
    socket: &'a TcpStream,
    deadline: Instant,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "it took too long"));
        }
        self.socket.set_read_timeout(Some(left))?;
        (&*self.socket).read(buf)
    }
}

/// The next message, which must have come whole by `deadline`.
fn read(socket: &TcpStream, scratch: &mut Vec<u8>, deadline: Instant) -> Result<Message, JukeboxError> {
    match read_message(&mut Deadline { socket, deadline }, scratch) {
        Ok(Some(message)) => Ok(message),
        Ok(None) => {
            Err(JukeboxError::Io(io::Error::new(io::ErrorKind::UnexpectedEof, "it closed the connection")))
        }
        Err(ReadError::Io(e)) => Err(JukeboxError::Io(e)),
        Err(ReadError::Frame(e)) => Err(JukeboxError::Protocol(format!("it broke the protocol: {e}"))),
        Err(e) => Err(JukeboxError::Protocol(e.to_string())),
    }
}

/// Connects to `address`, from the address `from` when given.
fn connect(address: &str, from: Option<IpAddr>) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in address.to_socket_addrs()? {
        match connect_one(addr, from) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{address} has no address"))))
}

fn connect_one(addr: SocketAddr, from: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    if let Some(ip) = source_for(addr, from) {
        socket.bind(&SocketAddr::new(ip, 0).into())?;
    }
    socket.connect_timeout(&addr.into(), CONNECT_TIMEOUT)?;
    let stream: TcpStream = socket.into();
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The address to connect to `addr` from: the relay's own (`from`), when it can reach `addr`
/// from there. Not when it is unspecified or of the other family, and not a loopback address
/// for an upstream elsewhere: a socket bound to 127.0.0.1 cannot reach another host (the
/// connect fails with EINVAL), so a relay listening on localhost could relay only itself.
fn source_for(addr: SocketAddr, from: Option<IpAddr>) -> Option<IpAddr> {
    from.filter(|ip| {
        !ip.is_unspecified()
            && ip.is_ipv4() == addr.is_ipv4()
            && (!ip.is_loopback() || addr.ip().is_loopback())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream that answers the handshake, then runs `script` on the connection.
    fn upstream(script: impl FnOnce(TcpStream) + Send + 'static) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut hello = [0u8; HANDSHAKE_LEN];
            socket.read_exact(&mut hello).unwrap();
            let welcome = Welcome { version: PROTOCOL_VERSION, server_max_version: PROTOCOL_VERSION };
            socket.write_all(&welcome.encode()).unwrap();
            script(socket);
        });
        address
    }

    /// Writes `bytes` one at a time, a little slower than one per `gap`.
    fn trickle(socket: &mut TcpStream, bytes: &[u8], gap: Duration) {
        for b in bytes {
            if socket.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(gap);
        }
    }

    fn relayed() -> Vec<u8> {
        let relayed = jukebox_protocol::Relayed {
            id: RequestId(1),
            stream: StreamId(1),
            bitrate_kbps: 128,
            sample_rate: 44_100,
            node: NodeId(5),
            path: Vec::new(),
        };
        Message::Relayed(relayed).to_bytes().unwrap()
    }

    #[test]
    fn an_upstream_that_trickles_its_answer_is_given_up_in_time() {
        let address = upstream(|mut socket| trickle(&mut socket, &relayed(), Duration::from_millis(400)));
        let started = Instant::now();
        let answer = attach(&address, None, NodeId(9), 1);
        assert!(answer.is_err(), "{answer:?}");
        assert!(started.elapsed() < CONNECT_TIMEOUT + Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[test]
    fn an_upstream_that_sends_everything_but_audio_stalls() {
        let address = upstream(|mut socket| {
            socket.write_all(&relayed()).unwrap();
            // A title every half second, and a frame trickled in: never any audio.
            for n in 0..40u32 {
                let changed = Message::TrackChanged(jukebox_protocol::TrackChanged {
                    stream: StreamId(1),
                    offset: 0,
                    position_ms: n,
                    track: jukebox_protocol::Track {
                        song: jukebox_protocol::SongId(n + 1),
                        duration_ms: 0,
                        title: format!("t{n}"),
                        artist: String::new(),
                    },
                });
                if socket.write_all(&changed.to_bytes().unwrap()).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        let Ok(Answer::Attached(mut attached)) = attach(&address, None, NodeId(9), 1) else {
            panic!("not attached")
        };
        let started = Instant::now();
        let end = loop {
            match attached.source.piece() {
                Ok(_) => assert!(started.elapsed() < STALL + Duration::from_secs(2), "never stalls"),
                Err(e) => break e,
            }
        };
        assert!(matches!(end, JukeboxError::Stalled), "{end}");
    }

    #[test]
    fn a_relay_on_loopback_reaches_upstreams_elsewhere_unbound() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(source_for(at("192.0.2.7:9"), ip("127.0.0.1")), None);
        assert_eq!(source_for(at("127.0.0.1:9"), ip("127.0.0.1")), ip("127.0.0.1"));
        assert_eq!(source_for(at("[2001:db8::1]:9"), ip("::1")), None);
        assert_eq!(source_for(at("192.0.2.7:9"), ip("192.0.2.2")), ip("192.0.2.2"));
        assert_eq!(source_for(at("192.0.2.7:9"), ip("0.0.0.0")), None);
        assert_eq!(source_for(at("[2001:db8::1]:9"), ip("192.0.2.2")), None);
    }

    #[test]
    fn positions_widen_across_the_32_bit_wrap() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let socket = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let mut source = JukeboxSource {
            socket,
            scratch: Vec::new(),
            stream: StreamId(1),
            last_ping: Instant::now(),
            last_audio: Instant::now(),
            next_id: 2,
            last_position: None,
        };
        assert_eq!(source.widen(u32::MAX - 100), u64::from(u32::MAX - 100));
        assert_eq!(source.widen(108), (1u64 << 32) + 108);
        assert_eq!(source.widen(u32::MAX - 50), u64::from(u32::MAX - 50), "a burst from before the wrap");
    }
}
