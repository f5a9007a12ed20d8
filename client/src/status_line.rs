//! The live status line: while a song plays in a terminal, the line right above the prompt
//! shows its title, elapsed / total time and a progress bar, redrawn when the second changes,
//! and the messages of the events thread ("Finished ...") appear above it.
//!
//! rustyline owns the prompt line; the only way in while it reads is its external printer,
//! which clears the prompt and what is typed, writes a message, and draws them again below
//! it. A message that begins by moving the cursor up one line and erasing it therefore
//! replaces the line above the prompt: the status line, redrawn in place, without touching
//! what the user types. This works only while that line IS the status line, so one lock
//! ([`StatusLine`]'s) keeps the facts that say so:
//!
//! - Only at the prompt: while a command runs, its output follows the prompt's line, and
//!   events are printed as they come, plainly, as before. When the prompt comes back, the
//!   REPL ([`StatusLine::prompt_starts`]) prints the status line itself, right above it.
//! - An event at the prompt replaces the status line with its message and draws the status
//!   line again below it.
//! - When a Tab lists completions below the line, the status line is left where it is (as
//!   history) and the next one is drawn anew ([`StatusLine::detach`]).
//! - The line is cut to the terminal's width, so that it never wraps onto a second line.
//!
//! One hazard remains: a redraw sent in the instant Enter is pressed can reach rustyline only
//! at the next prompt; it then redraws the status line the REPL has just printed there, which
//! is harmless, unless the song ended during the command, in which case it overwrites the last
//! line of that command's output. It takes a redraw (one a second) within the fraction of a
//! millisecond rustyline needs to handle Enter.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::pcm::Status;
use crate::playback::Playback;
use crate::repl::{clock, length, title_and_artist};
use crate::{Event, EventReceiver};

/// How often the events thread looks whether the status line shows something new. The text
/// changes once a second (the elapsed seconds); looking four times as often keeps it within a
/// quarter of a second of the truth, and a redraw happens only when the text changed.
const TICK: Duration = Duration::from_millis(250);

/// Cells of the progress bar.
const BAR: usize = 20;

/// Terminal width assumed when the terminal does not say.
const DEFAULT_WIDTH: usize = 80;

/// Up one line, to its start, and erase it: what makes a message replace the status line.
const REPLACE_LINE_ABOVE: &str = "\x1b[1A\r\x1b[2K";

