//! Title, artist and album of a file, from its ID3v2 tag, else its ID3v1 tag, else its name;
//! and for INFO (RFC §6.2.14) its track, year, genre and ReplayGain ([`TagFacts`]).
//!
//! Tags come from files anyone may have put in the music folder, and a tag parser is complex
//! code: the `id3` crate reads a frame's announced size before the frame, and inflates
//! compressed frames up to 256 MiB each. So it is given only a tag this module has checked:
//! at most [`MAX_TAG_BYTES`], read into memory, whose frames all fit in it, none compressed,
//! encrypted or unsynchronised (such a tag is rare; the song is then titled by its ID3v1 tag
//! or its name). A panic in the parser costs the tag, not the scan.

use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use id3::TagLike;
use jukebox_protocol::truncate_text;

use crate::library::details::Gain;
use crate::library::probe::id3v2_tag_len;

/// An ID3v2 tag larger than this is not read (cover art is what makes tags large; the texts
/// LIST shows are in the first frames).
pub const MAX_TAG_BYTES: u64 = 1024 * 1024;

/// What LIST shows of a song besides its numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tags {
    /// Never empty: falls back to the file name without extension.
    pub title: String,
    /// May be empty.
    pub artist: String,
    /// May be empty.
    pub album: String,
}

/// What INFO shows of a song's tags beyond [`Tags`]. Numbers a tag does not give (or gives
/// out of range) are 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFacts {
    /// The track's number on its album.
    pub track: u16,
    /// How many tracks the album has.
    pub track_total: u16,
    /// The year of the recording (TYER, else TDRC, else TDRL).
    pub year: u16,
    /// The genre by name (an ID3v1 genre number is named).
    pub genre: String,
    /// From the ID3v2 tag's TXXX frames REPLAYGAIN_TRACK_GAIN and the like.
    pub gain: Gain,
}

/// The largest gain, either way, taken from a tag: ReplayGain's are within ±51.1 dB, so a
/// larger one is a broken tag, not a song to turn up a millionfold.
pub const MAX_GAIN_DB: f64 = 100.0;

/// The largest peak taken from a tag, in full scales: a peak can exceed 1 (a clipped decode),
/// never by this much.
pub const MAX_PEAK: f64 = 100.0;

impl Tags {
    /// Reads the tags of an opened file of `size` bytes; `path` gives the title when there is
    /// none. A missing or broken tag is not an error: the song is still playable, so the file
    /// name stands in for the title.
    pub fn read<F: Read + Seek>(file: F, size: u64, path: &Path) -> Tags {
        Tags::read_with_facts(file, size, path).0
    }

    /// [`Tags::read`], and what INFO shows besides, from the same reads.
    pub fn read_with_facts<F: Read + Seek>(mut file: F, size: u64, path: &Path) -> (Tags, TagFacts) {
        let v2 = parse_safely(read_v2(&mut file, size), id3::Tag::read_from2);
        let v1 =
            parse_safely(read_v1(&mut file, size), |bytes| id3::v1::Tag::read_from(bytes).map(Into::into));
        let field = |get: fn(&id3::Tag) -> Option<&str>| {
            [&v2, &v1].into_iter().flatten().find_map(get).map(clean).unwrap_or_default()
        };
        let mut tags =
            Tags { title: field(|t| t.title()), artist: field(|t| t.artist()), album: field(|t| t.album()) };
        if tags.title.is_empty() {
            tags.title = path.file_stem().map(|s| clean(&s.to_string_lossy())).unwrap_or_default();
        }
        // The accessors parse text too (track pairs, dates, genre references): a panic there
        // costs the facts, not the scan.
        let facts = std::panic::catch_unwind(|| facts(v2.as_ref(), v1.as_ref())).unwrap_or_default();
        (tags, facts)
    }
}

