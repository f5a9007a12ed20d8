//! The decoder thread: MP3 frames in, 44.1 kHz stereo samples out into the [`PcmQueue`].
//!
//! minimp3 resets itself (losing the bit reservoir, and so audio) whenever it is handed part
//! of a frame, and chunks from the network need not end on a frame boundary, so the decoder
//! is handed exactly one whole frame per call: [`FrameSplitter`] cuts the received bytes into
//! frames and [`FrameDecoder`] decodes them.
//!
//! On the radio the decoder also keeps the station's clock (RFC §7.5.1): it counts the frames
//! it hands the queue, so that it knows at which of them each chunk's station time (AUDIO's
//! Position ms) sounds, and so at which frame each song announced by TRACK_CHANGED begins
//! ([`crate::radio::frame_at`]); it tells the queue, which announces the song when the output
//! gets there. To keep that count true, a radio frame that cannot be decoded plays as silence
//! of its length instead of being left out: the first frame of a burst never decodes (minimp3
//! needs the frame before it, which was never received); left out, it would make the client
//! play one frame (26 ms) ahead of the station time AUDIO gives, and the song announced for
//! the burst's first chunk a frame off.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;
use jukebox_protocol::mp3::{AUDIO_HEADER_LEN, AudioHeader};
use jukebox_protocol::{Audio, ReplayGain, SongId, StreamId, TrackChanged};

use jukebox_codec::{FrameDecoder, Resampler};

use crate::gapless::{self, Cut, Trimmer};
use crate::level::{gain_factor, scale};
use crate::pcm::{MAX_WAITING_SONGS, NowPlaying, PcmQueue};
use crate::radio::frame_at;

/// The songs whose cut the decoder remembers, for the streams that start part-way into them
/// (SEEK), which lack the first frame that says it. Beyond this many it forgets them all.
const REMEMBERED_CUTS: usize = 1024;

/// What the socket thread tells the decoder.
#[derive(Debug)]
pub enum DecodeCmd {
    /// A new stream begins; forget the old one.
    Start {
        /// The stream.
        stream: StreamId,
        /// Its song.
        song: SongId,
        /// It begins part-way into its song (SEEK): its first frame may not decode.
        part_way: bool,
        /// The song's ReplayGain, from PLAYING.
        gain: ReplayGain,
    },
    /// A stream that plays on from the end of the one before, without a gap (the play queue's
    /// next song, requested when the one before had arrived): the queue places it after the
    /// last sample of the one before, once that one's end has been cut.
    Append {
        /// The song.
        now: NowPlaying,
        /// Its ReplayGain, from PLAYING.
        gain: ReplayGain,
        /// The queue's generation when the socket thread appended it: a switch since makes
        /// it stale.
        generation: u64,
    },
    /// A new radio stream begins; forget the old one.
    Tune(StreamId),
    /// Whole MP3 frames of a stream.
    Data(Audio),
    /// A song of a radio stream, announced before the chunk it is first heard in.
    Track(TrackChanged),
    /// The stream has been received completely.
    End(StreamId),
}

/// Received bytes, cut into whole MPEG audio frames.
#[derive(Debug, Default)]
pub struct FrameSplitter {
    bytes: Vec<u8>,
    start: usize,
}

impl FrameSplitter {
    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.bytes.len() {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        self.bytes.extend_from_slice(bytes);
    }

    /// The next whole frame, skipping bytes that cannot start one; `None` until one has
    /// arrived completely.
    pub fn next_frame(&mut self) -> Option<&[u8]> {
        loop {
            let rest = &self.bytes[self.start..];
            if rest.len() < AUDIO_HEADER_LEN {
                return None;
            }
            match AudioHeader::parse(rest) {
                Some(header) if header.len <= rest.len() => {
                    let frame = self.start..self.start + header.len;
                    self.start = frame.end;
                    return Some(&self.bytes[frame]);
                }
                Some(_) => return None,
                None => {
                    let skip = rest[1..].iter().position(|&b| b == 0xFF).map_or(rest.len(), |i| i + 1);
                    self.start += skip;
                }
            }
        }
    }
}

