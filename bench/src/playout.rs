//! A virtual player: what a real client's playback would do with the audio as it arrives,
//! without decoding it. It never reads the clock; callers pass `now`.
//!
//! Playback starts once `prebuffer` of audio has arrived (or the stream has ended), then plays
//! at real time. A chunk that arrives after the moment it should have started playing means
//! the buffer ran dry: an underrun, after which playback resumes as soon as audio is there
//! again (the lost time is not made up, as on a sound card).

use std::time::{Duration, Instant};

use jukebox_protocol::mp3::{AUDIO_HEADER_LEN, AudioHeader, StreamClock};

/// The playback state of one stream.
#[derive(Debug, Clone)]
pub struct Playout {
    prebuffer: Duration,
    /// The instant at which song position 0 plays (moved later by underruns).
    origin: Option<Instant>,
    /// Song position up to which audio has arrived.
    received: Duration,
    ended: bool,
    underruns: u32,
}

impl Playout {
    /// A player that starts after `prebuffer` of audio.
    pub fn new(prebuffer: Duration) -> Playout {
        Playout { prebuffer, origin: None, received: Duration::ZERO, ended: false, underruns: 0 }
    }

    /// Audio covering song positions `start..end` arrived at `now`.
    pub fn on_audio(&mut self, now: Instant, start: Duration, end: Duration) {
        if let Some(origin) = self.origin {
            let due = origin + start;
            if now > due && start >= self.received {
                // The buffer ran dry at `due`; playback resumes now.
                self.underruns += 1;
                self.origin = Some(origin + (now - due));
            }
        }
        self.received = self.received.max(end);
        if self.origin.is_none() && self.received >= self.prebuffer {
            self.origin = Some(now);
        }
    }

    /// The stream has been received completely.
    pub fn on_end(&mut self, now: Instant) {
        self.ended = true;
        if self.origin.is_none() {
            self.origin = Some(now);
        }
    }

    /// How much audio is buffered ahead of the playback position at `now`: what the network
    /// and the client hold that has not been heard yet. Zero before playback starts.
    pub fn lead(&self, now: Instant) -> Duration {
        match self.origin {
            Some(origin) => self.received.saturating_sub(now.saturating_duration_since(origin)),
            None => Duration::ZERO,
        }
    }

    /// The stream position playing at `now`; `None` before playback starts. It stands still
    /// while the buffer is dry.
    pub fn played(&self, now: Instant) -> Option<Duration> {
        let origin = self.origin?;
        Some(now.saturating_duration_since(origin).min(self.received))
    }

    /// Underruns that are over (playback resumed, or the stream was left).
    pub fn completed_underruns(&self) -> u32 {
        self.underruns
    }

    /// Underruns so far, counting one in progress at `now` (dry, and the song not over).
    pub fn underruns(&self, now: Instant) -> u32 {
        let dry_now = !self.ended && self.origin.is_some() && self.lead(now).is_zero();
        self.underruns + u32::from(dry_now)
    }
}

/// Counts the playing time of MPEG audio frames in a byte stream that may split frames
/// anywhere (an HTTP body), keeping the incomplete tail for the next call.
///
/// A live stream may be joined in the middle of a frame: the bytes before the first frame are
/// its lead-in. A frame header found by searching (at the start, or after bytes that were not
/// a frame) counts only once the header after its frame agrees with it, so that bytes that
/// merely look like a header inside audio data are not taken for one.
#[derive(Debug, Default, Clone)]
pub struct FrameTimer {
    pending: Vec<u8>,
    clock: StreamClock,
    /// Whether the frame at the start of `pending` follows a frame (else it must be confirmed).
    in_step: bool,
    /// Whether a frame has been found yet.
    found: bool,
    /// Bytes skipped before the first frame.
    lead_in: u64,
    /// Bytes skipped after it: not part of a frame where a frame should have started.
    junk: u64,
}

impl FrameTimer {
    /// Song position reached so far.
    pub fn position(&self) -> Duration {
        self.clock.now()
    }

    /// Bytes before the first frame: the part of a frame a live stream was joined in, or a tag.
    pub fn lead_in(&self) -> u64 {
        self.lead_in
    }

    /// Bytes after the first frame that were not part of a frame: a tag between songs, or a
    /// damaged or misread stream.
    pub fn junk(&self) -> u64 {
        self.junk
    }

