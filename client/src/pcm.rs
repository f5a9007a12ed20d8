//! The decoded audio waiting to be played, shared by the decoder (producer) and the output
//! (consumer), and the playback state that `status` and `wait` read.
//!
//! Every sample is tagged by the stream it came from: switching streams empties the queue at
//! once and bumps a generation counter, so neither a decoder still working on the old stream
//! nor an output holding a few old samples can make old audio heard after the switch.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jukebox_protocol::{SongId, StreamId};

use crate::{Event, EventSender};

/// Every output plays this format, 44.1 kHz interleaved stereo; the decoder's
/// [`jukebox_codec::Resampler`] converts to it.
pub use jukebox_codec::{CHANNELS, SAMPLE_RATE};

/// A decoder waits when this much audio is queued: a server that ignores pacing is slowed by
/// TCP instead of filling memory.
const MAX_QUEUED_SAMPLES: usize = 20 * SAMPLE_RATE as usize * CHANNELS as usize;

/// What is playing, as PLAYING described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NowPlaying {
    /// The stream the audio comes from.
    pub stream: StreamId,
    /// The song.
    pub song: SongId,
    /// Its title.
    pub title: String,
    /// Its artist.
    pub artist: String,
    /// Its length.
    pub duration: Duration,
}

#[derive(Debug, Default)]
struct State {
    current: Option<NowPlaying>,
    samples: VecDeque<i16>,
    /// All of the current stream has been decoded into `samples`.
    input_done: bool,
    /// Frames (sample pairs) of the current stream already played.
    played_frames: u64,
}

/// A snapshot for `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The song, if one is playing.
    pub now: Option<NowPlaying>,
    /// How much of it has been heard.
    pub elapsed: Duration,
    /// Decoded audio waiting to be played.
    pub buffered: Duration,
}

/// Decoded audio and playback state.
#[derive(Debug)]
pub struct PcmQueue {
    state: Mutex<State>,
    changed: Condvar,
    generation: AtomicU64,
    events: EventSender,
}

