//! Gapless playback: cutting what an encoder and a decoder add around a song's music, so that
//! two songs cut from one recording join sample for sample.
//!
//! An MP3 encoder starts and ends a song with silence it needs for its own filters, and an MP3
//! decoder delays what it decodes by 529 samples (its synthesis filterbank). LAME records its
//! part in the tag it writes in a song's first frame ([`jukebox_protocol::lame`]): `delay`
//! samples before the music and `padding` after it. That first frame, the Xing/Info header,
//! holds no audio but decodes as a frame of silence. So of the decoded samples of a whole song
//! a careful player drops, per channel:
//!
//! ```text
//!   | header frame (1152) | delay + 529 |      the music      | padding - 529 |
//!     not decoded           cut at the start                    cut at the end
//! ```
//!
//! The cut at the end is only known to be the end once the stream has ended, so the
//! [`Trimmer`] holds back that many samples (whole decoded frames, at most four) until it
//! knows. Everything here counts samples of the song's own rate, before conversion to the
//! output's 44.1 kHz: the cut is exact whatever the song's rate. A stream that starts part-way
//! into a song (SEEK) has no header frame and no delay to cut, but still its padding.

use std::collections::VecDeque;

use jukebox_protocol::lame::{self, Gapless};

/// The delay of an MP3 decoder's synthesis filterbank, in samples per channel: what LAME's
/// delay does not count and every decoder adds (ISO/IEC 11172-3; minimp3, mpg123 and FFmpeg
/// all cut it).
pub const DECODER_DELAY: usize = 529;

/// What to drop from a stream's decoded samples, per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cut {
    /// Samples before the music.
    pub start: usize,
    /// Samples after it.
    pub end: usize,
}

impl Cut {
    /// The cut of a whole song whose encoder recorded `gapless`.
    pub fn of_song(gapless: Gapless) -> Cut {
        Cut {
            start: usize::from(gapless.delay) + DECODER_DELAY,
            // Padding shorter than the decoder's delay means the music's last samples are still
            // in the decoder when the stream ends: nothing to cut, and those few are lost.
            end: usize::from(gapless.padding).saturating_sub(DECODER_DELAY),
        }
    }

    /// The cut of a stream that starts part-way into a song: only its end.
    pub fn part_way(self) -> Cut {
        Cut { start: 0, ..self }
    }
}

/// What a stream's first frame says: whether it is a header frame (decoded, it is a frame of
/// silence that is not part of the song) and, when LAME wrote it, the song's cut.
pub fn first_frame(frame: &[u8]) -> Option<Option<Cut>> {
    lame::parse(frame).map(|header| header.lame.map(|tag| Cut::of_song(tag.gapless)))
}

/// One decoded frame held back.
#[derive(Debug)]
struct Held {
    samples: Vec<i16>,
    channels: usize,
    rate: u32,
}

impl Held {
    fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1)
    }
}

/// Cuts one stream's decoded frames as its [`Cut`] says. Sans-IO: frames go in, and what may
/// be played comes out through a callback, with its channel count and rate.
#[derive(Debug, Default)]
pub struct Trimmer {
    /// Samples per channel still to drop at the start.
    skip: usize,
    /// Samples per channel to hold back, the end's cut.
    hold: usize,
    held: VecDeque<Held>,
    /// Samples per channel in `held`.
    held_frames: usize,
    /// Buffers of frames already handed on, to hold the next ones without allocating.
    spare: Vec<Vec<i16>>,
}

impl Trimmer {
    /// A trimmer that drops `cut.start` samples at the start, and `cut.end` at the end.
    pub fn new(cut: Cut) -> Trimmer {
        Trimmer { skip: cut.start, hold: cut.end, ..Trimmer::default() }
    }

    /// Takes one decoded frame (`samples` interleaved, `channels` of them, at `rate` Hz) and
    /// hands `emit` whatever can no longer be part of the cut at either end.
    pub fn push(
        &mut self,
        samples: &[i16],
        channels: usize,
        rate: u32,
        emit: &mut impl FnMut(&[i16], usize, u32),
    ) {
        let channels = channels.max(1);
        let skip = self.skip.min(samples.len() / channels);
        self.skip -= skip;
        let samples = &samples[skip * channels..];
        if samples.is_empty() {
            return;
        }
        if self.hold == 0 {
            emit(samples, channels, rate);
            return;
        }
        let mut buffer = self.spare.pop().unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(samples);
        let held = Held { samples: buffer, channels, rate };
        self.held_frames += held.frames();
        self.held.push_back(held);
        // Whole frames that the end's cut cannot reach any more.
        while let Some(front) = self.held.front() {
            if self.held_frames - front.frames() < self.hold {
                break;
            }
            let Some(front) = self.held.pop_front() else { break };
            self.held_frames -= front.frames();
            emit(&front.samples, front.channels, front.rate);
            self.spare.push(front.samples);
        }
    }

