//! `jukebox-client [HOST] [PORT]`: parse arguments, connect, open the output, run the REPL.

#![deny(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use jukebox_client::connection::{Address, Timing};
use jukebox_client::event_channel;
use jukebox_client::link::Link;
use jukebox_client::output::{Output, OutputError, OutputSpec};
use jukebox_client::playback::Playback;
use jukebox_client::repl::{self, Mode};
use jukebox_client::{command, explain, status_line};

/// Plays songs from a jukebox server (see RFC.md) as they arrive.
///
/// At the prompt, type help for the commands: list, play N, stop, radio, request N, queue, rescan,
/// status, sleep SECS, wait, connect [HOST] [PORT], help and quit. radio tunes in to the server's
/// station, which plays the same music to every listener at the same moment; request N asks it
/// to play song N, and queue shows what it plays and which songs wait. Ctrl-C cancels a wait or a sleep; Ctrl-D leaves. If the
/// server goes away, the client reconnects by itself, and connect retries at once.
///
/// When standard input is not a terminal, the client reads one command per line, without a
/// prompt, and leaves at the end of its input. Results go to standard output and mistakes to
/// standard error. The exit status is 1 if any command failed or the connection was lost, and
/// 130 if Ctrl-C ended the script. For example:
///
/// printf 'list\nplay 2\nwait\n' | jukebox-client HOST PORT
#[derive(Debug, Parser)]
#[command(version, about, long_about, max_term_width = 100)]
struct Args {
    /// Server host name or address.
    #[arg(default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(default_value_t = 12345)]
    port: u16,
    /// Where the sound goes: `auto` (the sound card, or silence with a warning if there is
    /// none), `device` (the sound card or fail), `null` (decode at real time, no sound), or
    /// `wav:PATH` (write exactly what plays to a 44.1 kHz 16-bit stereo WAV file). The WAV
    /// file begins with the first sound played; the wall-clock time of that first sample is
    /// written to PATH.start, in nanoseconds since the Unix epoch, so that recordings made by
    /// several clients can be lined up in time.
    #[arg(long, short, default_value = "auto", value_name = "auto|device|null|wav:PATH")]
    output: OutputSpec,
    /// No live status line above the prompt while a song plays (there is none when standard
    /// input or output is not a terminal).
    #[arg(long)]
    no_status: bool,
    /// How many seconds to wait for the server: to connect, for the answer to each command,
    /// and for a sign of life from a server that has gone quiet.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = command::positive_seconds)]
    timeout: Duration,
    /// Seconds without sending anything after which the client pings the server (RFC §8.1
    /// says 15); a server that then stays silent for --timeout more is given up on.
    #[arg(long, value_name = "SECS", default_value = "15", value_parser = command::positive_seconds, hide = true)]
    keepalive: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (events_tx, events) = event_channel();
    let playback = match Playback::new(events_tx.clone()) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            eprintln!("jukebox-client: cannot start playback: {}", explain::io(&e));
            return ExitCode::FAILURE;
        }
    };
    let _output = match Output::open(&args.output, playback.queue(), events_tx.clone()) {
        Ok(output) => {
            if output.without_device {
                eprintln!(
                    "jukebox-client: no sound card found; playing silently (as --output null). \
                     Use --output wav:FILE to record what plays."
                );
            }
            output
        }
        Err(e @ OutputError::NoDevice) => {
            eprintln!(
                "jukebox-client: {e}, and --output device needs one. \
                 Use --output null to play silently, or --output wav:FILE to record what plays."
            );
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("jukebox-client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let timing = Timing { reply_timeout: args.timeout, keepalive: args.keepalive };
    let mode = Mode::of_stdin();
    let server = Address { host: args.host, port: args.port };
    let retries = mode == Mode::Interactive;
    let link = match Link::open(server, timing, Arc::clone(&playback), events_tx, retries) {
        Ok(link) => link,
        Err(e) => {
            eprintln!("jukebox-client: {e}");
            return ExitCode::FAILURE;
        }
    };
    repl::run(mode, link, playback, events, status_line::wanted(args.no_status))
}
