//! What a run measured: one [`Report`] per run, printed as a table row and saved as JSON, and
//! the SVG plot of a sweep.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::stats::Summary;

/// Everything one run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// `native`, `radio` or `icy`.
    pub target: String,
    /// The setup's name, if the run was given one (`--label`).
    #[serde(default)]
    pub label: Option<String>,
    /// Listeners asked for.
    pub listeners: u64,
    /// Connections that completed their handshake (HTTP response head for ICY).
    pub connected: u64,
    /// Listeners still connecting when the run ended (neither connected nor failed).
    pub pending: u64,
    /// Reconnections made by the churn mix.
    pub reconnects: u64,
    /// Connection attempts that failed, by reason.
    pub failed: BTreeMap<String, u64>,
    /// Seconds of the measured window (after every listener was started).
    pub window_secs: f64,
    /// Connect to WELCOME (to the response head for ICY).
    pub handshake: Option<Summary>,
    /// PLAY sent to the first AUDIO byte (request sent to the first body byte for ICY).
    pub first_audio: Option<Summary>,
    /// LIST round trips while streams run.
    pub list_rtt: Option<Summary>,
    /// Audio buffered ahead of the virtual playback position, sampled at each arrival.
    pub lead: Option<Summary>,
    /// Audio bytes of a stream received after the reply that replaced or stopped it.
    pub stale_bytes: u64,
    /// Switches (PLAY while playing) and stops made.
    pub switches: u64,
    /// Underruns of the virtual players.
    pub underruns: u64,
    /// Listeners that had at least one underrun.
    pub listeners_behind: u64,
    /// ERROR replies and other protocol failures.
    pub errors: u64,
    /// Audio bytes received.
    pub audio_bytes: u64,
    /// Server CPU seconds in the window, if a server PID was given.
    pub server_cpu_secs: Option<f64>,
    /// Server RSS at the end of the window, bytes.
    pub server_rss: Option<u64>,
    /// Server RSS before the listeners connected, bytes.
    pub server_rss_idle: Option<u64>,
    /// Server threads at the end of the window.
    pub server_threads: Option<u64>,
    /// Server CPU seconds during the idle measurement before anyone connected (`--idle-secs`).
    #[serde(default)]
    pub server_idle_cpu_secs: Option<f64>,
    /// Seconds of that idle measurement.
    #[serde(default)]
    pub idle_secs: Option<f64>,
    /// Radio: how far behind the live edge the virtual players played ([`crate::live`]).
    #[serde(default)]
    pub lag: Option<Summary>,
    /// Radio: AUDIO whose Position ms jumped (a listener skipped forward, RFC §7.5.4).
    #[serde(default)]
    pub jumps: u64,
    /// Radio: TRACK_CHANGED received.
    #[serde(default)]
    pub track_changes: u64,
    /// ICY: metadata blocks read and checked (empty ones included).
    #[serde(default)]
    pub meta_blocks: u64,
    /// ICY: metadata blocks that named a title.
    #[serde(default)]
    pub meta_titles: u64,
    /// ICY: listeners that asked for metadata and were answered without `icy-metaint`.
    #[serde(default)]
    pub no_metaint: u64,
    /// ICY: body bytes, metadata taken out, that were not part of an MP3 frame.
    #[serde(default)]
    pub junk_bytes: u64,
}

impl Report {
    /// Server CPU microseconds per second of listening, per listener.
    pub fn cpu_us_per_listener_sec(&self) -> Option<f64> {
        let listener_secs = self.connected as f64 * self.window_secs;
        self.server_cpu_secs.filter(|_| listener_secs > 0.0).map(|cpu| cpu * 1e6 / listener_secs)
    }

    /// Server CPU microseconds per listener-second beyond what the server spent idle (at the
    /// rate measured before anyone connected): the cost of the listeners alone.
    pub fn cpu_us_per_listener_sec_above_idle(&self) -> Option<f64> {
        let listener_secs = self.connected as f64 * self.window_secs;
        let idle_rate = self.server_idle_cpu_secs? / self.idle_secs.filter(|s| *s > 0.0)?;
        let cpu = self.server_cpu_secs? - idle_rate * self.window_secs;
        (listener_secs > 0.0).then(|| cpu * 1e6 / listener_secs)
    }

