//! The JSON that one-shot commands print with `--json`, for scripts: one stable shape per
//! command, documented in the README ("One-shot commands"). Fields are only ever added, never
//! renamed or removed; durations are integers in milliseconds, with `_ms` in their names.
//!
//! Texts are the server's, exactly (a script may want to match a title), but a character that
//! would act on a terminal (see [`is_unsafe`]) is written as a `\uXXXX` escape even where JSON
//! allows it raw, so that `jukebox-client list --json` on a terminal is as safe to look at as
//! `list`, and a JSON parser still reads the exact text.

use std::borrow::Cow;
use std::io;

use jukebox_protocol::text::is_unsafe;
use jukebox_protocol::{ErrorCode, Event, SongEntry, SongInfo};
use serde::Serialize;

use crate::connection::ClientError;
use crate::radio::StationQueue;

/// `info N`: `{"id":2,"title":…,"artist":…,"album":…,"genre":…,"track":3,"track_total":12,
/// "year":2024,"duration_ms":…,"size":…,"sample_rate":44100,"channels":2,"bitrate_kbps":128,
/// "average_kbps":128,"encoder":"LAME3.100","encoder_delay":576,"encoder_padding":810,
/// "replaygain":{"track_gain_db":-5.2,"track_peak":0.98,"album_gain_db":null,
/// "album_peak":null,"from_lame_tag":true}}`; 0 for a track, total or year the tags do not
/// give (as the wire has it), 0 for a variable bitrate, null for what is not known.
#[derive(Debug, Serialize)]
pub struct Info<'a> {
    id: u32,
    title: &'a str,
    artist: &'a str,
    album: &'a str,
    genre: &'a str,
    track: u16,
    track_total: u16,
    year: u16,
    duration_ms: u32,
    size: u64,
    sample_rate: u32,
    channels: u8,
    bitrate_kbps: u16,
    average_kbps: u16,
    encoder: &'a str,
    encoder_delay: Option<u16>,
    encoder_padding: Option<u16>,
    replaygain: Gain,
}

/// ReplayGain of `info`: gains in dB, peaks as fractions of full scale.
#[derive(Debug, Serialize)]
struct Gain {
    track_gain_db: Option<f64>,
    track_peak: Option<f64>,
    album_gain_db: Option<f64>,
    album_peak: Option<f64>,
    from_lame_tag: bool,
}

impl<'a> From<&'a SongInfo> for Info<'a> {
    fn from(info: &'a SongInfo) -> Info<'a> {
        let db = |centi: Option<i32>| centi.map(|c| f64::from(c) / 100.0);
        let peak = |millionths: Option<u32>| millionths.map(|m| f64::from(m) / 1_000_000.0);
        Info {
            id: info.song.0,
            title: &info.title,
            artist: &info.artist,
            album: &info.album,
            genre: &info.genre,
            track: info.track,
            track_total: info.track_total,
            year: info.year,
            duration_ms: info.duration_ms,
            size: info.size,
            sample_rate: info.sample_rate,
            channels: info.channels,
            bitrate_kbps: info.bitrate_kbps,
            average_kbps: info.average_kbps,
            encoder: &info.encoder,
            encoder_delay: info.gapless.map(|g| g.delay),
            encoder_padding: info.gapless.map(|g| g.padding),
            replaygain: Gain {
                track_gain_db: db(info.gain.track_gain),
                track_peak: peak(info.gain.track_peak),
                album_gain_db: db(info.gain.album_gain),
                album_peak: peak(info.gain.album_peak),
                from_lame_tag: info.gain.from_lame,
            },
        }
    }
}

/// A song of `list`: `{"id":1,"title":…,"artist":…,"album":…,"duration_ms":…}`.
#[derive(Debug, Serialize)]
pub struct Song<'a> {
    /// The song id (what `play` and `request` take).
    pub id: u32,
    /// Its title, as the server sent it.
    pub title: &'a str,
    /// Its artist; empty when the tags name none.
    pub artist: &'a str,
    /// Its album; empty when the tags name none.
    pub album: &'a str,
    /// Its length.
    pub duration_ms: u32,
}

