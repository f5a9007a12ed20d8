//! Relaying: a server without a music folder that re-serves another station to its own
//! listeners, natively (TUNE) and over HTTP/ICY, from a jukebox upstream (RELAY, RFC §7.6) or
//! any Icecast/SHOUTcast station ([`icy`]).

pub mod icy;

use jukebox_protocol::SongId;

/// What an upstream delivers, in the order it comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Whole MPEG audio frames, back to back.
    Audio {
        /// The frames.
        frames: Vec<u8>,
        /// The upstream's station time at which the first frame starts, when the upstream has
        /// one (a jukebox; an ICY station does not).
        position_ms: Option<u64>,
    },
    /// A song begins: at `position_ms` when the upstream says, else with the next audio.
    Song {
        /// The upstream's id for it (a jukebox's), if any.
        song: Option<SongId>,
        /// Its title (for an ICY station, the StreamTitle, or its part after " - ").
        title: String,
        /// Its artist, if known.
        artist: String,
        /// Its playing time in milliseconds, 0 when unknown.
        duration_ms: u32,
        /// The upstream's station time at which it begins, if known.
        position_ms: Option<u64>,
    },
}
