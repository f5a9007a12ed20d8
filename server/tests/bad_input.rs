//! Broken, hostile and departing clients: each costs only its own connection.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Client, serve, serve_at_most, write_song};
use jukebox_protocol::{ErrorCode, GoodbyeReason, Hello, Message, Request, RequestId, Welcome};

fn song_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // 52 s of audio: streams for the whole test.
    write_song(&dir.path().join("a.mp3"), 2000, 0);
    dir
}

/// Reads until the server closes; returns what it sent.
fn read_to_close(socket: &mut TcpStream) -> Vec<u8> {
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = Vec::new();
    socket.read_to_end(&mut out).expect("server closes the connection");
    out
}

#[test]
fn oversized_frame_closes_only_that_connection() {
    let dir = song_dir();
    let server = serve(dir.path());
    let mut listeners: Vec<Client> = (0..50).map(|_| Client::connect(server.addr)).collect();
    for client in &mut listeners {
        client.play(1);
        assert!(matches!(client.recv(), Message::Playing(_)));
    }
    // A frame header announcing 4 GiB, then garbage.
    let mut bad = Client::connect(server.addr);
    bad.socket.write_all(&[0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0x00, 1, 2, 3]).unwrap();
    let sent = read_to_close(&mut bad.socket);
    let (goodbye, _) = Message::decode_from_slice(&sent).unwrap().unwrap();
    let Message::Goodbye(goodbye) = goodbye else { panic!("expected GOODBYE, got {goodbye:?}") };
    assert_eq!(goodbye.reason, GoodbyeReason::ProtocolError);
    assert!(goodbye.text.contains("exceeds"), "{}", goodbye.text);
    // Pure garbage before any handshake, and a client that vanishes mid-frame.
    let mut garbage = TcpStream::connect(server.addr).unwrap();
    garbage.write_all(&[0xde; 64]).unwrap();
    assert!(read_to_close(&mut garbage).is_empty());
    let mut truncated = Client::connect(server.addr);
    truncated.socket.write_all(&[0, 0, 0, 8, 0x03, 0, 0, 0]).unwrap();
    drop(truncated);
    // Every other listener still streams and is answered.
    let pings: Vec<_> = listeners.iter_mut().map(|c| c.request(|id| Request::Ping { id })).collect();
    for (client, id) in listeners.iter_mut().zip(pings) {
        let (_, reply) = client.recv_skipping_audio();
        assert_eq!(reply, Message::Pong { id });
    }
    for client in &mut listeners {
        assert!(matches!(client.recv(), Message::Audio(_)), "the stream goes on");
    }
}

#[test]
fn an_http_client_is_closed_without_a_reply() {
    let dir = song_dir();
    let server = serve(dir.path());
    let mut http = TcpStream::connect(server.addr).unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    assert!(read_to_close(&mut http).is_empty());
}

#[test]
fn a_stranger_is_let_go_at_its_first_wrong_byte() {
    let dir = song_dir();
    let server = serve(dir.path());
    let mut stranger = TcpStream::connect(server.addr).unwrap();
    stranger.write_all(b"G").unwrap();
    let asked = std::time::Instant::now();
    assert!(read_to_close(&mut stranger).is_empty());
    assert!(asked.elapsed() < Duration::from_secs(2), "held for {:?}", asked.elapsed());
}

#[test]
fn a_client_of_a_future_version_only_is_refused_with_the_servers_version() {
    let dir = song_dir();
    let server = serve(dir.path());
    let mut socket = TcpStream::connect(server.addr).unwrap();
    socket.write_all(&Hello { min_version: 2, max_version: 3 }.encode()).unwrap();
    let sent = read_to_close(&mut socket);
    let welcome: [u8; 8] = sent.as_slice().try_into().expect("exactly a WELCOME");
    assert_eq!(Welcome::parse(&welcome).unwrap(), Welcome { version: 0, server_max_version: 1 });
}

