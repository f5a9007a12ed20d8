//! Hands the station's chunks to every listener without copying them and without letting one
//! listener slow another: each listener has its own bounded queue of shared chunks, which the
//! station fills with `try_send`; a listener whose queue is full is marked lagged and skips
//! forward to live when it next looks (RFC §7.5.4).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::Chunk;

/// The most audio the hub keeps of the recent past, for the bursts of listeners who join.
pub const HISTORY: Duration = Duration::from_secs(5);

/// Which side of the server a listener came through, for the status page's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A TUNE on the Jukebox Protocol.
    Native,
    /// `GET /radio` over HTTP.
    Http,
}

/// Part of a chunk, from a frame boundary to its end: a burst starts at the frame where the
/// listener's delay behind live is exactly [`super::BURST`], not at a chunk's start, so every
/// listener is behind by the same time to within a frame (26 ms), whenever they joined.
#[derive(Debug, Clone)]
pub struct Slice {
    /// The chunk.
    pub chunk: Arc<Chunk>,
    /// Where in its data the slice begins: a frame boundary.
    pub start: usize,
    /// Station time at which that frame starts.
    pub position_ms: u64,
}

impl Slice {
    /// A whole chunk.
    pub fn whole(chunk: Arc<Chunk>) -> Slice {
        Slice { position_ms: chunk.position_ms, start: 0, chunk }
    }

    /// The frames of the slice.
    pub fn data(&self) -> &[u8] {
        self.chunk.data.get(self.start..).unwrap_or_default()
    }

    /// How long the slice plays.
    pub fn duration(&self) -> Duration {
        let end = Duration::from_millis(self.chunk.position_ms) + self.chunk.duration;
        end.saturating_sub(Duration::from_millis(self.position_ms))
    }
}

/// A listener's end: the burst to send first, then each chunk as it goes on the air.
#[derive(Debug)]
pub struct Tuning {
    /// The recent past, oldest first, from the frame that sounds at the time asked for.
    pub burst: Vec<Slice>,
    /// Every later chunk, in order, unless the listener lagged.
    pub live: Receiver<Arc<Chunk>>,
    lagged: Arc<AtomicBool>,
    _count: ListenerCount,
}

impl Tuning {
    /// Whether chunks were dropped because this listener's queue was full. Clears the mark and
    /// empties the queue, so the next chunk received is live: the caller skips forward.
    pub fn take_lag(&self) -> bool {
        if !self.lagged.swap(false, Ordering::AcqRel) {
            return false;
        }
        while self.live.try_recv().is_ok() {}
        true
    }
}

/// Decrements the hub's count of listeners when the listener goes.
#[derive(Debug)]
struct ListenerCount(Arc<AtomicUsize>);

impl Drop for ListenerCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Subscriber {
    chunks: Sender<Arc<Chunk>>,
    lagged: Arc<AtomicBool>,
}

#[derive(Debug, Default)]
struct State {
    recent: VecDeque<Arc<Chunk>>,
    subscribers: Vec<Subscriber>,
    /// Off the air since [`Hub::close_all`], until the next chunk: a listener who subscribes
    /// meanwhile is ended at once, not left waiting.
    closed: bool,
}

/// The station's side: publish chunks, let listeners subscribe.
#[derive(Debug)]
pub struct Hub {
    state: Mutex<State>,
    /// Chunks a listener's queue holds before it counts as lagged.
    capacity: usize,
    native: Arc<AtomicUsize>,
    http: Arc<AtomicUsize>,
}

impl Hub {
    /// A hub whose listeners each hold at most `lag_limit` of audio not yet sent, in chunks of
    /// about `chunk` each.
    pub fn new(lag_limit: Duration, chunk: Duration) -> Hub {
        let capacity = (lag_limit.as_millis() / chunk.as_millis().max(1)).max(2) as usize;
        Hub { state: Mutex::new(State::default()), capacity, native: Arc::default(), http: Arc::default() }
    }

