//! The play queue: songs to play one after the other, with shuffle and repeat, as mpc and
//! ncmpcpp have it. Sans-IO: the REPL and the socket thread ask it what to play, and tell it
//! what the server answered.
//!
//! It lives in the client, per session, not on the server: the server streams one song per
//! PLAY and knows nothing of what comes after, so a queue there would be a second copy of the
//! client's state that every reconnection (or another server, after `connect`) would lose. Kept
//! here it survives both, costs the server nothing, and the client, which alone knows when a
//! song has arrived, asks for the next at the right moment: when the one before has been
//! received (its END_OF_STREAM), while its last seconds still play from the buffer, so that the
//! next song's samples follow the last of the one before without a gap (see
//! [`crate::gapless`]).
//!
//! Songs are identified here by their place in the queue ("entries"), which `add` only ever
//! appends to, so an entry keeps its number until `clear`; the play order is a permutation of
//! the entries (the identity unless shuffled).

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jukebox_protocol::{RequestId, SongId, StreamId};

/// The most songs a queue holds: far more than anyone listens to in a sitting, and a bound
/// on what a careless `add` in a loop can make the client keep.
pub const MAX_ENTRIES: usize = 10_000;

/// Streams whose queue entry is remembered: the one heard and the ones received after it.
const REMEMBERED_STREAMS: usize = 8;

/// How much of a song is left to play when the next one is asked for. Asked for earlier, each
/// song would arrive further ahead of the one before (a stream's pace is counted from its
/// PLAYING), and a queue of short songs would be fetched whole; later, a slow network could
/// leave a gap. Four seconds cover any round trip and the new stream's first chunk.
pub const PREFETCH: Duration = Duration::from_secs(4);

/// Requests that change what plays (`play N`, `seek`, `stop`, `radio`, a queue command's song)
/// whose answer is remembered as awaited; more are a hostile or broken server's doing.
const MAX_SWITCHES: usize = 16;

/// What the queue does when a song ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Repeat {
    /// Stops after the last song.
    #[default]
    Off,
    /// Starts over after the last song.
    All,
    /// Plays the same song again (`next` still moves on).
    One,
}

impl FromStr for Repeat {
    type Err = String;

    fn from_str(text: &str) -> Result<Repeat, String> {
        match text {
            "off" => Ok(Repeat::Off),
            "all" | "on" => Ok(Repeat::All),
            "one" | "single" => Ok(Repeat::One),
            _ => Err(format!("repeat: {text:?} is not off, all or one; try: repeat all")),
        }
    }
}

impl fmt::Display for Repeat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Repeat::Off => "off",
            Repeat::All => "all",
            Repeat::One => "one",
        })
    }
}

/// A song in the queue, with what is shown of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The song.
    pub song: SongId,
    /// Its title.
    pub title: String,
    /// Its artist.
    pub artist: String,
    /// Its length.
    pub duration: Duration,
}

/// A song to play, and the entry it is (none for a song played with `play N` that repeats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    /// The song.
    pub song: SongId,
    /// Its entry in the queue.
    pub entry: Option<usize>,
}

/// What a PLAYING is to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Not the queue's: a song played with `play N`, which replaces what plays.
    NotOurs,
    /// The queue's, asked for by a command (`next`, `prev`, `add`): replaces what plays.
    Start(Pick),
    /// The queue's next song, asked for when the song before had arrived: follows it without
    /// a gap.
    Append(Pick),
    /// A next song asked for and then given up (`stop`, `play N` came first): not to be played.
    Ignore,
}

/// What playback holds ahead of what is heard, as the queue needs to know it to decide when to
/// ask for the next song.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ahead {
    /// Nothing plays.
    pub idle: bool,
    /// Playback is paused: nothing is due until it resumes.
    pub paused: bool,
    /// A song received after the one heard waits to be heard.
    pub appended: bool,
    /// Decoded audio not played yet.
    pub buffered: Duration,
}

/// When the next song is to be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Now: this song.
    Now(Pick),
    /// After this long, if nothing changes meanwhile.
    In(Duration),
    /// Not before something changes (a song arrives whole, one is added, the repeat mode
    /// changes): nothing to ask for, or a request on its way decides.
    Idle,
}

/// The queue was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the queue holds {MAX_ENTRIES} songs already; clear makes room")]
pub struct QueueFull;

/// A request for a song of the queue, on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Asked {
    id: RequestId,
    pick: Pick,
    append: bool,
}

