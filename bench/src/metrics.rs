//! What the listeners of one run observe, accumulated as they go.

use std::collections::BTreeMap;

use crate::live::LiveEdges;
use crate::stats::Samples;

/// Counters and samples shared by every listener of a run (one thread, so no locking).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Connect to handshake done.
    pub handshake: Samples,
    /// Request to first audio byte.
    pub first_audio: Samples,
    /// LIST round trips while streaming.
    pub list_rtt: Samples,
    /// Audio buffered ahead of playback, sampled about once a second per listener.
    pub lead: Samples,
    /// Connections that completed their handshake.
    pub connected: u64,
    /// Failures by reason.
    pub failed: BTreeMap<String, u64>,
    /// Audio of an old stream after the reply that ended it.
    pub stale_bytes: u64,
    /// PLAYs sent while playing, and STOPs.
    pub switches: u64,
    /// ERROR replies and malformed frames.
    pub errors: u64,
    /// Audio bytes received.
    pub audio_bytes: u64,
    /// Underruns of streams that are over.
    pub underruns: u64,
    /// Radio: the live-edge estimates and the playback positions to hold against them.
    pub live: LiveEdges,
    /// Radio: the station time (Position ms) of the first AUDIO of the run, from which every
    /// later one is unwrapped (Position ms counts modulo 2^32).
    pub station_base: Option<u32>,
    /// Radio: AUDIO whose Position ms did not continue the previous chunk (RFC §7.5.4 skips).
    pub jumps: u64,
    /// Radio: TRACK_CHANGED received.
    pub track_changes: u64,
    /// ICY: metadata blocks read (empty ones included), and those that named a title.
    pub meta_blocks: u64,
    /// ICY: metadata blocks that named a title.
    pub meta_titles: u64,
    /// ICY: listeners that asked for metadata and got no `icy-metaint`.
    pub no_metaint: u64,
    /// ICY: body bytes (metadata taken out) that were not part of an MP3 frame.
    pub junk_bytes: u64,
}

impl Metrics {
    /// Counts a failed or lost connection.
    pub fn fail(&mut self, reason: impl Into<String>) {
        *self.failed.entry(reason.into()).or_default() += 1;
    }
}
