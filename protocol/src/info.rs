//! Details of one song (RFC §6.1.13, §6.2.14): INFO asks, SONG_INFO answers with everything a
//! player shows about a song or needs to play it well: its tags, its audio format, the
//! encoder's delay and padding (to join songs without a gap) and its ReplayGain (to play songs
//! at one loudness). SEARCH (RFC §6.1.14), the other request of the everyday player, is
//! answered with LIST_PAGEs and has no reply of its own.
//!
//! ```text
//! INFO:       | request id (32) | song id (32) |
//! SEARCH:     | request id (32) | text |
//! SONG_INFO:  | request id (32) | song id (32) | duration ms (32) | size (64) |
//!             | sample rate (32) | bitrate kbps (16) | average kbps (16) | channels (8) |
//!             | known (8) | encoder delay (16) | encoder padding (16) | track (16) |
//!             | track total (16) | year (16) | track gain (32) | track peak (32) |
//!             | album gain (32) | album peak (32) | title | artist | album | genre | encoder |
//! ```
//!
//! Gains are signed hundredths of a decibel, peaks millionths of full scale: integers, so a
//! value survives the wire exactly and needs no float format, fine enough for any player
//! (ReplayGain tags carry two decimals, peaks six).

use crate::error::DecodeError;
use crate::lame::Gapless;
use crate::request::{RequestId, SongId};
use crate::wire::{Cursor, put_text, put_u8, put_u16, put_u32, put_u64};

/// SONG_INFO's Known bit: Encoder Delay and Encoder Padding are known (RFC §6.2.14).
pub const KNOWN_GAPLESS: u8 = 0x01;
/// SONG_INFO's Known bit: Track Gain is known.
pub const KNOWN_TRACK_GAIN: u8 = 0x02;
/// SONG_INFO's Known bit: Track Peak is known.
pub const KNOWN_TRACK_PEAK: u8 = 0x04;
/// SONG_INFO's Known bit: Album Gain is known.
pub const KNOWN_ALBUM_GAIN: u8 = 0x08;
/// SONG_INFO's Known bit: Album Peak is known.
pub const KNOWN_ALBUM_PEAK: u8 = 0x10;
/// SONG_INFO's Known bit: the ReplayGain values come from the LAME tag, not from ID3v2 TXXX
/// frames (a player may trust a tagger's values more than the encoder's quick estimate).
pub const KNOWN_GAIN_FROM_LAME: u8 = 0x20;

/// Bytes of SONG_INFO before its five text fields.
pub const SONG_INFO_FIXED_LEN: usize = 56;

/// A song's ReplayGain: how far to turn it down or up to play at the reference loudness, and
/// how loud its loudest sample is, so that turning up never clips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayGain {
    /// Gain for the song alone, in hundredths of a dB (-620 is -6.20 dB).
    pub track_gain: Option<i32>,
    /// The song's peak in millionths of full scale (988_000 is 0.988); may exceed 1,000,000.
    pub track_peak: Option<u32>,
    /// Gain for the song's album as a whole, in hundredths of a dB.
    pub album_gain: Option<i32>,
    /// The album's peak in millionths of full scale.
    pub album_peak: Option<u32>,
    /// The values come from the LAME tag rather than from ID3v2 TXXX frames.
    pub from_lame: bool,
}

impl ReplayGain {
    /// Whether any value is known.
    pub fn is_known(&self) -> bool {
        self.track_gain.is_some()
            || self.track_peak.is_some()
            || self.album_gain.is_some()
            || self.album_peak.is_some()
    }

    /// Its bits of a Known byte (SONG_INFO's, PLAYING's).
    pub(crate) fn known(&self) -> u8 {
        [
            (self.track_gain.is_some(), KNOWN_TRACK_GAIN),
            (self.track_peak.is_some(), KNOWN_TRACK_PEAK),
            (self.album_gain.is_some(), KNOWN_ALBUM_GAIN),
            (self.album_peak.is_some(), KNOWN_ALBUM_PEAK),
            (self.from_lame && self.is_known(), KNOWN_GAIN_FROM_LAME),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |known, (_, bit)| known | bit)
    }