impl PcmQueue {
    /// An empty queue that reports finished songs to `events`.
    pub fn new(events: EventSender) -> PcmQueue {
        PcmQueue { state: Mutex::default(), changed: Condvar::new(), generation: AtomicU64::new(0), events }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Samples are plain data; after a panic elsewhere the queue is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `now` the current stream, dropping everything queued from the previous one.
    pub fn start(&self, now: NowPlaying) {
        let mut state = self.lock();
        state.samples.clear();
        state.current = Some(now);
        state.input_done = false;
        state.played_frames = 0;
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_all();
    }

    /// Silences at once: nothing is current afterwards. Returns what was playing.
    pub fn stop(&self) -> Option<NowPlaying> {
        let mut state = self.lock();
        state.samples.clear();
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_all();
        state.current.take()
    }

    /// Counts switches and stops: an output that buffers samples locally drops them when this
    /// changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The current stream, if any.
    pub fn current_stream(&self) -> Option<StreamId> {
        self.lock().current.as_ref().map(|n| n.stream)
    }

    /// Appends decoded samples of `stream`, waiting while the queue is full. Samples of a
    /// stream that is no longer current are dropped.
    pub fn push(&self, stream: StreamId, samples: &[i16]) {
        let mut state = self.lock();
        loop {
            if state.current.as_ref().map(|n| n.stream) != Some(stream) {
                return;
            }
            if state.samples.len() < MAX_QUEUED_SAMPLES {
                state.samples.extend(samples);
                return;
            }
            state = self.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Everything of `stream` has been pushed; once played out, the song has finished.
    pub fn finish_input(&self, stream: StreamId) {
        let mut state = self.lock();
        if state.current.as_ref().map(|n| n.stream) == Some(stream) {
            state.input_done = true;
            self.changed.notify_all();
        }
    }

    /// Moves up to `out.len()` samples into `out`, for an output that is playing them now,
    /// and returns how many. When the current song has been played out, it is no longer
    /// current and [`Event::Finished`] is sent, before anyone waiting in
    /// [`PcmQueue::wait_idle`] can see the change, so a script prints it in order.
    pub fn take(&self, out: &mut [i16]) -> usize {
        let mut state = self.lock();
        let n = out.len().min(state.samples.len());
        for (slot, sample) in out.iter_mut().zip(state.samples.drain(..n)) {
            *slot = sample;
        }
        state.played_frames += (n / usize::from(CHANNELS)) as u64;
        if n == 0 && state.input_done {
            state.input_done = false;
            if let Some(now) = state.current.take() {
                // Never blocks the audio thread.
                self.events.send(Event::Finished(now));
            }
        }
        if n > 0 || state.current.is_none() {
            self.changed.notify_all();
        }
        n
    }

    /// What is playing and how far it has got.
    pub fn status(&self) -> Status {
        let state = self.lock();
        Status {
            now: state.current.clone(),
            elapsed: frames_to_duration(state.played_frames),
            buffered: frames_to_duration((state.samples.len() / usize::from(CHANNELS)) as u64),
        }
    }

    /// Wakes whoever waits in [`PcmQueue::wait_idle`], to check its `give_up` at once.
    pub fn wake(&self) {
        self.changed.notify_all();
    }

    /// Blocks until nothing is current (the song ended and was played out, or was stopped),
    /// or until `give_up` returns true (checked every 100 ms).
    pub fn wait_idle(&self, give_up: impl Fn() -> bool) {
        let mut state = self.lock();
        while state.current.is_some() && !give_up() {
            state = self
                .changed
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

fn frames_to_duration(frames: u64) -> Duration {
    Duration::from_nanos(frames * 1_000_000_000 / u64::from(SAMPLE_RATE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now(stream: u32) -> NowPlaying {
        NowPlaying {
            stream: StreamId(stream),
            song: SongId(1),
            title: "t".into(),
            artist: String::new(),
            duration: Duration::from_secs(1),
        }
    }

    fn queue() -> (PcmQueue, crate::EventReceiver) {
        let (tx, rx) = crate::event_channel();
        (PcmQueue::new(tx), rx)
    }

    #[test]
    fn switching_drops_queued_and_late_samples_of_the_old_stream() {
        let (queue, _) = queue();
        queue.start(now(1));
        queue.push(StreamId(1), &[1, 1, 1, 1]);
        let before = queue.generation();
        queue.start(now(2));
        assert_ne!(queue.generation(), before);
        queue.push(StreamId(1), &[1, 1]);
        queue.push(StreamId(2), &[2, 2]);
        let mut out = [0i16; 8];
        assert_eq!(queue.take(&mut out), 2);
        assert_eq!(&out[..2], &[2, 2]);
    }

    #[test]
    fn a_song_finishes_once_its_input_is_done_and_played_out() {
        let (queue, events) = queue();
        queue.start(now(1));
        queue.push(StreamId(1), &[5; 88_200]);
        queue.finish_input(StreamId(1));
        let mut out = vec![0i16; 88_200];
        assert_eq!(queue.take(&mut out), 88_200);
        assert_eq!(queue.status().elapsed, Duration::from_secs(1));
        assert_eq!(events.try_next(), None);
        assert_eq!(queue.take(&mut out), 0);
        assert_eq!(events.try_next(), Some(Event::Finished(now(1))));
        assert_eq!(queue.status().now, None);
        queue.wait_idle(|| false);
    }

    #[test]
    fn stop_silences_at_once() {
        let (queue, events) = queue();
        queue.start(now(1));
        queue.push(StreamId(1), &[3; 100]);
        assert_eq!(queue.stop(), Some(now(1)));
        let mut out = [0i16; 8];
        assert_eq!(queue.take(&mut out), 0);
        assert_eq!(events.try_next(), None, "a stopped song did not finish");
    }
}
