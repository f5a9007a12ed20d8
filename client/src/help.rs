//! What each command is for, in detail: `help COMMAND` prints it, tab completion takes the
//! command names and what each one's argument is from it, and a mistyped command is matched
//! against it for a "did you mean". One table, so that a new command is documented, completed
//! and suggested by adding one entry ([`TOPICS`]); a test checks that every command of the
//! overview ([`crate::command::HELP`]) has one.

/// What a command's argument is, for tab completion to offer the right things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argument {
    /// No argument, or one nothing can be offered for (seconds, a host).
    Other,
    /// Song ids: completed from the songs of the last `list`.
    Song,
    /// Several song ids (`add`): the last is completed as [`Argument::Song`] is.
    Songs,
    /// A command name (`help`'s).
    Command,
}

/// One command's help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic {
    /// The name the overview uses.
    pub name: &'static str,
    /// Other names the parser accepts for it.
    pub aliases: &'static [&'static str],
    /// How it is typed: `play N`.
    pub usage: &'static str,
    /// What its argument is.
    pub argument: Argument,
    /// The detailed text, one paragraph or a few, already wrapped at 90 columns.
    pub text: &'static str,
}

/// Every command, in the overview's order.
pub const TOPICS: &[Topic] = &[
    Topic {
        name: "list",
        aliases: &["ls"],
        usage: "list",
        argument: Argument::Other,
        text: "\
Shows every song on the server, one a line: its id, its length, title, artist and album.
The id is what play, request and tab completion use. The client remembers this list (and
only this list) to name the songs you request and to complete song ids and titles;
rescan and connect forget it.",
    },
    Topic {
        name: "play",
        aliases: &[],
        usage: "play N",
        argument: Argument::Song,
        text: "\
Plays song N (list shows the ids) from its start, as it arrives: the first sound comes
within a fraction of a second. If a song or the radio is playing, it switches at once,
and nothing of the old song is heard after the new one begins. When the song ends, a
line says so. Tab after play completes an id, or a title typed in part: play tin<TAB>.",
    },
    Topic {
        name: "pause",
        aliases: &[],
        usage: "pause",
        argument: Argument::Other,
        text: "\
Pauses the song at once: the sound stops on the next sample, and the client asks the
server to stop sending, so a long pause costs nothing. resume (or play with no song)
goes on with the very next sample. The radio cannot be paused: it is live, the same for
every listener; stop leaves it.",
    },
    Topic {
        name: "resume",
        aliases: &[],
        usage: "resume",
        argument: Argument::Other,
        text: "\
Goes on from where pause stopped, with the next sample: nothing is lost or heard twice.
play with no song does the same.",
    },
    Topic {
        name: "toggle",
        aliases: &[],
        usage: "toggle",
        argument: Argument::Other,
        text: "\
Pauses if a song plays, resumes if it is paused: one key for both.",
    },
    Topic {
        name: "seek",
        aliases: &[],
        usage: "seek POS",
        argument: Argument::Other,
        text: "\
Plays the song from POS: a time into it (1:30, or 90 seconds), or a step from where it
is now (+10, -10). It lands on the frame boundary at or just before POS (at most 26 ms
early). A paused song plays on from there. Past the end is refused, and the song plays
on. The radio cannot be seeked.",
    },
    Topic {
        name: "info",
        aliases: &[],
        usage: "info N",
        argument: Argument::Song,
        text: "\
Shows everything the server knows of song N: title, artist, album, track, year and
genre; length and size; sample rate, channels and bitrate (and the average, for a
variable bitrate); the encoder, its delay and padding in samples (what a gapless player
trims); and its ReplayGain, from its ID3 tags or else from its LAME tag.",
    },
    Topic {
        name: "search",
        aliases: &[],
        usage: "search TEXT",
        argument: Argument::Other,
        text: "\
Lists, as list does, the songs whose title, artist or album hold every word of TEXT,
in part or whole. Case and accents do not matter: search beyonce finds Beyoncé, search
MOTORHEAD finds Motörhead.",
    },
    Topic {
        name: "stop",
        aliases: &[],
        usage: "stop",
        argument: Argument::Other,
        text: "\
Stops what is playing, a song or the radio, at once. Says so, or that nothing was
playing.",
    },
    Topic {
        name: "add",
        aliases: &[],
        usage: "add N...",
        argument: Argument::Songs,
        text: "\
Puts songs at the end of the play queue: add 2 5 7, or a range, add 1-4. If nothing is
playing, the first of them starts. When a song of the queue has arrived, the client asks
for the next one while the last seconds still play, and the two join without a gap: the
silence an encoder adds at a song's start and end (its delay and padding, from the LAME
tag) is cut, so an album made to play continuously does. A song played with play N is
followed by the queue too. The queue belongs to this client and survives reconnecting.",
    },
    Topic {
        name: "next",
        aliases: &[],
        usage: "next",
        argument: Argument::Other,
        text: "\
Plays the queue's song after the one you hear, at once (repeat all goes round from the
last to the first).",
    },
    Topic {
        name: "prev",
        aliases: &["previous"],
        usage: "prev",
        argument: Argument::Other,
        text: "\
Plays the queue's song before the one you hear, at once.",
    },
    Topic {
        name: "queue",
        aliases: &[],
        usage: "queue [radio]",
        argument: Argument::Other,
        text: "\
Shows the play queue in the order it plays, with shuffle and repeat, the song you hear
marked with > and how far it got. Tuned in to the radio, or as queue radio, shows the
station's queue instead: what the station plays, how far it got and how long it is, then
the requested songs in the order they will play, yours marked.",
    },
    Topic {
        name: "clear",
        aliases: &[],
        usage: "clear",
        argument: Argument::Other,
        text: "\
Empties the play queue. The song playing plays on to its end, and nothing follows it
(unless its last seconds were already playing: the next song was on its way by then).",
    },
    Topic {
        name: "shuffle",
        aliases: &["random"],
        usage: "shuffle [on|off]",
        argument: Argument::Other,
        text: "\
shuffle on plays the queue's songs that have not played yet in a random order (songs
added later go to random places among them); shuffle off puts the queue back in the order
the songs were added. shuffle alone switches it.",
    },
    Topic {
        name: "repeat",
        aliases: &[],
        usage: "repeat [off|all|one]",
        argument: Argument::Other,
        text: "\
What happens when a song of the queue ends: off plays the next and stops after the last;
all starts over after the last; one plays the same song again, without a gap (next still
moves on). repeat alone says which it is.",
    },
    Topic {
        name: "volume",
        aliases: &["vol"],
        usage: "volume [N|+N|-N]",
        argument: Argument::Other,
        text: "\
Sets the volume, from 0 (silent) to 100 (the song as it is, the default), or changes it by
a step (volume -10). It multiplies the samples (80 is 80 % of the amplitude) and is heard
at once; a recording (--output wav:) has it too. volume alone says what it is.",
    },
    Topic {
        name: "replaygain",
        aliases: &["rg"],
        usage: "replaygain [off|track|album]",
        argument: Argument::Other,
        text: "\
Plays songs at one loudness from their ReplayGain values (info N shows them; tags written
by loudgain, rsgain or foobar2000, else the LAME encoder's estimate). track plays every
song at the reference loudness on its own, album keeps an album's songs as loud as one
another are; each falls back on the other value when a song has only one. A gain never
turns a song up so far that its peak would clip. off (the default) plays songs as they
are. The new mode is heard after the second or two already decoded. The radio is played
as the station sends it. replaygain alone says which mode is on.",
    },
    Topic {
        name: "radio",
        aliases: &["tune"],
        usage: "radio",
        argument: Argument::Other,
        text: "\
Tunes in to the server's station: the same music, at the same moment, for every
listener, songs chosen at random unless someone requested one. Each new song is shown
when it is heard. play N or stop leave the radio.",
    },
    Topic {
        name: "request",
        aliases: &[],
        usage: "request N",
        argument: Argument::Song,
        text: "\
Asks the station to play song N, and says its place in the queue. The station plays
requests in order, fairly between listeners, and refuses with a reason: a song already
waiting, too many of yours waiting, a full queue, or a station off the air. queue shows
what waits.",
    },
    Topic {
        name: "rescan",
        aliases: &[],
        usage: "rescan",
        argument: Argument::Other,
        text: "\
Asks the server to look again at its music folder for new, changed and removed songs,
waits for it (Ctrl-C stops waiting; the server scans on), and says what changed. Type
list to see the new list.",
    },
    Topic {
        name: "status",
        aliases: &[],
        usage: "status",
        argument: Argument::Other,
        text: "\
Shows what is playing, how far it got out of how long, and how much sound is buffered;
and, when the server has gone away, why, and when the client tries to reconnect. While a
song plays in a terminal, the status line above the prompt shows the same, every second
(jukebox-client --no-status turns it off).",
    },
    Topic {
        name: "sleep",
        aliases: &[],
        usage: "sleep SECS",
        argument: Argument::Other,
        text: "\
Does nothing for SECS seconds (2.5 is fine): for scripts, to let a song play a while. At
the prompt, Ctrl-C cancels it.",
    },
    Topic {
        name: "wait",
        aliases: &[],
        usage: "wait",
        argument: Argument::Other,
        text: "\
Waits until the current song has ended or was stopped, and the play queue with it (on the
radio: until the station goes off the air): for scripts, printf 'add 2 3\\nwait\\n' |
jukebox-client. With repeat all or one the queue never ends: wait waits until stop. At the
prompt, Ctrl-C stops waiting, and the song plays on.",
    },
    Topic {
        name: "idle",
        aliases: &[],
        usage: "idle [library|song|queue ...]",
        argument: Argument::Other,
        text: "\
Waits until something changes on the server, says what, and returns, as mpc idle does:
library when a rescan changed the songs, song when another song went on the station's
air (whether or not you listen), queue when a song was requested or a requested song
went on the air. Name what to wait for, or nothing for all three. Each change is one
line that begins with its name: song: song 3 is on the air. Ctrl-C stops waiting.",
    },
    Topic {
        name: "connect",
        aliases: &[],
        usage: "connect [HOST [PORT]]",
        argument: Argument::Other,
        text: "\
connect alone connects again at once to the same server, after it went away (the client
also retries by itself, every 0.5 s at first, then less often up to every 30 s). connect
HOST [PORT] switches to another server, on the same port unless PORT is given; if it
cannot be reached, the client stays where it was.",
    },
    Topic {
        name: "help",
        aliases: &["?"],
        usage: "help [COMMAND]",
        argument: Argument::Command,
        text: "\
help lists the commands; help COMMAND tells about one of them.",
    },
    Topic {
        name: "quit",
        aliases: &["exit"],
        usage: "quit",
        argument: Argument::Other,
        text: "\
Says goodbye to the server and leaves. Ctrl-D at an empty prompt does the same.",
    },
];