impl<'a> From<&'a SongEntry> for Song<'a> {
    fn from(song: &'a SongEntry) -> Song<'a> {
        Song {
            id: song.id.0,
            title: &song.title,
            artist: &song.artist,
            album: &song.album,
            duration_ms: song.duration_ms,
        }
    }
}

/// A song that plays: `{"id":2,"title":…,"artist":…,"duration_ms":…}`, and, for the
/// station's, `"elapsed_ms"`.
#[derive(Debug, Serialize)]
pub struct Track<'a> {
    /// The song id (what `play` and `request` take).
    pub id: u32,
    /// Its title, as the server sent it.
    pub title: &'a str,
    /// Its artist; empty when the tags name none.
    pub artist: &'a str,
    /// Its length.
    pub duration_ms: u32,
    /// How far the station got into it (only in `queue` and `status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u32>,
}

/// A song waiting in the station's queue; `mine` if it was requested from this client's
/// address (the station counts requesters by address, so a one-shot client's earlier
/// requests are its own too).
#[derive(Debug, Serialize)]
pub struct Waiting<'a> {
    /// The song id (what `play` and `request` take).
    pub id: u32,
    /// Its title, as the server sent it.
    pub title: &'a str,
    /// Its artist; empty when the tags name none.
    pub artist: &'a str,
    /// Its length.
    pub duration_ms: u32,
    /// Requested from this client's address.
    pub mine: bool,
}

/// `queue`: `{"now":TRACK or null,"requests":[WAITING...]}`.
#[derive(Debug, Serialize)]
pub struct Queue<'a> {
    /// What the station plays; `null` when it is off the air.
    pub now: Option<Track<'a>>,
    /// The requests, in the order they will play.
    pub requests: Vec<Waiting<'a>>,
}

impl<'a> From<&'a StationQueue> for Queue<'a> {
    fn from(queue: &'a StationQueue) -> Queue<'a> {
        Queue {
            now: queue.now.as_ref().map(|now| Track {
                id: now.track.song.0,
                title: &now.track.title,
                artist: &now.track.artist,
                duration_ms: now.track.duration_ms,
                elapsed_ms: Some(now.elapsed_ms),
            }),
            requests: queue
                .entries
                .iter()
                .map(|entry| Waiting {
                    id: entry.track.song.0,
                    title: &entry.track.title,
                    artist: &entry.track.artist,
                    duration_ms: entry.track.duration_ms,
                    mine: entry.mine,
                })
                .collect(),
        }
    }
}

/// One song of `request N...`: where it went in the queue, or why not.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Requested {
    /// `{"id":3,"title":"Tin Robot Shuffle","place":2}` (`title` null if the server does not
    /// list the song).
    Queued { id: u32, title: Option<String>, place: u32 },
    /// `{"id":9,"error":{"code":"no_such_song","message":…}}`.
    Refused { id: u32, error: Failure },
}

/// `status`: `{"server":"HOST:PORT","station":TRACK or null}`.
#[derive(Debug, Serialize)]
pub struct Status<'a> {
    /// The server that answered, `HOST:PORT`.
    pub server: String,
    /// What its station plays; `null` when it is off the air.
    pub station: Option<Track<'a>>,
}

/// `stop`: `{"stopped":false}` (true if something was playing on this connection).
#[derive(Debug, Serialize)]
pub struct Stopped {
    /// Something was playing on this connection.
    pub stopped: bool,
}

/// What `play` and `radio` print as it happens, one object a line (JSON Lines), each with one
/// key naming what happened.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Happening<'a> {
    /// `{"playing":TRACK}`: the song started.
    Playing(Track<'a>),
    /// `{"finished":{"id":2}}`: it was played to its end.
    Finished { id: u32 },
    /// `{"tuned":{"bitrate_kbps":128}}`: the radio answered (0: the server did not say).
    Tuned { bitrate_kbps: u16 },
    /// `{"now_playing":TRACK}`: on the radio, a new song is heard.
    NowPlaying(Track<'a>),
    /// `{"off_air":{}}`: the station went off the air; the command ends.
    OffAir {},
}

/// What `idle` prints, one object a line (JSON Lines), each with one key naming what
/// happened.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Idling {
    /// `{"idle":{"for":["library","song","queue"]}}`: the server answered, and will tell of
    /// these (a server without a station leaves out song and queue).
    Idle {
        /// The subsystems waited for.
        #[serde(rename = "for")]
        subsystems: Vec<&'static str>,
    },
    /// `{"changed":CHANGE}`: one of them changed; the command ends after the last of those
    /// that came together.
    Changed(Change),
}

