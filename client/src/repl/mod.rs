//! The command loop: interactive (rustyline, with events printed above the prompt) when
//! standard input is a terminal, line by line without prompt otherwise.

use std::cell::Cell;
use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use jukebox_protocol::text::printable;
use jukebox_protocol::{Queued, SongEntry, SongId, Tuned};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor, ExternalPrinter};

use crate::command::{Command, HELP, SeekTo};
use crate::complete::{CommandHelper, SongCache};
use crate::connection::{Address, ClientError, Connection, capitalized};
use crate::explain;
use crate::help;
use crate::history::{self, History};
use crate::info::describe_info;
use crate::interrupt::Interrupt;
use crate::link::Link;
use crate::pcm::NowPlaying;
use crate::playback::Playback;
use crate::playlist::Pick;
use crate::radio::{StationQueue, ordinal};
use crate::status_line::StatusLine;
use crate::{Event, EventReceiver};

mod play_queue;

/// How long `rescan` waits for the server's scan: a first scan of a large library on a cold
/// disk takes seconds (10,000 songs: 4 s measured), a network mount longer.
const RESCAN_PATIENCE: Duration = Duration::from_secs(120);

/// How commands arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A person at a terminal: a prompt, history, events above the prompt, and a link that
    /// reconnects by itself.
    Interactive,
    /// A script on standard input: no prompt, output in a fixed order, and the end of the
    /// connection ends the script, with a failure status.
    Script,
}

impl Mode {
    /// Interactive when standard input is a terminal.
    pub fn of_stdin() -> Mode {
        if io::stdin().is_terminal() { Mode::Interactive } else { Mode::Script }
    }
}

/// Runs commands until quit or end of input. Ctrl-C cancels a `wait` or `sleep` in
/// interactive mode and ends a script (see [`crate::interrupt`]). `status_line` asks for the
/// live status line above the prompt (interactive mode; see [`crate::status_line`]).
pub fn run(
    mode: Mode,
    link: Arc<Link>,
    playback: Arc<Playback>,
    events: EventReceiver,
    status_line: bool,
) -> ExitCode {
    let interrupt = match Interrupt::install(mode, Arc::clone(&link), Arc::clone(&playback)) {
        Ok(interrupt) => Some(interrupt),
        Err(e) => {
            eprintln!("jukebox-client: Ctrl-C will not cancel a wait or a sleep: {e}");
            None
        }
    };
    match mode {
        Mode::Interactive => interactive(
            &Session { link, playback, events: None, interrupt, songs: SongCache::default() },
            events,
            status_line,
        ),
        Mode::Script => scripted(&Session {
            link,
            playback,
            events: Some(events),
            interrupt,
            songs: SongCache::default(),
        }),
    }
}

struct Session {
    link: Arc<Link>,
    /// Ctrl-C, for `wait` and `sleep` to stop at (interactive mode).
    interrupt: Option<Arc<Interrupt>>,
    playback: Arc<Playback>,
    /// In scripted mode the command thread prints events itself, between and during
    /// commands, so that a script's output is in a deterministic order.
    events: Option<EventReceiver>,
    /// The songs of the last `list`, in id order, for `request` to name the song it queued
    /// (QUEUED carries only its id), and for tab completion. Forgotten by `rescan` and `connect`.
    songs: SongCache,
}