/// The decoding state of the current stream.
struct Current {
    stream: StreamId,
    splitter: FrameSplitter,
    decoder: FrameDecoder,
    resampler: Resampler,
    /// Set for a radio stream.
    radio: Option<StationClock>,
    /// A frame that cannot be decoded plays as silence of its length, so that playback stays
    /// at the position AUDIO gives: on the radio, and in a stream that starts part-way into a
    /// song, whose first frame needs the frames before it (the bit reservoir).
    keep_time: bool,
    /// Set until the first frame of a stream that starts at its song's beginning has been
    /// looked at: the song, whose cut that frame may give.
    opening: Option<SongId>,
    /// Cuts the encoder's and the decoder's silence (see [`crate::gapless`]).
    trimmer: Trimmer,
    /// The song's ReplayGain, applied in the mode of the moment (see [`crate::level`]).
    gain: ReplayGain,
    out: Vec<i16>,
}

/// Where a radio stream is on the station's clock.
#[derive(Debug, Default)]
struct StationClock {
    /// Frames (sample pairs) of the stream handed to the queue so far.
    pushed: u64,
    /// Songs announced whose chunk has not arrived yet, in order.
    waiting: VecDeque<TrackChanged>,
}

impl Current {
    fn radio(stream: StreamId) -> Current {
        Current {
            radio: Some(StationClock::default()),
            keep_time: true,
            ..Current::song(stream, None, Cut::default(), ReplayGain::default())
        }
    }

    /// A stream of a song; `opening` when it starts at the song's beginning (and so with the
    /// frame that may give its cut), else the cut already known.
    fn song(stream: StreamId, opening: Option<SongId>, cut: Cut, gain: ReplayGain) -> Current {
        Current {
            stream,
            splitter: FrameSplitter::default(),
            decoder: FrameDecoder::default(),
            resampler: Resampler::default(),
            radio: None,
            keep_time: opening.is_none(),
            opening,
            trimmer: Trimmer::new(cut),
            gain,
            out: Vec::new(),
        }
    }

    /// Takes in one chunk of the stream: on the radio, first places the songs that begin in
    /// it (or before it) on the stream's frames, then decodes.
    fn receive(&mut self, audio: &Audio, queue: &PcmQueue, cuts: &mut Cuts) {
        if let Some(clock) = self.radio.as_mut() {
            // The chunk's first frame is the next one pushed: chunks hold whole frames.
            let end = audio.offset.saturating_add(audio.data.len() as u64);
            while clock.waiting.front().is_some_and(|track| track.offset < end) {
                let Some(track) = clock.waiting.pop_front() else { break };
                let frame = frame_at(clock.pushed, audio.position_ms, track.position_ms);
                queue.announce(self.stream, frame, now_playing(&track));
            }
        }
        self.splitter.push(&audio.data);
        self.decode_available(queue, cuts);
    }

    /// Decodes every whole frame received so far into the queue.
    fn decode_available(&mut self, queue: &PcmQueue, cuts: &mut Cuts) {
        let Current { stream, splitter, decoder, resampler, radio, keep_time, opening, trimmer, gain, out } =
            self;
        let factor = gain_factor(queue.level().mode(), gain);
        let mut emit = |samples: &[i16], channels: usize, rate: u32| {
            let pushed = push_converted(queue, *stream, resampler, out, factor, (samples, channels, rate));
            if let Some(clock) = radio.as_mut() {
                clock.pushed += pushed;
            }
        };
        let mut silence = Vec::new();
        while let Some(frame) = splitter.next_frame() {
            // The splitter found the header: it parses.
            let Some(header) = AudioHeader::parse(frame) else { continue };
            if let Some(song) = opening.take()
                && let Some(cut) = gapless::first_frame(frame)
            {
                // A header frame, not music: its cut, if LAME wrote one, is the song's.
                let cut = cut.unwrap_or_default();
                cuts.remember(song, cut);
                *trimmer = Trimmer::new(cut);
                continue;
            }
            match decoder.decode(frame) {
                Some(decoded) => {
                    trimmer.push(decoded.samples, decoded.channels, decoded.sample_rate, &mut emit)
                }
                // Silence in its place, to keep the stream's clock (the station's on the radio).
                None if *keep_time => {
                    let channels = usize::from(header.channels);
                    silence.resize(usize::try_from(header.samples).unwrap_or(0) * channels, 0);
                    trimmer.push(&silence, channels, header.sample_rate, &mut emit);
                }
                None => {}
            }
        }
    }

    /// The whole stream has been received: what the trimmer held back goes to the queue, but
    /// the song's end cut. Returns the resampler, for a song appended after this one to go on
    /// from where this one's samples end (a new one would lose the frame it holds back).
    fn finish(mut self, queue: &PcmQueue) -> Resampler {
        let Current { stream, resampler, trimmer, gain, out, .. } = &mut self;
        let factor = gain_factor(queue.level().mode(), gain);
        trimmer.finish(&mut |samples: &[i16], channels: usize, rate: u32| {
            push_converted(queue, *stream, resampler, out, factor, (samples, channels, rate));
        });
        queue.finish_input(self.stream);
        self.resampler
    }

