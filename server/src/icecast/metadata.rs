//! Titles for Icecast's listeners: `GET /admin/metadata?mount=/m&mode=updinfo&song=...`, on a
//! short connection of its own, from a thread of its own, so that a slow or hung admin request
//! never holds up the audio. Only the newest title matters: one posted while another is being
//! sent replaces any still waiting.
//!
//! Icecast 2.4 accepts the source credentials here (user `source`, or the mount's own user,
//! and the source password), as well as the admin's: no setting of its own is needed. It
//! answers `400 Source does not exist` until the source's `PUT` has been taken, and applies a
//! title to the audio that reaches it afterwards. The title is sent without `charset`, so
//! Icecast passes its UTF-8 bytes on as they are (with `charset=UTF-8` it would convert them
//! to Latin-1 for MP3 mounts, and lose what Latin-1 lacks).

use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};
use jukebox_protocol::text::printable;
use tracing::{debug, info, warn};

use super::Target;
use crate::http::client;

/// How long one title update may take, connection included.
pub const UPDATE_TIMEOUT: Duration = Duration::from_secs(5);

/// Tries per title, when Icecast does not take it (the source not yet registered, a timeout).
const ATTEMPTS: u32 = 3;

/// The wait between those tries.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The longest title sent, in bytes: an ICY metadata block holds at most 4080, and a request
/// line should stay far below Icecast's limits.
pub const MAX_TITLE: usize = 1024;

/// Why Icecast did not take a title.
#[derive(Debug, thiserror::Error)]
pub enum TitleError {
    /// No connection, or no answer in [`UPDATE_TIMEOUT`].
    #[error("no answer from Icecast: {0}")]
    NoAnswer(String),
    /// 401 or 403: Icecast does not take the source credentials for admin requests.
    #[error("Icecast refused the source credentials for title updates ({0}); listeners will not see titles")]
    Refused(u16),
    /// 400 "Source does not exist": the mount has no source (yet).
    #[error("Icecast has no source on the mount yet")]
    NoSource,
    /// Any other answer.
    #[error("Icecast answered the title update with {0} {1}")]
    Other(u16, String),
}

impl TitleError {
    /// Whether trying the same title again soon may work.
    fn transient(&self) -> bool {
        matches!(self, TitleError::NoAnswer(_) | TitleError::NoSource)
    }
}

/// The head of the request that sets the title of `target`'s mount to `title`.
pub fn request(target: &Target, title: &str) -> String {
    let mut cut = title.len().min(MAX_TITLE);
    while !title.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "GET /admin/metadata?mount={}&mode=updinfo&song={} HTTP/1.0\r\n\
         Host: {}\r\n\
         Authorization: {}\r\n\
         User-Agent: jukebox/{}\r\n\
         Connection: close\r\n\
         \r\n",
        escape(target.mount()),
        escape(&title[..cut]),
        target.host_field(),
        target.authorization(),
        env!("CARGO_PKG_VERSION"),
    )
}

/// `text` as a query value: unreserved ASCII as is, every other byte `%XX` (a space is `%20`,
/// not `+`, which not every server reads as a space).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Sends one title update and reads the answer, all within [`UPDATE_TIMEOUT`].
pub fn update(target: &Target, title: &str) -> Result<(), TitleError> {
    let deadline = Instant::now() + UPDATE_TIMEOUT;
    let no_answer = |e: &dyn std::fmt::Display| TitleError::NoAnswer(e.to_string());
    let socket = client::connect(target.host(), target.port(), UPDATE_TIMEOUT).map_err(|e| no_answer(&e))?;
    socket.set_write_timeout(Some(UPDATE_TIMEOUT)).map_err(|e| no_answer(&e))?;
    std::io::Write::write_all(&mut &socket, request(target, title).as_bytes()).map_err(|e| no_answer(&e))?;
    let (head, body) = client::read_response(&socket, deadline).map_err(|e| no_answer(&e))?;
    match head.status {
        200..=299 => Ok(()),
        401 | 403 => Err(TitleError::Refused(head.status)),
        400 if String::from_utf8_lossy(&body).contains("Source does not exist") => Err(TitleError::NoSource),
        400 if body.is_empty() => Err(TitleError::NoSource),
        status => Err(TitleError::Other(status, printable(&head.reason).chars().take(80).collect())),
    }
}