/// The play queue and the requests it has made.
#[derive(Debug)]
pub struct Playlist {
    entries: Vec<Entry>,
    /// Entries in the order they play.
    order: Vec<usize>,
    /// The entry the queue started last (the one heard, or the one received after it).
    at: Option<usize>,
    /// The streams the queue started, with their entry, newest last.
    streams: VecDeque<(StreamId, Option<usize>)>,
    shuffle: bool,
    repeat: Repeat,
    asked: Option<Asked>,
    /// The request for a next song that was given up: its PLAYING is ignored.
    given_up: Option<RequestId>,
    /// Songs refused one after the other; the queue gives up on advancing once every entry has
    /// been refused.
    refusals: usize,
    /// The stream received whole whose next song has not been asked for yet, and its song.
    follow: Option<(StreamId, SongId)>,
    /// The song to ask for in place of one the server refused.
    retry: Option<Pick>,
    /// Requests of the user's that change what plays, on their way: until they are answered,
    /// the queue asks for nothing (the server would take its PLAY after the user's).
    switches: VecDeque<RequestId>,
    rng: fastrand::Rng,
}

impl Default for Playlist {
    fn default() -> Playlist {
        Playlist::with_rng(fastrand::Rng::new())
    }
}

impl Playlist {
    /// An empty queue whose shuffles come from `rng` (seeded in tests).
    pub fn with_rng(rng: fastrand::Rng) -> Playlist {
        Playlist {
            entries: Vec::new(),
            order: Vec::new(),
            at: None,
            streams: VecDeque::new(),
            shuffle: false,
            repeat: Repeat::Off,
            asked: None,
            given_up: None,
            refusals: 0,
            follow: None,
            retry: None,
            switches: VecDeque::new(),
            rng,
        }
    }

    /// Appends songs (in the play order: among the songs not played yet, at random places when
    /// shuffled). Returns the first new entry.
    pub fn add(&mut self, songs: Vec<Entry>) -> Result<usize, QueueFull> {
        if self.entries.len() + songs.len() > MAX_ENTRIES {
            return Err(QueueFull);
        }
        let first = self.entries.len();
        for entry in songs {
            let index = self.entries.len();
            self.entries.push(entry);
            if self.shuffle {
                let played = self.position(self.at).map_or(0, |p| p + 1);
                let place = self.rng.usize(played..=self.order.len());
                self.order.insert(place, index);
            } else {
                self.order.push(index);
            }
        }
        Ok(first)
    }

    /// Empties the queue. What plays plays on, and a next song already asked for is given up.
    pub fn clear(&mut self) {
        self.give_up();
        self.follow = None;
        self.retry = None;
        self.entries.clear();
        self.order.clear();
        self.at = None;
        self.streams.clear();
    }

    /// The number of songs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the queue holds no song.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// An entry.
    pub fn entry(&self, index: usize) -> Option<&Entry> {
        self.entries.get(index)
    }

    /// The entries in the order they play, with their numbers.
    pub fn in_order(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.order.iter().map(|&i| (i, &self.entries[i]))
    }

    /// Shuffled or not.
    pub fn shuffle(&self) -> bool {
        self.shuffle
    }

    /// Shuffles the songs not played yet (the ones before the current stay where they are, so
    /// `prev` still goes back to what was heard), or puts them back in the order they were
    /// added.
    pub fn set_shuffle(&mut self, on: bool) {
        self.shuffle = on;
        if on {
            let played = self.position(self.at).map_or(0, |p| p + 1);
            self.rng.shuffle(&mut self.order[played..]);
        } else {
            self.order = (0..self.entries.len()).collect();
        }
    }

    /// The repeat mode.
    pub fn repeat(&self) -> Repeat {
        self.repeat
    }

    /// Sets the repeat mode.
    pub fn set_repeat(&mut self, repeat: Repeat) {
        self.repeat = repeat;
    }

    fn position(&self, entry: Option<usize>) -> Option<usize> {
        let entry = entry?;
        self.order.iter().position(|&i| i == entry)
    }

    fn pick(&self, entry: usize) -> Option<Pick> {
        self.entries.get(entry).map(|e| Pick { song: e.song, entry: Some(entry) })
    }

    /// The entry that `stream` plays, if the queue started it.
    pub fn entry_of(&self, stream: Option<StreamId>) -> Option<usize> {
        let stream = stream?;
        self.streams.iter().rev().find(|(s, _)| *s == stream).and_then(|(_, entry)| *entry)
    }

