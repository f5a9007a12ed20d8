//! `jukebox-server MUSIC_DIR PORT`: parse arguments, scan, serve, report errors.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use jukebox_server::{DEFAULT_MAX_CLIENTS, Library, Server};
use tracing_subscriber::EnvFilter;

/// Serves a folder of MP3 songs to jukebox clients over the Jukebox Protocol (see RFC.md).
///
/// Every *.mp3 file under MUSIC_DIR (subfolders too) is listed, in path order, with ids from 1.
/// Files that are not MPEG audio are reported once and left out. Stop with Ctrl-C (or SIGTERM):
/// clients are told the server is shutting down.
///
/// Logs go to standard error; set RUST_LOG=debug to see every request.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// Folder to scan for MP3 files.
    music_dir: PathBuf,
    /// TCP port to listen on (0 picks a free one and logs it).
    port: u16,
    /// Address to listen on: 0.0.0.0 for every IPv4 interface, :: for IPv6, 127.0.0.1 for this
    /// machine only.
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Most clients served at once; more are told the server is full. Each client takes two
    /// threads: past about 16000, raise /proc/sys/kernel/pid_max and `ulimit -n` first.
    #[arg(long, default_value_t = DEFAULT_MAX_CLIENTS, value_name = "N")]
    max_clients: usize,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();
    let library = match Library::scan(&args.music_dir) {
        Ok(library) => library,
        Err(e) => {
            eprintln!("jukebox-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = SocketAddr::new(args.bind, args.port);
    let server = match Server::bind(addr, library) {
        Ok(server) => server.with_max_clients(args.max_clients),
        Err(e) => {
            eprintln!("jukebox-server: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = server.shutdown_handle();
    if let Err(e) = ctrlc::set_handler(move || stop.shutdown()) {
        eprintln!("jukebox-server: cannot install the Ctrl-C handler: {e}");
        return ExitCode::FAILURE;
    }
    server.run();
    ExitCode::SUCCESS
}
