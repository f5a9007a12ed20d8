//! The event loop: many simulated listeners on one thread (mio), so that thousands of them
//! cost neither threads nor processes. Connections are opened at a steady rate, the measured
//! window starts once all are open, and the server's CPU and memory are read from `/proc` at
//! its edges.
//!
//! A soak ([`soak`]) runs on the same loop: its hostile connections ([`crate::hostile`]) are
//! slots after the listeners' ones, each reopened a moment after it ends, and the server is
//! sampled periodically instead of only at the edges.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jukebox_protocol::SongId;
use jukebox_protocol::frame::KEEPALIVE_INTERVAL;
use mio::event::Event;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::hostile::{Ending, Hostile, HostileKind, KindTally};
use crate::icy::Icy;
use crate::metrics::Metrics;
use crate::native::{Native, Plan, Timer};
use crate::probe::{self, ProcessSample};
use crate::report::Report;
use crate::soak::{SETTLE_STEADY, SETTLE_TIMEOUT, Sample, ServerState, SoakConfig, SoakReport};

/// Between the end of a hostile connection and the next one on its slot (times a random factor
/// of 0.5 to 1.5): the quick kinds, which the server closes at once, would otherwise open
/// thousands of connections a second, measure the acceptor instead of the soak and, for the
/// vanisher, which closes first, run out of local ports held in TIME_WAIT. With a quarter of a
/// second, 100 hostile connections open about 170 a second.
const HOSTILE_REOPEN: Duration = Duration::from_millis(250);

/// Between the loss of a listener and its next connection, during a soak: a soak keeps its load
/// after a failure (which still fails it).
const LISTENER_REOPEN: Duration = Duration::from_secs(1);

/// Most bytes read from, or written to, one hostile connection in one turn of the loop. A
/// flooder can keep its socket busy without end; past this it waits for the next turn, so the
/// listeners are served in between.
const HOSTILE_BUDGET: usize = 256 * 1024;

/// What the listeners connect to.
#[derive(Debug, Clone)]
pub enum Target {
    /// A jukebox server; `song` fixes the song, else each listener picks one at random.
    Native {
        /// The server.
        addr: SocketAddr,
        /// Song id to play, or random.
        song: Option<u32>,
    },
    /// A jukebox server's station: every listener TUNEs (RFC §6.1.6).
    Radio {
        /// The server.
        addr: SocketAddr,
    },
    /// An HTTP/ICY stream.
    Icy {
        /// The server.
        addr: SocketAddr,
        /// Host header.
        host: String,
        /// Mount path, e.g. `/stream.mp3`.
        path: String,
        /// Ask for ICY metadata (`Icy-MetaData: 1`), and check and strip it.
        metadata: bool,
    },
}

impl Target {
    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        match self {
            Target::Native { addr, .. } | Target::Radio { addr } | Target::Icy { addr, .. } => *addr,
        }
    }

    /// What a report calls it: `native`, `radio` or `icy`.
    pub fn name(&self) -> &'static str {
        match self {
            Target::Native { .. } => "native",
            Target::Radio { .. } => "radio",
            Target::Icy { .. } => "icy",
        }
    }
}

/// Optional behaviour mixed into the listening (native listeners only).
#[derive(Debug, Clone, Copy, Default)]
pub struct Mix {
    /// Each listener sends a LIST this often.
    pub list_every: Option<Duration>,
    /// Each listener PLAYs another song this often.
    pub switch_every: Option<Duration>,
    /// Each listener STOPs this often, and PLAYs again half a second later.
    pub stop_every: Option<Duration>,
    /// Each listener disconnects and reconnects this often.
    pub churn_every: Option<Duration>,
    /// Each listener PINGs when it has sent nothing for 15 s, as RFC §8.1 asks of clients, so
    /// that however the mix is set the server never closes it for idleness. Off by default so
    /// that measurements of plain streaming stay as they were.
    pub keepalive: bool,
}

