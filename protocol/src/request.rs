//! Requests, sent by the client (RFC §6.1). Every request payload begins with a request id,
//! which the reply echoes, so replies can be matched while audio flows. Fields a later version
//! appends are ignored by a version 1 receiver (RFC §5.3).
//!
//! ```text
//! PING, LIST, STOP, RESCAN, TUNE, QUEUE,
//! PAUSE, RESUME:                         | request id (32) |
//! PLAY, REQUEST, INFO:                   | request id (32) | song id (32) |
//! SEEK:                                  | request id (32) | song id (32) | position ms (32) |
//! SEARCH:                                | request id (32) | text |
//! SUBSCRIBE:                             | request id (32) | mask (32) |
//! ```

use std::fmt;

use crate::error::DecodeError;
use crate::event::Subsystems;
use crate::frame::Kind;
use crate::relay::NodeId;
use crate::wire::{Cursor, put_text, put_u16, put_u32, put_u64};

/// Chosen by the client to match a reply to its request (RFC §6.1). Id 0 is reserved for ERROR
/// frames that answer no particular request; clients SHOULD NOT use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u32);

impl RequestId {
    /// The id of ERROR frames that concern the connection, not one request.
    pub const CONNECTION: RequestId = RequestId(0);
}

/// A song's number in the server's library, from 1, as listed by LIST (RFC §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SongId(pub u32);

impl fmt::Display for SongId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a client may ask of the server in version 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Asks for a PONG (RFC §6.1.1); doubles as the keepalive.
    Ping {
        /// Echoed in the PONG.
        id: RequestId,
    },
    /// Asks for the whole song list as one or more LIST_PAGE frames (RFC §6.1.2).
    List {
        /// Echoed in every LIST_PAGE.
        id: RequestId,
    },
    /// Starts a new stream of `song`, ending any current one (RFC §6.1.3).
    Play {
        /// Echoed in PLAYING or ERROR.
        id: RequestId,
        /// The song to stream.
        song: SongId,
    },
    /// Ends the current stream, if any (RFC §6.1.4).
    Stop {
        /// Echoed in STOPPED.
        id: RequestId,
    },
    /// Stops the audio of the current stream where it is, keeping the stream open, so that
    /// a listener who pauses does not leave the server holding seconds of audio in flight
    /// (RFC §6.1.10).
    Pause {
        /// Echoed in PAUSED or ERROR.
        id: RequestId,
    },
    /// Goes on with a paused stream from where it stopped (RFC §6.1.11).
    Resume {
        /// Echoed in RESUMED or ERROR.
        id: RequestId,
    },
    /// Starts a new stream of `song` from the frame boundary at or just before
    /// `position_ms`, replacing any current one, as PLAY does (RFC §6.1.12).
    Seek {
        /// Echoed in PLAYING or ERROR.
        id: RequestId,
        /// The song to stream.
        song: SongId,
        /// Where in the song to start, in milliseconds.
        position_ms: u32,
    },
    /// Asks the server to look for new, changed and removed files now (RFC §6.1.5).
    Rescan {
        /// Echoed in SCANNING.
        id: RequestId,
    },
    /// Leaves any current stream for the station's (RFC §6.1.6).
    Tune {
        /// Echoed in TUNED or ERROR.
        id: RequestId,
    },
    /// Asks what is on air and which requests wait (RFC §6.1.7).
    Queue {
        /// Echoed in every QUEUE_PAGE.
        id: RequestId,
    },
    /// Asks the station to play `song` after the requests before it (RFC §6.1.8).
    RequestSong {
        /// Echoed in QUEUED or ERROR.
        id: RequestId,
        /// The song wanted.
        song: SongId,
    },
    /// A relay asks for the station, as a child of this server (RFC §6.1.9).
    Relay {
        /// Echoed in RELAYED, REDIRECT or ERROR.
        id: RequestId,
        /// The relay's identity, so a server can refuse a loop.
        node: NodeId,
        /// The port where the relay serves its own relays, at the address its connection
        /// comes from.
        port: u16,
    },
    /// Asks for every detail of `song`: tags, format, gapless and ReplayGain (RFC §6.1.13).
    Info {
        /// Echoed in SONG_INFO or ERROR.
        id: RequestId,
        /// The song.
        song: SongId,
    },
    /// Asks for the songs whose title, artist or album hold every word of `text`, whatever
    /// their case and accents, as LIST_PAGEs (RFC §6.1.14).
    Search {
        /// Echoed in every LIST_PAGE.
        id: RequestId,
        /// Words separated by white space; empty lists every song.
        text: String,
    },
    /// Asks for an EVENT whenever one of the subsystems in `mask` changes, instead of the
    /// subsystems asked for before; an empty mask asks for none (RFC §6.1.15).
    Subscribe {
        /// Echoed in SUBSCRIBED.
        id: RequestId,
        /// The subsystems, one bit each.
        mask: Subsystems,
    },
}

