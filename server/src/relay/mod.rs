//! Relaying: a server without a music folder that re-serves another station to its own
//! listeners, natively (TUNE) and over HTTP/ICY, from a jukebox upstream (RELAY, RFC §6.1.9)
//! or any Icecast/SHOUTcast station ([`icy`]).
//!
//! - [`jukebox`]: a jukebox parent over the Jukebox Protocol (RELAY, then a radio stream).
//! - [`icy`]: an ICY station over HTTP.
//! - [`splice`]: one continuous stream on the relay's clock from whatever upstreams deliver:
//!   audio already sent dropped, silence while nobody delivers (sans-IO).
//! - [`tree`]: this server's place in a tree of relays: its children and its path to the
//!   origin (sans-IO).
//! - [`feed`]: the relay's threads: the feed (connects, fails over, reads), the prober (goes
//!   back to a better upstream when it returns) and the clock (puts chunks on the air).

pub mod feed;
pub mod icy;
pub mod jukebox;
pub mod splice;
pub mod tree;

use std::fmt;
use std::str::FromStr;

use jukebox_protocol::SongId;

pub use feed::spawn;

use crate::http::client::Url;

/// What an upstream delivers, in the order it comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Whole MPEG audio frames, back to back.
    Audio {
        /// The frames.
        frames: Vec<u8>,
        /// The upstream's station time at which the first frame starts, when the upstream has
        /// one (a jukebox; an ICY station does not).
        position_ms: Option<u64>,
    },
    /// A song begins: at `position_ms` when the upstream says, else with the next audio.
    Song {
        /// The upstream's id for it (a jukebox's), if any.
        song: Option<SongId>,
        /// Its title (for an ICY station, the StreamTitle, or its part after " - ").
        title: String,
        /// Its artist, if known.
        artist: String,
        /// Its playing time in milliseconds, 0 when unknown.
        duration_ms: u32,
        /// The upstream's station time at which it begins, if known.
        position_ms: Option<u64>,
    },
}

/// A station to relay, as `--relay` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// Another jukebox server: `jukebox://host:port` (or `host:port`).
    Jukebox(String),
    /// An Icecast or SHOUTcast station: `http://host:port/mount`.
    Icy(Url),
}

impl FromStr for Upstream {
    type Err = String;

    fn from_str(text: &str) -> Result<Upstream, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("jukebox://") {
            let address = rest.trim_end_matches('/');
            return jukebox_address(address).map(Upstream::Jukebox);
        }
        if text.starts_with("http://") {
            let url = Url::parse(text).map_err(|e| format!("{text}: {e}"))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("{text} names no host"));
            }
            return Ok(Upstream::Icy(url));
        }
        if text.starts_with("https://") {
            return Err(format!(
                "{text}: HTTPS stations cannot be relayed (no TLS here); use its http:// address"
            ));
        }
        if text.contains("://") {
            return Err(format!("{text}: relay from jukebox://HOST:PORT or http://HOST:PORT/MOUNT"));
        }
        jukebox_address(text).map(Upstream::Jukebox)
    }
}

/// `host:port`, checked for both parts.
fn jukebox_address(address: &str) -> Result<String, String> {
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err(format!("{address}: a jukebox upstream needs HOST:PORT"));
    };
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(format!("{address}: a jukebox upstream needs HOST:PORT (a port from 1 to 65535)"));
    }
    Ok(address.to_string())
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Upstream::Jukebox(address) => write!(f, "jukebox://{address}"),
            Upstream::Icy(url) => {
                // Never a password in a log.
                let mut shown = url.clone();
                let _ = shown.set_password(None);
                write!(f, "{shown}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_parse_from_what_users_type() {
        assert_eq!("jukebox://origin:12345".parse(), Ok(Upstream::Jukebox("origin:12345".into())));
        assert_eq!("127.0.0.1:12345".parse(), Ok(Upstream::Jukebox("127.0.0.1:12345".into())));
        assert_eq!("jukebox://[::1]:9".parse(), Ok(Upstream::Jukebox("[::1]:9".into())));
        let icy: Upstream = "http://some.station:8000/live".parse().unwrap();
        assert_eq!(icy.to_string(), "http://some.station:8000/live");
        let secret: Upstream = "http://u:secret@h:1/x".parse().unwrap();
        assert!(!secret.to_string().contains("secret"));
        for bad in
            ["jukebox://origin", "origin", "jukebox://:1", "origin:0", "ftp://x/y", "https://x/y", "http://"]
        {
            assert!(bad.parse::<Upstream>().is_err(), "{bad}");
        }
    }
}
