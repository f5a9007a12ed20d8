//! The library remembered between runs (MPD's database is the model): every listed song with
//! its id, and every file left out with why, keyed by path and invalidated by size and
//! modification time. It keeps song ids stable across restarts (`play 2` names the same song
//! tomorrow; a file added later gets a new id, and ids of removed songs are never reused) and
//! makes a restart cheap: an unchanged file costs one `stat`, not a read.
//!
//! The file is JSON, written whole to a temporary file and renamed over the old one, so a
//! crash never leaves half an index. One that cannot be read (missing, corrupt, from another
//! music folder or another format version) is set aside with a warning and rebuilt.

use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::library::details::Details;
use crate::library::scan::{show, words};
use crate::library::tags::Tags;

/// Format version of the index file; another version is rebuilt, not misread.
const FORMAT: u32 = 1;

/// An index file larger than this is not read (10,000 songs take 2.4 MB).
pub const MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;

/// A path kept exactly, even when it is not UTF-8 (file names on Linux are bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum StoredPath {
    Text(String),
    Bytes(Vec<u8>),
}

impl From<&Path> for StoredPath {
    fn from(path: &Path) -> StoredPath {
        match path.to_str() {
            Some(text) => StoredPath::Text(text.to_string()),
            None => StoredPath::Bytes(path.as_os_str().as_bytes().to_vec()),
        }
    }
}

impl From<StoredPath> for PathBuf {
    fn from(stored: StoredPath) -> PathBuf {
        match stored {
            StoredPath::Text(text) => PathBuf::from(text),
            StoredPath::Bytes(bytes) => PathBuf::from(std::ffi::OsString::from_vec(bytes)),
        }
    }
}

/// What invalidates a remembered file: any change of size or modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (0 before it).
    pub mtime_ns: u128,
}

impl Stamp {
    /// The stamp of a file of `size` bytes modified at `mtime`.
    pub fn new(size: u64, mtime: SystemTime) -> Stamp {
        let mtime_ns = mtime.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Stamp { size, mtime_ns }
    }
}

/// A listed song as remembered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredSong {
    id: u32,
    path: StoredPath,
    stamp: Stamp,
    audio_start: u64,
    duration_ns: u64,
    tags: Tags,
    /// Absent from the indexes of servers before INFO: the next scan reads them again.
    #[serde(default)]
    details: Option<Details>,
}

/// A file left out, remembered so that it is neither probed nor reported again until it
/// changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredSkip {
    path: StoredPath,
    stamp: Stamp,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredIndex {
    format: u32,
    /// The music folder it describes (its real path).
    root: StoredPath,
    /// The next id to give: ids are never reused, even for songs that were removed.
    next_id: u32,
    songs: Vec<StoredSong>,
    skipped: Vec<StoredSkip>,
}

/// One song as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// Its id.
    pub id: u32,
    /// Its path under the music folder.
    pub path: PathBuf,
    /// Size and time when probed.
    pub stamp: Stamp,
    /// Where its audio starts.
    pub audio_start: u64,
    /// Its duration.
    pub duration: Duration,
    /// Its tags.
    pub tags: Tags,
    /// What INFO tells besides, if known.
    pub details: Option<Details>,
}

/// The whole index in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    /// The next id to give.
    pub next_id: u32,
    /// Listed songs.
    pub songs: Vec<Remembered>,
    /// Files left out, with their stamps.
    pub skipped: Vec<(PathBuf, Stamp)>,
}

/// Why an index file was not used.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// No file yet: the first run over this folder.
    #[error("there is no index yet")]
    Missing,
    /// Reading failed.
    #[error("cannot read it: {}", words(.0))]
    Io(#[from] io::Error),
    /// Too big to be an index.
    #[error("it is larger than {MAX_INDEX_BYTES} bytes")]
    TooLarge,
    /// Not an index of this format.
    #[error("it is not a jukebox index of format {FORMAT} ({0})")]
    Corrupt(String),
    /// An index of another folder.
    #[error("it describes another music folder ({})", show(.0))]
    OtherFolder(PathBuf),
}

