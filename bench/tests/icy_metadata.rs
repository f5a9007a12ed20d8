//! ICY metadata stripping against any split of the body into reads.

use jukebox_bench::icy::{MetaStripper, parse_meta};
use proptest::prelude::*;

/// A body: `audio` with, after every `metaint` bytes of it, a block holding the next of
/// `titles` (`None`: an empty block, length byte 0). Returns it with the blocks' places.
fn body(audio: &[u8], metaint: usize, titles: &[Option<String>]) -> (Vec<u8>, Vec<(u64, Option<String>)>) {
    let mut out = Vec::new();
    let mut blocks = Vec::new();
    let mut pieces = audio.chunks(metaint).peekable();
    let mut titles = titles.iter().cycle();
    let mut at = 0u64;
    while let Some(piece) = pieces.next() {
        out.extend_from_slice(piece);
        at += piece.len() as u64;
        if piece.len() < metaint {
            break;
        }
        let title = titles.next().cloned().flatten();
        let mut block = title.as_ref().map_or(Vec::new(), |t| format!("StreamTitle='{t}';").into_bytes());
        block.resize(block.len().div_ceil(16) * 16, 0);
        out.push((block.len() / 16) as u8);
        out.extend_from_slice(&block);
        blocks.push((at, title));
        if pieces.peek().is_none() {
            break;
        }
    }
    (out, blocks)
}

proptest! {
    #[test]
    fn any_split_gives_the_audio_and_the_blocks_back(
        audio in proptest::collection::vec(any::<u8>(), 0..4000),
        metaint in 1usize..300,
        titles in proptest::collection::vec(proptest::option::of("[ -&(-~]{0,60}"), 1..5),
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let (body, expected) = body(&audio, metaint, &titles);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (body.len() + 1)).collect();
        cuts.push(0);
        cuts.push(body.len());
        cuts.sort_unstable();
        let mut stripper = MetaStripper::new(metaint).unwrap();
        let mut got_audio = Vec::new();
        let mut got_blocks = Vec::new();
        for pair in cuts.windows(2) {
            got_blocks.extend(stripper.push(&body[pair[0]..pair[1]], &mut got_audio));
        }
        prop_assert_eq!(&got_audio, &audio);
        prop_assert_eq!(got_blocks.len(), expected.len());
        for ((at, block), (want_at, want_title)) in got_blocks.iter().zip(&expected) {
            prop_assert_eq!(at, want_at);
            prop_assert_eq!(at % metaint as u64, 0);
            let want = want_title.clone().filter(|t| !t.is_empty());
            prop_assert_eq!(parse_meta(block), Ok(want));
        }
    }

    #[test]
    fn any_block_is_read_or_refused_without_panicking(block in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_meta(&block);
    }
}
