//! The fixed-size exchange that opens every connection (RFC §4). It is not framed, so that a
//! peer that speaks something else (an HTTP client, a port scanner) is recognised from its
//! first four bytes and a later protocol version can change the framing.
//!
//! ```text
//! HELLO (client → server), 8 bytes      WELCOME (server → client), 8 bytes
//! +----+----+----+----+-------+-------+  +----+----+----+----+---------+-------------+
//! | 'J'| 'U'| 'K'| 'E'|min ver|max ver|  | 'J'| 'U'| 'K'| 'E'| version | server max  |
//! +----+----+----+----+-------+-------+  +----+----+----+----+---------+-------------+
//! ```

use byteorder::{BigEndian, ByteOrder};

use crate::error::BadMagic;

/// The four bytes that open HELLO and WELCOME: ASCII `JUKE`.
pub const MAGIC: [u8; 4] = *b"JUKE";

/// The version this crate implements.
pub const PROTOCOL_VERSION: u16 = 1;

/// Size of HELLO and of WELCOME.
pub const HANDSHAKE_LEN: usize = 8;

/// The client's opening: the range of versions it can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// Oldest version the client speaks (at least 1).
    pub min_version: u16,
    /// Newest version the client speaks.
    pub max_version: u16,
}

impl Hello {
    /// The HELLO of a client that speaks exactly this crate's version.
    pub const fn current() -> Hello {
        Hello { min_version: PROTOCOL_VERSION, max_version: PROTOCOL_VERSION }
    }

    /// The 8 bytes on the wire.
    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        encode(self.min_version, self.max_version)
    }

    /// Parses a HELLO; anything not starting with [`MAGIC`] is [`BadMagic`].
    pub fn parse(bytes: &[u8; HANDSHAKE_LEN]) -> Result<Hello, BadMagic> {
        let (min_version, max_version) = parse(bytes)?;
        Ok(Hello { min_version, max_version })
    }

    /// The server's answer: the newest version both sides speak, or a refusal.
    pub fn negotiate(&self, server_min: u16, server_max: u16) -> Welcome {
        let high = self.max_version.min(server_max);
        let low = self.min_version.max(server_min).max(1);
        let version = if low <= high { high } else { 0 };
        Welcome { version, server_max_version: server_max }
    }
}

/// The server's answer to HELLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Welcome {
    /// The version both sides now speak, or 0 when there is none (the server then closes).
    pub version: u16,
    /// The newest version the server speaks, so a refused client can say what to upgrade to.
    pub server_max_version: u16,
}

impl Welcome {
    /// The 8 bytes on the wire.
    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        encode(self.version, self.server_max_version)
    }

    /// Parses a WELCOME; anything not starting with [`MAGIC`] is [`BadMagic`].
    pub fn parse(bytes: &[u8; HANDSHAKE_LEN]) -> Result<Welcome, BadMagic> {
        let (version, server_max_version) = parse(bytes)?;
        Ok(Welcome { version, server_max_version })
    }
}

fn encode(a: u16, b: u16) -> [u8; HANDSHAKE_LEN] {
    let mut bytes = [0u8; HANDSHAKE_LEN];
    bytes[..4].copy_from_slice(&MAGIC);
    BigEndian::write_u16(&mut bytes[4..6], a);
    BigEndian::write_u16(&mut bytes[6..8], b);
    bytes
}

fn parse(bytes: &[u8; HANDSHAKE_LEN]) -> Result<(u16, u16), BadMagic> {
    let mut magic = [0u8; 4];
    magic.copy_from_slice(&bytes[..4]);
    if magic != MAGIC {
        return Err(BadMagic(magic));
    }
    Ok((BigEndian::read_u16(&bytes[4..6]), BigEndian::read_u16(&bytes[6..8])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_has_the_documented_bytes() {
        assert_eq!(Hello::current().encode(), [0x4A, 0x55, 0x4B, 0x45, 0, 1, 0, 1]);
    }

    #[test]
    fn http_request_is_not_a_hello() {
        assert!(matches!(Hello::parse(b"GET / HT"), Err(BadMagic(m)) if &m == b"GET "));
    }

    #[test]
    fn negotiation_picks_the_newest_common_version() {
        let hello = Hello { min_version: 1, max_version: 3 };
        assert_eq!(hello.negotiate(1, 1), Welcome { version: 1, server_max_version: 1 });
        assert_eq!(hello.negotiate(1, 2).version, 2);
    }

    #[test]
    fn negotiation_without_overlap_refuses() {
        let hello = Hello { min_version: 2, max_version: 4 };
        assert_eq!(hello.negotiate(1, 1), Welcome { version: 0, server_max_version: 1 });
        let broken = Hello { min_version: 0, max_version: 0 };
        assert_eq!(broken.negotiate(1, 1).version, 0);
    }
}
