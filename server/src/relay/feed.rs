//! The relay's threads.
//!
//! ```text
//!  relay-feed: connects to the first upstream that answers (following REDIRECTs down a tree,
//!  climbing its path when its parent fails, then the --relay list in order, with backoff
//!  between rounds), reads it ──▶ Feed (bounded) ──▶ relay-clock: Splicer; paces and airs the
//!        ▲                                           chunks (Station::air); silence while
//!        │ a better upstream, attached               nothing comes
//!  relay-probe: while the feed uses a later --relay than the first, tries the earlier ones
//! ```

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use jukebox_protocol::text::printable;
use jukebox_protocol::{Hop, NodeId};
use tracing::{debug, info, warn};

use super::icy::IcySource;
use super::jukebox::{self, Answer, JukeboxSource};
use super::splice::Splicer;
use super::{Piece, Upstream};
use crate::backoff::Backoff;
use crate::radio::{BURST, Chunk, Station};

/// How long the relay's live edge may wait for audio before it goes on with silence. Its
/// listeners hold at least this much more (they are [`BURST`] behind the live edge), so none
/// runs dry; audio of the outage beyond this is lost when an upstream returns.
pub const GRACE: Duration = Duration::from_secs(1);

/// [`GRACE`] for an ICY station: one may send in batches (a jukebox's `/radio` writes every
/// 1.8 s), and its audio then stops that long between batches.
pub const ICY_GRACE: Duration = Duration::from_millis(2200);

/// While silent, the live edge stays this far behind the clock: as far as the listeners'
/// cushions allow (they play [`BURST`] behind the clock, and their writers top them up below
/// `radio::MIN_CUSHION`), so that an upstream that returns continues the stream with as little
/// of its audio replaced by silence as can be: an outage of t seconds costs about t - 1.1 s.
const SILENT_LAG: Duration = Duration::from_millis(1300);

/// Audio further ahead of the relay's clock than this is dropped instead of waited for: an
/// ICY station's burst after a reconnect would otherwise add to every listener's delay for
/// good.
const MAX_EARLY: Duration = Duration::from_millis(2500);

/// Pieces the prober reads of an upstream before its first audio, at most.
const MAX_PREFETCH: usize = 8;

/// REDIRECTs followed in one attempt: a tree deeper than this is a loop.
const MAX_REDIRECTS: usize = 8;

/// Ancestors of a lost parent tried before the --relay list, nearest first: enough to climb
/// past a dead branch, few enough that a path full of dead (or invented) addresses costs
/// seconds, not minutes.
const MAX_ANCESTORS: usize = 3;

/// How often the prober tries the upstreams before the one in use.
const PROBE_EVERY: Duration = Duration::from_secs(5);

/// The first wait after a round in which no upstream answered; it doubles up to
/// [`MAX_BACKOFF`], with ±25 % jitter so that the relays of a failed parent do not come back
/// all at once.
const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// Upstream messages the clock may have waiting.
const FEED_QUEUE: usize = 64;

/// What the feed tells the clock.
#[derive(Debug)]
enum Feed {
    /// A new upstream connection: its name, and how long its audio may pause before the
    /// relay goes on with silence.
    Session(String, Duration),
    /// What it delivered.
    Piece(Piece),
}

/// This relay, as its upstreams see it.
#[derive(Debug, Clone)]
struct Me {
    node: NodeId,
    /// Where its own relays reach it.
    listen: SocketAddr,
    /// Whether it feeds relays at all.
    feeds: bool,
}

/// An upstream connection, read by the feed.
enum Source {
    Jukebox(JukeboxSource),
    Icy(Box<IcySource>),
}

impl Source {
    fn next(&mut self) -> Result<Piece, String> {
        match self {
            Source::Jukebox(source) => source.piece().map_err(|e| e.to_string()),
            Source::Icy(source) => source.next().map_err(|e| e.to_string()),
        }
    }
}

/// An upstream that answered.
struct Connected {
    source: Source,
    /// What the log calls it.
    name: String,
    /// The title of its stream while it names no song: an ICY station's name, else its host
    /// and mount (never its query, which may hold a token).
    title: String,
    /// What the prober read of it to be sure it delivers: it goes on the air first.
    read: Vec<Piece>,
    /// The node reached, and the path to the origin through it (it last).
    path: Vec<Hop>,
    format: (u16, u32),
    /// The place in the --relay list of the upstream this came from.
    rank: usize,
}

