//! Relaying an Icecast/SHOUTcast station: [`IcySource`] asks it for its stream over HTTP/1.0
//! with ICY metadata, and turns what it sends into [`Piece`]s for the relay: whole MPEG audio
//! frames, and a song whenever its StreamTitle changes.
//!
//! ```text
//! socket ──read (≤ READ_SIZE, deadline: STALL after the last frame)──▶ metadata::Demux
//!   audio bytes ──▶ FrameSync (protocol::resync) ──▶ whole frames ──▶ batch (≤ MAX_BATCH)
//!   blocks ──▶ stream_title ──▶ Piece::Song when it changes, after the frames before it
//! ```
//!
//! One blocking thread (the relay's) owns the source and calls [`IcySource::next`]; nothing
//! here spawns a thread. Every buffer is bounded: one read, one metadata block, the frame
//! synchroniser's window, one batch of frames and the pieces one read can make. A station that
//! stops sending audio (or sends only junk) is an error after [`STALL`], so that the relay can
//! fail over to another upstream.

mod metadata;
mod response;

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use jukebox_protocol::mp3::AudioHeader;
use jukebox_protocol::resync::FrameSync;

pub use metadata::{Chunk, Demux, MAX_BLOCK, artist_and_title, stream_title};
pub use response::MAX_METAINT;
use response::{Answer, shown};

use super::Piece;
use crate::http::client::{self, Url};
use crate::http::head::HeadError;

/// How long a station may send no audio frame before it counts as gone. Icecast sends its
/// listeners a burst at connect and then audio in real time, many times a second.
pub const STALL: Duration = Duration::from_secs(5);

/// Redirects followed before giving up (a loop, or a chain no player would follow).
pub const MAX_REDIRECTS: usize = 5;

/// The most audio one [`Piece::Audio`] carries: about 4 s at 128 kbit/s.
pub const MAX_BATCH: usize = 64 * 1024;

/// Bytes asked of the socket at a time.
const READ_SIZE: usize = 16 * 1024;

/// Bytes of junk in a row after which the stream counts as not MPEG audio at all (a station
/// that says `application/octet-stream` and sends AAC, say).
pub const MAX_JUNK: u64 = 64 * 1024;

/// What the relay sends with its request: who it is.
const USER_AGENT: &str = concat!("jukebox/", env!("CARGO_PKG_VERSION"));

/// Why a station cannot be relayed, or stopped being relayed, in words for the person who
/// started the relay.
#[derive(Debug, thiserror::Error)]
pub enum IcyError {
    /// The URL (or a redirect's) is not `http://`: TLS is not spoken here.
    #[error("{url}: only http:// stations can be relayed")]
    NotHttp {
        /// The URL.
        url: String,
    },
    /// The URL names no host, or its host has no address.
    #[error("{url}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TCP connection could not be made, or broke while the request was sent.
    #[error("cannot reach the station at {to}: {source}")]
    Connect {
        /// `host:port`.
        to: String,
        /// Why.
        source: io::Error,
    },
    /// The station sent no complete response head in time, closed before one, or sent
    /// something that is not HTTP or ICY.
    #[error("the station at {to} {why}")]
    NoAnswer {
        /// `host:port`.
        to: String,
        /// What happened instead of an answer.
        why: &'static str,
    },
    /// The station answered something else than 200 (or a redirect that can be followed).
    #[error("the station answered {status} {reason}")]
    Status {
        /// The status code.
        status: u16,
        /// Its reason phrase, printable.
        reason: String,
    },
    /// More than [`MAX_REDIRECTS`] redirects in a row.
    #[error("the station redirected more than {MAX_REDIRECTS} times (last to {url})")]
    TooManyRedirects {
        /// Where the last one pointed.
        url: String,
    },
    /// A redirect to somewhere that is not an `http://` URL.
    #[error("the station redirected to {location}, which is not an http:// URL")]
    BadRedirect {
        /// The `Location`, printable.
        location: String,
    },
    /// The station's `Content-Type` is not MPEG audio.
    #[error("the station streams {format}; jukebox relays MP3 only")]
    NotMp3 {
        /// What it streams ("AAC", "Ogg", or its content type, printable).
        format: String,
    },
    /// `Transfer-Encoding: chunked` (or another coding): the body is not the stream itself.
    #[error("the station sends its stream with a Transfer-Encoding, which jukebox does not read")]
    Chunked,
    /// An `icy-metaint` that is not a number from 1 to [`MAX_METAINT`].
    #[error("the station's icy-metaint {value:?} is not a usable interval (1 to {MAX_METAINT} bytes)")]
    BadMetaint {
        /// The value sent, printable.
        value: String,
    },
    /// No audio frame for [`STALL`].
    #[error("the station sent no audio for {} s", STALL.as_secs())]
    Stalled,
    /// [`MAX_JUNK`] bytes in a row that are not MPEG audio.
    #[error("the station's stream is not MP3: {MAX_JUNK} bytes without an MPEG audio frame")]
    NotMpegAudio,
    /// The station closed the connection.
    #[error("the station closed the stream")]
    Closed,
    /// Reading from the station failed.
    #[error("reading from the station failed: {0}")]
    Read(io::Error),
}

