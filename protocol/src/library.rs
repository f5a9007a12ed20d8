//! The library family (RFC §6.1.5, §6.2.6, §6.3.3): a client asks for a rescan, and every
//! client learns when a scan has changed the songs on offer, so a list it shows can be
//! refreshed instead of going stale.
//!
//! ```text
//! SCANNING:         | request id (32) | scan (32) |
//! LIBRARY_CHANGED:  | scan (32) | songs (32) | added (32) | removed (32) | updated (32) |
//! ```

use crate::error::DecodeError;
use crate::request::RequestId;
use crate::wire::{Cursor, put_u32};

/// Reply to RESCAN: the number of the scan that will see the music folder as it is now. Its
/// LIBRARY_CHANGED tells the client that the scan is over (RFC §6.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanning {
    /// The RESCAN request this answers.
    pub id: RequestId,
    /// Scans are numbered from 1 in the life of a server process; a RESCAN that arrives
    /// while a scan is waiting to start joins it.
    pub scan: u32,
}

impl Scanning {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.id.0);
        put_u32(out, self.scan);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Scanning, DecodeError> {
        Ok(Scanning { id: c.request_id()?, scan: c.u32()? })
    }
}

/// A scan of the library has finished (RFC §6.3.3). Pushed to every connection when the scan
/// added, removed or updated a song, and to a connection whose RESCAN asked for the scan even
/// when nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LibraryChanged {
    /// The scan that finished.
    pub scan: u32,
    /// Songs in the library now.
    pub songs: u32,
    /// Songs that are new: new ids.
    pub added: u32,
    /// Songs that are gone: their ids now answer NO_SUCH_SONG and are never reused.
    pub removed: u32,
    /// Songs whose file changed: same id, new tags, duration or size.
    pub updated: u32,
}

impl LibraryChanged {
    /// Whether the scan changed anything a client shows.
    pub fn changed_anything(&self) -> bool {
        self.added != 0 || self.removed != 0 || self.updated != 0
    }

    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        for value in [self.scan, self.songs, self.added, self.removed, self.updated] {
            put_u32(out, value);
        }
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<LibraryChanged, DecodeError> {
        Ok(LibraryChanged {
            scan: c.u32()?,
            songs: c.u32()?,
            added: c.u32()?,
            removed: c.u32()?,
            updated: c.u32()?,
        })
    }
}
