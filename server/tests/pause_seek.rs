//! PAUSE, RESUME and SEEK over the real socket (RFC §6.1.10-6.1.12): what a client receives,
//! byte for byte, and the refusals.

mod common;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use common::{Client, FRAME_LEN, serve, write_song};
use jukebox_protocol::{ErrorCode, Message, ReadError, Request, SongId};
use jukebox_server::{Catalog, Server};

/// The next message that is not AUDIO of the stream being read, with the AUDIO before it
/// appended to `audio` (checked contiguous from `audio.len()`).
fn until_reply(client: &mut Client, audio: &mut Vec<u8>, positions: &mut Vec<(u64, u32)>) -> Message {
    loop {
        match client.recv() {
            Message::Audio(a) => {
                assert_eq!(a.offset, audio.len() as u64, "offsets are contiguous");
                positions.push((a.offset, a.position_ms));
                audio.extend_from_slice(&a.data);
            }
            other => return other,
        }
    }
}

fn error_code(message: Message) -> (ErrorCode, String) {
    match message {
        Message::Error(e) => (e.code, e.message),
        other => panic!("expected an ERROR, got {other:?}"),
    }
}

#[test]
fn a_paused_stream_sends_nothing_until_resume_then_goes_on_at_the_next_offset_paced_from_there() {
    let dir = tempfile::tempdir().unwrap();
    // 230 frames, 6 s: the burst is 4 s of it, and the next chunk is due 2.2 s after PLAYING.
    let song = write_song(&dir.path().join("a.mp3"), 230, 0);
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    client.play(1);
    let Message::Playing(playing) = client.recv() else { panic!("PLAYING") };
    let played = Instant::now();
    let (mut audio, mut positions) = (Vec::new(), Vec::new());
    // Some of the burst, then PAUSE: the reply follows what was written before it.
    let Message::Audio(first) = client.recv() else { panic!("the burst") };
    positions.push((first.offset, first.position_ms));
    audio.extend_from_slice(&first.data);
    let pause = client.request(|id| Request::Pause { id });
    let Message::Paused(paused) = until_reply(&mut client, &mut audio, &mut positions) else {
        panic!("PAUSED")
    };
    let paused_at = Instant::now();
    assert_eq!((paused.id, paused.stream), (pause, playing.stream));
    // Where the server stopped: the end of what it sent, in the song.
    let frames_sent = audio.len() / FRAME_LEN;
    assert_eq!(audio, song[..audio.len()], "whole frames of the song, in order");
    assert_eq!(paused.position_ms, (frames_sent as u64 * 1152 * 1000 / 44_100) as u32);
    // Past the moment the next chunk was due without the pause, nothing has come.
    let quiet_until = played + Duration::from_millis(2500);
    client.socket.set_read_timeout(Some(quiet_until.saturating_duration_since(Instant::now()))).unwrap();
    match client.try_recv() {
        Some(Err(ReadError::Io(e))) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("nothing may come while paused, got {other:?}"),
    }
    client.socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // PAUSE again is answered alike; RESUME goes on where it stopped.
    client.request(|id| Request::Pause { id });
    let Message::Paused(again) = client.recv() else { panic!("PAUSED again") };
    assert_eq!(again.position_ms, paused.position_ms);
    let resume = client.request(|id| Request::Resume { id });
    let Message::Resumed(resumed) = client.recv() else { panic!("RESUMED, before any audio") };
    let resumed_at = Instant::now();
    assert_eq!(
        (resumed.id, resumed.stream, resumed.position_ms),
        (resume, playing.stream, paused.position_ms)
    );
    let Message::Audio(next) = client.recv() else { panic!("AUDIO after the pause") };
    // The next chunk follows the last before the pause, byte for byte and in the song.
    assert_eq!(
        (next.stream, next.offset, next.position_ms),
        (playing.stream, audio.len() as u64, paused.position_ms)
    );
    audio.extend_from_slice(&next.data);
    assert_eq!(audio, song[..audio.len()], "nothing lost or repeated across the pause");
    // Paced as if the pause had not happened: it came as long after the resume as it was due
    // after the pause (about 2.2 s), not at once.
    let due_after_pause = (played + Duration::from_millis(2100)).saturating_duration_since(paused_at);
    assert!(resumed_at.elapsed() >= due_after_pause, "{:?} < {due_after_pause:?}", resumed_at.elapsed());
}