/// What the first frame of a station says, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// Bitrate of that frame in kbit/s.
    pub bitrate_kbps: u32,
    /// Sampling rate in Hz.
    pub sample_rate: u32,
    /// 1 for mono, 2 otherwise.
    pub channels: u8,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let channels = if self.channels == 1 { "mono" } else { "stereo" };
        write!(f, "{} kbit/s, {} Hz, {channels}", self.bitrate_kbps, self.sample_rate)
    }
}

/// An Icecast/SHOUTcast station being relayed (the module's diagram).
#[derive(Debug)]
pub struct IcySource {
    url: Url,
    name: String,
    format: Format,
    stream: Stream,
}

impl IcySource {
    /// Asks the station at `url` for its stream, following up to [`MAX_REDIRECTS`] redirects;
    /// each connection and response head must come within `timeout`. Returns once the stream
    /// is known to be MP3 (its first frames have come, and its first metadata block when it
    /// sends metadata), so that a station that cannot be relayed fails here.
    pub fn connect(url: &Url, timeout: Duration) -> Result<IcySource, IcyError> {
        let mut url = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let (socket, head, body) = request(&url, timeout)?;
            match response::judge(&url, &head)? {
                Answer::Redirect(next) => url = next,
                Answer::Stream { metaint, name } => {
                    let mut stream = Stream::new(socket, metaint);
                    let first = stream.prime(&body)?;
                    let format = Format {
                        bitrate_kbps: first.bitrate_kbps,
                        sample_rate: first.sample_rate,
                        channels: first.channels,
                    };
                    return Ok(IcySource { url, name, format, stream });
                }
            }
        }
        Err(IcyError::TooManyRedirects { url: shown(url.as_str()) })
    }

    /// The next piece: a [`Piece::Song`] when the title changes (before the audio that
    /// follows it), else a [`Piece::Audio`] of whole frames (at most [`MAX_BATCH`] bytes).
    /// Blocks until the station sends enough; an error ends the stream.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Piece, IcyError> {
        self.stream.next()
    }

    /// The station's name (`icy-name`), printable; empty if it gave none.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the station's first frame said.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Where the stream comes from, after redirects.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

/// Connects to `url`, sends the GET and reads the response head: the socket, the head, and
/// the start of the body read with it.
fn request(url: &Url, timeout: Duration) -> Result<(TcpStream, client::ResponseHead, Vec<u8>), IcyError> {
    if url.scheme() != "http" {
        return Err(IcyError::NotHttp { url: shown(url.as_str()) });
    }
    let bad_url = |e: io::Error| IcyError::BadUrl { url: shown(url.as_str()), reason: e.to_string() };
    let (host, port) = client::authority(url).map_err(bad_url)?;
    let to = format!("{host}:{port}");
    let connect_error = |source| IcyError::Connect { to: to.clone(), source };
    let mut socket = client::connect(&host, port, timeout).map_err(connect_error)?;
    socket.set_write_timeout(Some(timeout)).map_err(connect_error)?;
    socket.write_all(request_head(url).as_bytes()).map_err(connect_error)?;
    let (head, body) = client::read_response(&socket, Instant::now() + timeout).map_err(|e| {
        let why = match e {
            HeadError::TimedOut => "did not answer in time",
            HeadError::Closed => "closed the connection without answering",
            HeadError::TooLarge => "answered with a head too large to be HTTP",
            _ => "did not answer with HTTP",
        };
        IcyError::NoAnswer { to: to.clone(), why }
    })?;
    Ok((socket, head, body))
}

