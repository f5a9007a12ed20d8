//! The play queue's commands: `add`, `next`, `prev`, `clear`, `queue`, `shuffle`, `repeat`,
//! and `play` alone with nothing playing. The queue itself is [`crate::playlist`]; the socket
//! thread moves it on when a song has arrived (see [`crate::connection`]).

use std::io::Write;
use std::time::Duration;

use jukebox_protocol::SongId;

use super::{Session, clock, describe_playing, length, title_and_artist};
use crate::connection::{ClientError, Connection};
use crate::playlist::{Entry, Pick, Playlist, Repeat};

impl Session {
    /// `add N...`: appends the songs (checked against the server's list), and starts the
    /// first of them when nothing plays.
    pub(super) fn add(&self, songs: &[SongId], out: &mut dyn Write) -> Result<(), ClientError> {
        let connection = self.link.connection()?;
        let mut entries = Vec::with_capacity(songs.len());
        for &song in songs {
            let Some(found) = self.entry_of(&connection, song) else {
                return Err(ClientError::NotNow(format!(
                    "add: the server has no song {song} (list shows them); nothing was added"
                )));
            };
            entries.push(Entry {
                song,
                title: found.title,
                artist: found.artist,
                duration: Duration::from_millis(u64::from(found.duration_ms)),
            });
        }
        let added = entries.len();
        let total = {
            let mut playlist = self.playback.playlist();
            playlist.add(entries).map_err(|e| ClientError::NotNow(format!("add: {e}")))?;
            playlist.len()
        };
        let _ = writeln!(out, "Added {} to the queue ({total} in all).", songs_count(added));
        let status = self.playback.status();
        if status.now.is_none() && !status.tuned {
            let pick = self.playback.playlist().first_unplayed();
            if let Some(pick) = pick {
                self.play_pick(&connection, pick, out)?;
            }
        } else {
            // The song playing may have arrived whole with nothing to follow it: now there is.
            self.playback.wake_follower();
        }
        Ok(())
    }

    /// `next` and `prev`: the queue's song after (or before) the one heard, now.
    pub(super) fn skip(&self, forward: bool, out: &mut dyn Write) -> Result<(), ClientError> {
        let status = self.playback.status();
        let heard = status.now.filter(|_| !status.tuned).map(|now| now.stream);
        let pick = {
            let playlist = self.playback.playlist();
            if playlist.is_empty() {
                let name = if forward { "next" } else { "prev" };
                return Err(ClientError::NotNow(format!(
                    "{name}: the queue is empty; add songs first (add N)"
                )));
            }
            if forward { playlist.next(heard) } else { playlist.prev(heard) }
        };
        match pick {
            Some(pick) => self.play_pick(&*self.link.connection()?, pick, out),
            None if forward => {
                Err(ClientError::NotNow("next: this is the end of the queue (repeat all goes round)".into()))
            }
            None => Err(ClientError::NotNow("prev: this is the start of the queue".into())),
        }
    }

    /// `play` alone with nothing paused: the queue from where it stopped. False when the
    /// queue is empty.
    pub(super) fn play_queue(&self, out: &mut dyn Write) -> Result<bool, ClientError> {
        let pick = self.playback.playlist().resume_point();
        match pick {
            Some(pick) => self.play_pick(&*self.link.connection()?, pick, out).map(|()| true),
            None => Ok(false),
        }
    }

    /// Plays a song of the queue in place of what plays.
    fn play_pick(&self, connection: &Connection, pick: Pick, out: &mut dyn Write) -> Result<(), ClientError> {
        let playing = connection.play_noting(pick.song, |id| self.playback.switching_to(id, pick))?;
        let _ = writeln!(out, "{}", describe_playing(&playing));
        Ok(())
    }

