//! Which of the feeder's attempts deserve a line in the log: every change of state (fed,
//! refused, unreachable, lost), and the first few attempts in a failing state, then silence
//! until the state changes. An Icecast down for a night costs a handful of lines, not one
//! per retry. Sans-IO: it decides, the feeder logs.

use std::mem::discriminant;

use super::source::SourceError;

/// Failed attempts in one state that are logged, the first included; the last of them says
/// that the feeder goes on retrying quietly.
pub const LOGGED_ATTEMPTS: u32 = 3;

/// How an attempt that failed is to be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// Logged.
    Loud,
    /// Logged, with word that further attempts in this state will not be.
    LastLoud,
    /// Left out of the log (or to its debug level).
    Quiet,
}

/// The feeder's state as far as the log is concerned.
#[derive(Debug, Default)]
pub struct Report {
    /// The kind of failure of the previous attempts, `None` while fed or before any attempt.
    failing: Option<std::mem::Discriminant<SourceError>>,
    /// How many attempts in a row failed that way.
    repeats: u32,
    /// Failed attempts since the last time Icecast took the source.
    since_fed: u32,
}

impl Report {
    /// An attempt failed with `error`.
    pub fn failed(&mut self, error: &SourceError) -> Line {
        let kind = discriminant(error);
        if self.failing == Some(kind) {
            self.repeats += 1;
        } else {
            self.failing = Some(kind);
            self.repeats = 1;
        }
        self.since_fed += 1;
        match self.repeats {
            n if n < LOGGED_ATTEMPTS => Line::Loud,
            n if n == LOGGED_ATTEMPTS => Line::LastLoud,
            _ => Line::Quiet,
        }
    }

    /// Icecast took the source: returns how many attempts failed before (0 for the first
    /// connection), for the log line that says so.
    pub fn fed(&mut self) -> u32 {
        self.failing = None;
        self.repeats = 0;
        std::mem::take(&mut self.since_fed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable() -> SourceError {
        SourceError::Unreachable { target: "t".into(), error: std::io::ErrorKind::ConnectionRefused.into() }
    }

    #[test]
    fn a_long_outage_logs_a_few_lines_then_falls_quiet() {
        let mut report = Report::default();
        let lines: Vec<Line> = (0..10).map(|_| report.failed(&unreachable())).collect();
        assert_eq!(&lines[..3], [Line::Loud, Line::Loud, Line::LastLoud]);
        assert!(lines[3..].iter().all(|l| *l == Line::Quiet));
        assert_eq!(report.fed(), 10);
        assert_eq!(report.fed(), 0);
    }

    #[test]
    fn every_change_of_state_is_logged() {
        let mut report = Report::default();
        for _ in 0..5 {
            report.failed(&unreachable());
        }
        assert_eq!(report.failed(&SourceError::BadPassword("t".into())), Line::Loud);
        assert_eq!(report.failed(&unreachable()), Line::Loud);
        report.fed();
        // Lost again after being fed: a new outage, logged from its start.
        let lost = SourceError::Lost { target: "t".into(), error: std::io::ErrorKind::BrokenPipe.into() };
        assert_eq!(report.failed(&lost), Line::Loud);
        assert_eq!(report.failed(&unreachable()), Line::Loud);
    }
}
