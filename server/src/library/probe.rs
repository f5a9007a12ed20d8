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

use jukebox_protocol::lame::{self, LameTag, xing_offset};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Where the audio starts: after the ID3v2 tags.
    pub audio_start: u64,
    /// How long it plays.
    pub duration: Duration,
    /// Its audio format and encoder header, for INFO.
    pub format: Format,
}

/// What INFO tells of a file's audio (RFC §6.2.14), found by the same reads as its duration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Format {
    /// Of the first frame.
    pub sample_rate: u32,
    /// Of the first frame: 1 or 2.
    pub channels: u8,
    /// The bitrate of every frame, in kbit/s, when the encoder header says the file is
    /// constant-bitrate or the frames seen all have it; 0 when it varies.
    pub bitrate_kbps: u16,
    /// The music's bytes over its duration, in kbit/s.
    pub average_kbps: u16,
    /// The LAME tag of the first frame's Xing/Info header.
    pub lame: Option<LameTag>,
}

/// `bytes` of audio over `duration`, in kbit/s (0 for no duration).
fn average_kbps(bytes: u64, duration: Duration) -> u16 {
    let ms = duration.as_millis();
    if ms == 0 {
        return 0;
    }
    // bits per millisecond is kbit/s; rounded.
    u16::try_from((u128::from(bytes) * 8 + ms / 2) / ms).unwrap_or(u16::MAX)
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
    let mut format = Format::default();
    if let Some(first) = &first {
        header_frame = has_encoder_header(first, &head);
        let xing = head.get(first.offset..).and_then(lame::parse);
        let rest: Vec<_> = frames.collect();
        // The first frame of music: the one after an encoder's header frame.
        let music = if header_frame { rest.first().unwrap_or(first) } else { first };
        let constant = match &xing {
            Some(xing) => !xing.xing || xing.lame.as_ref().is_some_and(LameTag::is_constant_bitrate),
            None => !header_frame && is_constant_bitrate(music, &rest),
        };
        format = Format {
            sample_rate: music.header.sample_rate,
            channels: music.header.channels,
            bitrate_kbps: if constant { u16::try_from(music.header.bitrate_kbps).unwrap_or(0) } else { 0 },
            average_kbps: 0,
            lame: xing.and_then(|x| x.lame),
        };
        // The music's bytes: less the header frame, and anything before the first frame.
        let music_bytes = audio_bytes.saturating_sub(first.offset as u64).saturating_sub(if header_frame {
            first.header.len as u64
        } else {
            0
        });
        if let Some(Declared { frames: count, bytes }) = declared(first, &head)
            && plausible(&first.header, count, audio_bytes)
            && bytes.is_none_or(|bytes| bytes_agree(bytes, audio_bytes))
        {
            let duration = duration_of(u64::from(count), &first.header);
            format.average_kbps = average_kbps(music_bytes, duration);
            return Ok(Probe { audio_start, duration, format });
        }
        if size > WALK_BELOW && !header_frame && first.offset == 0 && is_constant_bitrate(first, &rest) {
            let duration = duration_of(audio_bytes / first.header.len as u64, &first.header);
            format.average_kbps = average_kbps(music_bytes, duration);
            return Ok(Probe { audio_start, duration, format });
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
    let (mut bytes, mut bitrates) = (0u64, None::<(u32, bool)>);
    for frame in frames {
        let header = frame?.header;
        clock.advance(&header);
        bytes += header.len as u64;
        bitrates = Some(match bitrates {
            None => (header.bitrate_kbps, true),
            Some((kbps, same)) => (kbps, same && kbps == header.bitrate_kbps),
        });
    }
    let duration = clock.now();
    if duration.is_zero() {
        return Err(ProbeError::NotMpegAudio);
    }
    // The walk saw every frame: it knows whether their bitrate varies.
    format.bitrate_kbps = match bitrates {
        Some((kbps, true)) => u16::try_from(kbps).unwrap_or(0),
        _ => 0,
    };
    format.average_kbps = average_kbps(bytes, duration);
    Ok(Probe { audio_start, duration, format })
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
    let xing = xing_offset(&first.header);
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

    /// An MP3 of `seconds` of a stereo tone at 44.1 kHz, encoded by the `lame` command with
    /// `args` (it writes an Info or Xing header with a LAME tag).
    fn lame_mp3(seconds: f32, args: &[&str]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let (raw, mp3) = (dir.path().join("tone.raw"), dir.path().join("tone.mp3"));
        let samples = (seconds * 44_100.0) as usize;
        let pcm: Vec<u8> = (0..samples)
            .flat_map(|i| {
                let v = ((i as f32 * 440.0 * std::f32::consts::TAU / 44_100.0).sin() * 8000.0) as i16;
                [v, v]
            })
            .flat_map(i16::to_le_bytes)
            .collect();
        std::fs::write(&raw, pcm).unwrap();
        let status = std::process::Command::new("lame")
            .args([
                "--quiet",
                "-r",
                "-s",
                "44.1",
                "--bitwidth",
                "16",
                "--signed",
                "--little-endian",
                "-m",
                "s",
            ])
            .args(args)
            .arg(&raw)
            .arg(&mp3)
            .status();
        assert!(status.is_ok_and(|s| s.success()), "these tests need lame (apt-get install lame)");
        std::fs::read(mp3).unwrap()
    }

    #[test]
    fn a_lame_cbr_file_tells_its_format_and_encoder_delay() {
        let data = lame_mp3(2.0, &["-b", "128"]);
        let probe = probe(&mut Cursor::new(&data), data.len() as u64).unwrap();
        let format = &probe.format;
        assert_eq!((format.sample_rate, format.channels, format.bitrate_kbps), (44_100, 2, 128));
        assert_eq!(format.average_kbps, 128);
        let lame = format.lame.as_ref().expect("lame writes a LAME tag");
        assert!(lame.encoder.starts_with("LAME"), "{}", lame.encoder);
        // LAME's delay is 576 samples; the padding fills the last of the frames the Info
        // header counts: frames × 1152 = delay + the 88,200 samples + padding.
        let frames = lame::parse(&data).and_then(|x| x.frames).expect("a frame count");
        assert_eq!(lame.gapless.delay, 576);
        assert_eq!(u64::from(frames) * 1152, 576 + 88_200 + u64::from(lame.gapless.padding));
        // Its ReplayGain estimate (a 440 Hz tone at a quarter of full scale is loud).
        assert!(lame.track_gain.is_some_and(|g| g < 0), "{:?}", lame.track_gain);
    }

    #[test]
    fn a_lame_vbr_file_has_no_single_bitrate() {
        let data = lame_mp3(3.0, &["-V", "2", "--replaygain-accurate"]);
        let probe = probe(&mut Cursor::new(&data), data.len() as u64).unwrap();
        assert_eq!(probe.format.bitrate_kbps, 0);
        assert!((32..=320).contains(&probe.format.average_kbps), "{}", probe.format.average_kbps);
        let lame = probe.format.lame.expect("a LAME tag");
        // --replaygain-accurate decodes as it encodes, so it knows the peak: about 8000/32767.
        let peak = lame.peak.expect("a peak");
        assert!((230_000..260_000).contains(&peak), "{peak}");
    }

    #[test]
    fn data_without_frames_is_not_audio() {
        let data = vec![0x42; 5000];
        assert!(matches!(probe(&mut Cursor::new(&data), 5000), Err(ProbeError::NotMpegAudio)));
    }
}
