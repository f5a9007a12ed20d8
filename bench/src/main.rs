//! `jukebox-bench`: parse arguments, check limits, run, print and save the reports.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use jukebox_bench::report::{Report, compare, plot_sweep};
use jukebox_bench::{Mix, RunConfig, Target, probe, run};

/// Load generator and latency probe for jukebox-server, and for HTTP/ICY streams such as
/// Icecast, from one process and one thread (an event loop), however many listeners.
///
/// Each listener connects, starts a song and plays it through a virtual player: it waits for
/// --prebuffer-ms of audio, then consumes it at real time, and counts an underrun whenever the
/// audio it needs has not arrived yet. Results are printed as a table (times in ms) and can be
/// saved as JSON. Give --server-pid to also measure the server's CPU and memory from /proc.
///
/// Table columns: fail (connections that failed or never completed the handshake); handshake
/// (connect to WELCOME, or to the HTTP response head); first audio (PLAY, or the HTTP request,
/// to the first audio byte); LIST rtt (while streaming, with --list-every); stale (bytes of a
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
    /// Load an HTTP/ICY stream (Icecast, SHOUTcast) with plain GET listeners.
    Icy {
        /// Stream URL, e.g. http://127.0.0.1:8000/stream.mp3.
        url: String,
        #[command(flatten)]
        common: Common,
    },
    /// Plot a saved sweep (a --json file) as SVG, as --svg does at the end of a sweep.
    Plot {
        /// The JSON reports.
        json: PathBuf,
        /// The SVG to write.
        svg: PathBuf,
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
        Command::Compare { first, second } => {
            print!("{}", compare(&last(&first)?, &last(&second)?));
            return Ok(ExitCode::SUCCESS);
        }
        Command::Plot { json, svg } => {
            plot_sweep(&read(&json)?, &svg)?;
            return Ok(ExitCode::SUCCESS);
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
        Command::Icy { url, common } => {
            let rest = url.strip_prefix("http://").ok_or("only http:// URLs are supported")?;
            let (host, path) =
                rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
            let addr = resolve(&if host.contains(':') { host.to_string() } else { format!("{host}:80") })?;
            let mix = Mix { churn_every: seconds(common.churn_every)?, ..Mix::default() };
            (Target::Icy { addr, host: host.to_string(), path }, mix, common, 0)
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
            seed: common.seed,
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
