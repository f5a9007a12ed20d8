//! Title, artist and album of a file, from its ID3v2 tag, else its ID3v1 tag, else its name.

use std::io::{Read, Seek};
use std::path::Path;

use id3::TagLike;
use jukebox_protocol::truncate_text;

/// Tags bigger than this (cover art of several megabytes is common, hundreds is not) are not
/// read: a hostile file could otherwise make the scan hold a 256 MB tag in memory.
pub const MAX_TAG_BYTES: u64 = 32 * 1024 * 1024;

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

impl Tags {
    /// Reads the tags of an opened file whose ID3v2 tags take `id3v2_len` bytes; `path` gives
    /// the title when there is none. A missing or broken tag is not an error: the song is
    /// still playable, so the file name stands in for the title.
    pub fn read<F: Read + Seek>(file: F, id3v2_len: u64, path: &Path) -> Tags {
        let tag = if id3v2_len <= MAX_TAG_BYTES { id3::v1v2::read_from(file).ok() } else { None };
        let field =
            |get: fn(&id3::Tag) -> Option<&str>| tag.as_ref().and_then(get).map(clean).unwrap_or_default();
        let mut tags =
            Tags { title: field(|t| t.title()), artist: field(|t| t.artist()), album: field(|t| t.album()) };
        if tags.title.is_empty() {
            tags.title = path.file_stem().map(|s| clean(&s.to_string_lossy())).unwrap_or_default();
        }
        tags
    }
}

/// Trims padding and drops control characters and bidi overrides, which a tag may hold and a
/// terminal would obey, and cuts the text to what one protocol text field holds.
fn clean(text: &str) -> String {
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

    #[test]
    fn untagged_file_is_titled_by_its_name() {
        let path = Path::new("music/My Tune.mp3");
        let tags = Tags::read(std::io::Cursor::new(b"not really audio"), 0, path);
        assert_eq!(tags, Tags { title: "My Tune".into(), artist: String::new(), album: String::new() });
    }
}