    /// The stream has ended: hands `emit` what is held but the end's cut.
    pub fn finish(&mut self, emit: &mut impl FnMut(&[i16], usize, u32)) {
        let mut keep = self.held_frames.saturating_sub(self.hold);
        while let Some(held) = self.held.pop_front() {
            let frames = held.frames().min(keep);
            keep -= frames;
            if frames > 0 {
                emit(&held.samples[..frames * held.channels], held.channels, held.rate);
            }
            self.spare.push(held.samples);
        }
        self.held_frames = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mono "song" of `frames` frames of 1152 samples numbered from 0, trimmed in frames.
    fn trimmed(cut: Cut, frames: usize) -> Vec<i16> {
        let mut trimmer = Trimmer::new(cut);
        let mut out = Vec::new();
        let mut emit = |s: &[i16], channels: usize, rate: u32| {
            assert_eq!((channels, rate), (1, 44_100));
            out.extend_from_slice(s);
        };
        for frame in 0..frames {
            let samples: Vec<i16> = (0..1152).map(|i| (frame * 1152 + i) as i16).collect();
            trimmer.push(&samples, 1, 44_100, &mut emit);
        }
        trimmer.finish(&mut emit);
        out
    }

    #[test]
    fn the_music_alone_comes_out() {
        let out = trimmed(Cut { start: 1105, end: 281 }, 20);
        assert_eq!(out.len(), 20 * 1152 - 1105 - 281);
        assert_eq!(out.first(), Some(&1105));
        assert_eq!(out.last(), Some(&((20 * 1152 - 281 - 1) as i16)));
        assert!(out.windows(2).all(|w| w[1] == w[0] + 1), "nothing skipped or repeated inside");
    }

    #[test]
    fn cuts_longer_than_a_frame_and_longer_than_the_song() {
        let out = trimmed(Cut { start: 3000, end: 3000 }, 10);
        assert_eq!(out.len(), 10 * 1152 - 6000);
        assert_eq!(out.first(), Some(&3000));
        assert!(trimmed(Cut { start: 5000, end: 5000 }, 5).is_empty());
        assert_eq!(trimmed(Cut::default(), 3).len(), 3 * 1152);
    }

    #[test]
    fn frames_pass_at_once_when_there_is_no_end_to_cut() {
        let mut trimmer = Trimmer::new(Cut { start: 10, end: 0 });
        let mut got = 0;
        trimmer.push(&[1; 2304], 2, 48_000, &mut |s, c, r| {
            assert_eq!((c, r), (2, 48_000));
            got += s.len();
        });
        assert_eq!(got, 2 * (1152 - 10));
    }

    #[test]
    fn held_frames_keep_their_own_format() {
        let mut trimmer = Trimmer::new(Cut { start: 0, end: 100 });
        let mut got = Vec::new();
        let mut emit = |s: &[i16], c: usize, r: u32| got.push((s.len(), c, r));
        trimmer.push(&[0; 2304], 2, 44_100, &mut emit);
        trimmer.push(&[0; 1152], 1, 22_050, &mut emit);
        trimmer.finish(&mut emit);
        assert_eq!(got, vec![(2304, 2, 44_100), (1052, 1, 22_050)]);
    }

    #[test]
    fn lames_tag_gives_the_cut() {
        assert_eq!(Cut::of_song(Gapless { delay: 576, padding: 810 }), Cut { start: 1105, end: 281 });
        assert_eq!(Cut::of_song(Gapless { delay: 576, padding: 100 }).end, 0);
        assert_eq!(Cut { start: 1105, end: 281 }.part_way(), Cut { start: 0, end: 281 });
        let song =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../music/02-lanterns-in-the-rain.mp3"))
                .unwrap();
        let first = jukebox_protocol::mp3::frames(&song).next().unwrap();
        let frame = &song[first.offset..first.offset + first.header.len];
        assert_eq!(first_frame(frame), Some(Some(Cut { start: 1105, end: 281 })));
        let second = jukebox_protocol::mp3::frames(&song).nth(1).unwrap();
        assert_eq!(first_frame(&song[second.offset..second.offset + second.header.len]), None);
    }
}
