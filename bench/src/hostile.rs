//! Hostile connections for the soak: seven ways of misusing a jukebox server, each a small
//! sans-IO state machine like [`crate::native::Native`]. The driver owns the sockets; these
//! only turn bytes and instants into bytes to send, wake-up times and, at the end, an
//! [`Ending`] that says how the connection ended.
//!
//! A hostile connection that the server closes is the server defending itself: a success. What
//! must not happen is the server answering one as if it were a well-behaved client, or never
//! letting go of it ([`Ending::Outlasted`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jukebox_protocol::frame::HEADER_LEN;
use jukebox_protocol::handshake::{HANDSHAKE_LEN, MAGIC};
use jukebox_protocol::{
    FrameHeader, GoodbyeReason, Hello, Kind, Message, Request, RequestId, SongId, Welcome,
};
use serde::{Deserialize, Serialize};

use crate::stats::{Samples, Summary};

/// Between two bytes of the slowloris's HELLO: its 8 bytes would take 21 s, twice the 10 s
/// HANDSHAKE_TIMEOUT of RFC §4.5.
pub const SLOWLORIS_GAP: Duration = Duration::from_secs(3);

/// How often the non-reader asks for a song again. One PLAY is not enough: on loopback the
/// server's socket send buffer grows to 4 MiB, more than a whole song, so a single stream
/// fits in the buffers and the server would only ever close the connection for idleness (and
/// a non-reader cannot see that). A PLAY a second restarts the stream's 4 s burst, fills the
/// buffers in a minute or two and keeps the connection from being idle, so the write timeout
/// (RFC §7.3) is what must end it. Each PLAY is also the probe that finds out the server has
/// let go: it is answered by a reset.
pub const NON_READER_REPLAY: Duration = Duration::from_secs(1);

/// How long a flooder floods before it hangs up by itself.
pub const FLOOD_FOR: Duration = Duration::from_secs(30);

/// Requests a flooder adds to its send buffer at a time (PLAY and LIST alternately).
const FLOOD_BATCH: usize = 256;

/// Largest run of random bytes a garbage connection sends.
const MAX_GARBAGE: usize = 512;

/// The length an oversized frame announces: 4 GiB, the most a u32 says (RFC §5.1 allows 64 KiB).
pub const OVERSIZED_LEN: u32 = u32::MAX;

/// The ways of misusing a server, one kind per hostile connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostileKind {
    /// Sends its HELLO one byte every [`SLOWLORIS_GAP`], never completing it in time.
    Slowloris,
    /// Connects and sends nothing.
    Silent,
    /// Sends random bytes that are not a HELLO.
    Garbage,
    /// Handshakes, then sends a frame header that announces a 4 GiB payload.
    Oversized,
    /// Handshakes, sends PLAY and never reads again (it repeats the PLAY, see
    /// [`NON_READER_REPLAY`]).
    NonReader,
    /// Handshakes, then pipelines PLAY and LIST as fast as TCP takes them, reading and
    /// discarding what comes, for [`FLOOD_FOR`].
    Flooder,
    /// Handshakes, sends half a frame and closes.
    Vanisher,
}

impl HostileKind {
    /// Every kind, in the order hostile connections are dealt out.
    pub const ALL: [HostileKind; 7] = [
        HostileKind::Slowloris,
        HostileKind::Silent,
        HostileKind::Garbage,
        HostileKind::Oversized,
        HostileKind::NonReader,
        HostileKind::Flooder,
        HostileKind::Vanisher,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            HostileKind::Slowloris => "slowloris",
            HostileKind::Silent => "silent",
            HostileKind::Garbage => "garbage",
            HostileKind::Oversized => "oversized",
            HostileKind::NonReader => "non-reader",
            HostileKind::Flooder => "flooder",
            HostileKind::Vanisher => "vanisher",
        }
    }

    /// How long the connection may stay open before the server is deemed never to close it:
    /// generous multiples of the server's own limits (HANDSHAKE_TIMEOUT 10 s, write timeout
    /// 30 s). A flooder and a vanisher end by themselves.
    fn patience(self) -> Duration {
        match self {
            HostileKind::Slowloris | HostileKind::Silent => Duration::from_secs(60),
            HostileKind::Garbage | HostileKind::Oversized => Duration::from_secs(30),
            HostileKind::NonReader => Duration::from_secs(300),
            HostileKind::Flooder => FLOOD_FOR,
            HostileKind::Vanisher => Duration::from_secs(30),
        }
    }
}

