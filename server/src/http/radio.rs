//! `GET /radio`: the station as an endless MP3 stream, the way SHOUTcast and Icecast serve it,
//! so that any player plays it: the listener's burst first, then every chunk as it goes on the
//! air, with ICY metadata blocks among the audio when the player asks (`Icy-MetaData: 1`).
//! Also `/radio.m3u` and `/radio.pls`, playlists that point at it.
//!
//! A listener's thread wakes every [`crate::radio::WRITE_EVERY`] (sooner while its listener holds less than
//! `radio::MIN_CUSHION`, as after tuning in while the station starts): it takes every chunk that arrived
//! meanwhile and sends them in one `write_vectored` of slices of the shared chunks (and the
//! small metadata blocks), so no listener copies audio and a thousand listeners cost a few
//! thousand wake-ups a second, not one per chunk each. After a quiet spell (the station fell
//! behind) it waits for the next chunk and sends it at once. A write that makes no progress for
//! [`super::WRITE_TIMEOUT`] drops the listener; one that fell [`crate::radio::LAG_LIMIT`]
//! behind skips forward to live (its backlog is dropped by the station).

use std::io::{self, IoSlice};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use crossbeam_channel::{TryRecvError, select};
use tracing::debug;

use super::Reply;
use super::head::Head;
use super::icy::{self, Interleaver, Piece, Segment};
use crate::Shared;
use crate::radio::{Chunk, Cushion, Slice, Via};

/// The station's name in players.
pub const STATION_NAME: &str = "jukebox radio";

/// Answers `GET /radio` or `HEAD /radio`.
pub(super) fn serve(
    socket: &TcpStream,
    peer: SocketAddr,
    head: &Head,
    head_only: bool,
    shared: &Shared,
) -> io::Result<u16> {
    let station = &shared.station;
    let off_air = || super::error(socket, 503, "the station is off the air", head_only);
    if !station.on_air() {
        return off_air();
    }
    let metadata = head.header("icy-metadata").is_some_and(|v| v == "1");
    let (kbps, hz) = station.format();
    let mut reply = Reply::new(200)
        .header("Content-Type", "audio/mpeg")
        .header("Cache-Control", "no-cache, no-store")
        .header("icy-name", STATION_NAME)
        .header("icy-description", "songs from a jukebox server, and your requests")
        .header("icy-genre", "Various")
        .header("icy-br", kbps.to_string())
        .header("icy-sr", hz.to_string())
        .header("ice-audio-info", format!("ice-samplerate={hz};ice-bitrate={kbps};ice-channels=2"))
        .header("icy-pub", "0");
    if metadata {
        reply = reply.header("icy-metaint", icy::METAINT.to_string());
    }
    if head_only {
        reply.write_head(socket)?;
        return Ok(200);
    }
    let Some(mut tuning) = station.tune(Via::Http) else { return off_air() };
    reply.write_head(socket)?;
    debug!(%peer, metadata, "a listener tuned in over HTTP");
    let mut icy = metadata.then(|| Interleaver::new(icy::METAINT));
    let mut batch: Vec<Slice> = std::mem::take(&mut tuning.burst);
    let mut ended = false;
    let mut cushion = Cushion::new(Instant::now());
    loop {
        if !batch.is_empty() {
            let sent = send(socket, &batch, icy.as_mut())?;
            station.count_sent(sent);
            batch.iter().for_each(|slice| cushion.sent(slice.duration()));
            batch.clear();
        }
        if ended {
            return Ok(200);
        }
        let woke = Instant::now();
        select! {
            recv(shared.shutdown) -> _ => return Ok(200),
            default(cushion.next_write(woke).saturating_duration_since(woke)) => {}
        }
        if tuning.take_lag() {
            debug!(%peer, "the listener fell behind; it skips forward to live");
        }
        ended = drain(&tuning.live, &mut batch);
        if batch.is_empty() && !ended {
            // Nothing arrived for a whole batch: the air went quiet. Wait for the next chunk,
            // and send it at once.
            select! {
                recv(tuning.live) -> chunk => match chunk {
                    Ok(chunk) => batch.push(Slice::whole(chunk)),
                    Err(_) => ended = true,
                },
                recv(shared.shutdown) -> _ => return Ok(200),
            }
            ended |= drain(&tuning.live, &mut batch);
            debug!(%peer, "the air was quiet for {:.1} s", woke.elapsed().as_secs_f32());
        }
    }
}