/// Starts relaying `upstreams` (in order of preference) into `station`, a relayed station
/// whose server listens at `listen`.
pub fn spawn(station: Station, upstreams: Vec<Upstream>, listen: SocketAddr) -> std::io::Result<()> {
    if upstreams.is_empty() {
        return Err(std::io::Error::other("nothing to relay: no upstream given"));
    }
    let me = Me { node: station.tree().node(), listen, feeds: station.tree().feeds_relays() };
    let (feed_tx, feed_rx) = crossbeam_channel::bounded(FEED_QUEUE);
    let (better_tx, better_rx) = crossbeam_channel::bounded(1);
    let rank = Arc::new(AtomicUsize::new(usize::MAX));
    let upstreams = Arc::new(upstreams);
    {
        let (station, me, upstreams, rank) =
            (station.clone(), me.clone(), Arc::clone(&upstreams), Arc::clone(&rank));
        thread::Builder::new()
            .name("relay-feed".into())
            .spawn(move || run_feed(&station, &me, &upstreams, &rank, &feed_tx, &better_rx))?;
    }
    {
        let station = station.clone();
        thread::Builder::new()
            .name("relay-probe".into())
            .spawn(move || run_probe(&station, &me, &upstreams, &rank, &better_tx))?;
    }
    thread::Builder::new().name("relay-clock".into()).spawn(move || run_clock(&station, &feed_rx))?;
    Ok(())
}

/// Connects, reads, fails over; until the station stops.
fn run_feed(
    station: &Station,
    me: &Me,
    upstreams: &[Upstream],
    rank: &AtomicUsize,
    out: &Sender<Feed>,
    better: &Receiver<Connected>,
) {
    let mut failures: u32 = 0;
    let mut backoff = Backoff::new(MIN_BACKOFF, MAX_BACKOFF);
    let mut rng = fastrand::Rng::new();
    // The path of the upstream lost last, to climb.
    let mut lost_path: Vec<Hop> = Vec::new();
    let mut lost_rank = 0;
    while !station.stopped() {
        let Some(mut connected) = connect_any(me, upstreams, &lost_path, lost_rank, failures) else {
            // The lost parent's path has been tried once: after that, the --relay list alone
            // (a path may be stale, or an upstream's fiction).
            lost_path.clear();
            failures = failures.saturating_add(1);
            if failures == 1 || failures.is_power_of_two() {
                warn!("relay: no upstream answers (tried {} times); trying again", failures);
            }
            thread::sleep(backoff.next_delay(&mut rng));
            continue;
        };
        failures = 0;
        backoff.reset();
        loop {
            use_upstream(station, &connected, rank);
            let grace = match connected.source {
                Source::Jukebox(_) => GRACE,
                Source::Icy(_) => ICY_GRACE,
            };
            if out.send(Feed::Session(connected.title.clone(), grace)).is_err() {
                return;
            }
            for piece in std::mem::take(&mut connected.read) {
                if out.send(Feed::Piece(piece)).is_err() {
                    return;
                }
            }
            let lost = loop {
                if let Ok(found) = better.try_recv() {
                    info!("relay: going back to {}, earlier in the --relay list", found.name);
                    break Err(found);
                }
                match connected.source.next() {
                    Ok(piece) => {
                        if out.send(Feed::Piece(piece)).is_err() {
                            return;
                        }
                    }
                    Err(why) => break Ok(why),
                }
                if station.stopped() {
                    return;
                }
            };
            match lost {
                Err(found) => connected = found,
                Ok(why) => {
                    warn!("relay: lost {}: {}", connected.name, printable(&why));
                    lost_path = connected.path.clone();
                    lost_rank = connected.rank;
                    rank.store(usize::MAX, Ordering::Relaxed);
                    // A better upstream the prober found before the loss is stale by now.
                    while better.try_recv().is_ok() {}
                    // The children of a lost parent all come back to its neighbours: not in
                    // the same instant (and two relays that back each other up do not attach
                    // to each other at once).
                    thread::sleep(MIN_BACKOFF.mul_f64(fastrand::f64()));
                    break;
                }
            }
        }
    }
}

/// Takes `connected` as the upstream: its path is this server's now.
fn use_upstream(station: &Station, connected: &Connected, rank: &AtomicUsize) {
    let route: Vec<String> = connected.path.iter().map(|h| printable(&h.address).into_owned()).collect();
    if route.len() > 1 {
        info!("relay: relaying {} (path from the origin: {})", connected.name, route.join(" → "));
    } else {
        info!("relay: relaying {}", connected.name);
    }
    station.tree().set_path(connected.path.clone());
    station.set_format(connected.format);
    rank.store(connected.rank, Ordering::Relaxed);
}

