//! The latency one relay hop adds (RFC §7.6.3): the same station heard at its origin and at a
//! relay of it, at the same time, from one loop.
//!
//! A relay keeps the station's clock: the same frame has the same Position ms at the origin and
//! at every relay (RFC §7.6.1). Two measures come out of that, neither needing the servers'
//! clocks:
//!
//! - **Edge delay.** A probe sends RELAY to each server, so each sends it every chunk the
//!   moment the chunk goes on the air (RFC §6.1.9), not in batches. For each chunk the relay's
//!   probe receives, the delay is its arrival less the arrival at the origin's probe of the
//!   origin's chunk holding the same station time: how much later the relay's live edge is
//!   than the origin's (network, the relay's reading, splicing and sending).
//! - **Listener lag.** Ordinary TUNE listeners on both servers play through virtual players
//!   ([`Playout`](crate::playout::Playout)); each one's lag is measured against the *origin's*
//!   live edge ([`LiveEdges`](crate::live::LiveEdges), fed the origin probe's receipts, the
//!   best-delivered there are). The difference of the two medians is what the hop adds to what
//!   a listener hears, the relay's own burst and batching included.
//!
//! The probes count as relays of the servers they reach (each is a child in its tree, with a
//! port where nothing listens): run it against servers started without --max-relays, or a
//! REDIRECT fails the run.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jukebox_protocol::frame::KEEPALIVE_INTERVAL;
use jukebox_protocol::{Hello, Message, NodeId, Request, RequestId, Welcome};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use serde::{Deserialize, Serialize};

use crate::live::STATION;
use crate::metrics::Metrics;
use crate::native::{Native, Plan, Timer, frames_duration};
use crate::stats::Summary;

/// Before this much time has passed since the listeners connected, receipts are not matched:
/// every stream begins with a burst of past audio (RFC §7.5.2), delivered at connection time,
/// not when it went on the air.
pub const WARMUP: Duration = Duration::from_secs(3);

/// How long the origin's probe may take to hear its first AUDIO.
const FIRST_AUDIO_TIMEOUT: Duration = Duration::from_secs(10);

/// How far apart two chunks' station times may be and still be the same audio: Position ms is
/// rounded to a millisecond (RFC §7.5.1), at each server.
const SAME_AUDIO_US: i64 = 2_000;

/// One measurement of a hop.
#[derive(Debug, Clone)]
pub struct HopConfig {
    /// The server the station comes from (or the relay one hop nearer to it).
    pub origin: SocketAddr,
    /// The relay of it.
    pub relay: SocketAddr,
    /// TUNE listeners on each of the two.
    pub listeners: u64,
    /// Time measured after [`WARMUP`].
    pub duration: Duration,
    /// Audio a virtual player buffers before it starts.
    pub prebuffer: Duration,
    /// A name for the setup measured.
    pub label: Option<String>,
    /// Seed of the probes' node ids.
    pub seed: u64,
}

/// What a hop measurement found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HopReport {
    /// The setup's name.
    pub label: Option<String>,
    /// TUNE listeners on each server.
    pub listeners: u64,
    /// Seconds measured after the warm-up.
    pub duration_s: f64,
    /// Per chunk of the relay's RELAY stream: its arrival after the same audio's arrival on the
    /// origin's RELAY stream. Negative when the relay's copy came first: the origin writes to
    /// each connection from its own thread, and its writer for the probe may wake after its
    /// writer for the relay and the relay's forwarding both.
    pub edge_delay: Option<Spread>,
    /// How far behind the origin's live edge the origin's TUNE listeners play, µs.
    pub origin_lag: Option<Summary>,
    /// How far behind the origin's live edge the relay's TUNE listeners play, µs.
    pub relay_lag: Option<Summary>,
    /// Underruns of the origin's listeners' virtual players.
    pub origin_underruns: u64,
    /// Underruns of the relay's listeners' virtual players.
    pub relay_underruns: u64,
}