    /// The four values, in wire order; a value not known goes out as 0 (RFC §6.2.14).
    pub(crate) fn encode_values(&self, out: &mut Vec<u8>) {
        put_u32(out, self.track_gain.unwrap_or(0) as u32);
        put_u32(out, self.track_peak.unwrap_or(0));
        put_u32(out, self.album_gain.unwrap_or(0) as u32);
        put_u32(out, self.album_peak.unwrap_or(0));
    }

    /// The four values that follow, known as the `known` byte says.
    pub(crate) fn decode_values(known: u8, c: &mut Cursor<'_>) -> Result<ReplayGain, DecodeError> {
        let (track_gain, track_peak, album_gain, album_peak) = (c.u32()?, c.u32()?, c.u32()?, c.u32()?);
        let has = |bit: u8| known & bit != 0;
        let mut gain = ReplayGain {
            track_gain: has(KNOWN_TRACK_GAIN).then_some(track_gain as i32),
            track_peak: has(KNOWN_TRACK_PEAK).then_some(track_peak),
            album_gain: has(KNOWN_ALBUM_GAIN).then_some(album_gain as i32),
            album_peak: has(KNOWN_ALBUM_PEAK).then_some(album_peak),
            from_lame: false,
        };
        gain.from_lame = has(KNOWN_GAIN_FROM_LAME) && gain.is_known();
        Ok(gain)
    }
}

/// Reply to INFO: what the server knows about one song (RFC §6.2.14). Numbers it does not know
/// are 0 (track, year, rates) or `None` (delay, padding, gains, peaks); texts are empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SongInfo {
    /// The INFO request this answers.
    pub id: RequestId,
    /// The song.
    pub song: SongId,
    /// Playing time in milliseconds, as LIST gives it.
    pub duration_ms: u32,
    /// Size of the file in bytes, as LIST gives it.
    pub size: u64,
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// The bitrate of every frame, in kbit/s; 0 when it varies (VBR, ABR).
    pub bitrate_kbps: u16,
    /// The bitrate over the whole song, in kbit/s.
    pub average_kbps: u16,
    /// 1 (mono) or 2.
    pub channels: u8,
    /// The encoder's delay and padding, from the LAME tag.
    pub gapless: Option<Gapless>,
    /// The track's number on its album; 0 if unknown.
    pub track: u16,
    /// How many tracks the album has; 0 if unknown.
    pub track_total: u16,
    /// The year of the recording or release; 0 if unknown.
    pub year: u16,
    /// ReplayGain, from ID3v2 TXXX frames, else the LAME tag.
    pub gain: ReplayGain,
    /// As LIST gives it.
    pub title: String,
    /// As LIST gives it.
    pub artist: String,
    /// As LIST gives it.
    pub album: String,
    /// The genre, by name; may be empty.
    pub genre: String,
    /// The encoder that made the file, as its LAME tag names it (`LAME3.100`); may be empty.
    pub encoder: String,
}