impl Index {
    /// Reads the index at `file` for the music folder whose real path is `root`.
    pub fn load(file: &Path, root: &Path) -> Result<Index, IndexError> {
        let handle = match fs::File::open(file) {
            Ok(handle) => handle,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(IndexError::Missing),
            Err(e) => return Err(e.into()),
        };
        let mut text = Vec::new();
        handle.take(MAX_INDEX_BYTES + 1).read_to_end(&mut text)?;
        if text.len() as u64 > MAX_INDEX_BYTES {
            return Err(IndexError::TooLarge);
        }
        let stored: StoredIndex =
            serde_json::from_slice(&text).map_err(|e| IndexError::Corrupt(e.to_string()))?;
        if stored.format != FORMAT {
            return Err(IndexError::Corrupt(format!("format {}", stored.format)));
        }
        let stored_root = PathBuf::from(stored.root);
        if stored_root != root {
            return Err(IndexError::OtherFolder(stored_root));
        }
        // The index is a file like any other: whoever could write it must not make the server
        // open a path outside the music folder, or show text the scan would have cleaned.
        let mut songs: Vec<Remembered> = stored
            .songs
            .into_iter()
            .filter(|s| s.id != 0)
            .map(|s| Remembered {
                id: s.id,
                path: s.path.into(),
                stamp: s.stamp,
                audio_start: s.audio_start,
                duration: Duration::from_nanos(s.duration_ns),
                tags: s.tags.cleaned(),
                details: s.details.map(Details::cleaned),
            })
            .filter(|s| is_song_path(&s.path))
            .collect();
        songs.sort_by_key(|s| s.id);
        songs.dedup_by_key(|s| s.id);
        let highest = songs.last().map_or(0, |s| s.id);
        Ok(Index {
            next_id: stored.next_id.max(highest.saturating_add(1)).max(1),
            songs,
            skipped: stored
                .skipped
                .into_iter()
                .map(|s| (PathBuf::from(s.path), s.stamp))
                .filter(|(path, _)| is_song_path(path))
                .collect(),
        })
    }

    /// Writes the index to `file` (creating its folder), atomically.
    pub fn save(&self, file: &Path, root: &Path) -> io::Result<()> {
        let stored = StoredIndex {
            format: FORMAT,
            root: root.into(),
            next_id: self.next_id,
            songs: self
                .songs
                .iter()
                .map(|s| StoredSong {
                    id: s.id,
                    path: s.path.as_path().into(),
                    stamp: s.stamp,
                    audio_start: s.audio_start,
                    duration_ns: u64::try_from(s.duration.as_nanos()).unwrap_or(u64::MAX),
                    tags: s.tags.clone(),
                    details: s.details.clone(),
                })
                .collect(),
            skipped: self
                .skipped
                .iter()
                .map(|(path, stamp)| StoredSkip { path: path.as_path().into(), stamp: *stamp })
                .collect(),
        };
        let json = serde_json::to_vec(&stored).map_err(io::Error::other)?;
        if let Some(folder) = file.parent() {
            fs::create_dir_all(folder)?;
        }
        let mut temporary = file.as_os_str().to_owned();
        temporary.push(format!(".{}.tmp", std::process::id()));
        let temporary = PathBuf::from(temporary);
        fs::write(&temporary, json)?;
        fs::rename(&temporary, file).inspect_err(|_| {
            let _ = fs::remove_file(&temporary);
        })
    }
}

/// Whether `path` can be one the scan found: relative to the music folder, made of plain names
/// only (no `..`, no root), and an `.mp3` file.
fn is_song_path(path: &Path) -> bool {
    path.components().all(|c| matches!(c, std::path::Component::Normal(_)))
        && crate::library::scan::is_mp3_name(path)
}

