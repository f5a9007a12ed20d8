//! Finding whole MPEG audio frames in a live byte stream, without I/O.
//!
//! A relayed station ([`crate::mp3`] walks files; this walks streams) may start mid-frame,
//! insert ID3v2 tags where its source's songs change, or glitch (its own source reconnects and
//! a frame is cut short). [`FrameSync`] is shown the stream a slice at a time and hands out
//! whole frames, and only frames a decoder can be given: a listener's decoder that is handed a
//! cut frame loses its bit reservoir, and one handed junk may click.
//!
//! The rule is stricter than the file walk's (RFC §7.2), because a stream has no end of data
//! against which to confirm a frame, and a frame cut short by a glitch is common:
//!
//! - out of sync (at the start, after junk), a valid header starts a frame only if another
//!   valid header that agrees with it ([`AudioHeader::agrees_with`]) sits where it ends;
//! - in sync (right after a frame handed out), a valid header starts a frame if any valid
//!   header, or an ID3v2 tag, sits where it ends: a stream may change rate, and a tag marks a
//!   song change. Otherwise the frame was cut short, and it is dropped as junk;
//! - an ID3v2 tag is skipped whole, by the size it declares, without being held in memory;
//! - everything else is junk, dropped one byte at a time until the next frame confirms.
//!
//! So a frame is handed out once the 4 bytes after it have arrived: about one frame of delay.
//! Memory is bounded: [`FrameSync`] holds at most [`MAX_SYNC_BUFFER`] bytes, whatever it is
//! shown.

use crate::mp3::{AUDIO_HEADER_LEN, AudioHeader};

/// The most bytes a [`FrameSync`] holds. It needs at most [`MIN_WINDOW`](crate::mp3::MIN_WINDOW) (the longest frame and
/// the header after it) to decide, so what is left after its frames are taken is always less;
/// the rest is room to push into.
pub const MAX_SYNC_BUFFER: usize = 64 * 1024;

/// Length of an ID3v2 tag's header (and of its optional footer).
const ID3_HEADER_LEN: usize = 10;

/// One whole frame handed out by [`FrameSync::pop`], borrowed until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncedFrame<'a> {
    /// What its header says.
    pub header: AudioHeader,
    /// The whole frame, header included (`header.len` bytes).
    pub bytes: &'a [u8],
}

/// Turns a stream of bytes cut anywhere into whole MPEG audio frames (the module's rule).
///
/// Push what arrives with [`push`](FrameSync::push), then [`pop`](FrameSync::pop) frames until
/// it says `None`; push the rest of what did not fit, and so on.
#[derive(Debug, Clone)]
pub struct FrameSync {
    /// Bytes pushed; `buf[start..]` is not yet handed out or dropped.
    buf: Vec<u8>,
    start: usize,
    /// Whether `buf[start]` is where the last frame handed out ended.
    in_sync: bool,
    /// Bytes of an ID3v2 tag still to drop as they arrive.
    tag_left: u64,
    /// Junk dropped so far.
    junk: u64,
    /// Tag bytes dropped so far.
    tags: u64,
}

impl Default for FrameSync {
    fn default() -> Self {
        FrameSync::new()
    }
}

impl FrameSync {
    /// Out of sync, holding nothing.
    pub fn new() -> FrameSync {
        FrameSync { buf: Vec::new(), start: 0, in_sync: false, tag_left: 0, junk: 0, tags: 0 }
    }

    /// Takes as much of `bytes` as fits and returns how much that was. After [`pop`] has said
    /// `None`, at least [`MAX_SYNC_BUFFER`] minus [`MIN_WINDOW`](crate::mp3::MIN_WINDOW) bytes fit.
    ///
    /// [`pop`]: FrameSync::pop
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        // The rest of a tag is dropped without being held.
        let skip = usize::try_from(self.tag_left).unwrap_or(usize::MAX).min(bytes.len());
        self.tag_left -= skip as u64;
        self.tags += skip as u64;
        let bytes = &bytes[skip..];
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let take = bytes.len().min(MAX_SYNC_BUFFER - self.buf.len());
        self.buf.extend_from_slice(&bytes[..take]);
        skip + take
    }

    /// The next whole frame, or `None` until more bytes are pushed.
    pub fn pop(&mut self) -> Option<SyncedFrame<'_>> {
        loop {
            let rest = &self.buf[self.start..];
            if self.tag_left > 0 {
                let skip = usize::try_from(self.tag_left).unwrap_or(usize::MAX).min(rest.len());
                self.drop_tag(skip);
                if self.tag_left > 0 {
                    return None;
                }
                continue;
            }
            if rest.len() < AUDIO_HEADER_LEN {
                return None;
            }
            if rest.starts_with(b"ID3") {
                if rest.len() < ID3_HEADER_LEN {
                    return None;
                }
                if let Some(len) = id3v2_len(rest) {
                    self.tag_left = len;
                    continue;
                }
            } else if let Some(header) = AudioHeader::parse(rest) {
                let after = rest.get(header.len..header.len + AUDIO_HEADER_LEN)?;
                let confirmed = match AudioHeader::parse(after) {
                    Some(next) => self.in_sync || header.agrees_with(&next),
                    None => self.in_sync && after.starts_with(b"ID3"),
                };
                if confirmed {
                    let at = self.start;
                    self.start += header.len;
                    self.in_sync = true;
                    return Some(SyncedFrame { header, bytes: &self.buf[at..at + header.len] });
                }
            }
            self.drop_junk();
        }
    }

    /// Whether the next byte is where the last frame handed out ended.
    pub fn in_sync(&self) -> bool {
        self.in_sync
    }

    /// Bytes held, waiting for what follows them.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Bytes dropped as junk so far (not counting ID3v2 tags).
    pub fn junk(&self) -> u64 {
        self.junk
    }

    /// Bytes of ID3v2 tags skipped so far.
    pub fn tags(&self) -> u64 {
        self.tags
    }

    /// Drops `n` bytes of the tag being skipped.
    fn drop_tag(&mut self, n: usize) {
        self.start += n;
        self.tag_left -= n as u64;
        self.tags += n as u64;
    }

    /// Drops the junk at `buf[start]` (there is a byte): that byte, and whatever follows up to
    /// the next byte that may start a frame or a tag.
    fn drop_junk(&mut self) {
        let rest = &self.buf[self.start..];
        let n = 1 + rest
            .iter()
            .skip(1)
            .position(|&b| b == 0xFF || b == b'I')
            .unwrap_or(rest.len().saturating_sub(1));
        self.start += n;
        self.junk += n as u64;
        self.in_sync = false;
    }
}

