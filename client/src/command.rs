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
    /// Pause at once, keeping the place (`pause`).
    Pause,
    /// Go on from where the pause began (`resume`, or `play` alone).
    Resume,
    /// Pause if playing, resume if paused.
    Toggle,
    /// Play the current song from a position.
    Seek(SeekTo),
    /// Tune in to the server's station.
    Radio,
    /// Ask the station to play a song.
    Request(SongId),
    /// Show the play queue, or, tuned in (or with `queue radio`), the station's.
    Queue {
        /// `queue radio`: the station's, whatever plays.
        station: bool,
    },
    /// Append songs to the play queue (starting it when nothing plays).
    Add(Vec<SongId>),
    /// Play the play queue's next song now.
    Next,
    /// Play the play queue's previous song now.
    Prev,
    /// Empty the play queue.
    Clear,
    /// Shuffle the play queue's songs not played yet (`None`: the other way round).
    Shuffle(Option<bool>),
    /// What the play queue does at its end (`None`: show it).
    Repeat(Option<crate::playlist::Repeat>),
    /// Set the volume, or change it by a step (`None`: show it).
    Volume(Option<VolumeTo>),
    /// Set the ReplayGain mode (`None`: show it).
    ReplayGain(Option<crate::level::GainMode>),
    /// Ask the server to look for new, changed and removed songs, and wait for it.
    Rescan,
    /// Show what plays.
    Status,
    /// Show the commands.
    Help,
    /// Show what one command does, in detail.
    HelpOn(&'static crate::help::Topic),
    /// Leave.
    Quit,
    /// Pause the script.
    Sleep(Duration),
    /// Wait until the current song ends or is stopped.
    Wait,
    /// Wait until one of these subsystems changes, and say what changed (`idle`).
    Idle(jukebox_protocol::Subsystems),
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

/// What `volume` sets: a level, or a step from the level of the moment; percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeTo {
    /// `volume 80`.
    At(u8),
    /// `volume +10`, `volume -10`.
    By(i16),
}

impl VolumeTo {
    /// The volume to set, the volume being `now`: 0 to 100.
    pub fn from(self, now: u8) -> u8 {
        match self {
            VolumeTo::At(level) => level.min(100),
            VolumeTo::By(step) => (i16::from(now) + step).clamp(0, 100) as u8,
        }
    }
}

fn volume_to(argument: &str) -> Result<VolumeTo, String> {
    let wrong = || format!("volume: {argument:?} is not 0 to 100, or a step like +10 or -10; try: volume 80");
    let step = |text: &str| text.parse::<u8>().ok().filter(|&n| n <= 100).map(i16::from);
    match argument.as_bytes().first() {
        Some(b'+') => step(&argument[1..]).map(VolumeTo::By).ok_or_else(wrong),
        Some(b'-') => step(&argument[1..]).map(|n| VolumeTo::By(-n)).ok_or_else(wrong),
        _ => argument
            .trim_end_matches('%')
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= 100)
            .map(VolumeTo::At)
            .ok_or_else(wrong),
    }
}

/// Where `seek` goes: a position in the song, or a step from where playback is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeekTo {
    /// `seek 1:30`, `seek 90`: this far into the song.
    At(Duration),
    /// `seek +10`: this much further on.
    Forward(Duration),
    /// `seek -10`: this much back (to the start at most).
    Back(Duration),
}

impl SeekTo {
    /// The position in the song to ask for, playback being at `now`.
    pub fn from(self, now: Duration) -> Duration {
        match self {
            SeekTo::At(at) => at,
            SeekTo::Forward(step) => now.saturating_add(step),
            SeekTo::Back(step) => now.saturating_sub(step),
        }
    }
}

