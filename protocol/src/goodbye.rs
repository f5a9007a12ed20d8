//! GOODBYE: either side says why it is closing the connection (RFC §6.4, §8.2).
//!
//! ```text
//! GOODBYE:  | reason (16) | text length (16) | text (UTF-8) |
//! ```

use crate::error::DecodeError;
use crate::wire::{Cursor, put_text, put_u16};

/// Why a connection is being closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoodbyeReason {
    /// The sender is done (the user quit).
    Normal,
    /// The server is shutting down.
    ShuttingDown,
    /// Nothing was received for [`crate::frame::IDLE_TIMEOUT`].
    IdleTimeout,
    /// The peer broke the protocol in a way the connection cannot survive (an oversized
    /// frame); the text says how.
    ProtocolError,
    /// The server has as many clients as it accepts; try again later. Sent right after
    /// WELCOME, in place of serving the connection.
    ServerBusy,
    /// A reason from a newer version.
    Other(u16),
}

impl GoodbyeReason {
    /// The wire value.
    pub const fn to_u16(self) -> u16 {
        match self {
            GoodbyeReason::Normal => 0,
            GoodbyeReason::ShuttingDown => 1,
            GoodbyeReason::IdleTimeout => 2,
            GoodbyeReason::ProtocolError => 3,
            GoodbyeReason::ServerBusy => 4,
            GoodbyeReason::Other(v) => v,
        }
    }

    /// The reason with this wire value.
    pub const fn from_u16(v: u16) -> GoodbyeReason {
        match v {
            0 => GoodbyeReason::Normal,
            1 => GoodbyeReason::ShuttingDown,
            2 => GoodbyeReason::IdleTimeout,
            3 => GoodbyeReason::ProtocolError,
            4 => GoodbyeReason::ServerBusy,
            v => GoodbyeReason::Other(v),
        }
    }
}

/// The last frame a side sends before it closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goodbye {
    /// Why.
    pub reason: GoodbyeReason,
    /// Words for a person, complete in themselves ("the server is shutting down"); may be
    /// empty.
    pub text: String,
}

impl Goodbye {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u16(out, self.reason.to_u16());
        put_text(out, &self.text);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Goodbye, DecodeError> {
        let reason = GoodbyeReason::from_u16(c.u16()?);
        Ok(Goodbye { reason, text: c.text()? })
    }

    /// A GOODBYE whose payload was malformed: still a GOODBYE, read as reason NORMAL with no
    /// text (RFC §5.4).
    pub fn malformed() -> Goodbye {
        Goodbye { reason: GoodbyeReason::Normal, text: String::new() }
    }
}
