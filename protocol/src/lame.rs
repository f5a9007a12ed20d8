//! The Xing/Info header that LAME (and encoders that copy it) writes in a file's first MPEG
//! audio frame, and its LAME extension: the encoder's delay and padding, which a gapless player
//! trims, and the encoder's ReplayGain estimate (the "LAME tag", Gabriel Bouvigne's "Mp3 info
//! tag specifications, rev 1"). It lives beside [`crate::mp3`] because the frame that holds it
//! is the first frame of a stream's first AUDIO chunk: the server reads it when it scans a
//! file, and a client can read it from the stream.
//!
//! No well-kept crate reads it on its own (the decoders that use it keep their readers
//! private), and it is 36 bytes at fixed offsets, so it is read here. Everything is
//! bounds-checked: any bytes give a header or `None`, never a panic.
//!
//! ```text
//! frame:  | header (4) | side info (9, 17 or 32) | "Xing"|"Info" | flags (32) |
//!         | [frames (32)] | [bytes (32)] | [TOC (100 × 8)] | [quality (32)] | LAME extension |
//! LAME:   0 encoder (9 × 8) | 9 revision (4), VBR method (4) | 10 lowpass (8) |
//!         11 peak (32) | 15 track gain (16) | 17 album gain (16) | 19 flags (8) |
//!         20 bitrate (8) | 21 delay (12), padding (12) | 24 misc (8) | 25 MP3 gain (8) |
//!         26 preset (16) | 28 music length (32) | 30 music CRC (16) | 34 tag CRC (16)
//! ```

use crate::mp3::{AUDIO_HEADER_LEN, AudioHeader, Version};

/// The silence an encoder added, in samples per channel, that a gapless player drops: `delay`
/// at the start, `padding` at the end (the LAME tag's enc_delay and enc_padding, 12 bits each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gapless {
    /// Samples of silence before the music.
    pub delay: u16,
    /// Samples of silence after it, filling the last frame.
    pub padding: u16,
}

/// Bytes of the LAME extension, its CRC included.
pub const LAME_TAG_LEN: usize = 36;

/// Xing flag: the frame count is present.
const FLAG_FRAMES: u32 = 0x1;
/// Xing flag: the byte count is present.
const FLAG_BYTES: u32 = 0x2;
/// Xing flag: the 100-byte seek table is present.
const FLAG_TOC: u32 = 0x4;
/// Xing flag: the quality indicator is present.
const FLAG_QUALITY: u32 = 0x8;

/// What a Xing or Info header says about the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XingHeader {
    /// "Xing" (variable bitrate) rather than "Info" (LAME's mark of a constant bitrate).
    pub xing: bool,
    /// Frames after this one, when the header says.
    pub frames: Option<u32>,
    /// Bytes of the stream, when the header says.
    pub bytes: Option<u32>,
    /// The LAME extension, when there is one and its CRC holds.
    pub lame: Option<LameTag>,
}

/// The LAME extension of a Xing/Info header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LameTag {
    /// The encoder's short name and version (`LAME3.100`), printable ASCII only.
    pub encoder: String,
    /// 1 constant bitrate, 2 average bitrate, 3-6 variable, 8 and 9 two-pass constant and
    /// average; 0 unknown.
    pub vbr_method: u8,
    /// Samples of silence the encoder put before the music and after it.
    pub gapless: Gapless,
    /// The "radio" (track) gain, in hundredths of a dB.
    pub track_gain: Option<i32>,
    /// The "audiophile" (album) gain, in hundredths of a dB.
    pub album_gain: Option<i32>,
    /// The track's peak, in millionths of full scale.
    pub peak: Option<u32>,
}

impl LameTag {
    /// Whether every frame has the same bitrate (LAME's CBR methods).
    pub fn is_constant_bitrate(&self) -> bool {
        matches!(self.vbr_method, 1 | 8)
    }
}

/// Where the Xing/Info header starts in a frame like `header`: after the frame header and the
/// Layer III side information, whose size depends on the version and the channels.
pub fn xing_offset(header: &AudioHeader) -> usize {
    let side_info = match (header.version, header.channels) {
        (Version::Mpeg1, 1) => 17,
        (Version::Mpeg1, _) => 32,
        (_, 1) => 9,
        (_, _) => 17,
    };
    AUDIO_HEADER_LEN + side_info
}