/// How a hostile connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The server closed the connection (end of stream), after a GOODBYE if `goodbye` is set.
    Closed {
        /// The reason of the GOODBYE received before, if any.
        goodbye: Option<GoodbyeReason>,
    },
    /// The connection was reset, or failed with another error, after a GOODBYE if `goodbye`.
    Reset {
        /// The reason of the GOODBYE received before, if any.
        goodbye: Option<GoodbyeReason>,
    },
    /// We closed it, as this kind does (a vanisher after its half frame, a flooder after
    /// [`FLOOD_FOR`]).
    Planned,
    /// The server kept it open for longer than this kind's patience.
    Outlasted,
    /// The server answered it as it must not (RFC §4.5, §5.4), for example a WELCOME to a
    /// HELLO that took longer than HANDSHAKE_TIMEOUT.
    Unexpected(String),
    /// The TCP connection could not be made.
    ConnectFailed(String),
}

impl Ending {
    /// The line a report shows for this ending; endings with the same label are counted together.
    pub fn label(&self) -> String {
        let goodbye =
            |g: &Option<GoodbyeReason>| g.map_or(String::new(), |r| format!("GOODBYE {}, ", reason_name(r)));
        match self {
            Ending::Closed { goodbye: g } => format!("{}closed by the server", goodbye(g)),
            Ending::Reset { goodbye: g } => format!("{}reset by the server", goodbye(g)),
            Ending::Planned => "closed by us, as planned".into(),
            Ending::Outlasted => "outlasted our patience: the server never closed it".into(),
            Ending::Unexpected(why) => format!("unexpected: {why}"),
            Ending::ConnectFailed(why) => format!("connect failed: {why}"),
        }
    }

    /// Whether this is how the server should treat `kind`: closing it in any way, or letting
    /// it end as planned. The oversized frame must be answered by GOODBYE PROTOCOL_ERROR
    /// (RFC §5.4.1).
    pub fn is_expected(&self, kind: HostileKind) -> bool {
        match self {
            Ending::Closed { goodbye } | Ending::Reset { goodbye } => match kind {
                HostileKind::Oversized => *goodbye == Some(GoodbyeReason::ProtocolError),
                _ => true,
            },
            Ending::Planned => true,
            Ending::Outlasted | Ending::Unexpected(_) | Ending::ConnectFailed(_) => false,
        }
    }
}

