//! The source connection: `PUT /mount HTTP/1.1` with the source credentials and the stream's
//! description, Icecast's answer, then nothing but audio until one side goes away.
//!
//! Icecast 2.4 answers a `PUT` at once, before any audio: `HTTP/1.0 200 OK` and an empty head
//! when it takes the source, `401` for a wrong user or password, `403 Mountpoint in use` when
//! another source feeds the mount. It does not need `Expect: 100-continue` (with it, it sends
//! `100 Continue` first and then the same answer), so none is sent: one answer to read.

use std::io;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use jukebox_protocol::text::printable;

use super::Target;
use crate::http::client;
use crate::http::head::HeadError;
use crate::http::radio::STATION_NAME;

/// How long a connection to Icecast may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long Icecast may take to answer the `PUT`.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the station says it is, in Icecast's listings and players.
pub const DESCRIPTION: &str = "songs from a jukebox server, and your requests";

/// Why feeding Icecast failed, or stopped. Every variant says what a person can do about it.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// No connection to Icecast (it is down, restarting, or the address is wrong).
    #[error("cannot reach Icecast at {target}: {error}")]
    Unreachable {
        /// Where.
        target: String,
        /// Why.
        error: io::Error,
    },
    /// 401: the user or password of the URL is not Icecast's `<source-password>` (or the
    /// mount's own).
    #[error(
        "Icecast refused the source password for {0} (401): check the password in --icecast against <source-password> in icecast.xml"
    )]
    BadPassword(String),
    /// 403 "Mountpoint in use": another source feeds the mount.
    #[error("Icecast says the mount {0} is in use (403): another source feeds it")]
    MountInUse(String),
    /// Any other answer to the `PUT`.
    #[error("Icecast refused the source for {target}: {status} {reason}")]
    Refused {
        /// Where.
        target: String,
        /// The status code.
        status: u16,
        /// The reason phrase or the body's first words, made printable.
        reason: String,
    },
    /// No answer, or not HTTP.
    #[error("Icecast at {target} did not answer the source request: {error}")]
    NoAnswer {
        /// Where.
        target: String,
        /// Why.
        error: HeadError,
    },
    /// A write failed after Icecast took the source: it went away, restarted, or stopped
    /// reading for [`crate::http::WRITE_TIMEOUT`].
    #[error("lost the connection to Icecast at {target}: {error}")]
    Lost {
        /// Where.
        target: String,
        /// Why.
        error: io::Error,
    },
}

