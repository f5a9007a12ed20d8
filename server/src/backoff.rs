//! How long to wait before trying a peer again: a delay that doubles from a minimum to a
//! maximum, each one jittered by ±[`JITTER`], so that many sources (or relays) that lost the
//! same server do not all come back in the same instant. Sans-IO: it never sleeps or reads a
//! clock, and the randomness comes from the caller, so tests are exact.

use std::time::Duration;

/// How far each delay strays from its nominal value, as a fraction: ±25 %.
pub const JITTER: f64 = 0.25;

/// The delays between attempts to reach a peer: `min`, `2 min`, `4 min`, ... up to `max`,
/// each jittered; [`Backoff::reset`] after a success starts over.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    /// The nominal delay of the next attempt.
    next: Duration,
}

impl Backoff {
    /// Delays from `min` doubling to `max` (`max` below `min` counts as `min`).
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff { min, max: max.max(min), next: min }
    }

    /// The delay before the next attempt: the nominal one, ±[`JITTER`] drawn from `rng`.
    /// Each call doubles the nominal delay of the following one, up to the maximum.
    pub fn next_delay(&mut self, rng: &mut fastrand::Rng) -> Duration {
        let nominal = self.next;
        self.next = nominal.saturating_mul(2).min(self.max);
        nominal.mul_f64(1.0 - JITTER + 2.0 * JITTER * rng.f64())
    }

    /// Starts over from the minimum: the peer answered, and a later failure is a new one.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nominal(seconds: f64) -> std::ops::RangeInclusive<Duration> {
        Duration::from_secs_f64(seconds * (1.0 - JITTER))..=Duration::from_secs_f64(seconds * (1.0 + JITTER))
    }

    #[test]
    fn delays_double_from_the_minimum_and_stay_at_the_maximum() {
        let mut rng = fastrand::Rng::with_seed(3);
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        for seconds in [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0] {
            let delay = backoff.next_delay(&mut rng);
            assert!(nominal(seconds).contains(&delay), "{delay:?} is not {seconds} s ±25 %");
        }
    }

    #[test]
    fn a_reset_starts_over_from_the_minimum() {
        let mut rng = fastrand::Rng::with_seed(5);
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        for _ in 0..10 {
            backoff.next_delay(&mut rng);
        }
        backoff.reset();
        assert!(nominal(1.0).contains(&backoff.next_delay(&mut rng)));
        assert!(nominal(2.0).contains(&backoff.next_delay(&mut rng)));
    }

    #[test]
    fn the_jitter_spreads_sources_that_failed_together() {
        let mut rng = fastrand::Rng::with_seed(11);
        let delays: Vec<Duration> = (0..100)
            .map(|_| Backoff::new(Duration::from_secs(8), Duration::from_secs(8)).next_delay(&mut rng))
            .collect();
        let (low, high) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
        assert!(*low >= Duration::from_secs(6) && *high <= Duration::from_secs(10), "{low:?}..{high:?}");
        // 100 draws of ±2 s: they cover most of the range, not one instant.
        assert!(*high - *low > Duration::from_secs(3), "{low:?}..{high:?}");
    }

    #[test]
    fn a_maximum_below_the_minimum_is_the_minimum() {
        let mut rng = fastrand::Rng::with_seed(1);
        let mut backoff = Backoff::new(Duration::from_secs(4), Duration::from_secs(1));
        for _ in 0..3 {
            assert!(nominal(4.0).contains(&backoff.next_delay(&mut rng)));
        }
    }
}
