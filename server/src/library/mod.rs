//! The songs a server offers: what a scan of the music folder found, remembered between runs,
//! rescanned on request, and opened safely when played.
//!
//! - [`scan`]: walking the folder without leaving it (links, loops, special files).
//! - [`probe`]: whether a file is MPEG audio, where its audio starts, how long it plays.
//! - [`tags`]: title, artist, album.
//! - [`index`]: the library remembered between runs, so ids stay stable and restarts are cheap.
//! - [`catalog`]: the current [`Library`], the scans that replace it, and who is told.
//! - [`open`]: opening a listed file at PLAY time as if the folder were hostile.
//! - [`song`]: a song in memory, cut into chunks, and the cache that shares it.
//!
//! Only paths found by a scan are ever opened (RFC §12): a client names songs by [`SongId`],
//! never by path.

pub mod catalog;
pub mod details;
pub mod index;
pub mod open;
pub mod probe;
pub mod scan;
pub mod search;
pub mod song;
pub mod tags;

use std::path::PathBuf;
use std::time::Duration;

use jukebox_protocol::{SongEntry, SongId};

pub use catalog::{Catalog, CatalogOptions, ScanResults};
use details::Details;
use search::SearchKey;
use tags::Tags;

/// One playable file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Song {
    /// The song's id: stable for as long as the index is kept (RFC §6.2.2).
    pub id: SongId,
    /// The path to open: the music folder as given, joined with the path under it.
    pub path: PathBuf,
    /// The path under the music folder: the key the index remembers the song by.
    pub rel: PathBuf,
    /// Where the scan found the file really is, links resolved.
    pub real: PathBuf,
    /// Size and modification time when probed.
    pub stamp: index::Stamp,
    /// Where the audio starts, after the ID3v2 tags.
    pub audio_start: u64,
    /// Playing time.
    pub duration: Duration,
    /// Title, artist and album.
    pub tags: Tags,
    /// What INFO tells besides; `None` only for a song remembered by an index of an older
    /// server, until a scan reads it again.
    pub details: Option<Details>,
}

impl Song {
    /// The song as LIST describes it.
    pub fn entry(&self) -> SongEntry {
        SongEntry {
            id: self.id,
            duration_ms: duration_ms(self.duration),
            size: self.stamp.size,
            title: self.tags.title.clone(),
            artist: self.tags.artist.clone(),
            album: self.tags.album.clone(),
        }
    }
}

/// A duration as the protocol sends it: rounded to the nearest millisecond (RFC §6.2.2),
/// saturating at `u32::MAX` (49 days).
pub fn duration_ms(d: Duration) -> u32 {
    u32::try_from((d.as_nanos() + 500_000) / 1_000_000).unwrap_or(u32::MAX)
}

/// Why the music folder cannot be served at all. Problems with single files are logged and the
/// file is left out instead.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The folder does not exist or is not a folder.
    #[error("music folder {} does not exist or is not a folder", scan::show(.path))]
    NotAFolder {
        /// The folder given.
        path: PathBuf,
    },
}

/// The songs of one scan, in id order: an immutable snapshot that connections share, so a
/// LIST always describes one scan whole, even while the next one replaces it.
#[derive(Debug, Default)]
pub struct Library {
    songs: Vec<Song>,
    entries: Vec<SongEntry>,
    /// What SEARCH matches, one per song, made once per scan rather than once per SEARCH.
    keys: Vec<SearchKey>,
}

impl Library {
    /// A library of already-probed songs, in any order; ids must be unique and nonzero.
    pub fn from_songs(mut songs: Vec<Song>) -> Library {
        songs.sort_by_key(|s| s.id);
        songs.dedup_by_key(|s| s.id);
        songs.retain(|s| s.id.0 != 0);
        let entries = songs.iter().map(Song::entry).collect();
        let keys = songs.iter().map(|s| SearchKey::new(&s.tags)).collect();
        Library { songs, entries, keys }
    }

    /// The song with this id.
    pub fn get(&self, id: SongId) -> Option<&Song> {
        self.songs.binary_search_by_key(&id, |s| s.id).ok().map(|i| &self.songs[i])
    }

    /// Every song, in id order.
    pub fn songs(&self) -> &[Song] {
        &self.songs
    }

    /// Every song as LIST describes it, in id order.
    pub fn entries(&self) -> &[SongEntry] {
        &self.entries
    }

    /// The songs whose title, artist or album hold every word of `query`, whatever their case
    /// and accents (RFC §6.1.14), as LIST describes them, in id order. An empty query matches
    /// every song.
    pub fn search(&self, query: &str) -> Vec<&SongEntry> {
        let words = search::words(query);
        self.entries.iter().zip(&self.keys).filter(|(_, key)| key.matches(&words)).map(|(e, _)| e).collect()
    }

    /// How many songs there are.
    pub fn len(&self) -> usize {
        self.songs.len()
    }

    /// True when no song was found.
    pub fn is_empty(&self) -> bool {
        self.songs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song(n: u32) -> Song {
        Song {
            id: SongId(n),
            path: PathBuf::from(format!("{n}.mp3")),
            rel: PathBuf::from(format!("{n}.mp3")),
            real: PathBuf::from(format!("/m/{n}.mp3")),
            stamp: index::Stamp { size: 1, mtime_ns: 0 },
            audio_start: 0,
            duration: Duration::from_secs(1),
            tags: Tags::default(),
            details: None,
        }
    }

    #[test]
    fn ids_need_not_be_contiguous_and_zero_is_no_song() {
        let library = Library::from_songs(vec![song(7), song(2), song(3)]);
        assert!(library.get(SongId(0)).is_none());
        assert_eq!(library.get(SongId(7)).map(|s| s.id), Some(SongId(7)));
        assert!(library.get(SongId(4)).is_none());
        assert!(library.get(SongId(u32::MAX)).is_none());
        let ids: Vec<_> = library.entries().iter().map(|e| e.id.0).collect();
        assert_eq!(ids, [2, 3, 7]);
    }

    #[test]
    fn durations_round_to_the_nearest_millisecond() {
        assert_eq!(duration_ms(Duration::from_micros(25_499_499)), 25_499);
        assert_eq!(duration_ms(Duration::from_micros(25_499_500)), 25_500);
        assert_eq!(duration_ms(Duration::from_secs(u64::MAX / 2)), u32::MAX);
    }
}
