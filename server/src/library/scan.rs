//! Finding the `.mp3` files of a music folder without ever leaving it by accident.
//!
//! A music folder is not trusted: it may hold a symbolic link to `/` (whose walk would take
//! minutes and read `/proc` and `/sys`), a link to a file elsewhere, a loop of links, a FIFO
//! or a device named `song.mp3`, or names with control characters. The walk here:
//!
//! - follows a symbolic link only when its target is inside the music folder, unless the
//!   operator asked for `--follow-outside-links` (as MPD's `follow_outside_symlinks`); a link it
//!   does not follow is logged once per scan, with why;
//! - visits every directory at most once (by device and inode), so no loop of links or bind
//!   mounts can make it run forever, and never descends deeper than [`MAX_DEPTH`];
//! - lists regular files only: a FIFO, socket or device is never opened;
//! - sanitizes every name before it is logged.

use std::collections::HashSet;
use std::fs::{self, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use jukebox_protocol::text::printable;
use tracing::{debug, info, warn};

/// Folders nested deeper than this are not entered: no music collection is that deep, and a
/// hostile tree could be.
pub const MAX_DEPTH: usize = 64;

/// Whether the walk may follow symbolic links that lead out of the music folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkPolicy {
    /// Links whose target is inside the music folder are followed; others are skipped and
    /// logged. The default: a server serves its folder and nothing else.
    #[default]
    InsideOnly,
    /// Every link is followed (still without loops), as `--follow-outside-links` asks.
    FollowOutside,
}

/// A regular file with an `.mp3` name found by the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The path under the music folder, as a listing shows it (links not resolved): the key
    /// that song ids are remembered by.
    pub path: PathBuf,
    /// Where the file really is, links resolved. Opening the song at PLAY time must land here
    /// or inside the music folder (see `open.rs`).
    pub real: PathBuf,
    /// Size in bytes when found.
    pub size: u64,
    /// Last modification when found; with the size and path, what invalidates a remembered
    /// probe.
    pub mtime: SystemTime,
}

/// The music folder itself, resolved once: every "inside the folder" test compares real
/// paths against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The folder as given (for messages).
    pub given: PathBuf,
    /// The folder with every link resolved.
    pub real: PathBuf,
}

impl Root {
    /// Resolves `dir`; fails if it does not exist or is not a folder.
    pub fn new(dir: &Path) -> std::io::Result<Root> {
        let real = fs::canonicalize(dir)?;
        if !fs::metadata(&real)?.is_dir() {
            return Err(std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"));
        }
        Ok(Root { given: dir.to_path_buf(), real })
    }

    /// Whether a real (link-free) path lies inside the folder.
    pub fn contains(&self, real: &Path) -> bool {
        real.starts_with(&self.real)
    }
}

/// Every `.mp3` file (any case) under `root`, sorted by path, found by the rules above. What
/// is skipped is a warning when `loud` (the first scan), and a debug line on later scans, so
/// that a client rescanning in a loop does not fill the log.
pub fn find_mp3_files(root: &Root, policy: LinkPolicy, loud: bool) -> Vec<Found> {
    let mut walk = Walk { root, policy, loud, visited: HashSet::new(), found: Vec::new() };
    if let Ok(meta) = fs::metadata(&root.real) {
        walk.visited.insert((meta.dev(), meta.ino()));
    }
    walk.directory(&root.given, &root.real, 0);
    let mut found = walk.found;
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

struct Walk<'a> {
    root: &'a Root,
    policy: LinkPolicy,
    loud: bool,
    /// Directories entered, by (device, inode): each at most once.
    visited: HashSet<(u64, u64)>,
    found: Vec<Found>,
}

impl Walk<'_> {
    /// Says what the walk skipped: loud on the first scan, quiet after.
    fn skip(&self, what: std::fmt::Arguments<'_>) {
        if self.loud {
            warn!("{what}");
        } else {
            debug!("{what}");
        }
    }

