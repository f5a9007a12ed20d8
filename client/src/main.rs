//! `jukebox-client [HOST] [PORT] [COMMAND]`: parse arguments, connect, open the output, run
//! the REPL, or one command (see `jukebox_client::oneshot`).

#![deny(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use jukebox_client::connection::{Address, Timing};
use jukebox_client::event_channel;
use jukebox_client::link::Link;
use jukebox_client::oneshot::{self, OneShot};
use jukebox_client::output::{Output, OutputError, OutputSpec};
use jukebox_client::playback::Playback;
use jukebox_client::repl::{self, Mode};
use jukebox_client::{command, explain, status_line};

/// Plays songs from a jukebox server (see RFC.md) as they arrive.
///
/// At the prompt, type help for the commands: list, play N, pause, resume, seek POS, info N,
/// search TEXT, stop, add N..., next, prev, queue, clear, shuffle, repeat, volume, replaygain,
/// radio, request N, rescan, status, sleep SECS, wait, idle, connect [HOST] [PORT], help and
/// quit. add puts songs in the play queue, which plays them one after the other without a gap.
/// radio tunes in to the server's station, which plays the same music to every listener at the
/// same moment; request N asks it to play song N, and queue radio shows what it plays and which
/// songs wait. Ctrl-C cancels a wait or a sleep; Ctrl-D leaves. If the
/// server goes away, the client reconnects by itself, and connect retries at once. help COMMAND
/// tells about one command; Tab completes commands, and song ids or titles after play and
/// request; commands typed are remembered across sessions in
/// $XDG_STATE_HOME/jukebox/history (else ~/.local/state/jukebox/history).
///
/// When standard input is not a terminal, the client reads one command per line, without a
/// prompt, and leaves at the end of its input. Results go to standard output and mistakes to
/// standard error. The exit status is 1 if any command failed or the connection was lost, and
/// 130 if Ctrl-C ended the script. For example:
///
/// printf 'list\nplay 2\nwait\n' | jukebox-client HOST PORT
///
/// With a COMMAND after the address, the client runs that one command and exits, as mpc does:
/// jukebox-client 127.0.0.1 12345 list --json. play and radio play until the song ends or the
/// station goes off the air (the client is the player). Exit status: 0 done; 1 the server
/// refused (no such song...) or the connection was lost; 2 a usage mistake; 3 the server
/// cannot be reached, or is not a jukebox; 130 Ctrl-C. With --json, the answer, or
/// {"error":{"code":...,"message":...}}, is JSON on standard output (the README gives each
/// command's shape). A host named like a command (radio) is given with --host.
#[derive(Debug, Parser)]
#[command(version, about, long_about, max_term_width = 100, subcommand_value_name = "COMMAND")]
#[command(subcommand_help_heading = "One-shot commands (connect, run one, exit)")]
struct Args {
    /// Server host name or address [default: 127.0.0.1].
    #[arg(value_name = "HOST")]
    host: Option<String>,
    /// Server port [default: 12345].
    #[arg(value_name = "PORT")]
    port: Option<u16>,
    /// Server host name or address, as an option (for a host named like a command).
    #[arg(long = "host", value_name = "HOST", global = true)]
    host_option: Option<String>,
    /// Server port, as an option.
    #[arg(long = "port", value_name = "PORT", global = true)]
    port_option: Option<u16>,
    /// The one command to run; without one, the client reads commands (at a prompt or from
    /// standard input).
    #[command(subcommand)]
    command: Option<OneShot>,
    /// Print a one-shot command's answer as JSON (with a command only).
    #[arg(long, global = true)]
    json: bool,
    /// No live status line above the prompt while a song plays (there is none when standard
    /// input or output is not a terminal).
    #[arg(long)]
    no_status: bool,
    /// Where the sound goes: `auto` (the sound card, or silence with a warning if there is
    /// none), `device` (the sound card or fail), `null` (decode at real time, no sound), or
    /// `wav:PATH` (write exactly what plays to a 44.1 kHz 16-bit stereo WAV file). The WAV
    /// file begins with the first sound played; the wall-clock time of that first sample is
    /// written to PATH.start, in nanoseconds since the Unix epoch, so that recordings made by
    /// several clients can be lined up in time.
    #[arg(long, short, default_value = "auto", value_name = "auto|device|null|wav:PATH", global = true)]
    output: OutputSpec,
    /// How many seconds to wait for the server: to connect, for the answer to each command,
    /// and for a sign of life from a server that has gone quiet.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = command::positive_seconds, global = true)]
    timeout: Duration,
    /// Seconds without sending anything after which the client pings the server (RFC §8.1
    /// says 15); a server that then stays silent for --timeout more is given up on.
    #[arg(long, value_name = "SECS", default_value = "15", value_parser = command::positive_seconds, hide = true)]
    keepalive: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let usage = |kind, text: &str| Args::command().error(kind, text).exit();
    if args.json && args.command.is_none() {
        usage(
            clap::error::ErrorKind::MissingSubcommand,
            "--json goes with a one-shot command, as in: list --json",
        );
    }
    if args.host.is_some() && args.host_option.is_some() || args.port.is_some() && args.port_option.is_some()
    {
        usage(
            clap::error::ErrorKind::ArgumentConflict,
            "give the host and the port once each, as HOST PORT or as --host and --port",
        );
    }
    let oneshot = args.command.clone();
    let (events_tx, events) = event_channel();
    let playback = match Playback::new(events_tx.clone()) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            eprintln!("jukebox-client: cannot start playback: {}", explain::io(&e));
            return ExitCode::FAILURE;
        }
    };
    // A one-shot command that plays nothing needs no sound card (nor its warning).
    let plays = oneshot.as_ref().is_none_or(OneShot::plays);
    let _output = match plays.then(|| Output::open(&args.output, playback.queue(), events_tx.clone())) {
        None => None,
        Some(Ok(output)) => {
            if output.without_device {
                eprintln!(
                    "jukebox-client: no sound card found; playing silently (as --output null). \
                     Use --output wav:FILE to record what plays."
                );
            }
            Some(output)
        }
        Some(Err(e @ OutputError::NoDevice)) => {
            eprintln!(
                "jukebox-client: {e}, and --output device needs one. \
                 Use --output null to play silently, or --output wav:FILE to record what plays."
            );
            return ExitCode::FAILURE;
        }
        Some(Err(e)) => {
            eprintln!("jukebox-client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let timing = Timing { reply_timeout: args.timeout, keepalive: args.keepalive };
    let mode = if oneshot.is_some() { Mode::Script } else { Mode::of_stdin() };
    let server = Address {
        host: args.host.clone().or(args.host_option).unwrap_or_else(|| "127.0.0.1".into()),
        port: args.port.or(args.port_option).unwrap_or(12345),
    };
    let retries = mode == Mode::Interactive;
    let link = match Link::open(server, timing, Arc::clone(&playback), events_tx, retries) {
        Ok(link) => link,
        Err(e) if oneshot.is_some() => return oneshot::cannot_connect(&e, args.json),
        Err(e) => {
            eprintln!("jukebox-client: {e}");
            if let Some(command) = args.host.as_deref().and_then(oneshot::meant_as_command) {
                eprintln!("(did you mean the command {command}? jukebox-client [HOST PORT] {command})");
            }
            return ExitCode::FAILURE;
        }
    };
    match oneshot {
        Some(command) => oneshot::run(&command, args.json, link, playback, events),
        None => repl::run(mode, link, playback, events, status_line::wanted(args.no_status)),
    }
}
