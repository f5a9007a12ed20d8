//! The Jukebox Protocol, version 1 (`RFC.md` at the repository root), without I/O policy.
//!
//! This crate turns bytes into typed messages and typed messages into bytes. It never opens a
//! socket, spawns a thread or reads a clock, so that the server, the client and the benchmark
//! drive the same code, and so that every rejection path can be tested deterministically.
//!
//! - [`handshake`]: the fixed 8-byte exchange that opens a connection (RFC §4).
//! - [`frame`]: the 6-byte frame header, message kinds and size limits (RFC §5).
//! - [`message`]: the [`Message`] enum, one variant per kind, and frame encode/decode.
//! - [`request`], [`reply`], [`pause`], [`stream`], [`library`], [`radio`], [`relay`], [`info`],
//!   [`event`], [`goodbye`]: one module per message family (RFC §6).
//! - [`mp3`]: MPEG audio frame headers, because AUDIO payloads are whole MP3 frames (RFC §7).
//! - [`lame`]: the Xing/Info header and LAME tag of a stream's first frame: encoder delay and
//!   padding, ReplayGain.
//! - [`resync`]: whole MPEG audio frames found in a live stream cut anywhere (a relayed station).
//! - [`error`]: why a peer's bytes were refused.
//! - [`text`]: text from a peer made safe for a terminal or a log (RFC §12).

pub mod error;
pub mod event;
pub mod frame;
pub mod goodbye;
pub mod handshake;
pub mod info;
pub mod lame;
pub mod library;
pub mod message;
pub mod mp3;
pub mod pause;
pub mod radio;
pub mod relay;
pub mod reply;
pub mod request;
pub mod resync;
pub mod stream;
pub mod text;
mod wire;

pub use error::{BadMagic, DecodeError, EncodeError, FrameError, ReadError};
pub use event::{Event, Subscribed, Subsystems};
pub use frame::{Class, FrameHeader, Kind, KindName, MAX_PAYLOAD_LEN};
pub use goodbye::{Goodbye, GoodbyeReason};
pub use handshake::{Hello, PROTOCOL_VERSION, Welcome};
pub use info::{ReplayGain, SongInfo};
pub use lame::Gapless;
pub use library::{LibraryChanged, Scanning};
pub use message::{Message, read_frame, read_message};
pub use pause::{Paused, Resumed};
pub use radio::{NowPlaying, QueueEntry, QueuePage, Queued, Track, TrackChanged, Tuned};
pub use relay::{Hop, NodeId, Redirect, Relayed};
pub use reply::{ErrorCode, ErrorReply, ListPage, Playing, SongEntry, Stopped};
pub use request::{Request, RequestId, SongId};
pub use stream::{AUDIO_HEAD_LEN, Audio, EndOfStream, MAX_AUDIO_DATA_LEN, StreamId, audio_frame_head};
pub use wire::truncate_text;
