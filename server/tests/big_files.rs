//! Songs too large to hold in memory stream from disk, through the real socket: exactly
//! their frames, in bounded memory per connection, and a file that changes under the server
//! costs only its stream.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Binary, Client, FRAME_HEADER, FRAME_LEN, frames_with};
use jukebox_protocol::{ErrorCode, Message, Request};
use jukebox_server::library::song::{IN_MEMORY_MAX, MAX_SONG_BYTES};
use jukebox_server::native::session::MAX_WRITE_BYTES;
use jukebox_server::{Catalog, RunningServer, Server};

/// A server whose song budget holds `song_memory` bytes: songs whose bytes do not fit stream
/// from disk, however small.
fn serve_with_song_memory(dir: &Path, song_memory: usize) -> RunningServer {
    let catalog = Catalog::scanned(dir).expect("scan");
    Server::bind("127.0.0.1:0".parse().unwrap(), catalog).expect("bind").with_song_memory(song_memory).spawn()
}

/// Writes a song of an ID3v2 tag, then for each `(frames, fill)` part that many frames whose
/// bodies are all `fill` (junk between parts when `junk`), then an ID3v1 tag; returns its
/// audio, which is what a stream of it must carry.
fn write_parts(path: &Path, parts: &[(usize, u8)], junk: bool) -> Vec<u8> {
    let mut file = b"ID3\x03\x00\x00\x00\x00\x00\x0a".to_vec();
    file.extend_from_slice(&[0; 10]);
    let mut audio = Vec::new();
    for (i, &(frames, fill)) in parts.iter().enumerate() {
        if junk && i > 0 {
            file.extend_from_slice(b"junk between parts");
        }
        let part = frames_with(FRAME_HEADER, frames, fill);
        file.extend_from_slice(&part);
        audio.extend_from_slice(&part);
    }
    let mut tag = b"TAG".to_vec();
    tag.resize(128, b' ');
    file.extend_from_slice(&tag);
    std::fs::write(path, file).expect("write test song");
    audio
}

/// Where the chunk starting `offset` bytes into the stream starts in the song, for 417-byte
/// frames of 1152 samples at 44.1 kHz: floor(1000 * samples / rate) (RFC §7.2).
fn position_ms(offset: usize) -> u32 {
    ((offset / FRAME_LEN) as u64 * 1152 * 1000 / 44_100) as u32
}

#[test]
fn a_song_larger_than_in_memory_max_starts_at_once_with_its_frames_and_its_exact_total() {
    let dir = tempfile::tempdir().unwrap();
    // 40 MiB of frames: 29 hours at 128 kbit/s. Parts of other fills start early, so the
    // burst shows that their order is kept.
    let frames = 40 * 1024 * 1024 / FRAME_LEN;
    let audio = write_parts(&dir.path().join("big.mp3"), &[(50, 1), (50, 2), (frames - 100, 3)], false);
    assert!(audio.len() > IN_MEMORY_MAX);
    let server = common::serve(dir.path());
    let mut client = Client::connect(server.addr);
    let asked = Instant::now();
    let id = client.play(1);
    let Message::Playing(playing) = client.recv() else { panic!("expected PLAYING") };
    let answered = asked.elapsed();
    assert!(answered < Duration::from_secs(5), "PLAY answered after {answered:?}");
    assert_eq!(playing.id, id);
    assert_eq!(playing.total_bytes, audio.len() as u64);
    // The burst: about 4 s of audio, contiguous, whole frames, exact positions.
    let mut received = Vec::new();
    while received.len() < 150 * FRAME_LEN {
        let Message::Audio(a) = client.recv() else { panic!("expected AUDIO") };
        assert_eq!(a.stream, playing.stream);
        assert_eq!(a.offset, received.len() as u64, "offsets are contiguous");
        assert_eq!(a.position_ms, position_ms(received.len()));
        received.extend_from_slice(&a.data);
    }
    assert!(received == audio[..received.len()], "the song's frames, in order, without its tags");
    client.request(|id| Request::Stop { id });
    let (_, reply) = client.recv_skipping_audio();
    assert!(matches!(reply, Message::Stopped(s) if s.stream == Some(playing.stream)));
}