    /// The entry after `from` in the play order (the first when there is none), going round
    /// after the last when repeating all.
    fn after(&self, from: Option<usize>) -> Option<Pick> {
        let next = match self.position(from.or(self.at)) {
            None => 0,
            Some(p) if p + 1 < self.order.len() => p + 1,
            Some(_) if self.repeat == Repeat::All => 0,
            Some(_) => return None,
        };
        self.order.get(next).and_then(|&entry| self.pick(entry))
    }

    /// For `next`: the song after the one heard (`heard`, a stream), or after the one the queue
    /// played last; the first when the queue never played. `None` at the end of the queue.
    pub fn next(&self, heard: Option<StreamId>) -> Option<Pick> {
        self.after(self.entry_of(heard))
    }

    /// For `prev`: the song before the one heard; going round to the last when repeating all.
    pub fn prev(&self, heard: Option<StreamId>) -> Option<Pick> {
        let position = self.position(self.entry_of(heard).or(self.at))?;
        let before = match position {
            0 if self.repeat == Repeat::All => self.order.len().checked_sub(1)?,
            0 => return None,
            p => p - 1,
        };
        self.order.get(before).and_then(|&entry| self.pick(entry))
    }

    /// For `play` with nothing playing: the song the queue stopped at, or its first.
    pub fn resume_point(&self) -> Option<Pick> {
        match self.at {
            Some(entry) => self.pick(entry),
            None => self.order.first().and_then(|&entry| self.pick(entry)),
        }
    }

    /// For `add` with nothing playing: the first song after the one the queue played last, in
    /// play order (a shuffle may have put a new song anywhere among those not played).
    pub fn first_unplayed(&self) -> Option<Pick> {
        let from = self.position(self.at).map_or(0, |p| p + 1);
        self.order.get(from).and_then(|&entry| self.pick(entry))
    }

    /// `stop` while `heard` plays: the queue stops at the song heard, not at one received after
    /// it, so that `play` goes on with it.
    pub fn stop_at(&mut self, heard: Option<StreamId>) {
        if let Some(entry) = self.entry_of(heard) {
            self.at = Some(entry);
        }
    }

    /// What follows when the song `song`, of stream `ended`, has arrived completely: itself
    /// again when repeating one, else the queue's next song (after the entry it was, or, for a
    /// song played with `play N`, after the entry the queue played last). `None` when nothing
    /// follows, or when every song was refused in a row.
    pub fn after_end(&self, ended: StreamId, song: SongId) -> Option<Pick> {
        if self.refusals > 0 && self.refusals >= self.entries.len() {
            return None;
        }
        let entry = self.entry_of(Some(ended));
        match self.repeat {
            Repeat::One => Some(Pick { song, entry }),
            _ => self.after(entry),
        }
    }

    /// A request for `pick` is about to be sent with id `id`; `append` when it is the next
    /// song, to follow what plays without a gap. A command's (not `append`) is a switch, as
    /// [`Playlist::switch_asked`] says.
    pub fn ask(&mut self, id: RequestId, pick: Pick, append: bool) {
        if append {
            self.follow = None;
            self.retry = None;
        } else {
            self.switch_asked(id);
        }
        self.asked = Some(Asked { id, pick, append });
    }

    /// The user's request `id`, which changes what plays, is about to be sent: a next song
    /// asked for is given up, the song received is no longer followed, and the queue asks for
    /// nothing until the request is answered.
    pub fn switch_asked(&mut self, id: RequestId) {
        self.give_up();
        self.follow = None;
        self.retry = None;
        if self.switches.len() == MAX_SWITCHES {
            self.switches.pop_front();
        }
        self.switches.push_back(id);
    }

    /// Request `id` was answered (PLAYING, TUNED, STOPPED or ERROR).
    pub fn answered(&mut self, id: RequestId) {
        self.switches.retain(|&s| s != id);
    }

    /// `stream`, of `song`, has been received whole: its next song is due when little of it is
    /// left to play. Returns whether one will follow (so that playback waits for it).
    pub fn received(&mut self, stream: StreamId, song: SongId) -> bool {
        if !self.switches.is_empty() {
            return false;
        }
        self.follow = Some((stream, song));
        self.after_end(stream, song).is_some()
    }