    /// Adds a listener: the audio from station time `from_ms` on (from the first frame that
    /// starts then or later; from the oldest kept if `from_ms` is older), and every chunk
    /// published from now on.
    pub fn subscribe(&self, from_ms: u64, via: Via) -> Tuning {
        let (tx, rx) = crossbeam_channel::bounded(self.capacity);
        let lagged = Arc::new(AtomicBool::new(false));
        let counter = match via {
            Via::Native => &self.native,
            Via::Http => &self.http,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        if state.closed {
            // `tx` is dropped unsent: the listener's stream ends at once.
            return Tuning {
                burst: Vec::new(),
                live: rx,
                lagged,
                _count: ListenerCount(Arc::clone(counter)),
            };
        }
        let burst = state
            .recent
            .iter()
            .filter(|chunk| chunk.position_ms + chunk.duration.as_millis() as u64 > from_ms)
            .filter_map(|chunk| slice_from(chunk, from_ms))
            .collect();
        state.subscribers.push(Subscriber { chunks: tx, lagged: Arc::clone(&lagged) });
        drop(state);
        Tuning { burst, live: rx, lagged, _count: ListenerCount(Arc::clone(counter)) }
    }

    /// Puts a chunk on the air: into the history, and into every listener's queue. Never
    /// blocks; forgets listeners who have gone.
    pub fn publish(&self, chunk: Arc<Chunk>) {
        let mut state = self.lock();
        state.closed = false;
        state.subscribers.retain(|s| match s.chunks.try_send(Arc::clone(&chunk)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                s.lagged.store(true, Ordering::Release);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
        state.recent.push_back(chunk);
        let mut kept: Duration = state.recent.iter().map(|c| c.duration).sum();
        while kept > HISTORY {
            match state.recent.pop_front() {
                Some(old) => kept = kept.saturating_sub(old.duration),
                None => break,
            }
        }
    }

    /// Ends every listener's stream: their queues disconnect once drained (the station went
    /// off the air).
    pub fn close_all(&self) {
        let mut state = self.lock();
        state.subscribers.clear();
        state.recent.clear();
        state.closed = true;
    }

    /// Listeners now, by the side they came through: (native, HTTP).
    pub fn listeners(&self) -> (usize, usize) {
        (self.native.load(Ordering::Relaxed), self.http.load(Ordering::Relaxed))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The part of `chunk` from its first frame that starts at `from_ms` or later.
fn slice_from(chunk: &Arc<Chunk>, from_ms: u64) -> Option<Slice> {
    let mut start = 0;
    // Station time in microseconds, so that 26.12 ms frames do not round away.
    let mut at_us = chunk.position_ms * 1000;
    while at_us < from_ms * 1000 {
        let header = jukebox_protocol::mp3::AudioHeader::parse(chunk.data.get(start..)?)?;
        start += header.len;
        at_us += header.samples as u64 * 1_000_000 / u64::from(header.sample_rate.max(1));
        if start >= chunk.data.len() {
            return None;
        }
    }
    Some(Slice { chunk: Arc::clone(chunk), start, position_ms: at_us / 1000 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radio::Airing;
    use jukebox_protocol::{SongId, Track};

    /// `n` frames of 128 kbit/s at 44.1 kHz: 26.12 ms each.
    fn frames(n: usize) -> Vec<u8> {
        let mut data = Vec::new();
        for _ in 0..n {
            let start = data.len();
            data.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
            data.resize(start + 417, 0);
        }
        data
    }

    fn chunk(n: u64) -> Arc<Chunk> {
        let airing = Arc::new(Airing {
            seq: 1,
            track: Track { song: SongId(1), duration_ms: 1000, title: "t".into(), artist: String::new() },
            album: String::new(),
            start_ms: 0,
        });
        Arc::new(Chunk {
            position_ms: n * 209,
            duration: Duration::from_millis(209),
            data: Arc::from(frames(8)),
            airing,
            starts: None,
        })
    }

    #[test]
    fn a_listener_gets_the_recent_past_then_every_new_chunk_once() {
        let hub = Hub::new(Duration::from_secs(2), Duration::from_millis(200));
        for n in 0..10 {
            hub.publish(chunk(n));
        }
        let tuning = hub.subscribe(7 * 209 + 30, Via::Native);
        let burst: Vec<(u64, usize, u64)> =
            tuning.burst.iter().map(|s| (s.chunk.position_ms, s.start, s.position_ms)).collect();
        // From the first frame at or after the time asked: the third of chunk 7, at 52 ms.
        assert_eq!(burst, [(7 * 209, 2 * 417, 7 * 209 + 52), (8 * 209, 0, 8 * 209), (9 * 209, 0, 9 * 209)]);
        assert_eq!(tuning.burst[0].data().len(), 6 * 417);
        hub.publish(chunk(10));
        assert_eq!(tuning.live.try_recv().map(|c| c.position_ms), Ok(2090));
        assert!(tuning.live.try_recv().is_err());
        assert_eq!(hub.listeners(), (1, 0));
        drop(tuning);
        assert_eq!(hub.listeners(), (0, 0));
        hub.publish(chunk(11));
        assert!(hub.lock().subscribers.is_empty(), "a listener who left is forgotten");
    }

    #[test]
    fn a_listener_who_does_not_read_is_skipped_to_live_and_slows_nobody() {
        let hub = Hub::new(Duration::from_secs(1), Duration::from_millis(200));
        let slow = hub.subscribe(0, Via::Http);
        let fast = hub.subscribe(0, Via::Native);
        for n in 0..20 {
            hub.publish(chunk(n));
            assert_eq!(fast.live.try_recv().map(|c| c.position_ms), Ok(n * 209));
        }
        assert!(slow.take_lag(), "its queue overflowed");
        assert!(slow.live.try_recv().is_err(), "the backlog is gone");
        assert!(!slow.take_lag());
        hub.publish(chunk(20));
        assert_eq!(slow.live.try_recv().map(|c| c.position_ms), Ok(20 * 209), "it goes on from live");
    }

    #[test]
    fn a_listener_who_tunes_in_while_the_station_is_off_the_air_is_ended_at_once() {
        let hub = Hub::new(Duration::from_secs(1), Duration::from_millis(209));
        hub.publish(chunk(0));
        let before = hub.subscribe(0, Via::Native);
        hub.close_all();
        assert!(before.live.recv().is_err(), "those listening are ended");
        let during = hub.subscribe(0, Via::Http);
        assert!(during.burst.is_empty() && during.live.recv().is_err(), "so is one who comes now");
        hub.publish(chunk(1));
        let after = hub.subscribe(0, Via::Native);
        assert!(after.live.is_empty() && !after.burst.is_empty(), "back on the air");
    }

    #[test]
    fn the_history_is_bounded() {
        let hub = Hub::new(Duration::from_secs(1), Duration::from_millis(200));
        for n in 0..1000 {
            hub.publish(chunk(n));
        }
        let kept: Duration = hub.lock().recent.iter().map(|c| c.duration).sum();
        assert!(kept <= HISTORY);
        assert_eq!(hub.subscribe(0, Via::Native).burst.len(), 23, "5 s of 209 ms chunks");
    }
}
