//! The station's side of the client (RFC §7.5), as pure logic: where on the stream a song
//! announced by TRACK_CHANGED begins.

use crate::pcm::SAMPLE_RATE;

/// The frame of a radio stream (counted from its first decoded frame, as the
/// [`crate::pcm::PcmQueue`] counts them) at which station time `position_ms` sounds, given
/// that station time `anchor_ms` sounds at frame `anchor_frame` (the first frame of the chunk
/// that AUDIO said began then). Station times are modulo 2^32 (RFC §7.5.1), so the distance
/// between the two is taken as the shorter way round; a song that began before the anchor
/// (the song a burst begins in) begins at a frame before it, possibly before the stream's
/// first (negative).
pub fn frame_at(anchor_frame: u64, anchor_ms: u32, position_ms: u32) -> i64 {
    // The difference modulo 2^32, as a signed distance of at most 24 days either way.
    let delta_ms = i64::from(position_ms.wrapping_sub(anchor_ms) as i32);
    let delta_frames = (delta_ms * i64::from(SAMPLE_RATE)).div_euclid(1000);
    i64::try_from(anchor_frame).unwrap_or(i64::MAX).saturating_add(delta_frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_song_begins_where_its_station_time_falls_from_the_anchor() {
        // Station time 10 000 ms is heard at frame 4410 of the stream.
        assert_eq!(frame_at(4410, 10_000, 10_000), 4410);
        // 100 ms later: 4410 frames later.
        assert_eq!(frame_at(4410, 10_000, 10_100), 8820);
        // The song a burst begins in began before it: before the stream's first frame.
        assert_eq!(frame_at(0, 10_000, 9_000), -44_100);
        assert_eq!(frame_at(0, 10_000, 9_999), -45, "44.1 frames a millisecond, rounded down");
        // Station time wraps at 2^32 ms (49.7 days): the short way round.
        assert_eq!(frame_at(0, u32::MAX - 9, 10), 20 * 441 / 10);
        assert_eq!(frame_at(441, 5, u32::MAX - 4), 441 - 441);
    }
}
