//! MPEG audio frame headers (ISO 11172-3 / 13818-3), as far as the protocol needs them.
//!
//! AUDIO payloads carry whole MP3 frames and their position in the song (RFC §7.2), so the
//! server must find frame boundaries and durations, and a client may use the same code to feed
//! a decoder whole frames. This is framing only: no decoding. Free-format streams (bitrate index
//! 0) are not supported and are treated as not being MPEG audio.

/// Size of an MPEG audio frame header.
pub const FRAME_HEADER_LEN: usize = 4;

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

/// What a frame header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
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

impl FrameHeader {
    /// Parses the header at the start of `bytes`; `None` if it is not a supported header.
    pub fn parse(bytes: &[u8]) -> Option<FrameHeader> {
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
        Some(FrameHeader {
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

    /// Whether `other` can be the next frame of the same stream: the fields that do not change
    /// within a stream agree. Used to tell a real frame from a false sync in tag data.
    pub fn continues(&self, other: &FrameHeader) -> bool {
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
    pub fn advance(&mut self, header: &FrameHeader) {
        if header.sample_rate != self.rate {
            self.base = self.now();
            self.rate = header.sample_rate;
            self.samples = 0;
        }
        self.samples += u64::from(header.samples);
    }
}

/// Length of the ID3v2 tags at the start of `data` (0 if none). A file may carry several.
pub fn id3v2_len(data: &[u8]) -> usize {
    let mut pos = 0;
    while let Some(tag) = data.get(pos..pos + 10) {
        if &tag[..3] != b"ID3" || tag[6..10].iter().any(|b| b & 0x80 != 0) {
            break;
        }
        let size = tag[6..10].iter().fold(0usize, |acc, b| (acc << 7) | usize::from(*b));
        let footer = if tag[5] & 0x10 != 0 { 10 } else { 0 };
        pos += 10 + size + footer;
    }
    pos.min(data.len())
}

/// One frame found in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpan {
    /// Byte offset of the frame in the data walked.
    pub offset: usize,
    /// The frame's header.
    pub header: FrameHeader,
}

/// Walks the frames of a whole MP3 file held in memory: skips ID3v2 tags, resynchronises over
/// junk (a frame found after junk must be followed by a matching header, or end the data, to
/// count), stops before a truncated last frame, and so never yields trailing ID3v1/APE tags.
pub fn frames(data: &[u8]) -> Frames<'_> {
    Frames { data, pos: id3v2_len(data), previous: None }
}

/// Iterator returned by [`frames`].
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    data: &'a [u8],
    pos: usize,
    previous: Option<FrameHeader>,
}

impl Frames<'_> {
    fn frame_at(&self, pos: usize) -> Option<FrameHeader> {
        let header = FrameHeader::parse(self.data.get(pos..)?)?;
        let end = pos + header.len;
        if end > self.data.len() {
            return None;
        }
        let confirmed = match self.previous {
            Some(previous) => previous.continues(&header),
            None => {
                end == self.data.len()
                    || FrameHeader::parse(&self.data[end..]).is_some_and(|next| header.continues(&next))
            }
        };
        confirmed.then_some(header)
    }
}

impl Iterator for Frames<'_> {
    type Item = FrameSpan;

    fn next(&mut self) -> Option<FrameSpan> {
        while self.pos + FRAME_HEADER_LEN <= self.data.len() {
            if let Some(header) = self.frame_at(self.pos) {
                let span = FrameSpan { offset: self.pos, header };
                self.pos += header.len;
                self.previous = Some(header);
                return Some(span);
            }
            self.previous = None;
            self.pos += 1;
        }
        None
    }
}

/// The frame count that a Xing/Info (LAME) or VBRI (Fraunhofer) header in the first frame
/// declares, which gives a song's duration without reading the whole file.
pub fn declared_frame_count(first: &FrameSpan, data: &[u8]) -> Option<u32> {
    let frame = data.get(first.offset..first.offset + first.header.len)?;
    let side_info = match (first.header.version, first.header.channels) {
        (Version::Mpeg1, 1) => 17,
        (Version::Mpeg1, _) => 32,
        (_, 1) => 9,
        (_, _) => 17,
    };
    let xing = FRAME_HEADER_LEN + side_info;
    if let Some(tag) = frame.get(xing..xing + 12)
        && (&tag[..4] == b"Xing" || &tag[..4] == b"Info")
    {
        let flags = u32::from_be_bytes([tag[4], tag[5], tag[6], tag[7]]);
        return (flags & 1 != 0).then(|| u32::from_be_bytes([tag[8], tag[9], tag[10], tag[11]]));
    }
    let vbri = FRAME_HEADER_LEN + 32;
    let tag = frame.get(vbri..vbri + 18)?;
    (&tag[..4] == b"VBRI").then(|| u32::from_be_bytes([tag[14], tag[15], tag[16], tag[17]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A MPEG-1 Layer III header: 128 kbit/s, 44.1 kHz, stereo, no padding (417 bytes).
    const HEADER_128K: [u8; 4] = [0xFF, 0xFB, 0x90, 0x00];

    fn frame(header: [u8; 4]) -> Vec<u8> {
        let len = FrameHeader::parse(&header).unwrap().len;
        let mut f = header.to_vec();
        f.resize(len, 0);
        f
    }

    #[test]
    fn parses_a_128k_stereo_header() {
        let h = FrameHeader::parse(&HEADER_128K).unwrap();
        assert_eq!(
            (h.bitrate_kbps, h.sample_rate, h.channels, h.len, h.samples),
            (128, 44_100, 2, 417, 1152)
        );
    }

    #[test]
    fn padding_and_mono_and_mpeg2_change_the_numbers() {
        let padded_mono = FrameHeader::parse(&[0xFF, 0xFB, 0x92, 0xC0]).unwrap();
        assert_eq!((padded_mono.len, padded_mono.channels), (418, 1));
        // MPEG-2 Layer III, 64 kbit/s, 22.05 kHz: 72 * 64000 / 22050 = 208.
        let mpeg2 = FrameHeader::parse(&[0xFF, 0xF3, 0x80, 0x00]).unwrap();
        assert_eq!((mpeg2.version, mpeg2.len, mpeg2.samples), (Version::Mpeg2, 208, 576));
    }

    #[test]
    fn rejects_bad_sync_free_format_and_reserved_values() {
        assert!(FrameHeader::parse(b"TAG\0").is_none());
        assert!(FrameHeader::parse(&[0xFF, 0xFB, 0x00, 0x00]).is_none());
        assert!(FrameHeader::parse(&[0xFF, 0xFB, 0xF0, 0x00]).is_none());
        assert!(FrameHeader::parse(&[0xFF, 0xFB, 0x9C, 0x00]).is_none());
        assert!(FrameHeader::parse(&[0xFF, 0xF9, 0x90, 0x00]).is_none());
        assert!(FrameHeader::parse(&[0xFF, 0xFB]).is_none());
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
        let spans: Vec<_> = frames(&data).collect();
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
        let header = FrameHeader::parse(&HEADER_128K).unwrap();
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
    fn reads_the_xing_frame_count() {
        let mut first = frame(HEADER_128K);
        first[36..40].copy_from_slice(b"Xing");
        first[40..44].copy_from_slice(&1u32.to_be_bytes());
        first[44..48].copy_from_slice(&1234u32.to_be_bytes());
        let mut data = first;
        data.extend(frame(HEADER_128K));
        let span = frames(&data).next().unwrap();
        assert_eq!(declared_frame_count(&span, &data), Some(1234));
    }
}
