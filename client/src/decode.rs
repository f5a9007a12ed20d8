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

use jukebox_codec::{FrameDecoder, Resampler};

use crate::pcm::PcmQueue;

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
}
