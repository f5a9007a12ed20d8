//! One simulated ICY/HTTP listener (Icecast, SHOUTcast, our own ICY endpoint): `GET` the mount,
//! then account the MP3 body through the same virtual player as a native listener.
//!
//! With `Icy-MetaData: 1` asked for and an `icy-metaint: N` answered, the body interleaves
//! metadata with the audio: after every N audio bytes, one length byte L and 16·L bytes of
//! metadata (`StreamTitle='...';`, padded with NULs; L = 0 when nothing changed).
//! [`MetaStripper`] takes the blocks out wherever the reads split them, and each block must
//! read as metadata ([`parse_meta`]): a block misplaced by even one byte would be MP3 data,
//! which does not, and the listener fails with where it happened.

use std::time::{Duration, Instant};

use crate::live::ClockId;
use crate::metrics::Metrics;
use crate::playout::{FrameTimer, Playout};

/// Largest response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// An ICY listener's state.
#[derive(Debug)]
pub struct Icy {
    started: Instant,
    request_sent: Instant,
    head_done: bool,
    got_audio: bool,
    /// Whether the request asked for metadata.
    ask_metadata: bool,
    /// Set when the response announced `icy-metaint`.
    stripper: Option<MetaStripper>,
    /// The audio of the current read, metadata taken out (reused).
    audio: Vec<u8>,
    timer: FrameTimer,
    playout: Playout,
    /// This listener's stream-time clock for the lag ([`crate::live`]).
    clock: Option<ClockId>,
    last_lead_sample: Option<Instant>,
}

impl Icy {
    /// A listener whose TCP connection was started at `started` and established at `now`;
    /// returns it with its request. With `metadata`, the request asks for ICY metadata.
    pub fn start(
        started: Instant,
        now: Instant,
        host: &str,
        path: &str,
        prebuffer: Duration,
        metadata: bool,
    ) -> (Icy, Vec<u8>) {
        let meta = if metadata { "Icy-MetaData: 1\r\n" } else { "" };
        let request = format!(
            "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: jukebox-bench\r\nAccept: */*\r\n{meta}\r\n"
        )
        .into_bytes();
        let icy = Icy {
            started,
            request_sent: now,
            head_done: false,
            got_audio: false,
            ask_metadata: metadata,
            stripper: None,
            audio: Vec::new(),
            timer: FrameTimer::default(),
            playout: Playout::new(prebuffer),
            clock: None,
            last_lead_sample: None,
        };
        (icy, request)
    }

    /// Handles received bytes; returns how many were consumed.
    pub fn on_bytes(&mut self, bytes: &[u8], now: Instant, metrics: &mut Metrics) -> Result<usize, String> {
        let mut used = 0;
        if !self.head_done {
            let Some(head) = parse_head(bytes)? else { return Ok(0) };
            self.head_done = true;
            metrics.connected += 1;
            metrics.handshake.record(now - self.started);
            if self.ask_metadata {
                match head.metaint {
                    Some(metaint) => self.stripper = Some(MetaStripper::new(metaint)?),
                    None => metrics.no_metaint += 1,
                }
            }
            used = head.len;
        }
        let body = &bytes[used..];
        if body.is_empty() {
            return Ok(used);
        }
        let mut audio = std::mem::take(&mut self.audio);
        audio.clear();
        match self.stripper.as_mut() {
            Some(stripper) => {
                for (at, block) in stripper.push(body, &mut audio) {
                    metrics.meta_blocks += 1;
                    let title = parse_meta(&block)
                        .map_err(|e| format!("ICY metadata after {at} audio bytes: {e}"))?;
                    metrics.meta_titles += u64::from(title.is_some());
                }
            }
            None => audio.extend_from_slice(body),
        }
        let result = self.on_audio(&audio, now, metrics);
        self.audio = audio;
        result.map(|()| bytes.len())
    }