impl HopReport {
    /// The report as a few lines for a person; times in ms.
    pub fn text(&self) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        let summary = |s: &Option<Summary>| {
            s.map_or("-".to_string(), |s| {
                format!(
                    "p50 {:.1} / p99 {:.1} / max {:.1} ms ({} samples)",
                    ms(s.p50_us),
                    ms(s.p99_us),
                    ms(s.max_us),
                    s.count
                )
            })
        };
        let mut text = String::new();
        if let Some(label) = &self.label {
            text += &format!("{label}\n");
        }
        let edge = self.edge_delay.map_or("-".to_string(), |s| {
            let ms = |us: i64| us as f64 / 1000.0;
            format!(
                "min {:+.1} / p50 {:+.1} / p99 {:+.1} / max {:+.1} ms ({} chunks)",
                ms(s.min_us),
                ms(s.p50_us),
                ms(s.p99_us),
                ms(s.max_us),
                s.count
            )
        });
        text += &format!("  edge delay, relay after origin: {edge}\n");
        text += &format!(
            "  lag behind the origin's live edge, origin listeners: {}\n",
            summary(&self.origin_lag)
        );
        text +=
            &format!("  lag behind the origin's live edge, relay listeners:  {}\n", summary(&self.relay_lag));
        if let (Some(o), Some(r)) = (self.origin_lag, self.relay_lag) {
            let diff = |a: u64, b: u64| (a as f64 - b as f64) / 1000.0;
            text += &format!(
                "  added by the hop to a listener: p50 {:+.1} ms, p99 {:+.1} ms\n",
                diff(r.p50_us, o.p50_us),
                diff(r.p99_us, o.p99_us)
            );
        }
        text += &format!(
            "  underruns: origin listeners {}, relay listeners {}\n",
            self.origin_underruns, self.relay_underruns
        );
        text
    }

    /// Whether a listener underran.
    pub fn has_underruns(&self) -> bool {
        self.origin_underruns + self.relay_underruns > 0
    }
}

/// Percentiles of signed samples (nearest-rank), µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spread {
    /// Number of samples.
    pub count: usize,
    /// Smallest.
    pub min_us: i64,
    /// Median.
    pub p50_us: i64,
    /// 99th percentile.
    pub p99_us: i64,
    /// Largest.
    pub max_us: i64,
}

impl Spread {
    /// The percentiles of `samples`, or `None` without samples.
    pub fn of(mut samples: Vec<i64>) -> Option<Spread> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let rank = |p: f64| {
            samples[(((p / 100.0) * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1]
        };
        Some(Spread {
            count: samples.len(),
            min_us: rank(0.0),
            p50_us: rank(50.0),
            p99_us: rank(99.0),
            max_us: rank(100.0),
        })
    }
}

/// Which of the two servers a connection is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Origin,
    Relay,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Origin => "origin",
            Side::Relay => "relay",
        }
    }
}

/// A connection that sent RELAY: it records when each chunk of the station arrived.
#[derive(Debug)]
struct Probe {
    welcomed: bool,
    node: NodeId,
    last_request: Instant,
    next_id: u32,
    /// (Position ms, playing time µs, arrival) of every AUDIO.
    receipts: Vec<(u32, i64, Instant)>,
}

impl Probe {
    fn request(&mut self, now: Instant, make: impl FnOnce(RequestId) -> Request, out: &mut Vec<u8>) {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.last_request = now;
        // Requests are a few bytes: they always fit a frame.
        let _ = Message::Request(make(id)).encode(out);
    }

