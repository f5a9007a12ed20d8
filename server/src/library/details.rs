//! What INFO tells of a song beyond what LIST does (RFC §6.2.14): its audio format, the
//! encoder's delay and padding, its track, year and genre, and its ReplayGain. All of it is
//! found when the song is scanned (from the same reads as its duration and tags) and
//! remembered in the index, so that INFO is answered from memory: no connection's thread
//! reads a file for it.

use jukebox_protocol::{Gapless, ReplayGain, RequestId, SongInfo};
use serde::{Deserialize, Serialize};

use crate::library::probe::Format;
use crate::library::tags::{TagFacts, clean};
use crate::library::{Song, duration_ms};

/// A song's ReplayGain as the scan found it: gains in hundredths of a dB, peaks in millionths
/// of full scale (the units of the wire).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gain {
    /// The song's own gain.
    pub track_gain: Option<i32>,
    /// The song's peak.
    pub track_peak: Option<u32>,
    /// Its album's gain.
    pub album_gain: Option<i32>,
    /// Its album's peak.
    pub album_peak: Option<u32>,
    /// Taken from the LAME tag, for want of ID3v2 ReplayGain frames.
    pub from_lame: bool,
}

impl Gain {
    /// Whether any value is known.
    pub fn is_known(&self) -> bool {
        self.wire().is_known()
    }

    /// As SONG_INFO carries it.
    pub fn wire(&self) -> ReplayGain {
        ReplayGain {
            track_gain: self.track_gain,
            track_peak: self.track_peak,
            album_gain: self.album_gain,
            album_peak: self.album_peak,
            from_lame: self.from_lame,
        }
    }
}

/// Everything INFO adds to a LIST entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    /// Samples per second per channel of the first frame.
    pub sample_rate: u32,
    /// 1 or 2.
    pub channels: u8,
    /// The bitrate of every frame in kbit/s; 0 when it varies.
    pub bitrate_kbps: u16,
    /// The bitrate over the whole song in kbit/s.
    pub average_kbps: u16,
    /// The LAME tag's encoder name; empty without one.
    pub encoder: String,
    /// The LAME tag's encoder delay and padding, in samples.
    pub gapless: Option<[u16; 2]>,
    /// The track's number; 0 if unknown.
    pub track: u16,
    /// Tracks on the album; 0 if unknown.
    pub track_total: u16,
    /// The year; 0 if unknown.
    pub year: u16,
    /// The genre; empty if unknown.
    pub genre: String,
    /// ReplayGain.
    pub gain: Gain,
}

impl Details {
    /// Puts together what the probe and the tags found. ReplayGain is the ID3v2 tag's if it
    /// has any (a tagger measured the decoded song, and may have set album values), else the
    /// LAME tag's (the encoder's estimate of the track alone): never a mix of the two, whose
    /// values may have been measured differently.
    pub fn new(format: &Format, tags: TagFacts) -> Details {
        let lame = format.lame.as_ref();
        let gain = if tags.gain.is_known() {
            tags.gain
        } else {
            lame.map_or_else(Gain::default, |lame| Gain {
                track_gain: lame.track_gain,
                track_peak: lame.peak,
                album_gain: lame.album_gain,
                album_peak: None,
                from_lame: lame.track_gain.is_some() || lame.peak.is_some() || lame.album_gain.is_some(),
            })
        };
        Details {
            sample_rate: format.sample_rate,
            channels: format.channels,
            bitrate_kbps: format.bitrate_kbps,
            average_kbps: format.average_kbps,
            encoder: lame.map(|l| clean(&l.encoder)).unwrap_or_default(),
            gapless: lame.map(|l| [l.gapless.delay, l.gapless.padding]),
            track: tags.track,
            track_total: tags.track_total,
            year: tags.year,
            genre: tags.genre,
            gain,
        }
    }

    /// The same details with their texts cleaned as a scan cleans them: for details read from
    /// somewhere less careful (an index file on disk).
    pub fn cleaned(self) -> Details {
        Details { encoder: clean(&self.encoder), genre: clean(&self.genre), ..self }
    }
}

impl Song {
    /// The song as SONG_INFO describes it, answering the INFO `id`; `None` while its details
    /// are not known (a song remembered by an index of an older server, before the first scan
    /// has read them again).
    pub fn info(&self, id: RequestId) -> Option<SongInfo> {
        let details = self.details.as_ref()?;
        Some(SongInfo {
            id,
            song: self.id,
            duration_ms: duration_ms(self.duration),
            size: self.stamp.size,
            sample_rate: details.sample_rate,
            bitrate_kbps: details.bitrate_kbps,
            average_kbps: details.average_kbps,
            channels: details.channels,
            gapless: details.gapless.map(|[delay, padding]| Gapless { delay, padding }),
            track: details.track,
            track_total: details.track_total,
            year: details.year,
            gain: details.gain.wire(),
            title: self.tags.title.clone(),
            artist: self.tags.artist.clone(),
            album: self.tags.album.clone(),
            genre: details.genre.clone(),
            encoder: details.encoder.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::lame::LameTag;

    fn lame_format() -> Format {
        Format {
            sample_rate: 44_100,
            channels: 2,
            bitrate_kbps: 128,
            average_kbps: 128,
            lame: Some(LameTag {
                encoder: "LAME3.100".into(),
                vbr_method: 1,
                gapless: Gapless { delay: 576, padding: 1080 },
                track_gain: Some(-1130),
                album_gain: None,
                peak: None,
            }),
        }
    }

    #[test]
    fn the_lame_tag_gives_the_gain_when_the_id3_tag_has_none() {
        let details = Details::new(&lame_format(), TagFacts::default());
        assert_eq!(details.gapless, Some([576, 1080]));
        assert_eq!(details.encoder, "LAME3.100");
        assert_eq!(details.gain, Gain { track_gain: Some(-1130), from_lame: true, ..Gain::default() });
    }

    #[test]
    fn id3_replaygain_wins_over_the_lame_tag_whole() {
        let tags = TagFacts {
            gain: Gain { track_peak: Some(988_235), ..Gain::default() },
            genre: "Rock".into(),
            ..TagFacts::default()
        };
        let details = Details::new(&lame_format(), tags);
        // Not a mix: the tagger's peak, and no LAME gain beside it.
        assert_eq!(details.gain, Gain { track_peak: Some(988_235), ..Gain::default() });
        assert_eq!(details.genre, "Rock");
    }
}
