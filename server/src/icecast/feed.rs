//! The feeder thread: tunes into the station like any listener, has Icecast take it as a
//! source, writes each chunk as it goes on the air, and asks for the title to change after
//! the chunk in which a song starts. When Icecast goes away it tries again after a
//! [`Backoff`]; meanwhile the station and its other listeners go on as if nothing happened
//! (the feeder is one more queue in the hub, skipped forward when it falls behind).

use std::io::Write;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};
use tracing::{debug, info, warn};

use super::Target;
use super::metadata::Titles;
use super::report::{Line, Report};
use super::source::{self, SourceError};
use crate::backoff::Backoff;
use crate::http::icy::stream_title;
use crate::radio::{Chunk, Slice, Station, Via};

/// The first delay before trying Icecast again.
pub const RETRY_MIN: Duration = Duration::from_millis(500);

/// The longest delay between tries, when Icecast stays unreachable.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// The first delay after Icecast refused the password: someone has to fix a configuration,
/// which takes minutes, and every refusal is a line in Icecast's log too.
pub const REFUSED_MIN: Duration = Duration::from_secs(60);

/// The longest delay after refused passwords.
pub const REFUSED_MAX: Duration = Duration::from_secs(300);

/// How long a source connection must have lasted for its loss to count as a new outage (the
/// backoff starts over) rather than one more failure of a flapping Icecast.
pub const STABLE: Duration = Duration::from_secs(10);

/// How long a write to Icecast may make no progress before the connection counts as lost.
pub const WRITE_TIMEOUT: Duration = crate::http::WRITE_TIMEOUT;

/// How often to look again whether the station is on the air, while it is not.
const OFF_AIR_POLL: Duration = Duration::from_secs(1);

/// How one connection to Icecast ended.
enum Ended {
    /// The server is stopping.
    Stopped,
    /// The station is off the air (or stopped): nothing to feed for now.
    OffAir,
    /// Icecast refused, could not be reached, or went away after `fed_for` of audio.
    Failed { error: SourceError, fed_for: Option<Duration> },
}

/// Feeds `target` from `station` until `stop` disconnects.
pub(super) fn run(station: &Station, target: &Target, stop: &Receiver<()>) {
    let titles = match Titles::spawn(target.clone(), stop.clone()) {
        Ok(titles) => Some(titles),
        Err(e) => {
            warn!("cannot start the thread that sends titles to Icecast; listeners will not see them: {e}");
            None
        }
    };
    let mut rng = fastrand::Rng::new();
    let mut retry = Backoff::new(RETRY_MIN, RETRY_MAX);
    let mut refused = Backoff::new(REFUSED_MIN, REFUSED_MAX);
    let mut report = Report::default();
    loop {
        let (error, fed_for) = match feed(station, target, stop, titles.as_ref(), &mut report) {
            Ended::Stopped => return,
            Ended::OffAir => {
                select! {
                    recv(stop) -> _ => return,
                    default(OFF_AIR_POLL) => continue,
                }
            }
            Ended::Failed { error, fed_for } => (error, fed_for),
        };
        if fed_for.is_some_and(|fed| fed >= STABLE) {
            retry.reset();
            refused.reset();
        }
        let delay = match error {
            SourceError::BadPassword(_) => refused.next_delay(&mut rng),
            _ => retry.next_delay(&mut rng),
        };
        let seconds = delay.as_secs_f32();
        match report.failed(&error) {
            Line::Loud => warn!("{error}; trying again in {seconds:.1} s"),
            Line::LastLoud => {
                warn!(
                    "{error}; trying again in {seconds:.1} s, and on, without a line per try until this changes"
                )
            }
            Line::Quiet => debug!("{error}; trying again in {seconds:.1} s"),
        }
        select! {
            recv(stop) -> _ => return,
            default(delay) => {}
        }
    }
}

/// One connection: tune in, have Icecast take the source, write until something ends it.
fn feed(
    station: &Station,
    target: &Target,
    stop: &Receiver<()>,
    titles: Option<&Titles>,
    report: &mut Report,
) -> Ended {
    let Some(mut tuning) = station.tune(Via::Http) else { return Ended::OffAir };
    let socket = match source::open(target, station.format()) {
        Ok(socket) => socket,
        Err(error) => return Ended::Failed { error, fed_for: None },
    };
    let since = Instant::now();
    match report.fed() {
        0 => info!("feeding Icecast at {target}"),
        n => info!("feeding Icecast at {target} again, after {n} failed tries"),
    }
    let lost = |error| Ended::Failed {
        error: SourceError::Lost { target: target.to_string(), error },
        fed_for: Some(since.elapsed()),
    };
    if let Err(e) = socket.set_write_timeout(Some(WRITE_TIMEOUT)) {
        return lost(e);
    }
    // The burst starts Icecast's own buffer at once; if connecting took so long that the
    // station skipped this listener forward, it is stale and goes.
    let mut pending: Vec<Slice> = std::mem::take(&mut tuning.burst);
    if tuning.take_lag() {
        pending.clear();
    }
    // What Icecast shows on this connection: each new connection is told again.
    let mut shown: Option<String> = None;
    let mut lagged = false;
    loop {
        for slice in pending.drain(..) {
            if let Err(e) = (&socket).write_all(slice.data()) {
                return lost(e);
            }
            station.count_sent(slice.data().len());
            let title = heard(&slice.chunk);
            if shown.as_ref() != Some(&title) {
                if let Some(titles) = titles {
                    titles.post(title.clone());
                }
                shown = Some(title);
            }
        }
        select! {
            recv(stop) -> _ => return Ended::Stopped,
            recv(tuning.live) -> chunk => match chunk {
                Ok(chunk) => pending.push(Slice::whole(chunk)),
                Err(_) => {
                    debug!("the station went off the air; the source for Icecast ends");
                    return Ended::OffAir;
                }
            },
        }
        if tuning.take_lag() {
            pending.clear();
            if !lagged {
                warn!(
                    "Icecast at {target} takes the audio more slowly than it plays; skipping forward to live"
                );
                lagged = true;
            }
        }
    }
}

/// The title heard in `chunk`, as ICY listeners see it: a song that starts in a chunk starts
/// in its first frame (the station cuts chunks there).
fn heard(chunk: &Chunk) -> String {
    let airing = chunk.starts.as_ref().unwrap_or(&chunk.airing);
    stream_title(&airing.track.artist, &airing.track.title)
}
