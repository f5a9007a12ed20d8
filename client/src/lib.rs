//! The jukebox client: a REPL that lists a server's songs and plays them as they arrive.
//!
//! # Threads
//!
//! ```text
//!   ┌────────────┐ request (write half, under a mutex)           ┌───────────────┐
//!   │    REPL    │ ────────────────────────────────────────────▶ │ socket thread │ ◀── TCP
//!   │   (main)   │ ◀── reply, per request id (bounded(16)) ───── │   (Router)    │  (read half)
//!   └────────────┘                                               └───────┬───────┘
//!     │ asks the Link for the Connection of the moment;                  │ the connection
//!     │ `connect` opens a new one and closes the old                     │ ends: Link::lost
//!     ▼                                                                  ▼
//!   ┌────────────┐  Condvar: down, and a retry is due  ┌────────────────────────────────────┐
//!   │ reconnect  │ ◀────────────────────────────────── │ Link: the Connection of the moment │
//!   │ (interac-  │ ───── a new Connection ───────────▶ │ (if any), the server, when to      │
//!   │ tive only) │                                     │ retry: 0.25-0.5 s, doubling to 30 s│
//!   └────────────┘                                     │ jittered                           │
//!   ┌────────────┐ one per Connection, like the        └────────────────────────────────────┘
//!   │ keepalive  │ socket thread: PING after 15 s without sending (--keepalive); shuts the
//!   └────────────┘ socket down after 15 + 10 s without a frame (--timeout)
//!
//!   ┌────────────┐ one per Connection: PLAY for the play queue's next song when the song
//!   │   queue    │ received whole has 4 s left (woken by the socket thread, the commands;
//!   │ (follower) │ never waits for a reply: the socket thread reads the PLAYING)
//!   └────────────┘
//!            socket thread: PLAYING/TUNED/STOPPED switch the PcmQueue at once (a PLAYING
//!            that answers the play queue's next song is appended instead); AUDIO,
//!            TRACK_CHANGED and END_OF_STREAM go to the decoder as DecodeCmd (bounded(64)) ─┐
//!   ┌──────────────────┐  pull, never blocks  ┌──────────┐                                 ▼
//!   │ output: rodio    │ ◀─────────────────── │ PcmQueue │ ◀── decoder thread (jukebox_codec)
//!   │ callback, or the │  (and, on the radio, └──────────┘     pushes 44.1 kHz stereo, and on
//!   │ null/WAV clock   │  announces each song                  the radio the frame at which
//!   └──────────────────┘  when it takes the                    each song begins; waits only
//!                         song's first frame)                  when 20 s are queued
//!
//!   Event (bounded(256); when full, dropped and counted) ◀── Link, socket thread, output
//!     └──▶ the events thread prints them above the prompt (interactive), and every 250 ms
//!          redraws the status line there (`status_line`: one lock says whether the line
//!          above the prompt is the status line); or the REPL prints them between and
//!          during commands (script, one-shot)
//!
//!   ctrl-c thread (the ctrlc crate: SIGINT, SIGTERM, SIGHUP)
//!     ├─ a command runs (interactive) ──▶ cancel request (bounded(1)) that `wait` and
//!     │                                   `sleep` stop at
//!     └─ at the prompt, or a script ────▶ Link::close (GOODBYE), exit status 130
//! ```
//!
//! - Only the socket thread reads the socket, so it sees replies and audio in wire order: it
//!   switches playback when it reads PLAYING, TUNED or STOPPED, before it reads any later audio.
//!   Samples carry their stream; a switch empties the queue and bumps a generation counter
//!   that the output checks on every sample, so no old audio is heard after a switch.
//! - `pause` is a flag of the PcmQueue that the output reads on every sample (so the pause is
//!   heard at once; the output then plays silence, and the WAV clock runs on), set by the REPL
//!   before it sends PAUSE; `resume` clears it, and the next sample taken is the one after the
//!   last played. A switch (PLAYING, TUNED, STOPPED) clears it too: a new stream plays at once.
//! - The play queue ([`playlist`]) is the session's, kept in [`playback::Playback`] beside the
//!   PcmQueue. When a song has been received (END_OF_STREAM) and has 4 s left to play, the
//!   follower asks for the next one with a PLAY of its own; the decoder cuts the encoder's
//!   delay and padding ([`gapless`]) and the PcmQueue plays the new stream's first sample right
//!   after the old one's last. Every request that changes what plays, the user's or the
//!   follower's, is noted in the playlist under its lock before it is sent: the follower asks
//!   for nothing while a user's switch is unanswered, the socket thread tells the queue's
//!   PLAYING from a `play N`'s, and ignores one for a next song given up (`stop`, `play N`).
//!   Nothing holds the playlist's lock while it waits for the decoder.
//! - Connections come and go; the decoder, the queue and the output are made once and serve
//!   every connection. A connection that ends stops the song it started. `connect` closes the
//!   old connection, and waits for its socket thread, before the new one can play anything.
//! - The reconnect thread runs in interactive mode only: a script ends with its connection.
//! - The REPL blocks only in readline, in waiting for a reply (at most `--timeout`), in
//!   `connect` (as long), in `rescan` (for the server's scan to end, at most 120 s: the socket
//!   thread wakes it when a LIBRARY_CHANGED arrives), in `idle` (until an EVENT arrives: the
//!   socket thread keeps the newest of each subsystem in [`idle::Changes`] and wakes it), and
//!   in `sleep`/`wait` (which Ctrl-C cancels, as it cancels `idle`). The output never blocks:
//!   an empty queue plays silence. Nothing that comes from the network can grow a queue
//!   without bound.
//! - On the radio (RFC §7.5) a song is shown when it is heard, not when its TRACK_CHANGED
//!   arrives (about 2 s earlier: the station's burst keeps that much queued): the decoder keeps count of the frames it hands the queue and
//!   knows each chunk's station time, so it places each song on the frame where it begins
//!   (an undecodable frame plays as silence of its length, so the count holds), and the
//!   output's [`pcm::PcmQueue::take`] sends [`Event::TrackChanged`] when it takes that frame to
//!   play: on time to within a take (10 ms on the null and WAV outputs; a device adds its own
//!   buffer's latency).
//! - Nothing is cached but the songs of the last `list`, for `request` to name the song it
//!   queued (QUEUED carries only its id) and for tab completion to offer song ids (a Tab never
//!   waits for the network); `rescan` and `connect` forget them. Every other command is a
//!   round trip.
//! - A one-shot command (`jukebox-client list`, see [`oneshot`]) runs as a script of one
//!   command does: no reconnect thread, and Ctrl-C ends it with GOODBYE and status 130.