/// The first upstream that answers: up the path of the one lost (nearest first, the lost
/// parent itself last), then the --relay list in order.
fn connect_any(
    me: &Me,
    upstreams: &[Upstream],
    lost_path: &[Hop],
    lost_rank: usize,
    failures: u32,
) -> Option<Connected> {
    let mut tried: Vec<String> = Vec::new();
    let parent = lost_path.last();
    let ancestors = lost_path.iter().rev().skip(1).take(MAX_ANCESTORS).chain(parent);
    for hop in ancestors {
        if tried.contains(&hop.address) {
            continue;
        }
        tried.push(hop.address.clone());
        // An ancestor given with --relay ranks as given; any other keeps the lost one's rank
        // (the same tree).
        let rank = upstreams
            .iter()
            .position(|u| matches!(u, Upstream::Jukebox(a) if *a == hop.address))
            .unwrap_or(lost_rank);
        match connect_jukebox(me, &hop.address, rank) {
            Ok(connected) => return Some(connected),
            Err(why) => log_failure(failures, &format!("jukebox://{}", hop.address), &why),
        }
    }
    for (rank, upstream) in upstreams.iter().enumerate() {
        if let Upstream::Jukebox(address) = upstream
            && tried.contains(address)
        {
            continue;
        }
        match connect(me, upstream, rank) {
            Ok(connected) => return Some(connected),
            Err(why) => log_failure(failures, &upstream.to_string(), &why),
        }
    }
    None
}

fn log_failure(failures: u32, name: &str, why: &str) {
    // `name` may be an address an upstream sent (a hop of its path).
    let name = printable(name);
    if failures < 2 {
        warn!("relay: {name} cannot be relayed: {}", printable(why));
    } else {
        debug!("relay: {name} cannot be relayed: {}", printable(why));
    }
}

/// Connects to one upstream of the --relay list.
fn connect(me: &Me, upstream: &Upstream, rank: usize) -> Result<Connected, String> {
    match upstream {
        Upstream::Jukebox(address) => connect_jukebox(me, address, rank),
        Upstream::Icy(url) => {
            let source = IcySource::connect(url, jukebox::CONNECT_TIMEOUT).map_err(|e| e.to_string())?;
            let name = match source.name() {
                "" => format!("{upstream} ({})", source.format()),
                name => format!("{upstream} ({}, {})", printable(name), source.format()),
            };
            let title = match source.name() {
                "" => format!("{}{}", url.host_str().unwrap_or_default(), url.path()),
                name => printable(name).into_owned(),
            };
            Ok(Connected {
                source: Source::Icy(Box::new(source)),
                name,
                title,
                read: Vec::new(),
                path: Vec::new(),
                format: (0, 0),
                rank,
            })
        }
    }
}

/// Asks the jukebox at `address` to feed this relay, following REDIRECTs down its tree. A
/// child it was sent to that does not answer sends it back to the server that named it, which
/// names its next child.
fn connect_jukebox(me: &Me, address: &str, rank: usize) -> Result<Connected, String> {
    let mut address = address.to_string();
    // The servers that redirected this attempt, nearest last.
    let mut trail: Vec<String> = Vec::new();
    for _ in 0..=MAX_REDIRECTS {
        // A REDIRECT's address, or a hop of a lost parent's path, is an upstream's text: it
        // goes into the log and (as the upstream's name) into titles only if it is one.
        if printable(&address) != address.as_str() || super::jukebox_address(&address).is_err() {
            return Err(format!("{} is not a HOST:PORT to connect to", printable(&address)));
        }
        let from = Some(me.listen.ip()).filter(|ip: &IpAddr| !ip.is_unspecified());
        // Port 0 tells the parent this relay feeds none (--max-relays 0).
        let port = if me.feeds { me.listen.port() } else { 0 };
        let answer = match jukebox::attach(&address, from, me.node, port) {
            Ok(answer) => answer,
            Err(e) => match trail.pop() {
                Some(back) => {
                    debug!(
                        "relay: {address}, named in a redirect, cannot be relayed ({e}); asking {back} again"
                    );
                    address = back;
                    continue;
                }
                None => return Err(e.to_string()),
            },
        };
        match answer {
            Answer::Redirect(next) => {
                debug!("relay: {address} is full; it sends this relay on to {}", printable(&next));
                trail.push(std::mem::replace(&mut address, next));
            }
            Answer::Attached(attached) => {
                let mut path = attached.path;
                path.push(Hop { node: attached.node, address: address.clone() });
                if path.iter().any(|hop| hop.node == me.node) {
                    return Err("it is fed by this relay: relaying it would make a loop".into());
                }
                return Ok(Connected {
                    source: Source::Jukebox(attached.source),
                    name: format!("jukebox://{address}"),
                    title: String::new(),
                    read: Vec::new(),
                    path,
                    format: attached.format,
                    rank,
                });
            }
        }
    }
    Err(format!("more than {MAX_REDIRECTS} redirects: a loop"))
}