    /// `clear`.
    pub(super) fn clear(&self, out: &mut dyn Write) {
        let had = {
            let mut playlist = self.playback.playlist();
            let had = playlist.len();
            playlist.clear();
            had
        };
        self.playback.expect_more(false);
        let _ = writeln!(out, "Cleared the queue ({} removed); what plays plays on.", songs_count(had));
    }

    /// `shuffle [on|off]`.
    pub(super) fn shuffle(&self, on: Option<bool>, out: &mut dyn Write) {
        let mut playlist = self.playback.playlist();
        let on = on.unwrap_or(!playlist.shuffle());
        playlist.set_shuffle(on);
        drop(playlist);
        self.playback.wake_follower();
        let _ = writeln!(out, "Shuffle is {}.", if on { "on" } else { "off" });
    }

    /// `repeat [off|all|one]`.
    pub(super) fn repeat(&self, repeat: Option<Repeat>, out: &mut dyn Write) {
        let mut playlist = self.playback.playlist();
        if let Some(repeat) = repeat {
            playlist.set_repeat(repeat);
        }
        let _ = writeln!(out, "Repeat is {}.", playlist.repeat());
        drop(playlist);
        self.playback.wake_follower();
    }

    /// `queue`: the play queue, the song heard marked.
    pub(super) fn show_play_queue(&self, out: &mut dyn Write) {
        let status = self.playback.status();
        let playlist = self.playback.playlist();
        for line in describe_playlist(&playlist, status.now.map(|now| now.stream), status.elapsed) {
            let _ = writeln!(out, "{line}");
        }
    }
}

/// `1 song`, `3 songs`.
fn songs_count(n: usize) -> String {
    if n == 1 { "1 song".into() } else { format!("{n} songs") }
}

/// The queue's lines: its modes, then each song in play order, the one heard marked with its
/// elapsed time.
pub(crate) fn describe_playlist(
    playlist: &Playlist,
    heard: Option<jukebox_protocol::StreamId>,
    elapsed: Duration,
) -> Vec<String> {
    if playlist.is_empty() {
        return vec!["The queue is empty; add N... puts songs in it.".into()];
    }
    let current = playlist.entry_of(heard);
    let mut lines = vec![format!(
        "Queue: {}, shuffle {}, repeat {}",
        songs_count(playlist.len()),
        if playlist.shuffle() { "on" } else { "off" },
        playlist.repeat()
    )];
    for (place, (entry, song)) in playlist.in_order().enumerate() {
        let mark = if Some(entry) == current { '>' } else { ' ' };
        let mut line = format!(
            "{mark}{:>4}. {:>3}  {:>5}  {}",
            place + 1,
            song.song,
            length(song.duration),
            title_and_artist(&song.title, &song.artist)
        );
        if Some(entry) == current {
            line.push_str(&format!("  [{}]", clock(elapsed)));
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::{RequestId, StreamId};

    #[test]
    fn the_queue_shows_its_modes_and_marks_the_song_heard() {
        let mut playlist = Playlist::with_rng(fastrand::Rng::with_seed(1));
        assert_eq!(
            describe_playlist(&playlist, None, Duration::ZERO),
            ["The queue is empty; add N... puts songs in it."]
        );
        let entry = |id: u32, title: &str| Entry {
            song: SongId(id),
            title: title.into(),
            artist: "Band\x1b[2J".into(),
            duration: Duration::from_secs(61),
        };
        playlist.add(vec![entry(4, "Four"), entry(2, "Two")]).unwrap();
        let pick = playlist.next(None).unwrap();
        playlist.ask(RequestId(1), pick, false);
        playlist.claim(RequestId(1), StreamId(9));
        let lines = describe_playlist(&playlist, Some(StreamId(9)), Duration::from_secs(5));
        assert_eq!(lines[0], "Queue: 2 songs, shuffle off, repeat off");
        assert!(
            lines[1].starts_with(">   1.   4   1:01  Four") && lines[1].ends_with("[0:05]"),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with("    2.   2") && !lines[2].contains('\x1b'), "{}", lines[2]);
    }
}
