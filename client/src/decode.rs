//! The decoder thread: MP3 frames in, 44.1 kHz stereo samples out into the [`PcmQueue`].
//!
//! minimp3 resets itself (losing the bit reservoir, and so audio) whenever it is handed part
//! of a frame, and chunks from the network need not end on a frame boundary, so the decoder
//! is handed exactly one whole frame per call: [`FrameSplitter`] cuts the received bytes into
//! frames and [`FrameDecoder`] decodes them.

use std::sync::Arc;

use crossbeam_channel::Receiver;
use jukebox_protocol::StreamId;
use jukebox_protocol::mp3::{AUDIO_HEADER_LEN, AudioHeader};

use crate::mp3dec::FrameDecoder;
use crate::pcm::{PcmQueue, SAMPLE_RATE};

/// What the socket thread tells the decoder.
#[derive(Debug)]
pub enum DecodeCmd {
    /// A new stream begins; forget the old one.
    Start(StreamId),
    /// Whole MP3 frames of a stream.
    Data(StreamId, Vec<u8>),
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
}

impl Current {
    fn new(stream: StreamId) -> Current {
        Current {
            stream,
            splitter: FrameSplitter::default(),
            decoder: FrameDecoder::default(),
            resampler: Resampler::default(),
        }
    }

    /// Decodes every whole frame received so far into the queue.
    fn decode_available(&mut self, queue: &PcmQueue, out: &mut Vec<i16>) {
        while let Some(frame) = self.splitter.next_frame() {
            if let Some(decoded) = self.decoder.decode(frame) {
                out.clear();
                self.resampler.convert(decoded.samples, decoded.channels, decoded.sample_rate, out);
                queue.push(self.stream, out);
            }
        }
    }
}

/// Runs until the command channel closes.
pub fn run(commands: Receiver<DecodeCmd>, queue: Arc<PcmQueue>) {
    let mut current: Option<Current> = None;
    let mut out = Vec::new();
    for command in commands {
        match command {
            DecodeCmd::Start(stream) => current = Some(Current::new(stream)),
            DecodeCmd::Data(stream, bytes) => {
                if let Some(current) = current.as_mut().filter(|c| c.stream == stream) {
                    current.splitter.push(&bytes);
                    current.decode_available(&queue, &mut out);
                }
            }
            DecodeCmd::End(stream) => {
                if let Some(current) = current.take_if(|c| c.stream == stream) {
                    queue.finish_input(current.stream);
                }
            }
        }
    }
}

/// Converts decoded frames to the output format: mono is doubled, other sample rates are
/// linearly interpolated (continuously across frames).
#[derive(Debug, Default)]
pub struct Resampler {
    /// Position of the next output frame, in input frames, counted from `last` (or from the
    /// first frame of the first call).
    phase: f64,
    /// The last input frame of the previous call (left, right).
    last: Option<(i16, i16)>,
}

impl Resampler {
    /// Appends `data` (interleaved, `channels` channels at `rate` Hz) as 44.1 kHz stereo.
    pub fn convert(&mut self, data: &[i16], channels: usize, rate: u32, out: &mut Vec<i16>) {
        let frames: Vec<(i16, i16)> = match channels {
            1 => data.iter().map(|&s| (s, s)).collect(),
            2 => data.chunks_exact(2).map(|f| (f[0], f[1])).collect(),
            _ => return,
        };
        if rate == SAMPLE_RATE {
            out.extend(frames.iter().flat_map(|&(l, r)| [l, r]));
            return;
        }
        if rate == 0 {
            return;
        }
        let step = f64::from(rate) / f64::from(SAMPLE_RATE);
        // Input frames with the previous call's last frame in front, at index 0.
        let mut input = Vec::with_capacity(frames.len() + 1);
        input.extend(self.last);
        input.extend_from_slice(&frames);
        if input.is_empty() {
            return;
        }
        while self.phase + 1.0 < input.len() as f64 {
            let i = self.phase as usize;
            let t = self.phase - i as f64;
            let (l0, r0) = input[i];
            let (l1, r1) = input[i + 1];
            let lerp = |a: i16, b: i16| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as i16;
            out.push(lerp(l0, l1));
            out.push(lerp(r0, r1));
            self.phase += step;
        }
        self.phase -= (input.len() - 1) as f64;
        self.last = input.last().copied();
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
    fn mono_is_doubled_and_44k_passes_unchanged() {
        let mut out = Vec::new();
        Resampler::default().convert(&[1, 2, 3], 1, 44_100, &mut out);
        assert_eq!(out, [1, 1, 2, 2, 3, 3]);
    }

    #[test]
    fn half_rate_doubles_the_frame_count() {
        let mut resampler = Resampler::default();
        let mut out = Vec::new();
        let input: Vec<i16> = (0..100).flat_map(|i| [i * 10, -i * 10]).collect();
        resampler.convert(&input[..100], 2, 22_050, &mut out);
        resampler.convert(&input[100..], 2, 22_050, &mut out);
        assert!((198..=200).contains(&(out.len() / 2)), "{} frames", out.len() / 2);
        // Linear interpolation between 0 and 10 gives 5 in between.
        assert_eq!(&out[..6], &[0, 0, 5, -5, 10, -10]);
    }
}
