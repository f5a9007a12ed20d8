//! The station's MP3 encoder: 44.1 kHz stereo PCM in, whole MPEG-1 Layer III frames out, at
//! one constant bitrate.
//!
//! LAME (through `mp3lame-encoder`) does the encoding. What this module adds is the cut into
//! frames: LAME returns whatever bytes its bit reservoir has released, which need not end on a
//! frame boundary, while the protocol's AUDIO payloads carry whole frames only (RFC §7.2). So
//! LAME's output goes to a small buffer first, and [`Encoder::encode`] hands on the frames that
//! are complete there, each one checked to be exactly the format the encoder was set to.
//!
//! A live station never ends a song's stream: songs follow each other through the same
//! encoder, so a join is gapless on air. Hence no Xing/Info header frame (it describes a file
//! of known length, and a player takes it for the start of one), and [`Encoder::flush`] only
//! when the station stops.

use std::num::NonZeroU32;
use std::time::Duration;

use jukebox_protocol::mp3::{AUDIO_HEADER_LEN, AudioHeader, Layer, MAX_AUDIO_FRAME_LEN, Version};
use mp3lame_encoder::{Bitrate, Builder, FlushGap, InterleavedPcm, Mode, Quality, VbrMode};

use crate::resample::{CHANNELS, SAMPLE_RATE};

/// Samples per channel in one MPEG-1 Layer III frame: the unit the encoder emits audio in.
pub const SAMPLES_PER_FRAME: usize = 1152;

/// The playing time of one frame at 44.1 kHz, 26.122448 ms, rounded down to the nanosecond.
/// Fine for one frame; to add up many, count samples instead
/// ([`jukebox_protocol::mp3::StreamClock`]), or the rounding adds up.
pub const FRAME_DURATION: Duration =
    Duration::from_nanos(SAMPLES_PER_FRAME as u64 * 1_000_000_000 / SAMPLE_RATE as u64);

/// The bitrate the server's station uses unless told otherwise, in kbit/s: near-transparent
/// for most music at 44.1 kHz stereo, and 16 KiB/s per listener.
pub const DEFAULT_BITRATE_KBPS: u16 = 128;

/// LAME's speed/quality trade-off, 0 (slowest) to 9. 5, LAME's own default ("good speed,
/// reasonable quality"), keeps noise shaping; measured with the `encode_cpu` example it encodes
/// about 150 s of audio per CPU second, so the station's one stream costs under 1% of a core.
/// 7 (LAME's `-f`, which drops noise shaping) is only 1.7 times faster, a saving of 0.3% of a
/// core; 2 (LAME's `-h`) takes twice the CPU of 5. 5 is the usual compromise.
const QUALITY: Quality = Quality::Good;

/// Sample pairs handed to LAME per call, so that the output buffer has a fixed bound however
/// long a slice the caller passes.
const BLOCK_PAIRS: usize = 4 * SAMPLES_PER_FRAME;

/// The most bytes LAME may return for `pairs` samples per channel, as lame.h documents it:
/// 1.25 * samples + 7200.
const fn lame_output_bound(pairs: usize) -> usize {
    pairs + pairs.div_ceil(4) + 7200
}

/// What LAME's buffer of encoded bytes may hold: the tail of a frame not yet complete, and
/// then the most one call may add (a flush is bounded by the same 7200 bytes).
const PENDING_CAPACITY: usize = MAX_AUDIO_FRAME_LEN + lame_output_bound(BLOCK_PAIRS);

/// The bitrates that MPEG-1 Layer III offers and the binding can ask LAME for (it cannot ask
/// for 56 kbit/s).
const BITRATES: [(u16, Bitrate); 13] = [
    (32, Bitrate::Kbps32),
    (40, Bitrate::Kbps40),
    (48, Bitrate::Kbps48),
    (64, Bitrate::Kbps64),
    (80, Bitrate::Kbps80),
    (96, Bitrate::Kbps96),
    (112, Bitrate::Kbps112),
    (128, Bitrate::Kbps128),
    (160, Bitrate::Kbps160),
    (192, Bitrate::Kbps192),
    (224, Bitrate::Kbps224),
    (256, Bitrate::Kbps256),
    (320, Bitrate::Kbps320),
];

