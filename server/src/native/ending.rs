//! How connections end: why (for the log), and the last steps that let a GOODBYE reach the
//! peer before the socket goes (RFC §8.2).

use std::fmt;
use std::io::Read;
use std::net::TcpStream;
use std::time::Instant;

use jukebox_protocol::frame::IDLE_TIMEOUT;
use jukebox_protocol::text::printable;
use jukebox_protocol::{FrameError, Goodbye, ReadError};

/// How a connection ended, for the log.
#[derive(Debug)]
pub enum Ending {
    /// The client closed the connection between frames.
    ClientClosed,
    /// The client said GOODBYE.
    ClientGoodbye(Goodbye),
    /// Nothing arrived for [`IDLE_TIMEOUT`]; the server said GOODBYE.
    IdleTimeout,
    /// The client sent a frame no receiver can recover from; the server said GOODBYE.
    ProtocolError(FrameError),
    /// The connection broke (reset, cut mid-frame, read error).
    Vanished(ReadError),
    /// The writer stopped first (a write failed, or the server is shutting down).
    WriterGone,
}

impl Ending {
    /// Whether the server closes with a GOODBYE of its own, which the client should be given
    /// a moment to read.
    pub fn server_said_goodbye(&self) -> bool {
        matches!(self, Ending::ProtocolError(_) | Ending::IdleTimeout)
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::ClientClosed => f.write_str("client closed the connection"),
            Ending::ClientGoodbye(g) if g.text.is_empty() => f.write_str("client said goodbye"),
            // The client chose this text: it must not forge log lines or drive a terminal.
            Ending::ClientGoodbye(g) => write!(f, "client said goodbye: {}", printable(&g.text)),
            Ending::IdleTimeout => write!(f, "nothing received for {} s", IDLE_TIMEOUT.as_secs()),
            Ending::ProtocolError(e) => write!(f, "protocol error: {e}"),
            Ending::Vanished(e) => write!(f, "connection lost: {e}"),
            Ending::WriterGone => f.write_str("writer stopped"),
        }
    }
}

/// Most bytes [`drain_until`] reads before it gives up.
const DRAIN_LIMIT: usize = 256 * 1024;

/// Reads and discards what the peer still sends, until it closes, `deadline` passes or
/// [`DRAIN_LIMIT`] bytes were read: closing a socket with unread data resets the connection,
/// which can destroy our last frame before the peer reads it (RFC §8.2, implementation note).
pub fn drain_until(mut socket: &TcpStream, deadline: Instant) {
    let mut scratch = [0u8; 4096];
    let mut drained = 0;
    while drained < DRAIN_LIMIT {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || socket.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match socket.read(&mut scratch) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jukebox_protocol::GoodbyeReason;

    #[test]
    fn a_goodbye_text_cannot_forge_a_log_line() {
        let ending = Ending::ClientGoodbye(Goodbye {
            reason: GoodbyeReason::Normal,
            text: "bye\n2026-11-23T03:00:00Z  INFO server stopped\x1b[2J".into(),
        });
        let line = ending.to_string();
        assert!(!line.contains('\n') && !line.contains('\x1b'), "{line:?}");
    }
}
