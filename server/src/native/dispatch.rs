//! How the server answers each frame a client sends (RFC §5.4.2), decided in one place,
//! without I/O: the reader thread calls [`dispatch`] and carries the decision out.

use jukebox_protocol::frame::{Class, Kind, KindName};
use jukebox_protocol::{
    ErrorCode, ErrorReply, Goodbye, Message, NodeId, Request, RequestId, SongId, Subsystems,
};

use crate::library::{Library, Song};

/// What to do about one frame from a client.
#[derive(Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// Send this reply (PONG, or an ERROR).
    Reply(Message),
    /// Answer with the whole library.
    List {
        /// The LIST's id.
        id: RequestId,
    },
    /// Answer with the songs that match `text`, paged as LIST is (RFC §6.1.14).
    Search {
        /// The SEARCH's id.
        id: RequestId,
        /// The query, as the client sent it.
        text: String,
    },
    /// Load this listed song and start streaming it.
    Play {
        /// The PLAY's id.
        id: RequestId,
        /// The song, as the library lists it now.
        song: Box<Song>,
    },
    /// Load this listed song and start streaming it from a position (RFC §6.1.12).
    Seek {
        /// The SEEK's id.
        id: RequestId,
        /// The song, as the library lists it now.
        song: Box<Song>,
        /// Where to start, in milliseconds into the song.
        position_ms: u32,
    },
    /// End the current stream.
    Stop {
        /// The STOP's id.
        id: RequestId,
    },
    /// Stop sending the current stream, keeping it (RFC §6.1.10).
    Pause {
        /// The PAUSE's id.
        id: RequestId,
    },
    /// Go on with a paused stream (RFC §6.1.11).
    Resume {
        /// The RESUME's id.
        id: RequestId,
    },
    /// Ask for a scan of the music folder.
    Rescan {
        /// The RESCAN's id.
        id: RequestId,
    },
    /// Hear the station (RFC §6.1.6).
    Tune {
        /// The TUNE's id.
        id: RequestId,
    },
    /// Tell what the station plays and which requests wait (RFC §6.1.7).
    Queue {
        /// The QUEUE's id.
        id: RequestId,
    },
    /// Ask the station for a song (RFC §6.1.8).
    RequestSong {
        /// The REQUEST's id.
        id: RequestId,
        /// The song wanted.
        song: SongId,
    },
    /// A relay asks for the station as a child of this server (RFC §6.1.9).
    Relay {
        /// The RELAY's id.
        id: RequestId,
        /// The relay's identity.
        node: NodeId,
        /// Where it serves its own relays, at the connection's source address.
        port: u16,
    },
    /// Tell the client of changes to these subsystems from now on (RFC §6.1.15).
    Subscribe {
        /// The SUBSCRIBE's id.
        id: RequestId,
        /// The subsystems asked for, known to this version or not.
        mask: Subsystems,
    },
    /// A connection-level kind from a newer version (0xC0-0xFE): skipped (RFC §5.2).
    Ignore,
    /// The client is closing.
    Closing(Goodbye),
}

/// Decides what a frame of kind `kind_byte` with `payload` asks for, given the library as it
/// is now.
pub fn dispatch(kind_byte: u8, payload: &[u8], library: &Library) -> Dispatch {
    if kind_byte == Kind::Goodbye.to_u8() {
        // A malformed GOODBYE is still a GOODBYE (RFC §5.4.2).
        return Dispatch::Closing(match Message::decode(kind_byte, payload) {
            Ok(Message::Goodbye(goodbye)) => goodbye,
            _ => Goodbye::malformed(),
        });
    }
    match Class::of(kind_byte) {
        Class::Request => {}
        Class::Either => return Dispatch::Ignore,
        Class::Unassigned | Class::Reply | Class::Push => {
            return error(
                RequestId::CONNECTION,
                ErrorCode::UnexpectedMessage,
                format!("a client may not send {}", KindName(kind_byte)),
            );
        }
    }
    let peeked = Request::peek_id(payload).unwrap_or(RequestId::CONNECTION);
    match Message::decode(kind_byte, payload) {
        Ok(Message::Request(request)) => answer(request, library),
        Ok(_) => error(peeked, ErrorCode::UnknownRequest, format!("unknown request kind {kind_byte:#04x}")),
        Err(e) => error(peeked, ErrorCode::MalformedRequest, e.to_string()),
    }
}