/// Why the encoder could not be made or could not encode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// [`Encoder::new`] was asked for a bitrate that MPEG-1 Layer III does not have, or that
    /// the binding cannot ask LAME for (56 kbit/s).
    #[error("{0} kbit/s is not an MP3 bitrate the encoder offers (32 to 320 kbit/s, but not 56)")]
    UnsupportedBitrate(u16),
    /// LAME could not allocate its encoder state.
    #[error("LAME could not allocate an encoder")]
    OutOfMemory,
    /// LAME refused the settings when the encoder was made.
    #[error("LAME refused the encoder settings: {0}")]
    Settings(String),
    /// LAME failed while encoding or flushing (its message). The encoder should be dropped.
    #[error("LAME failed to encode: {0}")]
    Lame(String),
    /// LAME's output was not a whole frame of the format it was set to (44.1 kHz stereo
    /// MPEG-1 Layer III at the encoder's bitrate), which would be a bug in LAME or here.
    /// Nothing of it was handed on; the encoder should be dropped.
    #[error("LAME produced bytes that are not a whole 44.1 kHz stereo frame at {0} kbit/s")]
    UnexpectedOutput(u16),
    /// [`Encoder::encode`] was called after [`Encoder::flush`] ended the stream.
    #[error("the stream was already flushed")]
    Flushed,
}

/// A LAME encoder for one continuous constant-bitrate stream, that hands out whole frames.
///
/// Feed it interleaved 44.1 kHz stereo in pieces of any size (a [`crate::Resampler`] makes
/// that from any song); it returns frames as LAME completes them, about one per
/// [`SAMPLES_PER_FRAME`] pairs after a start-up delay. The first frames begin with LAME's
/// encoder delay of silence (576 samples, plus the decoder's own 529).
pub struct Encoder {
    lame: mp3lame_encoder::Encoder,
    bitrate_kbps: u16,
    /// LAME's output not yet handed on: less than one frame between calls.
    pending: Vec<u8>,
    /// A left sample whose right one has not arrived yet: a caller may cut its slices anywhere.
    half_pair: Option<i16>,
    /// [`Encoder::flush`] has ended the stream.
    flushed: bool,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("bitrate_kbps", &self.bitrate_kbps)
            .field("pending", &self.pending.len())
            .field("flushed", &self.flushed)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// An encoder of 44.1 kHz joint-stereo MPEG-1 Layer III at a constant `bitrate_kbps`
    /// ([`DEFAULT_BITRATE_KBPS`] unless the server is told otherwise), without an Info frame.
    pub fn new(bitrate_kbps: u16) -> Result<Encoder, EncodeError> {
        let bitrate = BITRATES
            .iter()
            .find(|(kbps, _)| *kbps == bitrate_kbps)
            .map(|&(_, bitrate)| bitrate)
            .ok_or(EncodeError::UnsupportedBitrate(bitrate_kbps))?;
        let settings = |e: mp3lame_encoder::BuildError| EncodeError::Settings(e.to_string());
        let lame = Builder::new()
            .ok_or(EncodeError::OutOfMemory)?
            .with_sample_rate(SAMPLE_RATE)
            .and_then(|b| b.with_output_sample_rate(NonZeroU32::new(SAMPLE_RATE)))
            .and_then(|b| b.with_num_channels(CHANNELS as u8))
            .and_then(|b| b.with_mode(Mode::JointStereo))
            .and_then(|b| b.with_vbr_mode(VbrMode::Off))
            .and_then(|b| b.with_brate(bitrate))
            .and_then(|b| b.with_quality(QUALITY))
            // The Info frame describes a file of known length; a live stream has none.
            .and_then(|b| b.with_to_write_vbr_tag(false))
            .and_then(Builder::build)
            .map_err(settings)?;
        Ok(Encoder {
            lame,
            bitrate_kbps,
            pending: Vec::with_capacity(PENDING_CAPACITY),
            half_pair: None,
            flushed: false,
        })
    }