/// Moves every chunk waiting into `batch`; true when the station's stream ended (off the air).
fn drain(live: &crossbeam_channel::Receiver<std::sync::Arc<Chunk>>, batch: &mut Vec<Slice>) -> bool {
    loop {
        match live.try_recv() {
            Ok(chunk) => batch.push(Slice::whole(chunk)),
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => return true,
        }
    }
}

/// The title heard in `chunk`: a song that starts in it starts in its first frame (the
/// station cuts chunks where songs begin), so it is heard through the rest.
fn heard(chunk: &Chunk) -> String {
    let airing = chunk.starts.as_ref().unwrap_or(&chunk.airing);
    icy::stream_title(&airing.track.artist, &airing.track.title)
}

/// Writes `batch` in one vectored write, with metadata blocks when `icy` plans them. Returns
/// the bytes written.
fn send(socket: &TcpStream, batch: &[Slice], icy: Option<&mut Interleaver>) -> io::Result<usize> {
    let Some(icy) = icy else {
        let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|s| IoSlice::new(s.data())).collect();
        return super::write_all_vectored(socket, &mut slices);
    };
    let titles: Vec<String> = batch.iter().map(|s| heard(&s.chunk)).collect();
    let segments: Vec<Segment<'_>> =
        batch.iter().zip(&titles).map(|(s, title)| Segment { len: s.data().len(), title }).collect();
    let pieces = icy.plan(&segments);
    let mut slices: Vec<IoSlice<'_>> = pieces
        .iter()
        .map(|piece| match piece {
            Piece::Audio { segment, range } => IoSlice::new(
                batch.get(*segment).and_then(|s| s.data().get(range.clone())).unwrap_or_default(),
            ),
            Piece::Meta(block) => IoSlice::new(block),
        })
        .collect();
    super::write_all_vectored(socket, &mut slices)
}

/// The station's address as a player outside this machine reaches it: from the request's
/// `Host` when it is a plain host name or address with a port, else the address the
/// connection came in on.
pub(super) fn base_url(head: &Head, local: SocketAddr) -> String {
    match head.header("host") {
        Some(host) if plain_host(host) => format!("http://{host}"),
        _ => format!("http://{local}"),
    }
}

/// Letters, digits, `.`, `-`, `:` and brackets only (an IPv6 address): nothing that could
/// break out of a URL or a playlist's line.
fn plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// `/radio.m3u`: an extended M3U playlist of the stream.
pub(super) fn m3u(base: &str) -> String {
    format!("#EXTM3U\n#EXTINF:-1,{STATION_NAME}\n{base}/radio\n")
}

/// `/radio.pls`: a PLS playlist of the stream.
pub(super) fn pls(base: &str) -> String {
    format!(
        "[playlist]\nFile1={base}/radio\nTitle1={STATION_NAME}\nLength1=-1\nNumberOfEntries=1\nVersion=2\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_with_host(host: &str) -> Head {
        Head {
            method: "GET".into(),
            target: "/radio.m3u".into(),
            version: 1,
            headers: vec![("host".into(), host.into())],
        }
    }

    #[test]
    fn playlists_point_at_the_host_asked_or_the_address_used() {
        let local: SocketAddr = "192.0.2.7:8080".parse().unwrap();
        assert_eq!(base_url(&head_with_host("radio.example:8080"), local), "http://radio.example:8080");
        assert_eq!(base_url(&head_with_host("[::1]:8080"), local), "http://[::1]:8080");
        for hostile in ["evil/x", "a b", "x\r\nFile2=http://evil", "", "h@st", &"a".repeat(300)] {
            assert_eq!(base_url(&head_with_host(hostile), local), "http://192.0.2.7:8080", "{hostile:?}");
        }
        assert_eq!(m3u("http://h:1"), "#EXTM3U\n#EXTINF:-1,jukebox radio\nhttp://h:1/radio\n");
        let pls = pls("http://h:1");
        assert!(pls.starts_with("[playlist]\nFile1=http://h:1/radio\n"), "{pls}");
        assert!(pls.contains("NumberOfEntries=1\n") && pls.ends_with("Version=2\n"));
    }
}
