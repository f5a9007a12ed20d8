//! MPEG audio frame headers (ISO 11172-3 / 13818-3), as far as the protocol needs them.
//!
//! AUDIO payloads carry whole MP3 frames and their position in the song (RFC §7.2), so the
//! server must find frame boundaries and durations, and a client may use the same code to feed
//! a decoder whole frames. This is framing only: no decoding, and no tags (skipping an ID3v2
//! tag, reading a Xing header serve the server's library, not the wire). Free-format streams
//! (bitrate index 0) are not supported and are treated as not being MPEG audio.
//!
//! Which bytes are frames is decided in one place, [`FrameWalk`], a state machine that is shown
//! the data a window at a time: [`frames`] shows it a slice held in memory, [`frames_read`]
//! windows read from a file of any size, so both find exactly the same frames.
//!
//! The names say "audio frame" throughout, as RFC.md does, because "frame" alone is a
//! protocol frame ([`crate::frame`]).

use std::io::{self, Read};

/// Size of an MPEG audio frame header.
pub const AUDIO_HEADER_LEN: usize = 4;

/// The longest MPEG audio frame a valid header describes: MPEG-2.5 Layer II at 160 kbit/s and
/// 8 kHz, padded (144 * 160000 / 8000 + 1 bytes).
pub const MAX_AUDIO_FRAME_LEN: usize = 2881;

/// The most bytes per second of playing time that any valid header describes: MPEG-1 Layer I
/// at 448 kbit/s and 48 kHz, padded, 452-byte frames of 8 ms. So `d` of audio never takes
/// more than `d` times this many bytes, whatever the file says.
pub const MAX_AUDIO_BYTES_PER_SECOND: u64 = 56_500;

/// MPEG version of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// MPEG-1 (32, 44.1, 48 kHz).
    Mpeg1,
    /// MPEG-2 low sampling rates (16, 22.05, 24 kHz).
    Mpeg2,
    /// The unofficial MPEG-2.5 (8, 11.025, 12 kHz).
    Mpeg25,
}

/// MPEG audio layer of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Layer I.
    One,
    /// Layer II.
    Two,
    /// Layer III ("MP3").
    Three,
}

/// What an MPEG audio frame header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioHeader {
    /// MPEG version.
    pub version: Version,
    /// Layer.
    pub layer: Layer,
    /// Bitrate of this frame in kbit/s.
    pub bitrate_kbps: u32,
    /// Sampling rate in Hz.
    pub sample_rate: u32,
    /// 1 for mono, 2 otherwise.
    pub channels: u8,
    /// Whether a CRC follows the header.
    pub protected: bool,
    /// Length of the whole frame in bytes, header included.
    pub len: usize,
    /// PCM samples per channel the frame decodes to.
    pub samples: u32,
}