/// The request for `url`'s stream. HTTP/1.0, because a 1.1 server may answer chunked, which
/// players do not expect of a station; `Icy-MetaData: 1` asks for the titles.
fn request_head(url: &Url) -> String {
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let path = if path.is_empty() { "/" } else { path };
    let host = url.host_str().unwrap_or_default();
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let auth = client::credentials(url)
        .map(|(user, password)| format!("Authorization: {}\r\n", client::basic_auth(&user, &password)))
        .unwrap_or_default();
    format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\n\
         Icy-MetaData: 1\r\n{auth}Connection: close\r\n\r\n"
    )
}

/// The stream after the head: the socket, and what turns its bytes into pieces.
#[derive(Debug)]
struct Stream {
    socket: TcpStream,
    /// `None` when the station sends no metadata: every byte is audio.
    demux: Option<Demux>,
    sync: FrameSync,
    /// The header of the first frame found.
    first: Option<AudioHeader>,
    /// Frames found and not yet made a piece: at most [`MAX_BATCH`] bytes.
    batch: Vec<u8>,
    /// Pieces made and not yet handed out: what one read (or the first reads) made.
    ready: VecDeque<Piece>,
    /// The last StreamTitle read (whole, before it is split into artist and title).
    title: Option<String>,
    /// When the last frame was found: the stall deadline runs from there.
    last_frame: Instant,
    /// [`FrameSync::junk`] when the last frame was found.
    junk_at_last_frame: u64,
    read_buf: Box<[u8]>,
}

impl Stream {
    fn new(socket: TcpStream, metaint: Option<usize>) -> Stream {
        Stream {
            socket,
            demux: metaint.map(Demux::new),
            sync: FrameSync::new(),
            first: None,
            batch: Vec::with_capacity(MAX_BATCH),
            ready: VecDeque::new(),
            title: None,
            last_frame: Instant::now(),
            junk_at_last_frame: 0,
            read_buf: vec![0; READ_SIZE].into_boxed_slice(),
        }
    }

    /// Reads the start of the stream (`body`, what came with the head, first): until the first
    /// frames, and until the first metadata block when there is metadata (Icecast sends a
    /// burst at connect, so this is quick), or half a batch. Then the first piece is the song
    /// the StreamTitle names, if it names one.
    /// Returns the first frame's header.
    fn prime(&mut self, body: &[u8]) -> Result<AudioHeader, IcyError> {
        self.feed(body)?;
        loop {
            let waits_for_title = self.demux.as_ref().is_some_and(|d| d.blocks() == 0);
            if let Some(first) = self.first
                && (!waits_for_title || self.batch.len() >= MAX_BATCH / 2 || !self.ready.is_empty())
            {
                self.flush();
                // A block names what is playing, so the first title is the audio's before it too.
                let first_song_at = self.ready.iter().position(|p| matches!(p, Piece::Song { .. }));
                // Without one, the relay titles the stream with the station's name (`name`)
                // until a block names a song; that is not a song of its own.
                if let Some(first_song) = first_song_at.and_then(|i| self.ready.remove(i)) {
                    self.ready.push_front(first_song);
                }
                return Ok(first);
            }
            let n = self.read_more()?;
            let buf = std::mem::take(&mut self.read_buf);
            let fed = self.feed(&buf[..n]);
            self.read_buf = buf;
            fed?;
        }
    }

