//! Events a client subscribes to (RFC §6.1.15, §6.2.15, §6.3.5), so that it can wait for a
//! change instead of polling: SUBSCRIBE names the subsystems a connection wants to hear of,
//! SUBSCRIBED says which the server granted, and an EVENT says that one of them changed, with
//! its newest value. MPD's `idle` is the model, coalescing included: a server holds at most
//! one EVENT per subsystem for a connection, however many changes its client has not read.
//!
//! ```text
//! SUBSCRIBE:   | request id (32) | mask (32) |
//! SUBSCRIBED:  | request id (32) | mask (32) |
//! EVENT:       | subsystem (32) | value (32) |
//! ```

use std::fmt;
use std::ops::{BitAnd, BitOr};

use crate::error::DecodeError;
use crate::request::{RequestId, SongId};
use crate::wire::{Cursor, put_u32};

/// A set of subsystems, one bit each, as SUBSCRIBE and SUBSCRIBED carry it (RFC §6.1.15).
/// Bits this version does not name may be set by a newer peer: a server clears them in what
/// it grants, so a client learns which of its wishes an older server cannot meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Subsystems(pub u32);

impl Subsystems {
    /// No subsystem: SUBSCRIBE with it unsubscribes.
    pub const NONE: Subsystems = Subsystems(0);
    /// A scan changed the library: songs were added, removed or updated.
    pub const LIBRARY: Subsystems = Subsystems(0x0000_0001);
    /// Another song went on the station's air, or the station went off the air.
    pub const STATION_SONG: Subsystems = Subsystems(0x0000_0002);
    /// The station's queue of requests changed: a request joined it or left it for the air.
    pub const STATION_QUEUE: Subsystems = Subsystems(0x0000_0004);
    /// Every subsystem this version knows.
    pub const KNOWN: Subsystems = Subsystems(Self::LIBRARY.0 | Self::STATION_SONG.0 | Self::STATION_QUEUE.0);

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every bit of `other` is set here.
    pub const fn contains(self, other: Subsystems) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether some bit of `other` is set here.
    pub const fn intersects(self, other: Subsystems) -> bool {
        self.0 & other.0 != 0
    }

    /// The bits this version knows, the others cleared.
    pub const fn known(self) -> Subsystems {
        Subsystems(self.0 & Self::KNOWN.0)
    }

    /// Each bit set, as a set of its own, lowest first.
    pub fn iter(self) -> impl Iterator<Item = Subsystems> {
        (0..32).map(|bit| Subsystems(1 << bit)).filter(move |one| self.contains(*one))
    }

    /// The RFC's name of a single known subsystem (`LIBRARY`), for logs.
    pub const fn name(self) -> Option<&'static str> {
        match self {
            Self::LIBRARY => Some("LIBRARY"),
            Self::STATION_SONG => Some("STATION_SONG"),
            Self::STATION_QUEUE => Some("STATION_QUEUE"),
            _ => None,
        }
    }
}

impl BitOr for Subsystems {
    type Output = Subsystems;

    fn bitor(self, other: Subsystems) -> Subsystems {
        Subsystems(self.0 | other.0)
    }
}

impl BitAnd for Subsystems {
    type Output = Subsystems;

    fn bitand(self, other: Subsystems) -> Subsystems {
        Subsystems(self.0 & other.0)
    }
}

impl fmt::Display for Subsystems {
    /// `LIBRARY|STATION_SONG`, unknown bits in hexadecimal, `NONE` for the empty set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("NONE");
        }
        for (i, one) in self.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            match one.name() {
                Some(name) => f.write_str(name)?,
                None => write!(f, "{:#010x}", one.0)?,
            }
        }
        Ok(())
    }
}

/// Reply to SUBSCRIBE: the subsystems this connection will hear of from now on (RFC §6.2.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscribed {
    /// The SUBSCRIBE this answers.
    pub id: RequestId,
    /// What was asked, less the subsystems the server does not know or does not have (a
    /// server without a station grants neither of the station's).
    pub mask: Subsystems,
}

impl Subscribed {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.id.0);
        put_u32(out, self.mask.0);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Subscribed, DecodeError> {
        Ok(Subscribed { id: c.request_id()?, mask: Subsystems(c.u32()?) })
    }
}

/// A subsystem this connection subscribed to has changed (RFC §6.3.5), and its newest value.
/// A server that could not send at once sends one EVENT for many changes: the value is the
/// state when the EVENT was made, not a history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A scan changed the library; a LIST now shows it.
    Library {
        /// The newest scan that changed something, as LIBRARY_CHANGED numbers scans.
        scan: u32,
    },
    /// The station's song changed.
    StationSong {
        /// The song on the air now; `None` when the station went off the air.
        song: Option<SongId>,
    },
    /// The station's queue of requests changed; QUEUE now shows it.
    StationQueue {
        /// Requested songs waiting now, as QUEUE would list them.
        waiting: u32,
    },
    /// A subsystem this version does not know, from a server newer than its client's mask:
    /// kept so that a receiver can skip it.
    Other {
        /// The subsystem's bit, never one this version knows.
        subsystem: u32,
        /// Its value, uninterpreted.
        value: u32,
    },
}