    /// The constant bitrate of every frame, in kbit/s.
    pub fn bitrate_kbps(&self) -> u16 {
        self.bitrate_kbps
    }

    /// Encodes `pcm`, interleaved 44.1 kHz stereo (left first), and appends to `out` the frames
    /// that are complete, returning how many. Only whole frames are appended: LAME's bytes of
    /// a frame not yet complete, and a left sample whose right one is in the next slice, wait
    /// in the encoder for the next call. After an error `out` may hold frames encoded before
    /// it (still only whole ones), and the encoder should be dropped.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        if self.flushed {
            return Err(EncodeError::Flushed);
        }
        let mut pcm = pcm;
        let mut frames = 0;
        if let Some(left) = self.half_pair {
            let Some((&right, rest)) = pcm.split_first() else { return Ok(0) };
            self.half_pair = None;
            frames += self.encode_pairs(&[left, right], out)?;
            pcm = rest;
        }
        let (pairs, rest) = pcm.split_at(pcm.len() & !1);
        for block in pairs.chunks(2 * BLOCK_PAIRS) {
            frames += self.encode_pairs(block, out)?;
        }
        self.half_pair = rest.first().copied();
        Ok(frames)
    }

    /// Ends the stream: LAME encodes what it still holds, padded with silence to a whole frame,
    /// and the last frames are appended to `out`; returns how many. A left sample without its
    /// right one is dropped. After this, [`Encoder::encode`] fails and `flush` appends nothing.
    pub fn flush(&mut self, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        if self.flushed {
            return Ok(0);
        }
        self.flushed = true;
        self.half_pair = None;
        self.pending.reserve(lame_output_bound(0));
        self.lame
            .flush_to_vec::<FlushGap>(&mut self.pending)
            .map_err(|e| EncodeError::Lame(e.to_string()))?;
        let frames = self.take_whole_frames(out)?;
        if !self.pending.is_empty() {
            // A flush ends on a frame boundary: a tail here is not a frame.
            self.pending.clear();
            return Err(EncodeError::UnexpectedOutput(self.bitrate_kbps));
        }
        Ok(frames)
    }

    /// Hands LAME whole pairs (at most [`BLOCK_PAIRS`]) and appends the frames completed.
    fn encode_pairs(&mut self, pairs: &[i16], out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        // Less than a frame is pending, so this stays within PENDING_CAPACITY.
        self.pending.reserve(lame_output_bound(pairs.len() / 2));
        self.lame
            .encode_to_vec(InterleavedPcm(pairs), &mut self.pending)
            .map_err(|e| EncodeError::Lame(e.to_string()))?;
        self.take_whole_frames(out)
    }

    /// Moves the whole frames at the start of `pending` to `out`, leaving a frame's beginning,
    /// and checks that each is a frame of the format the encoder was set to.
    fn take_whole_frames(&mut self, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        let mut end = 0;
        let mut frames = 0;
        while let Some(rest) = self.pending.get(end..).filter(|rest| rest.len() >= AUDIO_HEADER_LEN) {
            let header = AudioHeader::parse(rest)
                .filter(|h| self.is_expected(h))
                .ok_or(EncodeError::UnexpectedOutput(self.bitrate_kbps));
            let header = match header {
                Ok(header) => header,
                Err(error) => {
                    self.pending.clear();
                    return Err(error);
                }
            };
            if header.len > rest.len() {
                break;
            }
            end += header.len;
            frames += 1;
        }
        out.extend_from_slice(&self.pending[..end]);
        self.pending.drain(..end);
        Ok(frames)
    }

    /// Whether `header` describes a frame this encoder was set to produce.
    fn is_expected(&self, header: &AudioHeader) -> bool {
        header.version == Version::Mpeg1
            && header.layer == Layer::Three
            && header.sample_rate == SAMPLE_RATE
            && header.channels == 2
            && header.bitrate_kbps == u32::from(self.bitrate_kbps)
            && header.samples as usize == SAMPLES_PER_FRAME
    }
}

#[cfg(test)]
mod tests {
    use jukebox_protocol::mp3::{self, samples_to_duration};
    use proptest::prelude::*;

    use super::*;
    use crate::FrameDecoder;

