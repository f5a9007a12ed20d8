//! The decoded audio waiting to be played, shared by the decoder (producer) and the output
//! (consumer), and the playback state that `status` and `wait` read.
//!
//! Every sample is tagged by the stream it came from: switching streams empties the queue at
//! once and bumps a generation counter, so neither a decoder still working on the old stream
//! nor an output holding a few old samples can make old audio heard after the switch.
//!
//! Pausing is the queue's too: a paused queue hands the output silence, so a sound card plays
//! it and the WAV output records it (its clock runs on), and keeps every sample it holds for the
//! moment it resumes, which plays the very next sample.
//!
//! On the radio the queue also holds the station's songs that playback has not reached yet,
//! each at the sample where it begins (the decoder works that out from TRACK_CHANGED and the
//! chunks' station times): the output's [`PcmQueue::take`] makes a song the one heard, and
//! announces it, when it takes that sample to play.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jukebox_protocol::{SongId, StreamId};

use crate::level::{Level, scale};
use crate::playlist::Ahead;
use crate::{Event, EventSender};

/// Every output plays this format, 44.1 kHz interleaved stereo; the decoder's
/// [`jukebox_codec::Resampler`] converts to it.
pub use jukebox_codec::{CHANNELS, SAMPLE_RATE};

/// A decoder waits when this much audio is queued: a server that ignores pacing is slowed by
/// TCP instead of filling memory.
const MAX_QUEUED_SAMPLES: usize = 20 * SAMPLE_RATE as usize * CHANNELS as usize;

/// The most songs of a radio stream that may wait to be reached. A station announces a song
/// every few minutes and the queue holds seconds of audio, so a few are ever waiting; a
/// server that announces more is flooding, and the oldest waiting are forgotten.
pub const MAX_WAITING_SONGS: usize = 64;

/// What is playing, as PLAYING described it, or, on the radio, as TRACK_CHANGED did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NowPlaying {
    /// The stream the audio comes from.
    pub stream: StreamId,
    /// The song.
    pub song: SongId,
    /// Its title.
    pub title: String,
    /// Its artist.
    pub artist: String,
    /// Its length.
    pub duration: Duration,
}

#[derive(Debug, Default)]
struct State {
    /// The current stream.
    stream: Option<StreamId>,
    /// What it plays: PLAY's song, or the station's song that playback has reached (none
    /// before the first).
    now: Option<NowPlaying>,
    /// Set while the current stream is a radio stream.
    radio: Option<Radio>,
    samples: VecDeque<i16>,
    /// All of the current stream has been decoded into `samples`.
    input_done: bool,
    /// Frames (sample pairs) played since the last switch, of the current stream and of the
    /// streams appended to it.
    played_frames: u64,
    /// Frames pushed since the last switch.
    pushed_frames: u64,
    /// The frame (counted as `played_frames`) where the song heard now began.
    song_start: u64,
    /// Where in the song heard its first sample is: PLAYING's Start ms.
    start: Duration,
    /// Songs appended (the play queue's next), each with the frame, counted as `pushed_frames`,
    /// where it begins: played when the output reaches it.
    following: VecDeque<(u64, NowPlaying)>,
    /// A song to append has been asked for: `wait` waits for it too.
    more_coming: bool,
}

/// What the queue knows of a radio stream.
#[derive(Debug, Default)]
struct Radio {
    /// Songs not reached yet, in order, each with the frame of the stream where it begins.
    waiting: VecDeque<(i64, NowPlaying)>,
    /// The frame of the stream where the song heard now began; before the stream's first
    /// frame (negative) when it began before the burst.
    song_start: i64,
}

/// A snapshot for `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The song, if one is playing.
    pub now: Option<NowPlaying>,
    /// How much of it has been heard (on the radio: since the song began, before the client
    /// tuned in too).
    pub elapsed: Duration,
    /// Decoded audio waiting to be played.
    pub buffered: Duration,
    /// The current stream is the station's.
    pub tuned: bool,
    /// Playback is paused: the output plays silence and the queue keeps its place.
    pub paused: bool,
}

/// Decoded audio and playback state.
#[derive(Debug)]
pub struct PcmQueue {
    state: Mutex<State>,
    changed: Condvar,
    generation: AtomicU64,
    /// Read by the output on every sample, so that a pause is heard at once.
    paused: AtomicBool,
    /// The volume, applied as the output takes samples, and the ReplayGain mode, which the
    /// decoder applies.
    level: Level,
    events: EventSender,
}

