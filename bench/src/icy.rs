//! One simulated ICY/HTTP listener (Icecast, SHOUTcast, our own ICY endpoint): `GET` the mount,
//! then account the MP3 body through the same virtual player as a native listener.

use std::time::{Duration, Instant};

use crate::metrics::Metrics;
use crate::playout::{FrameTimer, Playout};

/// Largest response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// An ICY listener's state.
#[derive(Debug)]
pub struct Icy {
    started: Instant,
    head_done: bool,
    got_audio: bool,
    timer: FrameTimer,
    playout: Playout,
    last_lead_sample: Option<Instant>,
}

impl Icy {
    /// A listener whose TCP connection has just been established; returns it with its request.
    pub fn start(now: Instant, host: &str, path: &str, prebuffer: Duration) -> (Icy, Vec<u8>) {
        let request = format!(
            "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: jukebox-bench\r\nAccept: */*\r\n\r\n"
        )
        .into_bytes();
        let icy = Icy {
            started: now,
            head_done: false,
            got_audio: false,
            timer: FrameTimer::default(),
            playout: Playout::new(prebuffer),
            last_lead_sample: None,
        };
        (icy, request)
    }

    /// Handles received bytes; returns how many were consumed.
    pub fn on_bytes(&mut self, bytes: &[u8], now: Instant, metrics: &mut Metrics) -> Result<usize, String> {
        let mut used = 0;
        if !self.head_done {
            let Some(head_len) = parse_head(bytes)? else { return Ok(0) };
            self.head_done = true;
            metrics.connected += 1;
            metrics.handshake.record(now - self.started);
            used = head_len;
        }
        let body = &bytes[used..];
        if body.is_empty() {
            return Ok(used);
        }
        if !self.got_audio {
            self.got_audio = true;
            metrics.first_audio.record(now - self.started);
        }
        metrics.audio_bytes += body.len() as u64;
        let (start, end) = self.timer.push(body);
        if end > start {
            self.playout.on_audio(now, start, end);
            if self.last_lead_sample.is_none_or(|t| now - t >= Duration::from_secs(1)) {
                self.last_lead_sample = Some(now);
                metrics.lead.record(self.playout.lead(now));
            }
        }
        Ok(bytes.len())
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

/// The length of a complete `200` response head, `None` if more bytes are needed.
fn parse_head(bytes: &[u8]) -> Result<Option<usize>, String> {
    // SHOUTcast answers "ICY 200 OK"; read it as HTTP/1.0 for the parser.
    let (buf, shift) = match bytes.strip_prefix(b"ICY") {
        Some(rest) => ([b"HTTP/1.0".as_slice(), rest].concat(), 5isize),
        None => (bytes.to_vec(), 0),
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&buf) {
        Ok(httparse::Status::Complete(len)) => match response.code {
            Some(200) => Ok(Some((len as isize - shift) as usize)),
            code => Err(format!("HTTP status {}", code.unwrap_or(0))),
        },
        Ok(httparse::Status::Partial) if bytes.len() > MAX_HEAD => Err("response head too large".into()),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(format!("bad HTTP response: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_http_and_icy_heads() {
        assert_eq!(parse_head(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n\xFF\xFB"), Ok(Some(45)));
        assert_eq!(parse_head(b"ICY 200 OK\r\nicy-name: x\r\n\r\n"), Ok(Some(27)));
        assert_eq!(parse_head(b"HTTP/1.0 200 OK\r\nContent-"), Ok(None));
        assert!(parse_head(b"HTTP/1.0 404 Not Found\r\n\r\n").unwrap_err().contains("404"));
    }
}
