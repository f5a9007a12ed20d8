//! Opening a listed file, at scan time and again at PLAY time, as if the folder were hostile.
//!
//! Between the scan and a PLAY, anyone who can write to the music folder can replace a listed
//! file: by a symbolic link to a file elsewhere (which the server would then stream), or by a
//! FIFO (whose `open()` blocks until a writer appears, forever). So a song's file is opened
//! with `O_NONBLOCK` (a FIFO opens at once instead of blocking; for a regular file the flag
//! changes nothing), then checked on the descriptor itself, where no later rename can fool
//! the check: it must be a regular file, and its real path (from `/proc/self/fd`) must be
//! inside the music folder or be the very file the scan found (a link the operator allowed
//! with `--follow-outside-links`).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::library::scan::{Root, show, words};

/// Why a listed file cannot be opened now.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Opening or reading its metadata failed (it vanished, permissions changed).
    #[error("cannot open {}: {}", show(.path), words(.source))]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// It is a FIFO, a socket, a device or a folder now.
    #[error("{} is not a regular file any more", show(.path))]
    NotRegular {
        /// The file.
        path: PathBuf,
    },
    /// It now leads out of the music folder, to a file the scan did not find.
    #[error("{} now leads outside the music folder, to {}", show(.path), show(.real))]
    Outside {
        /// The file as listed.
        path: PathBuf,
        /// Where it leads now.
        real: PathBuf,
    },
}

/// Opens `path` for reading by the rules above. `expected_real` is where the scan found it
/// really is; a file that now resolves elsewhere outside `root` is refused.
pub fn open_listed(root: &Root, path: &Path, expected_real: &Path) -> Result<(File, u64), OpenError> {
    let io_error = |source| OpenError::Io { path: path.to_path_buf(), source };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    if !meta.is_file() {
        return Err(OpenError::NotRegular { path: path.to_path_buf() });
    }
    let real = real_path(&file).or_else(|_| std::fs::canonicalize(path)).map_err(io_error)?;
    if !root.contains(&real) && real != expected_real {
        return Err(OpenError::Outside { path: path.to_path_buf(), real });
    }
    Ok((file, meta.len()))
}

/// Where an open file really is, read from the descriptor (Linux's `/proc/self/fd`), so that
/// no rename between the open and the check can fool it.
fn real_path(file: &File) -> io::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::time::{Duration, Instant};

    #[test]
    fn a_file_replaced_by_a_link_outside_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let song = dir.path().join("a.mp3");
        std::fs::write(&song, b"audio").unwrap();
        let real = root.real.join("a.mp3");
        assert!(open_listed(&root, &song, &real).is_ok());
        std::fs::remove_file(&song).unwrap();
        symlink(outside.path().join("secret"), &song).unwrap();
        assert!(matches!(open_listed(&root, &song, &real), Err(OpenError::Outside { .. })));
    }

    #[test]
    fn a_file_replaced_by_a_fifo_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let song = dir.path().join("a.mp3");
        assert!(std::process::Command::new("mkfifo").arg(&song).status().unwrap().success());
        let started = Instant::now();
        assert!(matches!(open_listed(&root, &song, &song), Err(OpenError::NotRegular { .. })));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