    fn on_audio(&mut self, audio: &[u8], now: Instant, metrics: &mut Metrics) -> Result<(), String> {
        if audio.is_empty() {
            return Ok(());
        }
        if !self.got_audio {
            self.got_audio = true;
            metrics.first_audio.record(now - self.request_sent);
        }
        metrics.audio_bytes += audio.len() as u64;
        let junk = self.timer.junk();
        let (start, end) = self.timer.push(audio);
        metrics.junk_bytes += self.timer.junk() - junk;
        if end > start {
            self.playout.on_audio(now, start, end);
            let clock = *self.clock.get_or_insert_with(|| metrics.live.new_clock());
            metrics.live.received(clock, now, micros(end));
            if let Some(played) = self.playout.played(now) {
                metrics.live.playing(clock, now, micros(played));
            }
            if self.last_lead_sample.is_none_or(|t| now - t >= Duration::from_secs(1)) {
                self.last_lead_sample = Some(now);
                metrics.lead.record(self.playout.lead(now));
            }
        }
        Ok(())
    }

    /// Whether the response head has arrived.
    pub fn is_connected(&self) -> bool {
        self.head_done
    }

    /// Underruns so far.
    pub fn underruns(&self, now: Instant) -> u32 {
        self.playout.underruns(now)
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A complete `200` response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    /// Its length in bytes.
    len: usize,
    /// The `icy-metaint` header's value, if it has one.
    metaint: Option<usize>,
}

/// The complete `200` response head at the start of `bytes`, `None` if more bytes are needed.
fn parse_head(bytes: &[u8]) -> Result<Option<Head>, String> {
    // SHOUTcast answers "ICY 200 OK"; read it as HTTP/1.0 for the parser.
    let (buf, shift) = match bytes.strip_prefix(b"ICY") {
        Some(rest) => ([b"HTTP/1.0".as_slice(), rest].concat(), 5isize),
        None => (bytes.to_vec(), 0),
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&buf) {
        Ok(httparse::Status::Complete(len)) => match response.code {
            Some(200) => {
                let metaint =
                    match response.headers.iter().find(|h| h.name.eq_ignore_ascii_case("icy-metaint")) {
                        None => None,
                        Some(h) => Some(
                            std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .ok_or_else(|| {
                                    format!("bad icy-metaint: {:?}", String::from_utf8_lossy(h.value))
                                })?,
                        ),
                    };
                Ok(Some(Head { len: (len as isize - shift) as usize, metaint }))
            }
            code => Err(format!("HTTP status {}", code.unwrap_or(0))),
        },
        Ok(httparse::Status::Partial) if bytes.len() > MAX_HEAD => Err("response head too large".into()),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(format!("bad HTTP response: {e}")),
    }
}

/// Takes ICY metadata blocks out of a response body, however its reads split it.
#[derive(Debug, Clone)]
pub struct MetaStripper {
    metaint: usize,
    /// Audio bytes before the next length byte.
    audio_left: usize,
    /// The block being read: its length and its bytes so far.
    block: Option<(usize, Vec<u8>)>,
    /// Audio bytes so far.
    audio_total: u64,
}

impl MetaStripper {
    /// A stripper for `icy-metaint: metaint`; 0 is refused (no audio could ever flow).
    pub fn new(metaint: usize) -> Result<MetaStripper, String> {
        if metaint == 0 {
            return Err("icy-metaint: 0".into());
        }
        Ok(MetaStripper { metaint, audio_left: metaint, block: None, audio_total: 0 })
    }