/// Reads the Xing/Info header of `frame`, the bytes of one MPEG audio frame from its header on
/// (fewer if the data ends sooner). `None` when it has none.
pub fn parse(frame: &[u8]) -> Option<XingHeader> {
    let header = AudioHeader::parse(frame)?;
    let start = xing_offset(&header);
    let frame = frame.get(..header.len.min(frame.len()))?;
    let id = frame.get(start..start + 4)?;
    let xing = match id {
        b"Xing" => true,
        b"Info" => false,
        _ => return None,
    };
    let be32 =
        |at: usize| -> Option<u32> { Some(u32::from_be_bytes(frame.get(at..at + 4)?.try_into().ok()?)) };
    let flags = be32(start + 4)?;
    let mut at = start + 8;
    let mut field = |flag: u32, len: usize| -> Option<Option<usize>> {
        if flags & flag == 0 {
            return Some(None);
        }
        let here = at;
        at += len;
        (at <= frame.len()).then_some(Some(here))
    };
    let frames = field(FLAG_FRAMES, 4)?;
    let bytes = field(FLAG_BYTES, 4)?;
    field(FLAG_TOC, 100)?;
    field(FLAG_QUALITY, 4)?;
    Some(XingHeader {
        xing,
        frames: frames.and_then(be32),
        bytes: bytes.and_then(be32),
        lame: lame_tag(frame, at),
    })
}

/// The LAME extension at `at` in `frame`, if its CRC (over the frame from its first byte to
/// the CRC itself) holds: without that, the bytes after a Xing header are anyone's.
fn lame_tag(frame: &[u8], at: usize) -> Option<LameTag> {
    let tag = frame.get(at..at + LAME_TAG_LEN)?;
    let stored = u16::from_be_bytes([tag[34], tag[35]]);
    if crc16(&frame[..at + 34]) != stored {
        return None;
    }
    let encoder = tag[..9]
        .iter()
        .take_while(|&&b| b != 0)
        .filter(|b| b.is_ascii_graphic() || **b == b' ')
        .map(|&b| char::from(b))
        .collect::<String>()
        .trim()
        .to_string();
    let peak = u32::from_be_bytes([tag[11], tag[12], tag[13], tag[14]]);
    let (track_gain, album_gain) = [gain(tag[15], tag[16]), gain(tag[17], tag[18])]
        .into_iter()
        .flatten()
        .fold((None, None), |(track, album), (name, value)| match name {
            Name::Track => (track.or(Some(value)), album),
            Name::Album => (track, album.or(Some(value))),
        });
    Some(LameTag {
        encoder,
        vbr_method: tag[9] & 0x0F,
        gapless: Gapless {
            delay: (u16::from(tag[21]) << 4) | u16::from(tag[22] >> 4),
            padding: (u16::from(tag[22] & 0x0F) << 8) | u16::from(tag[23]),
        },
        track_gain,
        album_gain,
        // 0 is "not computed"; 1.0 is 2^23 (as LAME writes it and as decoders read it).
        peak: (peak != 0).then(|| ((u64::from(peak) * 1_000_000 + (1 << 22)) >> 23) as u32),
    })
}

/// Which gain a ReplayGain field of the LAME tag holds.
enum Name {
    Track,
    Album,
}

/// A 16-bit ReplayGain field: name (3 bits: 1 radio, 2 audiophile), originator (3), sign (1),
/// value (9, tenths of a dB). A field with no name is not set.
fn gain(high: u8, low: u8) -> Option<(Name, i32)> {
    let field = u16::from_be_bytes([high, low]);
    let name = match field >> 13 {
        1 => Name::Track,
        2 => Name::Album,
        _ => return None,
    };
    let tenths = i32::from(field & 0x01FF);
    Some((name, if field & 0x0200 != 0 { -tenths * 10 } else { tenths * 10 }))
}