impl Session {
    /// Carries out one command; `false` means leave.
    fn execute(&self, command: Command, out: &mut dyn Write) -> Result<bool, ClientError> {
        match command {
            Command::Nothing => {}
            Command::Help => {
                let _ = writeln!(out, "{HELP}");
            }
            Command::HelpOn(topic) => {
                let _ = writeln!(out, "{}", help::detailed(topic));
            }
            Command::Quit => return Ok(false),
            Command::List => {
                let songs = self.link.connection()?.list()?;
                if songs.is_empty() {
                    let _ = writeln!(out, "The server has no songs.");
                }
                for song in &songs {
                    let _ = writeln!(out, "{}", describe_entry(song));
                }
                *self.songs.borrow_mut() = Some(songs);
            }
            Command::Search(text) => {
                let songs = self.link.connection()?.search(&text)?;
                if songs.is_empty() {
                    let _ = writeln!(out, "No song matches {:?}.", printable(&text));
                }
                for song in &songs {
                    let _ = writeln!(out, "{}", describe_entry(song));
                }
            }
            Command::Info(id) => {
                let info = self.link.connection()?.info(id)?;
                for line in describe_info(&info) {
                    let _ = writeln!(out, "{line}");
                }
            }
            Command::Radio => {
                let tuned = self.link.connection()?.tune()?;
                let _ = writeln!(out, "{}", describe_tuned(&tuned));
            }
            Command::Request(id) => {
                let connection = self.link.connection()?;
                let queued = connection.request(id)?;
                let title = self.entry_of(&connection, queued.song).map(|song| song.title);
                let _ = writeln!(out, "{}", describe_queued(title.as_deref(), &queued));
            }
            Command::Queue { station } if station || self.playback.status().tuned => {
                let queue = self.link.connection()?.queue()?;
                for line in describe_queue(&queue) {
                    let _ = writeln!(out, "{line}");
                }
            }
            Command::Queue { .. } => self.show_play_queue(out),
            Command::Add(songs) => self.add(&songs, out)?,
            Command::Next => self.skip(true, out)?,
            Command::Prev => self.skip(false, out)?,
            Command::Clear => self.clear(out),
            Command::Shuffle(on) => self.shuffle(on, out),
            Command::Repeat(repeat) => self.repeat(repeat, out),
            Command::Volume(to) => {
                let level = self.playback.level();
                if let Some(to) = to {
                    level.set_volume(to.from(level.volume()));
                }
                let _ = writeln!(out, "Volume: {}%.", level.volume());
            }
            Command::ReplayGain(mode) => {
                let level = self.playback.level();
                if let Some(mode) = mode {
                    level.set_mode(mode);
                }
                let _ = writeln!(out, "ReplayGain: {}.", level.mode());
            }
            Command::Play(id) => {
                let playing = self.link.connection()?.play(id)?;
                let _ = writeln!(out, "{}", describe_playing(&playing));
            }
            Command::Pause => self.pause(out)?,
            Command::Resume => self.resume(out)?,
            Command::Toggle => {
                if self.playback.status().paused {
                    self.resume(out)?;
                } else {
                    self.pause(out)?;
                }
            }
            Command::Seek(to) => self.seek(to, out)?,
            Command::Rescan => {
                self.songs.borrow_mut().take();
                let interrupted = || self.interrupt.as_ref().is_some_and(|i| i.take());
                match self.link.connection()?.rescan(RESCAN_PATIENCE, interrupted)? {
                    Some(done) => {
                        let _ = writeln!(out, "Rescanned: {}.", describe_scan(&done));
                    }
                    None => {
                        let _ = writeln!(out, "rescan: no longer waiting; the server scans on.");
                    }
                }
            }
            Command::Stop => {
                let heard = self.playback.status().now.map(|now| now.stream);
                self.playback.playlist().stop_at(heard);
                let stopped = self.link.connection()?.stop()?;
                let _ = writeln!(
                    out,
                    "{}",
                    if stopped.stream.is_some() { "Stopped." } else { "Nothing was playing." }
                );
            }
            Command::Status => {
                let status = self.playback.status();
                let _ = match status.now {
                    Some(now) => writeln!(
                        out,
                        "{}: {}, {} / {} ({:.1} s buffered)",
                        if status.tuned {
                            "On the radio".to_string()
                        } else if status.paused {
                            format!("Paused {}", now.song)
                        } else {
                            format!("Playing {}", now.song)
                        },
                        title_and_artist(&now.title, &now.artist),
                        clock(status.elapsed),
                        length(now.duration),
                        status.buffered.as_secs_f32()
                    ),
                    None if status.tuned => {
                        writeln!(out, "Tuned in to the station; its first song is coming.")
                    }
                    None => writeln!(out, "Nothing is playing."),
                };
                let level = self.playback.level();
                if level.volume() != 100 || level.mode() != crate::level::GainMode::Off {
                    let _ = writeln!(out, "Volume: {}%, ReplayGain: {}.", level.volume(), level.mode());
                }
                if let Some(down) = self.link.down() {
                    let _ = writeln!(out, "{}", capitalized(&printable(&down)));
                }
            }
            Command::Connect { host, port } => {
                self.songs.borrow_mut().take();
                let to = host.map(|host| Address { host, port: port.unwrap_or(self.link.server().port) });
                let another = to.as_ref().is_some_and(|to| *to != self.link.server());
                let said = self.link.connect(to)?;
                let _ = writeln!(out, "{said}");
                if another {
                    // Song ids are one server's (RFC §6.2.2): the queue's mean nothing here.
                    let had = self.playback.playlist().len();
                    self.playback.playlist().clear();
                    if had > 0 {
                        let _ =
                            writeln!(out, "The play queue was emptied: its songs were the other server's.");
                    }
                }
            }
            Command::Sleep(duration) => match &self.events {
                Some(events) => {
                    let deadline = Instant::now() + duration;
                    while let Some(event) = events.next_until(Some(deadline)) {
                        print_event(out, event);
                    }
                }
                None => match &self.interrupt {
                    Some(interrupt) => {
                        if interrupt.sleep(duration) {
                            let _ = writeln!(out, "sleep: cancelled.");
                        }
                    }
                    None => thread::sleep(duration),
                },
            },
            Command::Idle(wanted) => {
                let interrupted = || self.interrupt.as_ref().is_some_and(|i| i.take());
                let connection = self.link.connection()?;
                crate::idle::at_prompt(&connection, wanted, interrupted, out)?;
            }
            Command::Wait if self.playback.status().paused => {
                let _ = writeln!(out, "wait: playback is paused, so nothing ends; resume first.");
                self.print_events(out);
            }
            Command::Wait => {
                let cancelled = Cell::new(false);
                self.playback.wait(|| {
                    cancelled.set(cancelled.get() || self.interrupt.as_ref().is_some_and(|i| i.take()));
                    cancelled.get() || !self.link.is_connected()
                });
                if cancelled.get() {
                    let _ = writeln!(out, "wait: cancelled; the song plays on.");
                }
                self.print_events(out);
            }
        }
        Ok(true)
    }

