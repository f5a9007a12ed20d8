//! `jukebox-server MUSIC_DIR PORT`: parse arguments, open the library, serve, report errors.

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use jukebox_server::library::catalog::IndexLocation;
use jukebox_server::library::scan::LinkPolicy;
use jukebox_server::relay::Upstream;
use jukebox_server::{Catalog, CatalogOptions, Server};
use tracing_subscriber::EnvFilter;

/// Serves a folder of MP3 songs to jukebox clients over the Jukebox Protocol (see RFC.md).
///
/// Every *.mp3 file under MUSIC_DIR (subfolders too) that holds MPEG audio is listed. The
/// server listens at once and scans the folder in the background; a client's `rescan` looks
/// again for new, changed and removed files. Song ids are remembered in an index file, so a
/// song keeps its id across restarts and a new file gets a new one. Files that are not MPEG
/// audio are reported once and left out.
///
/// Symbolic links are followed only when they lead to a place inside MUSIC_DIR, unless
/// --follow-outside-links is given. Stop with Ctrl-C (or SIGTERM): clients are told the server
/// is shutting down.
///
/// The radio station plays the library (shuffled, and listeners' requests) from the start,
/// unless --no-radio. With --http, any player or browser can listen too:
/// http://HOST:PORT/radio is the station as an MP3 stream (Icecast-style, with titles), and
/// http://HOST:PORT/ a web page to listen and make requests.
///
/// With --relay, the server relays another station instead: another jukebox server, or any
/// Icecast/SHOUTcast MP3 station; the music folder may then be left out. Relays started
/// against one origin with --max-relays build a tree by themselves, and climb it when a
/// parent fails. See README.md, "Relaying".
///
/// Logs go to standard error; set RUST_LOG=debug to see every request.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    long_about,
    override_usage = "jukebox-server [OPTIONS] MUSIC_DIR PORT\n       jukebox-server [OPTIONS] --relay URL... [MUSIC_DIR] PORT"
)]
struct Args {
    /// Folder to serve the MP3 files of (may be left out with --relay).
    #[arg(value_name = "MUSIC_DIR")]
    first: Option<String>,
    /// TCP port to listen on (0 picks a free one and logs it).
    #[arg(value_name = "PORT")]
    second: Option<String>,
    /// Relay this station instead of playing a library: jukebox://HOST:PORT (another jukebox
    /// server, which may itself be a relay) or http://HOST:PORT/MOUNT (any Icecast or
    /// SHOUTcast MP3 station; its titles follow). Give it more than once to fail over in
    /// order: the first that answers is relayed, and the relay goes back to an earlier one
    /// when it answers again. While none delivers, listeners stay connected and hear silence.
    #[arg(long, value_name = "URL")]
    relay: Vec<String>,
    /// Feed at most N relays directly. A relay that asks beyond that is sent on to one of
    /// them, each in turn, so relays that all start against this server build a balanced tree
    /// by themselves. [default: no limit]
    #[arg(long, value_name = "N")]
    max_relays: Option<usize>,
    /// Address or host name to listen on: 0.0.0.0 for every IPv4 interface, :: for IPv6,
    /// 127.0.0.1 or localhost for this machine only.
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDR")]
    bind: String,
    /// Most clients served at once; more are told the server is full. Each client takes two
    /// threads and a file descriptor; the server serves fewer, and says why, when the
    /// machine's limits (kernel.pid_max, vm.max_map_count, ulimit -n) do not allow this many.
    /// [default: 10000, or what the machine allows]
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,
    /// Follow symbolic links that lead outside MUSIC_DIR (by default they are skipped, and
    /// each is named once in the log).
    #[arg(long)]
    follow_outside_links: bool,
    /// Memory for songs, in MiB: every song being streamed or kept for the next PLAY counts;
    /// a PLAY that needs more is refused until listeners move on.
    #[arg(long, value_name = "MIB", default_value_t = jukebox_server::library::song::SONG_MEMORY / (1024 * 1024))]
    song_memory: usize,
    /// Also serve HTTP on this port (PORT alone: on the --bind address; 0 picks a free port
    /// and logs it): the radio at /radio for any player, playlists at /radio.m3u and
    /// /radio.pls, songs at /songs/N.mp3, a web page at /, and /status.json.
    #[arg(long, value_name = "[ADDR:]PORT")]
    http: Option<String>,
    /// Most HTTP connections at once (radio listeners, downloads, pages, event streams); more
    /// are answered 503. Each takes a thread.
    #[arg(long, value_name = "N", default_value_t = jukebox_server::http::DEFAULT_MAX_CONNECTIONS)]
    http_max_connections: usize,
    /// Most HTTP connections at once from one address; more from it are answered 429, so that
    /// one host cannot take them all. A browser listening holds two.
    #[arg(long, value_name = "N", default_value_t = jukebox_server::http::DEFAULT_MAX_PER_ADDRESS)]
    http_max_per_address: usize,
    /// Do not start the radio station: TUNE, REQUEST and /radio answer that it is off the air.
    #[arg(long)]
    no_radio: bool,
    /// Also push the station to an Icecast 2.4 server as a source, for audiences larger than
    /// one server should serve: http://source:PASSWORD@HOST:PORT/MOUNT (the user defaults to
    /// `source`; the password is Icecast's <source-password>). Titles follow each song change
    /// (through Icecast's /admin/metadata, with the same credentials). When Icecast goes away
    /// the server tries again, waiting from 0.5 s up to 30 s between tries (minutes after a
    /// wrong password), and its own listeners never notice. See README.md, "Feeding Icecast".
    #[arg(long, value_name = "URL", value_parser = jukebox_server::icecast::Target::parse, conflicts_with = "no_radio")]
    icecast: Option<jukebox_server::icecast::Target>,
    /// Where to keep the index that remembers song ids between runs [default: a file under
    /// $XDG_CACHE_HOME/jukebox, else ~/.cache/jukebox, named after MUSIC_DIR]. `none` keeps
    /// no index: ids then hold only while the server runs.
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();
    let (music_dir, port) = match folder_and_port(
        args.first.as_deref(),
        args.second.as_deref(),
        !args.relay.is_empty(),
    ) {
        Ok(found) => found,
        Err(e) => {
            eprintln!(
                "jukebox-server: {e}\nUsage: jukebox-server MUSIC_DIR PORT, or jukebox-server --relay URL PORT (see --help)"
            );
            return ExitCode::from(2);
        }
    };
    let upstreams = match args.relay.iter().map(|u| u.parse::<Upstream>()).collect::<Result<Vec<_>, _>>() {
        Ok(upstreams) => upstreams,
        Err(e) => {
            eprintln!("jukebox-server: --relay {e}");
            return ExitCode::from(2);
        }
    };
    if !upstreams.is_empty() && args.no_radio {
        eprintln!("jukebox-server: --relay and --no-radio: a relay is a station; leave one out");
        return ExitCode::from(2);
    }
    let addr = match resolve(&args.bind, port) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("jukebox-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = CatalogOptions {
        links: if args.follow_outside_links { LinkPolicy::FollowOutside } else { LinkPolicy::InsideOnly },
        index: match args.db {
            None => IndexLocation::Default,
            Some(path) if path.as_os_str() == "none" => IndexLocation::Nowhere,
            Some(path) => IndexLocation::At(path),
        },
    };
    let catalog = match &music_dir {
        None => Catalog::without_folder(),
        Some(dir) => match Catalog::open(dir, options) {
            Ok(catalog) => catalog,
            Err(e) => {
                eprintln!("jukebox-server: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let http_addr = match args.http.as_deref().map(|spec| http_address(spec, &args.bind)).transpose() {
        Ok(http_addr) => http_addr,
        Err(e) => {
            eprintln!("jukebox-server: --http: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut server = match Server::bind(addr, catalog) {
        Ok(server) => {
            let server = server.with_song_memory(args.song_memory.saturating_mul(1024 * 1024));
            match args.max_clients {
                Some(max) => server.with_max_clients(max),
                None => server,
            }
        }
        Err(e) => {
            eprintln!("jukebox-server: cannot listen on {addr}: {}", e.kind());
            return ExitCode::FAILURE;
        }
    };
    if let Some(http_addr) = http_addr {
        let server_with_limits = server
            .with_http_max_connections(args.http_max_connections)
            .with_http_max_per_address(args.http_max_per_address);
        server = match server_with_limits.with_http(http_addr) {
            Ok(server) => server,
            Err(e) => {
                eprintln!("jukebox-server: cannot listen for HTTP on {http_addr}: {}", e.kind());
                return ExitCode::FAILURE;
            }
        };
    }
    server = server.with_max_relays(args.max_relays);
    if !upstreams.is_empty() {
        server = match server.with_relay(upstreams) {
            Ok(server) => server,
            Err(e) => {
                eprintln!("jukebox-server: cannot start relaying: {e}");
                return ExitCode::FAILURE;
            }
        };
    } else if !args.no_radio {
        server = match server.with_radio() {
            Ok(server) => server,
            Err(e) => {
                eprintln!("jukebox-server: cannot start the radio station: {e}");
                return ExitCode::FAILURE;
            }
        };
    }
    if let Some(target) = args.icecast {
        server = server.with_icecast(target);
    }
    let stop = server.shutdown_handle();
    if let Err(e) = ctrlc::set_handler(move || stop.shutdown()) {
        eprintln!("jukebox-server: cannot install the Ctrl-C handler: {e}");
        return ExitCode::FAILURE;
    }
    server.run();
    ExitCode::SUCCESS
}

/// The music folder and the port from the one or two positional arguments: both, or, when
/// relaying, the port alone.
fn folder_and_port(
    first: Option<&str>,
    second: Option<&str>,
    relaying: bool,
) -> Result<(Option<PathBuf>, u16), String> {
    let port =
        |text: &str| text.parse::<u16>().map_err(|_| format!("{text:?} is not a port number (0 to 65535)"));
    match (first, second) {
        (Some(dir), Some(p)) => Ok((Some(PathBuf::from(dir)), port(p)?)),
        (Some(p), None) if relaying => Ok((None, port(p)?)),
        (Some(_), None) => Err("which port? Give MUSIC_DIR and PORT".into()),
        (None, _) if relaying => Err("which port to listen on? Give PORT".into()),
        (None, _) => Err("which folder and port? Give MUSIC_DIR and PORT".into()),
    }
}

/// The address of `--http [ADDR:]PORT`: a port alone listens on the `--bind` address; an
/// address may be an IP address (IPv6 in brackets: `[::1]:8080`) or a host name.
fn http_address(spec: &str, bind: &str) -> Result<SocketAddr, String> {
    let port = |text: &str| text.parse::<u16>().map_err(|_| format!("{text:?} is not a port number"));
    if !spec.contains(':') {
        return resolve(bind, port(spec)?);
    }
    if let Ok(addr) = spec.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, text) = spec.rsplit_once(':').unwrap_or((bind, spec));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    resolve(if host.is_empty() { bind } else { host }, port(text)?)
}

/// The address to listen on: an IP address, or a host name such as `localhost` (its first
/// address).
fn resolve(bind: &str, port: u16) -> Result<SocketAddr, String> {
    if let Ok(ip) = bind.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let mut addrs = (bind, port)
        .to_socket_addrs()
        .map_err(|_| format!("cannot find the address of {bind:?} to listen on"))?;
    addrs.next().ok_or_else(|| format!("{bind:?} has no address to listen on"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relay_may_leave_the_folder_out_and_nobody_else() {
        assert_eq!(folder_and_port(Some("music"), Some("12345"), false), Ok((Some("music".into()), 12345)));
        assert_eq!(folder_and_port(Some("12346"), None, true), Ok((None, 12346)));
        assert_eq!(folder_and_port(Some("music"), Some("1"), true), Ok((Some("music".into()), 1)));
        assert!(folder_and_port(Some("music"), None, false).is_err());
        assert!(folder_and_port(None, None, true).is_err());
        assert!(folder_and_port(Some("music"), Some("port"), false).is_err());
    }

    #[test]
    fn http_takes_a_port_or_an_address_and_a_port() {
        assert_eq!(http_address("8080", "127.0.0.1"), Ok("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(http_address("0", "::"), Ok("[::]:0".parse().unwrap()));
        assert_eq!(http_address("0.0.0.0:80", "127.0.0.1"), Ok("0.0.0.0:80".parse().unwrap()));
        assert_eq!(http_address("[::1]:8000", "127.0.0.1"), Ok("[::1]:8000".parse().unwrap()));
        assert_eq!(http_address(":9000", "127.0.0.1"), Ok("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(http_address("localhost:8080", "0.0.0.0").map(|a| a.port()), Ok(8080));
        assert!(http_address("80800", "127.0.0.1").is_err());
        assert!(http_address("127.0.0.1:x", "127.0.0.1").is_err());
        assert!(http_address("web", "127.0.0.1").is_err());
    }
}
