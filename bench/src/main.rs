//! `jukebox-bench`: parse arguments, check limits, run, print and save the reports.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use jukebox_bench::report::{Report, compare, plot_sweep, setups_table};
use jukebox_bench::soak::{Sample, SoakConfig, Tolerance};
use jukebox_bench::{Mix, RunConfig, Target, driver, hop, probe, run};

/// Load generator and latency probe for jukebox-server, and for HTTP/ICY streams such as
/// Icecast, from one process and one thread (an event loop), however many listeners.
///
/// Each listener connects, starts a song and plays it through a virtual player: it waits for
/// --prebuffer-ms of audio, then consumes it at real time, and counts an underrun whenever the
/// audio it needs has not arrived yet. Results are printed as a table (times in ms) and can be
/// saved as JSON. Give --server-pid to also measure the server's CPU and memory from /proc.
///
/// Table columns: fail (connections that failed or never completed the handshake); handshake
/// (connect to WELCOME, or to the HTTP response head); first audio (PLAY or TUNE, or the HTTP
/// request, to the first audio byte); LIST rtt (while streaming, with --list-every); lag (radio
/// and ICY: how far behind the live edge the virtual players play, seconds); stale (bytes of a
/// stream received after the reply that replaced or stopped it: must be 0); under (underruns of
/// the virtual players); behind (listeners with an underrun); cpu µs/ls (server CPU per
/// listener-second); KiB/conn (server RSS growth per connection). The exit status is 1 when a
/// listener failed, an error arrived or stale audio was seen.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load a jukebox server over the Jukebox Protocol (RFC.md).
    Native {
        /// Server address, e.g. 127.0.0.1:12345.
        addr: String,
        /// Song id every listener plays (default: each picks one at random from LIST).
        #[arg(long)]
        song: Option<u32>,
        /// Each listener sends LIST this often (seconds) while streaming; measures LIST round trips.
        #[arg(long, value_name = "SECS")]
        list_every: Option<f64>,
        /// Each listener PLAYs another song this often (seconds); checks no old audio follows.
        #[arg(long, value_name = "SECS")]
        switch_every: Option<f64>,
        /// Each listener STOPs this often (seconds) and PLAYs again half a second later.
        #[arg(long, value_name = "SECS")]
        stop_every: Option<f64>,
        #[command(flatten)]
        common: Common,
    },
    /// Load a jukebox server's station: every listener TUNEs (RFC §6.1.6) instead of LIST and
    /// PLAY.
    ///
    /// Each listener checks what RFC §7.5 promises (TUNED, then a TRACK_CHANGED with Offset 0
    /// before the first AUDIO; contiguous Offsets) and fails otherwise; it plays the stream
    /// through the virtual player. first audio is TUNE sent to the first AUDIO. The lag column
    /// is how far behind live each player plays, sampled at every AUDIO: live is estimated as
    /// the newest audio any listener has received, carried forward at real time (AUDIO carries
    /// station time, the same for every listener), so it is, if anything, understated by the
    /// best delivery delay seen. Listeners PING every 15 s as RFC §8.1 asks.
    Radio {
        /// Server address, e.g. 127.0.0.1:12345.
        addr: String,
        /// Each listener TUNEs again this often (seconds): a new stream, a new burst.
        #[arg(long, value_name = "SECS")]
        retune_every: Option<f64>,
        #[command(flatten)]
        common: Common,
    },
    /// Load an HTTP/ICY stream (Icecast, SHOUTcast, jukebox's /radio) with plain GET listeners.
    ///
    /// first audio is the request sent to the first audio byte. The lag column is how far
    /// behind live each player plays: live is estimated per listener as the newest audio it
    /// has received, carried forward at real time (an ICY body carries no time).
    Icy {
        /// Stream URL, e.g. http://127.0.0.1:8000/stream.mp3.
        url: String,
        /// Ask for ICY metadata (Icy-MetaData: 1): the blocks are taken out of the audio, and
        /// each must read as metadata where icy-metaint says it is, or the listener fails.
        #[arg(long)]
        metadata: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Measure the latency a relay adds (RFC §7.6.3): the same station heard at its origin and
    /// at a relay of it, at the same time.
    ///
    /// A probe sends RELAY to each server, so each sends it every chunk the moment it goes on
    /// the air; a relay keeps the origin's Position ms for the same frame (RFC §7.6.1). edge
    /// delay: for each chunk of the relay's, its arrival after the origin's chunk holding the
    /// same station time (how far the relay's live edge trails the origin's). lag: --listeners
    /// TUNE listeners on each server play through virtual players; each one's lag is measured
    /// against the origin's live edge (the origin probe's receipts). added by the hop: the
    /// relay listeners' lag less the origin listeners'. The first 3 s (every stream's burst of
    /// past audio) are not counted. The probes are relays of the servers: start them without
    /// --max-relays. The exit status is 1 when a listener underran.
    Hop {
        /// The origin (or the relay one hop nearer to it), e.g. 127.0.0.1:12345.
        #[arg(long)]
        origin: String,
        /// The relay of it, e.g. 127.0.0.2:12345.
        #[arg(long)]
        relay: String,
        /// TUNE listeners on each server.
        #[arg(short = 'n', long, default_value_t = 5)]
        listeners: u64,
        /// Seconds measured after the 3 s warm-up.
        #[arg(short, long, default_value_t = 10.0, value_name = "SECS")]
        duration: f64,
        /// Audio a virtual player buffers before it starts playing, in milliseconds.
        #[arg(long, default_value_t = 200, value_name = "MS")]
        prebuffer_ms: u64,
        /// Name the setup in the report.
        #[arg(long)]
        label: Option<String>,
        /// Save the report as JSON.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
        /// Seed for the probes' node ids.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Print saved reports of several setups as one Markdown table: a row per setup (by
    /// --label, else target), each figure the median over its runs, CPU also as a ratio to the
    /// first setup's; then the CPU ratio of each round.
    Table {
        /// JSON reports (each file may hold several runs).
        json: Vec<PathBuf>,
    },
    /// Plot a saved sweep (a --json file) as SVG, as --svg does at the end of a sweep.
    Plot {
        /// The JSON reports.
        json: PathBuf,
        /// The SVG to write.
        svg: PathBuf,
    },
    /// Soak a jukebox server: real listeners next to hostile connections for an hour, checking
    /// that the server's threads, open files and memory stay flat.
    ///
    /// For --duration seconds (counted once every connection has been started), -n listeners
    /// list, play, switch, stop and reconnect, each mix on its own random phase, and PING after
    /// 15 s of silence. Next to them, --hostile connections misuse the server, dealt out in turn
    /// over seven kinds: slowloris (its HELLO one byte every 3 s), silent (sends nothing),
    /// garbage (random bytes, not a HELLO), oversized (a frame header announcing 4 GiB),
    /// non-reader (PLAY every second, never reads: only the server's write timeout can end it),
    /// flooder (PLAY and LIST as fast as TCP takes them, reading and discarding the replies, for
    /// 30 s) and vanisher (half a frame, then it closes). A hostile connection that ends is
    /// replaced by one of its kind a quarter of a second later. Everything runs on one thread.
    ///
    /// Output: one line per sample, every --sample-every seconds and at the end. elapsed: since
    /// every connection was started; listeners: handshake done; hostile: open or connecting
    /// (the kinds the server closes at once spend most of their time waiting to reopen);
    /// threads, fds (open file descriptors, sockets included), RSS MiB: the server's; CPU %: the
    /// server's CPU since the previous line (100 = one core); then, so far: fail (listener
    /// connections that failed or were lost; they connect again), under (underruns of the
    /// listeners' virtual players), stale (bytes of a stream's audio received after the reply
    /// that replaced or stopped it). Under load, threads and fds move with the connections
    /// (jukebox-server: two threads and one file per client); a steady climb is a leak.
    ///
    /// Then a summary: the server's threads, fds and RSS before the first connection, at the
    /// first and last samples, and after every connection has closed and the server has settled
    /// (it is given up to 35 s, more than its 30 s write timeout); the listeners' failures and
    /// latencies; and per hostile kind how many were opened, how they ended (closed or reset by
    /// the server, after a GOODBYE and its reason if one came; closed by us as planned; still
    /// open at the end) and how long they had been open. The server closing hostile
    /// connections is what it should do; an ending it should not allow (answering garbage, a
    /// WELCOME to a HELLO that took 21 s, never closing one) is marked, without changing the
    /// exit status.
    ///
    /// The exit status is 1 when a listener failed or was lost, got an ERROR, underran or
    /// received stale audio, or when, after the soak, the server holds more threads than before
    /// it by more than --thread-tolerance, or more open files by more than --fd-tolerance. The
    /// tolerances allow for a helper thread or a file that a server starts or opens once, on
    /// first use, and keeps; a leak per connection exceeds them within minutes. Run the soak
    /// against a server that serves nobody else: other clients would count as leaks.
    Soak {
        /// Server address, e.g. 127.0.0.1:12345.
        addr: String,
        /// The server's process id: its threads, open files, memory and CPU are read from /proc.
        #[arg(long, value_name = "PID")]
        server_pid: u32,
        /// Real listeners.
        #[arg(short = 'n', long, default_value_t = 1000)]
        listeners: u64,
        /// Hostile connections kept open next to them.
        #[arg(long, default_value_t = 100, value_name = "N")]
        hostile: u64,
        /// Seconds of soak once every connection has been started.
        #[arg(short, long, default_value_t = 3600.0, value_name = "SECS")]
        duration: f64,
        /// Seconds between two samples of the server.
        #[arg(long, default_value_t = 60.0, value_name = "SECS")]
        sample_every: f64,
        /// Each listener sends LIST this often (seconds; 0: never).
        #[arg(long, default_value_t = 10.0, value_name = "SECS")]
        list_every: f64,
        /// Each listener PLAYs another song this often (seconds; 0: never).
        #[arg(long, default_value_t = 30.0, value_name = "SECS")]
        switch_every: f64,
        /// Each listener STOPs this often and PLAYs again half a second later (seconds; 0: never).
        #[arg(long, default_value_t = 45.0, value_name = "SECS")]
        stop_every: f64,
        /// Each listener disconnects and connects again this often (seconds; 0: never).
        #[arg(long, default_value_t = 120.0, value_name = "SECS")]
        churn_every: f64,
        /// Song id the listeners, the non-readers and the flooders play (default: listeners pick
        /// at random from LIST, hostile connections play song 1).
        #[arg(long)]
        song: Option<u32>,
        /// New connections per second while starting.
        #[arg(long, default_value_t = 1000)]
        ramp: u64,
        /// Audio a virtual player buffers before it starts playing, in milliseconds.
        #[arg(long, default_value_t = 200, value_name = "MS")]
        prebuffer_ms: u64,
        /// Extra server threads allowed after the soak, against before it.
        #[arg(long, default_value_t = 2, value_name = "N")]
        thread_tolerance: u64,
        /// Extra server open files allowed after the soak, against before it.
        #[arg(long, default_value_t = 4, value_name = "N")]
        fd_tolerance: u64,
        /// Save the report (samples, summary, hostile tallies) as JSON.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
        /// Seed for the random choices, so runs can be repeated.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Print two saved JSON reports side by side with their ratios (second over first).
    Compare {
        /// The reference report, e.g. Icecast's.
        first: PathBuf,
        /// The report compared with it, e.g. jukebox-server's.
        second: PathBuf,
    },
}

#[derive(Debug, Args)]
struct Common {
    /// Simultaneous listeners.
    #[arg(short = 'n', long, default_value_t = 100)]
    listeners: u64,
    /// Sweep instead of one run: comma-separated listener counts, e.g. 100,1000,5000,10000.
    #[arg(long, value_delimiter = ',', value_name = "N,N,...")]
    sweep: Vec<u64>,
    /// Seconds measured once every listener has been started.
    #[arg(short, long, default_value_t = 10.0, value_name = "SECS")]
    duration: f64,
    /// New connections per second while starting listeners.
    #[arg(long, default_value_t = 1000)]
    ramp: u64,
    /// Audio a virtual player buffers before it starts playing, in milliseconds.
    #[arg(long, default_value_t = 200, value_name = "MS")]
    prebuffer_ms: u64,
    /// Each listener disconnects and reconnects this often (seconds).
    #[arg(long, value_name = "SECS")]
    churn_every: Option<f64>,
    /// The server's process id: measure its CPU time and memory from /proc.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Threads the server uses per listener, to check kernel.pid_max (2 for jukebox-server).
    #[arg(long, value_name = "N")]
    server_threads_per_listener: Option<u64>,
    /// Before connecting anyone, measure the server's CPU for this long (seconds; needs
    /// --server-pid): the report then also gives CPU per listener-second above the idle rate.
    #[arg(long, default_value_t = 0.0, value_name = "SECS")]
    idle_secs: f64,
    /// Name the setup in the report (for `table`), e.g. "Icecast (ffmpeg)".
    #[arg(long)]
    label: Option<String>,
    /// Save the report(s) as JSON.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// With --sweep: write an SVG plot of latency and CPU per listener against N.
    #[arg(long, value_name = "PATH")]
    svg: Option<PathBuf>,
    /// Seed for the random choices, so runs can be repeated.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn seconds(s: Option<f64>) -> Result<Option<Duration>, String> {
    s.map(|s| Duration::try_from_secs_f64(s).map_err(|_| format!("{s} is not a number of seconds")))
        .transpose()
}

fn resolve(addr: &str) -> Result<SocketAddr, String> {
    addr.to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr} has no address"))
}

/// Runs a soak, printing samples as they come and the summary at the end.
fn soak(addr: &str, config: &SoakConfig, json: Option<&std::path::Path>) -> Result<ExitCode, String> {
    let connections = config.run.listeners + config.hostile;
    let fd_limit = probe::raise_fd_limit();
    let mut problems = probe::limit_problems(connections, fd_limit, 2);
    let pid = config.run.server_pid.unwrap_or_default();
    if let Some(server_fds) = probe::fd_limit_of(pid)
        && server_fds < connections + 64
    {
        problems.push(format!(
            "the server (pid {pid}) may open {server_fds} files but needs about {}: start it with a higher ulimit -n",
            connections + 64
        ));
    }
    for problem in &problems {
        eprintln!("jukebox-bench: warning: {problem}");
    }
    let mix = config.run.mix;
    let every = |name: &str, d: Option<Duration>| d.map(|d| format!("{name} every {} s", d.as_secs_f64()));
    let plan: Vec<String> = [
        every("LIST", mix.list_every),
        every("switch", mix.switch_every),
        every("stop", mix.stop_every),
        every("reconnect", mix.churn_every),
    ]
    .into_iter()
    .flatten()
    .collect();
    println!(
        "soak of {addr} (server pid {pid}) for {} s: {} listeners ({}) and {} hostile connections",
        config.run.duration.as_secs_f64(),
        config.run.listeners,
        if plan.is_empty() { "listening only".to_string() } else { plan.join(", ") },
        config.hostile
    );
    println!("{}", Sample::header());
    let report = driver::soak(config, |sample| println!("{}", sample.row()))?;
    println!();
    print!("{}", report.summary());
    if let Some(path) = json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(if report.problems().is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jukebox-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<ExitCode, String> {
    let read = |p: &PathBuf| -> Result<Vec<Report>, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{} is not a jukebox-bench report: {e}", p.display()))
    };
    let last = |p: &PathBuf| -> Result<Report, String> {
        read(p)?.pop().ok_or_else(|| format!("{} holds no report", p.display()))
    };
    let (target, mix, common, threads_default) = match Cli::parse().command {
        Command::Soak {
            addr,
            server_pid,
            listeners,
            hostile,
            duration,
            sample_every,
            list_every,
            switch_every,
            stop_every,
            churn_every,
            song,
            ramp,
            prebuffer_ms,
            thread_tolerance,
            fd_tolerance,
            json,
            seed,
        } => {
            let every = |secs: f64| seconds(Some(secs)).map(|d| d.filter(|d| !d.is_zero()));
            let mix = Mix {
                list_every: every(list_every)?,
                switch_every: every(switch_every)?,
                stop_every: every(stop_every)?,
                churn_every: every(churn_every)?,
                keepalive: true,
            };
            let run = RunConfig {
                target: Target::Native { addr: resolve(&addr)?, song },
                listeners,
                duration: seconds(Some(duration))?.unwrap_or_default(),
                ramp_per_sec: ramp,
                prebuffer: Duration::from_millis(prebuffer_ms),
                mix,
                server_pid: Some(server_pid),
                idle: Duration::ZERO,
                seed,
                label: None,
            };
            let sample_every = every(sample_every)?.ok_or("--sample-every must be more than 0")?;
            let tolerance = Tolerance { threads: thread_tolerance, fds: fd_tolerance };
            let config = SoakConfig { run, hostile, sample_every, tolerance };
            return soak(&addr, &config, json.as_deref());
        }
        Command::Hop { origin, relay, listeners, duration, prebuffer_ms, label, json, seed } => {
            let config = hop::HopConfig {
                origin: resolve(&origin)?,
                relay: resolve(&relay)?,
                listeners,
                duration: seconds(Some(duration))?.unwrap_or_default(),
                prebuffer: Duration::from_millis(prebuffer_ms),
                label,
                seed,
            };
            let report = hop::run(&config)?;
            print!("{}", report.text());
            if let Some(path) = json {
                let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
                std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            return Ok(if report.has_underruns() { ExitCode::FAILURE } else { ExitCode::SUCCESS });
        }
        Command::Compare { first, second } => {
            print!("{}", compare(&last(&first)?, &last(&second)?));
            return Ok(ExitCode::SUCCESS);
        }
        Command::Plot { json, svg } => {
            plot_sweep(&read(&json)?, &svg)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Table { json } => {
            let mut reports = Vec::new();
            for path in &json {
                reports.extend(read(path)?);
            }
            print!("{}", setups_table(&reports));
            return Ok(ExitCode::SUCCESS);
        }
        Command::Radio { addr, retune_every, common } => {
            let mix = Mix {
                switch_every: seconds(retune_every)?,
                churn_every: seconds(common.churn_every)?,
                keepalive: true,
                ..Mix::default()
            };
            (Target::Radio { addr: resolve(&addr)? }, mix, common, 2)
        }
        Command::Native { addr, song, list_every, switch_every, stop_every, common } => {
            let mix = Mix {
                list_every: seconds(list_every)?,
                switch_every: seconds(switch_every)?,
                stop_every: seconds(stop_every)?,
                churn_every: seconds(common.churn_every)?,
                keepalive: false,
            };
            (Target::Native { addr: resolve(&addr)?, song }, mix, common, 2)
        }
        Command::Icy { url, metadata, common } => {
            let rest = url.strip_prefix("http://").ok_or("only http:// URLs are supported")?;
            let (host, path) =
                rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
            let addr = resolve(&if host.contains(':') { host.to_string() } else { format!("{host}:80") })?;
            let mix = Mix { churn_every: seconds(common.churn_every)?, ..Mix::default() };
            (Target::Icy { addr, host: host.to_string(), path, metadata }, mix, common, 0)
        }
    };
    let counts = if common.sweep.is_empty() { vec![common.listeners] } else { common.sweep.clone() };
    let fd_limit = probe::raise_fd_limit();
    let threads = common.server_threads_per_listener.unwrap_or(threads_default);
    let most = counts.iter().copied().max().unwrap_or(0);
    let mut problems = probe::limit_problems(most, fd_limit, threads);
    if let Some(pid) = common.server_pid
        && let Some(server_fds) = probe::fd_limit_of(pid)
        && server_fds < most + 64
    {
        problems.push(format!(
            "the server (pid {pid}) may open {server_fds} files but needs about {}: start it with a higher ulimit -n",
            most + 64
        ));
    }
    for problem in &problems {
        eprintln!("jukebox-bench: warning: {problem}");
    }
    let duration =
        Duration::try_from_secs_f64(common.duration).map_err(|_| "--duration must be a number of seconds")?;
    println!("{}", Report::table_header());
    let mut reports = Vec::new();
    for (i, &listeners) in counts.iter().enumerate() {
        if i > 0 {
            // Let the previous run's connections close before the next starts.
            std::thread::sleep(Duration::from_secs(2));
        }
        let config = RunConfig {
            target: target.clone(),
            listeners,
            duration,
            ramp_per_sec: common.ramp,
            prebuffer: Duration::from_millis(common.prebuffer_ms),
            mix,
            server_pid: common.server_pid,
            idle: Duration::try_from_secs_f64(common.idle_secs)
                .map_err(|_| "--idle-secs must be a number of seconds")?,
            seed: common.seed,
            label: common.label.clone(),
        };
        let report = run(&config)?;
        println!("{}", report.table_row());
        print!("{}", report.notes());
        reports.push(report);
    }
    if let Some(path) = &common.json {
        let json = serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = &common.svg {
        plot_sweep(&reports, path)?;
    }
    let failed = reports.iter().any(Report::has_failures);
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
