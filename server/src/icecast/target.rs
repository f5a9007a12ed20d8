//! Where to feed: an Icecast server, a mount on it, and the source credentials, from a URL
//! such as `http://source:hackme@icecast.example:8000/jukebox.mp3`, checked once at startup
//! so that a typo fails there with a reason instead of as a retry loop in the log.

use std::fmt;

use crate::http::client::{self, Url};

/// The user Icecast expects a source to give when the URL names none.
pub const DEFAULT_USER: &str = "source";

/// The longest mount name accepted: Icecast keeps mounts in request lines and admin queries.
pub const MAX_MOUNT: usize = 200;

/// An Icecast mount to feed, with its credentials. Shown (`Display`, `Debug`) without the
/// password, so it may go to the log.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    host: String,
    port: u16,
    mount: String,
    user: String,
    password: String,
}

/// Why a URL cannot be fed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// It does not parse as a URL.
    #[error("not a URL ({0}); expected http://source:PASSWORD@HOST:PORT/MOUNT")]
    NotAUrl(String),
    /// A scheme other than `http`: the server speaks neither TLS nor libshout's `icecast://`.
    #[error("the scheme must be http:// (not {0}://)")]
    Scheme(String),
    /// No host to connect to.
    #[error("the URL names no host")]
    NoHost,
    /// No mount, or only `/`.
    #[error("the URL names no mount: add one, as in http://source:PASSWORD@HOST:8000/jukebox.mp3")]
    NoMount,
    /// A mount with characters Icecast's admin queries would need escaped, or too long.
    #[error(
        "the mount {0:?} may hold only letters, digits, '.', '-', '_', '~' and '/' (at most {MAX_MOUNT})"
    )]
    Mount(String),
    /// A query or a fragment, which a mount does not have.
    #[error("the URL must end with the mount: no ?query or #fragment")]
    Extra,
    /// No password: Icecast refuses every source without one.
    #[error("the URL holds no source password: http://source:PASSWORD@HOST:PORT/MOUNT")]
    NoPassword,
}

impl Target {
    /// Checks `text` as an Icecast source URL: `http`, a host, a mount, and a password (the
    /// user defaults to [`DEFAULT_USER`]; the port to 80, as any `http` URL's).
    pub fn parse(text: &str) -> Result<Target, TargetError> {
        let url = Url::parse(text).map_err(|e| TargetError::NotAUrl(e.to_string()))?;
        if url.scheme() != "http" {
            return Err(TargetError::Scheme(url.scheme().to_string()));
        }
        let (host, port) = client::authority(&url).map_err(|_| TargetError::NoHost)?;
        if host.is_empty() {
            return Err(TargetError::NoHost);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(TargetError::Extra);
        }
        let mount = url.path().to_string();
        if mount == "/" || mount.is_empty() {
            return Err(TargetError::NoMount);
        }
        let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b'/');
        if mount.len() > MAX_MOUNT || !mount.bytes().all(plain) {
            return Err(TargetError::Mount(mount));
        }
        let (user, password) = client::credentials(&url).ok_or(TargetError::NoPassword)?;
        if password.is_empty() {
            return Err(TargetError::NoPassword);
        }
        let user = if user.is_empty() { DEFAULT_USER.to_string() } else { user };
        Ok(Target { host, port, mount, user, password })
    }

    /// The host to connect to (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The mount, from its `/`: the path of the `PUT` and the `mount` of admin requests.
    pub fn mount(&self) -> &str {
        &self.mount
    }

    /// The `Authorization` field's value for the source credentials.
    pub fn authorization(&self) -> String {
        client::basic_auth(&self.user, &self.password)
    }

    /// The `Host` field's value.
    pub fn host_field(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Target {
    /// `http://HOST:PORT/MOUNT`: what a log line may say (no credentials).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.host_field(), self.mount)
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.to_string())
            .field("user", &self.user)
            .field("password", &"(hidden)")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_url_gives_host_port_mount_and_credentials() {
        let target = Target::parse("http://source:hack%40me@icecast.example:8000/jukebox.mp3").unwrap();
        assert_eq!((target.host(), target.port(), target.mount()), ("icecast.example", 8000, "/jukebox.mp3"));
        assert_eq!(target.authorization(), client::basic_auth("source", "hack@me"));
        assert_eq!(target.to_string(), "http://icecast.example:8000/jukebox.mp3");
        let debug = format!("{target:?}");
        assert!(!debug.contains("hack"), "{debug}");
    }

    #[test]
    fn the_user_defaults_to_source_and_the_port_to_80() {
        let target = Target::parse("http://:secret@[::1]/live/radio.mp3").unwrap();
        assert_eq!(target.authorization(), client::basic_auth("source", "secret"));
        assert_eq!((target.host(), target.port()), ("::1", 80));
        assert_eq!(target.to_string(), "http://[::1]:80/live/radio.mp3");
    }

    #[test]
    fn what_cannot_be_fed_is_refused_with_its_reason() {
        let cases = [
            ("icecast-host:8000/x.mp3", TargetError::Scheme("icecast-host".into())),
            ("https://source:p@h/x.mp3", TargetError::Scheme("https".into())),
            ("icecast://source:p@h/x.mp3", TargetError::Scheme("icecast".into())),
            ("http://source:p@h:8000", TargetError::NoMount),
            ("http://source:p@h:8000/", TargetError::NoMount),
            ("http://source@h:8000/x.mp3", TargetError::NoPassword),
            ("http://h:8000/x.mp3", TargetError::NoPassword),
            ("http://source:p@h/x.mp3?a=b", TargetError::Extra),
            ("http://source:p@h/x.mp3#top", TargetError::Extra),
            ("http://source:p@h/my%20radio.mp3", TargetError::Mount("/my%20radio.mp3".into())),
        ];
        for (text, error) in cases {
            assert_eq!(Target::parse(text), Err(error), "{text}");
        }
        assert!(matches!(Target::parse("not a url"), Err(TargetError::NotAUrl(_))));
        let long = format!("http://source:p@h/{}", "a".repeat(MAX_MOUNT));
        assert!(matches!(Target::parse(&long), Err(TargetError::Mount(_))));
    }
}
