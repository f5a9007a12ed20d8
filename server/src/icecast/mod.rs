//! Feeding Icecast: the station pushed as a source to an Icecast server, which then serves it
//! to audiences larger than one jukebox should (Icecast relays scale it further). One jukebox
//! is the origin; Icecast does the fan-out.
//!
//! ```text
//!  Hub ──(a listener's queue, Via::Http)──▶ icecast-source thread ──PUT /mount──▶ Icecast
//!                                            │ posts the newest title             ▲
//!                                            ▼                                    │
//!                                           icecast-titles thread ──GET /admin/metadata (short)
//! ```
//!
//! - [`target`]: the URL (`http://source:PASSWORD@HOST:PORT/MOUNT`), checked at startup.
//! - [`source`]: the `PUT` and Icecast's answer; [`SourceError`] says what went wrong.
//! - [`metadata`]: title updates, on a thread of their own so they never hold up the audio.
//! - [`report`]: which tries are worth a log line (sans-IO).
//! - `feed`: the source thread that drives them.
//!
//! The source thread blocks only in connecting (at most [`source::CONNECT_TIMEOUT`]), in
//! reading Icecast's answer (at most [`source::ANSWER_TIMEOUT`]), in a write (at most
//! [`feed::WRITE_TIMEOUT`] without progress), and in `select!` over the station's chunks,
//! the backoff's delay and the stop signal. The station never waits for it: like every
//! listener it has a bounded queue, and is skipped forward when it falls behind.

pub mod feed;
pub mod metadata;
pub mod report;
pub mod source;
pub mod target;

use std::thread::{self, JoinHandle};

use crossbeam_channel::Receiver;

pub use source::SourceError;
pub use target::{Target, TargetError};

use crate::radio::Station;

/// Starts the thread that feeds `station` to `target`, reconnecting whenever Icecast goes
/// away, until `stop` disconnects (the server's shutdown signal: nothing is ever sent on it).
/// Its log says when Icecast takes the source, refuses it, or goes away.
pub fn spawn(station: Station, target: Target, stop: Receiver<()>) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("icecast-source".into())
        .stack_size(256 * 1024)
        .spawn(move || feed::run(&station, &target, &stop))
}
