//! The REPL's commands, parsed from a line.

use std::time::Duration;

use jukebox_protocol::SongId;

/// One line of input, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Show every song on the server.
    List,
    /// Play a song by id.
    Play(SongId),
    /// Stop playing.
    Stop,
    /// Show what plays.
    Status,
    /// Show the commands.
    Help,
    /// Leave.
    Quit,
    /// Pause the script.
    Sleep(Duration),
    /// Wait until the current song ends or is stopped.
    Wait,
    /// Nothing to do (empty line or comment).
    Nothing,
}

/// The text `help` prints.
pub const HELP: &str = "\
Commands:
  list          show every song on the server, with its id
  play N        play song N (switches at once if a song is playing)
  stop          stop playing
  status        show what is playing and how far it got
  sleep SECS    pause for SECS seconds (for scripts)
  wait          wait until the current song ends or is stopped (for scripts)
  help          show this text
  quit          leave (Ctrl-D does the same)";

impl std::str::FromStr for Command {
    type Err = String;

    fn from_str(line: &str) -> Result<Command, String> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(Command::Nothing);
        }
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or_default().to_ascii_lowercase();
        let argument = words.next();
        if let Some(extra) = words.next() {
            return Err(format!("{name}: unexpected {extra:?}"));
        }
        let no_argument = |command: Command| match argument {
            None => Ok(command),
            Some(arg) => Err(format!("{name} takes no argument (got {arg:?})")),
        };
        match name.as_str() {
            "list" | "ls" => no_argument(Command::List),
            "stop" => no_argument(Command::Stop),
            "status" => no_argument(Command::Status),
            "help" | "?" => no_argument(Command::Help),
            "quit" | "exit" => no_argument(Command::Quit),
            "wait" => no_argument(Command::Wait),
            "play" => match argument.map(str::parse::<u32>) {
                Some(Ok(id)) => Ok(Command::Play(SongId(id))),
                Some(Err(_)) => Err(format!(
                    "play needs a song id (a number from list), not {:?}",
                    argument.unwrap_or("")
                )),
                None => Err("play needs a song id, as in: play 2".into()),
            },
            "sleep" => match argument.map(str::parse::<f64>) {
                Some(Ok(secs)) if secs.is_finite() && (0.0..=86_400.0).contains(&secs) => {
                    Ok(Command::Sleep(Duration::from_secs_f64(secs)))
                }
                _ => Err("sleep needs a number of seconds, as in: sleep 2.5".into()),
            },
            _ => Err(format!("unknown command {name:?}; type help for the list")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!("play 2".parse(), Ok(Command::Play(SongId(2))));
        assert_eq!("  PLAY   7 ".parse(), Ok(Command::Play(SongId(7))));
        assert_eq!("list".parse(), Ok(Command::List));
        assert_eq!("sleep 0.5".parse(), Ok(Command::Sleep(Duration::from_millis(500))));
        assert_eq!("".parse(), Ok(Command::Nothing));
        assert_eq!("# a comment".parse(), Ok(Command::Nothing));
    }

    #[test]
    fn mistakes_are_explained() {
        assert!("play".parse::<Command>().unwrap_err().contains("song id"));
        assert!("play two".parse::<Command>().unwrap_err().contains("\"two\""));
        assert!("play -1".parse::<Command>().is_err());
        assert!("sleep forever".parse::<Command>().is_err());
        assert!("sleep NaN".parse::<Command>().is_err());
        assert!("stop now".parse::<Command>().unwrap_err().contains("no argument"));
        assert!("dance".parse::<Command>().unwrap_err().contains("help"));
    }
}
