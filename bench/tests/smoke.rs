//! A short run of the real load generator against a real server, as CI's smoke test: every
//! mix at once, and the things that must never happen must not. No timing is asserted.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use jukebox_bench::{Mix, RunConfig, Target, run};
use jukebox_server::{Catalog, Server};

#[test]
fn fifty_listeners_switching_listing_stopping_and_churning() {
    let music = Path::new(env!("CARGO_MANIFEST_DIR")).join("../music");
    let server =
        Server::bind("127.0.0.1:0".parse().unwrap(), Catalog::scanned(&music).unwrap()).unwrap().spawn();
    let config = RunConfig {
        target: Target::Native { addr: server.addr, song: None },
        listeners: 50,
        duration: Duration::from_secs(3),
        ramp_per_sec: 500,
        prebuffer: Duration::from_millis(200),
        mix: Mix {
            list_every: Some(Duration::from_millis(500)),
            switch_every: Some(Duration::from_millis(700)),
            stop_every: Some(Duration::from_millis(1500)),
            churn_every: Some(Duration::from_secs(2)),
            keepalive: false,
        },
        server_pid: Some(std::process::id()),
        idle: Duration::ZERO,
        seed: 7,
        label: None,
    };
    let report = run(&config).expect("the run completes");
    assert!(report.failed.is_empty(), "failures: {:?}", report.failed);
    assert_eq!(report.connected, 50);
    assert_eq!(report.errors, 0);
    assert_eq!(report.stale_bytes, 0, "audio of an old stream followed the reply that ended it");
    assert!(report.switches > 50, "{} switches", report.switches);
    assert!(report.reconnects > 0);
    assert!(report.list_rtt.is_some_and(|s| s.count > 50));
    assert!(report.first_audio.is_some_and(|s| s.count >= 100));
    assert!(report.audio_bytes > 50 * 16_000);
    assert!(report.server_cpu_secs.is_some() && report.server_rss.is_some());
}

#[test]
fn icy_listeners_read_an_http_stream() {
    // A stand-in ICY server: a response head, then a song's frames.
    let song = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../music/03-tin-robot-shuffle.mp3"))
        .unwrap();
    let song_len = song.len() as u64;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            let song = song.clone();
            std::thread::spawn(move || {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request);
                let _ = socket
                    .write_all(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-name: test\r\n\r\n");
                for piece in song.chunks(1000) {
                    if socket.write_all(piece).is_err() {
                        return;
                    }
                }
                std::thread::sleep(Duration::from_secs(5));
            });
        }
    });
    let config = RunConfig {
        target: Target::Icy { addr, host: addr.to_string(), path: "/stream.mp3".into(), metadata: false },
        listeners: 5,
        duration: Duration::from_secs(1),
        ramp_per_sec: 100,
        prebuffer: Duration::from_millis(200),
        mix: Mix::default(),
        server_pid: None,
        idle: Duration::ZERO,
        seed: 1,
        label: None,
    };
    let report = run(&config).expect("the run completes");
    assert!(report.failed.is_empty(), "failures: {:?}", report.failed);
    assert_eq!(report.connected, 5);
    assert_eq!(report.audio_bytes, 5 * song_len, "every body byte is accounted");
    assert!(report.first_audio.is_some_and(|s| s.count == 5));
    assert_eq!(report.underruns, 0);
}
