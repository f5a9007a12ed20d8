//! Tab completion at the prompt: command names, and, after a command that takes a song
//! (`play`, `request`, each of `add`'s: see [`help::Argument::Song`]), song ids from the last `list`, found by
//! id or by part of a title, artist or album: `play tin<TAB>` becomes `play 3` when one song
//! matches, and a second Tab lists them when several do. Nothing is asked of the server: a
//! Tab must answer at once, and before the first `list` there is nothing to offer.

use std::cell::RefCell;
use std::rc::Rc;

use jukebox_protocol::SongEntry;
use jukebox_protocol::text::printable;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::help::{self, Argument, TOPICS};

/// The songs of the last `list`, shared by the REPL (which fills it) and completion.
pub type SongCache = Rc<RefCell<Option<Vec<SongEntry>>>>;

/// The REPL's rustyline helper: completion only (no hints, no colours, no validation).
pub struct CommandHelper {
    songs: SongCache,
    /// Called when a Tab finds several candidates, which rustyline may list below the line:
    /// the status line is then no longer right above the prompt.
    on_ambiguous: Box<dyn Fn()>,
}

impl CommandHelper {
    /// A helper that completes song ids from `songs`.
    pub fn new(songs: SongCache, on_ambiguous: Box<dyn Fn()>) -> CommandHelper {
        CommandHelper { songs, on_ambiguous }
    }
}

impl Completer for CommandHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let songs = self.songs.borrow();
        let (start, candidates) = complete(line, pos, songs.as_deref());
        if candidates.len() > 1 {
            (self.on_ambiguous)();
        }
        Ok((start, candidates))
    }
}

impl Hinter for CommandHelper {
    type Hint = String;
}

impl Highlighter for CommandHelper {}

impl Validator for CommandHelper {}

impl Helper for CommandHelper {}

/// What can replace the text before `pos` in `line`, and from where: the candidates of
/// rustyline's [`Completer::complete`].
pub fn complete(line: &str, pos: usize, songs: Option<&[SongEntry]>) -> (usize, Vec<Pair>) {
    let before = line.get(..pos).unwrap_or(line);
    let typed = before.trim_start();
    let Some((name, rest)) = typed.split_once(char::is_whitespace) else {
        return (pos - typed.len(), command_names(typed));
    };
    let argument = rest.trim_start();
    let start = pos - argument.len();
    match help::topic(name).map(|t| t.argument) {
        Some(Argument::Command) if !argument.contains(char::is_whitespace) => {
            (start, command_names(argument))
        }
        Some(Argument::Song) => (start, song_ids(argument, songs.unwrap_or_default())),
        Some(Argument::Songs) => {
            // The ids (and ranges) typed already stay; what follows them is completed.
            let mut query = argument;
            while let Some((word, rest)) = query.split_once(char::is_whitespace)
                && !word.is_empty()
                && word.split('-').all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            {
                query = rest.trim_start();
            }
            (pos - query.len(), song_ids(query, songs.unwrap_or_default()))
        }
        _ => (start, Vec::new()),
    }
}

/// The commands whose name begins with `typed`, each followed by a space.
fn command_names(typed: &str) -> Vec<Pair> {
    let typed = typed.to_ascii_lowercase();
    TOPICS
        .iter()
        .filter(|t| t.name.starts_with(&typed))
        .map(|t| Pair { display: t.name.to_string(), replacement: format!("{} ", t.name) })
        .collect()
}

/// The songs `typed` may mean: those whose id begins with it, if it is a number; else those
/// whose title, artist or album holds it, in any case. One song found is replaced by its
/// id; several leave the text as it is (and a second Tab lists them).
fn song_ids(typed: &str, songs: &[SongEntry]) -> Vec<Pair> {
    let query = typed.trim_end();
    let by_id = query.chars().all(|c| c.is_ascii_digit());
    let needle = query.to_lowercase();
    let found: Vec<&SongEntry> = songs
        .iter()
        .filter(|song| {
            if by_id {
                song.id.0.to_string().starts_with(query)
            } else {
                [&song.title, &song.artist, &song.album]
                    .iter()
                    .any(|text| text.to_lowercase().contains(&needle))
            }
        })
        .collect();
    let unique = found.len() == 1;
    found
        .into_iter()
        .map(|song| Pair {
            display: describe(song),
            replacement: if by_id || unique { song.id.to_string() } else { typed.to_string() },
        })
        .collect()
}

/// A song as a completion list shows it: `3  Tin Robot Shuffle — The Jukebox Synths`.
fn describe(song: &SongEntry) -> String {
    if song.artist.is_empty() {
        format!("{}  {}", song.id, printable(&song.title))
    } else {
        format!("{}  {} — {}", song.id, printable(&song.title), printable(&song.artist))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::SongId;

    fn songs() -> Vec<SongEntry> {
        [(1, "Morning Scale"), (2, "Lanterns in the Rain"), (3, "Tin Robot Shuffle"), (12, "Evening Lullaby")]
            .into_iter()
            .map(|(id, title)| SongEntry {
                id: SongId(id),
                duration_ms: 1000,
                size: 1,
                title: title.into(),
                artist: "The Jukebox Synths".into(),
                album: String::new(),
            })
            .collect()
    }

    fn replacements(line: &str, songs: Option<&[SongEntry]>) -> (usize, Vec<String>) {
        let (start, pairs) = complete(line, line.len(), songs);
        (start, pairs.into_iter().map(|p| p.replacement).collect())
    }

    #[test]
    fn command_names_complete() {
        assert_eq!(replacements("pl", None), (0, vec!["play ".to_string()]));
        assert_eq!(replacements("  LI", None), (2, vec!["list ".to_string()]));
        assert_eq!(replacements("s", None).1, ["seek ", "search ", "stop ", "shuffle ", "status ", "sleep "]);
        assert_eq!(
            replacements("help re", None),
            (5, ["resume ", "repeat ", "replaygain ", "request ", "rescan "].map(String::from).to_vec())
        );
        assert!(replacements("zz", None).1.is_empty());
    }

    #[test]
    fn song_ids_complete_by_id_and_by_title() {
        let songs = songs();
        let songs = Some(songs.as_slice());
        assert_eq!(replacements("play tin", songs), (5, vec!["3".to_string()]));
        assert_eq!(replacements("request  TIN robot ", songs), (9, vec!["3".to_string()]));
        assert_eq!(replacements("play 1", songs), (5, vec!["1".to_string(), "12".to_string()]));
        assert_eq!(replacements("play ", songs).1.len(), 4);
        // Several titles match: the text stays, and the list says which ids.
        let (start, pairs) = complete("play ing", 8, songs);
        assert_eq!(start, 5);
        assert_eq!(pairs.iter().map(|p| p.replacement.as_str()).collect::<Vec<_>>(), ["ing", "ing"]);
        assert_eq!(pairs[0].display, "1  Morning Scale — The Jukebox Synths");
        // Before any list, and after commands that take no song, there is nothing to offer.
        assert!(replacements("play tin", None).1.is_empty());
        // add takes several: the last is completed, the ids before it stay.
        assert_eq!(replacements("add 2 1-4 tin", songs), (10, vec!["3".to_string()]));
        assert_eq!(replacements("add 2 1", songs), (6, vec!["1".to_string(), "12".to_string()]));
        assert!(replacements("stop tin", songs).1.is_empty());
        assert!(replacements("sleep 1", songs).1.is_empty());
    }
}
