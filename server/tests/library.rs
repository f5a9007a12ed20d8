//! The music folder as a hostile or changing place: links out of it, files swapped after the
//! scan, lying headers, songs added and removed while the server runs and between runs.

mod common;

use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use common::{Binary, Client, frames_with, serve, write_song};
use jukebox_protocol::{ErrorCode, LibraryChanged, Message, Request, Scanning};

/// MPEG-1 Layer III headers, 128 kbit/s, no padding: 44.1 kHz (417-byte frames), 48 kHz (384).
const H44: [u8; 4] = [0xFF, 0xFB, 0x90, 0x00];
const H48: [u8; 4] = [0xFF, 0xFB, 0x94, 0x00];
/// MPEG-2 Layer III, 64 kbit/s, 22.05 kHz (208-byte frames).
const H22: [u8; 4] = [0xFF, 0xF3, 0x80, 0x00];

fn titles(client: &mut Client) -> Vec<String> {
    client.list().into_iter().map(|s| s.title).collect()
}

#[test]
fn a_link_to_the_root_of_the_filesystem_neither_delays_nor_widens_the_library() {
    let outside = tempfile::tempdir().unwrap();
    write_song(&outside.path().join("secret.mp3"), 20, 0);
    let dir = tempfile::tempdir().unwrap();
    write_song(&dir.path().join("inside.mp3"), 20, 0);
    symlink("/", dir.path().join("everything")).unwrap();
    symlink(outside.path().join("secret.mp3"), dir.path().join("leak.mp3")).unwrap();
    let db = dir.path().join("index.json");
    let started = Instant::now();
    let server = Binary::start(dir.path(), &["--db", db.to_str().unwrap()]);
    assert!(started.elapsed() < Duration::from_secs(1), "listening took {:?}", started.elapsed());
    let log = server.wait_for_log("scan 1 of");
    assert!(started.elapsed() < Duration::from_secs(3), "the scan took {:?}", started.elapsed());
    assert!(log.contains("not following the link") && log.contains("--follow-outside-links"), "{log}");
    let mut client = Client::connect(server.addr);
    assert_eq!(titles(&mut client), ["inside"]);
    // When the operator asks for it, the link to a file outside is followed.
    drop(server);
    std::fs::remove_file(dir.path().join("everything")).unwrap();
    let server = Binary::start(dir.path(), &["--db", "none", "--follow-outside-links"]);
    server.wait_for_log("scan 1 of");
    let mut client = Client::connect(server.addr);
    assert_eq!(titles(&mut client), ["inside", "leak"]);
}

#[test]
fn a_file_swapped_after_the_scan_for_a_link_outside_or_a_fifo_is_not_played() {
    let outside = tempfile::tempdir().unwrap();
    write_song(&outside.path().join("secret.mp3"), 20, 0);
    let dir = tempfile::tempdir().unwrap();
    write_song(&dir.path().join("a.mp3"), 20, 0);
    write_song(&dir.path().join("b.mp3"), 20, 0);
    write_song(&dir.path().join("c.mp3"), 20, 0);
    let server = serve(dir.path());
    std::fs::remove_file(dir.path().join("a.mp3")).unwrap();
    symlink(outside.path().join("secret.mp3"), dir.path().join("a.mp3")).unwrap();
    std::fs::remove_file(dir.path().join("b.mp3")).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(dir.path().join("b.mp3")).status().unwrap().success());
    let mut client = Client::connect(server.addr);
    let asked = Instant::now();
    for song in [1, 2, 2] {
        let id = client.play(song);
        let Message::Error(error) = client.recv() else { panic!("expected ERROR for song {song}") };
        assert_eq!((error.id, error.code), (id, ErrorCode::SongUnavailable), "{}", error.message);
        assert!(!error.message.contains('/'), "a client never learns paths: {}", error.message);
    }
    assert!(asked.elapsed() < Duration::from_secs(2), "the FIFO held the reader for {:?}", asked.elapsed());
    // The connection is still served, and so are other songs.
    let ping = client.request(|id| Request::Ping { id });
    assert_eq!(client.recv(), Message::Pong { id: ping });
    client.play(3);
    assert!(matches!(client.recv(), Message::Playing(_)));
}

