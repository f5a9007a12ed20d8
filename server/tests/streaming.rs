//! The server over real TCP: listing, streaming, switching and stopping.

mod common;

use std::time::{Duration, Instant};

use common::{Client, FRAME_LEN, serve, synthetic_audio, write_song};
use jukebox_protocol::{ErrorCode, Message, Request, StreamId};

fn music_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../music")
}

#[test]
fn list_describes_every_sample_song_from_its_tags() {
    let server = serve(&music_dir());
    let mut client = Client::connect(server.addr);
    let id = client.request(|id| Request::List { id });
    let Message::ListPage(page) = client.recv() else { panic!("expected LIST_PAGE") };
    assert_eq!(page.id, id);
    assert!(page.last);
    let titles: Vec<_> = page.songs.iter().map(|s| (s.id.0, s.title.as_str())).collect();
    assert_eq!(
        titles,
        [(1, "Morning Scale"), (2, "Lanterns in the Rain"), (3, "Tin Robot Shuffle"), (4, "Evening Lullaby")]
    );
    for song in &page.songs {
        assert_eq!(song.artist, "The Jukebox Synths");
        assert!((20_000..40_000).contains(&song.duration_ms), "{song:?}");
    }
    // The ID3v1-only file is read through the fallback; the VBR one's duration is from Xing.
    assert_eq!(page.songs[3].album, "Jukebox Sample Tunes");
    assert!((32_600..32_900).contains(&page.songs[1].duration_ms));
}