    /// `pause`: silence at once, then the server is asked to stop sending. When it has sent
    /// the whole song already (NO_STREAM), the pause is the client's alone. The station does
    /// not pause: its refusal is the answer, and playback goes on.
    fn pause(&self, out: &mut dyn Write) -> Result<(), ClientError> {
        let status = self.playback.status();
        if status.tuned {
            self.link.connection()?.pause()?;
            return Ok(());
        }
        if !self.playback.pause() {
            let _ = writeln!(out, "Nothing is playing.");
            return Ok(());
        }
        if !status.paused {
            self.link.connection()?.pause()?;
        }
        let _ = writeln!(out, "Paused at {}.", clock(self.playback.status().elapsed));
        Ok(())
    }

    /// `resume`, or `play` alone: the very next sample plays at once, and the server is asked
    /// to go on sending.
    fn resume(&self, out: &mut dyn Write) -> Result<(), ClientError> {
        let status = self.playback.status();
        if status.tuned {
            self.link.connection()?.resume()?;
            return Ok(());
        }
        if !self.playback.resume() {
            if status.now.is_none() && self.play_queue(out)? {
                return Ok(());
            }
            let _ =
                writeln!(out, "{}", if status.now.is_some() { "Not paused." } else { "Nothing is playing." });
            return Ok(());
        }
        self.playback.wake_follower();
        self.link.connection()?.resume()?;
        let _ = writeln!(out, "Resumed at {}.", clock(status.elapsed));
        Ok(())
    }

