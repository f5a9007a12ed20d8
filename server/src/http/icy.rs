//! ICY (SHOUTcast/Icecast) in-stream metadata, without I/O: a player that sends
//! `Icy-MetaData: 1` is told `icy-metaint: N` and then gets, after every N bytes of audio, a
//! metadata block: one length byte L, then L × 16 bytes of `StreamTitle='...';` padded with
//! zeros. L = 0 (the single byte 0) says "no change since the last block".
//!
//! [`Interleaver`] plans where the blocks go among a batch of audio slices of any sizes, as a
//! list of [`Piece`]s (a range of one slice's audio, or a block); the caller turns them into one
//! vectored write without copying the audio. The byte count carries over from batch to batch,
//! so blocks land exactly every `metaint` bytes of audio, wherever the batches are cut.
//!
//! Titles: `Artist - Title` (the title alone when there is no artist), stripped of control and
//! bidi characters ([`jukebox_protocol::text::printable`]). Players find the end of the value by
//! its closing `';`, and the format has no escape, so a title's `'` becomes `’` (U+2019, the
//! typographic apostrophe: it reads the same), as some Icecast sources do; `"` and `;` are
//! harmless and kept. A title that would not fit the largest block (255 × 16 bytes) is cut at a
//! character boundary.

use std::ops::Range;

/// Audio bytes between two metadata blocks: Icecast's default. At 128 kbit/s a block comes
/// every second.
pub const METAINT: usize = 16_000;

/// The largest block's text: the length byte counts 16-byte units.
pub const MAX_BLOCK_TEXT: usize = 255 * 16;

const PREFIX: &str = "StreamTitle='";
const SUFFIX: &str = "';";

/// What listeners see as the title of `artist`'s `title`, made safe for a block.
pub fn stream_title(artist: &str, title: &str) -> String {
    let joined = if artist.trim().is_empty() { title.to_string() } else { format!("{artist} - {title}") };
    jukebox_protocol::text::printable(&joined).replace('\'', "\u{2019}")
}

/// A whole metadata block (length byte included) that sets the title to `title`, which
/// should come from [`stream_title`]; any `'` left in it is replaced all the same.
pub fn block(title: &str) -> Vec<u8> {
    let safe = stream_title("", title);
    let room = MAX_BLOCK_TEXT - PREFIX.len() - SUFFIX.len();
    let mut cut = safe.len().min(room);
    while !safe.is_char_boundary(cut) {
        cut -= 1;
    }
    let text = format!("{PREFIX}{}{SUFFIX}", &safe[..cut]);
    let units = text.len().div_ceil(16);
    let mut out = Vec::with_capacity(1 + units * 16);
    // At most 255 units: the text was cut to fit.
    out.push(u8::try_from(units).unwrap_or(u8::MAX));
    out.extend_from_slice(text.as_bytes());
    out.resize(1 + units * 16, 0);
    out
}

/// A slice of audio to send, and the title heard in it.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Its length in bytes.
    pub len: usize,
    /// The title heard while it plays (from [`stream_title`]).
    pub title: &'a str,
}

/// One piece of what goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes `range` of segment number `segment`.
    Audio {
        /// Index into the segments planned.
        segment: usize,
        /// The bytes of that segment.
        range: Range<usize>,
    },
    /// A metadata block, length byte included.
    Meta(Vec<u8>),
}

/// Places metadata blocks every `metaint` bytes of one listener's audio.
#[derive(Debug, Clone)]
pub struct Interleaver {
    metaint: usize,
    /// Audio bytes still to send before the next block.
    left: usize,
    /// The title the last block that carried one set.
    sent: Option<String>,
}

impl Interleaver {
    /// A new listener's: the first block comes after `metaint` bytes (at least 1).
    pub fn new(metaint: usize) -> Interleaver {
        let metaint = metaint.max(1);
        Interleaver { metaint, left: metaint, sent: None }
    }