/// Where the index of the music folder `root` lives unless `--db` says otherwise: under the
/// XDG cache folder (`$XDG_CACHE_HOME`, else `~/.cache`), one file per music folder, named by
/// a hash of its real path. `None` when neither variable is set.
pub fn default_location(root: &Path) -> Option<PathBuf> {
    let cache =
        std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()).map(PathBuf::from).or_else(|| {
            std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache"))
        })?;
    let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "root".into());
    let name: String =
        name.chars().filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.')).take(40).collect();
    Some(cache.join("jukebox").join(format!("{name}-{:016x}.json", fnv1a(root.as_os_str().as_bytes()))))
}

/// FNV-1a, 64 bits: a hash that stays the same across Rust versions and machines (std's
/// `DefaultHasher` does not promise that), for naming files.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song(id: u32, path: &str) -> Remembered {
        Remembered {
            id,
            path: PathBuf::from(path),
            stamp: Stamp { size: 10, mtime_ns: 5 },
            audio_start: 0,
            duration: Duration::from_millis(25_500),
            tags: Tags { title: "T".into(), artist: "A".into(), album: String::new() },
            details: Some(Details { genre: "Jazz".into(), gapless: Some([576, 1080]), ..Details::default() }),
        }
    }

    #[test]
    fn an_index_survives_a_round_trip_with_a_non_utf8_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/index.json");
        let odd = PathBuf::from(std::ffi::OsString::from_vec(b"music/\xff\xfe.mp3".to_vec()));
        let index = Index {
            next_id: 9,
            songs: vec![song(2, "music/a.mp3"), Remembered { path: odd, ..song(5, "") }],
            skipped: vec![(PathBuf::from("music/junk.mp3"), Stamp { size: 1, mtime_ns: 2 })],
        };
        index.save(&file, Path::new("/srv/music")).unwrap();
        assert_eq!(Index::load(&file, Path::new("/srv/music")).unwrap(), index);
        assert!(matches!(Index::load(&file, Path::new("/elsewhere")), Err(IndexError::OtherFolder(_))));
    }

    #[test]
    fn a_corrupt_or_missing_index_is_refused_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("index.json");
        assert!(matches!(Index::load(&file, dir.path()), Err(IndexError::Missing)));
        fs::write(&file, b"{\"format\": 1, \"songs\": [").unwrap();
        assert!(matches!(Index::load(&file, dir.path()), Err(IndexError::Corrupt(_))));
    }

    #[test]
    fn an_index_cannot_name_a_file_outside_the_folder_or_smuggle_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("index.json");
        let mut bad = song(2, "/etc/passwd.mp3");
        bad.tags.title = "x".into();
        let mut escape = song(3, "ok.mp3");
        escape.tags.title = "evil\u{1b}]0;pwned\u{7}".into();
        let index = Index {
            next_id: 9,
            songs: vec![bad, song(4, "../up.mp3"), song(5, "notes.txt"), escape],
            skipped: Vec::new(),
        };
        index.save(&file, dir.path()).unwrap();
        let loaded = Index::load(&file, dir.path()).unwrap();
        let kept: Vec<_> = loaded.songs.iter().map(|s| (s.id, s.tags.title.clone())).collect();
        assert_eq!(kept, [(3, "evil]0;pwned".to_string())]);
    }

    #[test]
    fn the_next_id_is_never_below_a_remembered_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("index.json");
        let index = Index { next_id: 1, songs: vec![song(7, "a.mp3")], skipped: Vec::new() };
        index.save(&file, dir.path()).unwrap();
        assert_eq!(Index::load(&file, dir.path()).unwrap().next_id, 8);
    }

    #[test]
    fn the_default_location_is_stable_and_per_folder() {
        let a = default_location(Path::new("/srv/music"));
        assert_eq!(a, default_location(Path::new("/srv/music")));
        assert_ne!(a, default_location(Path::new("/srv/other/music")));
    }
}
