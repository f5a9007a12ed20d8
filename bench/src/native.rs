//! One simulated jukebox client: handshake, LIST to learn the songs, PLAY, then consume audio
//! through a virtual player, with the optional LIST / switch / stop mixes. Or, as a radio
//! listener, TUNE instead of LIST and PLAY (RFC §6.1.6), hear the station through the same
//! player, and check what RFC §7.5 promises of a radio stream: a TRACK_CHANGED with Offset 0
//! before the first AUDIO, contiguous Offsets, Position ms in station time.

use std::time::{Duration, Instant};

use jukebox_protocol::frame::KEEPALIVE_INTERVAL;
use jukebox_protocol::mp3::{AUDIO_HEADER_LEN, AudioHeader, StreamClock};
use jukebox_protocol::{Audio, Hello, Message, Request, RequestId, SongId, StreamId, Welcome};

use crate::live::{STATION, StationMap};
use crate::metrics::Metrics;
use crate::playout::Playout;

/// What a listener listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// LIST, then PLAY songs one after the other: this one, or each at random from the LIST.
    Songs(Option<u32>),
    /// TUNE to the station; a switch TUNEs again.
    Radio,
}

/// Something a listener wants done later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Send a LIST while streaming.
    List,
    /// PLAY another song while one plays.
    Switch,
    /// STOP, then PLAY again shortly after.
    Stop,
    /// PLAY after a STOP.
    Resume,
    /// PING if nothing has been sent for KEEPALIVE_INTERVAL (RFC §8.1).
    Keepalive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitWelcome,
    AwaitSongs,
    Running,
}

/// What a listener knows of its radio stream.
#[derive(Debug, Default)]
struct RadioStream {
    /// The TRACK_CHANGED with Offset 0 has arrived: AUDIO may follow (RFC §7.5.2).
    announced: bool,
    /// Bytes of the stream received: the next AUDIO's Offset.
    bytes: u64,
    /// Playing time of the audio received: the stream position its player counts in.
    stream_time: Duration,
    /// Stream time to station time.
    map: StationMap,
}

/// A native listener's protocol state.
#[derive(Debug)]
pub struct Native {
    phase: Phase,
    started: Instant,
    next_id: u32,
    /// When the last request was sent, for the keepalive.
    last_request: Instant,
    songs: Vec<SongId>,
    plan: Plan,
    prebuffer: Duration,
    /// The LIST in flight and when it was sent; the first one only learns the songs.
    list: Option<(RequestId, Instant, bool)>,
    /// When the last PLAY (or TUNE) was sent, until its PLAYING (TUNED) arrives.
    play_sent: Option<Instant>,
    /// When the PLAY that started the current stream was sent, until its first AUDIO arrives:
    /// audio of the previous stream that is still arriving must not count.
    first_audio_due: Option<Instant>,
    current: Option<StreamId>,
    /// Set while the current stream is the station's.
    radio: Option<RadioStream>,
    playout: Option<Playout>,
    last_lead_sample: Option<Instant>,
    /// Underruns of this listener's finished streams.
    pub past_underruns: u32,
}

impl Native {
    /// A listener whose TCP connection has just been established; returns it with its HELLO.
    pub fn start(now: Instant, plan: Plan, prebuffer: Duration) -> (Native, Vec<u8>) {
        let native = Native {
            phase: Phase::AwaitWelcome,
            started: now,
            next_id: 1,
            last_request: now,
            songs: Vec::new(),
            plan,
            prebuffer,
            list: None,
            play_sent: None,
            first_audio_due: None,
            current: None,
            radio: None,
            playout: None,
            last_lead_sample: None,
            past_underruns: 0,
        };
        (native, Hello::current().encode().to_vec())
    }

