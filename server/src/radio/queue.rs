//! What the station plays next, without I/O: the listeners' requests in a fair order
//! ([`Requests`]), and a shuffle of the library for when nobody has asked ([`ShuffleBag`]).
//! RFC §7.5.3 states the rules; the tests below hold them.

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;

use jukebox_protocol::SongId;

/// Songs one requester may have waiting at once, so that one person cannot fill the hour.
pub const PER_REQUESTER: usize = 3;

/// Songs the queue holds in all: a bound on memory and on the length of a QUEUE reply.
pub const MAX_QUEUE: usize = 100;

/// Who asked for a song. Counted by address, across the native protocol and HTTP, so that
/// reconnecting or switching from the client to the web page does not reset a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Requester(IpAddr);

impl Requester {
    /// The requester at `ip`; an IPv4 address seen through an IPv6 socket counts as itself.
    pub fn new(ip: IpAddr) -> Requester {
        Requester(ip.to_canonical())
    }

    /// The address, for logs.
    pub fn ip(&self) -> IpAddr {
        self.0
    }
}

/// Why a request was refused (RFC §6.1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// On the air, about to be, or waiting in the queue.
    AlreadyQueued,
    /// The requester already has [`PER_REQUESTER`] songs waiting.
    Limit,
    /// The queue holds [`MAX_QUEUE`] songs.
    Full,
}

/// The requests waiting, one line per requester, served in turns: the play order takes the
/// first song of each line, then the second of each, and so on. A requester who has had a
/// song played this round waits until everyone waiting has had theirs: a newcomer's line goes
/// before the lines of those already served this round, after those still waiting their turn.
#[derive(Debug, Default, Clone)]
pub struct Requests {
    /// Lines not yet served this round first, in turn order; then the served ones.
    lines: VecDeque<(Requester, VecDeque<SongId>)>,
    /// Requesters who have had a song taken this round.
    served: HashSet<Requester>,
    len: usize,
}

impl Requests {
    /// Adds `song` for `requester`, unless a rule refuses it; `busy` says whether the song is
    /// on the air or about to be, `elsewhere` how many of the requester's songs wait outside
    /// this queue (taken from it, not yet on the air). Returns its place in the play order,
    /// from 1.
    pub fn push(
        &mut self,
        requester: Requester,
        song: SongId,
        busy: impl Fn(SongId) -> bool,
        elsewhere: usize,
    ) -> Result<usize, Refusal> {
        if busy(song) || self.contains(song) {
            return Err(Refusal::AlreadyQueued);
        }
        if self.waiting_for(requester) + elsewhere >= PER_REQUESTER {
            return Err(Refusal::Limit);
        }
        if self.len >= MAX_QUEUE {
            return Err(Refusal::Full);
        }
        match self.lines.iter_mut().find(|(who, _)| *who == requester) {
            Some((_, line)) => line.push_back(song),
            None => {
                let at = self
                    .lines
                    .iter()
                    .position(|(who, _)| self.served.contains(who))
                    .unwrap_or(self.lines.len());
                self.lines.insert(at, (requester, VecDeque::from([song])));
            }
        }
        self.len += 1;
        Ok(self.order().position(|(_, s)| s == song).map_or(self.len, |i| i + 1))
    }

    /// Takes the song that plays next, and who asked for it. Its requester's turn is over:
    /// the line moves to the end of the round.
    pub fn pop(&mut self) -> Option<(Requester, SongId)> {
        let (requester, mut line) = self.lines.pop_front()?;
        let song = line.pop_front()?;
        self.len -= 1;
        // The next in turn has been served already: everyone waiting has, a new round begins.
        if self.served.contains(&requester) {
            self.served.clear();
        }
        self.served.insert(requester);
        if !line.is_empty() {
            self.lines.push_back((requester, line));
        }
        if self.lines.is_empty() {
            // Nobody waits: the round is over, and the next requests start a new one.
            self.served.clear();
        }
        Some((requester, song))
    }

    /// Counts a song `requester` got outside the queue (a song the shuffle had picked, granted
    /// to them) as their turn this round.
    pub fn served(&mut self, requester: Requester) {
        if self.lines.front().is_some_and(|(who, _)| self.served.contains(who)) {
            self.served.clear();
        }
        self.served.insert(requester);
        if let Some(at) = self.lines.iter().position(|(who, _)| *who == requester)
            && let Some(line) = self.lines.remove(at)
        {
            self.lines.push_back(line);
        }
    }

