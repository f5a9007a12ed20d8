//! Latency samples and their percentiles.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Samples of one measurement, in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<u64>);

impl Samples {
    /// Records one sample.
    pub fn record(&mut self, d: Duration) {
        self.0.push(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// Adds another set of samples.
    pub fn merge(&mut self, other: &Samples) {
        self.0.extend_from_slice(&other.0);
    }

    /// Percentiles of the samples (nearest-rank), or `None` without samples.
    pub fn summary(&self) -> Option<Summary> {
        if self.0.is_empty() {
            return None;
        }
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let rank = |p: f64| {
            let index = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted[index.clamp(1, sorted.len()) - 1]
        };
        Some(Summary { count: sorted.len(), p50_us: rank(50.0), p99_us: rank(99.0), max_us: rank(100.0) })
    }
}

/// What a table row and the JSON report say of one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Median, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// Largest, µs.
    pub max_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut s = Samples::default();
        for us in 1..=100 {
            s.record(Duration::from_micros(us));
        }
        assert_eq!(s.summary(), Some(Summary { count: 100, p50_us: 50, p99_us: 99, max_us: 100 }));
        assert_eq!(Samples::default().summary(), None);
    }
}