/// The whole length of the ID3v2 tag whose header starts `bytes` (at least 10 bytes), footer
/// included; `None` if those bytes are not a tag's header.
fn id3v2_len(bytes: &[u8]) -> Option<u64> {
    let &[b'I', b'D', b'3', major, minor, flags, s0, s1, s2, s3, ..] = bytes else {
        return None;
    };
    if major == 0xFF || minor == 0xFF || [s0, s1, s2, s3].iter().any(|&b| b >= 0x80) {
        return None;
    }
    // The size is "synchsafe": 7 bits a byte.
    let size = [s0, s1, s2, s3].iter().fold(0u64, |n, &b| (n << 7) | u64::from(b));
    let footer = if flags & 0x10 != 0 { ID3_HEADER_LEN as u64 } else { 0 };
    Some(ID3_HEADER_LEN as u64 + size + footer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp3::MIN_WINDOW;
    use proptest::prelude::*;

    /// MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417 bytes.
    const H128: [u8; 4] = [0xFF, 0xFB, 0x90, 0x00];
    /// MPEG-1 Layer III, 48 kHz: 384 bytes.
    const H48K: [u8; 4] = [0xFF, 0xFB, 0x94, 0x00];
    /// MPEG-2 Layer III, 22.05 kHz: 208 bytes.
    const H22K: [u8; 4] = [0xFF, 0xF3, 0x80, 0x00];
    /// MPEG-2.5 Layer II, 8 kHz, padded: the longest frame.
    const HLONG: [u8; 4] = [0xFF, 0xE5, 0xEA, 0x00];
    const HEADERS: [[u8; 4]; 4] = [H128, H48K, H22K, HLONG];

    /// A frame with `header` whose body is `fill` (no 0xFF, so no false sync inside).
    fn frame(header: [u8; 4], fill: u8) -> Vec<u8> {
        let len = AudioHeader::parse(&header).unwrap().len;
        let mut f = header.to_vec();
        f.resize(len, fill);
        f
    }

    /// Pushes `chunks` one after the other and pops everything.
    fn sync_all(sync: &mut FrameSync, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for chunk in chunks {
            let mut rest = *chunk;
            loop {
                while let Some(f) = sync.pop() {
                    assert_eq!(f.bytes.len(), f.header.len);
                    out.push(f.bytes.to_vec());
                }
                assert!(sync.buffered() <= MAX_SYNC_BUFFER);
                if rest.is_empty() {
                    break;
                }
                let n = sync.push(rest);
                assert!(n > 0, "room after the frames are taken");
                rest = &rest[n..];
            }
        }
        out
    }

    #[test]
    fn a_stream_that_starts_mid_frame_locks_on_the_first_confirmed_frame() {
        let whole: Vec<u8> = (0..4u8).flat_map(|i| frame(H128, i)).collect();
        let data = &whole[100..];
        let mut sync = FrameSync::new();
        let got = sync_all(&mut sync, &[data]);
        // Frames 1 and 2: frame 3 waits for the header after it.
        assert_eq!(got, [frame(H128, 1), frame(H128, 2)]);
        assert_eq!(sync.junk(), 317);
        assert!(sync.in_sync());
    }

    #[test]
    fn a_false_sync_in_junk_is_not_trusted() {
        // A valid header alone, then junk, then frames of another rate.
        let mut data = H48K.to_vec();
        data.extend([0u8; 30]);
        data.extend(frame(H128, 1));
        data.extend(frame(H128, 2));
        data.extend(H128);
        let got = sync_all(&mut FrameSync::new(), &[&data]);
        assert_eq!(got, [frame(H128, 1), frame(H128, 2)]);
    }

    #[test]
    fn a_frame_cut_short_is_dropped_and_sync_comes_back() {
        let mut data = frame(H128, 1);
        data.extend(&frame(H128, 2)[..200]);
        data.extend(frame(H128, 3));
        data.extend(frame(H128, 4));
        data.extend(H128);
        let got = sync_all(&mut FrameSync::new(), &[&data]);
        assert_eq!(got, [frame(H128, 1), frame(H128, 3), frame(H128, 4)]);
    }

    #[test]
    fn a_change_of_rate_in_sync_loses_nothing() {
        let mut data = Vec::new();
        for h in [H128, H128, H48K, H22K, H22K] {
            data.extend(frame(h, 7));
        }
        data.extend(H22K);
        assert_eq!(sync_all(&mut FrameSync::new(), &[&data]).len(), 5);
    }

    #[test]
    fn an_id3_tag_larger_than_the_buffer_is_skipped_between_frames() {
        let body = 200_000usize;
        let size = [
            (body >> 21) as u8 & 0x7F,
            (body >> 14) as u8 & 0x7F,
            (body >> 7) as u8 & 0x7F,
            body as u8 & 0x7F,
        ];
        let mut data = frame(H128, 1);
        data.extend(frame(H128, 2));
        data.extend(b"ID3\x04\x00\x00");
        data.extend(size);
        // Tag data full of false syncs.
        data.extend(H48K.repeat(body / 4));
        data.extend(frame(H128, 3));
        data.extend(frame(H128, 4));
        data.extend(H128);
        let mut sync = FrameSync::new();
        let chunks: Vec<&[u8]> = data.chunks(5000).collect();
        let got = sync_all(&mut sync, &chunks);
        assert_eq!(got, [frame(H128, 1), frame(H128, 2), frame(H128, 3), frame(H128, 4)]);
        assert_eq!(sync.tags(), 10 + body as u64);
        assert_eq!(sync.junk(), 0);
    }

    /// Runs of frames of one kind each, the first at least two long so that it confirms itself.
    fn runs() -> impl Strategy<Value = Vec<Vec<u8>>> {
        proptest::collection::vec((0..HEADERS.len(), 1..4usize, 0u8..0xFF), 1..8).prop_map(|runs| {
            let mut frames = Vec::new();
            for (i, (h, n, fill)) in runs.into_iter().enumerate() {
                let n = if i == 0 { n + 1 } else { n };
                frames.extend((0..n).map(|k| frame(HEADERS[h], fill.wrapping_add(k as u8) % 0xFF)));
            }
            frames
        })
    }

    /// `data` cut at the points `cuts` (any order, any values).
    fn cut<'a>(data: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        points.extend([0, data.len()]);
        points.sort_unstable();
        points.windows(2).map(|w| &data[w[0]..w[1]]).collect()
    }

    proptest! {
        #[test]
        fn garbage_then_frames_cut_anywhere_gives_exactly_the_frames(
            // No 0xFF (a header's first byte) and no 'I' (a tag's): junk that cannot sync.
            garbage in proptest::collection::vec((0u8..0xFE).prop_map(|b| if b == b'I' { 0xFE } else { b }), 0..3000),
            frames in runs(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
        ) {
            let mut data = garbage.clone();
            frames.iter().for_each(|f| data.extend(f));
            // The header after the last frame, which confirms it.
            data.extend(H128);
            let mut sync = FrameSync::new();
            let got = sync_all(&mut sync, &cut(&data, &cuts));
            prop_assert_eq!(got, frames);
            prop_assert_eq!(sync.junk(), garbage.len() as u64);
        }

        #[test]
        fn random_bytes_never_panic_and_the_buffer_stays_bounded(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40_000), 0..8),
        ) {
            let mut sync = FrameSync::new();
            let chunks: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
            for f in sync_all(&mut sync, &chunks) {
                prop_assert_eq!(AudioHeader::parse(&f).map(|h| h.len), Some(f.len()));
            }
            prop_assert!(sync.buffered() < MIN_WINDOW);
        }

        #[test]
        fn frames_mixed_with_junk_and_tags_never_yield_a_frame_that_was_not_sent(
            parts in proptest::collection::vec(prop_oneof![
                4 => (0..HEADERS.len(), 0u8..0xFF).prop_map(|(h, fill)| frame(HEADERS[h], fill)),
                1 => proptest::collection::vec(any::<u8>(), 0..50),
                1 => (0..HEADERS.len()).prop_map(|h| HEADERS[h].to_vec()),
                1 => (0u8..100).prop_map(|n| [b"ID3\x03\x00\x00\x00\x00\x00".as_slice(), &[n], &vec![0xFF; n.into()]].concat()),
            ], 0..30),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
        ) {
            let data = parts.concat();
            let got = sync_all(&mut FrameSync::new(), &cut(&data, &cuts));
            for f in &got {
                prop_assert!(AudioHeader::parse(f).is_some_and(|h| h.len == f.len()));
            }
            prop_assert!(got.len() <= parts.len());
        }
    }
}