const BITRATES_V1: [[u32; 15]; 3] = [
    [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
];
const BITRATES_V2: [[u32; 15]; 3] = [
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];

impl AudioHeader {
    /// Parses the header at the start of `bytes`; `None` if it is not a supported header.
    pub fn parse(bytes: &[u8]) -> Option<AudioHeader> {
        let &[b0, b1, b2, b3, ..] = bytes else {
            return None;
        };
        if b0 != 0xFF || b1 & 0xE0 != 0xE0 {
            return None;
        }
        let version = match (b1 >> 3) & 0b11 {
            0b00 => Version::Mpeg25,
            0b10 => Version::Mpeg2,
            0b11 => Version::Mpeg1,
            _ => return None,
        };
        let layer = match (b1 >> 1) & 0b11 {
            0b01 => Layer::Three,
            0b10 => Layer::Two,
            0b11 => Layer::One,
            _ => return None,
        };
        let bitrate_index = usize::from(b2 >> 4);
        let rate_index = usize::from((b2 >> 2) & 0b11);
        if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 || b3 & 0b11 == 0b10 {
            return None;
        }
        let layer_index = match layer {
            Layer::One => 0,
            Layer::Two => 1,
            Layer::Three => 2,
        };
        let (bitrate_kbps, sample_rate) = match version {
            Version::Mpeg1 => (BITRATES_V1[layer_index][bitrate_index], [44_100, 48_000, 32_000][rate_index]),
            Version::Mpeg2 => (BITRATES_V2[layer_index][bitrate_index], [22_050, 24_000, 16_000][rate_index]),
            Version::Mpeg25 => (BITRATES_V2[layer_index][bitrate_index], [11_025, 12_000, 8_000][rate_index]),
        };
        let padding = u32::from((b2 >> 1) & 1);
        let bitrate = bitrate_kbps * 1000;
        let (len, samples) = match (layer, version) {
            (Layer::One, _) => ((12 * bitrate / sample_rate + padding) * 4, 384),
            (Layer::Two, _) | (Layer::Three, Version::Mpeg1) => (144 * bitrate / sample_rate + padding, 1152),
            (Layer::Three, _) => (72 * bitrate / sample_rate + padding, 576),
        };
        Some(AudioHeader {
            version,
            layer,
            bitrate_kbps,
            sample_rate,
            channels: if b3 >> 6 == 0b11 { 1 } else { 2 },
            protected: b1 & 1 == 0,
            len: len as usize,
            samples,
        })
    }

    /// Whether `other` agrees with this header in version, layer and sample rate. After a gap
    /// (or at the start of the data) a candidate frame counts only if the header that follows
    /// it agrees with it, which tells a real frame from a false sync in tag data or junk
    /// (RFC §7.2).
    pub fn agrees_with(&self, other: &AudioHeader) -> bool {
        self.version == other.version && self.layer == other.layer && self.sample_rate == other.sample_rate
    }
}

/// The playing time of `samples` samples per channel at `rate` Hz, to the nanosecond.
pub fn samples_to_duration(samples: u64, rate: u32) -> std::time::Duration {
    let nanos = u128::from(samples) * 1_000_000_000 / u128::from(rate.max(1));
    std::time::Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Time into a stream of frames, exact: it counts samples, and converts to time only when
/// asked, so rounding never accumulates over thousands of frames (AUDIO's position, RFC §7.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamClock {
    /// Time at the last change of sample rate.
    base: std::time::Duration,
    rate: u32,
    samples: u64,
}

impl StreamClock {
    /// Time elapsed before the next frame.
    pub fn now(&self) -> std::time::Duration {
        self.base + samples_to_duration(self.samples, self.rate)
    }

    /// Moves past one frame.
    pub fn advance(&mut self, header: &AudioHeader) {
        if header.sample_rate != self.rate {
            self.base = self.now();
            self.rate = header.sample_rate;
            self.samples = 0;
        }
        self.samples += u64::from(header.samples);
    }
}

/// One frame found in a slice ([`frames`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpan {
    /// Byte offset of the frame in the data walked.
    pub offset: usize,
    /// The frame's header.
    pub header: AudioHeader,
}

/// One frame found by a [`FrameWalk`], in data that may be larger than memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameAt {
    /// Byte offset of the frame in the data walked.
    pub offset: u64,
    /// The frame's header.
    pub header: AudioHeader,
}

/// Walks the MPEG audio frames of `data` from its start, by the rule of RFC §7.2:
///
/// - a valid header right where the previous frame ended starts the next frame, whatever its
///   version, layer or sample rate (a stream MAY change them);
/// - at the start, and after bytes that are not a frame (junk), a candidate frame counts only
///   if it ends exactly at the end of the data or the header after it agrees with it
///   ([`AudioHeader::agrees_with`]); otherwise its first byte is junk and the walk moves on
///   one byte;
/// - a frame that the data cuts short is not a frame, so trailing ID3v1 or APE tags and a
///   truncated last frame are never yielded.
///
/// Tags at the start (ID3v2) are the caller's to skip: [`frames_from`]. The rule itself is
/// [`FrameWalk`]'s; this and [`frames_read`] only show it the data.
pub fn frames(data: &[u8]) -> Frames<'_> {
    frames_from(data, 0)
}

/// [`frames`] starting at byte `start` of `data` (after an ID3v2 tag), with offsets still
/// counted from the start of `data`.
pub fn frames_from(data: &[u8], start: usize) -> Frames<'_> {
    Frames { data, walk: FrameWalk::new(start.min(data.len()) as u64) }
}

/// Iterator returned by [`frames`].
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    data: &'a [u8],
    walk: FrameWalk,
}

impl Iterator for Frames<'_> {
    type Item = FrameSpan;

    fn next(&mut self) -> Option<FrameSpan> {
        let whole = Window { bytes: self.data, start: 0, reaches_end: true };
        match self.walk.step(whole) {
            // Offsets are within `data`, so they fit a usize.
            Step::Frame(frame) => Some(FrameSpan { offset: frame.offset as usize, header: frame.header }),
            // A window that reaches the end never leaves the walk wanting more.
            Step::End | Step::NeedMore => None,
        }
    }
}

