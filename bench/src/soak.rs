//! The soak: real listeners for a long time next to hostile connections, watching whether the
//! server's threads, open files and memory stay flat. This module holds what a soak is asked
//! to do, what it measured and how that reads; [`crate::driver::soak`] runs it on the same
//! event loop as every other load.
//!
//! Threads and open files are compared with the server idle, before the first connection and
//! after the last one has closed: at those two moments a server that leaks nothing holds
//! exactly the same, whereas under load the counts move with every connection that churns or
//! cycles. Memory is shown at both ends of the loaded period too, since allocators seldom give
//! memory back and the song cache fills once.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::driver::RunConfig;
use crate::hostile::{HostileKind, KindTally};
use crate::report::Report;
use crate::stats::Summary;

/// How long the soak waits, after closing every connection, for the server's threads and open
/// files to come back down: a little more than the reference server's 30 s write timeout, the
/// longest any of its threads may stay blocked.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(35);

/// How long the counts must stay within tolerance, without coming all the way back, before the
/// soak stops waiting for them.
pub const SETTLE_STEADY: Duration = Duration::from_secs(2);

/// How many more threads and open files the server may hold after the soak than before it: a
/// helper thread or a file that a server starts or opens once, on first use, and keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tolerance {
    /// Extra threads allowed.
    pub threads: u64,
    /// Extra open files allowed.
    pub fds: u64,
}

/// One soak.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// The listeners: target, how many, duration (counted once all connections are started),
    /// ramp, mix, seed, and the server's pid, which a soak requires.
    pub run: RunConfig,
    /// Hostile connections kept open next to the listeners, dealt out over the kinds in the
    /// order of [`HostileKind::ALL`].
    pub hostile: u64,
    /// Time between two samples of the server.
    pub sample_every: Duration,
    /// See [`Tolerance`].
    pub tolerance: Tolerance,
}

/// Threads, open files and memory of the server at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerState {
    /// Threads.
    pub threads: u64,
    /// Open file descriptors.
    pub fds: u64,
    /// Resident memory, bytes.
    pub rss: u64,
}

/// One periodic sample, taken while the load runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since every connection was started.
    pub elapsed_secs: f64,
    /// Listeners whose handshake is done.
    pub listeners: u64,
    /// Hostile connections open or connecting.
    pub hostile: u64,
    /// The server at this moment.
    pub server: ServerState,
    /// The server's CPU use since the previous sample, in percent of one core.
    pub cpu_percent: f64,
    /// Listener connections that failed or were lost so far.
    pub failures: u64,
    /// Underruns of the listeners' virtual players so far.
    pub underruns: u64,
    /// Audio bytes of a replaced or stopped stream so far.
    pub stale_bytes: u64,
}

impl Sample {
    /// The header of [`Sample::row`].
    pub fn header() -> String {
        format!(
            "{:>8} {:>9} {:>7} {:>8} {:>7} {:>8} {:>6} {:>5} {:>6} {:>6}",
            "elapsed", "listeners", "hostile", "threads", "fds", "RSS MiB", "CPU %", "fail", "under", "stale"
        )
    }

    /// One line for a terminal.
    pub fn row(&self) -> String {
        format!(
            "{:>7.0}s {:>9} {:>7} {:>8} {:>7} {:>8.1} {:>6.1} {:>5} {:>6} {:>6}",
            self.elapsed_secs,
            self.listeners,
            self.hostile,
            self.server.threads,
            self.server.fds,
            mib(self.server.rss),
            self.cpu_percent,
            self.failures,
            self.underruns,
            self.stale_bytes
        )
    }
}

/// Everything a soak measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SoakReport {
    /// Listeners asked for.
    pub listeners: u64,
    /// Hostile connections asked for.
    pub hostile: u64,
    /// Seconds of load after every connection was started.
    pub duration_secs: f64,
    /// The mix of each listener, seconds (absent: off).
    pub list_every_secs: Option<f64>,
    /// See `list_every_secs`.
    pub switch_every_secs: Option<f64>,
    /// See `list_every_secs`.
    pub stop_every_secs: Option<f64>,
    /// See `list_every_secs`.
    pub churn_every_secs: Option<f64>,
    /// The server's process.
    pub server_pid: u32,
    /// The server before the first connection.
    pub before: ServerState,
    /// The server once every connection had closed and it had settled; `None` if it was lost.
    pub after: Option<ServerState>,
    /// How long the server took to settle (at most [`SETTLE_TIMEOUT`]).
    pub settle_secs: f64,
    /// When and why the server's `/proc` entry could no longer be read (it exited, most likely);
    /// the soak stopped there.
    pub server_lost: Option<String>,
    /// What `after` may exceed `before` by.
    pub tolerance: Tolerance,
    /// The periodic samples under load; the first is taken when every connection has been
    /// started, the last at the end.
    pub samples: Vec<Sample>,
    /// The real listeners, as the `native` command reports them.
    pub listener_report: Report,
    /// The hostile connections, by kind.
    pub hostile_tally: BTreeMap<HostileKind, KindTally>,
}