/// While the feed uses an upstream later in the --relay list than the first, tries the
/// earlier ones every [`PROBE_EVERY`]; hands the first that answers to the feed.
fn run_probe(
    station: &Station,
    me: &Me,
    upstreams: &[Upstream],
    rank: &AtomicUsize,
    better: &Sender<Connected>,
) {
    while !station.stopped() {
        thread::sleep(jitter(PROBE_EVERY));
        let current = rank.load(Ordering::Relaxed);
        if current == usize::MAX || current == 0 {
            continue;
        }
        for (candidate, upstream) in upstreams.iter().enumerate().take(current) {
            let Ok(mut found) = connect(me, upstream, candidate) else { continue };
            // Answering is not enough: it must deliver audio, or the relay would leave a good
            // upstream for one that sends nothing, and come back, every few seconds.
            if !delivers(&mut found) {
                debug!("relay: {upstream} answers again, but sends no audio");
                continue;
            }
            debug!("relay: {upstream} answers again");
            // Full when the feed has not taken the last one yet: this one is dropped.
            let _ = better.try_send(found);
            break;
        }
    }
}

/// Reads `connected` until its first audio (kept, to go on the air first); false if it fails
/// first. Bounded by the sources' own stall limits, and by [`MAX_PREFETCH`] pieces.
fn delivers(connected: &mut Connected) -> bool {
    for _ in 0..MAX_PREFETCH {
        match connected.source.next() {
            Ok(piece) => {
                let audio = matches!(piece, Piece::Audio { .. });
                connected.read.push(piece);
                if audio {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

/// `d` ± 25 %.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(0.75 + fastrand::f64() * 0.5)
}

/// The wall-clock instant of a relay time: the relay's clock.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    wall: Instant,
    ms: u64,
}

impl Anchor {
    fn instant(&self, ms: u64) -> Instant {
        if ms >= self.ms {
            self.wall + Duration::from_millis(ms - self.ms)
        } else {
            self.wall.checked_sub(Duration::from_millis(self.ms - ms)).unwrap_or(self.wall)
        }
    }

    fn ms_at(&self, at: Instant) -> u64 {
        match at.checked_duration_since(self.wall) {
            Some(after) => self.ms + after.as_millis() as u64,
            None => self.ms.saturating_sub(self.wall.duration_since(at).as_millis() as u64),
        }
    }
}

/// Puts what the feed delivers on the air at its time, and silence while nothing comes.
fn run_clock(station: &Station, feed: &Receiver<Feed>) {
    let mut splicer = Splicer::new();
    let mut anchor: Option<Anchor> = None;
    // Chunks cut and not yet due, oldest first: at most MAX_EARLY of audio ahead of the clock.
    let mut waiting: VecDeque<Chunk> = VecDeque::new();
    let mut silent = false;
    let mut grace = GRACE;
    // When the upstream last delivered audio the stream did not have: a burst being put on the
    // air is not an outage, even when its chunks are all overdue, and audio that is all
    // already sent is not audio.
    let mut last_heard = Instant::now();
    loop {
        let now = Instant::now();
        if let Some(clock) = anchor.as_mut() {
            skip_early(&mut waiting, clock, now);
        }
        while let Some(first) = waiting.front() {
            let end = chunk_end(first);
            // The first chunk: the clock starts a burst in the past, so the upstream's burst
            // goes on the air at once and the first listener is as far behind as every later
            // one. A jukebox upstream's burst begins exactly BURST before its live edge (at a
            // frame inside a chunk), so its first frame plus BURST is the upstream's clock now.
            let start = first.position_ms;
            let clock = *anchor.get_or_insert(Anchor { wall: now, ms: start + BURST.as_millis() as u64 });
            let due = clock.instant(end);
            if due > now {
                break;
            }
            if let Some(chunk) = waiting.pop_front() {
                station.air(Arc::new(chunk), due);
            }
        }
        let next_due = match (waiting.front(), anchor) {
            (Some(first), Some(clock)) => Some(clock.instant(chunk_end(first))),
            _ => None,
        };
        let outage = match anchor {
            Some(clock) if splicer.started() && waiting.is_empty() => {
                let wait = if silent { crate::radio::station::CHUNK + SILENT_LAG } else { grace };
                Some((clock.instant(splicer.end_ms()) + wait).max(last_heard + wait))
            }
            _ => None,
        };
        let deadline = [next_due, outage].into_iter().flatten().min().unwrap_or(now + Duration::from_secs(1));
        let item = feed.recv_deadline(deadline);
        if station.stopped() {
            return;
        }
        match item {
            Ok(Feed::Session(title, pause)) => {
                splicer.session(&title);
                grace = pause;
            }
            Ok(Feed::Piece(Piece::Song { song, title, artist, duration_ms, position_ms })) => {
                splicer.song(song, &title, &artist, duration_ms, position_ms);
            }
            Ok(Feed::Piece(Piece::Audio { frames, position_ms })) => {
                let chunks = splicer.audio(&frames, position_ms);
                if !chunks.is_empty() {
                    last_heard = Instant::now();
                    if silent {
                        info!("relay: audio again after silence");
                        silent = false;
                    }
                }
                waiting.extend(chunks);
            }
            Err(RecvTimeoutError::Timeout) => {
                let (Some(clock), Some(outage)) = (anchor, outage) else { continue };
                if Instant::now() < outage {
                    continue;
                }
                if !silent {
                    warn!(
                        "relay: nothing from upstream for {:.1} s: listeners hear silence until it comes back",
                        grace.as_secs_f32()
                    );
                    silent = true;
                }
                let until = clock.ms_at(Instant::now()).saturating_sub(SILENT_LAG.as_millis() as u64);
                waiting.extend(splicer.silence(until));
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Station time at the end of `chunk`.
fn chunk_end(chunk: &Chunk) -> u64 {
    chunk.position_ms + chunk.duration.as_millis() as u64
}

/// Drops the oldest waiting audio while the newest is more than [`MAX_EARLY`] ahead of the
/// clock, and moves the clock forward by what was dropped, so that the rest comes sooner: an
/// ICY station's burst after a reconnect skips forward instead of adding to every listener's
/// delay for good.
fn skip_early(waiting: &mut VecDeque<Chunk>, clock: &mut Anchor, now: Instant) {
    let Some(last) = waiting.back() else { return };
    let mut early = clock.instant(chunk_end(last)).saturating_duration_since(now);
    let mut dropped = Duration::ZERO;
    while early > MAX_EARLY && waiting.len() > 1 {
        let Some(old) = waiting.pop_front() else { break };
        early = early.saturating_sub(old.duration);
        dropped += old.duration;
        clock.ms += old.duration.as_millis() as u64;
    }
    if !dropped.is_zero() {
        debug!(
            "relay: skipped {} ms of audio that came more than {} ms early",
            dropped.as_millis(),
            MAX_EARLY.as_millis()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_an_upstream_sent_is_checked_before_it_is_used_or_logged() {
        let me = Me { node: NodeId(1), listen: "127.0.0.1:1".parse().unwrap(), feeds: true };
        for bad in ["evil\n2024-01-01 WARN forged:1", "\u{1b}[2Jx:1", "nohost", "x:0"] {
            let Err(why) = connect_jukebox(&me, bad, 0) else { panic!("{bad:?} accepted") };
            assert!(why.ends_with("is not a HOST:PORT to connect to"), "{why}");
            assert!(!why.contains(['\n', '\u{1b}']), "{why:?}");
        }
    }

    #[test]
    fn the_anchor_maps_times_both_ways_without_underflow() {
        let now = Instant::now();
        let anchor = Anchor { wall: now, ms: 10_000_000_000 };
        assert_eq!(anchor.ms_at(anchor.instant(10_000_000_500)), 10_000_000_500);
        assert_eq!(
            anchor.instant(0),
            anchor.wall.checked_sub(Duration::from_millis(10_000_000_000)).unwrap_or(now)
        );
    }
}