impl Request {
    /// The id the reply will echo.
    pub fn id(&self) -> RequestId {
        match self {
            Request::Ping { id }
            | Request::List { id }
            | Request::Stop { id }
            | Request::Pause { id }
            | Request::Resume { id }
            | Request::Seek { id, .. }
            | Request::Rescan { id }
            | Request::Tune { id }
            | Request::Queue { id }
            | Request::RequestSong { id, .. }
            | Request::Relay { id, .. }
            | Request::Info { id, .. }
            | Request::Search { id, .. }
            | Request::Subscribe { id, .. }
            | Request::Play { id, .. } => *id,
        }
    }

    /// The frame kind that carries this request.
    pub fn kind(&self) -> Kind {
        match self {
            Request::Ping { .. } => Kind::Ping,
            Request::List { .. } => Kind::List,
            Request::Play { .. } => Kind::Play,
            Request::Stop { .. } => Kind::Stop,
            Request::Pause { .. } => Kind::Pause,
            Request::Resume { .. } => Kind::Resume,
            Request::Seek { .. } => Kind::Seek,
            Request::Rescan { .. } => Kind::Rescan,
            Request::Tune { .. } => Kind::Tune,
            Request::Queue { .. } => Kind::Queue,
            Request::RequestSong { .. } => Kind::Request,
            Request::Relay { .. } => Kind::Relay,
            Request::Info { .. } => Kind::Info,
            Request::Search { .. } => Kind::Search,
            Request::Subscribe { .. } => Kind::Subscribe,
        }
    }

    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.id().0);
        if let Request::Play { song, .. }
        | Request::RequestSong { song, .. }
        | Request::Seek { song, .. }
        | Request::Info { song, .. } = self
        {
            put_u32(out, song.0);
        }
        if let Request::Seek { position_ms, .. } = self {
            put_u32(out, *position_ms);
        }
        if let Request::Relay { node, port, .. } = self {
            put_u64(out, node.0);
            put_u16(out, *port);
        }
        if let Request::Search { text, .. } = self {
            put_text(out, text);
        }
        if let Request::Subscribe { mask, .. } = self {
            put_u32(out, mask.0);
        }
    }

    /// Decodes the payload of a request kind; `None` for a kind that is not a request.
    pub(crate) fn decode(kind: Kind, c: &mut Cursor<'_>) -> Option<Result<Request, DecodeError>> {
        let make: fn(RequestId, &mut Cursor<'_>) -> Result<Request, DecodeError> = match kind {
            Kind::Ping => |id, _| Ok(Request::Ping { id }),
            Kind::List => |id, _| Ok(Request::List { id }),
            Kind::Stop => |id, _| Ok(Request::Stop { id }),
            Kind::Pause => |id, _| Ok(Request::Pause { id }),
            Kind::Resume => |id, _| Ok(Request::Resume { id }),
            Kind::Seek => |id, c| {
                let song = SongId(c.u32()?);
                Ok(Request::Seek { id, song, position_ms: c.u32()? })
            },
            Kind::Rescan => |id, _| Ok(Request::Rescan { id }),
            Kind::Tune => |id, _| Ok(Request::Tune { id }),
            Kind::Queue => |id, _| Ok(Request::Queue { id }),
            Kind::Play => |id, c| Ok(Request::Play { id, song: SongId(c.u32()?) }),
            Kind::Request => |id, c| Ok(Request::RequestSong { id, song: SongId(c.u32()?) }),
            Kind::Info => |id, c| Ok(Request::Info { id, song: SongId(c.u32()?) }),
            Kind::Search => |id, c| Ok(Request::Search { id, text: c.text()? }),
            Kind::Subscribe => |id, c| Ok(Request::Subscribe { id, mask: Subsystems(c.u32()?) }),
            Kind::Relay => |id, c| {
                let node = NodeId::decode(c)?;
                Ok(Request::Relay { id, node, port: c.u16()? })
            },
            _ => return None,
        };
        Some(c.request_id().and_then(|id| make(id, c)))
    }

    /// The request id at the start of any request payload, even of a kind this version does
    /// not know, so the server can answer it with ERROR (RFC §5.4).
    pub fn peek_id(payload: &[u8]) -> Option<RequestId> {
        let bytes: [u8; 4] = payload.get(..4)?.try_into().ok()?;
        Some(RequestId(u32::from_be_bytes(bytes)))
    }
}