/// The command `name` (or one of its aliases) names, in any case.
pub fn topic(name: &str) -> Option<&'static Topic> {
    let name = name.to_ascii_lowercase();
    TOPICS.iter().find(|t| t.name == name || t.aliases.contains(&name.as_str()))
}

/// The text `help NAME` prints: how it is typed, then what it does.
pub fn detailed(topic: &Topic) -> String {
    let mut text = format!("{}\n\n{}", topic.usage, topic.text);
    if !topic.aliases.is_empty() {
        text.push_str(&format!("\n\nAlso: {}.", topic.aliases.join(", ")));
    }
    text
}

/// The farthest a typo may be from a command, in edits (a letter added, removed, changed, or
/// two swapped): `lsit` and `paly` are one swap away; with more, any word would be "near"
/// some short command.
const MAX_TYPO: usize = 2;

/// The command that `typed` was most likely meant to be, if one is near enough: `lsit` is
/// `list`, `paly` is `play`. Only names of three letters or more count as typos of a longer
/// one, so `x` does not suggest `ls`.
pub fn suggestion(typed: &str) -> Option<&'static str> {
    let typed = typed.to_ascii_lowercase();
    let limit = if typed.chars().count() <= 3 { 1 } else { MAX_TYPO };
    TOPICS
        .iter()
        .flat_map(|t| std::iter::once(t.name).chain(t.aliases.iter().copied()).map(move |n| (t.name, n)))
        .filter(|(_, n)| n.len() >= 2)
        .map(|(name, n)| (strsim::osa_distance(&typed, n), name))
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, name)| name)
}