    fn request(
        &mut self,
        now: Instant,
        make: impl FnOnce(RequestId) -> Request,
        out: &mut Vec<u8>,
    ) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.last_request = now;
        // Requests are a few bytes: they always fit a frame.
        let _ = Message::Request(make(id)).encode(out);
        id
    }

    fn pick_song(&self, fixed: Option<u32>, rng: &mut fastrand::Rng) -> Option<SongId> {
        match fixed {
            Some(id) => Some(SongId(id)),
            None if self.songs.is_empty() => None,
            None => Some(self.songs[rng.usize(..self.songs.len())]),
        }
    }

    /// Starts a stream: PLAY a song, or TUNE.
    fn play(&mut self, now: Instant, rng: &mut fastrand::Rng, out: &mut Vec<u8>) -> Result<(), String> {
        match self.plan {
            Plan::Songs(fixed) => {
                let song = self.pick_song(fixed, rng).ok_or("the server lists no songs")?;
                self.request(now, |id| Request::Play { id, song }, out);
            }
            Plan::Radio => {
                self.request(now, |id| Request::Tune { id }, out);
            }
        }
        self.play_sent = Some(now);
        Ok(())
    }

    /// Handles received bytes; returns how many were consumed. `out` collects bytes to send.
    pub fn on_bytes(
        &mut self,
        bytes: &[u8],
        now: Instant,
        metrics: &mut Metrics,
        rng: &mut fastrand::Rng,
        out: &mut Vec<u8>,
    ) -> Result<usize, String> {
        if self.phase == Phase::AwaitWelcome {
            let Some(head) = bytes.first_chunk::<8>() else { return Ok(0) };
            let welcome = Welcome::parse(head).map_err(|e| e.to_string())?;
            if welcome.version != 1 {
                return Err(format!(
                    "server refused version 1 (speaks up to {})",
                    welcome.server_max_version
                ));
            }
            metrics.handshake.record(now - self.started);
            metrics.connected += 1;
            if self.plan == Plan::Radio {
                self.phase = Phase::Running;
                self.play(now, rng, out)?;
                return Ok(8);
            }
            let id = self.request(now, |id| Request::List { id }, out);
            self.list = Some((id, now, false));
            self.phase = Phase::AwaitSongs;
            return Ok(8);
        }
        let mut used = 0;
        while let Some((message, len)) =
            Message::decode_from_slice(&bytes[used..]).map_err(|e| e.to_string())?
        {
            used += len;
            self.on_message(message, now, metrics, rng, out)?;
        }
        Ok(used)
    }

    fn on_message(
        &mut self,
        message: Message,
        now: Instant,
        metrics: &mut Metrics,
        rng: &mut fastrand::Rng,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        match message {
            Message::ListPage(page) => {
                let Some((id, sent, timed)) = self.list else { return Ok(()) };
                if page.id != id {
                    return Ok(());
                }
                if self.phase == Phase::AwaitSongs {
                    self.songs.extend(page.songs.iter().map(|s| s.id));
                }
                if page.last {
                    self.list = None;
                    if timed {
                        metrics.list_rtt.record(now - sent);
                    }
                    if self.phase == Phase::AwaitSongs {
                        self.phase = Phase::Running;
                        self.play(now, rng, out)?;
                    }
                }
            }
            Message::Playing(playing) => {
                self.finish_stream(now);
                self.current = Some(playing.stream);
                self.radio = None;
                self.first_audio_due = self.play_sent.take();
                self.playout = Some(Playout::new(self.prebuffer));
            }
            Message::Tuned(tuned) => {
                self.finish_stream(now);
                self.current = Some(tuned.stream);
                self.radio = Some(RadioStream::default());
                self.first_audio_due = self.play_sent.take();
                self.playout = Some(Playout::new(self.prebuffer));
            }
            Message::TrackChanged(track) => {
                metrics.track_changes += 1;
                let Some(radio) = self.radio.as_mut().filter(|_| Some(track.stream) == self.current) else {
                    return Ok(());
                };
                if !radio.announced && track.offset != 0 {
                    return Err(format!(
                        "the stream's first TRACK_CHANGED has Offset {}, not 0 (RFC §7.5.2)",
                        track.offset
                    ));
                }
                if track.offset < radio.bytes {
                    return Err(format!(
                        "TRACK_CHANGED names Offset {} after {} bytes of the stream arrived (RFC §7.5.2)",
                        track.offset, radio.bytes
                    ));
                }
                radio.announced = true;
            }
            Message::Stopped(_) => {
                self.finish_stream(now);
                self.current = None;
                self.radio = None;
            }
            Message::Audio(audio) => {
                metrics.audio_bytes += audio.data.len() as u64;
                if Some(audio.stream) != self.current {
                    metrics.stale_bytes += audio.data.len() as u64;
                    return Ok(());
                }
                if let Some(sent) = self.first_audio_due.take() {
                    metrics.first_audio.record(now - sent);
                }
                if self.radio.is_some() {
                    return self.on_radio_audio(&audio, now, metrics);
                }
                let start = Duration::from_millis(u64::from(audio.position_ms));
                let end = start + frames_duration(&audio.data);
                if let Some(playout) = self.playout.as_mut() {
                    playout.on_audio(now, start, end);
                    if self.last_lead_sample.is_none_or(|t| now - t >= Duration::from_secs(1)) {
                        self.last_lead_sample = Some(now);
                        metrics.lead.record(playout.lead(now));
                    }
                }
            }
            Message::EndOfStream(end) => {
                if Some(end.stream) == self.current {
                    if let Some(playout) = self.playout.as_mut() {
                        playout.on_end(now);
                    }
                    if self.radio.is_some() {
                        // The station went off the air (RFC §7.5.4): nothing to listen to.
                        return Err("the station went off the air (END_OF_STREAM)".into());
                    }
                    // A listener keeps listening: the next song.
                    self.play(now, rng, out)?;
                }
            }
            Message::Error(error) => {
                metrics.errors += 1;
                return Err(format!("server error {}: {}", error.code, error.message));
            }
            Message::Goodbye(goodbye) => return Err(format!("server said goodbye: {}", goodbye.text)),
            Message::Pong { .. }
            | Message::Request(_)
            | Message::Unknown { .. }
            | Message::Scanning(_)
            | Message::LibraryChanged(_)
            | Message::Queued(_)
            | Message::QueuePage(_)
            | Message::Relayed(_)
            | Message::Redirect(_)
            | Message::Paused(_)
            | Message::Resumed(_)
            | Message::SongInfo(_)
            | Message::Subscribed(_)
            | Message::Event(_) => {}
        }
        Ok(())
    }

    /// An AUDIO of the current radio stream: checked against RFC §7.5, played out, and its
    /// station time held against the live edge.
    fn on_radio_audio(&mut self, audio: &Audio, now: Instant, metrics: &mut Metrics) -> Result<(), String> {
        let (Some(radio), Some(playout)) = (self.radio.as_mut(), self.playout.as_mut()) else {
            return Ok(());
        };
        if !radio.announced {
            return Err("AUDIO before the stream's first TRACK_CHANGED (RFC §7.5.2)".into());
        }
        if audio.offset != radio.bytes {
            return Err(format!(
                "AUDIO with Offset {} after {} bytes of the stream (RFC §7.5.4: Offsets stay contiguous)",
                audio.offset, radio.bytes
            ));
        }
        let duration = frames_duration(&audio.data);
        let base = *metrics.station_base.get_or_insert(audio.position_ms);
        // Unwrapped around the run's first Position ms: a run is far shorter than 2^31 ms.
        let station_us = i64::from(audio.position_ms.wrapping_sub(base) as i32) * 1000;
        let (start, end) = (radio.stream_time, radio.stream_time + duration);
        if radio.map.chunk(micros(start), station_us, micros(duration)) {
            metrics.jumps += 1;
        }
        radio.stream_time = end;
        radio.bytes += audio.data.len() as u64;
        playout.on_audio(now, start, end);
        metrics.live.received(STATION, now, station_us + micros(duration));
        if let Some(played) = playout.played(now)
            && let Some(station) = radio.map.station_at(micros(played))
        {
            metrics.live.playing(STATION, now, station);
        }
        if self.last_lead_sample.is_none_or(|t| now - t >= Duration::from_secs(1)) {
            self.last_lead_sample = Some(now);
            metrics.lead.record(playout.lead(now));
        }
        Ok(())
    }

    /// The played-out part of a stream that is over: its underruns are final.
    fn finish_stream(&mut self, now: Instant) {
        if let Some(playout) = self.playout.take() {
            // Left by the listener: a dry spell in progress is not counted against the server.
            let _ = now;
            self.past_underruns += playout.completed_underruns();
        }
    }

    /// Whether the handshake has completed.
    pub fn is_connected(&self) -> bool {
        self.phase != Phase::AwaitWelcome
    }

    /// When a PING is due if nothing else is sent before: KEEPALIVE_INTERVAL after the last
    /// request (RFC §8.1).
    pub fn keepalive_due(&self) -> Instant {
        self.last_request + KEEPALIVE_INTERVAL
    }

    /// Underruns so far, including one in progress.
    pub fn underruns(&self, now: Instant) -> u32 {
        self.past_underruns + self.playout.as_ref().map_or(0, |p| p.underruns(now))
    }

    /// Acts on a timer; a timer that does not fit the listener's state (a LIST already in
    /// flight, nothing playing to switch or stop) is skipped. An error loses the listener.
    pub fn on_timer(
        &mut self,
        timer: Timer,
        now: Instant,
        metrics: &mut Metrics,
        rng: &mut fastrand::Rng,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        if self.phase != Phase::Running {
            return Ok(());
        }
        match timer {
            Timer::List if self.list.is_none() && self.current.is_some() => {
                let id = self.request(now, |id| Request::List { id }, out);
                self.list = Some((id, now, true));
            }
            Timer::Switch if self.current.is_some() => {
                metrics.switches += 1;
                self.play(now, rng, out)?;
            }
            Timer::Stop if self.current.is_some() => {
                metrics.switches += 1;
                self.request(now, |id| Request::Stop { id }, out);
            }
            Timer::Resume if self.current.is_none() => self.play(now, rng, out)?,
            Timer::Keepalive if now >= self.keepalive_due() => {
                self.request(now, |id| Request::Ping { id }, out);
            }
            _ => {}
        }
        Ok(())
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Playing time of the whole MPEG audio frames in `data`.
pub(crate) fn frames_duration(data: &[u8]) -> Duration {
    let mut clock = StreamClock::default();
    let mut pos = 0;
    while let Some(header) =
        data.get(pos..).filter(|r| r.len() >= AUDIO_HEADER_LEN).and_then(AudioHeader::parse)
    {
        clock.advance(&header);
        pos += header.len;
    }
    clock.now()
}

#[cfg(test)]
mod tests {
    use jukebox_protocol::{ListPage, SongEntry};

    use super::*;

    /// A listener that has handshaken, learned one song and sent its PLAY at `t0`.
    fn running(t0: Instant) -> Native {
        let (mut native, _hello) = Native::start(t0, Plan::Songs(None), Duration::from_millis(200));
        let (mut metrics, mut rng, mut out) = (Metrics::default(), fastrand::Rng::with_seed(1), Vec::new());
        let welcome = jukebox_protocol::Welcome { version: 1, server_max_version: 1 }.encode();
        assert_eq!(native.on_bytes(&welcome, t0, &mut metrics, &mut rng, &mut out), Ok(8));
        let song = SongEntry {
            id: SongId(1),
            duration_ms: 1000,
            size: 1,
            title: String::new(),
            artist: String::new(),
            album: String::new(),
        };
        let page = Message::ListPage(ListPage { id: RequestId(1), last: true, songs: vec![song] });
        let page = page.to_bytes().expect("encodes");
        assert_eq!(native.on_bytes(&page, t0, &mut metrics, &mut rng, &mut out), Ok(page.len()));
        native
    }

    #[test]
    fn keepalive_pings_only_after_fifteen_silent_seconds() {
        let t0 = Instant::now();
        let mut native = running(t0);
        let (mut metrics, mut rng, mut out) = (Metrics::default(), fastrand::Rng::with_seed(1), Vec::new());
        assert_eq!(native.keepalive_due(), t0 + KEEPALIVE_INTERVAL);
        let early = t0 + KEEPALIVE_INTERVAL / 2;
        native.on_timer(Timer::Keepalive, early, &mut metrics, &mut rng, &mut out).expect("no error");
        assert!(out.is_empty(), "a request went out recently: no PING yet");
        let due = native.keepalive_due();
        native.on_timer(Timer::Keepalive, due, &mut metrics, &mut rng, &mut out).expect("no error");
        assert!(matches!(
            Message::decode_from_slice(&out),
            Ok(Some((Message::Request(Request::Ping { .. }), _)))
        ));
        assert_eq!(native.keepalive_due(), due + KEEPALIVE_INTERVAL);
    }
}
