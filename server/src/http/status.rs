//! `GET /status.json`, `GET /library.json` and `POST /request/N`: the station and the library
//! as JSON, for the web page and for scripts.
//!
//! ```json
//! {"server":"jukebox 0.1.0",
//!  "station":{"on_air":true,"bitrate_kbps":128,"sample_rate":44100,"listen_url":"/radio"},
//!  "now":{"id":3,"title":"…","artist":"…","album":"…","duration_ms":1000,"elapsed_ms":200},
//!  "queue":[{"id":2,"title":"…","artist":"…","duration_ms":1000,"mine":true}],
//!  "listeners":{"native":0,"http":1,"total":1},"uptime_s":42,"bytes_sent":123456,"songs":4,
//!  "tree":{"node":"6cbf3e4dfa904cf5","relaying":true,"path":["10.0.0.1:12345"],"children":[]}}
//! ```
//!
//! `now` is `null` off the air; `mine` marks the asker's own requests (by IP address, as the
//! station counts requesters). A request is answered `{"ok":true,"place":2,"message":"…"}`
//! (200) or `{"ok":false,"error":"already_queued","message":"…"}` with 409 (already_queued),
//! 429 (request_limit), 503 (queue_full, off_air), 404 (no_such_song) or 403 (not_the_origin: a
//! relay, whose songs are requested at the origin).

use jukebox_protocol::ErrorCode;
use serde::Serialize;
use serde::ser::Serializer;

use crate::Shared;
use crate::library::{Library, Song, duration_ms};
use crate::radio::{Accepted, RequestError, Requester};

/// What the server calls itself.
pub const SERVER: &str = concat!("jukebox ", env!("CARGO_PKG_VERSION"));

/// The whole status.
#[derive(Debug, Serialize)]
pub struct Status {
    server: &'static str,
    station: StationInfo,
    now: Option<Now>,
    queue: Vec<Entry>,
    listeners: Listeners,
    uptime_s: u64,
    bytes_sent: u64,
    songs: usize,
    tree: Tree,
}

/// This server's place in a tree of relays (RFC §7.6).
#[derive(Debug, Serialize)]
struct Tree {
    /// Its identity, as hex.
    node: String,
    /// Whether it relays another station.
    relaying: bool,
    /// Its path to the origin, origin first (its parent last); empty at the origin.
    path: Vec<String>,
    /// The relays it feeds directly.
    children: Vec<String>,
}

#[derive(Debug, Serialize)]
struct StationInfo {
    on_air: bool,
    bitrate_kbps: u16,
    sample_rate: u32,
    listen_url: &'static str,
}

#[derive(Debug, Serialize)]
struct Now {
    id: u32,
    title: String,
    artist: String,
    album: String,
    duration_ms: u32,
    elapsed_ms: u32,
}

#[derive(Debug, Serialize)]
struct Entry {
    id: u32,
    title: String,
    artist: String,
    duration_ms: u32,
    mine: bool,
}

#[derive(Debug, Serialize)]
struct Listeners {
    native: usize,
    http: usize,
    total: usize,
}

/// The status as `asker` sees it.
pub(crate) fn status(shared: &Shared, asker: Requester) -> Status {
    let station = &shared.station;
    let view = station.queue(Some(asker));
    let (kbps, hz) = station.format();
    let (native, http) = station.listeners();
    let now = view.now.map(|now| Now {
        id: now.track.song.0,
        title: now.track.title,
        artist: now.track.artist,
        album: view.now_album.clone(),
        duration_ms: now.track.duration_ms,
        elapsed_ms: now.elapsed_ms,
    });
    let queue = view
        .entries
        .into_iter()
        .map(|e| Entry {
            id: e.track.song.0,
            title: e.track.title,
            artist: e.track.artist,
            duration_ms: e.track.duration_ms,
            mine: e.mine,
        })
        .collect();
    Status {
        server: SERVER,
        station: StationInfo {
            on_air: station.on_air(),
            bitrate_kbps: kbps,
            sample_rate: hz,
            listen_url: "/radio",
        },
        now,
        queue,
        listeners: Listeners { native, http, total: native + http },
        uptime_s: station.started().elapsed().as_secs(),
        bytes_sent: station.bytes_sent(),
        songs: shared.catalog.current().len(),
        tree: Tree {
            node: station.tree().node().to_string(),
            relaying: station.relaying(),
            path: station.tree().path().into_iter().map(|hop| hop.address).collect(),
            children: station.tree().children().into_iter().map(|(_, address)| address).collect(),
        },
    }
}