    /// When to ask for the next song, playback holding `ahead`: when the song received whole
    /// has less than [`PREFETCH`] left to play and is the one heard (one song ahead at most).
    pub fn due(&mut self, ahead: Ahead) -> Due {
        if !self.switches.is_empty() || self.asked.is_some_and(|asked| asked.append) {
            return Due::Idle;
        }
        if let Some(pick) = self.retry {
            return Due::Now(pick);
        }
        let Some((stream, song)) = self.follow else { return Due::Idle };
        if ahead.idle {
            // Played out with nothing after it: a song added now is started by `add`.
            self.follow = None;
            return Due::Idle;
        }
        if ahead.appended {
            return Due::In(Duration::from_millis(250));
        }
        if ahead.paused {
            return Due::Idle;
        }
        match self.after_end(stream, song) {
            None => Due::Idle,
            Some(_) if ahead.buffered > PREFETCH => Due::In(ahead.buffered - PREFETCH),
            Some(pick) => Due::Now(pick),
        }
    }

    /// Gives up the next song asked for, if any (the user chose something else): its PLAYING
    /// will be ignored. True if there was one.
    fn give_up(&mut self) -> bool {
        match self.asked.take() {
            Some(asked) if asked.append => {
                self.given_up = Some(asked.id);
                true
            }
            _ => false,
        }
    }

    /// What the PLAYING answering request `id`, for stream `stream`, is to the queue; the queue
    /// counts the stream as its own when it is.
    pub fn claim(&mut self, id: RequestId, stream: StreamId) -> Claim {
        self.answered(id);
        if self.given_up == Some(id) {
            self.given_up = None;
            return Claim::Ignore;
        }
        let claim = match self.asked.take_if(|asked| asked.id == id) {
            Some(asked) if asked.append => Claim::Append(asked.pick),
            Some(asked) => Claim::Start(asked.pick),
            None => Claim::NotOurs,
        };
        let entry = match claim {
            Claim::Start(pick) | Claim::Append(pick) => {
                self.refusals = 0;
                if pick.entry.is_some() {
                    self.at = pick.entry;
                }
                pick.entry
            }
            Claim::NotOurs | Claim::Ignore => None,
        };
        if self.streams.len() == REMEMBERED_STREAMS {
            self.streams.pop_front();
        }
        self.streams.push_back((stream, entry));
        claim
    }

    /// The server refused request `id` (an ERROR): when it asked for the next song, that song
    /// is skipped and the one after it is due at once in its place (returned too).
    pub fn refused(&mut self, id: RequestId) -> Option<(Pick, Option<Pick>)> {
        let asked = self.asked.take_if(|asked| asked.id == id && asked.append)?;
        self.refusals += 1;
        if asked.pick.entry.is_some() {
            self.at = asked.pick.entry;
        }
        let then = match self.repeat {
            // The same song again would be refused again.
            Repeat::One => None,
            _ if self.refusals >= self.entries.len() => None,
            _ => self.after(asked.pick.entry),
        };
        self.retry = then;
        Some((asked.pick, then))
    }

    /// The connection ended: its request ids mean nothing on the next one.
    pub fn connection_ended(&mut self) {
        self.asked = None;
        self.given_up = None;
        self.follow = None;
        self.retry = None;
        self.switches.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u32) -> Entry {
        Entry {
            song: SongId(id),
            title: format!("song {id}"),
            artist: String::new(),
            duration: Duration::ZERO,
        }
    }

    fn queue(songs: &[u32]) -> Playlist {
        let mut queue = Playlist::with_rng(fastrand::Rng::with_seed(7));
        queue.add(songs.iter().map(|&id| entry(id)).collect()).unwrap();
        queue
    }

    /// Plays `pick` as the queue would: asked, answered with stream `stream`.
    fn play(queue: &mut Playlist, pick: Pick, stream: u32, append: bool) -> Claim {
        let id = RequestId(stream + 100);
        queue.ask(id, pick, append);
        queue.claim(id, StreamId(stream))
    }

    #[test]
    fn songs_follow_in_order_and_stop_at_the_end() {
        let mut q = queue(&[5, 6, 7]);
        let first = q.next(None).unwrap();
        assert_eq!(first, Pick { song: SongId(5), entry: Some(0) });
        assert_eq!(play(&mut q, first, 1, false), Claim::Start(first));
        let second = q.after_end(StreamId(1), SongId(5)).unwrap();
        assert_eq!(second.song, SongId(6));
        assert_eq!(play(&mut q, second, 2, true), Claim::Append(second));
        let third = q.after_end(StreamId(2), SongId(6)).unwrap();
        play(&mut q, third, 3, true);
        assert_eq!(q.after_end(StreamId(3), SongId(7)), None);
    }

