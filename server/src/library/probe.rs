//! What the library needs to know of a file before listing it: whether it holds MPEG audio,
//! where the audio starts (after its ID3v2 tags) and how long it plays. This reads tags and
//! encoder headers, which serve the library, not the wire (the wire's frame rules are in
//! `jukebox_protocol::mp3`).
//!
//! A scan must be fast (a library of 10,000 songs should not read 50 GB), so a song's
//! duration comes from the frame count that a Xing/Info or VBRI header declares, checked
//! against the file's size; else, for a constant-bitrate file, from its size; else from a walk
//! of every frame header, read [`HEAD_BYTES`] at a time, so that no file, however large, makes
//! a scan hold more.

use std::io::{self, Read, Seek, SeekFrom};
use std::time::Duration;

use jukebox_protocol::mp3::{self, AUDIO_HEADER_LEN, AudioHeader, FrameSpan, Layer, StreamClock, Version};

/// How much of a file after its tags is read to find its first frames and encoder header.
pub const HEAD_BYTES: usize = 64 * 1024;

/// Files up to this size that have no plausible encoder header are walked frame by frame
/// rather than measured by their size: reading them whole is cheap, and the duration is then
/// exact.
pub const WALK_BELOW: u64 = 2 * 1024 * 1024;

/// Bytes after the last frame that a header's frame count may leave unexplained (ID3v1, APE
/// and Lyrics3 tags, a little junk) before the count is taken for a lie.
pub const TAIL_SLACK: u64 = 256 * 1024;

/// At most this many ID3v2 tags are skipped at the start of a file.
const MAX_ID3_TAGS: usize = 16;

/// What the library keeps of a playable file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Where the audio starts: after the ID3v2 tags.
    pub audio_start: u64,
    /// How long it plays.
    pub duration: Duration,
}

/// Why a file is not listed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// It could not be opened safely (see `open.rs`).
    #[error(transparent)]
    Open(#[from] crate::library::open::OpenError),
    /// Reading failed.
    #[error("cannot read it: {}", crate::library::scan::words(.0))]
    Io(#[from] io::Error),
    /// No run of MPEG audio frames was found.
    #[error("it holds no MPEG audio frames")]
    NotMpegAudio,
    /// Larger than the server streams: not worth a scan's time to walk.
    #[error("it is {size} bytes, more than the {} the server streams", crate::library::song::MAX_SONG_BYTES)]
    TooLarge {
        /// Its size.
        size: u64,
    },
}

/// Probes a file of `size` bytes, read from its start.
pub fn probe<F: Read + Seek>(file: &mut F, size: u64) -> Result<Probe, ProbeError> {
    let audio_start = id3v2_len(file, size)?;
    file.seek(SeekFrom::Start(audio_start))?;
    let mut head = Vec::new();
    file.by_ref().take(HEAD_BYTES as u64).read_to_end(&mut head)?;
    let audio_bytes = size.saturating_sub(audio_start);
    let mut frames = mp3::frames(&head);
    let first = frames.next();
    let duration_of = |frames: u64, header: &AudioHeader| {
        mp3::samples_to_duration(frames.saturating_mul(u64::from(header.samples)), header.sample_rate)
    };
    // An encoder's header frame (Xing, Info, VBRI) is silence and not counted in its own
    // count, so it does not count toward the duration either way.
    let mut header_frame = false;
    if let Some(first) = &first {
        header_frame = has_encoder_header(first, &head);
        if let Some(Declared { frames: count, bytes }) = declared(first, &head)
            && plausible(&first.header, count, audio_bytes)
            && bytes.is_none_or(|bytes| bytes_agree(bytes, audio_bytes))
        {
            return Ok(Probe { audio_start, duration: duration_of(u64::from(count), &first.header) });
        }
        let rest: Vec<_> = frames.collect();
        if size > WALK_BELOW && !header_frame && first.offset == 0 && is_constant_bitrate(first, &rest) {
            return Ok(Probe {
                audio_start,
                duration: duration_of(audio_bytes / first.header.len as u64, &first.header),
            });
        }
    }
    // No header to trust: walk every frame, a window at a time, so that a file of any size
    // costs a scan HEAD_BYTES of memory.
    file.seek(SeekFrom::Start(audio_start))?;
    let mut frames = mp3::frames_read(file.take(audio_bytes), 0, HEAD_BYTES);
    if header_frame {
        frames.next().transpose()?;
    }
    let mut clock = StreamClock::default();
    for frame in frames {
        clock.advance(&frame?.header);
    }
    let duration = clock.now();
    if duration.is_zero() {
        return Err(ProbeError::NotMpegAudio);
    }
    Ok(Probe { audio_start, duration })
}

/// Length of the ID3v2 tags at the start of the file (0 if none); a file may carry several.
/// A tag that claims to run past the end of the file ends the search: what follows is junk
/// that the frame walk skips.
pub fn id3v2_len<F: Read + Seek>(file: &mut F, size: u64) -> io::Result<u64> {
    let mut pos = 0u64;
    for _ in 0..MAX_ID3_TAGS {
        let mut tag = [0u8; 10];
        file.seek(SeekFrom::Start(pos))?;
        if file.read_exact(&mut tag).is_err() {
            break;
        }
        let Some(len) = id3v2_tag_len(&tag) else { break };
        if pos + len > size {
            break;
        }
        pos += len;
    }
    Ok(pos)
}

/// The whole length of the ID3v2 tag whose 10-byte header is `tag`.
pub fn id3v2_tag_len(tag: &[u8; 10]) -> Option<u64> {
    if &tag[..3] != b"ID3" || tag[6..10].iter().any(|b| b & 0x80 != 0) {
        return None;
    }
    let size = tag[6..10].iter().fold(0u64, |acc, b| (acc << 7) | u64::from(*b));
    let footer = if tag[5] & 0x10 != 0 { 10 } else { 0 };
    Some(10 + size + footer)
}

/// What a Xing/Info (LAME) or VBRI (Fraunhofer) header in the first frame declares, which
/// gives a song's duration without reading the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declared {
    /// Frames after the header's own.
    pub frames: u32,
    /// Bytes of the audio, when the header says.
    pub bytes: Option<u32>,
}

