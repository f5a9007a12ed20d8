//! How loud the client plays: the user's volume, and ReplayGain, which plays every song at one
//! loudness from the values its tagger (or encoder) measured (RFC §6.2.14; PLAYING carries
//! them, §6.2.3).
//!
//! The two are applied at different places, for their different promises. The volume is
//! applied as the output takes each sample ([`crate::pcm::PcmQueue::take`]): turning it down is
//! heard at once. A song's ReplayGain is applied as its frames are decoded, per stream: in a
//! gapless queue the next song's gain starts exactly on its first sample, and a change of mode
//! is heard once the audio already decoded (a second or two) has played.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};

use jukebox_protocol::ReplayGain;

/// Which of a song's ReplayGain values to play it at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GainMode {
    /// As it is on the disc.
    #[default]
    Off,
    /// Every song at the reference loudness on its own (for a mix of albums, shuffled).
    Track,
    /// An album's songs at one loudness, their differences kept (the quiet intro stays quiet).
    Album,
}

impl FromStr for GainMode {
    type Err = String;

    fn from_str(text: &str) -> Result<GainMode, String> {
        match text {
            "off" => Ok(GainMode::Off),
            "track" => Ok(GainMode::Track),
            "album" => Ok(GainMode::Album),
            _ => Err(format!("replaygain: {text:?} is not off, track or album; try: replaygain track")),
        }
    }
}

impl fmt::Display for GainMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GainMode::Off => "off",
            GainMode::Track => "track",
            GainMode::Album => "album",
        })
    }
}

/// The volume and the ReplayGain mode, shared by the REPL (which sets them), the decoder and
/// the output (which read them on every block). Plain atomics: an audio callback never waits.
#[derive(Debug)]
pub struct Level {
    volume: AtomicU8,
    mode: AtomicU8,
}

impl Default for Level {
    fn default() -> Level {
        Level { volume: AtomicU8::new(100), mode: AtomicU8::new(0) }
    }
}

impl Level {
    /// The volume, 0 to 100 (percent of the samples' amplitude).
    pub fn volume(&self) -> u8 {
        self.volume.load(Ordering::Relaxed)
    }

    /// Sets the volume, at most 100 (there is no gain above the song's own: it would clip).
    pub fn set_volume(&self, percent: u8) {
        self.volume.store(percent.min(100), Ordering::Relaxed);
    }

    /// The ReplayGain mode.
    pub fn mode(&self) -> GainMode {
        match self.mode.load(Ordering::Relaxed) {
            1 => GainMode::Track,
            2 => GainMode::Album,
            _ => GainMode::Off,
        }
    }

    /// Sets the ReplayGain mode.
    pub fn set_mode(&self, mode: GainMode) {
        let value = match mode {
            GainMode::Off => 0,
            GainMode::Track => 1,
            GainMode::Album => 2,
        };
        self.mode.store(value, Ordering::Relaxed);
    }
}

/// The factor a song's samples are multiplied by in `mode`: 10^(gain/20), with the album's
/// values in album mode and the track's in track mode, each falling back on the other when
/// missing (as MPD and foobar2000 do); never so much that the song's peak would clip (the
/// factor is at most 1/peak). 1 when off, or when the song has no gain.
pub fn gain_factor(mode: GainMode, gain: &ReplayGain) -> f64 {
    let track = gain.track_gain.map(|g| (g, gain.track_peak));
    let album = gain.album_gain.map(|g| (g, gain.album_peak.or(gain.track_peak)));
    let chosen = match mode {
        GainMode::Off => None,
        GainMode::Track => track.or(album),
        GainMode::Album => album.or(track),
    };
    let Some((hundredths, peak)) = chosen else { return 1.0 };
    let factor = 10f64.powf(f64::from(hundredths) / 2000.0);
    match peak.filter(|&p| p > 0) {
        Some(peak) => factor.min(1_000_000.0 / f64::from(peak)),
        None => factor,
    }
}

/// Multiplies `samples` by `factor`, rounding, and clamping what would overflow.
pub fn scale(samples: &mut [i16], factor: f64) {
    if factor == 1.0 {
        return;
    }
    for sample in samples {
        *sample =
            (f64::from(*sample) * factor).round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gain(track: Option<i32>, track_peak: Option<u32>, album: Option<i32>) -> ReplayGain {
        ReplayGain { track_gain: track, track_peak, album_gain: album, album_peak: None, from_lame: false }
    }

    #[test]
    fn the_gain_is_the_tagged_decibels() {
        let g = gain(Some(-600), None, Some(-300));
        assert!((gain_factor(GainMode::Track, &g) - 0.501_187).abs() < 1e-6);
        assert!((gain_factor(GainMode::Album, &g) - 0.707_946).abs() < 1e-6);
        assert_eq!(gain_factor(GainMode::Off, &g), 1.0);
        assert_eq!(gain_factor(GainMode::Track, &ReplayGain::default()), 1.0);
    }

    #[test]
    fn each_mode_falls_back_on_the_other() {
        assert!((gain_factor(GainMode::Album, &gain(Some(-600), None, None)) - 0.501_187).abs() < 1e-6);
        assert!((gain_factor(GainMode::Track, &gain(None, None, Some(-600))) - 0.501_187).abs() < 1e-6);
    }

    #[test]
    fn turning_up_never_clips_the_peak() {
        // +6 dB would double a song whose peak is 0.8: it gets 1.25 instead.
        let g = gain(Some(600), Some(800_000), None);
        assert!((gain_factor(GainMode::Track, &g) - 1.25).abs() < 1e-9);
        // The album's peak limits the album's gain; without one, the track's peak does.
        let g = ReplayGain { album_peak: Some(500_000), ..gain(Some(600), Some(800_000), Some(900)) };
        assert!((gain_factor(GainMode::Album, &g) - 2.0).abs() < 1e-9);
        let mut samples = [16_000, -16_000, 30_000];
        scale(&mut samples, 2.0);
        assert_eq!(samples, [32_000, -32_000, i16::MAX]);
    }

    #[test]
    fn the_level_is_shared_and_bounded() {
        let level = Level::default();
        assert_eq!((level.volume(), level.mode()), (100, GainMode::Off));
        level.set_volume(250);
        assert_eq!(level.volume(), 100);
        level.set_mode(GainMode::Album);
        assert_eq!(level.mode(), GainMode::Album);
        assert_eq!("track".parse(), Ok(GainMode::Track));
        assert!("loud".parse::<GainMode>().is_err());
    }
}