#[test]
fn bad_requests_get_errors_and_the_connection_carries_on() {
    let dir = song_dir();
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    // PLAY cut short: request id but no song id.
    client.socket.write_all(&[0, 0, 0, 4, 0x03, 0, 0, 0, 0, 9]).unwrap();
    let Message::Error(e) = client.recv() else { panic!("expected ERROR") };
    assert_eq!((e.id, e.code), (RequestId(9), ErrorCode::MalformedRequest));
    // A request kind from a future version.
    client.socket.write_all(&[0, 0, 0, 4, 0x3A, 0, 0, 0, 0, 10]).unwrap();
    let Message::Error(e) = client.recv() else { panic!("expected ERROR") };
    assert_eq!((e.id, e.code), (RequestId(10), ErrorCode::UnknownRequest));
    // A kind only servers send.
    client.send(&Message::Pong { id: RequestId(11) });
    let Message::Error(e) = client.recv() else { panic!("expected ERROR") };
    assert_eq!((e.id, e.code), (RequestId::CONNECTION, ErrorCode::UnexpectedMessage));
    // An empty payload where a request id belongs.
    client.socket.write_all(&[0, 0, 0, 0, 0x02, 0]).unwrap();
    let Message::Error(e) = client.recv() else { panic!("expected ERROR") };
    assert_eq!((e.id, e.code), (RequestId::CONNECTION, ErrorCode::MalformedRequest));
    // Still served.
    let id = client.request(|id| Request::Ping { id });
    assert_eq!(client.recv(), Message::Pong { id });
}

#[test]
fn shutdown_says_goodbye_to_every_client() {
    let dir = song_dir();
    let server = serve(dir.path());
    let mut clients: Vec<Client> = (0..3).map(|_| Client::connect(server.addr)).collect();
    clients[0].play(1);
    assert!(matches!(clients[0].recv(), Message::Playing(_)));
    // Mid-stream: the first audio has arrived.
    assert!(matches!(clients[0].recv(), Message::Audio(_)));
    server.shutdown();
    for client in &mut clients {
        let (_, last) = client.recv_skipping_audio();
        assert!(matches!(&last, Message::Goodbye(g) if g.reason == GoodbyeReason::ShuttingDown), "{last:?}");
        assert!(client.try_recv().is_none(), "nothing after GOODBYE");
    }
}

#[test]
fn a_client_that_says_goodbye_is_let_go() {
    let dir = song_dir();
    let server = serve(dir.path());
    let mut client = Client::connect(server.addr);
    client.play(1);
    assert!(matches!(client.recv(), Message::Playing(_)));
    client.send(&Message::Goodbye(jukebox_protocol::Goodbye {
        reason: GoodbyeReason::Normal,
        text: "bye".into(),
    }));
    // The server stops streaming and closes; whatever audio was in flight may still arrive.
    client.socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    loop {
        match client.try_recv() {
            None => break,
            Some(Ok(Message::Audio(_))) => {}
            Some(other) => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_full_server_says_so_and_serves_again_when_a_client_leaves() {
    let dir = song_dir();
    let server = serve_at_most(dir.path(), 2);
    let first = Client::connect(server.addr);
    let mut second = Client::connect(server.addr);
    let mut third = Client::connect(server.addr);
    let Message::Goodbye(goodbye) = third.recv() else { panic!("expected GOODBYE") };
    assert_eq!(goodbye.reason, GoodbyeReason::ServerBusy);
    assert_eq!(goodbye.text, "the server is full (2 clients); try again later");
    assert!(third.try_recv().is_none(), "closed after GOODBYE");
    // The two served clients are unaffected; when one leaves there is room again.
    let id = second.request(|id| Request::Ping { id });
    assert_eq!(second.recv(), Message::Pong { id });
    // The server notices the departure when its threads end: until then a newcomer is told
    // the server is full; then it is served.
    drop(first);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut fourth = loop {
        let mut client = Client::connect(server.addr);
        let id = client.request(|id| Request::Ping { id });
        match client.recv() {
            Message::Pong { id: answered } if answered == id => break client,
            Message::Goodbye(g) if g.reason == GoodbyeReason::ServerBusy => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(std::time::Instant::now() < deadline, "no room after a client left");
    };
    let id = fourth.request(|id| Request::Ping { id });
    assert_eq!(fourth.recv(), Message::Pong { id });
}

#[test]
fn a_full_server_still_negotiates_versions() {
    let dir = song_dir();
    let server = serve_at_most(dir.path(), 0);
    let mut socket = TcpStream::connect(server.addr).unwrap();
    socket.write_all(&Hello { min_version: 2, max_version: 3 }.encode()).unwrap();
    let sent = read_to_close(&mut socket);
    let welcome: [u8; 8] = sent.as_slice().try_into().expect("a WELCOME and no frame");
    assert_eq!(Welcome::parse(&welcome).unwrap(), Welcome { version: 0, server_max_version: 1 });
}

#[test]
fn a_handshake_that_trickles_in_slowly_still_completes() {
    let dir = song_dir();
    let server = serve(dir.path());
    let mut socket = TcpStream::connect(server.addr).unwrap();
    for byte in Hello::current().encode() {
        socket.write_all(&[byte]).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut welcome = [0u8; 8];
    socket.read_exact(&mut welcome).unwrap();
    assert_eq!(Welcome::parse(&welcome).unwrap().version, 1);
}
