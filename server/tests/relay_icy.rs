//! `IcySource` against a real jukebox origin's `/radio`, and against stations scripted on a
//! local socket that do what real ones do: SHOUTcast's status line, a stream that starts
//! mid-frame, the largest metadata block, Latin-1 titles, redirects, refusals, stalls and
//! closes.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{serve_radio, synthetic_audio, tone_mp3};
use jukebox_server::http::client::Url;
use jukebox_server::relay::Piece;
use jukebox_server::relay::icy::{IcyError, IcySource, STALL};

const TIMEOUT: Duration = Duration::from_secs(5);
const FRAME_LEN: usize = common::FRAME_LEN;

/// A station on a free port of 127.0.0.1: each connection's request head goes to the returned
/// receiver, and `script` answers it (connections are taken one at a time, numbered from 0).
fn station(script: impl Fn(usize, TcpStream) + Send + 'static) -> (Url, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = Url::parse(&format!("http://{}/live", listener.local_addr().unwrap())).unwrap();
    let (heads, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (i, socket) in listener.incoming().enumerate() {
            let Ok(mut socket) = socket else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                if socket.read(&mut byte).unwrap_or(0) == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            let _ = heads.send(String::from_utf8_lossy(&head).into_owned());
            script(i, socket);
        }
    });
    (url, rx)
}

/// A station that sends `bytes` to every listener and closes.
fn sends(bytes: Vec<u8>) -> Url {
    station(move |_, mut socket| {
        let _ = socket.write_all(&bytes);
    })
    .0
}

/// A metadata block holding `text`: its length byte, then the text padded with zeros.
fn block(text: &[u8]) -> Vec<u8> {
    let units = text.len().div_ceil(16);
    let mut out = vec![u8::try_from(units).unwrap()];
    out.extend_from_slice(text);
    out.resize(1 + units * 16, 0);
    out
}

/// `audio` with a block after every `metaint` bytes: `blocks(k)` after the k-th (from 0).
fn interleave(audio: &[u8], metaint: usize, blocks: impl Fn(usize) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, chunk) in audio.chunks(metaint).enumerate() {
        out.extend_from_slice(chunk);
        if chunk.len() == metaint {
            out.extend(blocks(k));
        }
    }
    out
}

/// Every piece until the stream ends, and how it ended.
fn drain(source: &mut IcySource) -> (Vec<Piece>, IcyError) {
    let mut pieces = Vec::new();
    loop {
        match source.next() {
            Ok(piece) => pieces.push(piece),
            Err(e) => return (pieces, e),
        }
    }
}

/// The audio of `pieces`, checked to be whole frames.
fn audio_of(pieces: &[Piece]) -> Vec<u8> {
    let mut audio = Vec::new();
    for piece in pieces {
        if let Piece::Audio { frames, position_ms } = piece {
            assert_eq!(*position_ms, None);
            let mut next = 0;
            for frame in jukebox_protocol::mp3::frames(frames) {
                assert_eq!(frame.offset, next, "frames back to back");
                next += frame.header.len;
            }
            assert_eq!(next, frames.len(), "whole frames only");
            audio.extend_from_slice(frames);
        }
    }
    audio
}

/// The (artist, title) of each song among `pieces`.
fn songs_of(pieces: &[Piece]) -> Vec<(String, String)> {
    pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Song { song, title, artist, duration_ms, position_ms } => {
                assert_eq!((*song, *duration_ms, *position_ms), (None, 0, None));
                Some((artist.clone(), title.clone()))
            }
            Piece::Audio { .. } => None,
        })
        .collect()
}

fn pair(artist: &str, title: &str) -> (String, String) {
    (artist.to_string(), title.to_string())
}