    fn on_bytes(&mut self, bytes: &[u8], now: Instant, out: &mut Vec<u8>) -> Result<usize, String> {
        if !self.welcomed {
            let Some(head) = bytes.first_chunk::<8>() else { return Ok(0) };
            let welcome = Welcome::parse(head).map_err(|e| e.to_string())?;
            if welcome.version != 1 {
                return Err(format!(
                    "server refused version 1 (speaks up to {})",
                    welcome.server_max_version
                ));
            }
            self.welcomed = true;
            let node = self.node;
            // Nothing listens on port 1: without --max-relays nobody is sent there.
            self.request(now, |id| Request::Relay { id, node, port: 1 }, out);
            return Ok(8);
        }
        let mut used = 0;
        while let Some((message, len)) =
            Message::decode_from_slice(&bytes[used..]).map_err(|e| e.to_string())?
        {
            used += len;
            match message {
                Message::Audio(audio) => {
                    let duration =
                        i64::try_from(frames_duration(&audio.data).as_micros()).unwrap_or(i64::MAX);
                    self.receipts.push((audio.position_ms, duration, now));
                }
                Message::Redirect(redirect) => {
                    return Err(format!(
                        "the server sent the probe on to {} (start it without --max-relays)",
                        redirect.address
                    ));
                }
                Message::Error(error) => {
                    return Err(format!("server error {}: {}", error.code, error.message));
                }
                Message::Goodbye(goodbye) => return Err(format!("server said goodbye: {}", goodbye.text)),
                Message::EndOfStream(_) => return Err("the station went off the air (END_OF_STREAM)".into()),
                _ => {}
            }
        }
        Ok(used)
    }

    /// The receipts in station time, µs from `base`: (end of the chunk's audio, arrival).
    fn ends(&self, base: u32) -> Vec<(i64, Instant)> {
        self.receipts
            .iter()
            .map(|&(position, duration, at)| (station_us(position, base) + duration, at))
            .collect()
    }
}

fn station_us(position_ms: u32, base: u32) -> i64 {
    // Unwrapped around the run's first Position ms: a run is far shorter than 2^31 ms.
    i64::from(position_ms.wrapping_sub(base) as i32) * 1000
}

#[derive(Debug)]
enum Role {
    Probe(Probe),
    Listener(Box<Native>),
}

#[derive(Debug)]
struct Connection {
    side: Side,
    socket: TcpStream,
    role: Role,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
}

impl Connection {
    fn open(addr: SocketAddr, side: Side, role: Role, hello: Vec<u8>) -> Result<Connection, String> {
        let socket =
            std::net::TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        socket.set_nodelay(true).map_err(|e| e.to_string())?;
        socket.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok(Connection { side, socket: TcpStream::from_std(socket), role, inbox: Vec::new(), outbox: hello })
    }