impl Event {
    /// The one subsystem this event concerns.
    pub const fn subsystem(&self) -> Subsystems {
        match self {
            Event::Library { .. } => Subsystems::LIBRARY,
            Event::StationSong { .. } => Subsystems::STATION_SONG,
            Event::StationQueue { .. } => Subsystems::STATION_QUEUE,
            Event::Other { subsystem, .. } => Subsystems(*subsystem),
        }
    }

    /// The Value field.
    const fn value(&self) -> u32 {
        match self {
            Event::Library { scan } => *scan,
            Event::StationSong { song } => match song {
                Some(song) => song.0,
                None => 0,
            },
            Event::StationQueue { waiting } => *waiting,
            Event::Other { value, .. } => *value,
        }
    }

    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.subsystem().0);
        put_u32(out, self.value());
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Event, DecodeError> {
        let subsystem = c.u32()?;
        // One EVENT, one subsystem: no bit, or several, is no subsystem at all.
        if subsystem.count_ones() != 1 {
            return Err(c.invalid("subsystem"));
        }
        let value = c.u32()?;
        Ok(match Subsystems(subsystem) {
            Subsystems::LIBRARY => Event::Library { scan: value },
            Subsystems::STATION_SONG => Event::StationSong { song: (value != 0).then_some(SongId(value)) },
            Subsystems::STATION_QUEUE => Event::StationQueue { waiting: value },
            _ => Event::Other { subsystem, value },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::request::Request;
    use crate::{DecodeError, FrameError};

    #[test]
    fn the_three_messages_have_the_documented_bytes() {
        let subscribe = Message::Request(Request::Subscribe { id: RequestId(30), mask: Subsystems(7) });
        assert_eq!(subscribe.to_bytes().unwrap(), [0, 0, 0, 8, 0x0F, 0, 0, 0, 0, 30, 0, 0, 0, 7]);
        let subscribed = Message::Subscribed(Subscribed { id: RequestId(30), mask: Subsystems::LIBRARY });
        assert_eq!(subscribed.to_bytes().unwrap(), [0, 0, 0, 8, 0x4E, 0, 0, 0, 0, 30, 0, 0, 0, 1]);
        let event = Message::Event(Event::StationSong { song: Some(SongId(3)) });
        assert_eq!(event.to_bytes().unwrap(), [0, 0, 0, 8, 0x84, 0, 0, 0, 0, 2, 0, 0, 0, 3]);
        let off_air = Message::Event(Event::StationSong { song: None });
        assert_eq!(off_air.to_bytes().unwrap()[6..], [0, 0, 0, 2, 0, 0, 0, 0]);
    }

    #[test]
    fn an_event_names_exactly_one_subsystem() {
        for subsystem in [0u32, 3, 0x8000_0001] {
            let mut bytes = vec![0, 0, 0, 8, 0x84, 0];
            bytes.extend_from_slice(&subsystem.to_be_bytes());
            bytes.extend_from_slice(&1u32.to_be_bytes());
            assert!(
                matches!(
                    Message::decode_from_slice(&bytes),
                    Err(FrameError::Malformed {
                        error: DecodeError::InvalidField { kind: "EVENT", field: "subsystem" },
                        ..
                    })
                ),
                "subsystem {subsystem:#x}"
            );
        }
        // A newer server's subsystem is an event all the same, to be skipped.
        let mut bytes = vec![0, 0, 0, 8, 0x84, 0, 0, 0, 1, 0, 0, 0, 0, 9];
        let (message, _) = Message::decode_from_slice(&bytes).unwrap().unwrap();
        assert_eq!(message, Message::Event(Event::Other { subsystem: 0x100, value: 9 }));
        // A field appended by a later edition is ignored (RFC §5.3.3).
        bytes[3] = 12;
        bytes.extend_from_slice(&[0xAA; 4]);
        assert!(Message::decode_from_slice(&bytes).unwrap().is_some());
    }

    #[test]
    fn a_mask_keeps_what_this_version_knows_and_says_it_in_words() {
        let asked = Subsystems(0xFFFF_FFFF);
        assert_eq!(asked.known(), Subsystems::KNOWN);
        assert_eq!(Subsystems::KNOWN.iter().count(), 3);
        assert!(Subsystems::KNOWN.contains(Subsystems::STATION_QUEUE));
        assert!(!Subsystems::LIBRARY.intersects(Subsystems::STATION_SONG | Subsystems::STATION_QUEUE));
        assert_eq!((Subsystems::LIBRARY | Subsystems(0x10)).to_string(), "LIBRARY|0x00000010");
        assert_eq!(Subsystems::NONE.to_string(), "NONE");
        assert_eq!(Subsystems::KNOWN.to_string(), "LIBRARY|STATION_SONG|STATION_QUEUE");
    }
}