/// One run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Where to connect.
    pub target: Target,
    /// How many listeners.
    pub listeners: u64,
    /// The measured window, after all listeners were started.
    pub duration: Duration,
    /// New connections per second while ramping up.
    pub ramp_per_sec: u64,
    /// Audio a virtual player buffers before it starts.
    pub prebuffer: Duration,
    /// Extra behaviour.
    pub mix: Mix,
    /// The server's process, for CPU and memory.
    pub server_pid: Option<u32>,
    /// Before connecting anyone, measure the server's CPU for this long: what it costs with no
    /// listener (a station encodes whether anybody listens). Zero: not measured.
    pub idle: Duration,
    /// Seed of the random choices (songs, timer phases).
    pub seed: u64,
    /// A name for the setup measured, carried into the report (e.g. "Icecast (ffmpeg)").
    pub label: Option<String>,
}

#[derive(Debug)]
enum Protocol {
    Connecting,
    Native(Native),
    Icy(Icy),
    Hostile(Hostile),
}

#[derive(Debug)]
struct Slot {
    socket: TcpStream,
    generation: u64,
    connect_started: Instant,
    protocol: Protocol,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
    /// Underruns of earlier connections of this slot (churn).
    earlier_underruns: u32,
}

impl Slot {
    fn underruns(&self, now: Instant) -> u32 {
        self.earlier_underruns
            + match &self.protocol {
                Protocol::Native(n) => n.underruns(now),
                Protocol::Icy(i) => i.underruns(now),
                Protocol::Connecting | Protocol::Hostile(_) => 0,
            }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Native(TimerKind),
    Churn,
    /// Open the slot again, if it is still empty (any generation).
    Reopen,
    /// A wake-up a hostile connection asked for.
    HostileWake,
    /// Go on reading and writing a hostile connection that used up its budget.
    HostileResume,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    List,
    Switch,
    Stop,
    Resume,
    Keepalive,
}

impl From<TimerKind> for Timer {
    fn from(kind: TimerKind) -> Timer {
        match kind {
            TimerKind::List => Timer::List,
            TimerKind::Switch => Timer::Switch,
            TimerKind::Stop => Timer::Stop,
            TimerKind::Resume => Timer::Resume,
            TimerKind::Keepalive => Timer::Keepalive,
        }
    }
}

struct Run<'a> {
    config: &'a RunConfig,
    poll: Poll,
    /// The listeners' slots, then the hostile connections' ones.
    slots: Vec<Option<Slot>>,
    /// How many of the slots are listeners.
    listeners: usize,
    /// The kind of each hostile slot, from slot `listeners` on.
    hostile: Vec<HostileKind>,
    /// How the hostile connections went, by kind.
    tally: BTreeMap<HostileKind, KindTally>,
    /// Whether a lost listener connects again (a soak) or stays lost (a measured run).
    reopen_lost: bool,
    timers: BinaryHeap<Reverse<(Instant, usize, u64, Due)>>,
    metrics: Metrics,
    rng: fastrand::Rng,
    next_generation: u64,
    reconnects: u64,
    /// Listeners (by slot) that completed a handshake at least once.
    ever_connected: Vec<bool>,
    read_buf: Vec<u8>,
}

/// Opens slots at a steady rate, in order.
#[derive(Debug)]
struct Ramp {
    started: Instant,
    step: Duration,
    opened: usize,
    total: usize,
}

impl Ramp {
    fn new(per_sec: u64, total: usize, now: Instant) -> Ramp {
        Ramp { started: now, step: Duration::from_secs_f64(1.0 / per_sec.max(1) as f64), opened: 0, total }
    }

    /// When the next slot opens; `None` once all have.
    fn next_at(&self) -> Option<Instant> {
        (self.opened < self.total).then(|| self.started + self.step * self.opened as u32)
    }

    /// Opens the slots whose time has come.
    fn open_due(&mut self, run: &mut Run<'_>, now: Instant) {
        while self.next_at().is_some_and(|at| at <= now) {
            run.open(self.opened, now, 0);
            self.opened += 1;
        }
    }
}

