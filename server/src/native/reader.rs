//! The reader thread of a connection: reads frames, asks [`dispatch`] what each one means,
//! does the I/O the answer needs (a song read by the loaders, a scan requested), and hands
//! the work to the writer in request order. It blocks only in `read` (bounded by
//! [`IDLE_TIMEOUT`]), in waiting for a song (bounded by the cache's `LOAD_TIMEOUT`), and in
//! handing work to the writer (a bounded queue, so a client that never reads its replies is
//! slowed down by TCP instead of being buffered for); and, for a client that floods PLAYs,
//! in waiting its turn ([`PlayBudget`]: at most half a second per PLAY).

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crossbeam_channel::Sender;
use jukebox_protocol::frame::IDLE_TIMEOUT;
use jukebox_protocol::{
    ErrorCode, ErrorReply, Goodbye, GoodbyeReason, Message, Queued, ReadError, Redirect, RequestId,
    read_frame,
};
use tracing::{debug, info, warn};

use crate::Shared;
use crate::library::song::{SeekError, SeekPoint};
use crate::library::{Song, duration_ms};
use crate::native::dispatch::{Dispatch, PlayBudget, dispatch};
use crate::native::ending::Ending;
use crate::native::events::Snapshot;
use crate::native::session::Work;
use crate::radio::{RelayRefusal, Requester, Via};

fn error(id: RequestId, code: ErrorCode, message: &str) -> Message {
    Message::Error(ErrorReply { id, code, message: message.to_string() })
}

/// A receive buffer larger than this is shrunk back after its frame: one 64 KiB frame must
/// not cost a connection 64 KiB for the rest of its life.
const SCRATCH_KEEP: usize = 4096;

/// The work of a PLAY (`position_ms` `None`) or a SEEK: the song loaded and the frame found
/// where the stream begins, or the ERROR that refuses it (RFC §6.1.3, §6.1.12). Finding the
/// frame of a song on disk reads one chunk of its file, here on the reader's thread, as the
/// song's loader read the whole of it.
fn start_song(
    id: RequestId,
    song: Song,
    position_ms: Option<u32>,
    shared: &Shared,
    peer: SocketAddr,
) -> Work {
    let loaded = match shared.cache.load(&song) {
        Ok(loaded) => loaded,
        Err(e) => {
            warn!(%peer, "cannot play song {}: {e}", song.id);
            let message = format!("song {} cannot be played now: {}", song.id, e.for_client());
            return Work::Reply(error(id, ErrorCode::SongUnavailable, &message));
        }
    };
    let from = match position_ms.map(|ms| loaded.seek(Duration::from_millis(u64::from(ms)))) {
        None => SeekPoint::start_of(&loaded),
        Some(Ok(from)) => from,
        Some(Err(SeekError::BeyondEnd { end })) => {
            let message = format!(
                "song {} is {} ms long: there is nothing to play at {} ms",
                song.id,
                end.as_millis(),
                position_ms.unwrap_or_default()
            );
            return Work::Reply(error(id, ErrorCode::BadPosition, &message));
        }
        Some(Err(SeekError::Read(e))) => {
            warn!(%peer, "cannot seek in song {}: {e}", song.id);
            let message = format!("song {} cannot be played now: its file changed", song.id);
            return Work::Reply(error(id, ErrorCode::SongUnavailable, &message));
        }
    };
    Work::Play {
        id,
        song: song.id,
        loaded,
        from,
        duration_ms: duration_ms(song.duration),
        gain: song.details.as_ref().map(|details| details.gain.wire()).unwrap_or_default(),
        title: song.tags.title,
        artist: song.tags.artist,
    }
}

