//! The songs a server offers: found once at start-up by scanning a folder, then read-only.
//!
//! Only paths found here are ever opened (RFC §12): a client names songs by [`SongId`], never
//! by path. Ids are 1..=N in the order of the sorted paths, so they are stable across restarts
//! of a server over the same folder.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jukebox_protocol::mp3;
use jukebox_protocol::{SongEntry, SongId};
use tracing::{info, warn};

use crate::tags::Tags;

/// Files larger than this are not served: a song is held in memory while it streams.
pub const MAX_SONG_BYTES: u64 = 256 * 1024 * 1024;

/// How much of a file is read to find its first frame and a Xing/VBRI header.
const PROBE_BYTES: u64 = 256 * 1024;

/// One playable file.
#[derive(Debug, Clone)]
pub struct Song {
    /// The song's id in this library.
    pub id: SongId,
    /// Where the file was found.
    pub path: PathBuf,
    /// Title, artist and album.
    pub tags: Tags,
    /// Playing time.
    pub duration: Duration,
    /// File size in bytes at scan time.
    pub size: u64,
}

impl Song {
    /// The song as LIST describes it.
    pub fn entry(&self) -> SongEntry {
        SongEntry {
            id: self.id,
            duration_ms: duration_ms(self.duration),
            size: self.size,
            title: self.tags.title.clone(),
            artist: self.tags.artist.clone(),
            album: self.tags.album.clone(),
        }
    }
}

/// A duration as whole milliseconds, saturating at `u32::MAX` (49 days).
pub fn duration_ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// Why a folder could not be scanned at all. Problems with single files are logged and the
/// file is skipped instead.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The folder does not exist or is not a folder.
    #[error("music folder {path} does not exist or is not a folder")]
    NotAFolder {
        /// The folder given.
        path: PathBuf,
    },
}

/// Why one file was left out of the library.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The file could not be read.
    #[error("cannot read it: {0}")]
    Io(#[from] io::Error),
    /// The file is larger than [`MAX_SONG_BYTES`].
    #[error("it is {size} bytes, more than the limit of {MAX_SONG_BYTES}")]
    TooLarge {
        /// The file's size.
        size: u64,
    },
    /// No run of MPEG audio frames was found.
    #[error("it holds no decodable MPEG audio")]
    NotMpegAudio,
}

/// All songs of a server, in id order.
#[derive(Debug, Default)]
pub struct Library {
    songs: Vec<Song>,
    entries: Vec<SongEntry>,
}

impl Library {
    /// Scans `dir` and its subfolders for `*.mp3` files (any case). Each file that is not
    /// MPEG audio is reported once, as a warning, and left out.
    pub fn scan(dir: &Path) -> Result<Library, ScanError> {
        if !dir.is_dir() {
            return Err(ScanError::NotAFolder { path: dir.to_path_buf() });
        }
        let mut paths: Vec<PathBuf> = walkdir::WalkDir::new(dir)
            .follow_links(true)
            .into_iter()
            .filter_map(|entry| match entry {
                Ok(entry) => Some(entry),
                Err(e) => {
                    warn!("skipping part of {}: {e}", dir.display());
                    None
                }
            })
            .filter(|entry| entry.file_type().is_file() && is_mp3_name(entry.path()))
            .map(walkdir::DirEntry::into_path)
            .collect();
        paths.sort();
        let mut songs = Vec::with_capacity(paths.len());
        for path in paths {
            match probe(&path) {
                Ok((duration, size)) => {
                    let id = SongId(songs.len() as u32 + 1);
                    let tags = Tags::read(&path);
                    songs.push(Song { id, path, tags, duration, size });
                }
                Err(e) => warn!("not listing {}: {e}", path.display()),
            }
        }
        info!("found {} songs in {}", songs.len(), dir.display());
        Ok(Library::from_songs(songs))
    }

    /// A library of already-probed songs; ids must be 1..=N in order.
    pub fn from_songs(songs: Vec<Song>) -> Library {
        let entries = songs.iter().map(Song::entry).collect();
        Library { songs, entries }
    }

    /// The song with this id.
    pub fn get(&self, id: SongId) -> Option<&Song> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.songs.get(index)
    }

    /// Every song as LIST describes it, in id order.
    pub fn entries(&self) -> &[SongEntry] {
        &self.entries
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

fn is_mp3_name(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("mp3"))
}

/// Checks that a file is MPEG audio and finds its duration: from a Xing/Info or VBRI header
/// when the first frame has one, otherwise by walking every frame header.
pub fn probe(path: &Path) -> Result<(Duration, u64), ProbeError> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    if size > MAX_SONG_BYTES {
        return Err(ProbeError::TooLarge { size });
    }
    let mut head = Vec::new();
    (&mut file).take(PROBE_BYTES).read_to_end(&mut head)?;
    let mut frames = mp3::frames(&head);
    if let (Some(first), Some(_second)) = (frames.next(), frames.next())
        && let Some(count) = mp3::declared_frame_count(&first, &head)
    {
        let samples = u64::from(count) * u64::from(first.header.samples);
        return Ok((mp3::samples_to_duration(samples, first.header.sample_rate), size));
    }
    let mut data = head;
    file.read_to_end(&mut data)?;
    let mut clock = mp3::StreamClock::default();
    mp3::frames(&data).for_each(|f| clock.advance(&f.header));
    let duration = clock.now();
    if duration.is_zero() {
        return Err(ProbeError::NotMpegAudio);
    }
    Ok((duration, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_start_at_one_and_zero_is_no_song() {
        let song = |n| Song {
            id: SongId(n),
            path: PathBuf::from(format!("{n}.mp3")),
            tags: Tags::default(),
            duration: Duration::from_secs(1),
            size: 1,
        };
        let library = Library::from_songs(vec![song(1), song(2)]);
        assert!(library.get(SongId(0)).is_none());
        assert_eq!(library.get(SongId(2)).map(|s| s.id), Some(SongId(2)));
        assert!(library.get(SongId(3)).is_none());
        assert!(library.get(SongId(u32::MAX)).is_none());
    }

    #[test]
    fn mp3_extension_is_case_insensitive() {
        assert!(is_mp3_name(Path::new("a/B.MP3")));
        assert!(is_mp3_name(Path::new("b.Mp3")));
        assert!(!is_mp3_name(Path::new("c.mp4")));
        assert!(!is_mp3_name(Path::new("mp3")));
    }
}
