//! The library as it changes: the current [`Library`] snapshot, the scans that replace it,
//! and the connections that are told when one finishes.
//!
//! At start-up the catalog serves what the index remembers (or nothing, the first time), so
//! the server listens at once whatever the folder holds; the first scan runs on the scanner
//! thread and replaces the snapshot when it is done. Later scans run when a client sends
//! RESCAN. Scans are numbered from 1; a RESCAN that arrives while a scan is waiting to start
//! joins it, and one that arrives while a scan runs asks for the next, so a client's scan
//! always sees the folder as it was when the client asked (RFC §6.1.5).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use jukebox_protocol::{LibraryChanged, SongId};
use tracing::{debug, info, warn};

use crate::library::details::Details;
use crate::library::index::{Index, IndexError, Remembered, Stamp, default_location};
use crate::library::open::open_listed;
use crate::library::probe::{Probe, ProbeError, probe};
use crate::library::scan::{Found, LinkPolicy, Root, find_mp3_files, show, words};
use crate::library::song::MAX_SONG_BYTES;
use crate::library::tags::Tags;
use crate::library::{Library, ScanError, Song};

/// The newest scan results, which every connection's writer reads when it is woken: a writer
/// that falls behind (its client does not read) misses no scan it must announce, and holds
/// nothing per scan; several scans are then announced as their newest (RFC §6.3.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanResults {
    /// The newest scan that finished.
    pub latest: Option<LibraryChanged>,
    /// The newest scan that finished and changed something.
    pub latest_change: Option<LibraryChanged>,
}

/// Scans start at most this often: a client that loops RESCAN cannot keep the disk busy.
pub const MIN_SCAN_INTERVAL: Duration = Duration::from_secs(2);

/// Where the index is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IndexLocation {
    /// Under the XDG cache folder, named after the music folder.
    #[default]
    Default,
    /// At this path (`--db PATH`).
    At(PathBuf),
    /// Nowhere: ids are stable only while the server runs.
    Nowhere,
}

/// How the catalog finds and remembers songs.
#[derive(Debug, Clone, Default)]
pub struct CatalogOptions {
    /// Whether links out of the music folder are followed.
    pub links: LinkPolicy,
    /// Where the index lives.
    pub index: IndexLocation,
}

#[derive(Debug, Default)]
struct Scans {
    /// The highest scan number asked for.
    requested: u32,
    /// The number of the scan running or last run.
    started: u32,
    /// The scanner thread should end.
    stop: bool,
}