/// Reads until the connection ends; returns why.
pub(crate) fn read_loop(
    mut socket: &TcpStream,
    peer: SocketAddr,
    work: &Sender<Work>,
    shared: &Shared,
) -> Ending {
    let mut scratch = Vec::new();
    let mut plays = PlayBudget::default();
    let requester = Requester::new(peer.ip());
    loop {
        let header = match read_frame(&mut socket, &mut scratch) {
            Ok(Some(header)) => header,
            Ok(None) => return Ending::ClientClosed,
            Err(ReadError::Frame(e)) => {
                let text = format!("protocol error: {e}");
                let _ = work.send(Work::Goodbye(Goodbye { reason: GoodbyeReason::ProtocolError, text }));
                return Ending::ProtocolError(e);
            }
            Err(ReadError::Io(e))
                if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
            {
                let text = format!("the server heard nothing for {} s", IDLE_TIMEOUT.as_secs());
                let _ = work.send(Work::Goodbye(Goodbye { reason: GoodbyeReason::IdleTimeout, text }));
                return Ending::IdleTimeout;
            }
            Err(e) => return Ending::Vanished(e),
        };
        let library = shared.catalog.current();
        let decided = dispatch(header.kind_byte, &scratch, &library);
        if scratch.capacity() > SCRATCH_KEEP {
            scratch = Vec::new();
        }
        debug!(%peer, ?decided, "request");
        let item = match decided {
            Dispatch::Reply(message) => Work::Reply(message),
            Dispatch::List { id } => Work::List { id, library },
            Dispatch::Search { id, text } => Work::Search { id, library, text },
            Dispatch::Stop { id } => Work::Stop { id },
            Dispatch::Rescan { id } => Work::Scanning { id, scan: shared.catalog.request_scan() },
            Dispatch::Pause { id } => Work::Pause { id },
            Dispatch::Resume { id } => Work::Resume { id },
            Dispatch::Play { id, song } => {
                // A client that floods PLAYs waits its turn here; so do its later requests,
                // in order, and TCP slows it down.
                let wait = plays.admit(std::time::Instant::now());
                if !wait.is_zero() {
                    std::thread::sleep(wait);
                }
                start_song(id, *song, None, shared, peer)
            }
            Dispatch::Seek { id, song, position_ms } => {
                // A SEEK starts a stream with a burst, as a PLAY does: it takes a PLAY's turn.
                let wait = plays.admit(std::time::Instant::now());
                if !wait.is_zero() {
                    std::thread::sleep(wait);
                }
                start_song(id, *song, Some(position_ms), shared, peer)
            }
            Dispatch::Tune { id } => {
                // A TUNE starts a stream with a burst, as a PLAY does: it takes a PLAY's turn.
                let wait = plays.admit(std::time::Instant::now());
                if !wait.is_zero() {
                    std::thread::sleep(wait);
                }
                match shared.station.tune(Via::Native) {
                    Some(tuning) => {
                        Work::Tune { id, tuning: Box::new(tuning), format: shared.station.format() }
                    }
                    None => Work::Reply(error(
                        id,
                        ErrorCode::OffAir,
                        "the station is off the air: it has no songs",
                    )),
                }
            }
            Dispatch::Relay { id, node, port } => {
                let wait = plays.admit(std::time::Instant::now());
                if !wait.is_zero() {
                    std::thread::sleep(wait);
                }
                // Where this relay's own relays will reach it: where it connects from.
                let address = SocketAddr::new(peer.ip(), port).to_string();
                match shared.station.relay(node, address.clone()) {
                    Ok(feed) => {
                        info!(%peer, "relay {node} at {address} joined");
                        Work::Relay { id, feed: Box::new(feed) }
                    }
                    Err(RelayRefusal::Redirect(to)) => {
                        debug!(%peer, "relay {node} sent on to {to}");
                        Work::Reply(Message::Redirect(Redirect {
                            id,
                            address: to,
                            text: "this server feeds as many relays as it may; ask its child".into(),
                        }))
                    }
                    Err(RelayRefusal::OffAir) => Work::Reply(error(
                        id,
                        ErrorCode::OffAir,
                        "the station is off the air: nothing to relay",
                    )),
                    Err(RelayRefusal::Refused(why)) => Work::Reply(error(id, ErrorCode::RelayRefused, &why)),
                }
            }
            Dispatch::Queue { id } => Work::Queue { id, view: shared.station.queue(Some(requester)) },
            Dispatch::RequestSong { id, song } => match shared.station.request(requester, song) {
                Ok(accepted) => {
                    debug!(%peer, "requested song {song}: {}", accepted.message());
                    Work::Reply(Message::Queued(Queued { id, song, place: accepted.place }))
                }
                Err(refused) => Work::Reply(error(id, refused.code, &refused.message)),
            },
            Dispatch::Subscribe { id, mask } => {
                Work::Subscribe { id, mask, at: Snapshot::read(shared.catalog.results(), &shared.station) }
            }
            Dispatch::Ignore => continue,
            Dispatch::Closing(goodbye) => return Ending::ClientGoodbye(goodbye),
        };
        if work.send(item).is_err() {
            return Ending::WriterGone;
        }
    }
}