impl PcmQueue {
    /// An empty queue that reports finished songs to `events`.
    pub fn new(events: EventSender) -> PcmQueue {
        PcmQueue {
            state: Mutex::default(),
            changed: Condvar::new(),
            generation: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            level: Level::default(),
            events,
        }
    }

    /// The volume and the ReplayGain mode.
    pub fn level(&self) -> &Level {
        &self.level
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Samples are plain data; after a panic elsewhere the queue is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `now` the current stream, dropping everything queued from the previous one.
    pub fn start(&self, now: NowPlaying) {
        self.start_at(now, Duration::ZERO);
    }

    /// [`PcmQueue::start`] of a stream whose first sample is `start` into the song (SEEK's
    /// PLAYING), so that `status` shows, and `seek +10` counts from, the position in the song.
    pub fn start_at(&self, now: NowPlaying, start: Duration) {
        self.switch(now.stream, Some(now), None, start);
    }

    /// Makes `stream`, a radio stream, the current stream, dropping everything queued from
    /// the previous one. What it plays is known once playback reaches the first song
    /// [`PcmQueue::announce`]d.
    pub fn tune(&self, stream: StreamId) {
        self.switch(stream, None, Some(Radio::default()), Duration::ZERO);
    }

    fn switch(&self, stream: StreamId, now: Option<NowPlaying>, radio: Option<Radio>, start: Duration) {
        let mut state = self.lock();
        *state = State { stream: Some(stream), now, radio, start, ..State::default() };
        // A new stream plays at once, as on the server (RFC §6.1.10).
        self.paused.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_all();
    }

    /// Silences at once: nothing is current afterwards. Returns what was playing.
    pub fn stop(&self) -> Option<NowPlaying> {
        let mut state = self.lock();
        state.samples.clear();
        state.stream = None;
        state.radio = None;
        state.following.clear();
        state.more_coming = false;
        self.paused.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_all();
        state.now.take()
    }

    /// Makes `now`'s stream the current stream without a gap: its samples are played right
    /// after the last of the stream before (whose input is complete), and it becomes the song
    /// heard, with [`Event::Finished`] for the one before and [`Event::Advanced`] for it, when
    /// the output takes its first sample. A pause stays. When everything before has been
    /// played already, it simply starts.
    ///
    /// `generation` is [`PcmQueue::generation`] when the song was appended (the socket thread
    /// reads its PLAYING before the decoder gets here): if a switch or a stop came since, the
    /// song was appended to what is no longer playing, and nothing happens. Returns whether
    /// the song was appended.
    pub fn append(&self, now: NowPlaying, generation: u64) -> bool {
        let mut state = self.lock();
        if self.generation() != generation {
            return false;
        }
        if state.now.is_none() || state.radio.is_some() {
            // Nothing left to follow: the song starts as a new stream would, but a pause stays.
            self.events.send(Event::Advanced(now.clone()));
            *state = State { stream: Some(now.stream), now: Some(now), ..State::default() };
        } else {
            state.more_coming = false;
            state.input_done = false;
            state.stream = Some(now.stream);
            let at = state.pushed_frames;
            state.following.push_back((at, now));
        }
        self.changed.notify_all();
        true
    }

    /// Says that a song to append has been asked for (or that it will not come after all), so
    /// that [`PcmQueue::wait_idle`] waits for it too.
    pub fn expect_more(&self, coming: bool) {
        self.lock().more_coming = coming;
        self.changed.notify_all();
    }

    /// Pauses playback at once: from the next sample the output takes, it gets silence, and
    /// what is queued waits. False when nothing is current, which stays unpaused.
    pub fn pause(&self) -> bool {
        let state = self.lock();
        if state.stream.is_none() {
            return false;
        }
        self.paused.store(true, Ordering::SeqCst);
        true
    }

    /// Ends a pause: the output's next sample is the one after the last it played. False
    /// when playback was not paused.
    pub fn resume(&self) -> bool {
        let was = self.paused.swap(false, Ordering::SeqCst);
        self.changed.notify_all();
        was
    }

    /// Whether playback is paused; cheap enough for an audio callback to ask every sample.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// On the radio stream `stream`: the song `now` begins at frame `frame` of the stream
    /// (counted from its first decoded frame, as [`PcmQueue::push`] receives them; negative
    /// when it began before). It becomes the song heard, and [`Event::TrackChanged`] is sent,
    /// when the output takes that frame to play. Announcements must come in the order of
    /// their frames; one for a stream that is not current, or not a radio stream, is dropped.
    pub fn announce(&self, stream: StreamId, frame: i64, now: NowPlaying) {
        let mut state = self.lock();
        if state.stream != Some(stream) {
            return;
        }
        let Some(radio) = state.radio.as_mut() else { return };
        if radio.waiting.len() == MAX_WAITING_SONGS {
            radio.waiting.pop_front();
        }
        radio.waiting.push_back((frame, now));
    }

    /// Counts switches and stops: an output that buffers samples locally drops them when this
    /// changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// What is held ahead of what is heard, for the play queue to decide when to ask for the
    /// next song.
    pub fn ahead(&self) -> Ahead {
        let state = self.lock();
        Ahead {
            idle: state.stream.is_none(),
            paused: self.is_paused(),
            appended: !state.following.is_empty(),
            buffered: frames_to_duration((state.samples.len() / usize::from(CHANNELS)) as u64),
        }
    }

    /// Whether a stream that has begun to play has run out of samples before its end: the
    /// network is late, and the output plays silence that was not in the song. (Before a new
    /// stream's first sample, the wait is the switch's, and does not count.)
    pub fn is_starving(&self) -> bool {
        let state = self.lock();
        state.stream.is_some() && state.played_frames > 0 && state.samples.is_empty()
    }

    /// The current stream, if any.
    pub fn current_stream(&self) -> Option<StreamId> {
        self.lock().stream
    }

    /// Appends decoded samples of `stream`, waiting while the queue is full. Samples of a
    /// stream that is no longer current are dropped.
    pub fn push(&self, stream: StreamId, samples: &[i16]) {
        let mut state = self.lock();
        loop {
            if state.stream != Some(stream) {
                return;
            }
            if state.samples.len() < MAX_QUEUED_SAMPLES {
                state.samples.extend(samples);
                state.pushed_frames += (samples.len() / usize::from(CHANNELS)) as u64;
                return;
            }
            state = self.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Everything of `stream` has been pushed; once played out, the song has finished.
    pub fn finish_input(&self, stream: StreamId) {
        let mut state = self.lock();
        if state.stream == Some(stream) {
            state.input_done = true;
            self.changed.notify_all();
        }
    }

    /// Moves up to `out.len()` samples into `out`, for an output that is playing them now,
    /// and returns how many. When the current song has been played out, it is no longer
    /// current and [`Event::Finished`] is sent, before anyone waiting in
    /// [`PcmQueue::wait_idle`] can see the change, so a script prints it in order. On the
    /// radio, a song whose first frame is among those taken becomes the song heard, and
    /// [`Event::TrackChanged`] is sent.
    ///
    /// While paused it fills `out` with silence and returns its length: the output plays (or
    /// records) the pause, and nothing queued is used or finishes.
    pub fn take(&self, out: &mut [i16]) -> usize {
        let mut state = self.lock();
        if self.is_paused() {
            out.fill(0);
            return out.len();
        }
        let n = out.len().min(state.samples.len());
        for (slot, sample) in out.iter_mut().zip(state.samples.drain(..n)) {
            *slot = sample;
        }
        scale(&mut out[..n], f64::from(self.level.volume()) / 100.0);
        state.played_frames += (n / usize::from(CHANNELS)) as u64;
        if n > 0 {
            self.reach_songs(&mut state);
            self.reach_following(&mut state);
        }
        if n < out.len() && state.input_done && !state.more_coming {
            state.input_done = false;
            state.stream = None;
            // Never blocks the audio thread.
            if state.radio.take().is_some() {
                state.now = None;
                self.events.send(Event::StationEnded);
            } else if let Some(now) = state.now.take() {
                self.events.send(Event::Finished(now));
            }
        }
        if n > 0 || state.stream.is_none() {
            self.changed.notify_all();
        }
        n
    }

    /// The radio's songs that begin in the frames just taken (or before): the last of them is
    /// heard now. Each is announced, in order: a song shorter than a block was heard too.
    fn reach_songs(&self, state: &mut State) {
        let played = i64::try_from(state.played_frames).unwrap_or(i64::MAX);
        let Some(radio) = state.radio.as_mut() else { return };
        while let Some((frame, _)) = radio.waiting.front() {
            if *frame >= played {
                break;
            }
            let Some((frame, now)) = radio.waiting.pop_front() else { break };
            radio.song_start = frame;
            self.events.send(Event::TrackChanged(now.clone()));
            state.now = Some(now);
        }
    }

    /// The appended songs whose first frame is among those taken: each in turn is the song
    /// heard, and the one before it has finished.
    fn reach_following(&self, state: &mut State) {
        while let Some((frame, _)) = state.following.front() {
            if *frame >= state.played_frames {
                break;
            }
            let Some((frame, now)) = state.following.pop_front() else { break };
            if let Some(before) = state.now.take() {
                self.events.send(Event::Finished(before));
            }
            self.events.send(Event::Advanced(now.clone()));
            state.now = Some(now);
            state.song_start = frame;
            state.start = Duration::ZERO;
        }
    }

    /// What is playing and how far it has got.
    pub fn status(&self) -> Status {
        let state = self.lock();
        let played = match &state.radio {
            // Frames since the song began: `song_start` is at most what was played when it
            // was reached, or before the stream began.
            Some(radio) => u64::try_from(
                i64::try_from(state.played_frames).unwrap_or(i64::MAX).saturating_sub(radio.song_start),
            )
            .unwrap_or(0),
            None => state.played_frames.saturating_sub(state.song_start),
        };
        Status {
            now: state.now.clone(),
            elapsed: state.start + frames_to_duration(played),
            buffered: frames_to_duration((state.samples.len() / usize::from(CHANNELS)) as u64),
            tuned: state.radio.is_some(),
            paused: self.is_paused(),
        }
    }

    /// Wakes whoever waits in [`PcmQueue::wait_idle`], to check its `give_up` at once.
    pub fn wake(&self) {
        self.changed.notify_all();
    }

    /// Blocks until nothing is current (the song ended and was played out, or was stopped),
    /// or until `give_up` returns true (checked every 100 ms).
    pub fn wait_idle(&self, give_up: impl Fn() -> bool) {
        let mut state = self.lock();
        while (state.stream.is_some() || state.more_coming) && !give_up() {
            state = self
                .changed
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

fn frames_to_duration(frames: u64) -> Duration {
    Duration::from_nanos(frames * 1_000_000_000 / u64::from(SAMPLE_RATE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now(stream: u32) -> NowPlaying {
        NowPlaying {
            stream: StreamId(stream),
            song: SongId(1),
            title: "t".into(),
            artist: String::new(),
            duration: Duration::from_secs(1),
        }
    }

    fn queue() -> (PcmQueue, crate::EventReceiver) {
        let (tx, rx) = crate::event_channel();
        (PcmQueue::new(tx), rx)
    }

    #[test]
    fn switching_drops_queued_and_late_samples_of_the_old_stream() {
        let (queue, _) = queue();
        queue.start(now(1));
        queue.push(StreamId(1), &[1, 1, 1, 1]);
        let before = queue.generation();
        queue.start(now(2));
        assert_ne!(queue.generation(), before);
        queue.push(StreamId(1), &[1, 1]);
        queue.push(StreamId(2), &[2, 2]);
        let mut out = [0i16; 8];
        assert_eq!(queue.take(&mut out), 2);
        assert_eq!(&out[..2], &[2, 2]);
    }

    #[test]
    fn a_song_finishes_once_its_input_is_done_and_played_out() {
        let (queue, events) = queue();
        queue.start(now(1));
        queue.push(StreamId(1), &[5; 88_200]);
        queue.finish_input(StreamId(1));
        let mut out = vec![0i16; 88_200];
        assert_eq!(queue.take(&mut out), 88_200);
        assert_eq!(queue.status().elapsed, Duration::from_secs(1));
        assert_eq!(events.try_next(), None);
        assert_eq!(queue.take(&mut out), 0);
        assert_eq!(events.try_next(), Some(Event::Finished(now(1))));
        assert_eq!(queue.status().now, None);
        queue.wait_idle(|| false);
    }

    #[test]
    fn an_appended_song_follows_the_last_sample_of_the_one_before() {
        let (queue, events) = queue();
        queue.start(now(1));
        queue.push(StreamId(1), &[1; 8]);
        queue.finish_input(StreamId(1));
        // The next song is asked for: the first may run out meanwhile without ending.
        queue.expect_more(true);
        let mut out = [0i16; 12];
        assert_eq!(queue.take(&mut out), 8);
        assert_eq!(queue.take(&mut out), 0);
        assert_eq!(events.try_next(), None, "nothing ended while the next song is coming");
        assert_eq!(queue.status().now, Some(now(1)));
        queue.append(now(2), queue.generation());
        queue.push(StreamId(1), &[9; 4]);
        queue.push(StreamId(2), &[2; 6]);
        queue.finish_input(StreamId(2));
        assert_eq!(queue.take(&mut out[..2]), 2);
        assert_eq!(out[..2], [2, 2], "no sample of the old stream after the new one was appended");
        assert_eq!(events.try_next(), Some(Event::Finished(now(1))));
        assert_eq!(events.try_next(), Some(Event::Advanced(now(2))));
        assert_eq!(queue.status().now, Some(now(2)));
        assert_eq!(queue.status().elapsed, frames_to_duration(1), "counted from the new song's start");
        // Appended while the one before still plays: heard exactly after its last sample.
        queue.append(now(3), queue.generation());
        queue.push(StreamId(3), &[3; 4]);
        let mut out = [0i16; 6];
        assert_eq!(queue.take(&mut out), 6);
        assert_eq!(out, [2, 2, 2, 2, 3, 3]);
        assert_eq!(events.try_next(), Some(Event::Finished(now(2))));
        assert_eq!(events.try_next(), Some(Event::Advanced(now(3))));
    }

    #[test]
    fn a_song_appended_before_a_switch_is_not_played_after_it() {
        let (queue, events) = queue();
        queue.start(now(1));
        let appended_to = queue.generation();
        queue.start(now(2));
        assert!(!queue.append(now(3), appended_to));
        queue.push(StreamId(2), &[2; 4]);
        queue.push(StreamId(3), &[3; 4]);
        let mut out = [0i16; 8];
        assert_eq!(queue.take(&mut out), 4);
        assert_eq!(out[..4], [2; 4]);
        assert_eq!(events.try_next(), None);
        let stopped = queue.generation();
        queue.stop();
        assert!(!queue.append(now(3), stopped), "nor after a stop");
        assert_eq!(queue.status().now, None);
    }

    #[test]
    fn an_appended_song_starts_at_once_when_the_one_before_has_ended() {
        let (queue, events) = queue();
        queue.start(now(1));
        queue.push(StreamId(1), &[1; 4]);
        queue.finish_input(StreamId(1));
        let mut out = [0i16; 8];
        assert_eq!(queue.take(&mut out), 4);
        assert_eq!(events.try_next(), Some(Event::Finished(now(1))));
        queue.append(now(2), queue.generation());
        assert_eq!(events.try_next(), Some(Event::Advanced(now(2))));
        queue.push(StreamId(2), &[2; 4]);
        assert_eq!(queue.take(&mut out), 4);
        assert_eq!(out[..4], [2; 4]);
    }

    #[test]
    fn a_pause_plays_silence_and_resume_goes_on_with_the_next_sample() {
        let (queue, events) = queue();
        queue.start_at(now(1), Duration::from_secs(60));
        queue.push(StreamId(1), &[1, 2, 3, 4, 5, 6, 7, 8]);
        queue.finish_input(StreamId(1));
        let mut out = [9i16; 4];
        assert_eq!(queue.take(&mut out), 4);
        assert!(queue.pause());
        assert!(queue.status().paused);
        // However long the pause, silence, and the song neither advances nor finishes.
        for _ in 0..3 {
            assert_eq!(queue.take(&mut out), 4);
            assert_eq!(out, [0; 4]);
        }
        assert_eq!(events.try_next(), None);
        assert_eq!(queue.status().elapsed, Duration::from_secs(60) + frames_to_duration(2));
        assert!(queue.resume());
        assert!(!queue.resume(), "only once");
        assert_eq!(queue.take(&mut out), 4);
        assert_eq!(out, [5, 6, 7, 8], "the very next sample");
        assert_eq!(queue.take(&mut out), 0);
        assert_eq!(events.try_next(), Some(Event::Finished(now(1))));
        // Nothing current: nothing to pause. A new stream is never paused.
        assert!(!queue.pause());
        queue.start(now(2));
        assert!(queue.pause());
        queue.start(now(3));
        assert!(!queue.status().paused);
        assert_eq!(queue.status().elapsed, Duration::ZERO, "a PLAY's stream starts at 0");
    }

    #[test]
    fn stop_silences_at_once() {
        let (queue, events) = queue();
        queue.start(now(1));
        queue.push(StreamId(1), &[3; 100]);
        assert_eq!(queue.stop(), Some(now(1)));
        let mut out = [0i16; 8];
        assert_eq!(queue.take(&mut out), 0);
        assert_eq!(events.try_next(), None, "a stopped song did not finish");
    }

    fn song(stream: u32, id: u32) -> NowPlaying {
        NowPlaying { song: SongId(id), ..now(stream) }
    }

    #[test]
    fn a_radio_song_is_announced_when_its_first_frame_is_taken_to_play() {
        let (queue, events) = queue();
        queue.tune(StreamId(1));
        assert_eq!(queue.status().now, None);
        assert!(queue.status().tuned);
        // The song the burst begins in began 100 frames before it; the next at frame 1000.
        queue.announce(StreamId(1), -100, song(1, 7));
        queue.announce(StreamId(1), 1000, song(1, 8));
        // Not current: ignored, like its audio.
        queue.announce(StreamId(2), 10, song(2, 9));
        queue.push(StreamId(1), &[0; 2 * 2000]);
        assert_eq!(events.try_next(), None, "nothing is heard before the output takes it");
        let mut out = vec![0i16; 2 * 500];
        assert_eq!(queue.take(&mut out), 1000);
        assert_eq!(events.try_next(), Some(Event::TrackChanged(song(1, 7))));
        assert_eq!(queue.status().now, Some(song(1, 7)));
        assert_eq!(queue.status().elapsed, frames_to_duration(600), "heard since the song began");
        // Frames 500 to 999: the next song begins just after them.
        assert_eq!(queue.take(&mut out), 1000);
        assert_eq!(events.try_next(), None);
        assert_eq!(queue.take(&mut out[..2]), 2);
        assert_eq!(events.try_next(), Some(Event::TrackChanged(song(1, 8))));
        assert_eq!(queue.status().elapsed, frames_to_duration(1));
        assert_eq!(queue.take(&mut out), 1000);
        assert_eq!(events.try_next(), None, "the other stream's song is never announced");
    }

    #[test]
    fn leaving_the_radio_forgets_its_songs() {
        let (queue, events) = queue();
        queue.tune(StreamId(1));
        queue.announce(StreamId(1), 10, song(1, 7));
        queue.start(now(2));
        // PLAY's stream has no songs to announce.
        queue.announce(StreamId(2), 0, song(2, 8));
        queue.push(StreamId(2), &[0; 100]);
        let mut out = [0i16; 100];
        assert_eq!(queue.take(&mut out), 100);
        assert_eq!(events.try_next(), None);
        assert!(!queue.status().tuned);
        assert_eq!(queue.status().now, Some(now(2)));
    }

    #[test]
    fn a_radio_stream_that_ends_says_the_station_went_off_the_air() {
        let (queue, events) = queue();
        queue.tune(StreamId(1));
        queue.announce(StreamId(1), 0, song(1, 7));
        queue.push(StreamId(1), &[0; 10]);
        queue.finish_input(StreamId(1));
        let mut out = [0i16; 100];
        assert_eq!(queue.take(&mut out), 10);
        assert_eq!(events.try_next(), Some(Event::TrackChanged(song(1, 7))));
        assert_eq!(queue.take(&mut out), 0);
        assert_eq!(events.try_next(), Some(Event::StationEnded));
        assert_eq!(queue.status().now, None);
        assert!(!queue.status().tuned);
        queue.wait_idle(|| false);
    }

    #[test]
    fn a_flood_of_announcements_is_bounded() {
        let (queue, _events) = queue();
        queue.tune(StreamId(1));
        for frame in 0..10_000 {
            queue.announce(StreamId(1), frame, song(1, 1));
        }
        assert_eq!(queue.lock().radio.as_ref().map(|r| r.waiting.len()), Some(MAX_WAITING_SONGS));
    }
}