/// A stretch of the data being walked, shown to a [`FrameWalk`].
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// The bytes.
    pub bytes: &'a [u8],
    /// Offset in the data of `bytes[0]`.
    pub start: u64,
    /// Whether `bytes` run to the end of the data: only then can the walk tell that a frame
    /// ends exactly at the end, or that one is cut short.
    pub reaches_end: bool,
}

/// What a [`FrameWalk`] found in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The next frame.
    Frame(FrameAt),
    /// The rule needs bytes past the window's end to decide (the rest of a frame, or the
    /// header after it): show a window that starts at or before [`FrameWalk::position`] and
    /// reaches further. It never needs more than [`MIN_WINDOW`] bytes from that position.
    NeedMore,
    /// No frame follows.
    End,
}

/// A window that holds this many bytes from the walk's position always lets the walk decide:
/// the longest frame and the header after it.
pub const MIN_WINDOW: usize = MAX_AUDIO_FRAME_LEN + AUDIO_HEADER_LEN;

/// The walk of RFC §7.2 (see [`frames`]) as a state machine over offsets, without the data:
/// the caller shows it the data one [`Window`] at a time, so a file of any size is walked in
/// the memory of one window, and each decision is the one the walk over the whole data makes.
/// [`frames`] shows it a whole slice; [`frames_read`] windows read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameWalk {
    /// Where the walk stands: the next byte to look at.
    pos: u64,
    /// Where the last frame found ended: a header there needs no confirmation.
    previous_end: Option<u64>,
}

impl FrameWalk {
    /// A walk that starts at offset `start` of the data (after its ID3v2 tags).
    pub fn new(start: u64) -> FrameWalk {
        FrameWalk { pos: start, previous_end: None }
    }

    /// Where the walk stands: a window must start at or before this offset.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The next frame in `window`, or what the walk needs to find it.
    pub fn step(&mut self, window: Window<'_>) -> Step {
        loop {
            let Some(ahead) = self.pos.checked_sub(window.start) else { return Step::NeedMore };
            let rest = usize::try_from(ahead).ok().and_then(|a| window.bytes.get(a..)).unwrap_or(&[]);
            if rest.len() < AUDIO_HEADER_LEN {
                return if window.reaches_end { Step::End } else { Step::NeedMore };
            }
            if let Some(header) = AudioHeader::parse(rest) {
                match self.starts_frame(rest, &header, window.reaches_end) {
                    Some(true) => {
                        let frame = FrameAt { offset: self.pos, header };
                        self.pos += header.len as u64;
                        self.previous_end = Some(self.pos);
                        return Step::Frame(frame);
                    }
                    Some(false) => {}
                    None => return Step::NeedMore,
                }
            }
            // Junk.
            self.pos += 1;
        }
    }

    /// Whether the valid `header` at the start of `rest` (the window from the walk's
    /// position on) starts a frame; `None` when that depends on bytes past the window.
    fn starts_frame(&self, rest: &[u8], header: &AudioHeader, reaches_end: bool) -> Option<bool> {
        let len = header.len;
        if len > rest.len() {
            // Cut short by the end of the data, or not yet shown.
            return reaches_end.then_some(false);
        }
        if self.previous_end == Some(self.pos) {
            return Some(true);
        }
        if len == rest.len() {
            // Ends exactly at the end of the data, or the header after it is not yet shown.
            return reaches_end.then_some(true);
        }
        match AudioHeader::parse(&rest[len..]) {
            Some(next) => Some(header.agrees_with(&next)),
            None if reaches_end || rest.len() - len >= AUDIO_HEADER_LEN => Some(false),
            None => None,
        }
    }
}

/// The frames of the data that `reader` yields, walked by the rule of [`frames`] through a
/// buffer of `window` bytes (at least [`MIN_WINDOW`]): memory stays bounded whatever the size
/// of the data. The first byte read is at offset `start` of the data (the caller has skipped
/// the ID3v2 tags), and offsets are counted from the start of the data.
pub fn frames_read<R: Read>(reader: R, start: u64, window: usize) -> FrameReader<R> {
    FrameReader {
        reader,
        walk: FrameWalk::new(start),
        buf: vec![0; window.max(MIN_WINDOW)].into_boxed_slice(),
        buf_start: start,
        filled: 0,
        at_end: false,
        failed: false,
    }
}