/// The feeder's end of the title thread: [`Titles::post`] never blocks.
#[derive(Debug)]
pub struct Titles {
    newest: Arc<Mutex<Option<String>>>,
    /// Wakes the thread; dropping it ends the thread.
    wake: Sender<()>,
}

impl Titles {
    /// Starts the thread that sends titles to `target`; it ends when the [`Titles`] is dropped
    /// or `stop` disconnects.
    pub fn spawn(target: Target, stop: Receiver<()>) -> std::io::Result<Titles> {
        let newest = Arc::new(Mutex::new(None));
        let (wake, woken) = crossbeam_channel::bounded(1);
        let slot = Arc::clone(&newest);
        thread::Builder::new()
            .name("icecast-titles".into())
            .stack_size(256 * 1024)
            .spawn(move || run(&target, &slot, &woken, &stop))?;
        Ok(Titles { newest, wake })
    }

    /// Asks for `title` to be shown, replacing any title not yet sent.
    pub fn post(&self, title: String) {
        *self.newest.lock().unwrap_or_else(PoisonError::into_inner) = Some(title);
        // Full means the thread is already woken and will find the newest title.
        let _ = self.wake.try_send(());
    }
}

/// The title thread: waits to be woken, sends the newest title, retries a transient failure
/// a few times unless a newer title comes. Logs a failure once, not once per song.
fn run(target: &Target, newest: &Mutex<Option<String>>, woken: &Receiver<()>, stop: &Receiver<()>) {
    let take = || newest.lock().unwrap_or_else(PoisonError::into_inner).take();
    let mut failing: Option<String> = None;
    loop {
        select! {
            recv(woken) -> wake => if wake.is_err() { return },
            recv(stop) -> _ => return,
        }
        let Some(title) = take() else { continue };
        for attempt in 1..=ATTEMPTS {
            match update(target, &title) {
                Ok(()) => {
                    debug!("Icecast shows {:?}", printable(&title));
                    if failing.take().is_some() {
                        info!("Icecast takes title updates again");
                    }
                    break;
                }
                Err(e) => {
                    let said = e.to_string();
                    if failing.as_deref() != Some(said.as_str()) {
                        warn!("cannot update the title on Icecast: {said}");
                        failing = Some(said);
                    }
                    if !e.transient() || attempt == ATTEMPTS {
                        break;
                    }
                    select! {
                        recv(stop) -> _ => return,
                        default(RETRY_AFTER) => {}
                    }
                    if newest.lock().unwrap_or_else(PoisonError::into_inner).is_some() {
                        // A newer title is waiting; it, not this one, is worth sending.
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_is_escaped_into_the_admin_query() {
        let target = Target::parse("http://source:hackme@h:8000/live/jukebox.mp3").unwrap();
        let text = request(&target, "Tin Robot & Co - Ünï?#");
        let line = text.lines().next().unwrap();
        assert_eq!(
            line,
            "GET /admin/metadata?mount=%2Flive%2Fjukebox.mp3&mode=updinfo&song=Tin%20Robot%20%26%20Co%20-%20%C3%9Cn%C3%AF%3F%23 HTTP/1.0"
        );
        assert!(text.contains("\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn a_long_title_is_cut_at_a_character() {
        let target = Target::parse("http://source:p@h/m.mp3").unwrap();
        let title = "é".repeat(MAX_TITLE);
        let line = request(&target, &title).lines().next().unwrap().to_string();
        // MAX_TITLE bytes of two-byte characters, each six bytes escaped.
        assert_eq!(line.matches("%C3%A9").count(), MAX_TITLE / 2);
    }
}