/// CRC-16 as LAME computes the tag's checksums (CRC-16/ARC: polynomial 0x8005 reflected,
/// initial value 0).
pub fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &b| {
        let mut crc = crc ^ u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xA001 } else { crc >> 1 };
        }
        crc
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 208 bytes of a 417-byte MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz, joint
    /// stereo) with the Info header and LAME tag that `lame -b 128` 3.100 wrote for 2 s of a
    /// 440 Hz tone: delay 576, padding 1080, radio gain -11.3 dB, no peak.
    fn lame_frame() -> Vec<u8> {
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        frame[36..44].copy_from_slice(b"Info\x00\x00\x00\x0F");
        frame[44..48].copy_from_slice(&78u32.to_be_bytes());
        frame[48..52].copy_from_slice(&33_017u32.to_be_bytes());
        let lame = 36 + 8 + 4 + 4 + 100 + 4;
        assert_eq!(lame, 156);
        frame[lame..lame + 9].copy_from_slice(b"LAME3.100");
        frame[lame + 9] = 0x01;
        frame[lame + 10] = 0xAA;
        frame[lame + 15..lame + 17].copy_from_slice(&[0x2E, 0x71]);
        frame[lame + 19] = 0x00;
        frame[lame + 20] = 0x80;
        frame[lame + 21..lame + 24].copy_from_slice(&[0x24, 0x04, 0x38]);
        let crc = crc16(&frame[..lame + 34]);
        frame[lame + 34..lame + 36].copy_from_slice(&crc.to_be_bytes());
        frame
    }

    #[test]
    fn crc16_is_the_arc_variant() {
        // The standard check value of CRC-16/ARC.
        assert_eq!(crc16(b"123456789"), 0xBB3D);
    }

    #[test]
    fn a_lame_tag_gives_delay_padding_and_gain() {
        let header = parse(&lame_frame()).expect("an Info header");
        assert!(!header.xing);
        assert_eq!((header.frames, header.bytes), (Some(78), Some(33_017)));
        let lame = header.lame.expect("a LAME tag");
        assert_eq!(lame.encoder, "LAME3.100");
        assert!(lame.is_constant_bitrate());
        assert_eq!(lame.gapless, Gapless { delay: 576, padding: 1080 });
        assert_eq!((lame.track_gain, lame.album_gain, lame.peak), (Some(-1130), None, None));
    }

    #[test]
    fn peaks_and_album_gains_are_read() {
        let mut frame = lame_frame();
        let lame = 156;
        // Peak 0.988235 of full scale (2^23 × 0.988235), album gain +2.5 dB (name 2, sign 0).
        frame[lame + 11..lame + 15].copy_from_slice(&8_289_916u32.to_be_bytes());
        frame[lame + 17..lame + 19].copy_from_slice(&((2u16 << 13) | (3 << 10) | 25).to_be_bytes());
        let crc = crc16(&frame[..lame + 34]);
        frame[lame + 34..lame + 36].copy_from_slice(&crc.to_be_bytes());
        let tag = parse(&frame).and_then(|h| h.lame).expect("a LAME tag");
        assert_eq!((tag.peak, tag.album_gain), (Some(988_235), Some(250)));
    }

    #[test]
    fn a_tag_whose_crc_fails_is_not_believed() {
        let mut frame = lame_frame();
        frame[156 + 21] ^= 0x10;
        let header = parse(&frame).expect("the Info header is still there");
        assert_eq!(header.lame, None);
    }

    #[test]
    fn a_header_without_the_optional_fields_puts_the_tag_earlier() {
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        frame[36..44].copy_from_slice(b"Xing\x00\x00\x00\x01");
        frame[44..48].copy_from_slice(&5u32.to_be_bytes());
        let lame = 48;
        frame[lame..lame + 4].copy_from_slice(b"LAME");
        frame[lame + 21..lame + 24].copy_from_slice(&[0xFF, 0xFF, 0xFF]);
        let crc = crc16(&frame[..lame + 34]);
        frame[lame + 34..lame + 36].copy_from_slice(&crc.to_be_bytes());
        let header = parse(&frame).expect("a Xing header");
        assert!(header.xing);
        assert_eq!((header.frames, header.bytes), (Some(5), None));
        let tag = header.lame.expect("a LAME tag");
        assert_eq!(tag.gapless, Gapless { delay: 4095, padding: 4095 });
        assert_eq!(tag.encoder, "LAME");
    }

    #[test]
    fn a_frame_cut_anywhere_is_read_or_refused_without_panicking() {
        let frame = lame_frame();
        for cut in 0..frame.len() {
            let header = parse(&frame[..cut]);
            assert_eq!(header.is_some_and(|h| h.lame.is_some()), cut >= 192, "cut at {cut}");
        }
        // A mono frame's header sits at 21; an MPEG-2 frame's at 21 or 13.
        assert!(parse(&[0xFF, 0xFB, 0x90, 0xC4]).is_none());
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn a_real_frame_with_random_bytes_never_panics(
            flips in proptest::collection::vec((0usize..417, proptest::prelude::any::<u8>()), 1..20),
        ) {
            let mut frame = lame_frame();
            for (at, value) in flips {
                frame[at] = value;
            }
            let _ = parse(&frame);
        }
    }
}