/// The current library of one music folder, and its scans.
#[derive(Debug)]
pub struct Catalog {
    root: Root,
    links: LinkPolicy,
    index_file: Option<PathBuf>,
    current: RwLock<Arc<Library>>,
    /// Ids to give next and files left out; only a scan changes it.
    index: Mutex<Index>,
    /// Whether the index on disk is behind `index`.
    unsaved: Mutex<bool>,
    scans: Mutex<Scans>,
    wake: Condvar,
    /// One scan at a time, whoever runs it.
    scanning: Mutex<()>,
    results: Mutex<ScanResults>,
    /// One wake-up per connection, pending at most once: a scan finished since it last read
    /// the results. Keyed so that a connection that ends takes its entry with it.
    subscribers: Mutex<HashMap<u64, Sender<()>>>,
    next_subscriber: std::sync::atomic::AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Catalog {
    /// Opens the catalog of `dir`: resolves it and loads the index, which is fast; the folder
    /// itself is scanned later ([`Catalog::scan_now`], [`Catalog::start_scanner`]).
    pub fn open(dir: &Path, options: CatalogOptions) -> Result<Arc<Catalog>, ScanError> {
        let root = Root::new(dir).map_err(|_| ScanError::NotAFolder { path: dir.to_path_buf() })?;
        let index_file = match options.index {
            IndexLocation::Default => {
                let location = default_location(&root.real);
                if location.is_none() {
                    warn!(
                        "neither XDG_CACHE_HOME nor HOME is set: song ids will not be remembered between runs (see --db)"
                    );
                }
                location
            }
            IndexLocation::At(path) => Some(path),
            IndexLocation::Nowhere => None,
        };
        let index = match &index_file {
            None => Index::default(),
            Some(file) => match Index::load(file, &root.real) {
                Ok(index) => {
                    info!("remembered {} songs from {}", index.songs.len(), show(file));
                    index
                }
                Err(IndexError::Missing) => Index::default(),
                Err(e) => {
                    warn!("not using the index {}: {e}; song ids are given anew", show(file));
                    Index::default()
                }
            },
        };
        let songs = index.songs.iter().map(|r| remembered_song(&root, r)).collect();
        let unsaved = index_file.as_ref().is_some_and(|f| !f.exists());
        Ok(Arc::new(Catalog {
            current: RwLock::new(Arc::new(Library::from_songs(songs))),
            index: Mutex::new(Index { next_id: index.next_id.max(1), ..index }),
            unsaved: Mutex::new(unsaved),
            root,
            links: options.links,
            index_file,
            scans: Mutex::new(Scans::default()),
            wake: Condvar::new(),
            scanning: Mutex::new(()),
            results: Mutex::new(ScanResults::default()),
            subscribers: Mutex::new(HashMap::new()),
            next_subscriber: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    /// Opens the catalog of `dir` without an index and scans it at once, on this thread: what
    /// tests and embedders want, a library that is complete when the server starts.
    pub fn scanned(dir: &Path) -> Result<Arc<Catalog>, ScanError> {
        let catalog = Catalog::open(
            dir,
            CatalogOptions { index: IndexLocation::Nowhere, ..CatalogOptions::default() },
        )?;
        catalog.scan_now();
        Ok(catalog)
    }

    /// A catalog with no music folder, for a relay that has none: its library is empty, and
    /// its scans find nothing.
    pub fn without_folder() -> Arc<Catalog> {
        Arc::new(Catalog {
            current: RwLock::new(Arc::new(Library::from_songs(Vec::new()))),
            index: Mutex::new(Index { next_id: 1, ..Index::default() }),
            unsaved: Mutex::new(false),
            root: Root { given: PathBuf::from("(no music folder)"), real: PathBuf::new() },
            links: LinkPolicy::InsideOnly,
            index_file: None,
            scans: Mutex::new(Scans::default()),
            wake: Condvar::new(),
            scanning: Mutex::new(()),
            results: Mutex::new(ScanResults::default()),
            subscribers: Mutex::new(HashMap::new()),
            next_subscriber: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The library as of the last finished scan (or the index, before the first).
    pub fn current(&self) -> Arc<Library> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The music folder.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// Where the index is kept, if anywhere.
    pub fn index_file(&self) -> Option<&Path> {
        self.index_file.as_deref()
    }

    /// Wake-ups for one connection: a message means that a scan has finished since the last
    /// one was received, and [`Catalog::results`] has it. Dropping the subscription
    /// unsubscribes (a connection that merely dropped its receiver would leave its sender here
    /// until the next scan: one per connection ever served, when nobody rescans).
    pub fn subscribe(self: &Arc<Self>) -> Subscription {
        let (tx, wakes) = crossbeam_channel::bounded(1);
        let id = self.next_subscriber.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.subscribers).insert(id, tx);
        Subscription { id, wakes, catalog: Arc::clone(self) }
    }

    /// The newest scan results.
    pub fn results(&self) -> ScanResults {
        *lock(&self.results)
    }

    /// Asks the scanner thread for a scan that sees the folder as it is now; returns its
    /// number.
    pub fn request_scan(&self) -> u32 {
        let mut scans = lock(&self.scans);
        if scans.requested <= scans.started {
            scans.requested = scans.started.saturating_add(1);
            self.wake.notify_all();
        }
        scans.requested
    }

    /// Starts the scanner thread, which runs the first scan at once (unless one has already
    /// run, as [`Catalog::scanned`] does) and every requested one after it, until
    /// [`Catalog::stop_scanner`].
    pub fn start_scanner(self: &Arc<Self>) -> std::io::Result<thread::JoinHandle<()>> {
        if lock(&self.scans).started == 0 {
            self.request_scan();
        }
        let catalog = Arc::clone(self);
        thread::Builder::new().name("scanner".into()).spawn(move || {
            let mut last_start: Option<Instant> = None;
            loop {
                let number = {
                    let mut scans = lock(&catalog.scans);
                    loop {
                        if scans.stop {
                            return;
                        }
                        // A client that sends RESCAN after RESCAN gets a scan at most every
                        // MIN_SCAN_INTERVAL; the RESCANs meanwhile join the waiting scan.
                        let rest = last_start.map_or(Duration::ZERO, |t| {
                            (t + MIN_SCAN_INTERVAL).saturating_duration_since(Instant::now())
                        });
                        if scans.requested > scans.started && rest.is_zero() {
                            break;
                        }
                        scans = if rest.is_zero() {
                            catalog.wake.wait(scans).unwrap_or_else(PoisonError::into_inner)
                        } else {
                            catalog.wake.wait_timeout(scans, rest).unwrap_or_else(PoisonError::into_inner).0
                        };
                    }
                    scans.started = scans.requested;
                    scans.started
                };
                last_start = Some(Instant::now());
                catalog.scan(number);
            }
        })
    }

    /// Ends the scanner thread after the scan it is running, if any.
    pub fn stop_scanner(&self) {
        lock(&self.scans).stop = true;
        self.wake.notify_all();
    }

    /// Scans on the calling thread, now; returns what changed.
    pub fn scan_now(&self) -> LibraryChanged {
        let number = {
            let mut scans = lock(&self.scans);
            scans.started = scans.started.max(scans.requested).saturating_add(1);
            scans.requested = scans.started;
            scans.started
        };
        self.scan(number)
    }

    /// Runs scan `number`: compares the folder with the current library, probes only what is
    /// new or changed, publishes the new library, saves the index, and tells subscribers.
    fn scan(&self, number: u32) -> LibraryChanged {
        let _one_at_a_time = lock(&self.scanning);
        let began = Instant::now();
        // A catalog without a folder finds nothing (and walks nothing).
        let found = if self.root.real.as_os_str().is_empty() {
            Vec::new()
        } else {
            find_mp3_files(&self.root, self.links, number == 1)
        };
        let previous = self.current();
        let mut index = lock(&self.index);
        let outcome = rescan(&self.root, &previous, &mut index, found, probe_file);
        let result = LibraryChanged {
            scan: number,
            songs: u32::try_from(outcome.songs.len()).unwrap_or(u32::MAX),
            added: outcome.added,
            removed: outcome.removed,
            updated: outcome.updated,
        };
        let changed = result.changed_anything() || outcome.skips_changed || outcome.refreshed;
        if changed {
            index.songs = outcome.songs.iter().map(remember).collect();
        }
        let library = Library::from_songs(outcome.songs);
        let empty = library.is_empty();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(library);
        let mut unsaved = lock(&self.unsaved);
        *unsaved |= changed;
        if *unsaved && let Some(file) = &self.index_file {
            match index.save(file, &self.root.real) {
                Ok(()) => *unsaved = false,
                Err(e) => warn!(
                    "cannot save the index {}: {}; song ids may change at restart",
                    show(file),
                    words(&e)
                ),
            }
        }
        drop(unsaved);
        drop(index);
        let took = began.elapsed().as_secs_f32();
        let summary = format!(
            "scan {number} of {}: {} songs ({} new, {} removed, {} changed) in {took:.2} s",
            show(&self.root.given),
            result.songs,
            result.added,
            result.removed,
            result.updated
        );
        // The first scan, and any that changed something, are worth a line; a client that
        // rescans an unchanged folder is not.
        if number == 1 || result.changed_anything() {
            info!("{summary}");
        } else {
            debug!("{summary}");
        }
        if empty {
            warn!(
                "no songs in {}: it holds no .mp3 files with MPEG audio (subfolders included)",
                show(&self.root.given)
            );
        }
        self.publish(result);
        result
    }

    fn publish(&self, result: LibraryChanged) {
        {
            let mut results = lock(&self.results);
            results.latest = Some(result);
            if result.changed_anything() {
                results.latest_change = Some(result);
            }
        }
        // A full channel already holds a wake-up that its writer has yet to act on.
        lock(&self.subscribers)
            .retain(|_, tx| !matches!(tx.try_send(()), Err(TrySendError::Disconnected(()))));
    }
}

/// One connection's wake-ups from the catalog; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    wakes: Receiver<()>,
    catalog: Arc<Catalog>,
}

impl Subscription {
    /// A message here means a scan has finished since the last one was received.
    pub fn wakes(&self) -> &Receiver<()> {
        &self.wakes
    }

    /// The newest scan results.
    pub fn results(&self) -> ScanResults {
        self.catalog.results()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        lock(&self.catalog.subscribers).remove(&self.id);
    }
}

/// What a rescan produced.
#[derive(Debug, Default)]
struct Outcome {
    songs: Vec<Song>,
    added: u32,
    removed: u32,
    updated: u32,
    skips_changed: bool,
    /// Songs whose details were read again without their file having changed (remembered
    /// by an older index): not news for clients, but for the index.
    refreshed: bool,
}

/// The sans-IO heart of a scan: given what the folder holds now (`found`) and the library
/// before, keeps unchanged songs as they are (same id, no read), probes new and changed files
/// with `probe_one`, gives new songs new ids from `index.next_id`, and counts the changes.
fn rescan(
    root: &Root,
    previous: &Library,
    index: &mut Index,
    found: Vec<Found>,
    probe_one: impl Fn(&Root, &Found) -> Result<(Probe, Tags, Details), ProbeError>,
) -> Outcome {
    let before: HashMap<&Path, &Song> = previous.songs().iter().map(|s| (s.rel.as_path(), s)).collect();
    let skipped: HashMap<PathBuf, Stamp> = std::mem::take(&mut index.skipped).into_iter().collect();
    let mut still_skipped = Vec::new();
    let mut outcome = Outcome::default();
    let mut seen = HashSet::new();
    for file in found {
        let rel = file.path.strip_prefix(&root.given).unwrap_or(&file.path).to_path_buf();
        let stamp = Stamp::new(file.size, file.mtime);
        let old = before.get(rel.as_path()).copied();
        if let Some(old) = old.filter(|old| old.stamp == stamp) {
            seen.insert(old.id);
            // A song an older index remembered has no details yet: read them now, keeping
            // the song as it was if that fails (it was playable when it was listed).
            let mut details = old.details.clone();
            if details.is_none()
                && let Ok((_, _, fresh)) = probe_one(root, &file)
            {
                details = Some(fresh);
                outcome.refreshed = true;
            }
            outcome.songs.push(Song { real: file.real, path: file.path, details, ..old.clone() });
            continue;
        }
        if skipped.get(&rel) == Some(&stamp) {
            still_skipped.push((rel, stamp));
            continue;
        }
        match probe_one(root, &file) {
            Ok((probe, tags, details)) => {
                let id = match old {
                    Some(old) => {
                        outcome.updated += 1;
                        old.id
                    }
                    None => {
                        let Some(next) = index.next_id.checked_add(1) else {
                            warn!("not listing {}: every song id has been used", show(&file.path));
                            continue;
                        };
                        outcome.added += 1;
                        SongId(std::mem::replace(&mut index.next_id, next))
                    }
                };
                seen.insert(id);
                outcome.songs.push(Song {
                    id,
                    path: file.path,
                    rel,
                    real: file.real,
                    stamp,
                    audio_start: probe.audio_start,
                    duration: probe.duration,
                    tags,
                    details: Some(details),
                });
            }
            Err(e) => {
                warn!("not listing {}: {e}", show(&file.path));
                outcome.skips_changed = true;
                still_skipped.push((rel, stamp));
            }
        }
    }
    outcome.removed =
        u32::try_from(previous.songs().iter().filter(|s| !seen.contains(&s.id)).count()).unwrap_or(u32::MAX);
    outcome.skips_changed |= still_skipped.len() != skipped.len();
    index.skipped = still_skipped;
    outcome
}

/// Reads a new or changed file: opens it safely, probes its audio, reads its tags.
fn probe_file(root: &Root, file: &Found) -> Result<(Probe, Tags, Details), ProbeError> {
    if file.size > MAX_SONG_BYTES {
        return Err(ProbeError::TooLarge { size: file.size });
    }
    let (mut handle, size) = open_listed(root, &file.path, &file.real)?;
    let found = probe(&mut handle, size)?;
    let (tags, facts) = Tags::read_with_facts(&mut handle, size, &file.path);
    let details = Details::new(&found.format, facts);
    Ok((found, tags, details))
}

fn remembered_song(root: &Root, r: &Remembered) -> Song {
    Song {
        id: SongId(r.id),
        path: root.given.join(&r.path),
        rel: r.path.clone(),
        real: root.real.join(&r.path),
        stamp: r.stamp,
        audio_start: r.audio_start,
        duration: r.duration,
        tags: r.tags.clone(),
        details: r.details.clone(),
    }
}

fn remember(song: &Song) -> Remembered {
    Remembered {
        id: song.id.0,
        path: song.rel.clone(),
        stamp: song.stamp,
        audio_start: song.audio_start,
        duration: song.duration,
        tags: song.tags.clone(),
        details: song.details.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn found(root: &Root, name: &str, size: u64) -> Found {
        Found {
            path: root.given.join(name),
            real: root.real.join(name),
            size,
            mtime: SystemTime::UNIX_EPOCH + Duration::from_secs(size),
        }
    }

    fn fake_probe(_: &Root, file: &Found) -> Result<(Probe, Tags, Details), ProbeError> {
        if file.size == 0 {
            return Err(ProbeError::NotMpegAudio);
        }
        let title = file.path.file_stem().unwrap().to_string_lossy().into_owned();
        Ok((
            Probe { audio_start: 0, duration: Duration::from_secs(file.size), format: Default::default() },
            Tags { title, ..Tags::default() },
            Details { year: 2000, ..Details::default() },
        ))
    }

    fn ids(outcome: &Outcome) -> Vec<(String, u32)> {
        let mut ids: Vec<_> = outcome.songs.iter().map(|s| (s.tags.title.clone(), s.id.0)).collect();
        ids.sort();
        ids
    }

    #[test]
    fn ids_are_kept_for_known_files_and_new_files_get_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let mut index = Index { next_id: 1, ..Index::default() };
        let first = rescan(
            &root,
            &Library::default(),
            &mut index,
            vec![found(&root, "a.mp3", 1), found(&root, "b.mp3", 2), found(&root, "c.mp3", 3)],
            fake_probe,
        );
        assert_eq!(ids(&first), [("a".into(), 1), ("b".into(), 2), ("c".into(), 3)]);
        assert_eq!(first.added, 3);
        // b is removed, c changes, an earlier name appears: a keeps 1, c keeps 3, 0 is new.
        let library = Library::from_songs(first.songs);
        let second = rescan(
            &root,
            &library,
            &mut index,
            vec![found(&root, "0.mp3", 4), found(&root, "a.mp3", 1), found(&root, "c.mp3", 30)],
            |root, file| {
                assert_ne!(file.path, root.given.join("a.mp3"), "an unchanged file is not read again");
                fake_probe(root, file)
            },
        );
        assert_eq!(ids(&second), [("0".into(), 4), ("a".into(), 1), ("c".into(), 3)]);
        assert_eq!((second.added, second.removed, second.updated), (1, 1, 1));
        // b comes back: a new id, never its old one.
        let library = Library::from_songs(second.songs);
        let third = rescan(
            &root,
            &library,
            &mut index,
            vec![
                found(&root, "0.mp3", 4),
                found(&root, "a.mp3", 1),
                found(&root, "b.mp3", 2),
                found(&root, "c.mp3", 30),
            ],
            fake_probe,
        );
        assert_eq!(third.songs.iter().find(|s| s.tags.title == "b").map(|s| s.id.0), Some(5));
    }

    #[test]
    fn songs_an_older_index_remembered_get_their_details_and_keep_their_ids() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let mut index = Index { next_id: 8, ..Index::default() };
        let a = found(&root, "a.mp3", 1);
        let old = Song {
            id: SongId(7),
            path: a.path.clone(),
            rel: PathBuf::from("a.mp3"),
            real: a.real.clone(),
            stamp: Stamp::new(a.size, a.mtime),
            audio_start: 0,
            duration: Duration::from_secs(1),
            tags: Tags { title: "a".into(), ..Tags::default() },
            details: None,
        };
        let outcome = rescan(&root, &Library::from_songs(vec![old]), &mut index, vec![a], fake_probe);
        assert_eq!((outcome.added, outcome.removed, outcome.updated), (0, 0, 0), "nothing to tell clients");
        assert!(outcome.refreshed, "but the index is saved again");
        assert_eq!(outcome.songs[0].id, SongId(7));
        assert_eq!(outcome.songs[0].details.as_ref().map(|d| d.year), Some(2000));
    }

    #[test]
    fn a_connection_that_ends_leaves_no_subscription_behind() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::scanned(dir.path()).unwrap();
        let subscriptions: Vec<_> = (0..100).map(|_| catalog.subscribe()).collect();
        assert_eq!(lock(&catalog.subscribers).len(), 100);
        drop(subscriptions);
        assert!(lock(&catalog.subscribers).is_empty());
        let kept = catalog.subscribe();
        catalog.scan_now();
        assert!(kept.wakes().try_recv().is_ok(), "a scan wakes a live subscription");
    }

    #[test]
    fn a_file_that_is_not_audio_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let mut index = Index { next_id: 1, ..Index::default() };
        let first =
            rescan(&root, &Library::default(), &mut index, vec![found(&root, "junk.mp3", 0)], fake_probe);
        assert!(first.songs.is_empty() && first.skips_changed);
        let second =
            rescan(&root, &Library::default(), &mut index, vec![found(&root, "junk.mp3", 0)], |_, _| {
                panic!("a file left out is not probed again until it changes")
            });
        assert!(!second.skips_changed);
    }
}