    /// `seconds` of a 440 Hz sine at half of full scale, the same on both channels.
    fn sine(seconds: f64) -> Vec<i16> {
        let pairs = (seconds * f64::from(SAMPLE_RATE)) as usize;
        (0..pairs)
            .flat_map(|i| {
                let t = i as f64 / f64::from(SAMPLE_RATE);
                let s = (16_384.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()).round() as i16;
                [s, s]
            })
            .collect()
    }

    /// Checks that `bytes` are exactly `count` whole frames, back to back, of 44.1 kHz stereo
    /// MPEG-1 Layer III at 128 kbit/s, as the protocol's frame walker finds them.
    fn assert_whole_frames(bytes: &[u8], count: usize) {
        let mut end = 0;
        let mut found = 0;
        for span in mp3::frames(bytes) {
            assert_eq!(span.offset, end, "a frame starts where the previous one ended");
            let h = span.header;
            assert_eq!((h.version, h.layer), (Version::Mpeg1, Layer::Three));
            assert_eq!((h.sample_rate, h.channels, h.bitrate_kbps), (44_100, 2, 128));
            end += h.len;
            found += 1;
        }
        assert_eq!(end, bytes.len(), "the frames add up to every byte appended");
        assert_eq!(found, count, "the count returned is the frames appended");
    }

    /// Encodes `pcm` cut into pieces of `piece` samples, checking what every call appends.
    fn encode_in_pieces(pcm: &[i16], piece: usize) -> Vec<u8> {
        let mut encoder = Encoder::new(128).unwrap();
        let mut stream = Vec::new();
        let mut chunk = Vec::new();
        for part in pcm.chunks(piece.max(1)) {
            chunk.clear();
            let frames = encoder.encode(part, &mut chunk).unwrap();
            assert_whole_frames(&chunk, frames);
            stream.extend_from_slice(&chunk);
        }
        chunk.clear();
        let frames = encoder.flush(&mut chunk).unwrap();
        assert_whole_frames(&chunk, frames);
        stream.extend_from_slice(&chunk);
        stream
    }

    /// Decodes a stream of whole frames into interleaved stereo.
    fn decode(stream: &[u8]) -> Vec<i16> {
        let mut decoder = FrameDecoder::default();
        let mut pcm = Vec::new();
        for span in mp3::frames(stream) {
            let decoded = decoder.decode(&stream[span.offset..span.offset + span.header.len]).unwrap();
            assert_eq!((decoded.channels, decoded.sample_rate), (2, 44_100));
            pcm.extend_from_slice(decoded.samples);
        }
        pcm
    }

    #[test]
    fn a_sine_encodes_to_whole_frames_of_the_stations_format() {
        let pcm = sine(3.0);
        let stream = encode_in_pieces(&pcm, 2 * 4410);
        // 3 s is 114.8 frames; the flush pads to whole frames and adds the encoder's delay.
        let frames = mp3::frames(&stream).count();
        assert!((115..=117).contains(&frames), "{frames} frames");
    }

    #[test]
    fn the_stream_starts_with_audio_not_an_info_frame() {
        // By default LAME begins with a placeholder for the Info frame, a frame of zeros that a
        // file writer overwrites once the length is known; a live stream must not have it.
        let stream = encode_in_pieces(&sine(1.0), 2 * 1152);
        let first = mp3::frames(&stream).next().unwrap();
        let frame = &stream[first.offset..first.offset + first.header.len];
        assert!(!frame.windows(4).any(|w| w == b"Info" || w == b"Xing"), "an Info frame");
        assert!(frame[AUDIO_HEADER_LEN..].iter().any(|&b| b != 0), "a blank placeholder frame");
    }

