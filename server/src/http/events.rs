//! `GET /events`: Server-Sent Events for the web page, so it updates without polling.
//!
//! - `event: status` with the status JSON of `/status.json` (as the asker sees it), at once on
//!   connect and again after every change of the station (a song went on the air, the queue
//!   moved, a song was skipped). Events that arrive together are answered with one status.
//! - `event: skipped` with `{"id":N,"title":"…","reason":"…"}` when a song's turn came and it
//!   could not be played.
//! - A comment line, `: keepalive`, after [`KEEPALIVE`] of silence: proxies keep the stream
//!   open, and a listener who left is noticed at the next write.
//!
//! A page that reads slowly misses events, never the present: the station's event queue is
//! bounded, and each status is read fresh when it is sent. Each stream is one connection of
//! the HTTP side's bounded count, with a thread that sleeps until the station changes.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crossbeam_channel::select;
use serde::Serialize;

use super::Reply;
use super::status::{json, status_json};
use crate::Shared;
use crate::radio::{Event, Requester};

/// Silence after which a keepalive comment is sent.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// How long an event source waits before reconnecting, told to the browser.
const RETRY_MS: u32 = 3000;

#[derive(Serialize)]
struct Skipped<'a> {
    id: u32,
    title: &'a str,
    reason: &'a str,
}

/// Appends one event to `out`. `data` must be one line (compact JSON is).
fn event(out: &mut String, name: &str, data: &str) {
    out.push_str("event: ");
    out.push_str(name);
    out.push_str("\ndata: ");
    out.push_str(data);
    out.push_str("\n\n");
}

/// The text sent for a batch of station events that arrived together, with the status read
/// now.
pub(crate) fn render(events: &[Event], status: &str) -> String {
    let mut out = String::new();
    for e in events {
        if let Event::Skipped { song, title, reason } = e {
            event(&mut out, "skipped", &json(&Skipped { id: song.0, title, reason }));
        }
    }
    event(&mut out, "status", status);
    out
}

/// Answers `GET /events` (or `HEAD`): streams until the client leaves or the server stops.
pub(super) fn serve(
    mut socket: &TcpStream,
    peer: SocketAddr,
    head_only: bool,
    shared: &Shared,
) -> io::Result<u16> {
    let reply = Reply::new(200)
        .header("Content-Type", "text/event-stream; charset=utf-8")
        .header("Cache-Control", "no-cache")
        // nginx buffers responses unless told not to.
        .header("X-Accel-Buffering", "no");
    if head_only {
        reply.write_head(socket)?;
        return Ok(200);
    }
    // Subscribed before the first status is read: no change can fall between the two.
    let watch = shared.station.watch();
    let changes = &watch.events;
    let asker = Requester::new(peer.ip());
    let mut first = format!("retry: {RETRY_MS}\n\n");
    first.push_str(&render(&[], &status_json(shared, asker)));
    reply.write_head_and(socket, first.as_bytes())?;
    let mut last_write = Instant::now();
    loop {
        let keepalive_in = (last_write + KEEPALIVE).saturating_duration_since(Instant::now());
        let text = select! {
            recv(changes) -> change => match change {
                Ok(change) => {
                    let mut batch = vec![change];
                    batch.extend(changes.try_iter());
                    render(&batch, &status_json(shared, asker))
                }
                // The station is gone: the server is stopping.
                Err(_) => return Ok(200),
            },
            recv(shared.shutdown) -> _ => return Ok(200),
            default(keepalive_in) => ": keepalive\n\n".to_string(),
        };
        socket.write_all(text.as_bytes())?;
        last_write = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::SongId;

    #[test]
    fn a_skip_is_its_own_event_and_a_batch_gets_one_status() {
        let events = [
            Event::QueueChanged,
            Event::Skipped { song: SongId(4), title: "Bad \"one\"\nx".into(), reason: "no audio".into() },
            Event::QueueChanged,
        ];
        assert_eq!(
            render(&events, r#"{"x":1}"#),
            "event: skipped\ndata: {\"id\":4,\"title\":\"Bad \\\"one\\\"\\nx\",\"reason\":\"no audio\"}\n\n\
             event: status\ndata: {\"x\":1}\n\n"
        );
    }
}