/// Track, year, genre and ReplayGain, from the ID3v2 tag, else the ID3v1 tag.
fn facts(v2: Option<&id3::Tag>, v1: Option<&id3::Tag>) -> TagFacts {
    let tags = || [v2, v1].into_iter().flatten();
    let number = |get: &dyn Fn(&id3::Tag) -> Option<u32>| {
        tags().find_map(get).and_then(|n| u16::try_from(n).ok()).unwrap_or(0)
    };
    let year = tags()
        .find_map(|t| {
            t.year()
                .or_else(|| t.date_recorded().map(|d| d.year))
                .or_else(|| t.date_released().map(|d| d.year))
        })
        .and_then(|y| u16::try_from(y).ok())
        .filter(|y| (1..=9999).contains(y))
        .unwrap_or(0);
    TagFacts {
        track: number(&|t| t.track()),
        track_total: number(&|t| t.total_tracks()),
        year,
        genre: tags().find_map(|t| t.genre_parsed()).map(|g| clean(&g)).unwrap_or_default(),
        gain: v2.map(replay_gain).unwrap_or_default(),
    }
}

/// The ReplayGain of an ID3v2 tag's TXXX frames (descriptions compared without case, as
/// taggers write them either way); a value that does not parse, or is out of range, is unknown.
fn replay_gain(tag: &id3::Tag) -> Gain {
    let text = |name: &str| {
        tag.extended_texts()
            .find(|t| t.description.trim().eq_ignore_ascii_case(name))
            .map(|t| t.value.as_str())
    };
    Gain {
        track_gain: text("REPLAYGAIN_TRACK_GAIN").and_then(parse_gain),
        track_peak: text("REPLAYGAIN_TRACK_PEAK").and_then(parse_peak),
        album_gain: text("REPLAYGAIN_ALBUM_GAIN").and_then(parse_gain),
        album_peak: text("REPLAYGAIN_ALBUM_PEAK").and_then(parse_peak),
        from_lame: false,
    }
}

/// `-6.20 dB` (the unit optional, any case) in hundredths of a dB.
pub fn parse_gain(text: &str) -> Option<i32> {
    let text = text.trim().trim_end_matches('\0').trim();
    let number = match text.len().checked_sub(2).and_then(|cut| text.get(cut..)) {
        Some(unit) if unit.eq_ignore_ascii_case("db") => &text[..text.len() - 2],
        _ => text,
    };
    let db: f64 = number.trim().parse().ok()?;
    (db.is_finite() && db.abs() <= MAX_GAIN_DB).then(|| (db * 100.0).round() as i32)
}

/// `0.988235` in millionths of full scale.
pub fn parse_peak(text: &str) -> Option<u32> {
    let peak: f64 = text.trim().trim_end_matches('\0').trim().parse().ok()?;
    (peak.is_finite() && (0.0..=MAX_PEAK).contains(&peak)).then(|| (peak * 1_000_000.0).round() as u32)
}

impl Tags {
    /// The same tags with every field cleaned as a scan cleans them: for tags that come from
    /// somewhere less careful (an index file on disk).
    pub fn cleaned(self) -> Tags {
        Tags { title: clean(&self.title), artist: clean(&self.artist), album: clean(&self.album) }
    }
}

/// Parses checked tag bytes with `parse`; a parser error or panic is no tag.
fn parse_safely(
    bytes: Option<Vec<u8>>,
    parse: impl FnOnce(Cursor<Vec<u8>>) -> id3::Result<id3::Tag> + std::panic::UnwindSafe,
) -> Option<id3::Tag> {
    let bytes = bytes?;
    std::panic::catch_unwind(|| parse(Cursor::new(bytes)).ok()).ok().flatten()
}

/// The bytes of the ID3v2 tag at the start of the file, if it is small and plain enough to
/// hand to the parser.
fn read_v2<F: Read + Seek>(file: &mut F, size: u64) -> Option<Vec<u8>> {
    let mut header = [0u8; 10];
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_exact(&mut header).ok()?;
    let len = id3v2_tag_len(&header)?;
    if len > MAX_TAG_BYTES || len > size {
        return None;
    }
    let mut bytes = vec![0u8; usize::try_from(len).ok()?];
    bytes[..10].copy_from_slice(&header);
    file.read_exact(&mut bytes[10..]).ok()?;
    plain_frames(&bytes).then_some(bytes)
}

