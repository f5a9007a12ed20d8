//! Playback as the socket thread sees it: start, feed, end, stop. Decoding happens on the
//! decoder thread and sound on the output, so none of these calls waits for either (except
//! `feed` when the decoder is far behind, which slows the server down through TCP).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Sender, bounded};
use jukebox_protocol::{Audio, Playing, SongId, StreamId, TrackChanged};

use crate::EventSender;
use crate::decode::{self, DecodeCmd};
use crate::pcm::{NowPlaying, PcmQueue, Status};
use crate::playlist::Playlist;

/// Chunks that may wait for the decoder (a few seconds of audio).
const DECODE_QUEUE: usize = 64;

/// The playback pipeline of one client.
#[derive(Debug)]
pub struct Playback {
    queue: Arc<PcmQueue>,
    decoder: Sender<DecodeCmd>,
    /// The stream whose audio is being received, and its song (none on the radio). Not the
    /// queue's current stream: a stream appended to the one heard is received before the
    /// decoder has told the queue of it.
    receiving: Mutex<Option<(StreamId, Option<SongId>)>>,
    /// The play queue, which every connection of the session serves.
    playlist: Mutex<Playlist>,
    /// Wakes the follower thread of the connection of the moment (see
    /// [`crate::connection`]), to decide again when to ask for the play queue's next song.
    follower: Mutex<Option<Sender<()>>>,
}

impl Playback {
    /// Starts the decoder thread; outputs read from [`Playback::queue`]. Finished songs are
    /// reported to `events`.
    pub fn new(events: EventSender) -> std::io::Result<Playback> {
        let queue = Arc::new(PcmQueue::new(events));
        let (decoder, commands) = bounded(DECODE_QUEUE);
        let decoding = Arc::clone(&queue);
        thread::Builder::new().name("decoder".into()).spawn(move || decode::run(commands, decoding))?;
        Ok(Playback {
            queue,
            decoder,
            receiving: Mutex::new(None),
            playlist: Mutex::default(),
            follower: Mutex::new(None),
        })
    }

    /// Makes `follower` the one [`Playback::wake_follower`] wakes (a new connection's).
    pub fn set_follower(&self, follower: Sender<()>) {
        *self.follower.lock().unwrap_or_else(PoisonError::into_inner) = Some(follower);
    }