fn answer(request: Request, library: &Library) -> Dispatch {
    match request {
        Request::Ping { id } => Dispatch::Reply(Message::Pong { id }),
        Request::List { id } => Dispatch::List { id },
        Request::Stop { id } => Dispatch::Stop { id },
        Request::Pause { id } => Dispatch::Pause { id },
        Request::Resume { id } => Dispatch::Resume { id },
        Request::Rescan { id } => Dispatch::Rescan { id },
        Request::Tune { id } => Dispatch::Tune { id },
        Request::Queue { id } => Dispatch::Queue { id },
        Request::RequestSong { id, song } => Dispatch::RequestSong { id, song },
        Request::Relay { id, node, port } => Dispatch::Relay { id, node, port },
        Request::Search { id, text } => Dispatch::Search { id, text },
        Request::Subscribe { id, mask } => Dispatch::Subscribe { id, mask },
        // INFO is answered from what the scan found: no file is read (RFC §6.1.13).
        Request::Info { id, song } => match library.get(song) {
            Some(found) => match found.info(id) {
                Some(info) => Dispatch::Reply(Message::SongInfo(info)),
                None => error(
                    id,
                    ErrorCode::SongUnavailable,
                    format!("the details of song {song} are being read; ask again in a moment"),
                ),
            },
            None => no_such_song(id, song),
        },
        Request::Play { id, song } => match library.get(song) {
            Some(found) => Dispatch::Play { id, song: Box::new(found.clone()) },
            None => no_such_song(id, song),
        },
        Request::Seek { id, song, position_ms } => match library.get(song) {
            Some(found) => Dispatch::Seek { id, song: Box::new(found.clone()), position_ms },
            None => no_such_song(id, song),
        },
    }
}

fn no_such_song(id: RequestId, song: SongId) -> Dispatch {
    error(id, ErrorCode::NoSuchSong, format!("no song with id {song}"))
}

/// PLAYs a connection may send at once before it is slowed down.
pub const PLAY_BURST: u32 = 8;

/// PLAYs per second a connection may send in the long run.
pub const PLAYS_PER_SECOND: u32 = 2;

/// How fast a connection may start streams (RFC §12 lets a server limit it). Each PLAY starts
/// a stream with a burst of seconds of audio, so a client that floods PLAYs while reading
/// would otherwise make the server send audio as fast as the network goes: [`PLAY_BURST`]
/// PLAYs at once, then [`PLAYS_PER_SECOND`]; a faster PLAY waits (and the requests behind it
/// with it, in order) until it is its turn. A person switching songs never notices.
#[derive(Debug, Clone, Default)]
pub struct PlayBudget {
    /// When the next PLAY would be due if PLAYs came at exactly the long-run rate (the
    /// "theoretical arrival time" of the generic cell rate algorithm).
    due: Option<std::time::Instant>,
}

impl PlayBudget {
    const INTERVAL: std::time::Duration = std::time::Duration::from_millis(1000 / PLAYS_PER_SECOND as u64);

    /// Takes a PLAY's turn at `now`: returns how long it must wait first (zero when within
    /// the budget).
    pub fn admit(&mut self, now: std::time::Instant) -> std::time::Duration {
        let due = self.due.map_or(now, |due| due.max(now));
        // A PLAY may run up to PLAY_BURST - 1 intervals ahead of the long-run rate.
        let tolerance = Self::INTERVAL * (PLAY_BURST - 1);
        self.due = Some(due + Self::INTERVAL);
        due.saturating_duration_since(now).saturating_sub(tolerance)
    }
}