    #[test]
    fn the_tone_survives_the_round_trip() {
        let pcm = sine(3.0);
        let decoded = decode(&encode_in_pieces(&pcm, pcm.len()));
        let left: Vec<i16> = decoded.iter().step_by(2).copied().collect();
        // LAME's delay (576 samples) and the decoder's (529) come first, as near silence.
        let delay = left.iter().position(|s| s.abs() > 1000).unwrap();
        assert!((1000..1200).contains(&delay), "{delay} samples of delay");
        // One second from the middle: 880 zero crossings of a 440 Hz tone, and its energy.
        let second = &left[delay + 44_100..delay + 2 * 44_100];
        let crossings = second.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((878..=882).contains(&crossings), "{crossings} zero crossings");
        let rms = (second.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 44_100.0).sqrt();
        let expected = 16_384.0 / 2f64.sqrt();
        assert!((rms / expected - 1.0).abs() < 0.05, "rms {rms:.0}, expected {expected:.0}");
    }

    #[test]
    fn tiny_pieces_give_the_same_stream_as_one_piece() {
        let pcm = sine(1.0);
        let whole = encode_in_pieces(&pcm, pcm.len());
        let tiny = encode_in_pieces(&pcm, 7);
        assert_eq!(mp3::frames(&tiny).count(), mp3::frames(&whole).count());
        assert!(tiny == whole, "LAME's output does not depend on how its input is cut");
    }

    #[test]
    fn unsupported_bitrates_are_refused() {
        for kbps in [0, 8, 56, 127, 384, u16::MAX] {
            assert_eq!(Encoder::new(kbps).unwrap_err(), EncodeError::UnsupportedBitrate(kbps));
        }
        for (kbps, _) in BITRATES {
            assert_eq!(Encoder::new(kbps).unwrap().bitrate_kbps(), kbps);
        }
    }

    #[test]
    fn every_bitrate_gives_frames_of_that_bitrate() {
        for (kbps, _) in BITRATES {
            let mut encoder = Encoder::new(kbps).unwrap();
            let mut stream = Vec::new();
            encoder.encode(&sine(0.5), &mut stream).unwrap();
            encoder.flush(&mut stream).unwrap();
            let rates: Vec<u32> = mp3::frames(&stream).map(|f| f.header.bitrate_kbps).collect();
            assert!(rates.len() > 15 && rates.iter().all(|&r| r == u32::from(kbps)), "{kbps}: {rates:?}");
        }
    }

    #[test]
    fn a_flushed_stream_takes_no_more_audio() {
        let mut encoder = Encoder::new(128).unwrap();
        let mut out = Vec::new();
        encoder.encode(&sine(0.1), &mut out).unwrap();
        assert!(encoder.flush(&mut out).unwrap() > 0);
        let len = out.len();
        assert_eq!(encoder.encode(&[1, 2], &mut out), Err(EncodeError::Flushed));
        assert_eq!(encoder.flush(&mut out), Ok(0));
        assert_eq!(out.len(), len);
    }

    #[test]
    fn the_frame_duration_is_1152_samples_at_44k() {
        assert_eq!(FRAME_DURATION, samples_to_duration(SAMPLES_PER_FRAME as u64, SAMPLE_RATE));
        assert_eq!(FRAME_DURATION.as_nanos(), 26_122_448);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn no_way_of_cutting_the_input_gives_a_partial_frame(
            pcm in proptest::collection::vec(any::<i16>(), 0..3 * 2 * SAMPLES_PER_FRAME),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(pcm.len() + 1)).collect();
            cuts.extend([0, pcm.len()]);
            cuts.sort_unstable();
            let mut encoder = Encoder::new(128).unwrap();
            let mut stream = Vec::new();
            for piece in cuts.windows(2) {
                let mut chunk = Vec::new();
                let frames = encoder.encode(&pcm[piece[0]..piece[1]], &mut chunk).unwrap();
                assert_whole_frames(&chunk, frames);
                stream.extend_from_slice(&chunk);
            }
            let mut chunk = Vec::new();
            let frames = encoder.flush(&mut chunk).unwrap();
            assert_whole_frames(&chunk, frames);
            stream.extend_from_slice(&chunk);
            // Every pair went in, whatever the cuts: as many frames as one piece gives.
            let mut one = Encoder::new(128).unwrap();
            let mut whole = Vec::new();
            one.encode(&pcm, &mut whole).unwrap();
            one.flush(&mut whole).unwrap();
            prop_assert_eq!(mp3::frames(&stream).count(), mp3::frames(&whole).count());
        }
    }
}