/// Iterator returned by [`frames_read`]; a read error is its last item.
#[derive(Debug)]
pub struct FrameReader<R> {
    reader: R,
    walk: FrameWalk,
    buf: Box<[u8]>,
    /// Offset in the data of `buf[0]`.
    buf_start: u64,
    /// Bytes of `buf` that hold data.
    filled: usize,
    /// The reader has nothing more: `buf[..filled]` runs to the end of the data.
    at_end: bool,
    failed: bool,
}

impl<R: Read> FrameReader<R> {
    /// Keeps the bytes from the walk's position on and reads more after them. The walk asks
    /// for more only when what it needs runs past the buffer, and it never needs more than
    /// [`MIN_WINDOW`] bytes, so what is kept is short and leaves room to read into.
    fn refill(&mut self) -> io::Result<()> {
        let keep_from = usize::try_from(self.walk.position().saturating_sub(self.buf_start))
            .unwrap_or(usize::MAX)
            .min(self.filled);
        self.buf.copy_within(keep_from..self.filled, 0);
        self.filled -= keep_from;
        self.buf_start += keep_from as u64;
        if self.filled == self.buf.len() {
            return Err(io::Error::other("an MPEG audio frame walk needs more than its window"));
        }
        loop {
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(0) => self.at_end = true,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            return Ok(());
        }
    }
}

impl<R: Read> Iterator for FrameReader<R> {
    type Item = io::Result<FrameAt>;