/// A time as a person types it: `90`, `2.5`, `1:30`, `1:02:03`; at most [`MAX_SECONDS`].
fn time(text: &str) -> Option<Duration> {
    let mut seconds = 0.0;
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() > 3 {
        return None;
    }
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        // Minutes and hours are whole; seconds after a colon are two digits, as a clock shows.
        let value: f64 = match (last, i) {
            (true, 0) => part.parse().ok()?,
            (true, _) if part.len() >= 2 && part.as_bytes()[..2].iter().all(u8::is_ascii_digit) => {
                part.parse().ok().filter(|&s: &f64| s < 60.0)?
            }
            (false, 0) => f64::from(part.parse::<u32>().ok()?),
            (false, _) if part.len() == 2 => f64::from(part.parse::<u32>().ok().filter(|&m| m < 60)?),
            _ => return None,
        };
        seconds = seconds * 60.0 + value;
    }
    (seconds.is_finite() && (0.0..=MAX_SECONDS).contains(&seconds)).then(|| Duration::from_secs_f64(seconds))
}

fn seek_to(argument: Option<&str>) -> Result<SeekTo, String> {
    let Some(arg) = argument else {
        return Err("seek: where to? Give a time (1:30 or 90) or a step (+10, -10); try: seek 1:30".into());
    };
    let (make, text): (fn(Duration) -> SeekTo, &str) = match arg.as_bytes().first() {
        Some(b'+') => (SeekTo::Forward, &arg[1..]),
        Some(b'-') => (SeekTo::Back, &arg[1..]),
        _ => (SeekTo::At, arg),
    };
    time(text)
        .map(make)
        .ok_or_else(|| format!("seek: {arg:?} is not a time; give 1:30, 90, +10 or -10 (seconds, or m:ss)"))
}

/// The text `help` prints.
pub const HELP: &str = "\
Commands:
  list          show every song on the server, with its id
  play N        play song N (switches at once if a song is playing)
  pause         pause at once, keeping the place
  resume        go on from where the pause began (also: play, with no song)
  toggle        pause if playing, resume if paused
  seek POS      play the song from POS: 1:30 or 90 (seconds), or +10 / -10 from
                where it is now; a paused song plays on from there
  info N        show everything about song N: tags, audio format, encoder delay and
                padding, ReplayGain
  search TEXT   show the songs whose title, artist or album hold every word of TEXT
                (case and accents do not matter: beyonce finds Beyoncé)
  stop          stop playing
  add N...      put songs in the play queue (add 2 5 7, add 1-4); starts it if
                nothing plays; each song follows the one before without a gap
  next          play the queue's next song now
  prev          play the queue's previous song now
  queue         show the play queue (on the radio: the station's queue)
  clear         empty the play queue (what plays plays on)
  shuffle [on|off]
                play the queue's songs not played yet in a random order
  repeat [off|all|one]
                after the queue's last song: stop, start over, or play each song again
  volume [N|+N|-N]
                set the volume, 0 to 100 (percent), or change it by a step
  replaygain [off|track|album]
                play songs at one loudness from their ReplayGain tags
  radio         tune in to the server's station (also: tune); play N or stop leave it
  request N     ask the station to play song N; says its place in the queue
  queue radio   show what the station plays and the songs requested
  rescan        ask the server to look for new, changed and removed songs
  status        show what is playing and how far it got
  sleep SECS    pause for SECS seconds (for scripts)
  wait          wait until the current song ends or is stopped (for scripts; on the
                radio, until the station goes off the air)
  idle [WHAT]   wait until the songs (library), the station's song or its queue
                change, and say what changed; WHAT is library, song or queue
  connect       connect again now (after the server went away)
  connect HOST [PORT]
                connect to another server (on the same port unless PORT is given)
  help [COMMAND]
                show this text, or what COMMAND does in detail
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
        if name == "add" {
            return songs_to_add(words);
        }
        if name == "idle" {
            return crate::idle::parse(words).map(Command::Idle);
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
            "pause" => no_argument(Command::Pause),
            "resume" => no_argument(Command::Resume),
            "toggle" => no_argument(Command::Toggle),
            "seek" => seek_to(argument).map(Command::Seek),
            "play" if argument.is_none() => Ok(Command::Resume),
            "rescan" => no_argument(Command::Rescan),
            "status" => no_argument(Command::Status),
            "help" | "?" => match argument {
                None => Ok(Command::Help),
                Some(name) => crate::help::asked_about(name).map(Command::HelpOn),
            },
            "quit" | "exit" => no_argument(Command::Quit),
            "wait" => no_argument(Command::Wait),
            "radio" | "tune" => no_argument(Command::Radio),
            "queue" => match argument {
                None => Ok(Command::Queue { station: false }),
                Some("radio" | "station") => Ok(Command::Queue { station: true }),
                Some(other) => Err(format!(
                    "queue: {other:?}? queue alone shows the play queue, queue radio the station's"
                )),
            },
            "next" => no_argument(Command::Next),
            "prev" | "previous" => no_argument(Command::Prev),
            "clear" => no_argument(Command::Clear),
            "shuffle" | "random" => match argument {
                None => Ok(Command::Shuffle(None)),
                Some("on") => Ok(Command::Shuffle(Some(true))),
                Some("off") => Ok(Command::Shuffle(Some(false))),
                Some(other) => Err(format!("shuffle: {other:?} is not on or off; try: shuffle on")),
            },
            "repeat" => argument.map(str::parse).transpose().map(Command::Repeat),
            "volume" | "vol" => argument.map(volume_to).transpose().map(Command::Volume),
            "replaygain" | "rg" => argument.map(str::parse).transpose().map(Command::ReplayGain),
            "play" => song_id(&name, argument).map(Command::Play),
            "info" => song_id(&name, argument).map(Command::Info),
            "request" => song_id(&name, argument).map(Command::Request),
            "sleep" => match argument.map(seconds) {
                Some(Ok(duration)) => Ok(Command::Sleep(duration)),
                Some(Err(e)) => Err(format!("sleep: {e}; try: sleep 2.5")),
                None => Err("sleep: how long? Give a number of seconds; try: sleep 2.5".into()),
            },
            _ => Err(crate::help::unknown_command(&name)),
        }
    }
}