impl SongInfo {
    /// The Known byte: which of the optional numbers hold a value.
    pub fn known(&self) -> u8 {
        let gapless = if self.gapless.is_some() { KNOWN_GAPLESS } else { 0 };
        gapless | self.gain.known()
    }

    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        let gapless = self.gapless.unwrap_or_default();
        put_u32(out, self.id.0);
        put_u32(out, self.song.0);
        put_u32(out, self.duration_ms);
        put_u64(out, self.size);
        put_u32(out, self.sample_rate);
        put_u16(out, self.bitrate_kbps);
        put_u16(out, self.average_kbps);
        put_u8(out, self.channels);
        put_u8(out, self.known());
        put_u16(out, gapless.delay);
        put_u16(out, gapless.padding);
        put_u16(out, self.track);
        put_u16(out, self.track_total);
        put_u16(out, self.year);
        self.gain.encode_values(out);
        for text in [&self.title, &self.artist, &self.album, &self.genre, &self.encoder] {
            put_text(out, text);
        }
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<SongInfo, DecodeError> {
        let id = c.request_id()?;
        let song = match c.u32()? {
            0 => return Err(c.invalid("song id")),
            song => SongId(song),
        };
        let duration_ms = c.u32()?;
        let size = c.u64()?;
        let sample_rate = c.u32()?;
        let bitrate_kbps = c.u16()?;
        let average_kbps = c.u16()?;
        let channels = c.u8()?;
        let known = c.u8()?;
        let (delay, padding) = (c.u16()?, c.u16()?);
        let (track, track_total, year) = (c.u16()?, c.u16()?, c.u16()?);
        let gain = ReplayGain::decode_values(known, c)?;
        let has = |bit: u8| known & bit != 0;
        Ok(SongInfo {
            id,
            song,
            duration_ms,
            size,
            sample_rate,
            bitrate_kbps,
            average_kbps,
            channels,
            gapless: has(KNOWN_GAPLESS).then_some(Gapless { delay, padding }),
            track,
            track_total,
            year,
            gain,
            title: c.text()?,
            artist: c.text()?,
            album: c.text()?,
            genre: c.text()?,
            encoder: c.text()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    /// A song the server knows nothing about beyond its id.
    fn bare(id: u32, song: u32) -> SongInfo {
        SongInfo {
            id: RequestId(id),
            song: SongId(song),
            duration_ms: 0,
            size: 0,
            sample_rate: 0,
            bitrate_kbps: 0,
            average_kbps: 0,
            channels: 0,
            gapless: None,
            track: 0,
            track_total: 0,
            year: 0,
            gain: ReplayGain::default(),
            title: String::new(),
            artist: String::new(),
            album: String::new(),
            genre: String::new(),
            encoder: String::new(),
        }
    }

    #[test]
    fn song_info_has_the_documented_layout() {
        let info = SongInfo {
            duration_ms: 0x7fdb,
            size: 0x92bd8,
            sample_rate: 44_100,
            bitrate_kbps: 128,
            average_kbps: 128,
            channels: 2,
            gapless: Some(Gapless { delay: 576, padding: 1080 }),
            track: 2,
            track_total: 4,
            year: 2024,
            gain: ReplayGain { track_gain: Some(-620), track_peak: Some(988_235), ..ReplayGain::default() },
            title: "T".into(),
            ..bare(3, 2)
        };
        let bytes = Message::SongInfo(info.clone()).to_bytes().unwrap();
        assert_eq!(bytes[4], 0x4D);
        let payload = &bytes[6..];
        assert_eq!(payload.len(), SONG_INFO_FIXED_LEN + 5 * 2 + 1);
        assert_eq!(payload[28..30], [2, KNOWN_GAPLESS | KNOWN_TRACK_GAIN | KNOWN_TRACK_PEAK]);
        assert_eq!(payload[30..34], [0x02, 0x40, 0x04, 0x38]);
        assert_eq!(payload[40..44], (-620i32).to_be_bytes());
        assert_eq!(payload[48..56], [0; 8], "unknown values go out as 0");
        let (decoded, _) = Message::decode_from_slice(&bytes).unwrap().unwrap();
        assert_eq!(decoded, Message::SongInfo(info));
    }

    #[test]
    fn values_whose_bit_is_clear_are_ignored() {
        let info = bare(1, 1);
        let mut bytes = Message::SongInfo(info.clone()).to_bytes().unwrap();
        // Garbage in the delay and the gains, and LAME claimed for gains nobody knows.
        bytes[6 + 29] = KNOWN_GAIN_FROM_LAME;
        bytes[6 + 30..6 + 34].copy_from_slice(&[0xFF; 4]);
        bytes[6 + 40..6 + 56].copy_from_slice(&[0xAA; 16]);
        let (decoded, _) = Message::decode_from_slice(&bytes).unwrap().unwrap();
        assert_eq!(decoded, Message::SongInfo(info));
    }
}