/// The status as one line of JSON (an event stream's `data:` line must not break).
pub(crate) fn status_json(shared: &Shared, asker: Requester) -> String {
    json(&status(shared, asker))
}

/// `value` as compact JSON. These types cannot fail to serialize (no maps with non-string
/// keys, no failing `Serialize` impls), so a failure would be a bug: it yields `null`.
pub fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// The library as `/library.json` lists it, serialized song by song as it is written, so that a
/// large library costs no buffer the size of its JSON per request.
pub struct LibraryList<'a>(pub &'a Library);

#[derive(Debug, Serialize)]
struct LibraryEntry<'a> {
    id: u32,
    title: &'a str,
    artist: &'a str,
    album: &'a str,
    duration_ms: u32,
}

impl Serialize for LibraryList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.songs().iter().map(|song: &Song| LibraryEntry {
            id: song.id.0,
            title: &song.tags.title,
            artist: &song.tags.artist,
            album: &song.tags.album,
            duration_ms: duration_ms(song.duration),
        }))
    }
}

/// The answer to `POST /request/N`: its status and JSON body.
pub fn request_answer(result: &Result<Accepted, RequestError>) -> (u16, String) {
    #[derive(Serialize)]
    struct Ok<'a> {
        ok: bool,
        place: u32,
        message: &'a str,
    }
    #[derive(Serialize)]
    struct Refused<'a> {
        ok: bool,
        error: &'a str,
        message: &'a str,
    }
    match result {
        Ok(accepted) => (200, json(&Ok { ok: true, place: accepted.place, message: &accepted.message() })),
        Err(refused) => {
            let (status, error) = match refused.code {
                ErrorCode::AlreadyQueued => (409, "already_queued"),
                ErrorCode::RequestLimit => (429, "request_limit"),
                ErrorCode::QueueFull => (503, "queue_full"),
                ErrorCode::NoSuchSong => (404, "no_such_song"),
                ErrorCode::OffAir => (503, "off_air"),
                // A relay: songs are requested at the origin.
                ErrorCode::NotTheOrigin => (403, "not_the_origin"),
                _ => (500, "internal"),
            };
            (status, json(&Refused { ok: false, error, message: &refused.message }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::{SongId, Track};

    #[test]
    fn requests_are_answered_with_the_status_their_refusal_deserves() {
        let accepted = Ok(Accepted {
            track: Track {
                song: SongId(3),
                duration_ms: 1,
                title: "Tin \"Robot\"".into(),
                artist: String::new(),
            },
            place: 2,
        });
        assert_eq!(
            request_answer(&accepted),
            (200, r#"{"ok":true,"place":2,"message":"Tin \"Robot\" is 2nd in the queue"}"#.to_string())
        );
        let refused = |code| Err(RequestError { code, message: "no\nway".into() });
        assert_eq!(
            request_answer(&refused(ErrorCode::AlreadyQueued)),
            (409, r#"{"ok":false,"error":"already_queued","message":"no\nway"}"#.to_string())
        );
        let statuses: Vec<(u16, String)> =
            [ErrorCode::RequestLimit, ErrorCode::QueueFull, ErrorCode::NoSuchSong, ErrorCode::OffAir]
                .into_iter()
                .map(|code| request_answer(&refused(code)))
                .map(|(status, body)| {
                    (
                        status,
                        serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"]
                            .as_str()
                            .unwrap()
                            .to_string(),
                    )
                })
                .collect();
        assert_eq!(
            statuses,
            [
                (429, "request_limit".into()),
                (503, "queue_full".into()),
                (404, "no_such_song".into()),
                (503, "off_air".into())
            ]
        );
    }
}
