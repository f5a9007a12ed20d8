//! The commands typed at the prompt, kept across sessions in the XDG state folder
//! (`$XDG_STATE_HOME/jukebox/history`, else `~/.local/state/jukebox/history`): state, not
//! configuration, and not worth a backup, which is what that folder is for. Each command is
//! appended as soon as it is entered, so a client ended by a signal or a closed terminal loses
//! nothing, and two clients at once both keep theirs (rustyline locks the file and merges).
//!
//! History is a comfort: a folder or file that cannot be created, read or written costs a
//! warning, once, and the session goes on without it.

use std::ffi::OsString;
use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use rustyline::error::ReadlineError;
use rustyline::history::History as _;
use rustyline::{Editor, Helper};

use crate::explain;

/// The most commands kept: a few months of daily use, and a file of some 20 KB that loads in
/// no time. Older ones are dropped when the file is rewritten.
pub const MAX_HISTORY: usize = 1000;

/// The history file for this environment: `$XDG_STATE_HOME/jukebox/history` if that variable
/// holds an absolute path (the XDG spec says to ignore a relative one), else
/// `$HOME/.local/state/jukebox/history`; `None` if neither is known.
pub fn default_path(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let absolute = |name: &str| var(name).map(PathBuf::from).filter(|p| p.is_absolute());
    let state =
        absolute("XDG_STATE_HOME").or_else(|| absolute("HOME").map(|home| home.join(".local/state")))?;
    Some(state.join("jukebox").join("history"))
}

/// The history of one interactive session: where it lives, and whether it still works.
#[derive(Debug)]
pub struct History {
    /// `None` once it failed (after the one warning), or when there is no place for it.
    path: Option<PathBuf>,
}

impl History {
    /// The history at `path` (see [`default_path`]), loaded into `editor`. A missing file is a
    /// first session; any other failure is a warning on standard error, and no history.
    pub fn load<H: Helper>(
        path: Option<PathBuf>,
        editor: &mut Editor<H, rustyline::history::FileHistory>,
    ) -> History {
        let _ = editor.history_mut().set_max_len(MAX_HISTORY);
        let Some(path) = path else {
            warn("there is no home folder (HOME is not set), so commands are not remembered");
            return History { path: None };
        };
        if let Some(folder) = path.parent()
            && let Err(e) = DirBuilder::new().recursive(true).mode(0o700).create(folder)
        {
            warn(&format!(
                "cannot create {}: {}; commands are not remembered",
                folder.display(),
                explain::io(&e)
            ));
            return History { path: None };
        }
        match editor.load_history(&path) {
            Ok(()) => {}
            Err(ReadlineError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                warn(&format!(
                    "cannot read {}: {}; commands are not remembered",
                    path.display(),
                    describe(&e)
                ));
                return History { path: None };
            }
        }
        History { path: Some(path) }
    }

    /// Where the history is kept, while it works.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Adds `line` to the editor's history and appends it to the file. A line that begins with
    /// a space is not remembered, as in a shell.
    pub fn add<H: Helper>(&mut self, line: &str, editor: &mut Editor<H, rustyline::history::FileHistory>) {
        if line.trim().is_empty() {
            return;
        }
        let _ = editor.add_history_entry(line);
        if let Some(path) = &self.path
            && let Err(e) = editor.append_history(path)
        {
            warn(&format!(
                "cannot save the command history to {}: {}; commands are no longer remembered",
                path.display(),
                describe(&e)
            ));
            self.path = None;
        }
    }
}

fn describe(error: &ReadlineError) -> String {
    match error {
        ReadlineError::Io(e) => explain::io(e),
        ReadlineError::Errno(errno) => explain::io(&io::Error::from(*errno)),
        other => other.to_string(),
    }
}

fn warn(text: &str) {
    eprintln!("jukebox-client: warning: {text}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustyline::Config;
    use rustyline::history::FileHistory;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn the_history_lives_in_the_xdg_state_folder() {
        let path = |vars: &[(&str, &str)]| default_path(env(vars));
        assert_eq!(
            path(&[("XDG_STATE_HOME", "/s"), ("HOME", "/h")]),
            Some(PathBuf::from("/s/jukebox/history"))
        );
        assert_eq!(path(&[("HOME", "/h")]), Some(PathBuf::from("/h/.local/state/jukebox/history")));
        // A relative XDG_STATE_HOME is ignored, as the spec says.
        assert_eq!(
            path(&[("XDG_STATE_HOME", "state"), ("HOME", "/h")]),
            Some(PathBuf::from("/h/.local/state/jukebox/history"))
        );
        assert_eq!(path(&[("XDG_STATE_HOME", "")]), None);
        assert_eq!(path(&[]), None);
    }

    fn editor() -> Editor<(), FileHistory> {
        Editor::with_config(Config::builder().history_ignore_space(true).build()).unwrap()
    }

    #[test]
    fn commands_survive_a_restart_in_a_private_folder_and_the_file_is_bounded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/jukebox/history");
        let mut first = editor();
        let mut history = History::load(Some(path.clone()), &mut first);
        history.add("list", &mut first);
        history.add("play 2", &mut first);
        history.add(" secret", &mut first);
        history.add("   ", &mut first);
        let mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);

        let mut second = editor();
        let mut history = History::load(Some(path.clone()), &mut second);
        let entries: Vec<&str> = second.history().iter().map(String::as_str).collect();
        assert_eq!(entries, ["list", "play 2"]);
        for n in 0..MAX_HISTORY + 10 {
            history.add(&format!("sleep {n}"), &mut second);
        }
        let mut third = editor();
        History::load(Some(path), &mut third);
        assert_eq!(third.history().len(), MAX_HISTORY);
        assert_eq!(third.history().iter().last().map(String::as_str), Some("sleep 1009"));
    }

    #[test]
    fn a_history_that_cannot_be_kept_is_no_history() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the folder should be.
        let blocker = dir.path().join("jukebox");
        std::fs::write(&blocker, "").unwrap();
        let mut editor = editor();
        let mut history = History::load(Some(blocker.join("history")), &mut editor);
        assert_eq!(history.path(), None);
        history.add("list", &mut editor);
        assert_eq!(editor.history().len(), 1, "the session keeps its own history");
    }
}
