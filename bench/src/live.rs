//! How far behind live a radio listener hears: the lag.
//!
//! A listener's lag at an instant is the station's live edge then, less the stream position its
//! virtual player ([`crate::playout::Playout`]) is playing. Neither server under test says what
//! its live edge is, so it is estimated from what arrives, the same way for both:
//!
//! - Every audio receipt at instant `r` of audio that ends at stream position `e` shows that
//!   the live edge was at least `e` at `r`. A live source advances at real time, so at any
//!   later instant `t` the live edge is at least `e + (t - r)`. The estimate is the largest of
//!   these bounds: `live(t) = t + max(e - r)` over every receipt so far (each [`Clock`] keeps
//!   that maximum, `ahead`).
//! - "Live" is thus the newest audio the server has released to any listener of that clock:
//!   a chunk the server publishes the moment its start is due counts as live up to its end.
//!   The estimate is a lower bound of the true edge, so a lag is, if anything, understated by
//!   the delivery delay of the best-delivered receipt (well under a millisecond on loopback,
//!   once some listener has been woken right after a publication).
//! - A jukebox station stamps every chunk with station time (RFC §7.5.1), the same for every
//!   listener: native radio listeners share one clock, so one prompt delivery to anybody fixes
//!   everybody's live edge. An HTTP/ICY body carries no time: each ICY listener's clock is its
//!   own stream time (the MP3 frames it received, from 0), and its live edge comes from its own
//!   receipts only.
//!
//! Lag samples are (instant, clock, position played) triples, turned into lags once the run is
//! over, with every clock's final estimate.

use std::time::{Duration, Instant};

use crate::stats::Samples;

/// Identifies a clock (a stream-position coordinate system) of a run.
pub type ClockId = usize;

/// The clock of station time shared by every native radio listener.
pub const STATION: ClockId = 0;

/// The live-edge estimates of a run and the playback positions sampled against them.
#[derive(Debug, Default)]
pub struct LiveEdges {
    /// Instants are kept as microseconds since this one: the run's first audio.
    t0: Option<Instant>,
    /// Per clock: the largest `end - receipt time` seen, µs (`None` before its first audio).
    ahead: Vec<Option<i64>>,
    /// (clock, µs since t0, stream position playing, µs).
    samples: Vec<(ClockId, i64, i64)>,
}

impl LiveEdges {
    fn micros(&mut self, now: Instant) -> i64 {
        let t0 = *self.t0.get_or_insert(now);
        i64::try_from(now.saturating_duration_since(t0).as_micros()).unwrap_or(i64::MAX)
    }

    fn slot(&mut self, clock: ClockId) -> &mut Option<i64> {
        if self.ahead.len() <= clock {
            self.ahead.resize(clock + 1, None);
        }
        &mut self.ahead[clock]
    }

    /// A new clock, for one listener's stream (ICY). [`STATION`] exists without asking.
    pub fn new_clock(&mut self) -> ClockId {
        let id = self.ahead.len().max(STATION + 1);
        self.slot(id);
        id
    }

    /// Audio up to stream position `end_us` of `clock` arrived at `now`.
    pub fn received(&mut self, clock: ClockId, now: Instant, end_us: i64) {
        let ahead = end_us - self.micros(now);
        let slot = self.slot(clock);
        *slot = Some(slot.map_or(ahead, |a| a.max(ahead)));
    }

    /// At `now`, a listener of `clock` plays stream position `played_us`.
    pub fn playing(&mut self, clock: ClockId, now: Instant, played_us: i64) {
        let t = self.micros(now);
        self.samples.push((clock, t, played_us));
    }

    /// Every sample's lag behind its clock's live edge, as estimated at the end.
    pub fn lags(&self) -> Samples {
        let mut lags = Samples::default();
        for &(clock, t, played) in &self.samples {
            if let Some(Some(ahead)) = self.ahead.get(clock) {
                let lag = (t + ahead - played).max(0);
                lags.record(Duration::from_micros(lag.unsigned_abs()));
            }
        }
        lags
    }
}