    fn next(&mut self) -> Result<Piece, IcyError> {
        loop {
            if let Some(piece) = self.ready.pop_front() {
                return Ok(piece);
            }
            let n = self.read_more()?;
            let buf = std::mem::take(&mut self.read_buf);
            let fed = self.feed(&buf[..n]);
            self.read_buf = buf;
            fed?;
            self.flush();
        }
    }

    /// Reads what the station has sent, waiting at most until [`STALL`] after the last frame.
    fn read_more(&mut self) -> Result<usize, IcyError> {
        loop {
            let left = (self.last_frame + STALL).saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(IcyError::Stalled);
            }
            self.socket.set_read_timeout(Some(left)).map_err(IcyError::Read)?;
            match self.socket.read(&mut self.read_buf) {
                Ok(0) => return Err(IcyError::Closed),
                Ok(n) => return Ok(n),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(IcyError::Read(e)),
            }
        }
    }

    /// Takes in `bytes` read from the station: audio to the frame synchroniser, titles to songs.
    fn feed(&mut self, bytes: &[u8]) -> Result<(), IcyError> {
        let mut input = bytes;
        match self.demux.take() {
            None => self.audio(input),
            Some(mut demux) => {
                while let Some(chunk) = demux.next(&mut input) {
                    match chunk {
                        Chunk::Audio(audio) => self.audio(audio),
                        Chunk::Block(block) => self.block(&block),
                    }
                }
                self.demux = Some(demux);
            }
        }
        if self.sync.junk() - self.junk_at_last_frame > MAX_JUNK {
            return Err(IcyError::NotMpegAudio);
        }
        Ok(())
    }

    /// Finds the frames `audio` completes and adds them to the batch.
    fn audio(&mut self, mut audio: &[u8]) {
        let mut found = false;
        loop {
            while let Some(frame) = self.sync.pop() {
                if self.batch.len() + frame.bytes.len() > MAX_BATCH {
                    self.ready.push_back(audio_piece(&mut self.batch));
                }
                self.batch.extend_from_slice(frame.bytes);
                self.first.get_or_insert(frame.header);
                found = true;
            }
            if audio.is_empty() {
                break;
            }
            let n = self.sync.push(audio);
            audio = &audio[n..];
        }
        if found {
            self.last_frame = Instant::now();
            self.junk_at_last_frame = self.sync.junk();
        }
    }

    /// A metadata block: a song, after the frames found before it, if its title is new.
    fn block(&mut self, block: &[u8]) {
        let Some(title) = stream_title(block) else { return };
        if self.title.as_deref() == Some(title.as_str()) {
            return;
        }
        self.flush();
        // Two titles with no audio between them: only the second is heard.
        if matches!(self.ready.back(), Some(Piece::Song { .. })) {
            self.ready.pop_back();
        }
        let (artist, name) = artist_and_title(&title);
        self.ready.push_back(song(artist, name));
        self.title = Some(title);
    }

    /// Makes the batch a piece, if it holds any frame.
    fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.ready.push_back(audio_piece(&mut self.batch));
        }
    }
}

/// The batch as a piece, leaving it empty. Copied, so that a piece the relay queues holds no
/// more memory than its frames, and the batch keeps its room.
fn audio_piece(batch: &mut Vec<u8>) -> Piece {
    let frames = batch.clone();
    batch.clear();
    Piece::Audio { frames, position_ms: None }
}

