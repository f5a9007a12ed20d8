//! What a client can make the server hold or wait for is bounded, whatever it sends: silent
//! sockets, stalls, pipelined requests.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Binary, Client, frames_with, serve, serve_at_most, write_song};
use jukebox_protocol::{GoodbyeReason, Hello, Message, Request, Welcome};

/// A real client's handshake: WELCOME and what follows, within `patience`.
fn handshake_within(addr: std::net::SocketAddr, patience: Duration) -> (Welcome, TcpStream) {
    let mut socket = TcpStream::connect(addr).expect("connect");
    socket.set_read_timeout(Some(patience)).unwrap();
    socket.write_all(&Hello::current().encode()).unwrap();
    let mut welcome = [0u8; 8];
    socket.read_exact(&mut welcome).expect("a WELCOME in time");
    (Welcome::parse(&welcome).expect("a jukebox server"), socket)
}

#[test]
fn silent_sockets_do_not_keep_a_full_server_from_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    write_song(&dir.path().join("a.mp3"), 20, 0);
    let server = serve_at_most(dir.path(), 2);
    let _served: Vec<Client> = (0..2).map(|_| Client::connect(server.addr)).collect();
    // 100 connections that never say a word.
    let _silent: Vec<TcpStream> = (0..100).map(|_| TcpStream::connect(server.addr).unwrap()).collect();
    let asked = Instant::now();
    let (welcome, mut socket) = handshake_within(server.addr, Duration::from_secs(2));
    assert_eq!(welcome.version, 1);
    let mut scratch = Vec::new();
    let goodbye = jukebox_protocol::read_message(&mut socket, &mut scratch).unwrap().unwrap();
    assert!(matches!(&goodbye, Message::Goodbye(g) if g.reason == GoodbyeReason::ServerBusy), "{goodbye:?}");
    assert!(asked.elapsed() < Duration::from_secs(1), "told after {:?}", asked.elapsed());
}

#[test]
fn more_silent_sockets_than_the_handshake_budget_do_not_lock_real_clients_out() {
    let dir = tempfile::tempdir().unwrap();
    write_song(&dir.path().join("a.mp3"), 20, 0);
    let server = serve(dir.path());
    let budget = jukebox_server::native::handshake::MAX_PENDING;
    let silent: Vec<TcpStream> =
        (0..budget + 100).map(|_| TcpStream::connect(server.addr).unwrap()).collect();
    let asked = Instant::now();
    let (welcome, _socket) = handshake_within(server.addr, Duration::from_secs(2));
    assert_eq!(welcome.version, 1);
    assert!(asked.elapsed() < Duration::from_secs(1), "served after {:?}", asked.elapsed());
    // The oldest silent sockets were closed to make room; the newest are still waiting.
    let mut oldest = &silent[0];
    oldest.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    assert!(matches!(oldest.read(&mut [0u8; 1]), Ok(0)), "the oldest unfinished handshake is closed");
}

#[test]
fn pipelined_plays_of_large_songs_do_not_make_the_server_hold_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir(&music).unwrap();
    // 12 songs of 6 MB each (75 MB in all), a budget of 8 MiB for songs in memory. (More
    // PLAYs would only wait their turn: 8 at once, then 2 a second.)
    for n in 0..12u8 {
        let song = frames_with([0xFF, 0xFB, 0x90, 0x00], 15_000, n);
        std::fs::write(music.join(format!("{n:02}.mp3")), song).unwrap();
    }
    let server = Binary::start(&music, &["--db", "none", "--song-memory", "8"]);
    server.wait_for_log("scan 1 of");
    let mut client = Client::connect(server.addr);
    let plays: Vec<u8> = (1..=12)
        .flat_map(|n| {
            let play =
                Request::Play { id: jukebox_protocol::RequestId(n), song: jukebox_protocol::SongId(n) };
            Message::Request(play).to_bytes().unwrap()
        })
        .collect();
    client.socket.write_all(&plays).unwrap();
    let mut answered = 0;
    while answered < 12 {
        if matches!(client.recv(), Message::Playing(_) | Message::Error(_)) {
            answered += 1;
        }
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/PID/status");
    assert!(peak_kib < 48 * 1024, "the server peaked at {} MiB for 8 MiB of songs", peak_kib / 1024);
}

#[test]
fn a_client_that_floods_plays_is_slowed_down_not_fed_bursts() {
    let server = serve(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../music"));
    let mut client = Client::connect(server.addr);
    let mut sender = client.socket.try_clone().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooding = std::sync::Arc::clone(&stop);
    // A PLAY every millisecond, each of which would start a stream with a 4 s burst.
    let flood = std::thread::spawn(move || {
        let mut n = 0u32;
        while !flooding.load(std::sync::atomic::Ordering::SeqCst) {
            n += 1;
            let play = Message::Request(Request::Play {
                id: jukebox_protocol::RequestId(n),
                song: jukebox_protocol::SongId(n % 4 + 1),
            });
            if sender.write_all(&play.to_bytes().unwrap()).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let started = Instant::now();
    let mut audio = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        if let Message::Audio(chunk) = client.recv() {
            audio += chunk.data.len();
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = flood.join();
    // 8 PLAYs at once, then 2 a second: about 11 bursts of 64 kB in 1.5 s.
    assert!(audio < 3_000_000, "{audio} bytes of audio in 1.5 s");
}
