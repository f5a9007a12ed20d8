//! The jukebox client: a REPL that lists a server's songs and plays them as they arrive.
//!
//! # Threads
//!
//! ```text
//!   ┌──────────┐ request (write half, under a mutex)          ┌──────────────┐
//!   │   REPL   │ ───────────────────────────────────────────▶ │              │
//!   │ (main)   │ ◀── reply, per request id (crossbeam) ─────── │   socket     │ ◀── TCP
//!   └──────────┘                                               │   thread     │   (read half)
//!        ▲  Event (crossbeam) ── events thread ── printer      │   (Router)   │
//!        │                                                     └──────┬───────┘
//!   ┌──────────┐  PING every 15 s of silence                          │ PLAYING/STOPPED:
//!   │keepalive │ ──────────────▶ (write half)                         │   switch PcmQueue at once
//!   └──────────┘                                                      │ AUDIO, END_OF_STREAM:
//!                                          DecodeCmd (bounded(64))    ▼
//!   ┌──────────────────┐  pull, never blocks  ┌──────────┐ ◀──────────────
//!   │ output: rodio    │ ◀─────────────────── │ PcmQueue │ ◀── decoder thread (mp3dec)
//!   │ callback, or the │                      └──────────┘     pushes 44.1 kHz stereo,
//!   │ null/WAV clock   │                                        waits only when 20 s are queued
//!   └──────────────────┘
//! ```
//!
//! - Only the socket thread reads the socket, so it sees replies and audio in wire order: it
//!   switches playback when it reads PLAYING or STOPPED, before it reads any later audio.
//!   Samples carry their stream; a switch empties the queue and bumps a generation counter
//!   that the output checks on every sample, so no old audio is heard after a switch.
//! - The REPL blocks only in readline, in waiting for a reply (at most 10 s), and in
//!   `sleep`/`wait`. The output never blocks: an empty queue plays silence.
//! - Nothing is cached: every `list` and `play` is a round trip.

#![deny(unsafe_code)]

pub mod command;
pub mod connection;
pub mod decode;
// The only unsafe code of the client: two calls into minimp3's C decoder.
#[allow(unsafe_code)]
pub mod mp3dec;
pub mod output;
pub mod pcm;
pub mod playback;
pub mod repl;

/// Something to tell the user that did not come from the command they typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A song played to its end.
    Finished(pcm::NowPlaying),
    /// The server went away or closed the connection; the text says why.
    Disconnected(String),
    /// Something went wrong but the client carries on.
    Warning(String),
}
