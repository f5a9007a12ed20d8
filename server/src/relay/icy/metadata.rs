//! ICY in-stream metadata as a relaying listener reads it, without I/O: the other side of
//! [`crate::http::icy`]. After every `metaint` bytes of audio the station sends one length byte
//! L and L × 16 bytes of text (`StreamTitle='...';StreamUrl='...';`, padded with zeros); L = 0
//! says "no change". [`Demux`] splits a stream cut anywhere into audio and blocks, holding at
//! most one block ([`MAX_BLOCK`] bytes); [`stream_title`] reads the title out of a block, and
//! [`artist_and_title`] splits it the way stations join it.
//!
//! No crate is used for this: `icy-metadata` (the one maintained Rust crate) wraps a `Read`
//! and brings the `http` crate, while this is a plain state machine the relay feeds from its
//! own bounded reads, and it reads stations' Latin-1 titles, which that crate does not.

use std::borrow::Cow;

/// The largest metadata block: its length byte counts 16-byte units.
pub const MAX_BLOCK: usize = 255 * 16;

/// What [`Demux::next`] found at the start of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Audio bytes, borrowed from the input.
    Audio(&'a [u8]),
    /// A whole metadata block that carries something (not "no change"): its text, without the
    /// length byte and the zeros that pad it.
    Block(Vec<u8>),
}

/// Where in the stream the demuxer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// This many audio bytes until the next block.
    Audio(usize),
    /// The next byte is a block's length byte.
    Length,
    /// Inside a block of this many bytes.
    Block(usize),
}

/// Splits a station's stream into audio and metadata blocks (the module's format).
#[derive(Debug, Clone)]
pub struct Demux {
    metaint: usize,
    state: State,
    /// The block being read: at most [`MAX_BLOCK`] bytes.
    block: Vec<u8>,
    /// Blocks read whole so far, empty ones included.
    blocks: u64,
}

impl Demux {
    /// A stream that has a block after every `metaint` bytes of audio (at least 1).
    pub fn new(metaint: usize) -> Demux {
        let metaint = metaint.max(1);
        Demux { metaint, state: State::Audio(metaint), block: Vec::new(), blocks: 0 }
    }

    /// The next chunk at the start of `input`, which it moves past what it consumed; `None`
    /// once `input` is used up without completing one. A block is copied as it arrives, so
    /// input may be cut anywhere, also inside a block.
    pub fn next<'a>(&mut self, input: &mut &'a [u8]) -> Option<Chunk<'a>> {
        loop {
            let (&first, _) = input.split_first()?;
            match self.state {
                State::Audio(left) => {
                    let n = left.min(input.len());
                    let (audio, rest) = input.split_at(n);
                    *input = rest;
                    self.state = if n == left { State::Length } else { State::Audio(left - n) };
                    return Some(Chunk::Audio(audio));
                }
                State::Length => {
                    *input = &input[1..];
                    let len = usize::from(first) * 16;
                    if len == 0 {
                        self.blocks += 1;
                        self.state = State::Audio(self.metaint);
                    } else {
                        self.state = State::Block(len);
                    }
                }
                State::Block(len) => {
                    let n = (len - self.block.len()).min(input.len());
                    self.block.extend_from_slice(&input[..n]);
                    *input = &input[n..];
                    if self.block.len() == len {
                        self.blocks += 1;
                        self.state = State::Audio(self.metaint);
                        let mut text = std::mem::take(&mut self.block);
                        let end = text.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                        text.truncate(end);
                        if !text.is_empty() {
                            return Some(Chunk::Block(text));
                        }
                    }
                }
            }
        }
    }

    /// Blocks read whole so far, empty ones ("no change") included: once one has come, the
    /// station has said what it plays, or that it says nothing.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }
}