/// The head of the source request for `target`, of a station whose format is `format`
/// ((bitrate kbps, sample rate), 0 where not constant: a relay of an ICY station says nothing
/// of it rather than something wrong).
pub fn request(target: &Target, format: (u16, u32)) -> String {
    let (kbps, hz) = format;
    let audio_info = if kbps > 0 && hz > 0 {
        format!("Ice-Bitrate: {kbps}\r\nIce-Audio-Info: bitrate={kbps};samplerate={hz};channels=2\r\n")
    } else {
        String::new()
    };
    format!(
        "PUT {mount} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Authorization: {auth}\r\n\
         User-Agent: jukebox/{version}\r\n\
         Content-Type: audio/mpeg\r\n\
         Ice-Public: 0\r\n\
         Ice-Name: {STATION_NAME}\r\n\
         Ice-Description: {DESCRIPTION}\r\n\
         Ice-Genre: Various\r\n\
         {audio_info}\
         \r\n",
        mount = target.mount(),
        host = target.host_field(),
        auth = target.authorization(),
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// What Icecast's answer to the `PUT` means: `Ok` to start writing audio.
pub fn judge(target: &Target, head: &client::ResponseHead, body: &[u8]) -> Result<(), SourceError> {
    match head.status {
        200..=299 => Ok(()),
        401 => Err(SourceError::BadPassword(target.to_string())),
        403 if String::from_utf8_lossy(body).to_ascii_lowercase().contains("in use") => {
            Err(SourceError::MountInUse(target.mount().to_string()))
        }
        status => {
            // Icecast puts its reason in the body ("Mountpoint in use", "Content-type not
            // supported"); a proxy in front of it may say more than a line.
            let text = String::from_utf8_lossy(body);
            let said = text.lines().find(|l| !l.trim().is_empty()).unwrap_or(&head.reason);
            let reason: String = printable(said).chars().take(120).collect();
            Err(SourceError::Refused { target: target.to_string(), status, reason })
        }
    }
}

/// Connects to Icecast and has it take the source: the socket is ready for audio.
pub fn open(target: &Target, format: (u16, u32)) -> Result<TcpStream, SourceError> {
    let unreachable = |error| SourceError::Unreachable { target: target.to_string(), error };
    let socket = client::connect(target.host(), target.port(), CONNECT_TIMEOUT).map_err(unreachable)?;
    let mut writer = &socket;
    socket.set_write_timeout(Some(ANSWER_TIMEOUT)).map_err(unreachable)?;
    io::Write::write_all(&mut writer, request(target, format).as_bytes()).map_err(unreachable)?;
    let (head, mut body) = client::read_response(&socket, Instant::now() + ANSWER_TIMEOUT)
        .map_err(|error| SourceError::NoAnswer { target: target.to_string(), error })?;
    if head.status >= 300 && body.is_empty() {
        // The reason is in the body, which may come in a read of its own; Icecast closes after
        // it. A short wait, bounded like the head.
        let _ = socket.set_read_timeout(Some(Duration::from_millis(500)));
        let mut more = [0u8; 512];
        if let Ok(n) = io::Read::read(&mut &socket, &mut more) {
            body.extend_from_slice(&more[..n]);
        }
    }
    judge(target, &head, &body)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radio::{BITRATE_KBPS, SAMPLE_RATE};

    fn target() -> Target {
        Target::parse("http://source:hackme@icecast.example:8000/jukebox.mp3").unwrap()
    }

    fn head(status: u16, reason: &str) -> client::ResponseHead {
        client::ResponseHead { status, reason: reason.into(), headers: Vec::new() }
    }

    #[test]
    fn the_request_puts_the_mount_with_credentials_and_the_stream_format() {
        let text = request(&target(), (BITRATE_KBPS, SAMPLE_RATE));
        assert!(
            !request(&target(), (0, 0)).contains("Ice-Audio-Info"),
            "a relay of an ICY station says nothing of its format"
        );
        assert!(text.starts_with("PUT /jukebox.mp3 HTTP/1.1\r\nHost: icecast.example:8000\r\n"), "{text}");
        assert!(text.contains("\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\n"), "{text}");
        assert!(text.contains("\r\nContent-Type: audio/mpeg\r\n"), "{text}");
        assert!(text.contains("\r\nIce-Audio-Info: bitrate=128;samplerate=44100;channels=2\r\n"), "{text}");
        assert!(
            text.contains("\r\nIce-Public: 0\r\n") && text.contains("\r\nIce-Bitrate: 128\r\n"),
            "{text}"
        );
        assert!(!text.to_ascii_lowercase().contains("expect"), "{text}");
        assert!(text.ends_with("\r\n\r\n") && text.matches("\r\n\r\n").count() == 1, "{text}");
    }

    #[test]
    fn icecasts_answers_say_what_went_wrong() {
        let t = target();
        assert!(judge(&t, &head(200, "OK"), b"").is_ok());
        let refused = judge(&t, &head(401, "Authentication Required"), b"You need to authenticate\r\n");
        assert!(matches!(refused, Err(SourceError::BadPassword(_))));
        assert!(refused.unwrap_err().to_string().starts_with("Icecast refused the source password"));
        let in_use = judge(&t, &head(403, "Forbidden"), b"Mountpoint in use");
        assert!(matches!(in_use, Err(SourceError::MountInUse(m)) if m == "/jukebox.mp3"));
        let other = judge(&t, &head(403, "Forbidden"), b"\r\nContent-type not supported\x1b[2J\r\n");
        let Err(SourceError::Refused { status: 403, reason, .. }) = other else { panic!("{other:?}") };
        assert_eq!(reason, "Content-type not supported[2J");
        let bare = judge(&t, &head(500, "Internal Server Error"), b"");
        assert!(
            matches!(bare, Err(SourceError::Refused { status: 500, reason, .. }) if reason == "Internal Server Error")
        );
    }
}