/// `GET /status.json` of a jukebox's HTTP side.
fn status(addr: SocketAddr) -> serde_json::Value {
    let mut socket = TcpStream::connect(addr).unwrap();
    write!(socket, "GET /status.json HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut bytes = Vec::new();
    socket.read_to_end(&mut bytes).unwrap();
    let body = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    serde_json::from_slice(&bytes[body..]).unwrap()
}

#[test]
fn a_jukebox_origin_relays_as_decodable_frames_titled_like_its_status() {
    let dir = tempfile::tempdir().unwrap();
    tone_mp3(&dir.path().join("01.mp3"), 8.0, 440.0, "Song 1", "Tester 1");
    tone_mp3(&dir.path().join("02.mp3"), 8.0, 660.0, "Song 2", "Tester 2");
    let server = serve_radio(dir.path());
    let http = server.http.unwrap();
    let url = Url::parse(&format!("http://{http}/radio")).unwrap();

    let mut source = IcySource::connect(&url, TIMEOUT).unwrap();
    let format = source.format();
    assert_eq!((format.bitrate_kbps, format.sample_rate, format.channels), (128, 44_100, 2));
    let first = source.next().unwrap();
    let now = status(http)["now"].clone();
    let Piece::Song { artist, title, .. } = first else { panic!("a song first: {first:?}") };
    assert_eq!(
        (artist.as_str(), title.as_str()),
        (now["artist"].as_str().unwrap(), now["title"].as_str().unwrap())
    );

    let mut decoder = jukebox_codec::FrameDecoder::default();
    let (mut frames, mut decoded) = (0, 0);
    while frames < 60 {
        if let Piece::Audio { frames: batch, .. } = source.next().unwrap() {
            for frame in jukebox_protocol::mp3::frames(&batch) {
                frames += 1;
                let bytes = &batch[frame.offset..frame.offset + frame.header.len];
                decoded += usize::from(decoder.decode(bytes).is_some_and(|d| !d.samples.is_empty()));
            }
        }
    }
    assert!(decoded + 2 >= frames, "{decoded} of {frames} frames decode");
    server.shutdown();
}

#[test]
fn a_shoutcast_station_is_asked_for_metadata_and_read_through_its_icy_status_line() {
    let audio = synthetic_audio(40, 1);
    let stream = interleave(&audio, 8192, |k| match k {
        0 => block(b"StreamTitle='Guns N' Roses - Don't Cry';StreamUrl='';"),
        _ => vec![0],
    });
    let (url, heads) = station(move |_, mut socket| {
        let _ = socket.write_all(b"ICY 200 OK\r\nicy-name: Old\tSchool\r\nicy-metaint: 8192\r\n\r\n");
        let _ = socket.write_all(&stream);
    });
    let mut source = IcySource::connect(&url, TIMEOUT).unwrap();
    let head = heads.recv().unwrap();
    assert!(head.starts_with("GET /live HTTP/1.0\r\n"), "{head}");
    assert!(head.contains("\r\nIcy-MetaData: 1\r\n") && head.contains("\r\nUser-Agent: jukebox/"), "{head}");
    assert!(head.contains(&format!("\r\nHost: {}:{}\r\n", url.host_str().unwrap(), url.port().unwrap())));
    assert_eq!(source.name(), "Old School");

    let (pieces, end) = drain(&mut source);
    assert!(matches!(end, IcyError::Closed), "{end}");
    assert_eq!(songs_of(&pieces), [pair("Guns N' Roses", "Don't Cry")]);
    assert!(matches!(pieces[0], Piece::Song { .. }), "the title before the audio");
    // The last frame waits for a header after it that never comes.
    assert_eq!(audio_of(&pieces), audio[..39 * FRAME_LEN]);
}

#[test]
fn a_stream_that_starts_mid_frame_after_junk_gives_whole_frames_and_no_song() {
    let audio = synthetic_audio(30, 7);
    let mut stream = b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-name: Night Radio\r\n\r\n".to_vec();
    stream.extend(b"\x00junk\xff\xfe");
    stream.extend(&audio[200..]);
    let mut source = IcySource::connect(&sends(stream), TIMEOUT).unwrap();
    let (pieces, end) = drain(&mut source);
    assert!(matches!(end, IcyError::Closed), "{end}");
    // No metadata: no song (the relay titles the stream with the station's name).
    assert!(songs_of(&pieces).is_empty());
    assert_eq!(source.name(), "Night Radio");
    assert_eq!(audio_of(&pieces), audio[FRAME_LEN..29 * FRAME_LEN]);
}

#[test]
fn the_largest_block_and_a_latin1_title_come_through_and_changes_come_between_the_audio() {
    let audio = synthetic_audio(60, 3);
    let metaint = 5000;
    let mut long = b"StreamTitle='".to_vec();
    long.extend(b"\xc9mile - ");
    long.resize(255 * 16 - 2, b'z');
    long.extend(b"';");
    let stream = interleave(&audio, metaint, move |k| match k {
        0 => block(&long),
        // A Latin-1 title (not UTF-8).
        2 => block(b"StreamTitle='Bj\xf6rk - J\xf3ga';StreamUrl='';"),
        _ => vec![0],
    });
    assert!(stream.contains(&255), "a block of length byte 255");
    let mut head = b"HTTP/1.0 200 OK\r\nicy-metaint: 5000\r\n\r\n".to_vec();
    head.extend(stream);
    let mut source = IcySource::connect(&sends(head), TIMEOUT).unwrap();
    assert_eq!(source.name(), "");
    let (pieces, _) = drain(&mut source);
    let songs = songs_of(&pieces);
    assert_eq!(songs.len(), 2);
    assert_eq!(songs[0].0, "Émile");
    assert_eq!(songs[0].1, "z".repeat(255 * 16 - 2 - 13 - 8));
    assert_eq!(songs[1], pair("Björk", "Jóga"));
    // Björk's block came after 3 × metaint bytes of audio: the audio before her song is what
    // was whole by then, give or take the frame the synchroniser holds.
    let before =
        pieces.iter().position(|p| matches!(p, Piece::Song { title, .. } if title == "Jóga")).unwrap();
    let audio_before = audio_of(&pieces[..before]).len();
    assert!((3 * metaint - 2 * FRAME_LEN..=3 * metaint).contains(&audio_before), "{audio_before}");
    assert_eq!(audio_of(&pieces), audio[..59 * FRAME_LEN]);
}

#[test]
fn redirects_are_followed_relative_or_absolute_and_a_loop_is_cut() {
    let audio = synthetic_audio(10, 0);
    let (real, _) = station(move |_, mut socket| {
        let _ = socket.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n");
        let _ = socket.write_all(&audio);
    });
    let real_text = real.to_string();
    let (url, _) = station(move |i, mut socket| {
        let answer = match i {
            0 => "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n".to_string(),
            _ => format!("HTTP/1.0 307 Temporary Redirect\r\nLocation: {real_text}\r\n\r\n"),
        };
        let _ = socket.write_all(answer.as_bytes());
    });
    let source = IcySource::connect(&url, TIMEOUT).unwrap();
    assert_eq!(source.url(), &real);

    let (looping, _) = station(|_, mut socket| {
        let _ = socket.write_all(b"HTTP/1.0 301 Moved\r\nLocation: /live\r\n\r\n");
    });
    let error = IcySource::connect(&looping, TIMEOUT).unwrap_err();
    assert!(matches!(error, IcyError::TooManyRedirects { .. }), "{error}");
}

#[test]
fn a_404_and_an_aac_station_are_refused_in_words() {
    let missing = sends(b"HTTP/1.0 404 Not Found\r\n\r\n".to_vec());
    let error = IcySource::connect(&missing, TIMEOUT).unwrap_err();
    assert_eq!(error.to_string(), "the station answered 404 Not Found");

    let aac =
        sends(b"HTTP/1.0 200 OK\r\nContent-Type: audio/aacp\r\nicy-metaint: 16000\r\n\r\n\xff\xf1".to_vec());
    let error = IcySource::connect(&aac, TIMEOUT).unwrap_err();
    assert_eq!(error.to_string(), "the station streams AAC; jukebox relays MP3 only");

    // Said to be anything, but not MPEG audio: ADTS frames (AAC) never sync.
    let adts: Vec<u8> = [0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC].repeat(20_000);
    let disguised = sends(
        [b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n".as_slice(), &adts].concat(),
    );
    let error = IcySource::connect(&disguised, TIMEOUT).unwrap_err();
    assert!(matches!(error, IcyError::NotMpegAudio), "{error}");
}

#[test]
fn a_station_that_stalls_is_an_error_within_the_stall_time() {
    let (done, wait) = mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    let (url, _) = station(move |_, mut socket| {
        let _ = socket.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n");
        let _ = socket.write_all(&synthetic_audio(5, 0));
        // Then nothing, with the connection open, until the test is over.
        let _ = wait.lock().unwrap().recv();
    });
    let mut source = IcySource::connect(&url, TIMEOUT).unwrap();
    let started = Instant::now();
    let (pieces, end) = drain(&mut source);
    let waited = started.elapsed();
    assert!(matches!(end, IcyError::Stalled), "{end}");
    assert_eq!(audio_of(&pieces).len(), 4 * FRAME_LEN);
    assert!(
        waited >= STALL - Duration::from_millis(500) && waited < STALL + Duration::from_secs(2),
        "{waited:?}"
    );
    drop(done);
}

#[test]
fn a_station_that_closes_mid_frame_ends_the_stream_after_the_whole_frames() {
    let audio = synthetic_audio(12, 9);
    let mut stream = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    stream.extend(&audio[..10 * FRAME_LEN + 100]);
    let mut source = IcySource::connect(&sends(stream), TIMEOUT).unwrap();
    let (pieces, end) = drain(&mut source);
    assert!(matches!(end, IcyError::Closed), "{end}");
    assert_eq!(end.to_string(), "the station closed the stream");
    assert_eq!(audio_of(&pieces), audio[..10 * FRAME_LEN]);
    assert!(songs_of(&pieces).is_empty(), "no title, no name: no song");
}

#[test]
fn a_station_that_is_not_there_or_answers_nothing_fails_in_time() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = Url::parse(&format!("http://{}/live", closed.local_addr().unwrap())).unwrap();
    drop(closed);
    let error = IcySource::connect(&url, TIMEOUT).unwrap_err();
    assert!(matches!(error, IcyError::Connect { .. }), "{error}");

    let (done, wait) = mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    let (silent, _) = station(move |_, _socket| {
        let _ = wait.lock().unwrap().recv();
    });
    let started = Instant::now();
    let error = IcySource::connect(&silent, Duration::from_millis(500)).unwrap_err();
    assert!(matches!(error, IcyError::NoAnswer { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(done);
}
