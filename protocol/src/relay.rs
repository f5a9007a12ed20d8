//! The relay family (RFC §6.1.9, §6.2.10, §6.2.11, §7.6): a server that re-serves another's
//! station asks for it with RELAY, and is either taken in as a child (RELAYED, which tells it
//! the path to the origin, so it can climb the tree when its parent fails) or sent to a child
//! of a full node (REDIRECT), so the tree builds itself.
//!
//! ```text
//! RELAY:     | request id (32) | node id (64) | listen port (16) |
//! RELAYED:   | request id (32) | stream id (32) | bitrate kbps (16) | sample rate (32) |
//!            | node id (64) | count (16) | count × hop |
//!   hop:     | node id (64) | address |
//! REDIRECT:  | request id (32) | address | text |
//! ```
//!
//! RELAY is a [`crate::Request`]; this module holds the node id, the replies and their hops.

use crate::error::DecodeError;
use crate::request::RequestId;
use crate::stream::StreamId;
use crate::wire::{Cursor, put_text, put_u16, put_u32, put_u64};

/// The most hops a RELAYED carries: a tree of relays with two children each reaches billions
/// of listeners long before it is this deep, and a longer path is a loop.
pub const MAX_HOPS: usize = 32;

/// A server's identity in a tree of relays: random, drawn when it starts, never 0. It tells a
/// relay that the node it reached is itself or one of its own descendants (a loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u64);

impl NodeId {
    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<NodeId, DecodeError> {
        match c.u64()? {
            0 => Err(c.invalid("node id")),
            id => Ok(NodeId(id)),
        }
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// One server on the path from a relay to the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// Its identity.
    pub node: NodeId,
    /// Where its relays reach it: `host:port` (`[v6]:port` for an IPv6 address).
    pub address: String,
}

/// Reply to RELAY: the relay is taken in as a child and hears the station as stream `stream`
/// (RFC §6.2.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayed {
    /// The RELAY this answers.
    pub id: RequestId,
    /// The new current stream, a radio stream in every respect (RFC §7.5).
    pub stream: StreamId,
    /// The station's constant bitrate, 0 when it is not constant (as TUNED).
    pub bitrate_kbps: u16,
    /// The station's constant sample rate in Hz, 0 when it is not constant (as TUNED).
    pub sample_rate: u32,
    /// The answering server's identity.
    pub node: NodeId,
    /// The answering server's own path to the origin, origin first: empty when it is the
    /// origin. The relay adds the server it reached to learn its own.
    pub path: Vec<Hop>,
}

impl Relayed {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.id.0);
        put_u32(out, self.stream.0);
        put_u16(out, self.bitrate_kbps);
        put_u32(out, self.sample_rate);
        put_u64(out, self.node.0);
        let hops = &self.path[..self.path.len().min(MAX_HOPS)];
        put_u16(out, hops.len() as u16);
        for hop in hops {
            put_u64(out, hop.node.0);
            put_text(out, &hop.address);
        }
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Relayed, DecodeError> {
        let id = c.request_id()?;
        let stream = match c.u32()? {
            0 => return Err(c.invalid("stream id")),
            id => StreamId(id),
        };
        let bitrate_kbps = c.u16()?;
        let sample_rate = c.u32()?;
        let node = NodeId::decode(c)?;
        let count = usize::from(c.u16()?);
        if count > MAX_HOPS {
            return Err(c.invalid("hop count"));
        }
        let mut path = Vec::with_capacity(count);
        for _ in 0..count {
            path.push(Hop { node: NodeId::decode(c)?, address: c.text()? });
        }
        Ok(Relayed { id, stream, bitrate_kbps, sample_rate, node, path })
    }
}

/// Reply to RELAY from a server that takes no more relays: try `address` instead, one of its
/// children (RFC §6.2.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The RELAY this answers.
    pub id: RequestId,
    /// Where to ask next: `host:port`.
    pub address: String,
    /// Why, for people (and logs).
    pub text: String,
}

impl Redirect {
    pub(crate) fn encode_payload(&self, out: &mut Vec<u8>) {
        put_u32(out, self.id.0);
        put_text(out, &self.address);
        put_text(out, &self.text);
    }

    pub(crate) fn decode(c: &mut Cursor<'_>) -> Result<Redirect, DecodeError> {
        let id = c.request_id()?;
        let address = c.text()?;
        if address.is_empty() {
            return Err(c.invalid("address"));
        }
        Ok(Redirect { id, address, text: c.text()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    #[test]
    fn a_relayed_with_too_many_hops_or_a_zero_node_is_malformed() {
        let mut payload = Vec::new();
        put_u32(&mut payload, 7);
        put_u32(&mut payload, 1);
        put_u16(&mut payload, 128);
        put_u32(&mut payload, 44_100);
        put_u64(&mut payload, 9);
        put_u16(&mut payload, (MAX_HOPS + 1) as u16);
        assert!(Message::decode(crate::Kind::Relayed.to_u8(), &payload).is_err());
        let redirect =
            Message::Redirect(Redirect { id: RequestId(1), address: String::new(), text: "x".into() });
        let bytes = redirect.to_bytes().unwrap();
        assert!(Message::decode_from_slice(&bytes).is_err(), "an empty address is malformed");
        let relay = Message::Request(crate::Request::Relay { id: RequestId(1), node: NodeId(0), port: 1 });
        let bytes = relay.to_bytes().unwrap();
        assert!(Message::decode_from_slice(&bytes).is_err(), "node 0 is malformed");
    }

    #[test]
    fn a_relayed_longer_than_the_limit_is_cut_when_sent() {
        let hop = Hop { node: NodeId(3), address: "10.0.0.1:12345".into() };
        let relayed = Relayed {
            id: RequestId(1),
            stream: StreamId(2),
            bitrate_kbps: 128,
            sample_rate: 44_100,
            node: NodeId(4),
            path: vec![hop; MAX_HOPS + 5],
        };
        let bytes = Message::Relayed(relayed).to_bytes().unwrap();
        match Message::decode_from_slice(&bytes) {
            Ok(Some((Message::Relayed(back), _))) => assert_eq!(back.path.len(), MAX_HOPS),
            other => panic!("{other:?}"),
        }
    }
}