    #[test]
    fn next_and_prev_count_from_the_song_heard_not_the_one_received() {
        let mut q = queue(&[5, 6, 7]);
        let first = q.next(None).unwrap();
        play(&mut q, first, 1, false);
        let second = q.after_end(StreamId(1), SongId(5)).unwrap();
        play(&mut q, second, 2, true);
        // Stream 1 is still heard: its last seconds are in the buffer.
        assert_eq!(q.next(Some(StreamId(1))).map(|p| p.song), Some(SongId(6)));
        assert_eq!(q.next(Some(StreamId(2))).map(|p| p.song), Some(SongId(7)));
        assert_eq!(q.prev(Some(StreamId(2))).map(|p| p.song), Some(SongId(5)));
        assert_eq!(q.prev(Some(StreamId(1))), None);
        q.set_repeat(Repeat::All);
        assert_eq!(q.prev(Some(StreamId(1))).map(|p| p.song), Some(SongId(7)));
    }

    #[test]
    fn repeat_all_goes_round_and_repeat_one_plays_the_song_again() {
        let mut q = queue(&[5, 6]);
        q.set_repeat(Repeat::All);
        let first = q.next(None).unwrap();
        play(&mut q, first, 1, false);
        let second = q.after_end(StreamId(1), SongId(5)).unwrap();
        play(&mut q, second, 2, true);
        assert_eq!(q.after_end(StreamId(2), SongId(6)).map(|p| p.song), Some(SongId(5)));
        q.set_repeat(Repeat::One);
        assert_eq!(q.after_end(StreamId(2), SongId(6)), Some(Pick { song: SongId(6), entry: Some(1) }));
        // `next` still moves on.
        assert_eq!(q.next(Some(StreamId(2))), None);
    }

    #[test]
    fn a_song_played_by_hand_is_followed_by_the_queue() {
        let mut q = queue(&[5, 6]);
        assert_eq!(q.claim(RequestId(9), StreamId(1)), Claim::NotOurs);
        assert_eq!(q.after_end(StreamId(1), SongId(2)).map(|p| p.song), Some(SongId(5)));
        q.set_repeat(Repeat::One);
        assert_eq!(q.after_end(StreamId(1), SongId(2)), Some(Pick { song: SongId(2), entry: None }));
    }

    #[test]
    fn a_next_song_given_up_is_ignored_when_it_comes() {
        let mut q = queue(&[5, 6]);
        let first = q.next(None).unwrap();
        play(&mut q, first, 1, false);
        let second = q.after_end(StreamId(1), SongId(5)).unwrap();
        q.ask(RequestId(50), second, true);
        assert!(q.give_up());
        assert_eq!(q.claim(RequestId(50), StreamId(2)), Claim::Ignore);
        // A command's own request replaces a next song asked for, which is given up too.
        q.ask(RequestId(51), second, true);
        q.ask(RequestId(52), second, false);
        assert_eq!(q.claim(RequestId(51), StreamId(3)), Claim::Ignore);
        assert_eq!(q.claim(RequestId(52), StreamId(4)), Claim::Start(second));
    }

    #[test]
    fn refused_songs_are_skipped_but_not_for_ever() {
        let mut q = queue(&[5, 6, 7]);
        q.set_repeat(Repeat::All);
        let first = q.next(None).unwrap();
        q.ask(RequestId(1), first, true);
        let (skipped, then) = q.refused(RequestId(1)).unwrap();
        assert_eq!((skipped.song, then.map(|p| p.song)), (SongId(5), Some(SongId(6))));
        q.ask(RequestId(2), then.unwrap(), true);
        let (_, then) = q.refused(RequestId(2)).unwrap();
        q.ask(RequestId(3), then.unwrap(), true);
        assert_eq!(q.refused(RequestId(3)).map(|(_, then)| then), Some(None), "every song refused");
        assert_eq!(q.refused(RequestId(4)), None, "not a request of the queue");
    }