    /// The setup's label, else the target.
    pub fn name(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.target)
    }

    /// Server memory per connection: RSS growth over idle, divided by connections.
    pub fn rss_per_connection(&self) -> Option<f64> {
        let (rss, idle) = (self.server_rss?, self.server_rss_idle?);
        (self.connected > 0).then(|| rss.saturating_sub(idle) as f64 / self.connected as f64)
    }

    /// True when the run saw something that must never happen: a failed listener, an error,
    /// or audio of an old stream after the reply that ended it.
    pub fn has_failures(&self) -> bool {
        self.failures() > 0 || self.errors > 0 || self.stale_bytes > 0
    }

    /// Failed connections, lost ones and ones that never completed their handshake.
    pub fn failures(&self) -> u64 {
        self.failed.values().sum::<u64>() + self.pending
    }

    /// The header of [`Report::table_row`].
    pub fn table_header() -> String {
        format!(
            "{:>6} {:>7} {:>5} | {:>17} | {:>24} | {:>24} | {:>11} | {:>6} | {:>5} {:>6} | {:>9} {:>8}",
            "target",
            "N",
            "fail",
            "handshake p50/p99",
            "first audio p50/p99/max",
            "LIST rtt p50/p99/max",
            "lag p50/p99",
            "stale",
            "under",
            "behind",
            "cpu µs/ls",
            "KiB/conn"
        )
    }

    /// One line for a terminal, times in milliseconds.
    pub fn table_row(&self) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        let two = |s: &Option<Summary>| {
            s.map_or("-".into(), |s| format!("{:.2}/{:.2}", ms(s.p50_us), ms(s.p99_us)))
        };
        let three = |s: &Option<Summary>| {
            s.map_or("-".into(), |s| format!("{:.2}/{:.2}/{:.1}", ms(s.p50_us), ms(s.p99_us), ms(s.max_us)))
        };
        let opt = |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
        let secs = |s: &Option<Summary>| {
            s.map_or("-".into(), |s| format!("{:.2}/{:.2}", s.p50_us as f64 / 1e6, s.p99_us as f64 / 1e6))
        };
        format!(
            "{:>6} {:>7} {:>5} | {:>17} | {:>24} | {:>24} | {:>11} | {:>6} | {:>5} {:>6} | {:>9} {:>8}",
            self.target,
            self.listeners,
            self.failures(),
            two(&self.handshake),
            three(&self.first_audio),
            three(&self.list_rtt),
            secs(&self.lag),
            self.stale_bytes,
            self.underruns,
            self.listeners_behind,
            opt(self.cpu_us_per_listener_sec(), 1),
            opt(self.rss_per_connection().map(|b| b / 1024.0), 1),
        )
    }

    /// A few lines on what went wrong, if anything.
    pub fn notes(&self) -> String {
        let mut out = String::new();
        for (reason, count) in &self.failed {
            let _ = writeln!(out, "  {count} connection(s) failed: {reason}");
        }
        if self.pending > 0 {
            let _ = writeln!(out, "  {} connection(s) never completed the handshake", self.pending);
        }
        if self.errors > 0 {
            let _ = writeln!(out, "  {} protocol error(s)", self.errors);
        }
        if self.stale_bytes > 0 {
            let _ = writeln!(
                out,
                "  {} bytes of an old stream arrived after the reply that ended it",
                self.stale_bytes
            );
        }
        if self.jumps > 0 {
            let _ = writeln!(out, "  {} radio chunk(s) jumped forward in station time (skipped)", self.jumps);
        }
        if self.target == "radio" {
            let _ = writeln!(out, "  {} TRACK_CHANGED received", self.track_changes);
        }
        if self.meta_blocks > 0 {
            let _ = writeln!(
                out,
                "  {} ICY metadata blocks checked, {} with a title",
                self.meta_blocks, self.meta_titles
            );
        }
        if self.no_metaint > 0 {
            let _ = writeln!(
                out,
                "  {} listener(s) asked for ICY metadata and got no icy-metaint",
                self.no_metaint
            );
        }
        if self.junk_bytes > 0 {
            let _ = writeln!(out, "  {} body bytes were not MP3 frames", self.junk_bytes);
        }
        if let Some(cpu) = self.cpu_us_per_listener_sec_above_idle() {
            let _ = writeln!(out, "  server CPU above its idle rate: {cpu:.1} µs per listener-second");
        }
        out
    }
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 })
}