/// The command `help NAME` asks about, or why there is none.
pub fn asked_about(name: &str) -> Result<&'static Topic, String> {
    topic(name).ok_or_else(|| match suggestion(name) {
        Some(near) => format!("help: there is no command {name:?}; did you mean {near}?"),
        None => format!("help: there is no command {name:?}; type help for the list"),
    })
}

/// What the REPL says about a command it does not know, with a guess if there is one.
pub fn unknown_command(typed: &str) -> String {
    match suggestion(typed) {
        Some(name) => format!("unknown command {typed:?}; did you mean {name}? (type help for the list)"),
        None => format!("unknown command {typed:?}; type help for the list"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_suggest_the_command_meant() {
        assert_eq!(suggestion("lsit"), Some("list"));
        assert_eq!(suggestion("paly"), Some("play"));
        assert_eq!(suggestion("stpo"), Some("stop"));
        assert_eq!(suggestion("requst"), Some("request"));
        assert_eq!(suggestion("STATSU"), Some("status"));
        assert_eq!(suggestion("tuen"), Some("radio"));
        assert_eq!(suggestion("dance"), None);
        assert_eq!(suggestion("x"), None);
        assert_eq!(
            unknown_command("paly"),
            "unknown command \"paly\"; did you mean play? (type help for the list)"
        );
    }

    #[test]
    fn every_command_of_the_overview_has_detailed_help() {
        // The overview's command lines: two spaces, then the name.
        let names: Vec<&str> = crate::command::HELP
            .lines()
            .filter_map(|l| l.strip_prefix("  "))
            .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert!(names.len() >= 10, "{names:?}");
        for name in names {
            assert!(topic(name).is_some(), "help {name} has no detailed text in help::TOPICS");
        }
        assert_eq!(topic("TUNE").map(|t| t.name), Some("radio"));
        assert!(detailed(topic("play").unwrap()).starts_with("play N\n\nPlays song N"));
    }

    #[test]
    fn every_text_fits_a_terminal() {
        for topic in TOPICS {
            for line in topic.text.lines() {
                assert!(line.chars().count() <= 90, "help {}: {line:?} is too long", topic.name);
            }
        }
    }
}