/// The RFC's name of a GOODBYE reason (§6.4).
fn reason_name(reason: GoodbyeReason) -> String {
    match reason {
        GoodbyeReason::Normal => "NORMAL".into(),
        GoodbyeReason::ShuttingDown => "SHUTTING_DOWN".into(),
        GoodbyeReason::IdleTimeout => "IDLE_TIMEOUT".into(),
        GoodbyeReason::ProtocolError => "PROTOCOL_ERROR".into(),
        GoodbyeReason::ServerBusy => "SERVER_BUSY".into(),
        GoodbyeReason::Other(v) => format!("reason {v}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Slowloris: this many HELLO bytes sent so far.
    Trickling(usize),
    /// Silent and garbage: waiting for the server to close.
    Waiting,
    /// HELLO sent, reading the WELCOME.
    Handshaking,
    /// Reading frames until the server closes (oversized, a non-reader that has been cut off).
    Frames,
    /// The non-reader: not reading.
    Deaf,
    /// The flooder.
    Flooding,
    /// The vanisher: half a frame handed to TCP, closing at the next wake-up.
    Vanishing,
}

/// One hostile connection's state, from the moment its TCP connection is established.
#[derive(Debug)]
pub struct Hostile {
    kind: HostileKind,
    opened: Instant,
    deadline: Instant,
    wake: Option<Instant>,
    phase: Phase,
    song: SongId,
    next_id: u32,
    welcome: Vec<u8>,
    frames: Frames,
}

/// What a call wants from the driver: `Ok(Some(at))` to be woken at `at`, `Err` to end.
pub type Step = Result<Option<Instant>, Ending>;

impl Hostile {
    /// A connection of `kind` whose TCP connection, begun at `opened`, is established at `now`.
    /// `song` is what the non-reader and the flooder PLAY. Returns it and its first wake-up;
    /// `out` gets the first bytes to send.
    pub fn start(
        kind: HostileKind,
        opened: Instant,
        now: Instant,
        song: SongId,
        rng: &mut fastrand::Rng,
        out: &mut Vec<u8>,
    ) -> (Hostile, Option<Instant>) {
        let phase = match kind {
            HostileKind::Slowloris => {
                out.push(MAGIC[0]);
                Phase::Trickling(1)
            }
            HostileKind::Silent => Phase::Waiting,
            HostileKind::Garbage => {
                garbage(rng, out);
                Phase::Waiting
            }
            _ => {
                out.extend_from_slice(&Hello::current().encode());
                Phase::Handshaking
            }
        };
        let mut hostile = Hostile {
            kind,
            opened,
            deadline: opened + kind.patience(),
            wake: None,
            phase,
            song,
            next_id: 1,
            welcome: Vec::with_capacity(HANDSHAKE_LEN),
            frames: Frames::default(),
        };
        let wake = match phase {
            Phase::Trickling(_) => hostile.wake_at(now + SLOWLORIS_GAP),
            _ => hostile.wake_at(hostile.deadline),
        };
        (hostile, wake)
    }

    /// Its kind.
    pub fn kind(&self) -> HostileKind {
        self.kind
    }

    /// Whether it reads what arrives. The non-reader does not, until the driver sees the
    /// connection fail ([`Hostile::cut_off`]).
    pub fn reads(&self) -> bool {
        self.phase != Phase::Deaf
    }

    /// The driver saw the connection reset or closed: a non-reader reads what is left, to
    /// learn whether a GOODBYE came before the end.
    pub fn cut_off(&mut self) {
        if self.phase == Phase::Deaf {
            self.phase = Phase::Frames;
        }
    }

    /// Whether it wants to send as fast as TCP accepts: then `out` gets the next batch.
    pub fn refill(&mut self, out: &mut Vec<u8>) -> bool {
        if self.phase != Phase::Flooding {
            return false;
        }
        for i in 0..FLOOD_BATCH {
            let id = self.next_request_id();
            let request =
                if i % 2 == 0 { Request::Play { id, song: self.song } } else { Request::List { id } };
            // Requests are a few bytes: they always fit a frame.
            let _ = Message::Request(request).encode(out);
        }
        true
    }

    /// Bytes from the server arrived at `now`; `out` collects bytes to send.
    pub fn on_bytes(&mut self, mut bytes: &[u8], now: Instant, out: &mut Vec<u8>) -> Step {
        match self.phase {
            Phase::Trickling(sent) if sent < HANDSHAKE_LEN => {
                Err(Ending::Unexpected("the server answered an incomplete HELLO".into()))
            }
            Phase::Trickling(_) => {
                let secs = (now - self.opened).as_secs_f64();
                Err(Ending::Unexpected(format!("WELCOME to a HELLO that took {secs:.0} s to arrive")))
            }
            Phase::Waiting if self.kind == HostileKind::Silent => {
                Err(Ending::Unexpected("the server sent bytes before any HELLO".into()))
            }
            Phase::Waiting => {
                Err(Ending::Unexpected("the server answered bytes that are not a HELLO".into()))
            }
            Phase::Handshaking => {
                let take = (HANDSHAKE_LEN - self.welcome.len()).min(bytes.len());
                self.welcome.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                let Some(welcome) = self.welcome.first_chunk::<HANDSHAKE_LEN>() else { return Ok(None) };
                match Welcome::parse(welcome) {
                    Ok(w) if w.version == 1 => {}
                    Ok(w) => return Err(Ending::Unexpected(format!("WELCOME version {}", w.version))),
                    Err(e) => return Err(Ending::Unexpected(format!("not a WELCOME: {e}"))),
                }
                let wake = self.after_handshake(now, out);
                self.frames.push(bytes)?;
                Ok(wake)
            }
            Phase::Frames | Phase::Flooding | Phase::Vanishing => {
                self.frames.push(bytes)?;
                Ok(None)
            }
            Phase::Deaf => Ok(None),
        }
    }

    fn after_handshake(&mut self, now: Instant, out: &mut Vec<u8>) -> Option<Instant> {
        match self.kind {
            HostileKind::Oversized => {
                // A header no sender may build through the protocol crate: written by hand.
                out.extend_from_slice(&OVERSIZED_LEN.to_be_bytes());
                out.extend_from_slice(&[Kind::Play.to_u8(), 0]);
                self.phase = Phase::Frames;
                None
            }
            HostileKind::NonReader => {
                self.play(out);
                self.phase = Phase::Deaf;
                self.wake_at(now + NON_READER_REPLAY)
            }
            HostileKind::Flooder => {
                self.phase = Phase::Flooding;
                None
            }
            HostileKind::Vanisher => {
                // Half of a PLAY: the whole header and half the payload.
                let mut frame = Vec::new();
                self.play(&mut frame);
                out.extend_from_slice(&frame[..HEADER_LEN + (frame.len() - HEADER_LEN) / 2]);
                self.phase = Phase::Vanishing;
                self.wake_at(now)
            }
            HostileKind::Slowloris | HostileKind::Silent | HostileKind::Garbage => None,
        }
    }

    /// A wake-up asked for earlier is due at `now`.
    pub fn on_wake(&mut self, now: Instant, out: &mut Vec<u8>) -> Step {
        if self.wake.is_none_or(|at| now < at) {
            return Ok(None);
        }
        self.wake = None;
        if self.phase == Phase::Vanishing {
            return Err(Ending::Planned);
        }
        if now >= self.deadline {
            let flooded = self.phase == Phase::Flooding;
            return Err(if flooded { Ending::Planned } else { Ending::Outlasted });
        }
        match self.phase {
            Phase::Trickling(sent) if sent < HANDSHAKE_LEN => {
                out.push(Hello::current().encode()[sent]);
                self.phase = Phase::Trickling(sent + 1);
                let next = if sent + 1 < HANDSHAKE_LEN { now + SLOWLORIS_GAP } else { self.deadline };
                Ok(self.wake_at(next))
            }
            Phase::Deaf => {
                self.play(out);
                Ok(self.wake_at(now + NON_READER_REPLAY))
            }
            _ => Ok(self.wake_at(self.deadline)),
        }
    }

    /// The server closed the connection (`reset` false) or it broke (`reset` true).
    pub fn on_closed(&self, reset: bool) -> Ending {
        let goodbye = self.frames.goodbye;
        if reset { Ending::Reset { goodbye } } else { Ending::Closed { goodbye } }
    }

    /// Asks to be woken at `at`, or at the deadline if that is sooner.
    fn wake_at(&mut self, at: Instant) -> Option<Instant> {
        let at = at.min(self.deadline);
        self.wake = Some(at);
        Some(at)
    }

    fn next_request_id(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    fn play(&mut self, out: &mut Vec<u8>) {
        let id = self.next_request_id();
        let _ = Message::Request(Request::Play { id, song: self.song }).encode(out);
    }
}

/// Random bytes that are not a HELLO: sometimes a correct start of the magic, so that the
/// server's byte-by-byte check is exercised at every position (RFC §4.5), then a wrong byte.
fn garbage(rng: &mut fastrand::Rng, out: &mut Vec<u8>) {
    let prefix = rng.usize(..MAGIC.len());
    out.extend_from_slice(&MAGIC[..prefix]);
    let wrong = loop {
        let b = rng.u8(..);
        if b != MAGIC[prefix] {
            break b;
        }
    };
    out.push(wrong);
    let len = rng.usize(..MAX_GARBAGE - prefix);
    out.extend((0..len).map(|_| rng.u8(..)));
}

/// Follows the frames a server sends without keeping them: payloads are skipped as they
/// stream past, except a GOODBYE's, whose reason is kept.
#[derive(Debug, Default)]
struct Frames {
    head: Vec<u8>,
    skip: usize,
    goodbye_payload: Option<(Vec<u8>, usize)>,
    goodbye: Option<GoodbyeReason>,
}

impl Frames {
    /// Takes the next bytes. A frame over the size limit is the server breaking the protocol.
    fn push(&mut self, mut bytes: &[u8]) -> Result<(), Ending> {
        while !bytes.is_empty() {
            if let Some((payload, len)) = &mut self.goodbye_payload {
                let take = (*len - payload.len()).min(bytes.len());
                payload.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if payload.len() == *len {
                    self.goodbye = Some(goodbye_reason(payload));
                    self.goodbye_payload = None;
                }
                continue;
            }
            if self.skip > 0 {
                let take = self.skip.min(bytes.len());
                self.skip -= take;
                bytes = &bytes[take..];
                continue;
            }
            let take = (HEADER_LEN - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            let Some(head) = self.head.first_chunk::<HEADER_LEN>() else { continue };
            let header = FrameHeader::parse(head)
                .map_err(|e| Ending::Unexpected(format!("the server sent a bad frame: {e}")))?;
            self.head.clear();
            let len = header.len as usize;
            if header.kind() == Some(Kind::Goodbye) {
                if len == 0 {
                    self.goodbye = Some(goodbye_reason(&[]));
                } else {
                    self.goodbye_payload = Some((Vec::with_capacity(len), len));
                }
            } else {
                self.skip = len;
            }
        }
        Ok(())
    }
}

/// A malformed GOODBYE is still a GOODBYE, with reason NORMAL (RFC §5.4.3).
fn goodbye_reason(payload: &[u8]) -> GoodbyeReason {
    match Message::decode(Kind::Goodbye.to_u8(), payload) {
        Ok(Message::Goodbye(g)) => g.reason,
        _ => GoodbyeReason::Normal,
    }
}

/// How the connections of one kind went.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KindTally {
    /// Connections opened (connect attempts).
    pub opened: u64,
    /// Connections still open when the soak ended.
    pub open_at_end: u64,
    /// Bytes handed to TCP.
    pub bytes_sent: u64,
    /// Bytes read.
    pub bytes_received: u64,
    /// How the others ended, by [`Ending::label`].
    pub endings: BTreeMap<String, EndingTally>,
}

/// How many connections ended one way, and how long they had been open.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndingTally {
    /// Connections that ended this way.
    pub count: u64,
    /// Whether this is what the server should do (see [`Ending::is_expected`]).
    pub expected: bool,
    /// Time from connect to the end; filled in by [`KindTally::summarize`].
    pub after: Option<Summary>,
    #[serde(skip)]
    samples: Samples,
}

impl KindTally {
    /// Counts one ending of a connection of `kind` that had been open for `open_for`.
    pub fn record(&mut self, kind: HostileKind, ending: &Ending, open_for: Duration) {
        let entry = self.endings.entry(ending.label()).or_insert_with(|| EndingTally {
            count: 0,
            expected: ending.is_expected(kind),
            after: None,
            samples: Samples::default(),
        });
        entry.count += 1;
        entry.samples.record(open_for);
    }

    /// Computes the time summaries, once, when the soak is over: sorting on every ending would
    /// cost more and more as the quick kinds pile up hundreds of thousands of them in an hour.
    pub fn summarize(&mut self) {
        for ending in self.endings.values_mut() {
            ending.after = ending.samples.summary();
        }
    }

    /// Connections that ended in a way the server should not have allowed.
    pub fn unexpected(&self) -> u64 {
        self.endings.values().filter(|e| !e.expected).map(|e| e.count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn welcome() -> [u8; 8] {
        Welcome { version: 1, server_max_version: 1 }.encode()
    }

    fn start(kind: HostileKind, now: Instant, out: &mut Vec<u8>) -> (Hostile, Option<Instant>) {
        Hostile::start(kind, now, now, SongId(1), &mut fastrand::Rng::with_seed(3), out)
    }

    #[test]
    fn slowloris_trickles_its_hello_and_is_due_to_be_closed_before_it_ends() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let (mut s, wake) = start(HostileKind::Slowloris, t0, &mut out);
        assert_eq!(out, b"J");
        let mut at = wake.expect("a wake-up for the next byte");
        for _ in 1..HANDSHAKE_LEN {
            at = s.on_wake(at, &mut out).expect("still trickling").expect("a next wake-up");
        }
        assert_eq!(out, Hello::current().encode());
        assert_eq!(at, t0 + Duration::from_secs(60), "then it waits for the server to give up");
        // A WELCOME after the whole slow HELLO means the server did not enforce its deadline.
        let late = t0 + SLOWLORIS_GAP * 7;
        assert!(matches!(s.on_bytes(&welcome(), late, &mut out), Err(Ending::Unexpected(_))));
    }

    #[test]
    fn garbage_never_starts_with_the_magic() {
        let mut rng = fastrand::Rng::with_seed(9);
        for _ in 0..1000 {
            let mut out = Vec::new();
            garbage(&mut rng, &mut out);
            assert!(!out.is_empty() && out.len() <= MAX_GARBAGE);
            assert!(!out.starts_with(&MAGIC));
        }
    }

    #[test]
    fn oversized_announces_four_gib_after_the_welcome_and_reads_the_goodbye() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let (mut o, _) = start(HostileKind::Oversized, t0, &mut out);
        assert_eq!(out, Hello::current().encode());
        out.clear();
        let goodbye = Message::Goodbye(jukebox_protocol::Goodbye {
            reason: GoodbyeReason::ProtocolError,
            text: "too big".into(),
        })
        .to_bytes()
        .expect("encodes");
        // The WELCOME and the first half of the GOODBYE arrive together.
        let mut bytes = welcome().to_vec();
        bytes.extend_from_slice(&goodbye[..5]);
        assert_eq!(o.on_bytes(&bytes, t0, &mut out), Ok(None));
        assert_eq!(out, [0xFF, 0xFF, 0xFF, 0xFF, 0x03, 0x00]);
        assert_eq!(o.on_bytes(&goodbye[5..], t0, &mut out), Ok(None));
        let ending = o.on_closed(false);
        assert_eq!(ending, Ending::Closed { goodbye: Some(GoodbyeReason::ProtocolError) });
        assert!(ending.is_expected(HostileKind::Oversized));
        assert!(!Ending::Closed { goodbye: None }.is_expected(HostileKind::Oversized));
    }

    #[test]
    fn non_reader_stops_reading_and_repeats_its_play() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let (mut n, _) = start(HostileKind::NonReader, t0, &mut out);
        out.clear();
        let wake = n.on_bytes(&welcome(), t0, &mut out).expect("handshake");
        assert!(!n.reads());
        assert!(matches!(
            Message::decode_from_slice(&out),
            Ok(Some((Message::Request(Request::Play { .. }), 14)))
        ));
        let at = wake.expect("a wake-up for the next PLAY");
        out.clear();
        assert!(n.on_wake(at, &mut out).expect("still open").is_some());
        assert_eq!(out.len(), 14);
        n.cut_off();
        assert!(n.reads());
        assert_eq!(n.on_closed(true), Ending::Reset { goodbye: None });
        // Far past its patience, it gives up on the server.
        assert_eq!(n.on_wake(t0 + Duration::from_secs(301), &mut out), Err(Ending::Outlasted));
    }

    #[test]
    fn flooder_pipelines_until_its_time_is_up() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let (mut f, wake) = start(HostileKind::Flooder, t0, &mut out);
        assert!(!f.refill(&mut out), "no requests before the handshake");
        out.clear();
        f.on_bytes(&welcome(), t0, &mut out).expect("handshake");
        assert!(f.refill(&mut out));
        assert_eq!(out.len(), FLOOD_BATCH / 2 * (14 + 10));
        assert_eq!(wake, Some(t0 + FLOOD_FOR));
        assert_eq!(f.on_wake(t0 + FLOOD_FOR, &mut out), Err(Ending::Planned));
    }

    #[test]
    fn vanisher_sends_half_a_frame_then_leaves() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let (mut v, _) = start(HostileKind::Vanisher, t0, &mut out);
        out.clear();
        let wake = v.on_bytes(&welcome(), t0, &mut out).expect("handshake");
        assert_eq!(out.len(), HEADER_LEN + 4);
        assert_eq!(v.on_wake(wake.expect("at once"), &mut out), Err(Ending::Planned));
    }

    #[test]
    fn a_server_that_answers_garbage_or_silence_is_flagged() {
        let t0 = Instant::now();
        for kind in [HostileKind::Garbage, HostileKind::Silent] {
            let mut out = Vec::new();
            let (mut h, _) = start(kind, t0, &mut out);
            assert!(matches!(h.on_bytes(b"x", t0, &mut out), Err(Ending::Unexpected(_))));
        }
        assert!(Ending::Closed { goodbye: None }.is_expected(HostileKind::Garbage));
        assert!(!Ending::Outlasted.is_expected(HostileKind::Silent));
    }

    #[test]
    fn tallies_group_endings_by_label() {
        let mut t = KindTally::default();
        t.record(HostileKind::Silent, &Ending::Closed { goodbye: None }, Duration::from_secs(10));
        t.record(HostileKind::Silent, &Ending::Closed { goodbye: None }, Duration::from_secs(11));
        t.record(HostileKind::Silent, &Ending::Outlasted, Duration::from_secs(60));
        t.summarize();
        assert_eq!(t.endings["closed by the server"].count, 2);
        assert_eq!(t.endings["closed by the server"].after.map(|s| s.max_us), Some(11_000_000));
        assert_eq!(t.unexpected(), 1);
    }
}
