//! Radio listeners against a real station: native TUNE listeners on an in-process server, and
//! ICY listeners with metadata against stand-in ICY servers, one honest and one that puts its
//! metadata a byte off. As in the smoke test, the only timing asserted is what the protocol
//! fixes by construction, with a wide margin.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use jukebox_bench::{Mix, Report, RunConfig, Target, run};
use jukebox_server::{Catalog, Server};

fn config(target: Target, listeners: u64, duration: Duration) -> RunConfig {
    RunConfig {
        target,
        listeners,
        duration,
        ramp_per_sec: 200,
        prebuffer: Duration::from_millis(200),
        mix: Mix { keepalive: true, ..Mix::default() },
        server_pid: Some(std::process::id()),
        idle: Duration::ZERO,
        seed: 3,
        label: Some("test".into()),
    }
}

#[test]
fn tuned_listeners_hear_the_station_about_a_burst_behind_live() {
    let music = Path::new(env!("CARGO_MANIFEST_DIR")).join("../music");
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), Catalog::scanned(&music).unwrap())
        .unwrap()
        .with_radio()
        .expect("the station starts");
    let station = server.station();
    let server = server.spawn();
    // The station is on the air once it has put its first chunk out (it starts a burst in
    // the past, so even the first listeners get a whole burst).
    let started = Instant::now();
    while station.now_ms() == 0 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = run(&config(Target::Radio { addr: server.addr }, 20, Duration::from_secs(2)))
        .expect("the run completes");
    assert!(report.failed.is_empty(), "failures: {:?}", report.failed);
    assert_eq!((report.target.as_str(), report.name()), ("radio", "test"));
    assert_eq!((report.connected, report.errors, report.stale_bytes, report.jumps), (20, 0, 0, 0));
    assert!(report.track_changes >= 20, "{} TRACK_CHANGED", report.track_changes);
    assert!(report.first_audio.is_some_and(|s| s.count == 20));
    assert!(report.audio_bytes > 20 * 16_000, "{} bytes", report.audio_bytes);
    // About the burst behind live (RFC §7.5.2), whenever each tuned in; the estimate of the
    // live edge (the newest audio received, carried forward) may run ahead by a write interval.
    let lag = report.lag.expect("lag samples");
    let burst_us = jukebox_server::radio::BURST.as_micros() as u64;
    let slack_us = jukebox_server::radio::WRITE_EVERY.as_micros() as u64;
    assert!(lag.count >= 20, "{lag:?}");
    assert!(lag.p50_us + 100_000 >= burst_us && lag.p50_us <= burst_us + 400_000, "{lag:?}");
    assert!(lag.max_us <= burst_us + slack_us, "{lag:?}");
    assert_eq!(report.underruns, 0);
}

/// A song's frames, without its tags.
fn song() -> Vec<u8> {
    let song =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../music/01-morning-scale.mp3")).unwrap();
    let frames: Vec<_> = jukebox_protocol::mp3::frames(&song).collect();
    let (first, last) = (frames.first().expect("frames"), frames.last().expect("frames"));
    song[first.offset..last.offset + last.header.len].to_vec()
}

/// Serves `body` to every GET, as an ICY server with `icy-metaint: metaint` would, in pieces
/// of odd sizes; then holds the connection open.
fn icy_server(body: Vec<u8>, metaint: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            let body = body.clone();
            std::thread::spawn(move || {
                let mut request = [0u8; 1024];
                let n = socket.read(&mut request).unwrap_or(0);
                assert!(String::from_utf8_lossy(&request[..n]).contains("Icy-MetaData: 1\r\n"));
                let head =
                    format!("HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-metaint: {metaint}\r\n\r\n");
                if socket.write_all(head.as_bytes()).is_err() {
                    return;
                }
                for piece in body.chunks(777) {
                    if socket.write_all(piece).is_err() {
                        return;
                    }
                }
                std::thread::sleep(Duration::from_secs(5));
            });
        }
    });
    addr
}

/// `audio` with a metadata block after every `metaint` bytes: a title every third one, empty
/// ones between. With `off_by` > 0, every block comes that many audio bytes late.
fn with_metadata(audio: &[u8], metaint: usize, off_by: usize) -> (Vec<u8>, u64) {
    let mut body = Vec::new();
    let mut blocks = 0;
    let mut at = 0;
    while at + metaint + off_by <= audio.len() {
        body.extend_from_slice(&audio[at..at + metaint + off_by]);
        at += metaint + off_by;
        let mut block = if blocks % 3 == 0 { b"StreamTitle='Morning Scale';".to_vec() } else { Vec::new() };
        block.resize(block.len().div_ceil(16) * 16, 0);
        body.push((block.len() / 16) as u8);
        body.extend_from_slice(&block);
        blocks += 1;
    }
    body.extend_from_slice(&audio[at..]);
    (body, blocks)
}

fn icy_run(addr: SocketAddr) -> Report {
    let target = Target::Icy { addr, host: addr.to_string(), path: "/radio".into(), metadata: true };
    let mut config = config(target, 5, Duration::from_secs(1));
    config.server_pid = None;
    run(&config).expect("the run completes")
}

#[test]
fn icy_listeners_strip_metadata_at_every_metaint() {
    let audio = song();
    let (body, blocks) = with_metadata(&audio, 1000, 0);
    let report = icy_run(icy_server(body, 1000));
    assert!(report.failed.is_empty(), "failures: {:?}", report.failed);
    assert_eq!(report.audio_bytes, 5 * audio.len() as u64, "every audio byte, and nothing else");
    assert_eq!(report.meta_blocks, 5 * blocks);
    assert_eq!(report.meta_titles, 5 * blocks.div_ceil(3));
    assert_eq!((report.junk_bytes, report.no_metaint), (0, 0));
    assert!(report.lag.is_some());
}

#[test]
fn metadata_a_byte_off_fails_the_listener() {
    let audio = song();
    let (body, _) = with_metadata(&audio, 1000, 1);
    let report = icy_run(icy_server(body, 1000));
    assert_eq!(report.failures(), 5, "{report:?}");
    assert!(report.failed.keys().all(|reason| reason.starts_with("ICY metadata after 1000 audio bytes")));
}