#[test]
fn seek_streams_the_song_from_the_frame_that_sounds_at_the_position() {
    let dir = tempfile::tempdir().unwrap();
    // 96 frames, 2.5 s: all of it in the burst.
    let song = write_song(&dir.path().join("a.mp3"), 96, 7);
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    let id = client.request(|id| Request::Seek { id, song: SongId(1), position_ms: 1000 });
    let Message::Playing(playing) = client.recv() else { panic!("PLAYING") };
    // 1000 ms is in frame 38, which starts at 992.65 ms.
    assert_eq!((playing.id, playing.start_ms), (id, 992));
    assert_eq!(playing.total_bytes, 58 * FRAME_LEN as u64);
    let (mut audio, mut positions) = (Vec::new(), Vec::new());
    let Message::EndOfStream(end) = until_reply(&mut client, &mut audio, &mut positions) else {
        panic!("END_OF_STREAM")
    };
    assert_eq!(audio, song[38 * FRAME_LEN..], "the song from frame 38, whole frames");
    assert_eq!(positions[0], (0, 992), "offsets from 0, positions in the song");
    assert_eq!(end.total_bytes, playing.total_bytes);
    // A SEEK to 0 is a PLAY.
    client.request(|id| Request::Seek { id, song: SongId(1), position_ms: 0 });
    let Message::Playing(from_start) = client.recv() else { panic!("PLAYING") };
    assert_eq!((from_start.start_ms, from_start.total_bytes), (0, song.len() as u64));
}

#[test]
fn seek_beyond_the_end_or_to_no_song_is_refused_and_the_stream_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    write_song(&dir.path().join("a.mp3"), 200, 0);
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    client.play(1);
    let Message::Playing(playing) = client.recv() else { panic!("PLAYING") };
    // 200 frames end at 5224.5 ms: 5224 is in the last frame, 5225 past it.
    client.request(|id| Request::Seek { id, song: SongId(1), position_ms: 5225 });
    let (mut audio, mut positions) = (Vec::new(), Vec::new());
    let (code, message) = error_code(until_reply(&mut client, &mut audio, &mut positions));
    assert_eq!(code, ErrorCode::BadPosition);
    assert!(message.contains("5224 ms long"), "{message}");
    client.request(|id| Request::Seek { id, song: SongId(9), position_ms: 0 });
    assert_eq!(error_code(until_reply(&mut client, &mut audio, &mut positions)).0, ErrorCode::NoSuchSong);
    client.request(|id| Request::Seek { id, song: SongId(1), position_ms: 5224 });
    let Message::Playing(last) = until_reply(&mut client, &mut audio, &mut positions) else {
        panic!("PLAYING of the last frame")
    };
    assert_ne!(last.stream, playing.stream);
    assert_eq!((last.start_ms, last.total_bytes), (5198, FRAME_LEN as u64));
    // Until then the first stream went on untouched.
    assert!(!audio.is_empty());
}

#[test]
fn pause_and_resume_without_a_stream_or_on_the_radio_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    common::tone_mp3(&dir.path().join("tone.mp3"), 3.0, 440.0, "tone", "");
    let catalog = Catalog::scanned(dir.path()).expect("scan");
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), catalog).unwrap().with_radio().unwrap().spawn();
    let mut client = Client::connect(server.addr);
    client.request(|id| Request::Pause { id });
    assert_eq!(error_code(client.recv()).0, ErrorCode::NoStream);
    client.request(|id| Request::Resume { id });
    assert_eq!(error_code(client.recv()).0, ErrorCode::NoStream);
    client.request(|id| Request::Tune { id });
    let Message::Tuned(tuned) = client.recv() else { panic!("TUNED") };
    let pause = client.request(|id| Request::Pause { id });
    let refusal = loop {
        match client.recv() {
            Message::Audio(_) | Message::TrackChanged(_) => {}
            other => break other,
        }
    };
    let Message::Error(error) = refusal else { panic!("an ERROR, got {refusal:?}") };
    assert_eq!((error.id, error.code), (pause, ErrorCode::LiveStream));
    // The station plays on: more of its stream comes.
    let more = loop {
        if let Message::Audio(a) = client.recv() {
            break a;
        }
    };
    assert_eq!(more.stream, tuned.stream);
}