/// Runs one load and returns what it measured.
pub fn run(config: &RunConfig) -> Result<Report, String> {
    let idle_cpu = match config.server_pid {
        Some(pid) if !config.idle.is_zero() => {
            let (before, started) = (probe::sample(pid)?, Instant::now());
            std::thread::sleep(config.idle);
            let after = probe::sample(pid)?;
            Some((after.cpu.saturating_sub(before.cpu), started.elapsed()))
        }
        _ => None,
    };
    let mut run = Run::new(config, 0, false)?;
    let idle = config.server_pid.map(probe::sample).transpose()?;
    let mut ramp = Ramp::new(config.ramp_per_sec, run.slots.len(), Instant::now());
    let mut window: Option<(Instant, Option<ProcessSample>)> = None;
    let mut events = Events::with_capacity(4096);
    loop {
        let now = Instant::now();
        ramp.open_due(&mut run, now);
        if window.is_none() && ramp.next_at().is_none() {
            window = Some((now, config.server_pid.map(probe::sample).transpose()?));
        }
        if let Some((start, _)) = window
            && now >= start + config.duration
        {
            break;
        }
        let mut deadline = now + Duration::from_millis(100);
        if let Some(at) = ramp.next_at() {
            deadline = deadline.min(at);
        }
        if let Some((start, _)) = window {
            deadline = deadline.min(start + config.duration);
        }
        run.turn(&mut events, deadline)?;
    }
    let end = Instant::now();
    let end_sample = config.server_pid.map(probe::sample).transpose()?;
    let (window_start, start_sample) = window.unwrap_or((end, None));
    let mut report = run.report(end, end - window_start, idle, start_sample, end_sample);
    report.server_idle_cpu_secs = idle_cpu.map(|(cpu, _)| cpu.as_secs_f64());
    report.idle_secs = idle_cpu.map(|(_, wall)| wall.as_secs_f64());
    Ok(report)
}