    /// `seek`: the song that plays, from a position (from where playback is, for a step), as a
    /// new stream (RFC §6.1.12).
    fn seek(&self, to: SeekTo, out: &mut dyn Write) -> Result<(), ClientError> {
        let status = self.playback.status();
        if status.tuned {
            let live = "seek: the station is live and cannot be seeked; play N leaves it";
            return Err(ClientError::NotNow(live.into()));
        }
        let now = match status.now {
            Some(now) => now,
            None => {
                return Err(ClientError::NotNow(
                    "seek: nothing is playing; play a song first (play N)".into(),
                ));
            }
        };
        let position = to.from(status.elapsed);
        let position_ms = u32::try_from(position.as_millis()).unwrap_or(u32::MAX);
        // A song of the play queue stays the queue's: the queue goes on after it.
        let entry = self.playback.playlist().entry_of(Some(now.stream));
        let pick = entry.map(|entry| Pick { song: now.song, entry: Some(entry) });
        let playing = self.link.connection()?.seek(now.song, position_ms, |id| match pick {
            Some(pick) => self.playback.switching_to(id, pick),
            None => self.playback.switching(id),
        })?;
        let _ = writeln!(
            out,
            "Playing {}: {} from {} ({})",
            playing.song,
            title_and_artist(&playing.title, &playing.artist),
            clock(Duration::from_millis(u64::from(playing.start_ms))),
            length(Duration::from_millis(u64::from(playing.duration_ms)))
        );
        Ok(())
    }

    /// `song` as the last `list` showed it, or else as a new one does (remembered for the
    /// next time); `None` if the server does not list it, or does not answer.
    fn entry_of(&self, connection: &Connection, song: SongId) -> Option<SongEntry> {
        let find =
            |songs: &[SongEntry]| songs.binary_search_by_key(&song, |s| s.id).ok().map(|i| songs[i].clone());
        if let Some(found) = self.songs.borrow().as_deref().and_then(find) {
            return Some(found);
        }
        let songs = connection.list().ok()?;
        let found = find(&songs);
        *self.songs.borrow_mut() = Some(songs);
        found
    }

    /// Prints the events that have happened (scripted mode only).
    fn print_events(&self, out: &mut dyn Write) {
        if let Some(events) = &self.events {
            while let Some(event) = events.try_next() {
                print_event(out, event);
            }
        }
    }
}

fn print_event(out: &mut dyn Write, event: Event) {
    let _ = writeln!(out, "{}", describe_event(event));
}

fn interactive(session: &Session, events: EventReceiver, status_line: bool) -> ExitCode {
    // List completion, as in bash: a Tab completes what is unambiguous, a second lists the
    // candidates (song ids with their titles).
    let config = Config::builder()
        .max_history_size(history::MAX_HISTORY)
        .map(|c| c.history_ignore_space(true).completion_type(CompletionType::List).build());
    let mut editor: Editor<CommandHelper, FileHistory> = match config.and_then(Editor::with_config) {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("jukebox-client: cannot start the line editor: {}", readline_error(&e));
            return ExitCode::FAILURE;
        }
    };
    let mut history = History::load(history::default_path(|name| std::env::var_os(name)), &mut editor);
    let screen = match editor.create_external_printer() {
        Ok(mut printer) => StatusLine::new(
            Box::new(move |text| {
                let _ = printer.print(text);
            }),
            Arc::clone(&session.playback),
            status_line,
        ),
        Err(_) => StatusLine::new(Box::new(|text| print!("{text}")), Arc::clone(&session.playback), false),
    };
    if let Err(e) = screen.spawn(events, describe_event) {
        eprintln!("jukebox-client: cannot start the events thread: {}", explain::io(&e));
        return ExitCode::FAILURE;
    }
    let detach = Arc::clone(&screen);
    editor.set_helper(Some(CommandHelper::new(Rc::clone(&session.songs), Box::new(move || detach.detach()))));
    println!("Connected to {}. Type help for the commands.", session.link.server());
    loop {
        screen.prompt_starts();
        let read = editor.readline("jukebox> ");
        screen.prompt_ends();
        match read {
            Ok(line) => {
                history.add(&line, &mut editor);
                if let Some(interrupt) = &session.interrupt {
                    interrupt.command_starts();
                }
                let result =
                    line.parse::<Command>().map(|command| session.execute(command, &mut io::stdout()));
                if let Some(interrupt) = &session.interrupt {
                    interrupt.command_ended();
                }
                match result {
                    Ok(Ok(true)) => {}
                    Ok(Ok(false)) => break,
                    Ok(Err(e)) => eprintln!("{e}"),
                    Err(e) => eprintln!("{e}"),
                }
            }
            // Ctrl-C clears the line, as in a shell; Ctrl-D leaves.
            Err(ReadlineError::Interrupted) => println!("(type quit or press Ctrl-D to leave)"),
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("jukebox-client: cannot read the terminal: {}", readline_error(&e));
                break;
            }
        }
    }
    session.link.close();
    ExitCode::SUCCESS
}