/// A song of an ICY station: no id, duration or position.
fn song(artist: String, title: String) -> Piece {
    Piece::Song { song: None, title, artist, duration_ms: 0, position_ms: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_asks_for_metadata_as_http_1_0_with_the_host_and_credentials() {
        let url = Url::parse("http://dj:s%40cret@radio.example:8000/live?x=1").unwrap();
        let head = request_head(&url);
        assert!(head.starts_with("GET /live?x=1 HTTP/1.0\r\nHost: radio.example:8000\r\n"), "{head}");
        assert!(head.contains("\r\nIcy-MetaData: 1\r\n"));
        assert!(head.contains(&format!("\r\nUser-Agent: jukebox/{}\r\n", env!("CARGO_PKG_VERSION"))));
        assert!(head.contains(&format!("\r\nAuthorization: {}\r\n", client::basic_auth("dj", "s@cret"))));
        assert!(head.ends_with("\r\n\r\n"));
        let plain = request_head(&Url::parse("http://radio.example").unwrap());
        assert!(plain.starts_with("GET / HTTP/1.0\r\nHost: radio.example\r\n"), "{plain}");
        assert!(!plain.contains("Authorization"));
    }

    #[test]
    fn only_http_urls_are_asked() {
        let url = Url::parse("https://radio.example/live").unwrap();
        let error = IcySource::connect(&url, Duration::from_secs(1)).unwrap_err();
        assert_eq!(error.to_string(), "https://radio.example/live: only http:// stations can be relayed");
    }

    /// A stream over a loopback socket nobody writes to: fed by hand.
    fn stream(metaint: Option<usize>) -> Stream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let socket = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        Stream::new(socket, metaint)
    }

    /// `n` frames of 417 bytes (128 kbit/s, 44.1 kHz), then the header of one more.
    fn frames(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.extend([0xFF, 0xFB, 0x90, 0x00]);
            out.resize(out.len() + 413, 0x11);
        }
        out.extend([0xFF, 0xFB, 0x90, 0x00]);
        out
    }

    fn block(text: &str) -> Vec<u8> {
        let units = text.len().div_ceil(16);
        let mut out = vec![units as u8];
        out.extend(text.as_bytes());
        out.resize(1 + units * 16, 0);
        out
    }

    fn kinds(ready: &VecDeque<Piece>) -> Vec<String> {
        ready
            .iter()
            .map(|p| match p {
                Piece::Audio { frames, .. } => format!("{} frames", frames.len() / 417),
                Piece::Song { artist, title, .. } => format!("{artist}|{title}"),
            })
            .collect()
    }

    /// `audio` with a block after every `metaint` bytes: the k-th is `titles`' for k, if any.
    fn interleave(audio: &[u8], metaint: usize, titles: &[(usize, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, chunk) in audio.chunks(metaint).enumerate() {
            out.extend(chunk);
            if chunk.len() == metaint {
                match titles.iter().find(|(at, _)| *at == k) {
                    Some((_, title)) => out.extend(block(&format!("StreamTitle='{title}';"))),
                    None => out.push(0),
                }
            }
        }
        out
    }

    #[test]
    fn the_first_title_names_the_audio_before_it() {
        // The block comes after 1000 bytes: 2 frames are whole (the third waits for the header
        // after it) and yet the song comes first.
        let bytes = interleave(&frames(6), 1000, &[(0, "A - One"), (1, "B - Two")]);
        let mut stream = stream(Some(1000));
        let first = stream.prime(&bytes).unwrap();
        assert_eq!(first.bitrate_kbps, 128);
        assert_eq!(kinds(&stream.ready), ["A|One", "2 frames", "2 frames", "B|Two", "2 frames"]);
    }

    #[test]
    fn titles_without_audio_between_them_collapse_into_the_last() {
        // Blocks after 100 bytes (no frame yet), 500 (one frame), 600 (still one).
        let bytes = interleave(&frames(6), 100, &[(0, "A - One"), (4, "B - Two"), (5, "C - Three")]);
        let mut stream = stream(Some(100));
        stream.prime(&bytes).unwrap();
        assert_eq!(kinds(&stream.ready), ["A|One", "1 frames", "C|Three", "5 frames"]);
    }

    #[test]
    fn without_a_title_there_is_no_song_only_audio() {
        // (The relay titles such a stream with the station's name.)
        let mut stream = stream(None);
        stream.prime(&frames(3)).unwrap();
        assert_eq!(kinds(&stream.ready), ["3 frames"]);
    }

    #[test]
    fn the_format_reads_for_a_person() {
        let format = Format { bitrate_kbps: 128, sample_rate: 44_100, channels: 2 };
        assert_eq!(format.to_string(), "128 kbit/s, 44100 Hz, stereo");
    }
}