/// Whether a status line is wanted and can be shown: standard input and output are both a
/// terminal, and the user did not turn it off.
pub fn wanted(turned_off: bool) -> bool {
    !turned_off && io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// What writes to the terminal while rustyline may be reading: its external printer.
pub type Printer = Box<dyn FnMut(String) + Send>;

/// The status line and the events printed above the prompt; see the module documentation.
pub struct StatusLine {
    screen: Mutex<Screen>,
    playback: Arc<Playback>,
    enabled: bool,
}

struct Screen {
    printer: Printer,
    /// rustyline reads a line: the line above the prompt is ours to replace.
    at_prompt: bool,
    /// The line right above the prompt is the status line.
    shown: bool,
    /// What it shows.
    last: String,
}

impl StatusLine {
    /// A status line printed through `printer`, showing what `playback` plays; with `enabled`
    /// false, only events are printed (through `printer`, as before there was a status line).
    pub fn new(printer: Printer, playback: Arc<Playback>, enabled: bool) -> Arc<StatusLine> {
        Arc::new(StatusLine {
            screen: Mutex::new(Screen { printer, at_prompt: false, shown: false, last: String::new() }),
            playback,
            enabled,
        })
    }

    /// Starts the thread that prints `events`, worded by `describe`, and redraws the status
    /// line.
    pub fn spawn(self: &Arc<Self>, events: EventReceiver, describe: fn(Event) -> String) -> io::Result<()> {
        let status_line = Arc::clone(self);
        thread::Builder::new().name("events".into()).spawn(move || {
            loop {
                let deadline = Instant::now() + TICK;
                match events.next_until(Some(deadline)) {
                    Some(event) => status_line.event(&describe(event)),
                    // Every sender gone: nothing more will come.
                    None if Instant::now() < deadline => break,
                    None => status_line.tick(),
                }
            }
        })?;
        Ok(())
    }

    /// The prompt is about to be shown: prints the status line above it, if a song plays.
    pub fn prompt_starts(&self) {
        let mut screen = self.lock();
        screen.at_prompt = true;
        screen.shown = false;
        if let Some(text) = self.text() {
            let mut stdout = io::stdout().lock();
            let _ = writeln!(stdout, "{text}");
            let _ = stdout.flush();
            screen.shown = true;
            screen.last = text;
        }
    }

    /// rustyline has returned a line: the status line is history now.
    pub fn prompt_ends(&self) {
        let mut screen = self.lock();
        screen.at_prompt = false;
        screen.shown = false;
    }

    /// Something was printed below the status line (a list of completions): it is no longer
    /// right above the prompt, and the next one is drawn anew.
    pub fn detach(&self) {
        self.lock().shown = false;
    }

    fn event(&self, message: &str) {
        let mut screen = self.lock();
        let mut out = String::new();
        if screen.at_prompt && screen.shown {
            out.push_str(REPLACE_LINE_ABOVE);
        }
        out.push_str(message);
        out.push('\n');
        screen.shown = false;
        if screen.at_prompt
            && let Some(text) = self.text()
        {
            out.push_str(&text);
            out.push('\n');
            screen.shown = true;
            screen.last = text;
        }
        (screen.printer)(out);
    }

    fn tick(&self) {
        let mut screen = self.lock();
        if !screen.at_prompt {
            return;
        }
        match self.text() {
            Some(text) if screen.shown && text == screen.last => {}
            Some(text) => {
                let out =
                    if screen.shown { format!("{REPLACE_LINE_ABOVE}{text}\n") } else { format!("{text}\n") };
                (screen.printer)(out);
                screen.shown = true;
                screen.last = text;
            }
            // Nothing plays any more, and no event said so (one that says so replaces the
            // line): the line goes, and the prompt moves up into its place. The message ends
            // with a newline of its own, so that rustyline adds none.
            None if screen.shown => {
                (screen.printer)(format!("{REPLACE_LINE_ABOVE}\x1b[1A\n"));
                screen.shown = false;
            }
            None => {}
        }
    }

    /// The status line for what plays now, cut to the terminal's width.
    fn text(&self) -> Option<String> {
        if !self.enabled {
            return None;
        }
        render(&self.playback.status(), terminal_width())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Screen> {
        self.screen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn terminal_width() -> usize {
    rustix::termios::tcgetwinsize(io::stdout())
        .ok()
        .map(|size| usize::from(size.ws_col))
        .filter(|&cols| cols > 0)
        .unwrap_or(DEFAULT_WIDTH)
}

/// The status line of `status` in `width` columns: `▶ Title — Artist  0:12 / 0:33  [███░░░]`,
/// `▶ radio: ...` on the radio; `None` when nothing plays. It takes at most `width - 1`
/// columns (a line that fills the last column makes some terminals wrap), dropping the bar,
/// then the end of the title, when the terminal is narrow.
pub fn render(status: &Status, width: usize) -> Option<String> {
    let now = status.now.as_ref()?;
    let room = width.saturating_sub(1);
    let what = title_and_artist(&now.title, &now.artist);
    // A pause shows as ⏸, so a glance tells a stopped clock from a hung one.
    let mark = if status.paused { "⏸" } else { "▶" };
    let head = if status.tuned { format!("{mark} radio: {what}") } else { format!("{mark} {what}") };
    let times = format!("  {} / {}", clock(status.elapsed), length(now.duration));
    let fraction = if now.duration.is_zero() {
        0.0
    } else {
        (status.elapsed.as_secs_f64() / now.duration.as_secs_f64()).clamp(0.0, 1.0)
    };
    let filled = ((fraction * BAR as f64).round() as usize).min(BAR);
    let bar = format!("  [{}{}]", "█".repeat(filled), "░".repeat(BAR - filled));
    let tail = if head.width() + times.width() + bar.width() <= room || room >= 40 + bar.width() {
        format!("{times}{bar}")
    } else {
        times
    };
    let head_room = room.saturating_sub(tail.width());
    Some(format!("{}{tail}", cut(&head, head_room)))
}

/// `text` in at most `columns` columns, ending in `…` if it was cut.
fn cut(text: &str, columns: usize) -> String {
    if text.width() <= columns {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > columns {
            break;
        }
        out.push(c);
        used += w;
    }
    if columns > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcm::NowPlaying;
    use jukebox_protocol::{SongId, StreamId};

    fn status(title: &str, elapsed: u64, total: u64, tuned: bool) -> Status {
        Status {
            now: Some(NowPlaying {
                stream: StreamId(1),
                song: SongId(2),
                title: title.into(),
                artist: "The Jukebox Synths".into(),
                duration: Duration::from_secs(total),
            }),
            elapsed: Duration::from_secs(elapsed),
            buffered: Duration::ZERO,
            tuned,
            paused: false,
        }
    }

    #[test]
    fn a_paused_song_shows_the_pause_mark() {
        let paused = Status { paused: true, ..status("Lanterns in the Rain", 11, 33, false) };
        assert!(render(&paused, 80).unwrap().starts_with("⏸ Lanterns in the Rain"));
    }

    #[test]
    fn the_line_shows_title_times_and_progress() {
        assert_eq!(
            render(&status("Lanterns in the Rain", 11, 33, false), 100).unwrap(),
            "▶ Lanterns in the Rain — The Jukebox Synths  0:11 / 0:33  [███████░░░░░░░░░░░░░]"
        );
        assert_eq!(
            render(&status("Evening Lullaby", 62, 225, true), 100).unwrap(),
            "▶ radio: Evening Lullaby — The Jukebox Synths  1:02 / 3:45  [██████░░░░░░░░░░░░░░]"
        );
        let idle = Status { now: None, ..status("", 0, 0, false) };
        assert_eq!(render(&idle, 100), None);
    }

    #[test]
    fn the_line_never_wraps() {
        let long = "A Very Long Title That Goes On And On\u{1b}[2J 長い曲名";
        for width in [20, 30, 45, 60, 80, 200] {
            let line = render(&status(long, 5, 300, false), width).unwrap();
            assert!(line.width() < width, "{width}: {line:?}");
            assert!(!line.contains('\u{1b}'), "{line:?}");
        }
        // Too narrow for anything: no panic.
        for width in [0, 1, 5] {
            assert!(render(&status(long, 5, 300, false), width).is_some());
        }
        let narrow = render(&status(long, 5, 300, false), 30).unwrap();
        assert!(narrow.ends_with("…  0:05 / 5:00"), "{narrow:?}");
    }
}