/// Maps a listener's stream time (the audio it received, end to end, as its player plays it)
/// to the station time of that audio. The two differ by a constant until the server skips the
/// listener forward (RFC §7.5.4): then Position ms jumps while the bytes stay contiguous.
#[derive(Debug, Default, Clone)]
pub struct StationMap {
    /// (stream time, station time) where each stretch of contiguous station time begins, µs.
    segments: Vec<(i64, i64)>,
    /// Where the station time of the next chunk should be, µs.
    expected: Option<i64>,
}

/// How far a chunk's Position ms may be from where the previous chunk ended before it counts as
/// a jump: Position ms is rounded down to a millisecond (RFC §7.5.1 allows 1 ms), and so may be
/// the previous chunk's.
pub const JUMP_TOLERANCE_US: i64 = 2_000;

impl StationMap {
    /// A chunk covering stream time `stream_us` onwards starts at station time `station_us` and
    /// plays `duration_us`. Returns whether it jumped from where the previous one ended.
    pub fn chunk(&mut self, stream_us: i64, station_us: i64, duration_us: i64) -> bool {
        let jumped = self.expected.is_some_and(|e| (station_us - e).abs() > JUMP_TOLERANCE_US);
        if self.expected.is_none() || jumped {
            self.segments.push((stream_us, station_us));
        }
        self.expected = Some(station_us + duration_us);
        jumped
    }

    /// The station time of stream time `stream_us` (before the first chunk: of the first).
    /// Forgets the stretches wholly before it: playback only moves on.
    pub fn station_at(&mut self, stream_us: i64) -> Option<i64> {
        let later = self.segments.iter().take_while(|(s, _)| *s <= stream_us).count();
        if later > 1 {
            self.segments.drain(..later - 1);
        }
        let (s, st) = *self.segments.first()?;
        Some(st + (stream_us - s).max(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_live_edge_is_the_freshest_receipt_carried_forward() {
        let t0 = Instant::now();
        let mut live = LiveEdges::default();
        // A 1.5 s burst of station time 10.0..11.5 s at t0, then a chunk published 200 ms
        // later and delivered 100 ms late: the burst fixes the edge better.
        live.received(STATION, t0, 11_500_000);
        live.received(STATION, t0 + 300 * MS, 11_700_000);
        // The player started with the burst: at t0 + 1 s it plays 11.0 s.
        live.playing(STATION, t0 + 1000 * MS, 11_000_000);
        let lags = live.lags().summary().expect("one sample");
        assert_eq!(lags.p50_us, 1_500_000);
        // A better-delivered chunk later moves the estimate for the earlier sample too.
        live.received(STATION, t0 + 2000 * MS, 13_600_000);
        assert_eq!(live.lags().summary().map(|s| s.p50_us), Some(1_600_000));
    }

    #[test]
    fn listeners_of_separate_clocks_do_not_mix() {
        let t0 = Instant::now();
        let mut live = LiveEdges::default();
        let a = live.new_clock();
        let b = live.new_clock();
        assert!(a != b && a != STATION && b != STATION);
        live.received(a, t0, 4_000_000);
        live.received(b, t0, 1_000_000);
        live.playing(a, t0 + 500 * MS, 500_000);
        live.playing(b, t0 + 500 * MS, 500_000);
        // No audio on the station clock: its samples are not counted.
        live.playing(STATION, t0, 0);
        let mut lags: Vec<u64> = Vec::new();
        let summary = live.lags().summary().expect("two samples");
        lags.push(summary.p50_us);
        lags.push(summary.max_us);
        assert_eq!((summary.count, lags), (2, vec![1_000_000, 4_000_000]));
    }

    #[test]
    fn a_jump_forward_in_station_time_starts_a_new_stretch() {
        let mut map = StationMap::default();
        assert!(!map.chunk(0, 100_000_000, 209_000));
        assert!(!map.chunk(209_000, 100_209_500, 209_000), "within rounding");
        // Skipped forward by 5 s (RFC §7.5.4).
        assert!(map.chunk(418_000, 105_418_000, 209_000));
        assert_eq!(map.station_at(100_000), Some(100_100_000));
        assert_eq!(map.station_at(500_000), Some(105_500_000));
        // The first stretch is forgotten once played past.
        assert_eq!(map.segments.len(), 1);
    }
}