#[test]
fn a_song_on_disk_streams_exactly_its_frames_then_ends() {
    let dir = tempfile::tempdir().unwrap();
    // 3 s of audio in three parts with junk between them: one burst. The budget (8 KiB)
    // cannot hold its 52 kB, only its chunk table, so it streams from disk.
    let audio = write_parts(&dir.path().join("a.mp3"), &[(40, 1), (35, 2), (40, 3)], true);
    let server = serve_with_song_memory(dir.path(), 8 * 1024);
    let mut client = Client::connect(server.addr);
    client.play(1);
    let Message::Playing(playing) = client.recv() else { panic!("expected PLAYING") };
    assert_eq!(playing.total_bytes, audio.len() as u64);
    let mut received = Vec::new();
    loop {
        match client.recv() {
            Message::Audio(a) => {
                assert_eq!(a.stream, playing.stream);
                assert_eq!(a.offset, received.len() as u64, "offsets are contiguous");
                assert_eq!(a.data.len() % FRAME_LEN, 0, "chunks hold whole frames");
                assert_eq!(a.position_ms, position_ms(received.len()), "junk takes no time");
                received.extend_from_slice(&a.data);
            }
            Message::EndOfStream(end) => {
                assert_eq!((end.stream, end.total_bytes), (playing.stream, playing.total_bytes));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(received == audio, "exactly the song's frames: no tags, no junk, in order");
}

#[test]
fn a_song_on_disk_cut_short_while_it_streams_ends_its_stream_not_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("a.mp3");
    // 20 s, streamed from disk (the budget cannot hold its 320 kB); and a second song.
    let audio = write_parts(&song, &[(766, 1)], false);
    write_parts(&dir.path().join("b.mp3"), &[(766, 2)], false);
    let server = serve_with_song_memory(dir.path(), 64 * 1024);
    let mut client = Client::connect(server.addr);
    let played = Instant::now();
    client.play(1);
    let Message::Playing(playing) = client.recv() else { panic!("expected PLAYING") };
    std::fs::OpenOptions::new().write(true).open(&song).unwrap().set_len(1000).unwrap();
    // The next batch falls due 2 s after the PLAY, and cannot be read.
    std::thread::sleep(Duration::from_millis(2300).saturating_sub(played.elapsed()));
    let ping = client.request(|id| Request::Ping { id });
    let mut received = Vec::new();
    loop {
        match client.recv() {
            Message::Audio(a) => {
                assert_eq!(a.offset, received.len() as u64);
                received.extend_from_slice(&a.data);
            }
            Message::Pong { id } => {
                assert_eq!(id, ping);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // At most the burst of 4 s, read before the file was cut (a healthy stream would have
    // sent about 6 s by now), and only the song's own frames: no END_OF_STREAM, whose total
    // could not be right.
    assert!(received.len() <= 160 * FRAME_LEN, "{} bytes", received.len());
    assert!(received == audio[..received.len()]);
    // The stream is still current, silent, and ends as any stream does.
    client.request(|id| Request::Stop { id });
    assert!(matches!(client.recv(), Message::Stopped(s) if s.stream == Some(playing.stream)));
    client.play(2);
    let Message::Playing(next) = client.recv() else { panic!("expected PLAYING") };
    let Message::Audio(a) = client.recv() else { panic!("expected AUDIO") };
    assert_eq!((a.stream, a.offset, a.data[4]), (next.stream, 0, 2));
}

#[test]
fn a_file_over_the_size_bound_is_not_listed_and_one_that_grew_past_it_is_refused_in_words() {
    let dir = tempfile::tempdir().unwrap();
    // Constant-bitrate files are listed by their first frames and their size; sparse beyond.
    let huge = dir.path().join("a-huge.mp3");
    std::fs::write(&huge, frames_with(FRAME_HEADER, 200, 1)).unwrap();
    std::fs::OpenOptions::new().write(true).open(&huge).unwrap().set_len(MAX_SONG_BYTES + 1).unwrap();
    let growing = dir.path().join("b-growing.mp3");
    std::fs::write(&growing, frames_with(FRAME_HEADER, 200, 2)).unwrap();
    let server = common::serve(dir.path());
    let mut client = Client::connect(server.addr);
    let listed: Vec<_> = client.list().into_iter().map(|s| s.title).collect();
    assert_eq!(listed, ["b-growing"], "a file the server would never stream is not listed");
    std::fs::OpenOptions::new().write(true).open(&growing).unwrap().set_len(MAX_SONG_BYTES + 1).unwrap();
    let id = client.play(1);
    let Message::Error(error) = client.recv() else { panic!("expected ERROR") };
    assert_eq!((error.id, error.code), (id, ErrorCode::SongUnavailable));
    assert!(error.message.contains("too large"), "{}", error.message);
}

/// VmHWM (peak resident memory) of a process, in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

#[test]
fn twenty_listeners_of_a_100_mib_song_cost_the_server_far_less_than_the_song() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir(&music).unwrap();
    let frames = 100 * 1024 * 1024 / FRAME_LEN;
    std::fs::write(music.join("big.mp3"), frames_with(FRAME_HEADER, frames, 7)).unwrap();
    let server = Binary::start(&music, &["--db", "none"]);
    server.wait_for_log("scan 1 of");
    let idle_kib = peak_kib(server.child.id());
    let mut clients: Vec<Client> = (0..20).map(|_| Client::connect(server.addr)).collect();
    for client in &mut clients {
        client.play(1);
    }
    for client in &mut clients {
        let Message::Playing(playing) = client.recv() else { panic!("expected PLAYING") };
        assert_eq!(playing.total_bytes, (frames * FRAME_LEN) as u64);
    }
    // Every burst read whole: each listener's writer has read and sent its batch.
    for client in &mut clients {
        let mut received = 0;
        while received < 150 * FRAME_LEN {
            let Message::Audio(a) = client.recv() else { panic!("expected AUDIO") };
            received += a.data.len();
        }
    }
    // What the song and its listeners may cost on top of the idle server: the chunk table
    // (24 bytes a chunk: 754 kB, and twice that while it grows), one loader's walk window
    // (256 KiB), and per listener a batch buffer of at most MAX_WRITE_BYTES (226 kB) plus
    // its two threads' stacks as far as they are touched (well under 256 KiB): about 11 MiB.
    // Holding the song in memory would cost 100 MiB.
    let grown_kib = peak_kib(server.child.id()).saturating_sub(idle_kib);
    let bound_kib = (2 * 754_000 + 256 * 1024 + 20 * (MAX_WRITE_BYTES + 256 * 1024)) as u64 / 1024;
    assert!(grown_kib < bound_kib, "the server grew by {grown_kib} KiB (bound {bound_kib} KiB)");
}