/// The ID3v1 tag in the last 128 bytes, if there is one.
fn read_v1<F: Read + Seek>(file: &mut F, size: u64) -> Option<Vec<u8>> {
    let start = size.checked_sub(128)?;
    let mut bytes = vec![0u8; 128];
    file.seek(SeekFrom::Start(start)).ok()?;
    file.read_exact(&mut bytes).ok()?;
    bytes.starts_with(b"TAG").then_some(bytes)
}

/// Whether every frame of an ID3v2.2, 2.3 or 2.4 tag lies within it and is neither
/// compressed, encrypted nor unsynchronised, and the tag has no extended header.
fn plain_frames(tag: &[u8]) -> bool {
    let (version, flags) = (tag[3], tag[5]);
    // Unsynchronisation (0x80) and an extended header (0x40) are left to the fallbacks.
    if flags & 0xC0 != 0 || !(2..=4).contains(&version) {
        return false;
    }
    let header_len = if version == 2 { 6 } else { 10 };
    let mut pos = 10;
    while pos + header_len <= tag.len() {
        let frame = &tag[pos..pos + header_len];
        if frame[0] == 0 {
            return true; // padding
        }
        let size = match version {
            2 => frame[3..6].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
            3 => frame[4..8].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
            _ => frame[4..8].iter().fold(0usize, |acc, b| (acc << 7) | usize::from(b & 0x7F)),
        };
        let format_flags = if version == 2 { 0 } else { frame[9] };
        let refused = match version {
            3 => format_flags & 0xC0 != 0, // compression, encryption
            4 => format_flags & 0x0F != 0, // compression, encryption, unsync, length
            _ => false,
        };
        if refused || size > tag.len() - pos - header_len {
            return false;
        }
        pos += header_len + size;
    }
    true
}