    fn next(&mut self) -> Option<io::Result<FrameAt>> {
        while !self.failed {
            let window =
                Window { bytes: &self.buf[..self.filled], start: self.buf_start, reaches_end: self.at_end };
            match self.walk.step(window) {
                Step::Frame(frame) => return Some(Ok(frame)),
                Step::End => return None,
                Step::NeedMore => {
                    if let Err(e) = self.refill() {
                        self.failed = true;
                        return Some(Err(e));
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A MPEG-1 Layer III header: 128 kbit/s, 44.1 kHz, stereo, no padding (417 bytes).
    const HEADER_128K: [u8; 4] = [0xFF, 0xFB, 0x90, 0x00];

    fn frame(header: [u8; 4]) -> Vec<u8> {
        let len = AudioHeader::parse(&header).unwrap().len;
        let mut f = header.to_vec();
        f.resize(len, 0);
        f
    }

    #[test]
    fn parses_a_128k_stereo_header() {
        let h = AudioHeader::parse(&HEADER_128K).unwrap();
        assert_eq!(
            (h.bitrate_kbps, h.sample_rate, h.channels, h.len, h.samples),
            (128, 44_100, 2, 417, 1152)
        );
    }

    #[test]
    fn padding_and_mono_and_mpeg2_change_the_numbers() {
        let padded_mono = AudioHeader::parse(&[0xFF, 0xFB, 0x92, 0xC0]).unwrap();
        assert_eq!((padded_mono.len, padded_mono.channels), (418, 1));
        // MPEG-2 Layer III, 64 kbit/s, 22.05 kHz: 72 * 64000 / 22050 = 208.
        let mpeg2 = AudioHeader::parse(&[0xFF, 0xF3, 0x80, 0x00]).unwrap();
        assert_eq!((mpeg2.version, mpeg2.len, mpeg2.samples), (Version::Mpeg2, 208, 576));
    }

    #[test]
    fn rejects_bad_sync_free_format_and_reserved_values() {
        assert!(AudioHeader::parse(b"TAG\0").is_none());
        assert!(AudioHeader::parse(&[0xFF, 0xFB, 0x00, 0x00]).is_none());
        assert!(AudioHeader::parse(&[0xFF, 0xFB, 0xF0, 0x00]).is_none());
        assert!(AudioHeader::parse(&[0xFF, 0xFB, 0x9C, 0x00]).is_none());
        assert!(AudioHeader::parse(&[0xFF, 0xF9, 0x90, 0x00]).is_none());
        assert!(AudioHeader::parse(&[0xFF, 0xFB]).is_none());
    }

    #[test]
    fn walks_frames_between_id3v2_and_id3v1_tags() {
        let mut data = b"ID3\x04\x00\x00\x00\x00\x00\x05hello".to_vec();
        let audio_start = data.len();
        for _ in 0..3 {
            data.extend(frame(HEADER_128K));
        }
        let audio_end = data.len();
        data.extend_from_slice(b"TAG");
        data.resize(audio_end + 128, b' ');
        let spans: Vec<_> = frames_from(&data, audio_start).collect();
        assert_eq!(spans.len(), 3);
        assert_eq!(spans[0].offset, audio_start);
        assert_eq!(spans[2].offset + spans[2].header.len, audio_end);
    }

    #[test]
    fn skips_junk_and_a_truncated_last_frame() {
        let mut data = vec![0xFF, 0x00, 0x12];
        data.extend(frame(HEADER_128K));
        data.extend(frame(HEADER_128K));
        data.extend(&frame(HEADER_128K)[..100]);
        let spans: Vec<_> = frames(&data).collect();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].offset, 3);
    }

    #[test]
    fn a_lone_false_sync_is_not_a_frame() {
        let mut data = HEADER_128K.to_vec();
        data.resize(1000, 0);
        assert_eq!(frames(&data).count(), 0);
    }

    #[test]
    fn the_clock_does_not_drift() {
        let header = AudioHeader::parse(&HEADER_128K).unwrap();
        let mut clock = StreamClock::default();
        for _ in 0..382 {
            clock.advance(&header);
        }
        // 382 frames of 1152 samples = 440 064 samples = 9.978775510 s, to the nanosecond
        // (adding 382 per-frame durations of 26.122448 ms would be 168 ns short).
        assert_eq!(clock.now(), std::time::Duration::from_nanos(9_978_775_510));
        assert_eq!(samples_to_duration(44_100, 44_100), std::time::Duration::from_secs(1));
    }

    #[test]
    fn a_change_of_sample_rate_loses_no_frame() {
        // 3 frames at 44.1 kHz, 3 at 48 kHz (MPEG-1), 3 at 22.05 kHz (MPEG-2), 3 at 44.1 kHz.
        const HEADER_48K: [u8; 4] = [0xFF, 0xFB, 0x94, 0x00];
        const HEADER_22K: [u8; 4] = [0xFF, 0xF3, 0x80, 0x00];
        let mut data = Vec::new();
        let mut expected = Vec::new();
        for header in [HEADER_128K, HEADER_48K, HEADER_22K, HEADER_128K] {
            for _ in 0..3 {
                expected.push((data.len(), AudioHeader::parse(&header).unwrap().sample_rate));
                data.extend(frame(header));
            }
        }
        let walked: Vec<_> = frames(&data).map(|f| (f.offset, f.header.sample_rate)).collect();
        assert_eq!(walked, expected);
        // Position is the exact sum of durations at each frame's own rate.
        let mut clock = StreamClock::default();
        frames(&data).for_each(|f| clock.advance(&f.header));
        let nanos = |samples: u64, rate: u64| samples * 1_000_000_000 / rate;
        let expected_ns = nanos(6 * 1152, 44_100) + nanos(3 * 1152, 48_000) + nanos(3 * 576, 22_050);
        assert!(clock.now().as_nanos().abs_diff(u128::from(expected_ns)) <= 2, "{:?}", clock.now());
    }

    #[test]
    fn junk_then_a_lone_frame_of_another_rate_is_not_trusted() {
        // After junk, a frame must be confirmed by an agreeing next header; a 48 kHz frame
        // followed by 44.1 kHz frames is a false sync there, and the walk resumes at the next
        // confirmed frame.
        const HEADER_48K: [u8; 4] = [0xFF, 0xFB, 0x94, 0x00];
        let mut data = b"junk".to_vec();
        data.extend(frame(HEADER_48K));
        let second = data.len();
        data.extend(frame(HEADER_128K));
        data.extend(frame(HEADER_128K));
        let offsets: Vec<_> = frames(&data).map(|f| f.offset).collect();
        assert_eq!(offsets, [second, second + 417]);
    }

    /// Every header the parser accepts: the 3 bytes after 0xFF that matter (the channel mode
    /// and the other bits of the last byte do not change a frame's length or duration).
    fn every_valid_header() -> impl Iterator<Item = AudioHeader> {
        (0xE0..=0xFFu8).flat_map(|b1| {
            (0..=0xFFu8)
                .flat_map(move |b2| (0..=3u8).filter_map(move |b3| AudioHeader::parse(&[0xFF, b1, b2, b3])))
        })
    }

    #[test]
    fn the_bounds_on_frame_length_and_byte_rate_are_the_largest_any_header_allows() {
        let longest = every_valid_header().map(|h| h.len).max().unwrap();
        assert_eq!(longest, MAX_AUDIO_FRAME_LEN);
        // Bytes per second, rounded up: len * rate / samples.
        let fastest = every_valid_header()
            .map(|h| (h.len as u64 * u64::from(h.sample_rate)).div_ceil(u64::from(h.samples)))
            .max()
            .unwrap();
        assert_eq!(fastest, MAX_AUDIO_BYTES_PER_SECOND);
    }

    /// Data made of frames of several kinds (the longest a header allows among them), junk,
    /// false syncs and frames cut short, so that windows end everywhere a decision is made.
    fn walkable_data() -> impl Strategy<Value = Vec<u8>> {
        const HEADERS: [[u8; 4]; 6] = [
            HEADER_128K,
            [0xFF, 0xFB, 0x94, 0x00], // MPEG-1 Layer III, 48 kHz
            [0xFF, 0xF3, 0x80, 0x00], // MPEG-2 Layer III, 22.05 kHz
            [0xFF, 0xE5, 0xEA, 0x00], // MPEG-2.5 Layer II, 160 kbit/s, 8 kHz, padded: the longest
            [0xFF, 0xFF, 0xE6, 0x00], // MPEG-1 Layer I, 448 kbit/s, 48 kHz, padded
            [0xFF, 0xF3, 0x10, 0xC0], // MPEG-2 Layer III, 8 kbit/s: 26 bytes
        ];
        let part = prop_oneof![
            4 => (0..HEADERS.len(), 1..4usize).prop_map(|(h, n)| frame(HEADERS[h]).repeat(n)),
            1 => proptest::collection::vec(any::<u8>(), 0..40),
            1 => (0..HEADERS.len()).prop_map(|h| HEADERS[h].to_vec()),
            1 => (0..HEADERS.len(), any::<prop::sample::Index>())
                .prop_map(|(h, cut)| { let f = frame(HEADERS[h]); f[..cut.index(f.len())].to_vec() }),
        ];
        proptest::collection::vec(part, 0..24).prop_map(|parts| parts.concat())
    }

    /// The walk shown windows of `grow` bytes more each time it needs more, starting at
    /// `start`, as a caller that keeps only what the walk still needs would show them.
    fn walk_in_windows(data: &[u8], start: usize, grow: usize) -> Vec<FrameSpan> {
        let start = start.min(data.len());
        let mut walk = FrameWalk::new(start as u64);
        let mut end = start;
        let mut found = Vec::new();
        loop {
            let from = walk.position() as usize;
            let window =
                Window { bytes: &data[from..end], start: from as u64, reaches_end: end == data.len() };
            match walk.step(window) {
                Step::Frame(f) => found.push(FrameSpan { offset: f.offset as usize, header: f.header }),
                Step::NeedMore => {
                    assert!(end < data.len(), "a window that reaches the end decides");
                    end = (end + grow).min(data.len());
                }
                Step::End => return found,
            }
        }
    }

    /// A reader that hands out at most `most` bytes per read, as a pipe or a slow disk may.
    struct Trickle<'a> {
        data: &'a [u8],
        most: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.most).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    proptest! {
        #[test]
        fn a_walk_in_windows_finds_exactly_the_frames_of_the_walk_in_memory(
            data in walkable_data(),
            start in 0..64usize,
            grow in prop_oneof![1..8usize, 1..5000usize],
        ) {
            let in_memory: Vec<_> = frames_from(&data, start).collect();
            prop_assert_eq!(walk_in_windows(&data, start, grow), in_memory);
        }

        #[test]
        fn a_walk_read_from_a_file_finds_exactly_the_frames_of_the_walk_in_memory(
            data in walkable_data(),
            start in 0..64usize,
            window in MIN_WINDOW..3 * MIN_WINDOW,
            most in prop_oneof![1..8usize, 1..10_000usize],
        ) {
            let start = start.min(data.len());
            let in_memory: Vec<_> = frames_from(&data, start)
                .map(|f| FrameAt { offset: f.offset as u64, header: f.header })
                .collect();
            let read: Vec<_> = frames_read(Trickle { data: &data[start..], most }, start as u64, window)
                .collect::<io::Result<_>>()
                .unwrap();
            prop_assert_eq!(read, in_memory);
        }
    }

    #[test]
    fn a_read_error_ends_the_walk_with_that_error() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let mut walk = frames_read(Broken, 0, 0);
        assert!(matches!(walk.next(), Some(Err(e)) if e.to_string() == "disk on fire"));
        assert!(walk.next().is_none());
    }
}