#![deny(unsafe_code)]

pub mod command;
pub mod complete;
pub mod connection;
pub mod decode;
pub mod explain;
pub mod gapless;
pub mod help;
pub mod history;
pub mod idle;
pub mod info;
pub mod interrupt;
pub mod json;
pub mod level;
pub mod link;
pub mod list;
pub mod oneshot;
pub mod output;
pub mod pcm;
pub mod playback;
pub mod playlist;
pub mod radio;
pub mod repl;
pub mod status_line;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

/// Something to tell the user that did not come from the command they typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A song played to its end.
    Finished(pcm::NowPlaying),
    /// The play queue moved on by itself: playback has reached the first sample of this song,
    /// which followed the one before without a gap.
    Advanced(pcm::NowPlaying),
    /// On the radio, playback has reached the first sample of this song (RFC §6.3.4).
    TrackChanged(pcm::NowPlaying),
    /// The radio stream ended: the station went off the air (RFC §7.5.4), and what it had
    /// sent has been played.
    StationEnded,
    /// The server went away or closed the connection; the text says why, and whether the
    /// client reconnects.
    Disconnected(String),
    /// The reconnect thread connected again, to the server named.
    Reconnected(String),
    /// Something went wrong but the client carries on.
    Warning(String),
    /// The server's library changed (RFC §6.3.3): a list shown earlier is out of date.
    LibraryChanged(jukebox_protocol::LibraryChanged),
    /// This many events came while the queue was full and were dropped (see
    /// [`EVENT_QUEUE`]); made up by the receiving end once it has shown the rest.
    Dropped(u64),
}

/// Events that may wait to be shown. A server can send messages for the user (connection-level
/// ERRORs) far faster than a terminal shows them; beyond this many, new ones are dropped and
/// counted, so a flood costs a bounded amount of memory and one line saying how many were lost.
pub const EVENT_QUEUE: usize = 256;

/// A channel for [`Event`]s of [`EVENT_QUEUE`] places whose sending end never blocks.
pub fn event_channel() -> (EventSender, EventReceiver) {
    let (tx, rx) = crossbeam_channel::bounded(EVENT_QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    (EventSender { tx, dropped: Arc::clone(&dropped) }, EventReceiver { rx, dropped })
}

/// The sending end of [`event_channel`], for the socket, decoder and output threads: sending
/// never blocks (the audio callback sends too), and an event that finds the queue full is
/// dropped and counted.
#[derive(Debug, Clone)]
pub struct EventSender {
    tx: Sender<Event>,
    dropped: Arc<AtomicU64>,
}

impl EventSender {
    /// Queues `event`, or counts it as dropped if the queue is full. Nobody listening (the
    /// client is leaving) is not an error.
    pub fn send(&self, event: Event) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(event) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The receiving end of [`event_channel`]: the events in order, and, once the queue has been
/// emptied after some were dropped, one [`Event::Dropped`] with their number.
#[derive(Debug)]
pub struct EventReceiver {
    rx: Receiver<Event>,
    dropped: Arc<AtomicU64>,
}

impl EventReceiver {
    /// The next event if there is one now.
    pub fn try_next(&self) -> Option<Event> {
        match self.rx.try_recv() {
            Ok(event) => Some(event),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => self.take_dropped(),
        }
    }

    /// The next event, waiting for it until `deadline` (forever if `None`); `None` at the
    /// deadline or when every sender is gone.
    pub fn next_until(&self, deadline: Option<Instant>) -> Option<Event> {
        if let Some(event) = self.try_next() {
            return Some(event);
        }
        // The queue is empty, so nothing can be dropped until something arrives: whatever is
        // dropped from now on is reported by a later call, after what is queued.
        match deadline {
            Some(deadline) => self.rx.recv_deadline(deadline).ok(),
            None => self.rx.recv().ok(),
        }
    }

    fn take_dropped(&self) -> Option<Event> {
        match self.dropped.swap(0, Ordering::Relaxed) {
            0 => None,
            n => Some(Event::Dropped(n)),
        }
    }
}