    /// Adds bytes; returns the song positions their complete frames cover.
    pub fn push(&mut self, bytes: &[u8]) -> (Duration, Duration) {
        let start = self.clock.now();
        self.pending.extend_from_slice(bytes);
        let mut pos = 0;
        while self.pending.len() >= pos + AUDIO_HEADER_LEN {
            let header = match AudioHeader::parse(&self.pending[pos..]) {
                Some(header) if pos + header.len <= self.pending.len() => header,
                Some(_) => break,
                None => {
                    self.skip(&mut pos);
                    continue;
                }
            };
            if !self.in_step {
                let next = pos + header.len;
                if self.pending.len() < next + AUDIO_HEADER_LEN {
                    break;
                }
                if !AudioHeader::parse(&self.pending[next..]).is_some_and(|h| h.agrees_with(&header)) {
                    self.skip(&mut pos);
                    continue;
                }
            }
            self.clock.advance(&header);
            pos += header.len;
            self.in_step = true;
            self.found = true;
        }
        self.pending.drain(..pos);
        (start, self.clock.now())
    }

    /// The byte at `pos` starts no frame.
    fn skip(&mut self, pos: &mut usize) {
        *pos += 1;
        self.in_step = false;
        if self.found {
            self.junk += 1;
        } else {
            self.lead_in += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_steady_stream_never_underruns_and_keeps_its_lead() {
        let t0 = Instant::now();
        let mut p = Playout::new(200 * MS);
        // A 2 s burst, then 200 ms chunks each arriving 2 s before it is due.
        p.on_audio(t0, Duration::ZERO, 2000 * MS);
        for i in 0..50u32 {
            let start = (2000 + 200 * i) * MS;
            let now = t0 + start - 2000 * MS;
            p.on_audio(now, start, start + 200 * MS);
            assert!(p.lead(now) >= 1900 * MS);
        }
        assert_eq!(p.underruns(t0 + 10_000 * MS), 0);
    }

    #[test]
    fn a_late_chunk_is_an_underrun_and_playback_resumes_from_it() {
        let t0 = Instant::now();
        let mut p = Playout::new(200 * MS);
        p.on_audio(t0, Duration::ZERO, 1000 * MS);
        // Due at t0 + 1 s, arrives at t0 + 1.5 s.
        p.on_audio(t0 + 1500 * MS, 1000 * MS, 1200 * MS);
        assert_eq!(p.underruns(t0 + 1500 * MS), 1);
        assert_eq!(p.lead(t0 + 1500 * MS), 200 * MS);
        // Running dry again without more audio counts as one more, in progress.
        assert_eq!(p.underruns(t0 + 2000 * MS), 2);
        p.on_end(t0 + 2000 * MS);
        assert_eq!(p.underruns(t0 + 2000 * MS), 1);
    }

    #[test]
    fn frames_split_anywhere_are_timed_once_whole() {
        let mut frame = vec![0xFF, 0xFB, 0x90, 0x00];
        frame.resize(417, 0);
        let two = [frame.clone(), frame].concat();
        let mut timer = FrameTimer::default();
        assert_eq!(timer.push(&two[..500]), (Duration::ZERO, Duration::from_nanos(26_122_448)));
        let (start, end) = timer.push(&two[500..]);
        assert_eq!((start, end), (Duration::from_nanos(26_122_448), Duration::from_nanos(52_244_897)));
        assert_eq!((timer.lead_in(), timer.junk()), (0, 0));
    }

    #[test]
    fn a_stream_joined_mid_frame_has_a_lead_in_and_no_junk() {
        let mut frame = vec![0xFF, 0xFB, 0x90, 0x00];
        frame.resize(417, 0);
        // The tail of a frame that holds something like a header, then three frames.
        let mut body = vec![0x11, 0xFF, 0xFB, 0x90, 0x00, 0x22];
        body.extend(frame.repeat(3));
        let mut timer = FrameTimer::default();
        for piece in body.chunks(100) {
            timer.push(piece);
        }
        assert_eq!((timer.lead_in(), timer.junk()), (6, 0));
        assert_eq!(timer.position(), Duration::from_nanos(78_367_346));
        // Three bytes that are not a frame, then two frames.
        timer.push(b"TAG");
        timer.push(&frame.repeat(2));
        assert_eq!((timer.lead_in(), timer.junk()), (6, 3));
        assert_eq!(timer.position(), Duration::from_nanos(130_612_244));
    }

    #[test]
    fn playback_position_stands_still_while_dry() {
        let t0 = Instant::now();
        let mut p = Playout::new(200 * MS);
        assert_eq!(p.played(t0), None);
        p.on_audio(t0, Duration::ZERO, 1000 * MS);
        assert_eq!(p.played(t0 + 400 * MS), Some(400 * MS));
        assert_eq!(p.played(t0 + 1500 * MS), Some(1000 * MS));
    }
}