    /// Reads what has arrived and hands it to the role; `Ok(false)` when the server closed.
    fn read(&mut self, now: Instant, metrics: &mut Metrics, rng: &mut fastrand::Rng) -> Result<bool, String> {
        let mut buf = [0u8; 64 * 1024];
        let mut open = true;
        loop {
            match self.socket.read(&mut buf) {
                Ok(0) => {
                    open = false;
                    break;
                }
                Ok(n) => self.inbox.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        let used = match &mut self.role {
            Role::Probe(probe) => probe.on_bytes(&self.inbox, now, &mut self.outbox)?,
            Role::Listener(native) => native.on_bytes(&self.inbox, now, metrics, rng, &mut self.outbox)?,
        };
        self.inbox.drain(..used);
        Ok(open)
    }

    fn flush(&mut self) -> Result<(), String> {
        while !self.outbox.is_empty() {
            match self.socket.write(&self.outbox) {
                Ok(n) => {
                    self.outbox.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }
}

/// Everything connected to the two servers, on one poll.
struct Hop {
    poll: Poll,
    connections: Vec<Connection>,
    /// The origin's listeners' metrics, then the relay's.
    metrics: [Metrics; 2],
    rng: fastrand::Rng,
}

impl Hop {
    fn add(&mut self, connection: Connection) -> Result<(), String> {
        let mut connection = connection;
        let token = Token(self.connections.len());
        self.poll
            .registry()
            .register(&mut connection.socket, token, Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| e.to_string())?;
        self.connections.push(connection);
        Ok(())
    }

    /// Waits up to `timeout` for what arrives, and handles it.
    fn turn(&mut self, events: &mut Events, timeout: Duration) -> Result<(), String> {
        match self.poll.poll(events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
        // One stamp per wake-up: what arrived together is stamped together, whichever socket
        // is read first (a chunk read from the relay in the same wake-up as the origin's same
        // audio took less than the wake-up's resolution).
        let now = Instant::now();
        for event in events.iter() {
            let Some(connection) = self.connections.get_mut(event.token().0) else { continue };
            let side = connection.side;
            let fail = |e: String| format!("a connection to the {}: {e}", side.name());
            if event.is_readable() {
                let before = match &connection.role {
                    Role::Probe(probe) => probe.receipts.len(),
                    Role::Listener(_) => 0,
                };
                let metrics = &mut self.metrics[side as usize];
                if !connection.read(now, metrics, &mut self.rng).map_err(fail)? {
                    return Err(fail("the server closed it".into()));
                }
                if side == Side::Origin
                    && let Role::Probe(probe) = &connection.role
                {
                    // The origin's live edge, for both sides' listeners.
                    for metrics in &mut self.metrics {
                        let Some(base) = metrics.station_base else { continue };
                        for &(position, duration, at) in &probe.receipts[before..] {
                            metrics.live.received(STATION, at, station_us(position, base) + duration);
                        }
                    }
                }
            }
            connection.flush().map_err(fail)?;
        }
        let now = Instant::now();
        for connection in &mut self.connections {
            match &mut connection.role {
                Role::Listener(native) => {
                    let metrics = &mut self.metrics[connection.side as usize];
                    native.on_timer(Timer::Keepalive, now, metrics, &mut self.rng, &mut connection.outbox)?;
                }
                Role::Probe(probe) if probe.welcomed && now >= probe.last_request + KEEPALIVE_INTERVAL => {
                    probe.request(now, |id| Request::Ping { id }, &mut connection.outbox);
                }
                Role::Probe(_) => {}
            }
            connection.flush()?;
        }
        Ok(())
    }

    fn probe(&self, side: Side) -> Option<&Probe> {
        self.connections.iter().find_map(|c| match &c.role {
            Role::Probe(probe) if c.side == side => Some(probe),
            _ => None,
        })
    }
}

/// Measures the hop: probes on both servers, then `listeners` TUNE listeners on each, for
/// [`WARMUP`] and `duration`.
pub fn run(config: &HopConfig) -> Result<HopReport, String> {
    let mut rng = fastrand::Rng::with_seed(config.seed);
    let poll = Poll::new().map_err(|e| e.to_string())?;
    let mut hop = Hop { poll, connections: Vec::new(), metrics: Default::default(), rng: rng.clone() };
    let mut events = Events::with_capacity(256);
    let hello = Hello::current().encode().to_vec();
    for (side, addr) in [(Side::Origin, config.origin), (Side::Relay, config.relay)] {
        let probe = Probe {
            welcomed: false,
            node: NodeId(rng.u64(1..)),
            last_request: Instant::now(),
            next_id: 1,
            receipts: Vec::new(),
        };
        hop.add(Connection::open(addr, side, Role::Probe(probe), hello.clone())?)?;
    }
    // Every station time is counted from the origin's first Position ms, on both sides.
    let asked = Instant::now();
    let base = loop {
        hop.turn(&mut events, Duration::from_millis(100))?;
        if let Some(&(position, _, _)) = hop.probe(Side::Origin).and_then(|p| p.receipts.first()) {
            break position;
        }
        if asked.elapsed() > FIRST_AUDIO_TIMEOUT {
            return Err(format!("no audio from the origin ({}) in {FIRST_AUDIO_TIMEOUT:?}", config.origin));
        }
    };
    // The receipts so far (the burst) give a first estimate of the origin's edge.
    let burst = hop.probe(Side::Origin).map(|p| p.receipts.clone()).unwrap_or_default();
    for metrics in &mut hop.metrics {
        metrics.station_base = Some(base);
        for &(position, duration, at) in &burst {
            metrics.live.received(STATION, at, station_us(position, base) + duration);
        }
    }
    let started = Instant::now();
    for (side, addr) in [(Side::Origin, config.origin), (Side::Relay, config.relay)] {
        for _ in 0..config.listeners {
            let (native, hello) = Native::start(Instant::now(), Plan::Radio, config.prebuffer);
            hop.add(Connection::open(addr, side, Role::Listener(Box::new(native)), hello)?)?;
        }
    }
    let measured_from = started + WARMUP;
    let end = measured_from + config.duration;
    while Instant::now() < end {
        let left = end.saturating_duration_since(Instant::now());
        hop.turn(&mut events, left.min(Duration::from_millis(100)))?;
    }
    let now = Instant::now();
    let underruns = |side: Side| -> u64 {
        hop.connections
            .iter()
            .filter(|c| c.side == side)
            .map(|c| match &c.role {
                Role::Listener(native) => u64::from(native.underruns(now)),
                Role::Probe(_) => 0,
            })
            .sum()
    };
    let edge_delay = match (hop.probe(Side::Origin), hop.probe(Side::Relay)) {
        (Some(origin), Some(relay)) => edge_delays(&origin.ends(base), &relay.ends(base), measured_from),
        _ => Vec::new(),
    };
    Ok(HopReport {
        label: config.label.clone(),
        listeners: config.listeners,
        duration_s: config.duration.as_secs_f64(),
        edge_delay: Spread::of(edge_delay),
        origin_lag: hop.metrics[Side::Origin as usize].live.lags().summary(),
        relay_lag: hop.metrics[Side::Relay as usize].live.lags().summary(),
        origin_underruns: underruns(Side::Origin),
        relay_underruns: underruns(Side::Relay),
    })
}

/// For each relay receipt from `from` on, its arrival after the origin receipt that first held
/// the same station time (its end, within [`SAME_AUDIO_US`]), when that one too arrived from
/// `from` on, µs (negative when the relay's came first). Both lists are in arrival order, so in
/// station-time order.
fn edge_delays(origin: &[(i64, Instant)], relay: &[(i64, Instant)], from: Instant) -> Vec<i64> {
    let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
    let mut delays = Vec::new();
    for &(end, arrived) in relay.iter().filter(|(_, at)| *at >= from) {
        let first = origin.partition_point(|&(e, _)| e < end - SAME_AUDIO_US);
        let Some(&(_, origin_arrived)) = origin.get(first).filter(|(_, at)| *at >= from) else { continue };
        delays.push(match arrived.checked_duration_since(origin_arrived) {
            Some(later) => micros(later),
            None => -micros(origin_arrived - arrived),
        });
    }
    delays
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_relay_chunk_is_matched_to_the_origin_chunk_holding_its_end() {
        let t0 = Instant::now();
        // The origin airs 100 ms chunks; the relay splits them in two and sends each half 5 ms
        // after the origin's chunk arrived. Before `from`, the bursts are left out.
        let origin: Vec<(i64, Instant)> = (1..=5).map(|i| (i * 100_000, t0 + i as u32 * 100 * MS)).collect();
        let relay: Vec<(i64, Instant)> =
            (1..=10).map(|i| (i * 50_000 + 400, t0 + (i as u32).div_ceil(2) * 100 * MS + 5 * MS)).collect();
        let spread = Spread::of(edge_delays(&origin, &relay, t0 + 150 * MS)).expect("matched");
        assert_eq!((spread.count, spread.min_us, spread.p50_us, spread.max_us), (8, 5_000, 5_000, 5_000));
    }

    #[test]
    fn audio_the_origin_sent_before_the_window_is_not_matched() {
        let t0 = Instant::now();
        let origin = vec![(100_000, t0), (200_000, t0 + 500 * MS)];
        let relay = vec![(100_000, t0 + 600 * MS), (200_000, t0 + 600 * MS)];
        assert_eq!(edge_delays(&origin, &relay, t0 + 400 * MS), vec![100_000]);
    }

    #[test]
    fn a_relay_copy_that_came_first_counts_negative() {
        let t0 = Instant::now();
        let origin = vec![(100_000, t0 + 10 * MS)];
        let relay = vec![(100_000, t0 + 9 * MS)];
        assert_eq!(edge_delays(&origin, &relay, t0), vec![-1_000]);
    }
}