    /// Where the blocks go among `segments`, sent in order. A block that falls due at the very
    /// end of the batch waits for the next batch's first byte, so that it names the title heard
    /// after it: it still lands exactly at its multiple of `metaint`.
    pub fn plan(&mut self, segments: &[Segment<'_>]) -> Vec<Piece> {
        let mut pieces = Vec::with_capacity(segments.len() + 2);
        for (index, segment) in segments.iter().enumerate() {
            let mut at = 0;
            while at < segment.len {
                if self.left == 0 {
                    pieces.push(Piece::Meta(self.block_for(segment.title)));
                    self.left = self.metaint;
                }
                let n = (segment.len - at).min(self.left);
                pieces.push(Piece::Audio { segment: index, range: at..at + n });
                at += n;
                self.left -= n;
            }
        }
        pieces
    }

    fn block_for(&mut self, title: &str) -> Vec<u8> {
        if self.sent.as_deref() == Some(title) {
            return vec![0];
        }
        self.sent = Some(title.to_string());
        block(title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The text of a block, without its padding.
    fn text(block: &[u8]) -> String {
        let body = &block[1..];
        String::from_utf8(body.iter().copied().take_while(|&b| b != 0).collect()).unwrap()
    }

    #[test]
    fn a_block_is_its_length_byte_and_padded_text() {
        let b = block(&stream_title("Ann", "Song"));
        assert_eq!(b[0] as usize * 16 + 1, b.len());
        assert_eq!(text(&b), "StreamTitle='Ann - Song';");
        assert!(b[1 + "StreamTitle='Ann - Song';".len()..].iter().all(|&x| x == 0));
        assert_eq!(text(&block(&stream_title("", "Alone"))), "StreamTitle='Alone';");
    }

    #[test]
    fn quotes_and_controls_cannot_break_the_block() {
        let title = stream_title("O'Brien", "It's';StreamUrl='http://evil/';\x1b[2J\nx");
        assert_eq!(
            title,
            "O\u{2019}Brien - It\u{2019}s\u{2019};StreamUrl=\u{2019}http://evil/\u{2019};[2J x"
        );
        let t = text(&block(&title));
        assert_eq!(t.matches('\'').count(), 2, "only the block's own quotes: {t}");
        assert!(t.ends_with("';"));
        // Even a raw title given straight to `block`.
        assert_eq!(text(&block("a'b")), "StreamTitle='a\u{2019}b';");
    }

    #[test]
    fn a_long_title_is_cut_to_the_largest_block_at_a_character_boundary() {
        let b = block(&"é".repeat(5000));
        assert_eq!(b.len(), 1 + MAX_BLOCK_TEXT);
        assert_eq!(b[0], 255);
        let t = text(&b);
        assert!(t.starts_with("StreamTitle='é") && t.ends_with("é';"));
    }

    #[test]
    fn an_unchanged_title_is_a_single_zero_byte() {
        let mut icy = Interleaver::new(10);
        let pieces = icy.plan(&[Segment { len: 35, title: "A" }, Segment { len: 10, title: "B" }]);
        let metas: Vec<&Vec<u8>> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Meta(b) => Some(b),
                Piece::Audio { .. } => None,
            })
            .collect();
        assert_eq!(metas.len(), 4, "at 10, 20, 30 and 40");
        assert_eq!(text(metas[0]), "StreamTitle='A';");
        assert_eq!(metas[1], &vec![0]);
        assert_eq!(metas[2], &vec![0]);
        assert_eq!(text(metas[3]), "StreamTitle='B';", "the block at 40 is inside B");
    }

    #[test]
    fn a_block_due_at_a_batch_end_waits_and_names_what_follows() {
        let mut icy = Interleaver::new(10);
        let first = icy.plan(&[Segment { len: 10, title: "A" }]);
        assert_eq!(first, [Piece::Audio { segment: 0, range: 0..10 }]);
        let second = icy.plan(&[Segment { len: 3, title: "B" }]);
        assert!(matches!(&second[0], Piece::Meta(b) if text(b) == "StreamTitle='B';"));
        assert_eq!(second[1], Piece::Audio { segment: 0, range: 0..3 });
    }

    proptest! {
        /// Whatever the sizes of the batches and of the slices in them, every block sits at an
        /// exact multiple of metaint bytes of audio, one per multiple, and the audio goes out
        /// whole and in order.
        #[test]
        fn blocks_land_at_exact_multiples_of_metaint(
            metaint in 1usize..3000,
            batches in proptest::collection::vec(proptest::collection::vec((0usize..5000, 0u8..3), 0..6), 0..12),
        ) {
            let titles = ["A", "B", "C"];
            let mut icy = Interleaver::new(metaint);
            let mut audio = 0usize;
            let mut blocks = 0usize;
            for batch in &batches {
                let segments: Vec<Segment> =
                    batch.iter().map(|&(len, t)| Segment { len, title: titles[t as usize] }).collect();
                let mut expected_next = vec![0usize; segments.len()];
                for piece in icy.plan(&segments) {
                    match piece {
                        Piece::Audio { segment, range } => {
                            prop_assert_eq!(range.start, expected_next[segment], "in order, no gap");
                            prop_assert!(range.end <= segments[segment].len && !range.is_empty());
                            expected_next[segment] = range.end;
                            audio += range.len();
                        }
                        Piece::Meta(block) => {
                            blocks += 1;
                            prop_assert_eq!(audio, blocks * metaint, "a block at exactly k * metaint");
                            prop_assert!(block.len() == 1 || block.len() == 1 + block[0] as usize * 16);
                        }
                    }
                }
                for (segment, next) in segments.iter().zip(&expected_next) {
                    prop_assert_eq!(segment.len, *next, "every byte sent");
                }
            }
            // One block for every multiple of metaint that audio followed.
            prop_assert_eq!(blocks, audio.saturating_sub(1) / metaint);
        }
    }
}
