//! One-shot commands, as mpc has them: `jukebox-client [HOST] [PORT] COMMAND [--json]`
//! connects, runs one command, prints its answer, and exits with a status a script can test
//! ([`CANNOT_CONNECT`] and the others below). With `--json` the answer is JSON (see
//! [`crate::json`]).
//!
//! MPD plays on the server, so `mpc play` returns at once; here the client is the player, so
//! `play N` plays the song to its end before it exits (Ctrl-C stops it, with status 130),
//! and `radio` plays the station until it goes off the air. Playback belongs to a connection:
//! `stop` and `status` can only speak for their own, which plays nothing. `status` therefore
//! tells what the server's station plays, which is the same for every listener. `idle`, as
//! `mpc idle`, returns when something changes: the server's songs, the station's song or its
//! queue (see [`crate::idle`]).

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use jukebox_protocol::{ErrorCode, SongEntry, SongId};

use crate::connection::{ClientError, Connection};
use crate::idle::{self, Subsystem};
use crate::interrupt::Interrupt;
use crate::json::{self, ErrorDocument, Failure, Happening, Requested, Track};
use crate::link::Link;
use crate::playback::Playback;
use crate::radio::StationQueue;
use crate::repl::{
    Mode, describe_entry, describe_event, describe_playing, describe_queue, describe_queued, describe_tuned,
};
use crate::repl::{clock, length, title_and_artist};
use crate::{Event, EventReceiver};

/// Exit status: the server refused the command (no such song, a full queue, the station off
/// the air), or it could not be carried out (the connection was lost, no answer in time, an
/// `idle` for nothing the server has: the station's song of a server without a station).
pub const REFUSED: u8 = 1;

/// Exit status: the command line is wrong (clap's own status for usage errors).
pub const USAGE: u8 = 2;

/// Exit status: the server could not be reached, or is not a jukebox server.
pub const CANNOT_CONNECT: u8 = 3;

/// The one-shot commands: `jukebox-client [HOST] [PORT] COMMAND`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum OneShot {
    /// Print every song on the server: id, length, title, artist, album.
    List,
    /// Play song N to its end, then exit; Ctrl-C stops it (exit status 130).
    Play {
        /// The song's id (list shows them).
        #[arg(value_name = "N", value_parser = song_id)]
        song: SongId,
    },
    /// Print the songs whose title, artist or album hold every word of TEXT (case and accents
    /// do not matter), as `list` prints songs.
    Search {
        /// The words to look for.
        #[arg(value_name = "TEXT", required = true)]
        words: Vec<String>,
    },
    /// Print everything the server knows of song N: tags, format, encoder delay and padding,
    /// ReplayGain.
    Info {
        /// The song's id (list shows them).
        #[arg(value_name = "N", value_parser = song_id)]
        song: SongId,
    },
    /// Send STOP (a one-shot client has nothing playing: Ctrl-C stops a one-shot play).
    Stop,
    /// Say whether the server answers, and what its station plays.
    Status,
    /// Play the server's station until it goes off the air; Ctrl-C stops it.
    Radio,
    /// Print what the station plays and the songs requested.
    Queue,
    /// Ask the station to play songs N..., in that order; print each one's place in the queue.
    Request {
        /// The songs' ids.
        #[arg(value_name = "N", required = true, value_parser = song_id)]
        songs: Vec<SongId>,
    },
    /// Wait until the server's songs, the station's song or its queue change; print what
    /// changed, and exit (as mpc idle). Without WHAT, any of them.
    Idle {
        /// What to wait for (several may be given).
        #[arg(value_name = "WHAT", value_enum)]
        subsystems: Vec<Subsystem>,
    },
}

impl OneShot {
    /// Whether the command plays sound, and so needs the output (sound card or file).
    pub fn plays(&self) -> bool {
        matches!(self, OneShot::Play { .. } | OneShot::Radio)
    }
}

/// The one-shot command that `word`, given where a host goes, was probably meant to be:
/// `jukebox-client lsit` tries a host named lsit, and says so, but then asks whether `list`
/// was meant.
pub fn meant_as_command(word: &str) -> Option<&'static str> {
    let near = crate::help::suggestion(word)?;
    let oneshots = <OneShot as clap::Subcommand>::augment_subcommands(clap::Command::new("jukebox-client"));
    oneshots.get_subcommands().any(|c| c.get_name() == near).then_some(near)
}

/// A song id as typed on the command line: 1 or more (RFC §6.2.2).
fn song_id(text: &str) -> Result<SongId, String> {
    match text.parse::<u32>() {
        Ok(id) if id > 0 => Ok(SongId(id)),
        _ => Err(format!("{text:?} is not a song id (list shows them)")),
    }
}

/// Where the answer goes, and in which form.
#[derive(Debug, Clone, Copy)]
struct Report {
    json: bool,
}