/// A change `idle` saw, named by its subsystem: `{"subsystem":"library","scan":3}` (the scan
/// that changed the songs), `{"subsystem":"song","id":2}` (the song on the station's air;
/// `null` when it went off the air), `{"subsystem":"queue","waiting":1}` (requested songs
/// waiting).
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "subsystem", rename_all = "snake_case")]
pub enum Change {
    /// A rescan changed the server's songs.
    Library {
        /// The scan's number.
        scan: u32,
    },
    /// Another song went on the station's air, or the station went off the air.
    Song {
        /// The song on the air; `None` off the air.
        id: Option<u32>,
    },
    /// The station's queue of requests changed.
    Queue {
        /// Requested songs waiting now.
        waiting: u32,
    },
}

impl Change {
    /// The change an EVENT tells of; `None` for a subsystem this client does not know.
    pub fn of(event: &Event) -> Option<Change> {
        Some(match *event {
            Event::Library { scan } => Change::Library { scan },
            Event::StationSong { song } => Change::Song { id: song.map(|s| s.0) },
            Event::StationQueue { waiting } => Change::Queue { waiting },
            Event::Other { .. } => return None,
        })
    }
}

/// Why a command failed: `{"code":"no_such_song","message":"no song with id 99"}`.
#[derive(Debug, Serialize)]
pub struct Failure {
    /// One of the codes of [`code`]: a stable, machine-readable reason.
    pub code: Cow<'static, str>,
    /// The reason in words (the server's, when it refused).
    pub message: String,
}

/// A failed command's whole output: `{"error":FAILURE}`.
#[derive(Debug, Serialize)]
pub struct ErrorDocument {
    /// Why the command failed.
    pub error: Failure,
}

impl From<&ClientError> for Failure {
    fn from(error: &ClientError) -> Failure {
        let message = match error {
            // The server's words, without the "server: " the REPL puts before them.
            ClientError::Server(reply) | ClientError::Refused(reply) => reply.message.clone(),
            other => other.to_string(),
        };
        Failure { code: code(error), message }
    }
}

/// The stable code of a failure: the server's error code in snake case (`no_such_song`,
/// `song_unavailable`, `already_queued`, `request_limit`, `queue_full`, `off_air`,
/// `not_the_origin`, `internal`, ..., `error_0x0123` for one this client does not know), or
/// the client's own: `cannot_connect`, `not_a_jukebox` (the handshake failed), `disconnected`,
/// `timeout`, `bad_reply` (the server broke the protocol), `not_now` (the command does not apply
/// to what plays now).
pub fn code(error: &ClientError) -> Cow<'static, str> {
    match error {
        ClientError::Server(reply) | ClientError::Refused(reply) => server_code(reply.code),
        ClientError::Connect(_) => "cannot_connect".into(),
        ClientError::Handshake(_) => "not_a_jukebox".into(),
        ClientError::Disconnected | ClientError::NotConnected(_) => "disconnected".into(),
        ClientError::Timeout(_) => "timeout".into(),
        ClientError::Unexpected(_) | ClientError::List(_) | ClientError::Queue(_) => "bad_reply".into(),
        ClientError::NotNow(_) => "not_now".into(),
    }
}

fn server_code(code: ErrorCode) -> Cow<'static, str> {
    Cow::Borrowed(match code {
        ErrorCode::MalformedRequest => "malformed_request",
        ErrorCode::UnknownRequest => "unknown_request",
        ErrorCode::UnexpectedMessage => "unexpected_message",
        ErrorCode::NoSuchSong => "no_such_song",
        ErrorCode::SongUnavailable => "song_unavailable",
        ErrorCode::StreamIdsExhausted => "stream_ids_exhausted",
        ErrorCode::AlreadyQueued => "already_queued",
        ErrorCode::RequestLimit => "request_limit",
        ErrorCode::QueueFull => "queue_full",
        ErrorCode::OffAir => "off_air",
        ErrorCode::RelayRefused => "relay_refused",
        ErrorCode::NotTheOrigin => "not_the_origin",
        ErrorCode::NoStream => "no_stream",
        ErrorCode::LiveStream => "live_stream",
        ErrorCode::BadPosition => "bad_position",
        ErrorCode::Internal => "internal",
        ErrorCode::Other(v) => return Cow::Owned(format!("error_{v:#06x}")),
    })
}