/// The frame count (and byte count, when present) that the first frame's encoder header
/// declares.
pub fn declared(first: &FrameSpan, data: &[u8]) -> Option<Declared> {
    let frame = data.get(first.offset..first.offset + first.header.len)?;
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let side_info = match (first.header.version, first.header.channels) {
        (Version::Mpeg1, 1) => 17,
        (Version::Mpeg1, _) => 32,
        (_, 1) => 9,
        (_, _) => 17,
    };
    let xing = AUDIO_HEADER_LEN + side_info;
    if let Some(tag) = frame.get(xing..xing + 16)
        && (&tag[..4] == b"Xing" || &tag[..4] == b"Info")
    {
        let flags = be32(&tag[4..8]);
        if flags & 1 == 0 {
            return None;
        }
        let bytes = (flags & 2 != 0).then(|| be32(&tag[12..16]));
        return Some(Declared { frames: be32(&tag[8..12]), bytes });
    }
    let vbri = AUDIO_HEADER_LEN + 32;
    let tag = frame.get(vbri..vbri + 18)?;
    (&tag[..4] == b"VBRI").then(|| Declared { frames: be32(&tag[14..18]), bytes: Some(be32(&tag[10..14])) })
}

/// Whether the first frame carries a Xing, Info or VBRI header: a frame of silence that
/// describes the file rather than holding its music.
pub fn has_encoder_header(first: &FrameSpan, data: &[u8]) -> bool {
    let Some(frame) = data.get(first.offset..first.offset + first.header.len) else { return false };
    frame.windows(4).take(64).any(|w| w == b"Xing" || w == b"Info" || w == b"VBRI")
}

/// Whether `count` frames like `first` could fill `audio_bytes`: no fewer bytes than that
/// many frames at the lowest bitrate take, and no more than at the highest plus
/// [`TAIL_SLACK`]. A 3,000-byte file whose header claims 25 s fails the first test.
pub fn plausible(first: &AudioHeader, count: u32, audio_bytes: u64) -> bool {
    let (min, max) = frame_len_range(first);
    let count = u64::from(count);
    count > 0 && count * min <= audio_bytes && audio_bytes <= count * max + TAIL_SLACK
}

/// Whether the byte count an encoder header declares is the audio's size, within 5% and
/// [`TAIL_SLACK`]: a file cut short keeps its header, which then promises twice its length.
pub fn bytes_agree(declared: u32, audio_bytes: u64) -> bool {
    u64::from(declared).abs_diff(audio_bytes) <= audio_bytes / 20 + TAIL_SLACK
}

/// The shortest and longest frame a stream of `header`'s version, layer and sample rate can
/// have: the lowest bitrate without padding, the highest with.
fn frame_len_range(header: &AudioHeader) -> (u64, u64) {
    let (low, high) = match (header.version, header.layer) {
        (Version::Mpeg1, Layer::One) => (32, 448),
        (Version::Mpeg1, Layer::Two) => (32, 384),
        (Version::Mpeg1, Layer::Three) => (32, 320),
        (_, Layer::One) => (32, 256),
        (_, _) => (8, 160),
    };
    let rate = u64::from(header.sample_rate.max(1));
    let bytes = |kbps: u64| -> u64 {
        let bitrate = kbps * 1000;
        match (header.layer, header.version) {
            (Layer::One, _) => 12 * bitrate / rate * 4,
            (Layer::Two, _) | (Layer::Three, Version::Mpeg1) => 144 * bitrate / rate,
            (Layer::Three, _) => 72 * bitrate / rate,
        }
    };
    let padding = if header.layer == Layer::One { 4 } else { 1 };
    (bytes(low).max(AUDIO_HEADER_LEN as u64), bytes(high) + padding)
}

