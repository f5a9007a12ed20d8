//! The event loop: many simulated listeners on one thread (mio), so that thousands of them
//! cost neither threads nor processes. Connections are opened at a steady rate, the measured
//! window starts once all are open, and the server's CPU and memory are read from `/proc` at
//! its edges.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jukebox_protocol::frame::KEEPALIVE_INTERVAL;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::icy::Icy;
use crate::metrics::Metrics;
use crate::native::{Native, Timer};
use crate::probe;
use crate::report::Report;

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
    /// An HTTP/ICY stream.
    Icy {
        /// The server.
        addr: SocketAddr,
        /// Host header.
        host: String,
        /// Mount path, e.g. `/stream.mp3`.
        path: String,
    },
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
    /// Seed of the random choices (songs, timer phases).
    pub seed: u64,
}

#[derive(Debug)]
enum Protocol {
    Connecting,
    Native(Native),
    Icy(Icy),
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
                Protocol::Connecting => 0,
            }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Native(TimerKind),
    Churn,
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
    slots: Vec<Option<Slot>>,
    timers: BinaryHeap<Reverse<(Instant, usize, u64, Due)>>,
    metrics: Metrics,
    rng: fastrand::Rng,
    next_generation: u64,
    reconnects: u64,
    /// Listeners (by slot) that completed a handshake at least once.
    ever_connected: Vec<bool>,
    read_buf: Vec<u8>,
}

/// Runs one load and returns what it measured.
pub fn run(config: &RunConfig) -> Result<Report, String> {
    let poll = Poll::new().map_err(|e| format!("cannot create the event loop: {e}"))?;
    let mut run = Run {
        config,
        poll,
        slots: (0..config.listeners).map(|_| None).collect(),
        timers: BinaryHeap::new(),
        metrics: Metrics::default(),
        rng: fastrand::Rng::with_seed(config.seed),
        next_generation: 0,
        reconnects: 0,
        ever_connected: vec![false; config.listeners as usize],
        read_buf: vec![0; 64 * 1024],
    };
    let idle = config.server_pid.map(probe::sample).transpose()?;
    let ramp_step = Duration::from_secs_f64(1.0 / config.ramp_per_sec.max(1) as f64);
    let started = Instant::now();
    let mut opened = 0usize;
    let mut window: Option<(Instant, Option<probe::ProcessSample>)> = None;
    let mut events = Events::with_capacity(4096);
    loop {
        let now = Instant::now();
        while opened < run.slots.len() && started + ramp_step * opened as u32 <= now {
            run.open(opened, now, 0);
            opened += 1;
        }
        if window.is_none() && opened == run.slots.len() {
            window = Some((now, config.server_pid.map(probe::sample).transpose()?));
        }
        if let Some((start, _)) = window
            && now >= start + config.duration
        {
            break;
        }
        while let Some(Reverse((at, slot, generation, due))) = run.timers.peek().copied() {
            if at > now {
                break;
            }
            run.timers.pop();
            run.fire(slot, generation, due, now);
        }
        let mut deadline = now + Duration::from_millis(100);
        if opened < run.slots.len() {
            deadline = deadline.min(started + ramp_step * opened as u32);
        }
        if let Some(Reverse((at, ..))) = run.timers.peek() {
            deadline = deadline.min(*at);
        }
        if let Some((start, _)) = window {
            deadline = deadline.min(start + config.duration);
        }
        match run.poll.poll(&mut events, Some(deadline.saturating_duration_since(now))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("event loop failed: {e}")),
        }
        let now = Instant::now();
        for event in &events {
            run.on_event(event.token().0, event.is_writable(), now);
        }
    }
    let end = Instant::now();
    let end_sample = config.server_pid.map(probe::sample).transpose()?;
    let (window_start, start_sample) = window.unwrap_or((end, None));
    Ok(run.report(end, end - window_start, idle, start_sample, end_sample))
}

impl Run<'_> {
    fn open(&mut self, index: usize, now: Instant, earlier_underruns: u32) {
        let addr = match &self.config.target {
            Target::Native { addr, .. } | Target::Icy { addr, .. } => *addr,
        };
        let mut socket = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => return self.metrics.fail(format!("connect: {e}")),
        };
        if let Err(e) =
            self.poll.registry().register(&mut socket, Token(index), Interest::READABLE | Interest::WRITABLE)
        {
            return self.metrics.fail(format!("register: {e}"));
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
        let Some(slot) = self.slots[index].as_mut().filter(|s| s.generation == generation) else { return };
        match due {
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

    fn on_event(&mut self, index: usize, writable: bool, now: Instant) {
        let Some(slot) = self.slots.get_mut(index).and_then(Option::as_mut) else { return };
        if matches!(slot.protocol, Protocol::Connecting) {
            if let Ok(Some(e)) | Err(e) = slot.socket.take_error() {
                return self.lose(index, format!("connect: {e}"));
            }
            match slot.socket.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => return self.lose(index, format!("connect: {e}")),
            }
            let _ = slot.socket.set_nodelay(true);
            let generation = slot.generation;
            let started = slot.connect_started;
            let hello = match &self.config.target {
                Target::Native { song, .. } => {
                    let (native, hello) = Native::start(started, *song, self.config.prebuffer);
                    slot.protocol = Protocol::Native(native);
                    self.start_mixes(index, generation, now);
                    hello
                }
                Target::Icy { host, path, .. } => {
                    let (icy, request) = Icy::start(started, host, path, self.config.prebuffer);
                    slot.protocol = Protocol::Icy(icy);
                    if let Some(every) = self.config.mix.churn_every {
                        self.schedule(index, generation, every, Due::Churn, now);
                    }
                    request
                }
            };
            self.send(index, &hello);
        }
        if writable {
            self.flush(index);
        }
        self.receive(index, now);
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
            Protocol::Connecting => Ok(0),
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

    /// A listener failed: count why and keep its underruns.
    fn lose(&mut self, index: usize, reason: String) {
        let now = Instant::now();
        if let Some(slot) = &self.slots[index] {
            self.metrics.underruns += u64::from(slot.underruns(now));
        }
        self.metrics.fail(reason);
        self.close(index);
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
        for (index, slot) in self.slots.iter().enumerate() {
            let Some(slot) = slot else { continue };
            let handshaken = match &slot.protocol {
                Protocol::Native(native) => native.is_connected(),
                Protocol::Icy(icy) => icy.is_connected(),
                Protocol::Connecting => false,
            };
            // A churning listener caught reconnecting at the end is not a failure.
            let handshaken = handshaken || self.ever_connected[index];
            pending += u64::from(!handshaken);
            let underruns = slot.underruns(now);
            self.metrics.underruns += u64::from(underruns);
            behind += u64::from(underruns > 0);
        }
        let m = &self.metrics;
        Report {
            target: match self.config.target {
                Target::Native { .. } => "native".into(),
                Target::Icy { .. } => "icy".into(),
            },
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
        }
    }
}
