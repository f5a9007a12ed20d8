//! Title, artist and album of a file, from its ID3v2 tag, else its ID3v1 tag, else its name.

use std::path::Path;

use id3::TagLike;
use jukebox_protocol::truncate_text;

/// What LIST shows of a song besides its numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    /// Never empty: falls back to the file name without extension.
    pub title: String,
    /// May be empty.
    pub artist: String,
    /// May be empty.
    pub album: String,
}

impl Tags {
    /// Reads the tags of `path`. A missing or broken tag is not an error: the song is still
    /// playable, so the file name stands in for the title.
    pub fn read(path: &Path) -> Tags {
        let tag = id3::v1v2::read_from_path(path).ok();
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

/// Trims padding and drops control characters, which a tag may hold and a terminal would
/// obey, and cuts the text to what one protocol text field holds.
fn clean(text: &str) -> String {
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    truncate_text(text.trim()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_padding_are_removed() {
        assert_eq!(clean("  Song\x1b[31m\0 "), "Song[31m");
    }

    #[test]
    fn untagged_file_is_titled_by_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("My Tune.mp3");
        std::fs::write(&path, b"not really audio").unwrap();
        let tags = Tags::read(&path);
        assert_eq!(tags, Tags { title: "My Tune".into(), artist: String::new(), album: String::new() });
    }
}