/// The StreamTitle a block's text sets, decoded (UTF-8, else Latin-1), made printable and
/// trimmed; `None` when the block has none or it is empty.
///
/// The format has no escape and titles hold quotes (`StreamTitle='Guns N' Roses - Don't
/// Cry';StreamUrl='';`), so the value ends at the first `';` that the end of the text or
/// another field (`Key='`) follows, else at the last `';`, else at the end.
pub fn stream_title(block: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"StreamTitle='";
    let start = block.windows(KEY.len()).position(|w| w.eq_ignore_ascii_case(KEY))? + KEY.len();
    let value = &block[start..];
    let ends: Vec<usize> = value.windows(2).enumerate().filter(|(_, w)| w == b"';").map(|(i, _)| i).collect();
    let end = ends
        .iter()
        .copied()
        .find(|&i| {
            let after = value[i + 2..].trim_ascii_start();
            after.iter().all(|&b| b == 0) || starts_with_field(after)
        })
        .or(ends.last().copied())
        .unwrap_or_else(|| value.strip_suffix(b"'").unwrap_or(value).len());
    let text = match std::str::from_utf8(&value[..end]) {
        Ok(text) => Cow::Borrowed(text),
        // Not UTF-8: some stations still send Latin-1, whose bytes are the first 256 code points.
        Err(_) => Cow::Owned(value[..end].iter().map(|&b| char::from(b)).collect()),
    };
    let title = jukebox_protocol::text::printable(&text).trim().to_string();
    (!title.is_empty()).then_some(title)
}

/// Whether `bytes` start with a field of a block: a name of letters, digits or `_`, then `='`.
fn starts_with_field(bytes: &[u8]) -> bool {
    let name = bytes.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
    name > 0 && bytes[name..].starts_with(b"='")
}