    /// The songs waiting, in the order they will play.
    pub fn order(&self) -> impl Iterator<Item = (Requester, SongId)> + '_ {
        let depth = self.lines.iter().map(|(_, line)| line.len()).max().unwrap_or(0);
        (0..depth).flat_map(move |round| {
            self.lines.iter().filter_map(move |(who, line)| line.get(round).map(|&song| (*who, song)))
        })
    }

    /// Forgets songs for which `keep` is false (gone from the library after a rescan).
    pub fn retain(&mut self, mut keep: impl FnMut(SongId) -> bool) {
        for (_, line) in &mut self.lines {
            line.retain(|&song| keep(song));
        }
        self.lines.retain(|(_, line)| !line.is_empty());
        self.len = self.lines.iter().map(|(_, line)| line.len()).sum();
        if self.lines.is_empty() {
            self.served.clear();
        }
    }

    /// Whether `song` is waiting.
    pub fn contains(&self, song: SongId) -> bool {
        self.lines.iter().any(|(_, line)| line.contains(&song))
    }

    /// How many songs `requester` has waiting.
    pub fn waiting_for(&self, requester: Requester) -> usize {
        self.lines.iter().find(|(who, _)| *who == requester).map_or(0, |(_, line)| line.len())
    }

    /// Songs waiting in all.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nobody has asked for anything.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The songs for when the queue is empty: the library shuffled, played through before any
/// song repeats (songs that play on request count as played), then shuffled again, taking
/// care that the last song of one round is not the first of the next.
#[derive(Debug, Default)]
pub struct ShuffleBag {
    bag: Vec<SongId>,
    played: HashSet<SongId>,
    last: Option<SongId>,
}

impl ShuffleBag {
    /// The next song of the library `songs` (ids in any order), skipping those `busy` says are
    /// on the air or queued; `None` only when no song qualifies.
    pub fn next(
        &mut self,
        songs: &[SongId],
        rng: &mut fastrand::Rng,
        busy: impl Fn(SongId) -> bool,
    ) -> Option<SongId> {
        for refilled in [false, true] {
            if refilled {
                self.refill(songs, rng);
            }
            let library: HashSet<SongId> = songs.iter().copied().collect();
            while let Some(song) = self.bag.pop() {
                if library.contains(&song) && !self.played.contains(&song) && !busy(song) {
                    self.played(song);
                    return Some(song);
                }
            }
        }
        None
    }

    /// Notes that `song` played (on request), so the shuffle does not repeat it this round.
    pub fn played(&mut self, song: SongId) {
        self.played.insert(song);
        self.last = Some(song);
    }

