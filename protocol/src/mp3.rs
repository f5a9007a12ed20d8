//! MPEG audio frame headers (ISO 11172-3 / 13818-3), as far as the protocol needs them.
//!
//! AUDIO payloads carry whole MP3 frames and their position in the song (RFC §7.2), so the
//! server must find frame boundaries and durations, and a client may use the same code to feed
//! a decoder whole frames. This is framing only: no decoding, and no tags (skipping an ID3v2
//! tag, reading a Xing header serve the server's library, not the wire). Free-format streams
//! (bitrate index 0) are not supported and are treated as not being MPEG audio.
//!
//! The names say "audio frame" throughout, as RFC.md does, because "frame" alone is a
//! protocol frame ([`crate::frame`]).

/// Size of an MPEG audio frame header.
pub const AUDIO_HEADER_LEN: usize = 4;

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

/// One frame found in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpan {
    /// Byte offset of the frame in the data walked.
    pub offset: usize,
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
/// Tags at the start (ID3v2) are the caller's to skip: [`frames_from`].
pub fn frames(data: &[u8]) -> Frames<'_> {
    frames_from(data, 0)
}

/// [`frames`] starting at byte `start` of `data` (after an ID3v2 tag), with offsets still
/// counted from the start of `data`.
pub fn frames_from(data: &[u8], start: usize) -> Frames<'_> {
    Frames { data, pos: start.min(data.len()), previous_end: None }
}

/// Iterator returned by [`frames`].
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    data: &'a [u8],
    pos: usize,
    /// Where the last frame yielded ended: a header there needs no confirmation.
    previous_end: Option<usize>,
}

impl Frames<'_> {
    fn frame_at(&self, pos: usize) -> Option<AudioHeader> {
        let header = AudioHeader::parse(self.data.get(pos..)?)?;
        let end = pos + header.len;
        if end > self.data.len() {
            return None;
        }
        let confirmed = self.previous_end == Some(pos)
            || end == self.data.len()
            || AudioHeader::parse(&self.data[end..]).is_some_and(|next| header.agrees_with(&next));
        confirmed.then_some(header)
    }
}

impl Iterator for Frames<'_> {
    type Item = FrameSpan;

    fn next(&mut self) -> Option<FrameSpan> {
        while self.pos + AUDIO_HEADER_LEN <= self.data.len() {
            if let Some(header) = self.frame_at(self.pos) {
                let span = FrameSpan { offset: self.pos, header };
                self.pos += header.len;
                self.previous_end = Some(self.pos);
                return Some(span);
            }
            self.pos += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