    /// A song of this radio stream, to place when its chunk arrives.
    fn announce(&mut self, track: TrackChanged) {
        if let Some(clock) = self.radio.as_mut() {
            if clock.waiting.len() == MAX_WAITING_SONGS {
                clock.waiting.pop_front();
            }
            clock.waiting.push_back(track);
        }
    }
}

/// Converts decoded samples (interleaved, with their channel count and rate) to the output's
/// format in `out`, applies the ReplayGain `factor`, and pushes them to the queue as `stream`'s;
/// returns how many frames (sample pairs) that was.
fn push_converted(
    queue: &PcmQueue,
    stream: StreamId,
    resampler: &mut Resampler,
    out: &mut Vec<i16>,
    factor: f64,
    (samples, channels, rate): (&[i16], usize, u32),
) -> u64 {
    out.clear();
    resampler.convert(samples, channels, rate, out);
    scale(out, factor);
    queue.push(stream, out);
    (out.len() / usize::from(crate::pcm::CHANNELS)) as u64
}

/// A station's song as the queue shows it.
fn now_playing(track: &TrackChanged) -> NowPlaying {
    NowPlaying {
        stream: track.stream,
        song: track.track.song,
        title: track.track.title.clone(),
        artist: track.track.artist.clone(),
        duration: Duration::from_millis(u64::from(track.track.duration_ms)),
    }
}

/// The cuts of the songs played lately, by song.
#[derive(Debug, Default)]
struct Cuts(HashMap<SongId, Cut>);

impl Cuts {
    fn remember(&mut self, song: SongId, cut: Cut) {
        if self.0.len() >= REMEMBERED_CUTS {
            self.0.clear();
        }
        self.0.insert(song, cut);
    }

    /// The cut of a stream of `song` that starts part-way into it: its end, if known.
    fn part_way(&self, song: SongId) -> Cut {
        self.0.get(&song).copied().unwrap_or_default().part_way()
    }
}