/// A Markdown table of runs of several setups (grouped by [`Report::name`], in order of first
/// appearance), each figure the median over the setup's runs; the CPU ratio is to the first
/// setup's median. Below it, for every other setup, the ratio of each round (its i-th run
/// against the first setup's i-th run, measured next to each other).
pub fn setups_table(reports: &[Report]) -> String {
    let mut groups: Vec<(&str, Vec<&Report>)> = Vec::new();
    for report in reports {
        match groups.iter_mut().find(|(name, _)| *name == report.name()) {
            Some((_, runs)) => runs.push(report),
            None => groups.push((report.name(), vec![report])),
        }
    }
    let cpu = |runs: &[&Report]| runs.iter().filter_map(|r| r.cpu_us_per_listener_sec()).collect::<Vec<_>>();
    let reference = groups.first().and_then(|(_, runs)| median(&cpu(runs)));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| setup | runs | listeners | CPU µs per listener-second (min–max) | × first | CPU above idle | first audio p50 / p99 ms | lag p50 / p99 s | underruns | RSS per listener | failed |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (name, runs) in &groups {
        let of = |f: &dyn Fn(&Report) -> Option<f64>| {
            median(&runs.iter().filter_map(|r| f(r)).collect::<Vec<_>>())
        };
        let fmt = |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
        let cpus = cpu(runs);
        let cpu_median = median(&cpus);
        let range = match (cpus.iter().copied().reduce(f64::min), cpus.iter().copied().reduce(f64::max)) {
            (Some(lo), Some(hi)) if cpus.len() > 1 => format!(" ({lo:.1}–{hi:.1})"),
            _ => String::new(),
        };
        let ratio = cpu_median.zip(reference).filter(|(_, r)| *r > 0.0).map(|(c, r)| c / r);
        let ms = |v: u64| v as f64 / 1000.0;
        let first50 = of(&|r| r.first_audio.map(|s| ms(s.p50_us)));
        let first99 = of(&|r| r.first_audio.map(|s| ms(s.p99_us)));
        let lag50 = of(&|r| r.lag.map(|s| s.p50_us as f64 / 1e6));
        let lag99 = of(&|r| r.lag.map(|s| s.p99_us as f64 / 1e6));
        let underruns: u64 = runs.iter().map(|r| r.underruns).sum();
        let behind: u64 = runs.iter().map(|r| r.listeners_behind).sum();
        let failed: u64 = runs.iter().map(|r| r.failures()).sum();
        let listeners = of(&|r| Some(r.listeners as f64));
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {}{range} | {} | {} | {} / {} | {} / {} | {underruns}{} | {} | {failed} |",
            runs.len(),
            fmt(listeners, 0),
            fmt(cpu_median, 1),
            ratio.map_or("-".into(), |r| format!("{r:.2}×")),
            fmt(of(&|r| r.cpu_us_per_listener_sec_above_idle()), 1),
            fmt(first50, 2),
            fmt(first99, 2),
            fmt(lag50, 2),
            fmt(lag99, 2),
            if behind > 0 { format!(" ({behind} listeners)") } else { String::new() },
            of(&|r| r.rss_per_connection().map(|b| b / 1024.0)).map_or("-".into(), |k| format!("{k:.1} KiB")),
        );
    }
    if let Some((first, first_runs)) = groups.first() {
        for (name, runs) in groups.iter().skip(1) {
            let rounds: Vec<String> = first_runs
                .iter()
                .zip(runs.iter())
                .filter_map(|(a, b)| Some(b.cpu_us_per_listener_sec()? / a.cpu_us_per_listener_sec()?))
                .map(|r| format!("{r:.2}"))
                .collect();
            if !rounds.is_empty() {
                let _ = writeln!(out, "\nCPU of {name} over {first}, round by round: {}", rounds.join(", "));
            }
        }
    }
    out
}