/// `value` as one line of JSON, with the escapes described in the module documentation.
pub fn to_line<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, TerminalSafe);
    match value.serialize(&mut serializer) {
        // serde_json writes UTF-8, and these types always serialize.
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(e) => format!(r#"{{"error":{{"code":"internal","message":"cannot write JSON: {e}"}}}}"#),
    }
}

/// serde_json's compact format, but every character that [`is_unsafe`] names is escaped.
struct TerminalSafe;

impl serde_json::ser::Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| is_unsafe(c)) {
            writer.write_all(&rest.as_bytes()[..at])?;
            // Every unsafe character is in the Basic Multilingual Plane: one escape.
            write!(writer, "\\u{:04x}", u32::from(c))?;
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::{ErrorReply, RequestId, SongId};

    #[test]
    fn a_song_has_its_documented_shape() {
        let song = SongEntry {
            id: SongId(3),
            duration_ms: 191_600,
            size: 10,
            title: "Tin \"Robot\"".into(),
            artist: "Synths".into(),
            album: String::new(),
        };
        assert_eq!(
            to_line(&[Song::from(&song)]),
            r#"[{"id":3,"title":"Tin \"Robot\"","artist":"Synths","album":"","duration_ms":191600}]"#
        );
        assert_eq!(to_line(&Happening::OffAir {}), r#"{"off_air":{}}"#);
        assert_eq!(to_line(&Happening::Finished { id: 2 }), r#"{"finished":{"id":2}}"#);
    }

    #[test]
    fn idle_has_its_documented_shapes() {
        assert_eq!(
            to_line(&Idling::Idle { subsystems: vec!["library", "song", "queue"] }),
            r#"{"idle":{"for":["library","song","queue"]}}"#
        );
        let lines: Vec<String> = [
            Event::Library { scan: 3 },
            Event::StationSong { song: Some(SongId(2)) },
            Event::StationSong { song: None },
            Event::StationQueue { waiting: 1 },
        ]
        .iter()
        .filter_map(Change::of)
        .map(|change| to_line(&Idling::Changed(change)))
        .collect();
        assert_eq!(
            lines,
            [
                r#"{"changed":{"subsystem":"library","scan":3}}"#,
                r#"{"changed":{"subsystem":"song","id":2}}"#,
                r#"{"changed":{"subsystem":"song","id":null}}"#,
                r#"{"changed":{"subsystem":"queue","waiting":1}}"#,
            ]
        );
        assert_eq!(Change::of(&Event::Other { subsystem: 8, value: 1 }), None);
    }

    #[test]
    fn text_that_would_act_on_a_terminal_is_escaped_and_parses_back() {
        let title = "A\u{1b}[2J\u{9b}B\u{202e}C\u{7f} é 曲";
        let line = to_line(&Track { id: 1, title, artist: "", duration_ms: 1, elapsed_ms: None });
        assert!(!line.chars().any(is_unsafe), "{line}");
        assert!(line.contains(r"A\u001b[2J\u009bB\u202eC\u007f é 曲"), "{line}");
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["title"], title);
    }

    #[test]
    fn errors_carry_a_stable_code() {
        let refused = ClientError::Server(ErrorReply {
            id: RequestId(1),
            code: ErrorCode::NoSuchSong,
            message: "no song with id 99".into(),
        });
        assert_eq!(
            to_line(&ErrorDocument { error: Failure::from(&refused) }),
            r#"{"error":{"code":"no_such_song","message":"no song with id 99"}}"#
        );
        assert_eq!(code(&ClientError::Connect("x".into())), "cannot_connect");
        assert_eq!(server_code(ErrorCode::Other(0x123)), "error_0x0123");
    }
}