#[test]
fn a_header_that_claims_more_than_the_file_holds_is_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    // 3,000 bytes whose Xing header claims 957 frames (25 s).
    let mut first = frames_with(H44, 1, 0);
    first[36..40].copy_from_slice(b"Xing");
    first[40..44].copy_from_slice(&1u32.to_be_bytes());
    first[44..48].copy_from_slice(&957u32.to_be_bytes());
    first.extend(frames_with(H44, 6, 0x11));
    first.resize(3000, 0);
    std::fs::write(dir.path().join("liar.mp3"), &first).unwrap();
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    let songs = client.list();
    assert_eq!(songs.len(), 1);
    // Six whole frames of 26.12 ms after the header's own frame: 157 ms, not 25 s.
    assert_eq!(songs[0].duration_ms, 157, "{songs:?}");
}

#[test]
fn a_song_that_changes_sample_rate_is_streamed_whole_with_exact_positions() {
    let dir = tempfile::tempdir().unwrap();
    let mut audio = Vec::new();
    let mut expected = Vec::new(); // (offset in the stream, position in ms)
    let mut samples_ns: u128 = 0;
    for (header, frames, samples, rate) in
        [(H44, 20, 1152, 44_100), (H48, 20, 1152, 48_000), (H22, 20, 576, 22_050), (H44, 20, 1152, 44_100)]
    {
        let part = frames_with(header, frames, 0x22);
        let len = part.len() / frames;
        for i in 0..frames {
            expected.push((audio.len() + i * len, samples_ns));
            samples_ns += 1_000_000_000u128 * samples / rate;
        }
        audio.extend(part);
    }
    std::fs::write(dir.path().join("mixed.mp3"), &audio).unwrap();
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    client.play(1);
    let Message::Playing(playing) = client.recv() else { panic!("expected PLAYING") };
    assert_eq!(
        playing.total_bytes,
        audio.len() as u64,
        "every frame is sent, the first after each change too"
    );
    let mut received = Vec::new();
    loop {
        match client.recv() {
            Message::Audio(chunk) => {
                // Each chunk's position is the exact sum of the earlier frames' durations.
                let (_, at_ns) = expected
                    .iter()
                    .find(|(offset, _)| *offset as u64 == chunk.offset)
                    .expect("a frame boundary");
                assert!(
                    (u128::from(chunk.position_ms) * 1_000_000).abs_diff(*at_ns) < 1_000_000 + 100,
                    "chunk at {} says {} ms, the frames before it last {} ns",
                    chunk.offset,
                    chunk.position_ms,
                    at_ns
                );
                received.extend_from_slice(&chunk.data);
            }
            Message::EndOfStream(_) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(received == audio);
}

#[test]
fn song_ids_survive_a_restart_and_new_files_get_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir(&music).unwrap();
    write_song(&music.join("b.mp3"), 20, 0);
    write_song(&music.join("c.mp3"), 20, 0);
    let db = dir.path().join("index.json");
    let db_arg = ["--db", db.to_str().unwrap()];
    let server = Binary::start(&music, &db_arg);
    server.wait_for_log("scan 1 of");
    let mut client = Client::connect(server.addr);
    let before: Vec<_> = client.list().into_iter().map(|s| (s.title, s.id.0)).collect();
    assert_eq!(before, [("b".to_string(), 1), ("c".to_string(), 2)]);
    drop(client);
    server.stop();
    // A file that sorts first is added, one is removed, while the server is down.
    write_song(&music.join("a.mp3"), 20, 0);
    std::fs::remove_file(music.join("c.mp3")).unwrap();
    write_song(&music.join("d.mp3"), 20, 0);
    let server = Binary::start(&music, &db_arg);
    // Before its first scan, the server already lists what it remembers.
    let log = server.wait_for_log("scan 1 of");
    assert!(log.contains("remembered 2 songs"), "{log}");
    let mut client = Client::connect(server.addr);
    let after: Vec<_> = client.list().into_iter().map(|s| (s.title, s.id.0)).collect();
    assert_eq!(after, [("b".to_string(), 1), ("a".to_string(), 3), ("d".to_string(), 4)]);
    client.play(1);
    assert!(matches!(client.recv(), Message::Playing(p) if p.title == "b"));
}

#[test]
fn rescan_finds_new_and_removed_files_and_every_client_hears_of_it() {
    let dir = tempfile::tempdir().unwrap();
    write_song(&dir.path().join("a.mp3"), 20, 0);
    write_song(&dir.path().join("b.mp3"), 20, 0);
    let server = serve(dir.path());
    let mut asker = Client::connect(server.addr);
    let mut other = Client::connect(server.addr);
    // Nothing changed: the client that asked hears the end of its scan all the same.
    let id = asker.request(|id| Request::Rescan { id });
    let Message::Scanning(Scanning { id: reply_id, scan }) = asker.recv() else {
        panic!("expected SCANNING")
    };
    assert_eq!(reply_id, id);
    let Message::LibraryChanged(done) = asker.recv() else { panic!("expected LIBRARY_CHANGED") };
    assert_eq!(done, LibraryChanged { scan, songs: 2, added: 0, removed: 0, updated: 0 });
    // A song added, one removed. A change is pushed to everyone as soon as the scan is over,
    // which may be before the asker's SCANNING; after SCANNING comes its scan's result.
    write_song(&dir.path().join("c.mp3"), 20, 0);
    std::fs::remove_file(dir.path().join("a.mp3")).unwrap();
    asker.request(|id| Request::Rescan { id });
    let scan = loop {
        match asker.recv() {
            Message::Scanning(Scanning { scan, .. }) => break scan,
            Message::LibraryChanged(_) => {}
            other => panic!("expected SCANNING, got {other:?}"),
        }
    };
    let changed = LibraryChanged { scan, songs: 2, added: 1, removed: 1, updated: 0 };
    assert_eq!(asker.recv(), Message::LibraryChanged(changed));
    // The other client did not ask, and still hears of the change (and not of the first scan).
    assert_eq!(other.recv(), Message::LibraryChanged(changed));
    let songs: Vec<_> = other.list().into_iter().map(|s| (s.title, s.id.0)).collect();
    assert_eq!(songs, [("b".to_string(), 2), ("c".to_string(), 3)]);
    let id = other.play(1);
    assert!(matches!(other.recv(), Message::Error(e) if e.id == id && e.code == ErrorCode::NoSuchSong));
}

#[test]
fn a_song_whose_file_changed_is_played_as_it_is_now_after_a_rescan() {
    let dir = tempfile::tempdir().unwrap();
    let before = write_song(&dir.path().join("a.mp3"), 40, 0);
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    client.play(1);
    let Message::Playing(first) = client.recv() else { panic!("expected PLAYING") };
    assert_eq!(first.total_bytes, before.len() as u64);
    // The file is rewritten, longer; a rescan sees it changed.
    let after = write_song(&dir.path().join("a.mp3"), 60, 7);
    client.request(|id| Request::Rescan { id });
    loop {
        if let Message::LibraryChanged(changed) = client.recv() {
            assert_eq!(changed.updated, 1);
            break;
        }
    }
    client.play(1);
    let playing = loop {
        if let Message::Playing(playing) = client.recv() {
            break playing;
        }
    };
    assert_eq!(playing.total_bytes, after.len() as u64, "the new file, not the one in memory");
    let Message::Audio(chunk) = client.recv() else { panic!("expected AUDIO") };
    assert_eq!(chunk.data[4], 7, "the new file's frames");
}

#[test]
fn a_home_user_gets_plain_words_at_start_up() {
    use std::io::BufRead;
    // An empty folder, a host name to bind to, and no --max-clients.
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jukebox-server"))
        .arg(dir.path())
        .args(["0", "--bind", "localhost", "--db", "none"])
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start jukebox-server");
    let stderr = child.stderr.take().unwrap();
    let mut log = String::new();
    for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
        log.push_str(&line);
        log.push('\n');
        if line.contains("no songs in") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(log.contains("listening on 127.0.0.1:") || log.contains("listening on [::1]:"), "{log}");
    assert!(log.contains("no songs in"), "an empty library is worth a warning:\n{log}");
    assert!(
        !log.contains("max_map_count") && !log.contains("pid_max"),
        "no kernel tuning advice unasked:\n{log}"
    );
}