/// Prints two reports of the same load side by side with their ratios (`b` over `a`).
pub fn compare(a: &Report, b: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", Report::table_header());
    let _ = writeln!(out, "{}", a.table_row());
    let _ = writeln!(out, "{}", b.table_row());
    let ratio = |name: &str, x: Option<f64>, y: Option<f64>, unit: &str| match (x, y) {
        (Some(x), Some(y)) if x > 0.0 => {
            format!(
                "  {name}: {} {x:.2} {unit}, {} {y:.2} {unit}, ratio {}/{} = {:.2}\n",
                a.target,
                b.target,
                b.target,
                a.target,
                y / x
            )
        }
        _ => format!("  {name}: not measured for both\n"),
    };
    out.push_str(&ratio(
        "CPU per listener-second",
        a.cpu_us_per_listener_sec(),
        b.cpu_us_per_listener_sec(),
        "µs",
    ));
    out.push_str(&ratio(
        "RSS per listener",
        a.rss_per_connection().map(|v| v / 1024.0),
        b.rss_per_connection().map(|v| v / 1024.0),
        "KiB",
    ));
    let p50 = |r: &Report| r.first_audio.map(|s| s.p50_us as f64 / 1000.0);
    out.push_str(&ratio("time to first audio byte, median", p50(a), p50(b), "ms"));
    out
}

/// Plots a sweep: latency percentiles and CPU per listener-second against N.
pub fn plot_sweep(reports: &[Report], path: &Path) -> Result<(), String> {
    let root = SVGBackend::new(path, (1000, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (top, bottom) = root.split_vertically(400);
    let x_max = reports.iter().map(|r| r.listeners as f64).fold(1.0, f64::max) * 1.05;

    let latency = |pick: fn(&Report) -> Option<Summary>, p99: bool| -> Vec<(f64, f64)> {
        reports
            .iter()
            .filter_map(|r| {
                pick(r).map(|s| (r.listeners as f64, (if p99 { s.p99_us } else { s.p50_us }) as f64 / 1000.0))
            })
            .collect()
    };
    let latencies = [
        ("first audio p50", latency(|r| r.first_audio, false), BLUE),
        ("first audio p99", latency(|r| r.first_audio, true), CYAN),
        ("LIST rtt p50", latency(|r| r.list_rtt, false), RED),
        ("LIST rtt p99", latency(|r| r.list_rtt, true), MAGENTA),
    ];
    draw_panel(&top, "jukebox-server latency against listeners", "ms", x_max, &latencies)?;
    let cpu: Vec<(f64, f64)> =
        reports.iter().filter_map(|r| r.cpu_us_per_listener_sec().map(|c| (r.listeners as f64, c))).collect();
    let cpu = [("CPU", cpu, GREEN)];
    draw_panel(&bottom, "server CPU per listener-second", "CPU µs per listener-second", x_max, &cpu)?;
    root.present().map_err(|e| e.to_string())
}

/// A named, coloured line of (listeners, value) points.
type Series<'a> = (&'a str, Vec<(f64, f64)>, RGBColor);

/// One chart of lines with points against the number of listeners; a legend when there is
/// more than one line.
fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    y_desc: &str,
    x_max: f64,
    series: &[Series<'_>],
) -> Result<(), String> {
    let y_max = series.iter().flat_map(|(_, s, _)| s.iter().map(|p| p.1)).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("listeners")
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()
        .map_err(|e| e.to_string())?;
    for (name, points, color) in series {
        let color = *color;
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))
            .map_err(|e| e.to_string())?;
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
