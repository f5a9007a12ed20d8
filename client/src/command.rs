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
    /// Show every detail of a song: tags, format, encoder delay, ReplayGain.
    Info(SongId),
    /// Show the songs whose title, artist or album hold every word.
    Search(String),
    /// Stop playing.
    Stop,
    /// Tune in to the server's station.
    Radio,
    /// Ask the station to play a song.
    Request(SongId),
    /// Show what the station plays and which requests wait.
    Queue,
    /// Ask the server to look for new, changed and removed songs, and wait for it.
    Rescan,
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
    /// Connect now: to the same server if `host` is `None`, else to `host` on `port`, or on
    /// the port of the server of the moment if `port` is `None`.
    Connect {
        /// Another server's host.
        host: Option<String>,
        /// Another server's port.
        port: Option<u16>,
    },
    /// Nothing to do (empty line or comment).
    Nothing,
}

/// The text `help` prints.
pub const HELP: &str = "\
Commands:
  list          show every song on the server, with its id
  play N        play song N (switches at once if a song is playing)
  info N        show everything about song N: tags, audio format, encoder delay and
                padding, ReplayGain
  search TEXT   show the songs whose title, artist or album hold every word of TEXT
                (case and accents do not matter: beyonce finds Beyoncé)
  stop          stop playing
  radio         tune in to the server's station (also: tune); play N or stop leave it
  request N     ask the station to play song N; says its place in the queue
  queue         show what the station plays and the songs requested
  rescan        ask the server to look for new, changed and removed songs
  status        show what is playing and how far it got
  sleep SECS    pause for SECS seconds (for scripts)
  wait          wait until the current song ends or is stopped (for scripts; on the
                radio, until the station goes off the air)
  connect       connect again now (after the server went away)
  connect HOST [PORT]
                connect to another server (on the same port unless PORT is given)
  help          show this text
  quit          leave (Ctrl-D does the same)
Ctrl-C cancels a wait or a sleep.";

/// The longest `sleep`, `--timeout` or `--keepalive` accepted: a day. Longer is a typo, and
/// would overflow nothing but a person's patience.
pub const MAX_SECONDS: f64 = 86_400.0;

/// A number of seconds as a person types it (`10`, `2.5`), from 0 to [`MAX_SECONDS`]; for
/// `sleep` and for the command-line options.
pub fn seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && (0.0..=MAX_SECONDS).contains(&secs) => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err(format!("{text:?} is not a number of seconds from 0 to {MAX_SECONDS}")),
    }
}

/// [`seconds`], but more than zero: for a timeout or an interval, where zero would mean "never
/// wait" (and a socket refuses a zero timeout).
pub fn positive_seconds(text: &str) -> Result<Duration, String> {
    let duration = seconds(text)?;
    if duration.is_zero() {
        return Err(format!("{text:?} is too short: give more than 0 seconds"));
    }
    Ok(duration)
}

impl std::str::FromStr for Command {
    type Err = String;

    fn from_str(line: &str) -> Result<Command, String> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(Command::Nothing);
        }
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or_default().to_ascii_lowercase();
        if name == "search" {
            // The rest of the line, as typed: its words are the server's to split.
            let text = line.split_once(char::is_whitespace).map_or("", |(_, rest)| rest.trim());
            if text.is_empty() {
                return Err("search: for what? Give words to look for; try: search lanterns".into());
            }
            return Ok(Command::Search(text.to_string()));
        }
        let argument = words.next();
        let second = words.next();
        if name == "connect" {
            return connect(argument, second, words.next());
        }
        if let Some(extra) = second {
            return Err(format!("{name}: unexpected {extra:?}; type help for how to use it"));
        }
        let no_argument = |command: Command| match argument {
            None => Ok(command),
            Some(arg) => Err(format!("{name}: takes no argument (got {arg:?})")),
        };
        match name.as_str() {
            "list" | "ls" => no_argument(Command::List),
            "stop" => no_argument(Command::Stop),
            "rescan" => no_argument(Command::Rescan),
            "status" => no_argument(Command::Status),
            "help" | "?" => no_argument(Command::Help),
            "quit" | "exit" => no_argument(Command::Quit),
            "wait" => no_argument(Command::Wait),
            "radio" | "tune" => no_argument(Command::Radio),
            "queue" => no_argument(Command::Queue),
            "play" => song_id(&name, argument).map(Command::Play),
            "info" => song_id(&name, argument).map(Command::Info),
            "request" => song_id(&name, argument).map(Command::Request),
            "sleep" => match argument.map(seconds) {
                Some(Ok(duration)) => Ok(Command::Sleep(duration)),
                Some(Err(e)) => Err(format!("sleep: {e}; try: sleep 2.5")),
                None => Err("sleep: how long? Give a number of seconds; try: sleep 2.5".into()),
            },
            _ => Err(format!("unknown command {name:?}; type help for the list")),
        }
    }
}