    /// Walks the directory shown as `shown`, whose real path is `real`.
    fn directory(&mut self, shown: &Path, real: &Path, depth: usize) {
        if depth > MAX_DEPTH {
            self.skip(format_args!(
                "not entering {}: folders nested deeper than {MAX_DEPTH} are skipped",
                show(shown)
            ));
            return;
        }
        let entries = match fs::read_dir(shown) {
            Ok(entries) => entries,
            Err(e) => {
                self.skip(format_args!("cannot read the folder {}: {}", show(shown), words(&e)));
                return;
            }
        };
        let mut children: Vec<_> = entries.filter_map(Result::ok).map(|e| e.file_name()).collect();
        children.sort();
        for name in children {
            let path = shown.join(&name);
            let real_child = real.join(&name);
            let Ok(meta) = fs::symlink_metadata(&path) else { continue };
            if meta.file_type().is_symlink() {
                self.link(&path, depth);
            } else if meta.is_dir() {
                self.enter(&path, &real_child, &meta, depth);
            } else if meta.is_file() && is_mp3_name(&path) {
                self.file(path, real_child, &meta);
            }
        }
    }

    fn enter(&mut self, shown: &Path, real: &Path, meta: &Metadata, depth: usize) {
        if self.visited.insert((meta.dev(), meta.ino())) {
            self.directory(shown, real, depth + 1);
        }
    }

    fn file(&mut self, path: PathBuf, real: PathBuf, meta: &Metadata) {
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        self.found.push(Found { path, real, size: meta.len(), mtime });
    }

    fn link(&mut self, path: &Path, depth: usize) {
        let target = match fs::canonicalize(path) {
            Ok(target) => target,
            Err(e) => {
                info!("skipping the link {}: {}", show(path), words(&e));
                return;
            }
        };
        if !self.root.contains(&target) && self.policy == LinkPolicy::InsideOnly {
            self.skip(format_args!(
                "not following the link {} to {}: it leads outside the music folder \
                 (start the server with --follow-outside-links to follow such links)",
                show(path),
                show(&target)
            ));
            return;
        }
        let Ok(meta) = fs::metadata(&target) else { return };
        if meta.is_dir() {
            self.enter(path, &target, &meta, depth);
        } else if meta.is_file() && is_mp3_name(path) {
            self.file(path.to_path_buf(), target, &meta);
        }
    }
}

/// Whether a file name ends in `.mp3`, in any case.
pub fn is_mp3_name(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("mp3"))
}

/// A path as it may appear in a log: control characters and bidi overrides removed.
pub fn show(path: &Path) -> String {
    printable(&path.to_string_lossy()).into_owned()
}

/// An I/O error in words, without the OS error number a person cannot use.
pub fn words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "it does not exist (any more)".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        kind => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn names(found: &[Found], root: &Path) -> Vec<String> {
        found.iter().map(|f| f.path.strip_prefix(root).unwrap().display().to_string()).collect()
    }

    #[test]
    fn a_link_to_the_filesystem_root_is_not_walked() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.mp3"), b"x").unwrap();
        symlink("/", dir.path().join("everything")).unwrap();
        let root = Root::new(dir.path()).unwrap();
        let started = std::time::Instant::now();
        let found = find_mp3_files(&root, LinkPolicy::InsideOnly, true);
        assert_eq!(names(&found, dir.path()), ["a.mp3"]);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn links_inside_are_followed_and_links_outside_only_when_asked() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.mp3"), b"x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        fs::write(dir.path().join("real/b.MP3"), b"x").unwrap();
        symlink(dir.path().join("real/b.MP3"), dir.path().join("alias.mp3")).unwrap();
        symlink(outside.path().join("secret.mp3"), dir.path().join("leak.mp3")).unwrap();
        symlink(outside.path(), dir.path().join("elsewhere")).unwrap();
        let root = Root::new(dir.path()).unwrap();
        let inside = find_mp3_files(&root, LinkPolicy::InsideOnly, true);
        assert_eq!(names(&inside, dir.path()), ["alias.mp3", "real/b.MP3"]);
        let everything = find_mp3_files(&root, LinkPolicy::FollowOutside, true);
        assert_eq!(
            names(&everything, dir.path()),
            ["alias.mp3", "elsewhere/secret.mp3", "leak.mp3", "real/b.MP3"]
        );
    }

    #[test]
    fn loops_of_links_end_and_special_files_are_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        symlink(dir.path(), dir.path().join("sub/back")).unwrap();
        symlink(dir.path().join("sub"), dir.path().join("sub/self")).unwrap();
        fs::write(dir.path().join("sub/c.mp3"), b"x").unwrap();
        let fifo = dir.path().join("pipe.mp3");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let root = Root::new(dir.path()).unwrap();
        for policy in [LinkPolicy::InsideOnly, LinkPolicy::FollowOutside] {
            assert_eq!(names(&find_mp3_files(&root, policy, true), dir.path()), ["sub/c.mp3"]);
        }
    }
}