/// An ERROR reply.
fn error(id: RequestId, code: ErrorCode, message: String) -> Dispatch {
    Dispatch::Reply(Message::Error(ErrorReply { id, code, message }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::GoodbyeReason;

    fn payload(message: Message) -> (u8, Vec<u8>) {
        let bytes = message.to_bytes().unwrap();
        (bytes[4], bytes[6..].to_vec())
    }

    fn error_of(d: Dispatch) -> (RequestId, ErrorCode) {
        match d {
            Dispatch::Reply(Message::Error(e)) => (e.id, e.code),
            other => panic!("expected an ERROR, got {other:?}"),
        }
    }

    #[test]
    fn known_requests_are_answered_by_kind() {
        let library = Library::default();
        let (kind, bytes) = payload(Message::Request(Request::Ping { id: RequestId(4) }));
        assert_eq!(dispatch(kind, &bytes, &library), Dispatch::Reply(Message::Pong { id: RequestId(4) }));
        let (kind, bytes) = payload(Message::Request(Request::List { id: RequestId(5) }));
        assert_eq!(dispatch(kind, &bytes, &library), Dispatch::List { id: RequestId(5) });
        let (kind, bytes) = payload(Message::Request(Request::Rescan { id: RequestId(6) }));
        assert_eq!(dispatch(kind, &bytes, &library), Dispatch::Rescan { id: RequestId(6) });
        let (kind, bytes) = payload(Message::Request(Request::Play { id: RequestId(7), song: SongId(42) }));
        assert_eq!(error_of(dispatch(kind, &bytes, &library)), (RequestId(7), ErrorCode::NoSuchSong));
        let seek = Request::Seek { id: RequestId(8), song: SongId(42), position_ms: 1000 };
        let (kind, bytes) = payload(Message::Request(seek));
        assert_eq!(error_of(dispatch(kind, &bytes, &library)), (RequestId(8), ErrorCode::NoSuchSong));
        let (kind, bytes) = payload(Message::Request(Request::Pause { id: RequestId(9) }));
        assert_eq!(dispatch(kind, &bytes, &library), Dispatch::Pause { id: RequestId(9) });
        let (kind, bytes) = payload(Message::Request(Request::Resume { id: RequestId(10) }));
        assert_eq!(dispatch(kind, &bytes, &library), Dispatch::Resume { id: RequestId(10) });
        // Bits this version does not know go to the writer as sent: it grants what it has.
        let subscribe = Request::Subscribe { id: RequestId(12), mask: Subsystems(0x8000_0003) };
        let (kind, bytes) = payload(Message::Request(subscribe));
        assert_eq!(
            dispatch(kind, &bytes, &library),
            Dispatch::Subscribe { id: RequestId(12), mask: Subsystems(0x8000_0003) }
        );
        // A SUBSCRIBE without its mask is malformed, and keeps its id.
        assert_eq!(
            error_of(dispatch(Kind::Subscribe.to_u8(), &[0, 0, 0, 13, 0, 0], &library)),
            (RequestId(13), ErrorCode::MalformedRequest)
        );
        // A SEEK cut short keeps its request id.
        assert_eq!(
            error_of(dispatch(0x07, &[0, 0, 0, 11, 0, 0, 0, 1], &library)),
            (RequestId(11), ErrorCode::MalformedRequest)
        );
    }

    #[test]
    fn info_is_answered_from_the_scan_and_search_goes_to_the_writer() {
        use crate::library::details::Details;
        use crate::library::index::Stamp;
        use crate::library::tags::Tags;
        let song = |id: u32, details: Option<Details>| Song {
            id: SongId(id),
            path: format!("{id}.mp3").into(),
            rel: format!("{id}.mp3").into(),
            real: format!("/m/{id}.mp3").into(),
            stamp: Stamp { size: 1000, mtime_ns: 0 },
            audio_start: 0,
            duration: std::time::Duration::from_millis(1500),
            tags: Tags { title: "Tune".into(), ..Tags::default() },
            details,
        };
        let library = Library::from_songs(vec![
            song(1, Some(Details { year: 1999, gapless: Some([576, 1080]), ..Details::default() })),
            song(2, None),
        ]);
        let (kind, bytes) = payload(Message::Request(Request::Info { id: RequestId(8), song: SongId(1) }));
        match dispatch(kind, &bytes, &library) {
            Dispatch::Reply(Message::SongInfo(info)) => {
                assert_eq!((info.id, info.song, info.year, info.size), (RequestId(8), SongId(1), 1999, 1000));
                assert_eq!(info.gapless.map(|g| (g.delay, g.padding)), Some((576, 1080)));
                assert_eq!((info.title.as_str(), info.duration_ms), ("Tune", 1500));
            }
            other => panic!("expected SONG_INFO, got {other:?}"),
        }
        let (kind, bytes) = payload(Message::Request(Request::Info { id: RequestId(9), song: SongId(2) }));
        assert_eq!(error_of(dispatch(kind, &bytes, &library)), (RequestId(9), ErrorCode::SongUnavailable));
        let (kind, bytes) = payload(Message::Request(Request::Info { id: RequestId(10), song: SongId(3) }));
        assert_eq!(error_of(dispatch(kind, &bytes, &library)), (RequestId(10), ErrorCode::NoSuchSong));
        let (kind, bytes) =
            payload(Message::Request(Request::Search { id: RequestId(11), text: "tu".into() }));
        assert_eq!(
            dispatch(kind, &bytes, &library),
            Dispatch::Search { id: RequestId(11), text: "tu".into() }
        );
        // A query whose text field lies about its length is malformed, as any request.
        assert_eq!(
            error_of(dispatch(Kind::Search.to_u8(), &[0, 0, 0, 12, 0x04, 0x01, b'a'], &library)),
            (RequestId(12), ErrorCode::MalformedRequest)
        );
    }

    #[test]
    fn malformed_unknown_and_unexpected_frames_get_the_rfc_errors() {
        let library = Library::default();
        // PLAY cut short keeps its request id.
        assert_eq!(
            error_of(dispatch(0x03, &[0, 0, 0, 9], &library)),
            (RequestId(9), ErrorCode::MalformedRequest)
        );
        // Too short for even a request id.
        assert_eq!(error_of(dispatch(0x02, &[], &library)), (RequestId(0), ErrorCode::MalformedRequest));
        // A request kind from a newer version.
        assert_eq!(
            error_of(dispatch(0x3A, &[0, 0, 0, 10], &library)),
            (RequestId(10), ErrorCode::UnknownRequest)
        );
        // Kinds only a server sends, and 0x00.
        for kind in [0x00, 0x41, 0x7F, 0x80, 0xBF] {
            assert_eq!(
                error_of(dispatch(kind, &[0, 0, 0, 11], &library)),
                (RequestId(0), ErrorCode::UnexpectedMessage)
            );
        }
        // The connection-level range is skipped, for what a newer peer may send.
        assert_eq!(dispatch(0xC0, b"whatever", &library), Dispatch::Ignore);
    }

    #[test]
    fn plays_beyond_the_burst_wait_their_turn() {
        let t0 = std::time::Instant::now();
        let mut budget = PlayBudget::default();
        for _ in 0..PLAY_BURST {
            assert_eq!(budget.admit(t0), std::time::Duration::ZERO);
        }
        let interval = std::time::Duration::from_millis(500);
        assert_eq!(budget.admit(t0), interval);
        assert_eq!(budget.admit(t0), interval * 2);
        // After a quiet while the burst is available again.
        let later = t0 + interval * (PLAY_BURST + 4);
        for _ in 0..PLAY_BURST {
            assert_eq!(budget.admit(later), std::time::Duration::ZERO);
        }
        assert!(budget.admit(later) > std::time::Duration::ZERO);
    }

    #[test]
    fn a_malformed_goodbye_is_still_a_goodbye() {
        let library = Library::default();
        assert_eq!(dispatch(0xFF, &[0], &library), Dispatch::Closing(Goodbye::malformed()));
        let (kind, bytes) =
            payload(Message::Goodbye(Goodbye { reason: GoodbyeReason::Normal, text: "bye".into() }));
        assert!(matches!(dispatch(kind, &bytes, &library), Dispatch::Closing(g) if g.text == "bye"));
    }
}