/// `(artist, title)` of a StreamTitle: stations send `Artist - Title`, so it is split at the
/// first ` - `; without one (or with nothing on either side of it), all of it is the title.
pub fn artist_and_title(stream_title: &str) -> (String, String) {
    match stream_title.split_once(" - ") {
        Some((artist, title)) if !artist.trim().is_empty() && !title.trim().is_empty() => {
            (artist.trim().to_string(), title.trim().to_string())
        }
        _ => (String::new(), stream_title.trim().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::icy::{self as writer, Interleaver, Segment};
    use proptest::prelude::*;

    /// Everything `Demux` makes of `stream` cut into `pieces`: the audio, and the blocks.
    fn demux_all(metaint: usize, pieces: &[&[u8]]) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut demux = Demux::new(metaint);
        let (mut audio, mut blocks) = (Vec::new(), Vec::new());
        for piece in pieces {
            let mut input = *piece;
            while let Some(chunk) = demux.next(&mut input) {
                match chunk {
                    Chunk::Audio(a) => audio.extend_from_slice(a),
                    Chunk::Block(b) => blocks.push(b),
                }
            }
            assert!(input.is_empty());
            assert!(demux.block.len() <= MAX_BLOCK);
        }
        (audio, blocks)
    }

    #[test]
    fn quotes_inside_a_title_stay_in_it() {
        let block = b"StreamTitle='Guns N' Roses - Don't Cry';StreamUrl='';\0\0\0";
        assert_eq!(stream_title(block).as_deref(), Some("Guns N' Roses - Don't Cry"));
        assert_eq!(stream_title(b"StreamTitle='a';b';").as_deref(), Some("a';b"));
        assert_eq!(stream_title(b"StreamTitle='It's';StreamUrl='x';").as_deref(), Some("It's"));
        assert_eq!(stream_title(b"StreamTitle='Unfinished").as_deref(), Some("Unfinished"));
        assert_eq!(stream_title(b"StreamUrl='http://x/';StreamTitle='Late';").as_deref(), Some("Late"));
    }

    #[test]
    fn empty_or_missing_titles_are_none() {
        assert_eq!(stream_title(b"StreamTitle='';"), None);
        assert_eq!(stream_title(b"StreamTitle='  ';StreamUrl='';"), None);
        assert_eq!(stream_title(b"StreamUrl='http://x/';"), None);
        assert_eq!(stream_title(b""), None);
    }

    #[test]
    fn latin1_titles_are_read_as_latin1_and_controls_removed() {
        assert_eq!(stream_title(b"StreamTitle='Bj\xf6rk - J\xf3ga';").as_deref(), Some("Björk - Jóga"));
        assert_eq!(stream_title("StreamTitle='Björk';".as_bytes()).as_deref(), Some("Björk"));
        assert_eq!(stream_title(b"StreamTitle='a\x1b[2J\nb';").as_deref(), Some("a[2J b"));
    }

    #[test]
    fn artist_and_title_split_at_the_first_separator() {
        let split = |s: &str| artist_and_title(s);
        assert_eq!(split("Ann - Song - Live"), ("Ann".into(), "Song - Live".into()));
        assert_eq!(split("Just a title"), (String::new(), "Just a title".into()));
        assert_eq!(split(" - Nobody"), (String::new(), "- Nobody".into()));
        assert_eq!(split("A-ha - Take On Me"), ("A-ha".into(), "Take On Me".into()));
    }

    #[test]
    fn empty_blocks_carry_nothing_and_the_largest_block_is_read_whole() {
        let mut stream = b"abc\0def".to_vec();
        stream.push(255);
        let mut text = b"StreamTitle='".to_vec();
        text.resize(MAX_BLOCK - 2, b'x');
        text.extend(b"';");
        stream.extend(&text);
        stream.extend(b"ghi");
        let (audio, blocks) = demux_all(3, &[&stream]);
        assert_eq!(audio, b"abcdefghi");
        assert_eq!(blocks, [text.clone()]);
        let mut demux = Demux::new(3);
        let mut input = stream.as_slice();
        while demux.next(&mut input).is_some() {}
        assert_eq!(demux.blocks(), 2);
        assert_eq!(stream_title(&blocks[0]).map(|t| t.len()), Some(MAX_BLOCK - 2 - 13));
    }

    proptest! {
        /// The server's own writer interleaves random titles into random audio at a random
        /// metaint; cut anywhere, the demuxer gives back the audio and the titles.
        #[test]
        fn what_the_interleaver_writes_demuxes_to_the_same_audio_and_titles(
            metaint in 1usize..2000,
            segments in proptest::collection::vec((0usize..3000, "[ -~éü’]{0,60}"), 0..12),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..30),
        ) {
            let mut rng_byte = 0u8;
            let mut sent_audio = Vec::new();
            let titles: Vec<String> = segments.iter().map(|(_, t)| writer::stream_title("", t)).collect();
            let plan: Vec<Segment> =
                segments.iter().zip(&titles).map(|((len, _), title)| Segment { len: *len, title }).collect();
            let audio_of: Vec<Vec<u8>> = segments
                .iter()
                .map(|(len, _)| (0..*len).map(|_| { rng_byte = rng_byte.wrapping_mul(31).wrapping_add(7); rng_byte }).collect())
                .collect();
            let mut stream = Vec::new();
            let mut expected_titles = Vec::new();
            for piece in Interleaver::new(metaint).plan(&plan) {
                match piece {
                    writer::Piece::Audio { segment, range } => {
                        stream.extend_from_slice(&audio_of[segment][range.clone()]);
                        sent_audio.extend_from_slice(&audio_of[segment][range]);
                    }
                    writer::Piece::Meta(block) => {
                        if block.len() > 1 {
                            let text: Vec<u8> = block[1..].iter().copied().take_while(|&b| b != 0).collect();
                            let title = String::from_utf8(text).unwrap();
                            let title = title.strip_prefix("StreamTitle='").unwrap().strip_suffix("';").unwrap().trim().to_string();
                            if !title.is_empty() {
                                expected_titles.push(title);
                            }
                        }
                        stream.extend(block);
                    }
                }
            }
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
            points.extend([0, stream.len()]);
            points.sort_unstable();
            let pieces: Vec<&[u8]> = points.windows(2).map(|w| &stream[w[0]..w[1]]).collect();
            let (audio, blocks) = demux_all(metaint, &pieces);
            prop_assert_eq!(audio, sent_audio);
            let got: Vec<String> = blocks.iter().filter_map(|b| stream_title(b)).collect();
            prop_assert_eq!(got, expected_titles);
        }

        #[test]
        fn random_bytes_never_panic_and_blocks_stay_bounded(
            metaint in 1usize..100,
            bytes in proptest::collection::vec(any::<u8>(), 0..20_000),
        ) {
            let (audio, blocks) = demux_all(metaint, &[&bytes]);
            prop_assert!(audio.len() <= bytes.len());
            for b in &blocks {
                prop_assert!(b.len() <= MAX_BLOCK);
                let _ = stream_title(b);
            }
        }
    }
}