    #[test]
    fn shuffle_keeps_what_was_played_and_mixes_the_rest() {
        let mut q = queue(&(1..=50).collect::<Vec<_>>());
        let first = q.next(None).unwrap();
        play(&mut q, first, 1, false);
        q.set_shuffle(true);
        let order: Vec<u32> = q.in_order().map(|(_, e)| e.song.0).collect();
        assert_eq!(order[0], 1);
        assert_ne!(order[1..], (2..=50).collect::<Vec<_>>()[..]);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (1..=50).collect::<Vec<_>>());
        q.add(vec![entry(99)]).unwrap();
        assert_eq!(q.in_order().filter(|(_, e)| e.song.0 == 99).count(), 1);
        assert_ne!(q.in_order().next().map(|(_, e)| e.song.0), Some(99), "not before what was played");
        q.set_shuffle(false);
        assert_eq!(q.in_order().map(|(i, _)| i).collect::<Vec<_>>(), (0..51).collect::<Vec<_>>());
    }

    #[test]
    fn the_queue_is_bounded_and_clear_empties_it() {
        let mut q = queue(&[1]);
        assert_eq!(q.add(vec![entry(2); MAX_ENTRIES]), Err(QueueFull));
        assert_eq!(q.len(), 1);
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.next(None), None);
        assert_eq!(q.resume_point(), None);
    }

    fn ahead(buffered: u64) -> Ahead {
        Ahead { idle: false, paused: false, appended: false, buffered: Duration::from_secs(buffered) }
    }

    #[test]
    fn the_next_song_is_due_when_little_of_the_one_received_is_left() {
        let mut q = queue(&[5, 6]);
        let first = q.next(None).unwrap();
        play(&mut q, first, 1, false);
        assert_eq!(q.due(ahead(2)), Due::Idle, "nothing received whole yet");
        assert!(q.received(StreamId(1), SongId(5)));
        assert_eq!(q.due(ahead(10)), Due::In(Duration::from_secs(10) - PREFETCH));
        assert_eq!(q.due(Ahead { paused: true, ..ahead(1) }), Due::Idle, "not while paused");
        assert_eq!(q.due(Ahead { appended: true, ..ahead(1) }), Due::In(Duration::from_millis(250)));
        let second = Pick { song: SongId(6), entry: Some(1) };
        assert_eq!(q.due(ahead(3)), Due::Now(second));
        q.ask(RequestId(7), second, true);
        assert_eq!(q.due(ahead(1)), Due::Idle, "asked: its PLAYING decides");
        play(&mut q, second, 2, true);
        assert!(!q.received(StreamId(2), SongId(6)), "the last song: nothing follows");
        assert_eq!(q.due(ahead(1)), Due::Idle);
        q.add(vec![entry(8)]).unwrap();
        assert_eq!(q.due(ahead(1)), Due::Now(Pick { song: SongId(8), entry: Some(2) }), "added since");
        assert_eq!(q.due(Ahead { idle: true, ..ahead(0) }), Due::Idle, "played out: add starts it");
        assert_eq!(q.due(ahead(1)), Due::Idle, "and forgets the song it followed");
    }

    #[test]
    fn nothing_is_due_while_a_switch_of_the_users_is_on_its_way() {
        let mut q = queue(&[5, 6]);
        let first = q.next(None).unwrap();
        play(&mut q, first, 1, false);
        assert!(q.received(StreamId(1), SongId(5)));
        q.switch_asked(RequestId(40));
        assert_eq!(q.due(ahead(1)), Due::Idle, "the switch forgets the song it followed");
        assert!(!q.received(StreamId(1), SongId(5)), "an END_OF_STREAM read before the switch's answer");
        q.answered(RequestId(40));
        assert_eq!(q.due(ahead(1)), Due::Idle);
        // A refused next song: the one after it is due at once.
        assert!(q.received(StreamId(1), SongId(5)));
        let second = Pick { song: SongId(6), entry: Some(1) };
        q.ask(RequestId(41), second, true);
        q.set_repeat(Repeat::All);
        let (_, then) = q.refused(RequestId(41)).unwrap();
        assert_eq!(q.due(ahead(9)), Due::Now(then.unwrap()));
    }

    #[test]
    fn a_stop_keeps_the_song_heard_and_add_starts_the_first_not_played() {
        let mut q = queue(&[5, 6, 7]);
        let first = q.next(None).unwrap();
        play(&mut q, first, 1, false);
        let second = q.after_end(StreamId(1), SongId(5)).unwrap();
        play(&mut q, second, 2, true);
        q.stop_at(Some(StreamId(1)));
        assert_eq!(q.resume_point().map(|p| p.song), Some(SongId(5)), "the song heard, not the one received");
        assert_eq!(q.first_unplayed().map(|p| p.song), Some(SongId(6)));
    }

    #[test]
    fn repeat_parses_as_mpc_says_it() {
        assert_eq!("all".parse(), Ok(Repeat::All));
        assert_eq!("single".parse(), Ok(Repeat::One));
        assert!("sometimes".parse::<Repeat>().is_err());
    }
}