fn scripted(session: &Session) -> ExitCode {
    let stdin = io::stdin();
    let mut failed = false;
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let mut out = io::stdout().lock();
        session.print_events(&mut out);
        let result = line.parse::<Command>().map(|command| session.execute(command, &mut out));
        match result {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => break,
            // Mistakes on standard error, results on standard output.
            Ok(Err(e)) => {
                eprintln!("{e}");
                failed = true;
            }
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
        if !session.link.is_connected() {
            if session.link.is_leaving() {
                // A signal is ending the client: its thread says GOODBYE and exits with the
                // signal's status; this one has nothing left to do.
                loop {
                    thread::park();
                }
            }
            // The link reported why before it counted as down.
            session.print_events(&mut out);
            return ExitCode::FAILURE;
        }
        let _ = out.flush();
    }
    session.link.close();
    session.print_events(&mut io::stdout());
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// rustyline's errors in words: its I/O errors carry the OS's error number.
fn readline_error(error: &ReadlineError) -> String {
    match error {
        ReadlineError::Io(e) => explain::io(e),
        ReadlineError::Errno(errno) => explain::io(&io::Error::from(*errno)),
        other => other.to_string(),
    }
}

/// The line that tells the user of `event`. Every text in an event may hold the server's words
/// (a GOODBYE text, an ERROR message, a title), so each passes through [`printable`] here,
/// whatever was done to it before.
pub(crate) fn describe_event(event: Event) -> String {
    match event {
        Event::Finished(now) => format!("Finished {}: {}", now.song, describe_now(&now)),
        Event::TrackChanged(now) => format!("Now playing: {}", describe_now(&now)),
        Event::Advanced(now) => describe_start(now.song, &now.title, &now.artist, now.duration),
        Event::StationEnded => "The station went off the air.".to_string(),
        Event::Disconnected(why) => format!("Disconnected: {}.", printable(&why)),
        Event::Reconnected(server) => format!("Reconnected to {}.", printable(&server)),
        Event::Warning(text) => format!("warning: {}", printable(&text)),
        Event::LibraryChanged(changed) => {
            format!("The server's songs changed: {}. Type list to see them.", describe_scan(&changed))
        }
        Event::Dropped(n) => {
            format!("({n} more messages were dropped: they came faster than they could be shown)")
        }
    }
}

/// What a scan found, in words: `4 songs (1 new, 1 removed)`.
pub(crate) fn describe_scan(scan: &jukebox_protocol::LibraryChanged) -> String {
    let songs = if scan.songs == 1 { "1 song".to_string() } else { format!("{} songs", scan.songs) };
    let parts: Vec<String> = [(scan.added, "new"), (scan.removed, "removed"), (scan.updated, "changed")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if parts.is_empty() {
        format!("{songs}, nothing changed")
    } else {
        format!("{songs} ({})", parts.join(", "))
    }
}

/// The answer to `radio`: "Tuned in to the station (128 kbit/s)".
pub(crate) fn describe_tuned(tuned: &Tuned) -> String {
    match tuned.bitrate_kbps {
        0 => "Tuned in to the station.".to_string(),
        kbps => format!("Tuned in to the station ({kbps} kbit/s)"),
    }
}

/// The answer to `request`: "Tin Robot Shuffle is 2nd in the queue", or, when the title is
/// not known, "song 3 is 2nd in the queue".
pub(crate) fn describe_queued(title: Option<&str>, queued: &Queued) -> String {
    let song = match title {
        Some(title) => printable(title).into_owned(),
        None => format!("song {}", queued.song),
    };
    format!("{song} is {} in the queue", ordinal(queued.place))
}

/// The answer to `queue`: what is on the air, how far it got and how long it is, then the
/// requests in the order they will play, the asker's own marked.
pub(crate) fn describe_queue(queue: &StationQueue) -> Vec<String> {
    let mut lines = Vec::new();
    match &queue.now {
        Some(now) => lines.push(format!(
            "Now playing: {}  {} / {}",
            title_and_artist(&now.track.title, &now.track.artist),
            clock(Duration::from_millis(u64::from(now.elapsed_ms))),
            length(Duration::from_millis(u64::from(now.track.duration_ms)))
        )),
        None => lines.push("The station is off the air.".to_string()),
    }
    if queue.entries.is_empty() {
        if queue.now.is_some() {
            lines.push("The queue is empty: the station plays a random song next.".to_string());
        }
        return lines;
    }
    for (place, entry) in queue.entries.iter().enumerate() {
        let mut line = format!(
            "{}. {} ({})",
            place + 1,
            title_and_artist(&entry.track.title, &entry.track.artist),
            length(Duration::from_millis(u64::from(entry.track.duration_ms)))
        );
        if entry.mine {
            line.push_str("  (yours)");
        }
        lines.push(line);
    }
    lines
}

fn describe_now(now: &NowPlaying) -> String {
    title_and_artist(&now.title, &now.artist)
}

pub(crate) fn describe_entry(song: &SongEntry) -> String {
    let mut line = format!(
        "{:>3}  {:>5}  {}",
        song.id,
        length(Duration::from_millis(u64::from(song.duration_ms))),
        title_and_artist(&song.title, &song.artist)
    );
    if !song.album.is_empty() {
        line.push_str(&format!(" ({})", printable(&song.album)));
    }
    line
}

/// Song titles and artists come from the server: shown through [`printable`], so that a tag
/// cannot retitle the terminal, clear it, or reorder the line.
/// `Playing 2: Title - Artist (3:05)`, as `play` says it, and as a queue says its next song.
pub(crate) fn describe_start(song: SongId, title: &str, artist: &str, duration: Duration) -> String {
    format!("Playing {song}: {} ({})", title_and_artist(title, artist), length(duration))
}

/// [`describe_start`] of a PLAYING.
pub(crate) fn describe_playing(playing: &jukebox_protocol::Playing) -> String {
    describe_start(
        playing.song,
        &playing.title,
        &playing.artist,
        Duration::from_millis(u64::from(playing.duration_ms)),
    )
}

pub(crate) fn title_and_artist(title: &str, artist: &str) -> String {
    if artist.is_empty() {
        printable(title).into_owned()
    } else {
        format!("{} — {}", printable(title), printable(artist))
    }
}

/// A song's length as [`clock`] shows it, rounded to the nearest second: a song of 25.5 s is
/// 0:26 long. (Elapsed time is not rounded: it counts the seconds that have fully passed, as a
/// player's display does.)
pub(crate) fn length(d: Duration) -> String {
    clock(d.saturating_add(Duration::from_millis(500)))
}

/// `m:ss`, or `h:mm:ss` for long durations; the part of a second is dropped.
pub(crate) fn clock(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::SongId;

    #[test]
    fn list_lines_begin_with_the_id() {
        let song = SongEntry {
            id: SongId(12),
            duration_ms: 95_000,
            size: 1,
            title: "Tune\x1b[2J".into(),
            artist: "Band".into(),
            album: "LP".into(),
        };
        assert_eq!(describe_entry(&song), " 12   1:35  Tune[2J — Band (LP)");
    }

    fn track(id: u32, title: &str, artist: &str, duration_ms: u32) -> jukebox_protocol::Track {
        jukebox_protocol::Track { song: SongId(id), duration_ms, title: title.into(), artist: artist.into() }
    }

    #[test]
    fn the_queue_reads_as_a_programme() {
        use jukebox_protocol::{NowPlaying, QueueEntry};
        let queue = StationQueue {
            now: Some(NowPlaying {
                track: track(4, "Evening Lullaby", "Synths", 225_000),
                elapsed_ms: 62_900,
            }),
            entries: vec![
                QueueEntry { track: track(3, "Tin Robot Shuffle", "Synths", 191_600), mine: true },
                QueueEntry { track: track(2, "Lanterns\x1b[2J", "", 33_000), mine: false },
            ],
        };
        assert_eq!(
            describe_queue(&queue),
            [
                "Now playing: Evening Lullaby — Synths  1:02 / 3:45",
                "1. Tin Robot Shuffle — Synths (3:12)  (yours)",
                "2. Lanterns[2J (0:33)",
            ]
        );
        let idle = StationQueue { entries: Vec::new(), ..queue };
        assert_eq!(
            describe_queue(&idle),
            [
                "Now playing: Evening Lullaby — Synths  1:02 / 3:45",
                "The queue is empty: the station plays a random song next.",
            ]
        );
        assert_eq!(describe_queue(&StationQueue::default()), ["The station is off the air."]);
    }

    #[test]
    fn a_request_says_its_place() {
        let queued = Queued { id: jukebox_protocol::RequestId(1), song: SongId(3), place: 2 };
        assert_eq!(
            describe_queued(Some("Tin Robot Shuffle"), &queued),
            "Tin Robot Shuffle is 2nd in the queue"
        );
        assert_eq!(describe_queued(None, &queued), "song 3 is 2nd in the queue");
        let queued = Queued { place: 11, ..queued };
        assert_eq!(describe_queued(Some("A\u{202e}B"), &queued), "AB is 11th in the queue");
        let tuned = Tuned {
            id: jukebox_protocol::RequestId(1),
            stream: jukebox_protocol::StreamId(1),
            bitrate_kbps: 128,
            sample_rate: 44_100,
        };
        assert_eq!(describe_tuned(&tuned), "Tuned in to the station (128 kbit/s)");
        assert_eq!(describe_tuned(&Tuned { bitrate_kbps: 0, ..tuned }), "Tuned in to the station.");
    }

    #[test]
    fn station_events_read_as_news() {
        let now = NowPlaying {
            stream: jukebox_protocol::StreamId(1),
            song: SongId(3),
            title: "Tin Robot Shuffle\x07".into(),
            artist: "The Jukebox Synths".into(),
            duration: Duration::from_secs(30),
        };
        assert_eq!(
            describe_event(Event::TrackChanged(now)),
            "Now playing: Tin Robot Shuffle — The Jukebox Synths"
        );
        assert_eq!(describe_event(Event::StationEnded), "The station went off the air.");
    }

    #[test]
    fn clocks_read_naturally() {
        assert_eq!(clock(Duration::from_secs(5)), "0:05");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
        assert_eq!(clock(Duration::from_millis(25_999)), "0:25");
        assert_eq!(length(Duration::from_millis(25_499)), "0:25");
        assert_eq!(length(Duration::from_millis(25_500)), "0:26");
        assert_eq!(length(Duration::from_millis(3_599_500)), "1:00:00");
    }
}