/// Whether the frames seen at the start all have the first one's length: a constant-bitrate
/// file, whose duration its size gives.
fn is_constant_bitrate(first: &FrameSpan, rest: &[FrameSpan]) -> bool {
    rest.len() >= 8
        && rest.iter().all(|f| {
            f.header.bitrate_kbps == first.header.bitrate_kbps && f.header.agrees_with(&first.header)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417-byte frames of 26.12 ms.
    const HEADER: [u8; 4] = [0xFF, 0xFB, 0x90, 0x00];

    fn frames(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..n {
            let start = out.len();
            out.extend_from_slice(&HEADER);
            out.resize(start + 417, 0x55);
        }
        out
    }

    /// A first frame carrying a Xing header that declares `count` frames.
    fn xing(count: u32) -> Vec<u8> {
        let mut first = frames(1);
        first[36..40].copy_from_slice(b"Xing");
        first[40..44].copy_from_slice(&1u32.to_be_bytes());
        first[44..48].copy_from_slice(&count.to_be_bytes());
        first
    }

    #[test]
    fn a_xing_header_that_the_size_cannot_hold_is_not_believed() {
        // 3,000 bytes cannot hold 25 s (957 frames) of any MPEG-1 Layer III bitrate.
        let mut data = xing(957);
        data.extend(frames(6));
        data.truncate(3000);
        let probe = probe(&mut Cursor::new(&data), data.len() as u64).unwrap();
        // Its six frames of music (the header's frame is silence): 156.7 ms.
        assert_eq!(probe.duration, mp3::samples_to_duration(6 * 1152, 44_100));
        assert!(!plausible(&AudioHeader::parse(&HEADER).unwrap(), 957, 3000));
    }

    #[test]
    fn a_file_cut_short_under_its_header_is_walked() {
        // The header says 6,000 frames in 2,502,000 bytes; the file keeps only 3,000.
        let mut data = xing(6_000);
        data[40..44].copy_from_slice(&3u32.to_be_bytes());
        data[48..52].copy_from_slice(&2_502_000u32.to_be_bytes());
        data.extend(frames(2_999));
        let probe = probe(&mut Cursor::new(&data), data.len() as u64).unwrap();
        assert_eq!(probe.duration, mp3::samples_to_duration(2_999 * 1152, 44_100));
    }

    #[test]
    fn a_truthful_xing_header_gives_the_duration_of_a_large_file() {
        let count = 6_000; // 156.7 s
        let mut data = xing(count);
        data.extend(frames(count as usize));
        let probe = probe(&mut Cursor::new(&data), data.len() as u64).unwrap();
        assert_eq!(probe.duration, mp3::samples_to_duration(u64::from(count) * 1152, 44_100));
    }

    #[test]
    fn id3v2_tags_are_skipped_and_a_lying_tag_size_is_not_followed() {
        let mut data = b"ID3\x04\x00\x00\x00\x00\x00\x05hello".to_vec();
        let audio_start = data.len() as u64;
        data.extend(frames(10));
        assert_eq!(probe(&mut Cursor::new(&data), data.len() as u64).unwrap().audio_start, audio_start);
        // A tag that claims 200 MB in a small file.
        let mut liar = b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f".to_vec();
        liar.extend(frames(10));
        assert_eq!(id3v2_len(&mut Cursor::new(&liar), liar.len() as u64).unwrap(), 0);
        assert!(probe(&mut Cursor::new(&liar), liar.len() as u64).is_ok());
    }

    #[test]
    fn a_large_file_without_a_header_to_trust_is_walked_frame_by_frame() {
        // 3 MB of variable bitrate (128 and 160 kbit/s frames in turn), no Xing header, and a
        // trailing ID3v1 tag: the walk, many windows long, counts every frame.
        let header_160k = [0xFF, 0xFB, 0xA0, 0x00];
        let len_160k = AudioHeader::parse(&header_160k).unwrap().len;
        let mut data = Vec::new();
        for _ in 0..3_400 {
            data.extend(frames(1));
            let start = data.len();
            data.extend_from_slice(&header_160k);
            data.resize(start + len_160k, 0x66);
        }
        data.extend_from_slice(b"TAG");
        data.resize(data.len() + 125, b' ');
        assert!(data.len() as u64 > WALK_BELOW && data.len() > 40 * HEAD_BYTES);
        let probe = probe(&mut Cursor::new(&data), data.len() as u64).unwrap();
        assert_eq!(probe.duration, mp3::samples_to_duration(6_800 * 1152, 44_100));
    }

    #[test]
    fn data_without_frames_is_not_audio() {
        let data = vec![0x42; 5000];
        assert!(matches!(probe(&mut Cursor::new(&data), 5000), Err(ProbeError::NotMpegAudio)));
    }
}
