//! The answer to `info N` (RFC §6.2.14), in words for a person: every tag, the audio format,
//! the encoder's delay and padding, and the ReplayGain, one subject a line. Every text comes
//! from a file on the server, so each passes through [`printable`].

use std::time::Duration;

use jukebox_protocol::text::printable;
use jukebox_protocol::{ReplayGain, SongInfo};

/// The lines `info` prints.
pub fn describe_info(info: &SongInfo) -> Vec<String> {
    let mut lines = vec![format!("Song {}: {}", info.song, printable(&info.title))];
    if !info.artist.is_empty() {
        lines.push(format!("Artist: {}", printable(&info.artist)));
    }
    let mut album = Vec::new();
    if info.track != 0 {
        album.push(match info.track_total {
            0 => format!("track {}", info.track),
            total => format!("track {} of {total}", info.track),
        });
    }
    if info.year != 0 {
        album.push(info.year.to_string());
    }
    match (info.album.is_empty(), album.is_empty()) {
        (false, true) => lines.push(format!("Album: {}", printable(&info.album))),
        (false, false) => lines.push(format!("Album: {} ({})", printable(&info.album), album.join(", "))),
        (true, false) => lines.push(capitalize_first(&album.join(", "))),
        (true, true) => {}
    }
    if !info.genre.is_empty() {
        lines.push(format!("Genre: {}", printable(&info.genre)));
    }
    lines.push(format!(
        "Length: {} ({} ms), {} bytes",
        length(info.duration_ms),
        info.duration_ms,
        info.size
    ));
    lines.push(format!("Audio: {}", audio(info)));
    if !info.encoder.is_empty() {
        lines.push(format!("Encoder: {}", printable(&info.encoder)));
    }
    lines.push(match info.gapless {
        Some(g) => format!("Encoder delay: {} samples, padding: {}", g.delay, g.padding),
        None => "Encoder delay: unknown (the file has no LAME tag)".to_string(),
    });
    lines.push(replay_gain(&info.gain));
    lines
}

/// "44100 Hz, stereo, 128 kbit/s", or for a variable bitrate "variable bitrate, 190 kbit/s on
/// average".
fn audio(info: &SongInfo) -> String {
    let mut parts = Vec::new();
    if info.sample_rate != 0 {
        parts.push(format!("{} Hz", info.sample_rate));
    }
    match info.channels {
        0 => {}
        1 => parts.push("mono".to_string()),
        2 => parts.push("stereo".to_string()),
        n => parts.push(format!("{n} channels")),
    }
    match (info.bitrate_kbps, info.average_kbps) {
        (0, 0) => {}
        (0, average) => parts.push(format!("variable bitrate, {average} kbit/s on average")),
        (kbps, average) if average == kbps || average == 0 => parts.push(format!("{kbps} kbit/s")),
        (kbps, average) => parts.push(format!("{kbps} kbit/s ({average} kbit/s on average)")),
    }
    if parts.is_empty() { "unknown".to_string() } else { parts.join(", ") }
}

/// "ReplayGain: track -6.20 dB (peak 0.988), album -5.10 dB (peak 1.000)".
fn replay_gain(gain: &ReplayGain) -> String {
    let part = |name: &str, db: Option<i32>, peak: Option<u32>| match (db, peak) {
        (None, None) => None,
        (Some(db), None) => Some(format!("{name} {}", decibels(db))),
        (None, Some(peak)) => Some(format!("{name} peak {}", full_scale(peak))),
        (Some(db), Some(peak)) => Some(format!("{name} {} (peak {})", decibels(db), full_scale(peak))),
    };
    let parts: Vec<String> =
        [part("track", gain.track_gain, gain.track_peak), part("album", gain.album_gain, gain.album_peak)]
            .into_iter()
            .flatten()
            .collect();
    if parts.is_empty() {
        return "ReplayGain: none".to_string();
    }
    let source = if gain.from_lame { " (the encoder's, from the LAME tag)" } else { "" };
    format!("ReplayGain: {}{source}", parts.join(", "))
}

/// Hundredths of a dB as "-6.20 dB" or "+1.50 dB".
fn decibels(hundredths: i32) -> String {
    let sign = if hundredths < 0 { "-" } else { "+" };
    let abs = hundredths.unsigned_abs();
    format!("{sign}{}.{:02} dB", abs / 100, abs % 100)
}

/// Millionths of full scale as "0.988", rounded to thousandths.
fn full_scale(millionths: u32) -> String {
    let thousandths = (u64::from(millionths) + 500) / 1000;
    format!("{}.{:03}", thousandths / 1000, thousandths % 1000)
}

/// `m:ss` of a length rounded to the nearest second, as `list` shows it.
fn length(ms: u32) -> String {
    let secs = Duration::from_millis(u64::from(ms) + 500).as_secs();
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

fn capitalize_first(text: &str) -> String {
    crate::connection::capitalized(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::{Gapless, RequestId, SongId};

    fn info() -> SongInfo {
        SongInfo {
            id: RequestId(1),
            song: SongId(2),
            duration_ms: 32_731,
            size: 601_048,
            sample_rate: 44_100,
            bitrate_kbps: 128,
            average_kbps: 128,
            channels: 2,
            gapless: Some(Gapless { delay: 576, padding: 1188 }),
            track: 2,
            track_total: 4,
            year: 2024,
            gain: ReplayGain {
                track_gain: Some(-620),
                track_peak: Some(988_235),
                album_gain: Some(-510),
                album_peak: Some(1_000_000),
                from_lame: false,
            },
            title: "Lanterns in the Rain".into(),
            artist: "The Jukebox Synths".into(),
            album: "Jukebox Sample Tunes".into(),
            genre: "Ambient\u{1b}[2J".into(),
            encoder: "LAME3.100".into(),
        }
    }

    #[test]
    fn every_field_is_told_in_words() {
        assert_eq!(
            describe_info(&info()),
            [
                "Song 2: Lanterns in the Rain",
                "Artist: The Jukebox Synths",
                "Album: Jukebox Sample Tunes (track 2 of 4, 2024)",
                "Genre: Ambient[2J",
                "Length: 0:33 (32731 ms), 601048 bytes",
                "Audio: 44100 Hz, stereo, 128 kbit/s",
                "Encoder: LAME3.100",
                "Encoder delay: 576 samples, padding: 1188",
                "ReplayGain: track -6.20 dB (peak 0.988), album -5.10 dB (peak 1.000)",
            ]
        );
    }

    #[test]
    fn what_is_unknown_says_so() {
        let bare = SongInfo {
            gapless: None,
            gain: ReplayGain { track_gain: Some(150), from_lame: true, ..ReplayGain::default() },
            bitrate_kbps: 0,
            average_kbps: 190,
            channels: 1,
            track: 0,
            year: 0,
            album: String::new(),
            artist: String::new(),
            genre: String::new(),
            encoder: String::new(),
            ..info()
        };
        let lines = describe_info(&bare);
        assert!(
            lines.contains(&"Audio: 44100 Hz, mono, variable bitrate, 190 kbit/s on average".to_string())
        );
        assert!(lines.contains(&"Encoder delay: unknown (the file has no LAME tag)".to_string()));
        assert!(lines.contains(&"ReplayGain: track +1.50 dB (the encoder's, from the LAME tag)".to_string()));
        assert!(!lines.iter().any(|l| l.starts_with("Album") || l.starts_with("Artist")));
        let none = SongInfo { gain: ReplayGain::default(), ..bare };
        assert!(describe_info(&none).contains(&"ReplayGain: none".to_string()));
    }
}