/// The songs of `add`: ids and ranges of ids (`add 3 5-7`), at least one, at most what the
/// queue holds.
fn songs_to_add<'a>(words: impl Iterator<Item = &'a str>) -> Result<Command, String> {
    let mut songs = Vec::new();
    for word in words {
        let id = |text: &str| text.parse::<u32>().ok().filter(|&id| id > 0);
        let range = match word.split_once('-') {
            Some((from, to)) => id(from).zip(id(to)).filter(|(from, to)| from <= to),
            None => id(word).map(|id| (id, id)),
        };
        let Some((from, to)) = range else {
            return Err(format!("add: {word:?} is not a song id or a range of them; try: add 2 or add 1-4"));
        };
        if (to - from) as usize + songs.len() >= crate::playlist::MAX_ENTRIES {
            return Err(format!(
                "add: more than {} songs; the queue holds no more",
                crate::playlist::MAX_ENTRIES
            ));
        }
        songs.extend((from..=to).map(SongId));
    }
    if songs.is_empty() {
        return Err("add: which songs? Give their ids (list shows them); try: add 2 3".into());
    }
    Ok(Command::Add(songs))
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
        assert_eq!("queue".parse(), Ok(Command::Queue { station: false }));
        assert_eq!("queue radio".parse(), Ok(Command::Queue { station: true }));
        assert_eq!("add 3 5-7".parse(), Ok(Command::Add(vec![SongId(3), SongId(5), SongId(6), SongId(7)])));
        assert!("add".parse::<Command>().is_err());
        assert!("add 7-5".parse::<Command>().is_err());
        assert!("add 0".parse::<Command>().is_err());
        assert!("add 1-4000000000".parse::<Command>().unwrap_err().contains("no more"));
        assert_eq!("next".parse(), Ok(Command::Next));
        assert_eq!("previous".parse(), Ok(Command::Prev));
        assert_eq!("shuffle on".parse(), Ok(Command::Shuffle(Some(true))));
        assert_eq!("shuffle".parse(), Ok(Command::Shuffle(None)));
        assert_eq!("repeat one".parse(), Ok(Command::Repeat(Some(crate::playlist::Repeat::One))));
        assert_eq!("repeat".parse(), Ok(Command::Repeat(None)));
        assert!("repeat twice".parse::<Command>().is_err());
        assert_eq!("volume 80".parse(), Ok(Command::Volume(Some(VolumeTo::At(80)))));
        assert_eq!("volume 80%".parse(), Ok(Command::Volume(Some(VolumeTo::At(80)))));
        assert_eq!("volume -10".parse(), Ok(Command::Volume(Some(VolumeTo::By(-10)))));
        assert_eq!("volume".parse(), Ok(Command::Volume(None)));
        assert!("volume 101".parse::<Command>().is_err());
        assert!("volume loud".parse::<Command>().is_err());
        assert_eq!(VolumeTo::By(-30).from(20), 0);
        assert_eq!(VolumeTo::By(30).from(90), 100);
        assert_eq!("replaygain album".parse(), Ok(Command::ReplayGain(Some(crate::level::GainMode::Album))));
        assert!("replaygain loud".parse::<Command>().is_err());
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
    fn pause_resume_and_seek_parse() {
        assert_eq!("pause".parse(), Ok(Command::Pause));
        assert_eq!("resume".parse(), Ok(Command::Resume));
        assert_eq!("play".parse(), Ok(Command::Resume), "play alone resumes");
        assert_eq!("toggle".parse(), Ok(Command::Toggle));
        let seek = |text: &str| text.parse::<Command>();
        let secs = Duration::from_secs;
        assert_eq!(seek("seek 1:30"), Ok(Command::Seek(SeekTo::At(secs(90)))));
        assert_eq!(seek("seek 90"), Ok(Command::Seek(SeekTo::At(secs(90)))));
        assert_eq!(seek("seek 2.5"), Ok(Command::Seek(SeekTo::At(Duration::from_millis(2500)))));
        assert_eq!(seek("seek 1:02:03"), Ok(Command::Seek(SeekTo::At(secs(3723)))));
        assert_eq!(seek("seek 0:05.5"), Ok(Command::Seek(SeekTo::At(Duration::from_millis(5500)))));
        assert_eq!(seek("seek +10"), Ok(Command::Seek(SeekTo::Forward(secs(10)))));
        assert_eq!(seek("seek -1:00"), Ok(Command::Seek(SeekTo::Back(secs(60)))));
        for wrong in
            ["seek", "seek x", "seek 1:5", "seek 1:60", "seek 1:2:3:4", "seek +", "seek --1", "seek 1e9"]
        {
            let error = seek(wrong).unwrap_err();
            assert!(error.starts_with("seek: "), "{wrong}: {error}");
        }
        assert!("pause now".parse::<Command>().unwrap_err().contains("no argument"));
        // Relative steps count from where playback is; back stops at the start.
        assert_eq!(SeekTo::Forward(secs(10)).from(secs(85)), secs(95));
        assert_eq!(SeekTo::Back(secs(10)).from(secs(5)), Duration::ZERO);
        assert_eq!(SeekTo::At(secs(3)).from(secs(85)), secs(3));
    }

    #[test]
    fn mistakes_are_explained() {
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
        assert!("lsit".parse::<Command>().unwrap_err().contains("did you mean list?"));
        assert!("paly 3".parse::<Command>().unwrap_err().contains("did you mean play?"));
        assert_eq!(
            "help PLAY".parse::<Command>().map(|c| matches!(c, Command::HelpOn(t) if t.name == "play")),
            Ok(true)
        );
        assert!("help paly".parse::<Command>().unwrap_err().contains("did you mean play?"));
        assert!("connect host port".parse::<Command>().unwrap_err().contains("\"port\" is not a port"));
        assert!("connect a 1 b".parse::<Command>().is_err());
    }
}