/// Runs a soak: `config.run.listeners` listeners with their mix and `config.hostile` hostile
/// connections, for `config.run.duration` after all have been started, sampling the server
/// every `config.sample_every` (each sample is also handed to `on_sample` as it is taken). Then
/// closes everything and waits for the server to settle before its last reading.
pub fn soak(config: &SoakConfig, mut on_sample: impl FnMut(&Sample)) -> Result<SoakReport, String> {
    let pid = config.run.server_pid.ok_or("a soak needs the server's process id")?;
    let read = |pid: u32| -> Result<(ProcessSample, ServerState), String> {
        let s = probe::sample(pid)?;
        let fds = match s.fds {
            Some(fds) => fds,
            None => probe::open_files(pid)?,
        };
        Ok((s, ServerState { threads: s.threads, fds, rss: s.rss }))
    };
    let mut run = Run::new(&config.run, config.hostile, true)?;
    let (idle, before) = read(pid)?;
    let mut ramp = Ramp::new(config.run.ramp_per_sec, run.slots.len(), Instant::now());
    let mut events = Events::with_capacity(4096);
    let mut samples = Vec::new();
    let mut last_cpu = (Instant::now(), idle.cpu);
    // When every connection had been started, and the first and last samples of the process.
    let mut loaded: Option<(Instant, ProcessSample, ProcessSample)> = None;
    let mut next_sample: Option<Instant> = None;
    // Set when the server can no longer be read: it exited, most likely. The soak ends there,
    // with a report of what happened until then.
    let mut server_lost: Option<String> = None;
    loop {
        let now = Instant::now();
        ramp.open_due(&mut run, now);
        if loaded.is_none() && ramp.next_at().is_none() {
            loaded = Some((now, idle, idle));
            next_sample = Some(now);
        }
        if let (Some((start, first, _)), Some(at)) = (loaded, next_sample)
            && now >= at
        {
            let (process, server) = match read(pid) {
                Ok(read) => read,
                Err(e) => {
                    server_lost = Some(format!("at {:.0} s: {e}", (now - start).as_secs_f64()));
                    break;
                }
            };
            let wall = now - last_cpu.0;
            let cpu = process.cpu.saturating_sub(last_cpu.1);
            last_cpu = (now, process.cpu);
            let sample = run.sample(
                now - start,
                server,
                cpu.as_secs_f64() * 100.0 / wall.as_secs_f64().max(1e-3),
                now,
            );
            on_sample(&sample);
            let first = if samples.is_empty() { process } else { first };
            samples.push(sample);
            loaded = Some((start, first, process));
            let end = start + config.run.duration;
            next_sample = (at < end).then(|| (at + config.sample_every).min(end));
        }
        if loaded.is_some() && next_sample.is_none() {
            break;
        }
        let mut deadline = now + Duration::from_millis(100);
        for at in [ramp.next_at(), next_sample].into_iter().flatten() {
            deadline = deadline.min(at);
        }
        run.turn(&mut events, deadline)?;
    }
    let end = Instant::now();
    let (start, first, last) = loaded.unwrap_or((end, idle, idle));
    for index in run.listeners..run.slots.len() {
        if run.slots[index].is_some() {
            run.tally.entry(run.hostile[index - run.listeners]).or_default().open_at_end += 1;
        }
    }
    let mut hostile_tally = std::mem::take(&mut run.tally);
    hostile_tally.values_mut().for_each(KindTally::summarize);
    // Dropping the run closes every connection.
    let listener_report = run.report(end, end - start, Some(idle), Some(first), Some(last));
    let settle_started = Instant::now();
    let mut within_since: Option<Instant> = None;
    let after = loop {
        if server_lost.is_some() {
            break None;
        }
        let after = match read(pid) {
            Ok((_, after)) => after,
            Err(e) => {
                server_lost = Some(format!("after the soak: {e}"));
                continue;
            }
        };
        let now = Instant::now();
        let back = after.threads <= before.threads && after.fds <= before.fds;
        let within = after.threads <= before.threads + config.tolerance.threads
            && after.fds <= before.fds + config.tolerance.fds;
        within_since = if within { within_since.or(Some(now)) } else { None };
        let steady = within_since.is_some_and(|since| now - since >= SETTLE_STEADY);
        if back || steady || now - settle_started >= SETTLE_TIMEOUT {
            break Some(after);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
    let mix = config.run.mix;
    Ok(SoakReport {
        listeners: config.run.listeners,
        hostile: config.hostile,
        duration_secs: config.run.duration.as_secs_f64(),
        list_every_secs: secs(mix.list_every),
        switch_every_secs: secs(mix.switch_every),
        stop_every_secs: secs(mix.stop_every),
        churn_every_secs: secs(mix.churn_every),
        server_pid: pid,
        before,
        after,
        settle_secs: settle_started.elapsed().as_secs_f64(),
        server_lost,
        tolerance: config.tolerance,
        samples,
        listener_report,
        hostile_tally,
    })
}

impl Run<'_> {
    fn new(config: &RunConfig, hostile: u64, reopen_lost: bool) -> Result<Run<'_>, String> {
        let poll = Poll::new().map_err(|e| format!("cannot create the event loop: {e}"))?;
        let listeners = config.listeners as usize;
        let kinds = HostileKind::ALL;
        Ok(Run {
            config,
            poll,
            slots: (0..listeners + hostile as usize).map(|_| None).collect(),
            listeners,
            hostile: (0..hostile as usize).map(|i| kinds[i % kinds.len()]).collect(),
            tally: BTreeMap::new(),
            reopen_lost,
            timers: BinaryHeap::new(),
            metrics: Metrics::default(),
            rng: fastrand::Rng::with_seed(config.seed),
            next_generation: 0,
            reconnects: 0,
            ever_connected: vec![false; listeners],
            read_buf: vec![0; 64 * 1024],
        })
    }

    /// One turn of the loop: fires the timers that are due, then waits for socket events until
    /// `deadline` at most, and handles them.
    fn turn(&mut self, events: &mut Events, deadline: Instant) -> Result<(), String> {
        let now = Instant::now();
        while let Some(Reverse((at, slot, generation, due))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            self.fire(slot, generation, due, now);
        }
        let mut deadline = deadline;
        if let Some(Reverse((at, ..))) = self.timers.peek() {
            deadline = deadline.min(*at);
        }
        match self.poll.poll(events, Some(deadline.saturating_duration_since(now))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(format!("event loop failed: {e}")),
        }
        let now = Instant::now();
        for event in events.iter() {
            self.on_event(event.token().0, event, now);
        }
        Ok(())
    }

    /// The kind of a hostile slot; `None` for a listener's.
    fn hostile_kind(&self, index: usize) -> Option<HostileKind> {
        index.checked_sub(self.listeners).and_then(|i| self.hostile.get(i)).copied()
    }

    /// The listeners and hostile connections now, with the server's state, for a soak sample.
    fn sample(&self, elapsed: Duration, server: ServerState, cpu_percent: f64, now: Instant) -> Sample {
        let (listeners, hostile) = self.slots.split_at(self.listeners);
        let connected = listeners
            .iter()
            .flatten()
            .filter(|s| matches!(&s.protocol, Protocol::Native(n) if n.is_connected()))
            .count();
        let underruns: u64 = listeners.iter().flatten().map(|s| u64::from(s.underruns(now))).sum();
        Sample {
            elapsed_secs: elapsed.as_secs_f64(),
            listeners: connected as u64,
            hostile: hostile.iter().flatten().count() as u64,
            server,
            cpu_percent,
            failures: self.metrics.failed.values().sum(),
            underruns: self.metrics.underruns + underruns,
            stale_bytes: self.metrics.stale_bytes,
        }
    }

    fn open(&mut self, index: usize, now: Instant, earlier_underruns: u32) {
        let addr = self.config.target.addr();
        if let Some(kind) = self.hostile_kind(index) {
            self.tally.entry(kind).or_default().opened += 1;
        }
        let mut socket = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => return self.connect_failed(index, format!("connect: {e}"), now),
        };
        if let Err(e) =
            self.poll.registry().register(&mut socket, Token(index), Interest::READABLE | Interest::WRITABLE)
        {
            return self.connect_failed(index, format!("register: {e}"), now);
        }
        self.next_generation += 1;
        self.slots[index] = Some(Slot {
            socket,
            generation: self.next_generation,
            connect_started: now,
            protocol: Protocol::Connecting,
            inbox: Vec::new(),
            outbox: Vec::new(),
            earlier_underruns,
        });
    }

    fn schedule(&mut self, index: usize, generation: u64, after: Duration, due: Due, now: Instant) {
        self.timers.push(Reverse((now + after, index, generation, due)));
    }

    /// Starts the mixes of a listener, each at a random phase so they do not beat together.
    fn start_mixes(&mut self, index: usize, generation: u64, now: Instant) {
        let mix = self.config.mix;
        let plans = [
            (mix.list_every, Due::Native(TimerKind::List)),
            (mix.switch_every, Due::Native(TimerKind::Switch)),
            (mix.stop_every, Due::Native(TimerKind::Stop)),
            (mix.churn_every, Due::Churn),
        ];
        for (every, due) in plans {
            if let Some(every) = every {
                let phase = every.mul_f64(0.5 + self.rng.f64());
                self.schedule(index, generation, phase, due, now);
            }
        }
        if mix.keepalive {
            self.schedule(index, generation, KEEPALIVE_INTERVAL, Due::Native(TimerKind::Keepalive), now);
        }
    }

    fn fire(&mut self, index: usize, generation: u64, due: Due, now: Instant) {
        if due == Due::Reopen {
            if self.slots[index].is_none() {
                self.open(index, now, 0);
            }
            return;
        }
        let Some(slot) = self.slots[index].as_mut().filter(|s| s.generation == generation) else { return };
        match due {
            Due::Reopen => {}
            Due::HostileWake => {
                let Protocol::Hostile(hostile) = &mut slot.protocol else { return };
                let mut out = Vec::new();
                let step = hostile.on_wake(now, &mut out);
                self.hostile_step(index, generation, step, out, now);
            }
            Due::HostileResume => {
                self.hostile_receive(index, now);
                self.hostile_flush(index, now);
            }
            Due::Churn => {
                let underruns = slot.underruns(now);
                self.reconnects += 1;
                self.close(index);
                self.open(index, now, underruns);
            }
            Due::Native(kind) => {
                let Protocol::Native(native) = &mut slot.protocol else { return };
                let mut out = Vec::new();
                let result = native.on_timer(kind.into(), now, &mut self.metrics, &mut self.rng, &mut out);
                let mix = self.config.mix;
                let again = match kind {
                    TimerKind::List => mix.list_every,
                    TimerKind::Switch => mix.switch_every,
                    TimerKind::Stop => {
                        self.timers.push(Reverse((
                            now + Duration::from_millis(500),
                            index,
                            generation,
                            Due::Native(TimerKind::Resume),
                        )));
                        mix.stop_every
                    }
                    TimerKind::Resume => None,
                    TimerKind::Keepalive => {
                        let at = native.keepalive_due().max(now + Duration::from_millis(1));
                        self.timers.push(Reverse((at, index, generation, due)));
                        None
                    }
                };
                if let Some(every) = again {
                    self.schedule(index, generation, every, due, now);
                }
                match result {
                    Ok(()) => self.send(index, &out),
                    Err(e) => self.lose(index, e),
                }
            }
        }
    }

    fn on_event(&mut self, index: usize, event: &Event, now: Instant) {
        let hostile_kind = self.hostile_kind(index);
        let Some(slot) = self.slots.get_mut(index).and_then(Option::as_mut) else { return };
        if matches!(slot.protocol, Protocol::Connecting) {
            if let Ok(Some(e)) | Err(e) = slot.socket.take_error() {
                return self.connect_failed(index, format!("connect: {e}"), now);
            }
            match slot.socket.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => return self.connect_failed(index, format!("connect: {e}"), now),
            }
            let _ = slot.socket.set_nodelay(true);
            let generation = slot.generation;
            let started = slot.connect_started;
            if let Some(kind) = hostile_kind {
                let song = match &self.config.target {
                    Target::Native { song: Some(song), .. } => SongId(*song),
                    _ => SongId(1),
                };
                let mut out = Vec::new();
                let (hostile, wake) = Hostile::start(kind, started, now, song, &mut self.rng, &mut out);
                slot.protocol = Protocol::Hostile(hostile);
                self.hostile_step(index, generation, Ok(wake), out, now);
                return;
            }
            let hello = match &self.config.target {
                Target::Native { song, .. } => {
                    let (native, hello) = Native::start(started, Plan::Songs(*song), self.config.prebuffer);
                    slot.protocol = Protocol::Native(native);
                    self.start_mixes(index, generation, now);
                    hello
                }
                Target::Radio { .. } => {
                    let (native, hello) = Native::start(started, Plan::Radio, self.config.prebuffer);
                    slot.protocol = Protocol::Native(native);
                    self.start_mixes(index, generation, now);
                    hello
                }
                Target::Icy { host, path, metadata, .. } => {
                    let (icy, request) =
                        Icy::start(started, now, host, path, self.config.prebuffer, *metadata);
                    slot.protocol = Protocol::Icy(icy);
                    if let Some(every) = self.config.mix.churn_every {
                        self.schedule(index, generation, every, Due::Churn, now);
                    }
                    request
                }
            };
            self.send(index, &hello);
        }
        if let Some(Slot { protocol: Protocol::Hostile(hostile), .. }) = &mut self.slots[index] {
            if event.is_error() || event.is_read_closed() || event.is_write_closed() {
                hostile.cut_off();
            }
            // Reading first: a connection that has been cut off may hold a GOODBYE to be read.
            self.hostile_receive(index, now);
            if event.is_writable() {
                self.hostile_flush(index, now);
            }
            return;
        }
        if event.is_writable() {
            self.flush(index);
        }
        self.receive(index, now);
    }

    /// Acts on what a hostile connection asked for: a wake-up and bytes to send, or its end.
    fn hostile_step(
        &mut self,
        index: usize,
        generation: u64,
        step: Result<Option<Instant>, Ending>,
        out: Vec<u8>,
        now: Instant,
    ) {
        match step {
            Ok(wake) => {
                if let Some(at) = wake {
                    self.timers.push(Reverse((at, index, generation, Due::HostileWake)));
                }
                if let Some(slot) = self.slots[index].as_mut() {
                    slot.outbox.extend_from_slice(&out);
                }
                self.hostile_flush(index, now);
            }
            Err(ending) => self.end_hostile(index, ending, now),
        }
    }

    /// Writes what a hostile connection has to send; a flooder refills as long as TCP accepts,
    /// up to [`HOSTILE_BUDGET`] a turn.
    fn hostile_flush(&mut self, index: usize, now: Instant) {
        let mut budget = HOSTILE_BUDGET;
        loop {
            let Some(slot) = self.slots[index].as_mut() else { return };
            let Protocol::Hostile(hostile) = &mut slot.protocol else { return };
            if slot.outbox.is_empty() && !hostile.refill(&mut slot.outbox) {
                return;
            }
            if budget == 0 {
                self.timers.push(Reverse((now, index, slot.generation, Due::HostileResume)));
                return;
            }
            match slot.socket.write(&slot.outbox) {
                Ok(n) if n > 0 => {
                    slot.outbox.drain(..n);
                    budget = budget.saturating_sub(n);
                    self.tally.entry(hostile.kind()).or_default().bytes_sent += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(_) | Err(_) => {
                    let ending = hostile.on_closed(true);
                    return self.end_hostile(index, ending, now);
                }
            }
        }
    }

    /// Reads what arrived on a hostile connection (unless it is one that does not read), up to
    /// [`HOSTILE_BUDGET`] a turn.
    fn hostile_receive(&mut self, index: usize, now: Instant) {
        let mut budget = HOSTILE_BUDGET;
        loop {
            let Some(slot) = self.slots[index].as_mut() else { return };
            let Protocol::Hostile(hostile) = &mut slot.protocol else { return };
            if !hostile.reads() {
                return;
            }
            if budget == 0 {
                self.timers.push(Reverse((now, index, slot.generation, Due::HostileResume)));
                return;
            }
            match slot.socket.read(&mut self.read_buf) {
                Ok(0) => {
                    let ending = hostile.on_closed(false);
                    return self.end_hostile(index, ending, now);
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    self.tally.entry(hostile.kind()).or_default().bytes_received += n as u64;
                    let mut out = Vec::new();
                    let step = hostile.on_bytes(&self.read_buf[..n], now, &mut out);
                    if step != Ok(None) || !out.is_empty() {
                        let generation = slot.generation;
                        self.hostile_step(index, generation, step, out, now);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    let ending = hostile.on_closed(true);
                    return self.end_hostile(index, ending, now);
                }
            }
        }
    }

    /// A hostile connection is over: count how, close it, and open the next of its kind soon.
    fn end_hostile(&mut self, index: usize, ending: Ending, now: Instant) {
        let Some(kind) = self.hostile_kind(index) else { return };
        let open_for = self.slots[index].as_ref().map_or(Duration::ZERO, |s| now - s.connect_started);
        self.tally.entry(kind).or_default().record(kind, &ending, open_for);
        self.close(index);
        let after = HOSTILE_REOPEN.mul_f64(0.5 + self.rng.f64());
        self.timers.push(Reverse((now + after, index, 0, Due::Reopen)));
    }

    /// A connection could not be made.
    fn connect_failed(&mut self, index: usize, why: String, now: Instant) {
        if self.hostile_kind(index).is_some() {
            self.end_hostile(index, Ending::ConnectFailed(why), now);
        } else if self.slots[index].is_some() {
            self.lose(index, why);
        } else {
            self.metrics.fail(why);
            if self.reopen_lost {
                self.timers.push(Reverse((now + LISTENER_REOPEN, index, 0, Due::Reopen)));
            }
        }
    }

    fn receive(&mut self, index: usize, now: Instant) {
        loop {
            let Some(slot) = self.slots[index].as_mut() else { return };
            match slot.socket.read(&mut self.read_buf) {
                Ok(0) => return self.lose(index, "the server closed the connection".into()),
                Ok(n) => slot.inbox.extend_from_slice(&self.read_buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.lose(index, format!("read: {e}")),
            }
        }
        let Some(slot) = self.slots[index].as_mut() else { return };
        let mut out = Vec::new();
        let handshakes = self.metrics.connected;
        let result = match &mut slot.protocol {
            Protocol::Native(native) => {
                native.on_bytes(&slot.inbox, now, &mut self.metrics, &mut self.rng, &mut out)
            }
            Protocol::Icy(icy) => icy.on_bytes(&slot.inbox, now, &mut self.metrics),
            Protocol::Connecting | Protocol::Hostile(_) => Ok(0),
        };
        if self.metrics.connected > handshakes {
            self.ever_connected[index] = true;
        }
        match result {
            Ok(used) => {
                slot.inbox.drain(..used);
                self.send(index, &out);
            }
            Err(e) => self.lose(index, e),
        }
    }

    fn send(&mut self, index: usize, bytes: &[u8]) {
        let Some(slot) = self.slots[index].as_mut() else { return };
        slot.outbox.extend_from_slice(bytes);
        self.flush(index);
    }

    fn flush(&mut self, index: usize) {
        let Some(slot) = self.slots[index].as_mut() else { return };
        while !slot.outbox.is_empty() {
            match slot.socket.write(&slot.outbox) {
                Ok(n) => {
                    slot.outbox.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.lose(index, format!("write: {e}")),
            }
        }
    }

    /// A listener failed: count why and keep its underruns. In a soak it connects again.
    fn lose(&mut self, index: usize, reason: String) {
        let now = Instant::now();
        if let Some(slot) = &self.slots[index] {
            self.metrics.underruns += u64::from(slot.underruns(now));
        }
        self.metrics.fail(reason);
        self.close(index);
        if self.reopen_lost {
            self.timers.push(Reverse((now + LISTENER_REOPEN, index, 0, Due::Reopen)));
        }
    }

    fn close(&mut self, index: usize) {
        if let Some(mut slot) = self.slots[index].take() {
            let _ = self.poll.registry().deregister(&mut slot.socket);
        }
    }

    fn report(
        mut self,
        now: Instant,
        window: Duration,
        idle: Option<probe::ProcessSample>,
        start: Option<probe::ProcessSample>,
        end: Option<probe::ProcessSample>,
    ) -> Report {
        let mut behind = 0;
        let mut pending = 0;
        for (index, slot) in self.slots[..self.listeners].iter().enumerate() {
            let Some(slot) = slot else { continue };
            let handshaken = match &slot.protocol {
                Protocol::Native(native) => native.is_connected(),
                Protocol::Icy(icy) => icy.is_connected(),
                Protocol::Connecting | Protocol::Hostile(_) => false,
            };
            // A churning listener caught reconnecting at the end is not a failure.
            let handshaken = handshaken || self.ever_connected[index];
            pending += u64::from(!handshaken);
            let underruns = slot.underruns(now);
            self.metrics.underruns += u64::from(underruns);
            behind += u64::from(underruns > 0);
        }
        let m = &self.metrics;
        let lag = m.live.lags().summary();
        Report {
            target: self.config.target.name().into(),
            label: self.config.label.clone(),
            listeners: self.config.listeners,
            connected: self.ever_connected.iter().filter(|c| **c).count() as u64,
            pending,
            reconnects: self.reconnects,
            failed: m.failed.clone(),
            window_secs: window.as_secs_f64(),
            handshake: m.handshake.summary(),
            first_audio: m.first_audio.summary(),
            list_rtt: m.list_rtt.summary(),
            lead: m.lead.summary(),
            stale_bytes: m.stale_bytes,
            switches: m.switches,
            underruns: m.underruns,
            listeners_behind: behind,
            errors: m.errors,
            audio_bytes: m.audio_bytes,
            server_cpu_secs: start.zip(end).map(|(s, e)| e.cpu.saturating_sub(s.cpu).as_secs_f64()),
            server_rss: end.map(|e| e.rss),
            server_rss_idle: idle.map(|i| i.rss),
            server_threads: end.map(|e| e.threads),
            server_idle_cpu_secs: None,
            idle_secs: None,
            lag,
            jumps: m.jumps,
            track_changes: m.track_changes,
            meta_blocks: m.meta_blocks,
            meta_titles: m.meta_titles,
            no_metaint: m.no_metaint,
            junk_bytes: m.junk_bytes,
        }
    }
}