/// Runs until the command channel closes.
pub fn run(commands: Receiver<DecodeCmd>, queue: Arc<PcmQueue>) {
    let mut current: Option<Current> = None;
    let mut cuts = Cuts::default();
    // The resampler of the stream that ended last, for the one appended after it.
    let mut ended: Option<Resampler> = None;
    for command in commands {
        match command {
            DecodeCmd::Start { stream, song, part_way: false, gain } => {
                ended = None;
                current = Some(Current::song(stream, Some(song), Cut::default(), gain));
            }
            DecodeCmd::Start { stream, song, part_way: true, gain } => {
                ended = None;
                current = Some(Current::song(stream, None, cuts.part_way(song), gain));
            }
            DecodeCmd::Append { now, gain, generation } => {
                let stream = now.stream;
                let song = now.song;
                if queue.append(now, generation) {
                    let mut next = Current::song(stream, Some(song), Cut::default(), gain);
                    next.resampler = ended.take().unwrap_or_default();
                    current = Some(next);
                }
            }
            DecodeCmd::Tune(stream) => {
                ended = None;
                current = Some(Current::radio(stream));
            }
            DecodeCmd::Data(audio) => {
                if let Some(current) = current.as_mut().filter(|c| c.stream == audio.stream) {
                    current.receive(&audio, &queue, &mut cuts);
                }
            }
            DecodeCmd::Track(track) => {
                if let Some(current) = current.as_mut().filter(|c| c.stream == track.stream) {
                    current.announce(track);
                }
            }
            DecodeCmd::End(stream) => {
                if let Some(current) = current.take_if(|c| c.stream == stream) {
                    ended = Some(current.finish(&queue));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: [u8; 4] = [0xFF, 0xFB, 0x90, 0x00];

    fn frame() -> Vec<u8> {
        let mut f = HEADER.to_vec();
        f.resize(417, 0);
        f
    }

    #[test]
    fn splitter_hands_out_whole_frames_only() {
        let mut splitter = FrameSplitter::default();
        let two = [frame(), frame()].concat();
        splitter.push(&two[..600]);
        assert_eq!(splitter.next_frame().map(<[u8]>::len), Some(417));
        assert_eq!(splitter.next_frame(), None, "the second frame is not complete yet");
        splitter.push(&two[600..]);
        assert_eq!(splitter.next_frame().map(<[u8]>::len), Some(417));
        assert_eq!(splitter.next_frame(), None);
    }

    #[test]
    fn splitter_skips_junk_between_frames() {
        let mut splitter = FrameSplitter::default();
        splitter.push(b"junk\xFF\x00");
        splitter.push(&frame());
        assert_eq!(splitter.next_frame().map(|f| f[..4].to_vec()), Some(HEADER.to_vec()));
    }

    #[test]
    fn a_stream_decodes_the_same_whatever_its_chunking() {
        let file =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../music/01-morning-scale.mp3")).unwrap();
        let decode_in_pieces = |piece: usize| {
            let mut splitter = FrameSplitter::default();
            let mut decoder = FrameDecoder::default();
            let mut pcm = Vec::new();
            for bytes in file.chunks(piece) {
                splitter.push(bytes);
                while let Some(frame) = splitter.next_frame() {
                    if let Some(d) = decoder.decode(frame) {
                        pcm.extend_from_slice(d.samples);
                    }
                }
            }
            pcm
        };
        let whole = decode_in_pieces(file.len());
        assert!(whole.len() > 44_100 * 2 * 20, "{} samples", whole.len());
        assert!(decode_in_pieces(1) == whole);
        assert!(decode_in_pieces(1000) == whole);
    }

    #[test]
    fn radio_songs_are_placed_on_the_frames_where_their_station_time_sounds() {
        use jukebox_protocol::Track;
        let file =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../music/01-morning-scale.mp3")).unwrap();
        let frames: Vec<_> = jukebox_protocol::mp3::frames(&file).collect();
        assert_eq!((frames[100].header.sample_rate, frames[100].header.samples), (44_100, 1152));
        let bytes = |from: usize, to: usize| file[frames[from].offset..frames[to].offset].to_vec();
        let (first, second) = (bytes(100, 108), bytes(108, 116));
        let stream = StreamId(3);
        let track = |offset: u64, position_ms: u32, id: u32| TrackChanged {
            stream,
            offset,
            position_ms,
            track: Track {
                song: jukebox_protocol::SongId(id),
                duration_ms: 1,
                title: id.to_string(),
                artist: String::new(),
            },
        };
        let (events, received) = crate::event_channel();
        let queue = Arc::new(PcmQueue::new(events));
        queue.tune(stream);
        let (tx, rx) = crossbeam_channel::unbounded();
        let commands = [
            DecodeCmd::Tune(stream),
            // The song the burst begins in began half a second before it.
            DecodeCmd::Track(track(0, 9_500, 1)),
            DecodeCmd::Data(Audio { stream, offset: 0, position_ms: 10_000, data: first.clone() }),
            // An old stream's news and audio are not this one's.
            DecodeCmd::Track(TrackChanged { stream: StreamId(2), ..track(0, 10_000, 9) }),
            DecodeCmd::Data(Audio {
                stream: StreamId(2),
                offset: 0,
                position_ms: 10_000,
                data: first.clone(),
            }),
            // The next song begins 10 ms into the second chunk, which begins 8 frames later.
            DecodeCmd::Track(track(first.len() as u64, 10_218, 2)),
            DecodeCmd::Data(Audio { stream, offset: first.len() as u64, position_ms: 10_208, data: second }),
        ];
        for command in commands {
            tx.send(command).unwrap();
        }
        drop(tx);
        run(rx, Arc::clone(&queue));
        // Sixteen whole frames: the first, which needs the frames before it, as silence.
        assert_eq!(queue.status().buffered, frames_to(16 * 1152));
        let mut out = vec![0i16; 2 * (8 * 1152 + 441)];
        assert_eq!(queue.take(&mut out), out.len());
        assert!(out[..2 * 1152].iter().all(|&s| s == 0) && out[2 * 1152..].iter().any(|&s| s != 0));
        assert_eq!(
            received.try_next().map(|e| matches!(e, crate::Event::TrackChanged(n) if n.title == "1")),
            Some(true)
        );
        assert_eq!(received.try_next(), None, "song 2 begins at the next frame");
        assert_eq!(queue.take(&mut out[..2]), 2);
        assert_eq!(
            received.try_next().map(|e| matches!(e, crate::Event::TrackChanged(n) if n.title == "2")),
            Some(true)
        );
        assert_eq!(received.try_next(), None);
    }

    fn frames_to(frames: u64) -> std::time::Duration {
        std::time::Duration::from_nanos(frames * 1_000_000_000 / 44_100)
    }
}