impl Report {
    /// One line of the answer, on standard output, at once (a script may read it while a
    /// song plays).
    fn print(&self, line: &str) {
        let mut stdout = io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }

    /// Why the command failed: on standard error in words, or on standard output as
    /// `{"error":…}` (a script reads one JSON document from standard output whatever happened).
    fn failure(&self, error: &ClientError) {
        if self.json {
            println!("{}", json::to_line(&ErrorDocument { error: Failure::from(error) }));
        } else {
            eprintln!("{error}");
        }
    }

    /// Something that happened on the side (a warning): always in words, on standard error.
    fn aside(&self, text: &str) {
        eprintln!("{text}");
    }
}

/// Says why the server could not be reached, and returns the exit status for it.
pub fn cannot_connect(error: &ClientError, json: bool) -> ExitCode {
    let report = Report { json };
    if !json {
        eprint!("jukebox-client: ");
    }
    report.failure(error);
    ExitCode::from(match error {
        ClientError::Connect(_) | ClientError::Handshake(_) => CANNOT_CONNECT,
        _ => REFUSED,
    })
}

/// Runs `command` over `link` and exits. Ctrl-C says GOODBYE and exits with status 130.
pub fn run(
    command: &OneShot,
    json: bool,
    link: Arc<Link>,
    playback: Arc<Playback>,
    events: EventReceiver,
) -> ExitCode {
    let report = Report { json };
    // Kept for its handler: Ctrl-C ends the client as it ends a script.
    let _interrupt =
        Interrupt::install(Mode::Script, Arc::clone(&link), Arc::clone(&playback)).map_err(|e| {
            report.aside(&format!("jukebox-client: Ctrl-C will not say goodbye to the server: {e}"))
        });
    let result = execute(command, report, &link, &playback, &events);
    if link.is_leaving() {
        // A signal is ending the client: its thread says GOODBYE and exits with status 130.
        // What the command saw of it (a lost connection) is not news.
        loop {
            std::thread::park();
        }
    }
    link.close();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(REFUSED),
        Err(error) => {
            report.failure(&error);
            ExitCode::from(REFUSED)
        }
    }
}

/// `Ok(false)` when part of the command was refused and has been reported (a `request` of
/// several songs).
fn execute(
    command: &OneShot,
    report: Report,
    link: &Link,
    playback: &Playback,
    events: &EventReceiver,
) -> Result<bool, ClientError> {
    let connection = link.connection()?;
    match command {
        OneShot::Search { words } => {
            let songs = connection.search(&words.join(" "))?;
            if report.json {
                report.print(&json::to_line(&songs.iter().map(json::Song::from).collect::<Vec<_>>()));
            } else if songs.is_empty() {
                report.print("No song matches.");
            } else {
                for song in &songs {
                    report.print(&describe_entry(song));
                }
            }
        }
        OneShot::Info { song } => {
            let info = connection.info(*song)?;
            if report.json {
                report.print(&json::to_line(&json::Info::from(&info)));
            } else {
                for line in crate::info::describe_info(&info) {
                    report.print(&line);
                }
            }
        }
        OneShot::List => {
            let songs = connection.list()?;
            if report.json {
                report.print(&json::to_line(&songs.iter().map(json::Song::from).collect::<Vec<_>>()));
            } else if songs.is_empty() {
                report.print("The server has no songs.");
            }
            if !report.json {
                for song in &songs {
                    report.print(&describe_entry(song));
                }
            }
        }
        OneShot::Play { song } => {
            let playing = connection.play(*song)?;
            report.print(&if report.json {
                json::to_line(&Happening::Playing(Track {
                    id: playing.song.0,
                    title: &playing.title,
                    artist: &playing.artist,
                    duration_ms: playing.duration_ms,
                    elapsed_ms: None,
                }))
            } else {
                describe_playing(&playing)
            });
            playback.wait(|| !link.is_connected());
            while let Some(event) = events.try_next() {
                happened(report, event)?;
            }
            if !link.is_connected() {
                return Err(ClientError::Disconnected);
            }
        }
        OneShot::Stop => {
            let stopped = connection.stop()?.stream.is_some();
            report.print(&if report.json {
                json::to_line(&json::Stopped { stopped })
            } else {
                (if stopped { "Stopped." } else { "Nothing was playing." }).to_string()
            });
        }
        OneShot::Status => {
            let server = link.server().to_string();
            let queue = on_the_air(&connection)?;
            report.print(&if report.json {
                json::to_line(&json::Status { server, station: json::Queue::from(&queue).now })
            } else {
                match &queue.now {
                    Some(now) => format!(
                        "Connected to {server}. On the radio: {}  {} / {}",
                        title_and_artist(&now.track.title, &now.track.artist),
                        clock(Duration::from_millis(u64::from(now.elapsed_ms))),
                        length(Duration::from_millis(u64::from(now.track.duration_ms)))
                    ),
                    None => format!("Connected to {server}. The station is off the air."),
                }
            });
        }
        OneShot::Radio => {
            let tuned = connection.tune()?;
            report.print(&if report.json {
                json::to_line(&Happening::Tuned { bitrate_kbps: tuned.bitrate_kbps })
            } else {
                describe_tuned(&tuned)
            });
            // Until the station goes off the air or the connection ends (an event says which).
            while let Some(event) = events.next_until(None) {
                if !happened(report, event)? {
                    break;
                }
            }
        }
        OneShot::Queue => {
            let queue = connection.queue()?;
            report.print(&if report.json {
                json::to_line(&json::Queue::from(&queue))
            } else {
                describe_queue(&queue).join("\n")
            });
        }
        OneShot::Request { songs } => return request(report, &connection, songs),
        OneShot::Idle { subsystems } => wait_for_change(report, link, &connection, idle::mask(subsystems))?,
    }
    Ok(true)
}