impl SoakReport {
    /// Why the soak failed: a real listener failed, had an error, underran or saw audio of a
    /// stream it had left, or the server kept more threads or files than the tolerance.
    /// Hostile connections closed by the server are not failures.
    pub fn problems(&self) -> Vec<String> {
        let l = &self.listener_report;
        let mut problems = Vec::new();
        if l.failures() > 0 {
            problems.push(format!(
                "{} listener connection(s) failed, were lost or never connected",
                l.failures()
            ));
        }
        if l.errors > 0 {
            problems.push(format!("{} ERROR repl(ies) to listeners", l.errors));
        }
        if l.stale_bytes > 0 {
            problems.push(format!(
                "{} bytes of stale audio (a stream's audio after the reply that ended it)",
                l.stale_bytes
            ));
        }
        if l.underruns > 0 {
            problems.push(format!("{} underrun(s) in {} listener(s)", l.underruns, l.listeners_behind));
        }
        if let Some(lost) = &self.server_lost {
            problems.push(format!("the server could no longer be read from /proc {lost}"));
        }
        let Some(after) = self.after else { return problems };
        let grew = |after: u64, before: u64| after.saturating_sub(before);
        if grew(after.threads, self.before.threads) > self.tolerance.threads {
            problems.push(format!(
                "the server kept {} more threads than before (tolerance {})",
                grew(after.threads, self.before.threads),
                self.tolerance.threads
            ));
        }
        if grew(after.fds, self.before.fds) > self.tolerance.fds {
            problems.push(format!(
                "the server kept {} more open files than before (tolerance {})",
                grew(after.fds, self.before.fds),
                self.tolerance.fds
            ));
        }
        problems
    }

    /// Hostile connections that ended in a way the server should not have allowed.
    pub fn unexpected_hostile(&self) -> u64 {
        self.hostile_tally.values().map(KindTally::unexpected).sum()
    }

    /// The summary printed at the end of a soak.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "server (pid {})   {:>8} {:>8} {:>9}",
            self.server_pid, "threads", "fds", "RSS MiB"
        );
        let row = |out: &mut String, name: &str, s: &ServerState, note: &str| {
            let _ = writeln!(out, "  {name:<16} {:>8} {:>8} {:>9.1}{note}", s.threads, s.fds, mib(s.rss));
        };
        let change = |out: &mut String, name: &str, a: &ServerState, b: &ServerState, note: &str| {
            let _ = writeln!(
                out,
                "  {name:<16} {:>+8} {:>+8} {:>+9.1}{note}",
                b.threads as i64 - a.threads as i64,
                b.fds as i64 - a.fds as i64,
                mib(b.rss) - mib(a.rss)
            );
        };
        row(&mut out, "before", &self.before, "");
        let loaded = self.samples.first().zip(self.samples.last());
        if let Some((first, last)) = loaded {
            row(&mut out, "loaded, first", &first.server, &format!("   (at {:.0} s)", first.elapsed_secs));
            row(&mut out, "loaded, last", &last.server, &format!("   (at {:.0} s)", last.elapsed_secs));
        }
        match &self.after {
            Some(after) => {
                row(&mut out, "after", after, &format!("   (settled in {:.1} s)", self.settle_secs));
                let tolerance = format!(
                    "   (tolerance: threads +{}, fds +{})",
                    self.tolerance.threads, self.tolerance.fds
                );
                change(&mut out, "after - before", &self.before, after, &tolerance);
            }
            None => {
                let _ = writeln!(out, "  {:<16} the server is gone", "after");
            }
        }
        if let Some((first, last)) = loaded {
            change(&mut out, "last - first", &first.server, &last.server, "");
        }

        let l = &self.listener_report;
        let _ = writeln!(
            out,
            "\nlisteners: {} asked, {} connected, {} reconnects, {} switches and stops, {:.1} MiB of audio",
            l.listeners,
            l.connected,
            l.reconnects,
            l.switches,
            mib(l.audio_bytes)
        );
        let _ = writeln!(
            out,
            "  failed {}, errors {}, stale audio bytes {}, underruns {} (in {} listeners)",
            l.failures(),
            l.errors,
            l.stale_bytes,
            l.underruns,
            l.listeners_behind
        );
        let ms = |s: &Option<Summary>| {
            s.map_or("-".into(), |s| {
                format!(
                    "{:.2}/{:.2}/{:.1}",
                    s.p50_us as f64 / 1e3,
                    s.p99_us as f64 / 1e3,
                    s.max_us as f64 / 1e3
                )
            })
        };
        let _ = writeln!(
            out,
            "  ms p50/p99/max: handshake {}, first audio {}, LIST rtt {}",
            ms(&l.handshake),
            ms(&l.first_audio),
            ms(&l.list_rtt)
        );
        out.push_str(&l.notes());

        let _ = writeln!(out, "\nhostile connections (the server closing them is what it should do):");
        for (kind, tally) in &self.hostile_tally {
            let _ = writeln!(
                out,
                "  {:<10} opened {}, open at the end {}, sent {}, received {}",
                kind.name(),
                tally.opened,
                tally.open_at_end,
                bytes(tally.bytes_sent),
                bytes(tally.bytes_received)
            );
            for (label, ending) in &tally.endings {
                let after = ending.after.map_or(String::new(), |s| {
                    format!(
                        ", open {:.1} s median, {:.1} s max",
                        s.p50_us as f64 / 1e6,
                        s.max_us as f64 / 1e6
                    )
                });
                let flag = if ending.expected { "" } else { "  <-- not what the server should do" };
                let _ = writeln!(out, "    {:>6}  {label}{after}{flag}", ending.count);
            }
        }

        let problems = self.problems();
        if problems.is_empty() {
            let _ = writeln!(out, "\nverdict: PASS");
        } else {
            let _ = writeln!(out, "\nverdict: FAIL");
            for p in &problems {
                let _ = writeln!(out, "  - {p}");
            }
        }
        let unexpected = self.unexpected_hostile();
        if unexpected > 0 {
            let _ = writeln!(
                out,
                "note: {unexpected} hostile connection(s) were not handled as RFC.md says (marked above); \
                 they do not change the exit status"
            );
        }
        out
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A byte count for people: B, KiB, MiB or GiB.
fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", units[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_as_people_write_them() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 << 30), "5.0 GiB");
    }
}