    /// Appends the audio of `bytes` to `audio`; returns the metadata blocks completed in them,
    /// each with the count of audio bytes before it (a multiple of metaint, by construction).
    pub fn push(&mut self, mut bytes: &[u8], audio: &mut Vec<u8>) -> Vec<(u64, Vec<u8>)> {
        let mut blocks = Vec::new();
        while !bytes.is_empty() {
            match self.block.as_mut() {
                None if self.audio_left > 0 => {
                    let n = self.audio_left.min(bytes.len());
                    audio.extend_from_slice(&bytes[..n]);
                    self.audio_left -= n;
                    self.audio_total += n as u64;
                    bytes = &bytes[n..];
                }
                None => {
                    self.block = Some((usize::from(bytes[0]) * 16, Vec::new()));
                    bytes = &bytes[1..];
                }
                Some((len, block)) => {
                    let n = (*len - block.len()).min(bytes.len());
                    block.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                }
            }
            if let Some((len, block)) = &mut self.block
                && block.len() == *len
            {
                blocks.push((self.audio_total, std::mem::take(block)));
                self.block = None;
                self.audio_left = self.metaint;
            }
        }
        blocks
    }
}

/// Reads one metadata block: `key='value';` pairs, then NUL padding (an empty block, or one
/// of padding only, says nothing new). Returns the `StreamTitle`, if the block has one.
pub fn parse_meta(block: &[u8]) -> Result<Option<String>, String> {
    let end = block.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let text = &block[..end];
    if text.is_empty() {
        return Ok(None);
    }
    let show = || String::from_utf8_lossy(&text[..text.len().min(40)]).into_owned();
    if text.iter().any(|&b| b < 0x20 || b == 0x7F) {
        return Err(format!("control bytes in the block ({:?}...)", show()));
    }
    let text = String::from_utf8_lossy(text);
    let mut title = None;
    let mut rest = text.as_ref();
    while !rest.is_empty() {
        let (key, after) =
            rest.split_once("='").ok_or_else(|| format!("not key='value'; ({:?}...)", show()))?;
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("not a metadata key: {key:?}"));
        }
        // A value may hold `'` itself (Icecast does not escape it): it ends at the last `';`
        // that is followed by another key or by the end.
        let mut cut = None;
        for (i, _) in after.match_indices("';") {
            let next = &after[i + 2..];
            let next_is_key = next.split_once("='").is_some_and(|(k, _)| {
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
            if next.is_empty() || next_is_key {
                cut = Some(i);
                break;
            }
        }
        let i = cut.ok_or_else(|| format!("unterminated value of {key} ({:?}...)", show()))?;
        if key == "StreamTitle" {
            title = Some(after[..i].to_string());
        }
        rest = &after[i + 2..];
    }
    Ok(title.filter(|t| !t.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_http_and_icy_heads() {
        let head = |len, metaint| Ok(Some(Head { len, metaint }));
        assert_eq!(
            parse_head(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n\xFF\xFB"),
            head(45, None)
        );
        assert_eq!(parse_head(b"ICY 200 OK\r\nicy-name: x\r\n\r\n"), head(27, None));
        assert_eq!(parse_head(b"HTTP/1.0 200 OK\r\nIcy-MetaInt: 16000\r\n\r\n"), head(39, Some(16000)));
        assert_eq!(parse_head(b"HTTP/1.0 200 OK\r\nContent-"), Ok(None));
        assert!(parse_head(b"HTTP/1.0 404 Not Found\r\n\r\n").unwrap_err().contains("404"));
        assert!(parse_head(b"HTTP/1.0 200 OK\r\nicy-metaint: x\r\n\r\n").is_err());
    }

    #[test]
    fn reads_metadata_blocks() {
        assert_eq!(parse_meta(b""), Ok(None));
        assert_eq!(parse_meta(&[0; 16]), Ok(None));
        assert_eq!(parse_meta(b"StreamTitle='';\0\0"), Ok(None));
        assert_eq!(parse_meta(b"StreamTitle='A - B';\0\0\0"), Ok(Some("A - B".into())));
        assert_eq!(
            parse_meta(b"StreamTitle='Rock 'n' Roll';StreamUrl='http://x/';\0"),
            Ok(Some("Rock 'n' Roll".into()))
        );
        assert_eq!(parse_meta("StreamTitle='Café';".as_bytes()), Ok(Some("Café".into())));
        // What a block misplaced into MP3 data looks like.
        assert!(parse_meta(&[0xFF, 0xFB, 0x90, 0x44, 0x00, 0x01]).is_err());
        assert!(parse_meta(b"StreamTitle='no end").is_err());
        assert!(parse_meta(b"garbage").is_err());
        assert!(parse_meta(b"Stream Title='x';").is_err());
    }

    #[test]
    fn strips_blocks_at_every_metaint() {
        let mut s = MetaStripper::new(4).unwrap();
        let mut audio = Vec::new();
        let body = b"abcd\x01StreamTitle='';\0efgh\x00ijkl\x01StreamTitle='';\0mn";
        let blocks = s.push(body, &mut audio);
        assert_eq!(audio, b"abcdefghijklmn");
        let at: Vec<u64> = blocks.iter().map(|(at, _)| *at).collect();
        assert_eq!(at, [4, 8, 12]);
        assert_eq!(blocks[1].1, b"");
        assert!(MetaStripper::new(0).is_err());
    }
}