    /// Tells the play queue's follower that something changed: a song arrived whole, songs
    /// were added, the repeat mode changed. Never blocks.
    pub fn wake_follower(&self) {
        if let Some(follower) = self.follower.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            let _ = follower.try_send(());
        }
    }

    /// What is held ahead of what is heard.
    pub fn ahead(&self) -> crate::playlist::Ahead {
        self.queue.ahead()
    }

    /// Request `id`, for the play queue's `pick`, is a command's (`next`, `add`, a seek in a
    /// queue's song): it changes what plays, as [`Playback::switching`] says, and the queue
    /// knows its PLAYING as its own.
    pub fn switching_to(&self, id: jukebox_protocol::RequestId, pick: crate::playlist::Pick) {
        self.playlist().ask(id, pick, false);
        self.queue.expect_more(false);
    }

    /// The user's request `id` changes what plays: the queue gives up its next song and asks
    /// for nothing until it is answered (see [`Playlist::switch_asked`]).
    pub fn switching(&self, id: jukebox_protocol::RequestId) {
        self.playlist().switch_asked(id);
        self.queue.expect_more(false);
    }

    /// The volume and the ReplayGain mode.
    pub fn level(&self) -> &crate::level::Level {
        self.queue.level()
    }

    /// The play queue; hold it briefly (the socket thread takes it too).
    pub fn playlist(&self) -> MutexGuard<'_, Playlist> {
        self.playlist.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn receiving(&self) -> MutexGuard<'_, Option<(StreamId, Option<SongId>)>> {
        self.receiving.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_receiving(&self, stream: StreamId) -> bool {
        self.receiving().is_some_and(|(s, _)| s == stream)
    }

    /// The song of `stream` when it is the stream being received and not the radio's: what
    /// the play queue follows when `stream` has arrived completely.
    pub fn song_received(&self, stream: StreamId) -> Option<SongId> {
        self.receiving().filter(|(s, _)| *s == stream).and_then(|(_, song)| song)
    }

    /// The decoded audio, for an output to play.
    pub fn queue(&self) -> Arc<PcmQueue> {
        Arc::clone(&self.queue)
    }

    /// A new stream replaces whatever played: silence now, then the new song, from the
    /// PLAYING's Start ms (a SEEK's stream begins part-way into the song).
    pub fn start(&self, playing: &Playing) {
        *self.receiving() = Some((playing.stream, Some(playing.song)));
        self.queue.start_at(now_playing(playing), Duration::from_millis(u64::from(playing.start_ms)));
        let _ = self.decoder.send(DecodeCmd::Start {
            stream: playing.stream,
            song: playing.song,
            part_way: playing.start_ms > 0,
            gain: playing.gain,
        });
    }

    /// A new stream follows the one received before without a gap (the play queue's next
    /// song): heard when playback gets to the end of the one before.
    pub fn append(&self, playing: &Playing) {
        *self.receiving() = Some((playing.stream, Some(playing.song)));
        let generation = self.queue.generation();
        let _ = self.decoder.send(DecodeCmd::Append {
            now: now_playing(playing),
            gain: playing.gain,
            generation,
        });
    }

    /// A song to append has been asked for, or will not come after all: `wait` waits for it.
    pub fn expect_more(&self, coming: bool) {
        self.queue.expect_more(coming);
    }

    /// Pauses playback at once (the output plays silence); false when nothing plays.
    pub fn pause(&self) -> bool {
        self.queue.pause()
    }

    /// Ends a pause: the next sample played is the one after the last; false when playback
    /// was not paused.
    pub fn resume(&self) -> bool {
        self.queue.resume()
    }

    /// A radio stream replaces whatever played: silence now, then the station.
    pub fn tune(&self, stream: StreamId) {
        *self.receiving() = Some((stream, None));
        self.queue.tune(stream);
        let _ = self.decoder.send(DecodeCmd::Tune(stream));
    }

    /// A chunk of audio; dropped unless its stream is the current stream.
    pub fn feed(&self, audio: Audio) {
        if self.is_receiving(audio.stream) {
            let _ = self.decoder.send(DecodeCmd::Data(audio));
        }
    }

    /// A song of the radio stream, to be shown when playback reaches it; dropped unless its
    /// stream is the current stream (RFC §6.3.4).
    pub fn track_changed(&self, track: TrackChanged) {
        if self.is_receiving(track.stream) {
            let _ = self.decoder.send(DecodeCmd::Track(track));
        }
    }

    /// `stream` has been received completely.
    pub fn end(&self, stream: StreamId) {
        if self.is_receiving(stream) {
            let _ = self.decoder.send(DecodeCmd::End(stream));
        }
    }

    /// Silence at once.
    pub fn stop(&self) -> Option<NowPlaying> {
        *self.receiving() = None;
        self.queue.stop()
    }

    /// What plays and how far it got.
    pub fn status(&self) -> Status {
        self.queue.status()
    }

    /// Makes [`Playback::wait`] check its `give_up` now (after Ctrl-C).
    pub fn wake(&self) {
        self.queue.wake();
    }

    /// Blocks until the current song has finished or was stopped, or `give_up` says so.
    pub fn wait(&self, give_up: impl Fn() -> bool) {
        self.queue.wait_idle(give_up);
    }
}

/// What the queue shows of a PLAYING's song.
fn now_playing(playing: &Playing) -> NowPlaying {
    NowPlaying {
        stream: playing.stream,
        song: playing.song,
        title: playing.title.clone(),
        artist: playing.artist.clone(),
        duration: Duration::from_millis(u64::from(playing.duration_ms)),
    }
}