#[test]
fn play_streams_exactly_the_songs_audio_frames_then_ends() {
    let dir = tempfile::tempdir().unwrap();
    // 2.5 s of audio: mostly in the initial burst, so the test is quick.
    let audio = write_song(&dir.path().join("a.mp3"), 96, 0);
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    let id = client.play(1);
    let Message::Playing(playing) = client.recv() else { panic!("expected PLAYING") };
    assert_eq!(playing.id, id);
    assert_eq!(playing.total_bytes, audio.len() as u64);
    let mut received = Vec::new();
    loop {
        match client.recv() {
            Message::Audio(a) => {
                assert_eq!(a.stream, playing.stream);
                assert_eq!(a.offset, received.len() as u64, "offsets are contiguous");
                assert_eq!(a.data.len() % FRAME_LEN, 0, "chunks hold whole frames");
                let frames_before = received.len() / FRAME_LEN;
                assert_eq!(u64::from(a.position_ms), frames_before as u64 * 1152 * 1000 / 44_100);
                received.extend_from_slice(&a.data);
            }
            Message::EndOfStream(end) => {
                assert_eq!((end.stream, end.total_bytes), (playing.stream, audio.len() as u64));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(received == audio, "the stream must be the file's frames, without its tags");
    // Nothing is current after the end: STOP says so.
    client.request(|id| Request::Stop { id });
    let Message::Stopped(stopped) = client.recv() else { panic!("expected STOPPED") };
    assert_eq!(stopped.stream, None);
}

#[test]
fn a_real_song_starts_with_its_first_frames_and_is_paced() {
    let server = serve(&music_dir());
    let mut client = Client::connect(server.addr);
    client.play(1);
    let Message::Playing(_) = client.recv() else { panic!("expected PLAYING") };
    let file = std::fs::read(music_dir().join("01-morning-scale.mp3")).unwrap();
    let start = jukebox_server::library::probe::id3v2_len(&mut std::io::Cursor::new(&file), file.len() as u64)
        .unwrap() as usize;
    let Message::Audio(first) = client.recv() else { panic!("expected AUDIO") };
    assert_eq!(first.data, file[start..start + first.data.len()]);
    // The burst is about two seconds of a 128 kbit/s song, not the whole 400 KB file.
    let began = Instant::now();
    let mut bytes = first.data.len();
    while began.elapsed() < Duration::from_millis(500) {
        let Message::Audio(a) = client.recv() else { panic!("expected AUDIO") };
        bytes += a.data.len();
    }
    assert!(bytes < 6 * 16_000, "{bytes} bytes in the first half second is more than pacing allows");
}

#[test]
fn list_answers_while_a_song_streams() {
    let server = serve(&music_dir());
    let mut client = Client::connect(server.addr);
    client.play(2);
    let Message::Playing(_) = client.recv() else { panic!("expected PLAYING") };
    // Mid-stream: audio is arriving.
    assert!(matches!(client.recv(), Message::Audio(_)));
    let asked = Instant::now();
    let id = client.request(|id| Request::List { id });
    let (_, reply) = client.recv_skipping_audio();
    let Message::ListPage(page) = reply else { panic!("expected LIST_PAGE, got {reply:?}") };
    assert_eq!((page.id, page.songs.len()), (id, 4));
    assert!(asked.elapsed() < Duration::from_secs(1), "LIST waited {:?}", asked.elapsed());
    // And the stream goes on afterwards.
    assert!(matches!(client.recv(), Message::Audio(_)));
}

#[test]
fn play_switches_without_stale_audio() {
    let dir = tempfile::tempdir().unwrap();
    write_song(&dir.path().join("a.mp3"), 2000, 0);
    let second = write_song(&dir.path().join("b.mp3"), 2000, 100);
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    client.play(1);
    let Message::Playing(first) = client.recv() else { panic!("expected PLAYING") };
    // Switch while the first song's burst is still arriving.
    let Message::Audio(_) = client.recv() else { panic!("expected AUDIO") };
    let id = client.play(2);
    let (_, reply) = client.recv_skipping_audio();
    let Message::Playing(playing) = reply else { panic!("expected PLAYING, got {reply:?}") };
    assert_eq!(playing.id, id);
    assert_ne!(playing.stream, first.stream);
    let mut received = Vec::new();
    while received.len() < 40_000 {
        match client.recv() {
            Message::Audio(a) => {
                assert_eq!(a.stream, playing.stream, "audio of the old stream after PLAYING");
                received.extend_from_slice(&a.data);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(received == second[..received.len()]);
}

#[test]
fn stop_ends_the_stream_and_stop_when_idle_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_song(&dir.path().join("a.mp3"), 2000, 0);
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    client.request(|id| Request::Stop { id });
    let Message::Stopped(idle) = client.recv() else { panic!("expected STOPPED") };
    assert_eq!(idle.stream, None);
    client.play(1);
    let Message::Playing(playing) = client.recv() else { panic!("expected PLAYING") };
    client.request(|id| Request::Stop { id });
    let (_, reply) = client.recv_skipping_audio();
    assert!(matches!(reply, Message::Stopped(s) if s.stream == Some(playing.stream)));
    // Silence: the next thing on the wire is the PONG, no audio in between (RFC 7.4 rule 4).
    let ping = client.request(|id| Request::Ping { id });
    assert_eq!(client.recv(), Message::Pong { id: ping });
}

#[test]
fn unknown_song_is_an_error_in_words_and_the_stream_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    write_song(&dir.path().join("a.mp3"), 2000, 0);
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    client.play(1);
    let Message::Playing(playing) = client.recv() else { panic!("expected PLAYING") };
    let id = client.play(42);
    let (_, reply) = client.recv_skipping_audio();
    let Message::Error(error) = reply else { panic!("expected ERROR, got {reply:?}") };
    assert_eq!(
        (error.id, error.code, error.message.as_str()),
        (id, ErrorCode::NoSuchSong, "no song with id 42")
    );
    let Message::Audio(a) = client.recv() else { panic!("the stream should go on") };
    assert_eq!(a.stream, playing.stream);
}

#[test]
fn a_vanished_file_costs_only_that_request() {
    let dir = tempfile::tempdir().unwrap();
    write_song(&dir.path().join("a.mp3"), 50, 0);
    write_song(&dir.path().join("b.mp3"), 50, 0);
    let server = serve(dir.path());
    std::fs::remove_file(dir.path().join("a.mp3")).unwrap();
    let mut client = Client::connect(server.addr);
    let id = client.play(1);
    let Message::Error(error) = client.recv() else { panic!("expected ERROR") };
    assert_eq!((error.id, error.code), (id, ErrorCode::SongUnavailable));
    client.play(2);
    assert!(matches!(client.recv(), Message::Playing(p) if p.stream == StreamId(1)));
}

#[test]
fn files_that_are_not_mp3_audio_are_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("noise.mp3"), vec![0x42; 5000]).unwrap();
    std::fs::create_dir(dir.path().join("Sub")).unwrap();
    std::fs::write(dir.path().join("Sub/LOUD.MP3"), synthetic_audio(10, 0)).unwrap();
    std::fs::write(dir.path().join("notes.txt"), synthetic_audio(10, 0)).unwrap();
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    client.request(|id| Request::List { id });
    let Message::ListPage(page) = client.recv() else { panic!("expected LIST_PAGE") };
    let titles: Vec<_> = page.songs.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["LOUD"]);
}