/// Trims padding and drops control characters and bidi overrides, which a tag may hold and a
/// terminal would obey, and cuts the text to what one protocol text field holds.
pub(crate) fn clean(text: &str) -> String {
    truncate_text(jukebox_protocol::text::printable(text).trim()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_padding_are_removed() {
        assert_eq!(clean("  Song\x1b[31m\0 "), "Song[31m");
        assert_eq!(clean("evil\u{202E}3pm"), "evil3pm");
    }

    /// An ID3v2.3 tag holding `frames`, each (id, flags, body).
    fn v23(frames: &[(&[u8; 4], [u8; 2], Vec<u8>)], claimed: Option<u32>) -> Vec<u8> {
        let mut body = Vec::new();
        for (id, flags, data) in frames {
            body.extend_from_slice(*id);
            body.extend_from_slice(&claimed.unwrap_or(data.len() as u32).to_be_bytes());
            body.extend_from_slice(flags);
            body.extend_from_slice(data);
        }
        let size = body.len() as u32;
        let mut tag = b"ID3\x03\x00\x00".to_vec();
        tag.extend([21, 14, 7, 0].map(|shift| ((size >> shift) & 0x7F) as u8));
        tag.extend(body);
        tag
    }

    fn text(s: &str) -> Vec<u8> {
        let mut data = vec![3]; // UTF-8
        data.extend_from_slice(s.as_bytes());
        data
    }

    #[test]
    fn a_plain_tag_is_read() {
        let tag = v23(&[(b"TIT2", [0, 0], text("Tune")), (b"TPE1", [0, 0], text("Band"))], None);
        let tags = Tags::read(Cursor::new(&tag), tag.len() as u64, Path::new("x.mp3"));
        assert_eq!((tags.title.as_str(), tags.artist.as_str()), ("Tune", "Band"));
    }

    #[test]
    fn a_tag_that_lies_about_a_frame_or_compresses_it_is_not_parsed() {
        // A frame claiming 4 GiB, and a compressed one: the parser never sees them.
        let huge = v23(&[(b"TIT2", [0, 0], text("Tune"))], Some(u32::MAX));
        assert!(!plain_frames(&huge));
        let compressed = v23(&[(b"TIT2", [0, 0x80], text("Tune"))], None);
        assert!(!plain_frames(&compressed));
        let tags = Tags::read(Cursor::new(&compressed), compressed.len() as u64, Path::new("dir/Named.mp3"));
        assert_eq!(tags.title, "Named");
    }

    #[test]
    fn an_id3v1_tag_stands_in_for_a_missing_v2_tag() {
        let mut file = vec![0u8; 1000];
        let mut v1 = b"TAG".to_vec();
        v1.extend(format!("{:<30}{:<30}{:<30}", "Old Title", "Old Artist", "Old Album").bytes());
        v1.resize(128, 0);
        file.extend(v1);
        let tags = Tags::read(Cursor::new(&file), file.len() as u64, Path::new("x.mp3"));
        assert_eq!((tags.title.as_str(), tags.album.as_str()), ("Old Title", "Old Album"));
    }

    #[test]
    fn replaygain_texts_are_read_as_taggers_write_them() {
        assert_eq!(parse_gain("-6.20 dB"), Some(-620));
        assert_eq!(parse_gain(" +1.5dB"), Some(150));
        assert_eq!(parse_gain("-0.004 DB"), Some(0));
        assert_eq!(parse_gain("3"), Some(300));
        assert_eq!(parse_gain("loud"), None);
        assert_eq!(parse_gain("NaN dB"), None);
        assert_eq!(parse_gain("-1e9 dB"), None);
        assert_eq!(parse_gain("dB"), None);
        assert_eq!(parse_gain("é"), None);
        assert_eq!(parse_peak("0.988235"), Some(988_235));
        assert_eq!(parse_peak("1.052"), Some(1_052_000));
        assert_eq!(parse_peak("-1"), None);
        assert_eq!(parse_peak("inf"), None);
    }

    #[test]
    fn replaygain_track_year_and_genre_come_from_the_id3v2_tag() {
        use id3::frame::ExtendedText;
        let mut tag = id3::Tag::new();
        tag.set_title("Tune");
        tag.set_track(3);
        tag.set_total_tracks(12);
        tag.set_year(1999);
        tag.set_genre("(17)");
        for (description, value) in [
            ("REPLAYGAIN_TRACK_GAIN", "-6.20 dB"),
            ("replaygain_track_peak", "0.988235"),
            ("REPLAYGAIN_ALBUM_GAIN", "-5.10 dB"),
            ("REPLAYGAIN_ALBUM_PEAK", "1.000000"),
        ] {
            tag.add_frame(ExtendedText { description: description.into(), value: value.into() });
        }
        let mut file = Vec::new();
        tag.write_to(&mut file, id3::Version::Id3v24).unwrap();
        let (tags, facts) = Tags::read_with_facts(Cursor::new(&file), file.len() as u64, Path::new("x.mp3"));
        assert_eq!(tags.title, "Tune");
        assert_eq!((facts.track, facts.track_total, facts.year), (3, 12, 1999));
        assert_eq!(facts.genre, "Rock");
        assert_eq!(
            facts.gain,
            Gain {
                track_gain: Some(-620),
                track_peak: Some(988_235),
                album_gain: Some(-510),
                album_peak: Some(1_000_000),
                from_lame: false
            }
        );
    }

    #[test]
    fn untagged_file_is_titled_by_its_name() {
        let path = Path::new("music/My Tune.mp3");
        let tags = Tags::read(std::io::Cursor::new(b"not really audio"), 16, path);
        assert_eq!(tags, Tags { title: "My Tune".into(), artist: String::new(), album: String::new() });
    }
}