    fn refill(&mut self, songs: &[SongId], rng: &mut fastrand::Rng) {
        self.played.clear();
        self.bag = songs.to_vec();
        rng.shuffle(&mut self.bag);
        // Drawn from the end: the song that just played goes to the front, drawn last.
        if let Some(pos) = self.last.and_then(|last| self.bag.iter().position(|&s| s == last)) {
            let last = self.bag.remove(pos);
            self.bag.insert(0, last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(n: u8) -> Requester {
        Requester::new(IpAddr::from([127, 0, 0, n]))
    }

    fn free(_: SongId) -> bool {
        false
    }

    fn ids(requests: &Requests) -> Vec<u32> {
        requests.order().map(|(_, s)| s.0).collect()
    }

    #[test]
    fn one_requester_is_played_in_the_order_asked() {
        let mut q = Requests::default();
        assert_eq!(q.push(who(1), SongId(5), free, 0), Ok(1));
        assert_eq!(q.push(who(1), SongId(3), free, 0), Ok(2));
        assert_eq!(q.pop(), Some((who(1), SongId(5))));
        assert_eq!(q.pop(), Some((who(1), SongId(3))));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn requesters_take_turns_and_a_newcomer_joins_the_end_of_the_round() {
        let mut q = Requests::default();
        for song in [1, 2, 3] {
            q.push(who(1), SongId(song), free, 0).unwrap();
        }
        // B's first song goes before A's second.
        assert_eq!(q.push(who(2), SongId(10), free, 0), Ok(2));
        assert_eq!(q.push(who(2), SongId(11), free, 0), Ok(4));
        assert_eq!(q.push(who(3), SongId(20), free, 0), Ok(3));
        assert_eq!(ids(&q), [1, 10, 20, 2, 11, 3]);
        let mut played = Vec::new();
        while let Some((_, song)) = q.pop() {
            played.push(song.0);
        }
        assert_eq!(played, [1, 10, 20, 2, 11, 3], "the order shown is the order played");
    }

    #[test]
    fn a_requester_who_has_just_had_a_turn_waits_for_the_others() {
        let mut q = Requests::default();
        q.push(who(1), SongId(1), free, 0).unwrap();
        q.push(who(2), SongId(2), free, 0).unwrap();
        assert_eq!(q.pop(), Some((who(1), SongId(1))));
        // A asks again while B waits: B first.
        assert_eq!(q.push(who(1), SongId(3), free, 0), Ok(2));
        assert_eq!(ids(&q), [2, 3]);
    }

    #[test]
    fn a_newcomer_goes_before_those_already_served_this_round() {
        let mut q = Requests::default();
        q.push(who(1), SongId(1), free, 0).unwrap();
        q.push(who(1), SongId(2), free, 0).unwrap();
        assert_eq!(q.pop(), Some((who(1), SongId(1))));
        // A has had her turn; B, new, plays before A's second song.
        assert_eq!(q.push(who(2), SongId(10), free, 0), Ok(1));
        q.push(who(3), SongId(20), free, 0).unwrap();
        assert_eq!(ids(&q), [10, 20, 2]);
        assert_eq!(q.pop(), Some((who(2), SongId(10))));
        assert_eq!(q.pop(), Some((who(3), SongId(20))));
        // A newcomer still goes before A, who has had a song this round.
        q.push(who(4), SongId(30), free, 0).unwrap();
        assert_eq!(ids(&q), [30, 2]);
        assert_eq!(q.pop(), Some((who(4), SongId(30))));
        // Now everyone waiting has been served: a new round, in which A plays before anyone new.
        assert_eq!(q.pop(), Some((who(1), SongId(2))));
    }

    #[test]
    fn duplicates_limits_and_a_full_queue_are_refused() {
        let mut q = Requests::default();
        q.push(who(1), SongId(1), free, 0).unwrap();
        assert_eq!(q.push(who(2), SongId(1), free, 0), Err(Refusal::AlreadyQueued));
        assert_eq!(
            q.push(who(2), SongId(9), |s| s == SongId(9), 0),
            Err(Refusal::AlreadyQueued),
            "on the air"
        );
        q.push(who(1), SongId(2), free, 0).unwrap();
        q.push(who(1), SongId(3), free, 0).unwrap();
        assert_eq!(q.push(who(1), SongId(4), free, 0), Err(Refusal::Limit));
        assert_eq!(q.len(), 3, "a refusal changes nothing");
        let mut n = 100u32;
        let mut host = 2u8;
        while q.len() < MAX_QUEUE {
            q.push(who(host), SongId(n), free, 0).unwrap();
            n += 1;
            if q.waiting_for(who(host)) == PER_REQUESTER {
                host += 1;
            }
        }
        assert_eq!(q.push(who(250), SongId(99_999), free, 0), Err(Refusal::Full));
    }

    #[test]
    fn songs_gone_from_the_library_leave_the_queue_and_the_rest_keep_their_order() {
        let mut q = Requests::default();
        for (h, s) in [(1, 1), (1, 2), (2, 3), (2, 4)] {
            q.push(who(h), SongId(s), free, 0).unwrap();
        }
        q.retain(|s| s != SongId(1) && s != SongId(3));
        assert_eq!(ids(&q), [2, 4]);
        assert_eq!(q.len(), 2);
        q.retain(|_| false);
        assert!(q.is_empty() && q.pop().is_none());
    }

    #[test]
    fn the_shuffle_plays_every_song_before_repeating_and_skips_busy_ones() {
        let songs: Vec<SongId> = (1..=20).map(SongId).collect();
        let mut bag = ShuffleBag::default();
        let mut rng = fastrand::Rng::with_seed(7);
        bag.played(SongId(4)); // requested earlier in this round
        let round: Vec<SongId> =
            (0..18).map(|_| bag.next(&songs, &mut rng, |s| s == SongId(9)).unwrap()).collect();
        let distinct: HashSet<_> = round.iter().collect();
        assert_eq!(distinct.len(), 18, "no repeat within a round");
        assert!(!round.contains(&SongId(4)) && !round.contains(&SongId(9)));
        // The round is over (9 was busy all along): a new one starts, without the last song first.
        let last = *round.last().unwrap();
        let next = bag.next(&songs, &mut rng, free).unwrap();
        assert_ne!(next, last);
    }

    #[test]
    fn the_shuffle_follows_the_library_and_gives_up_only_when_nothing_qualifies() {
        let mut bag = ShuffleBag::default();
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(bag.next(&[], &mut rng, free), None);
        let one = [SongId(7)];
        assert_eq!(bag.next(&one, &mut rng, free), Some(SongId(7)));
        assert_eq!(bag.next(&one, &mut rng, free), Some(SongId(7)), "a library of one repeats");
        assert_eq!(bag.next(&one, &mut rng, |_| true), None);
        // Songs removed by a rescan are never drawn, new ones are.
        let songs: Vec<SongId> = (1..=5).map(SongId).collect();
        bag.next(&songs, &mut rng, free).unwrap();
        let fewer = [SongId(1), SongId(2), SongId(30)];
        for _ in 0..6 {
            assert!(fewer.contains(&bag.next(&fewer, &mut rng, free).unwrap()));
        }
    }
}