/// The song id that `play`, `info` and `request` take. Song ids start at 1 (RFC §6.2.2).
fn song_id(name: &str, argument: Option<&str>) -> Result<SongId, String> {
    match argument {
        Some(arg) => match arg.parse::<u32>() {
            Ok(id) if id > 0 => Ok(SongId(id)),
            _ => Err(format!("{name}: {arg:?} is not a song id (list shows them); try: {name} 2")),
        },
        None => Err(format!("{name}: which song? Give its id (list shows them); try: {name} 2")),
    }
}

fn connect(host: Option<&str>, port: Option<&str>, extra: Option<&str>) -> Result<Command, String> {
    if let Some(extra) = extra {
        return Err(format!("connect: unexpected {extra:?}; try: connect HOST PORT"));
    }
    let port = match port.map(str::parse::<u16>) {
        None => None,
        Some(Ok(port)) if port > 0 => Some(port),
        Some(_) => {
            return Err(format!(
                "connect: {:?} is not a port (1 to 65535); try: connect HOST PORT",
                port.unwrap_or("")
            ));
        }
    };
    Ok(Command::Connect { host: host.map(str::to_string), port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!("play 2".parse(), Ok(Command::Play(SongId(2))));
        assert_eq!("  PLAY   7 ".parse(), Ok(Command::Play(SongId(7))));
        assert_eq!("list".parse(), Ok(Command::List));
        assert_eq!("radio".parse(), Ok(Command::Radio));
        assert_eq!("Tune".parse(), Ok(Command::Radio));
        assert_eq!("queue".parse(), Ok(Command::Queue));
        assert_eq!("request 3".parse(), Ok(Command::Request(SongId(3))));
        assert_eq!("info 4".parse(), Ok(Command::Info(SongId(4))));
        assert_eq!("search  Beyoncé   halo ".parse(), Ok(Command::Search("Beyoncé   halo".into())));
        assert_eq!("SEARCH x".parse(), Ok(Command::Search("x".into())));
        assert_eq!("sleep 0.5".parse(), Ok(Command::Sleep(Duration::from_millis(500))));
        assert_eq!("".parse(), Ok(Command::Nothing));
        assert_eq!("# a comment".parse(), Ok(Command::Nothing));
        assert_eq!("connect".parse(), Ok(Command::Connect { host: None, port: None }));
        assert_eq!("connect there".parse(), Ok(Command::Connect { host: Some("there".into()), port: None }));
        assert_eq!(
            "connect ::1 80".parse(),
            Ok(Command::Connect { host: Some("::1".into()), port: Some(80) })
        );
    }

    #[test]
    fn mistakes_are_explained() {
        assert!("play".parse::<Command>().unwrap_err().contains("song"));
        assert!("play two".parse::<Command>().unwrap_err().contains("\"two\" is not a song id"));
        assert!("play -1".parse::<Command>().is_err());
        assert!("play 0".parse::<Command>().is_err());
        assert_eq!(
            "request".parse::<Command>().unwrap_err(),
            "request: which song? Give its id (list shows them); try: request 2"
        );
        assert!("request x".parse::<Command>().unwrap_err().contains("\"x\" is not a song id"));
        assert!("radio 2".parse::<Command>().unwrap_err().contains("no argument"));
        assert!("info".parse::<Command>().unwrap_err().contains("which song"));
        assert!("info 1 2".parse::<Command>().is_err());
        assert!("search".parse::<Command>().unwrap_err().contains("try: search"));
        assert!("search   ".parse::<Command>().is_err());
        assert!("sleep forever".parse::<Command>().is_err());
        assert!("sleep NaN".parse::<Command>().is_err());
        assert!("sleep 1e9".parse::<Command>().is_err());
        assert_eq!(positive_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(positive_seconds("0").is_err());
        assert!(positive_seconds("-1").is_err());
        assert!("stop now".parse::<Command>().unwrap_err().contains("no argument"));
        assert!("dance".parse::<Command>().unwrap_err().contains("help"));
        assert!("connect host port".parse::<Command>().unwrap_err().contains("\"port\" is not a port"));
        assert!("connect a 1 b".parse::<Command>().is_err());
    }
}