/// `idle [WHAT...]`: subscribes, says (in JSON) what it waits for, and prints each change that
/// ends the wait. Ctrl-C ends the client, as for `play`.
fn wait_for_change(
    report: Report,
    link: &Link,
    connection: &Connection,
    wanted: jukebox_protocol::Subsystems,
) -> Result<(), ClientError> {
    let subscribed = |granted: jukebox_protocol::Subsystems| {
        if report.json {
            report.print(&json::to_line(&json::Idling::Idle { subsystems: idle::names(granted) }));
        }
        let left_out = idle::names(jukebox_protocol::Subsystems(wanted.0 & !granted.0));
        if !left_out.is_empty() {
            report.aside(&format!(
                "jukebox-client: the server runs no station, so {} never changes",
                left_out.join(" or ")
            ));
        }
    };
    let changes = idle::wait_for_change(connection, wanted, subscribed, || link.is_leaving())?;
    for event in changes.unwrap_or_default() {
        if !report.json {
            report.print(&idle::describe(&event));
        } else if let Some(change) = json::Change::of(&event) {
            report.print(&json::to_line(&json::Idling::Changed(change)));
        }
    }
    Ok(())
}

/// Reports what playback told; `Ok(false)` once it has ended (the station went off the air),
/// an error if the connection was lost.
fn happened(report: Report, event: Event) -> Result<bool, ClientError> {
    match event {
        Event::Finished(now) if report.json => {
            report.print(&json::to_line(&Happening::Finished { id: now.song.0 }))
        }
        Event::TrackChanged(now) if report.json => {
            report.print(&json::to_line(&Happening::NowPlaying(Track {
                id: now.song.0,
                title: &now.title,
                artist: &now.artist,
                duration_ms: u32::try_from(now.duration.as_millis()).unwrap_or(u32::MAX),
                elapsed_ms: None,
            })))
        }
        event @ (Event::Finished(_) | Event::TrackChanged(_)) => report.print(&describe_event(event)),
        Event::StationEnded => {
            report.print(&if report.json {
                json::to_line(&Happening::OffAir {})
            } else {
                describe_event(Event::StationEnded)
            });
            return Ok(false);
        }
        Event::Disconnected(why) => return Err(ClientError::NotConnected(why)),
        other => report.aside(&describe_event(other)),
    }
    Ok(true)
}

/// What the station plays; an empty queue when it is off the air.
fn on_the_air(connection: &Connection) -> Result<StationQueue, ClientError> {
    match connection.queue() {
        Err(ClientError::Server(e) | ClientError::Refused(e)) if e.code == ErrorCode::OffAir => {
            Ok(StationQueue::default())
        }
        other => other,
    }
}

/// `request N...`: each song in turn, each answered (in JSON, one array of answers); the
/// titles come from one LIST, asked for only if a song was queued.
fn request(report: Report, connection: &Connection, songs: &[SongId]) -> Result<bool, ClientError> {
    let mut list: Option<Vec<SongEntry>> = None;
    let mut answers = Vec::new();
    let mut all_queued = true;
    for &song in songs {
        match connection.request(song) {
            Ok(queued) => {
                let list = list.get_or_insert_with(|| connection.list().unwrap_or_default());
                let title = list.binary_search_by_key(&song, |s| s.id).ok().map(|i| list[i].title.clone());
                if !report.json {
                    report.print(&describe_queued(title.as_deref(), &queued));
                }
                answers.push(Requested::Queued { id: song.0, title, place: queued.place });
            }
            Err(error @ (ClientError::Server(_) | ClientError::Refused(_))) => {
                all_queued = false;
                if !report.json {
                    report.failure(&error);
                }
                answers.push(Requested::Refused { id: song.0, error: Failure::from(&error) });
            }
            // The connection failed: the songs after it cannot be asked for.
            Err(other) => return Err(other),
        }
    }
    if report.json {
        report.print(&json::to_line(&answers));
    }
    Ok(all_queued)
}
