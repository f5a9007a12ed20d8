//! Reading a request's head: bounded in size ([`MAX_HEAD`]) and in time ([`HEAD_TIMEOUT`] for
//! the whole head, however slowly its bytes come), parsed by `httparse`. [`parse`] is sans-IO;
//! [`read`] feeds it from a socket.

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The longest request head accepted, request line and headers together. A browser's head is
/// well under 2 KiB; Apache and nginx allow 8 KiB.
pub const MAX_HEAD: usize = 8 * 1024;

/// Header fields a head may carry, at most.
pub const MAX_HEADERS: usize = 64;

/// How long a client has to send its whole head, from the accept. A client that trickles
/// bytes (slowloris) is let go when it runs out, whatever it sends meanwhile: it costs only its
/// own connection's thread for this long.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed request head. Names of header fields are kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// `GET`, `HEAD`, `POST`, ... as sent (methods are case-sensitive).
    pub method: String,
    /// The request target as sent: a path, maybe with a query.
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// Header fields in the order sent: (lower-case name, value; bytes that are not UTF-8
    /// replaced).
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The value of the first field named `name` (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    }

    /// Every value of the fields named `name`.
    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    }

    /// The path the target names, without a query, and without the scheme and authority of an
    /// absolute-form target (`http://host/radio`, as proxies send).
    pub fn path(&self) -> &str {
        let target = self.target.as_str();
        let target = match target.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => {
                rest.find('/').map_or("/", |slash| &rest[slash..])
            }
            _ => target,
        };
        target.split(['?', '#']).next().unwrap_or("/")
    }

    /// The body's length as `Content-Length` says; `Err` when the head is contradictory or
    /// asks for a transfer coding (bodies must come with a length here).
    pub fn body_length(&self) -> Result<u64, HeadError> {
        if self.header("transfer-encoding").is_some() {
            return Err(HeadError::LengthRequired);
        }
        let mut length = None;
        for value in self.all("content-length") {
            // A list ("5, 5") repeats the same length; anything else is malformed.
            for part in value.split(',') {
                let part = part.trim();
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HeadError::Malformed("a Content-Length that is not a number"));
                }
                let n = part.parse::<u64>().unwrap_or(u64::MAX);
                if length.is_some_and(|l| l != n) {
                    return Err(HeadError::Malformed("two different Content-Lengths"));
                }
                length = Some(n);
            }
        }
        Ok(length.unwrap_or(0))
    }
}

/// Why no head could be read: each is answered with its status, then the connection closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// The head is longer than [`MAX_HEAD`] or has more than [`MAX_HEADERS`] fields: 431.
    #[error("the request head is longer than {MAX_HEAD} bytes or has more than {MAX_HEADERS} fields")]
    TooLarge,
    /// Not HTTP: 400.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// A body without a length: 411.
    #[error("a request body needs a Content-Length")]
    LengthRequired,
    /// The head did not arrive in time ([`HEAD_TIMEOUT`] unless the server was told
    /// otherwise): 408.
    #[error("no complete request head in time")]
    TimedOut,
    /// The client closed or the connection broke before a whole head: nothing to answer.
    #[error("the connection ended before a complete request head")]
    Closed,
}

impl HeadError {
    /// The status that answers it; `None` when nobody is left to answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            HeadError::TooLarge => Some(431),
            HeadError::Malformed(_) => Some(400),
            HeadError::LengthRequired => Some(411),
            HeadError::TimedOut => Some(408),
            HeadError::Closed => None,
        }
    }
}

/// Parses the head at the start of `bytes`: `Ok(None)` while it is incomplete and may still
/// fit, else the head and its length in bytes (what follows is the body).
pub fn parse(bytes: &[u8]) -> Result<Option<(Head, usize)>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut fields);
    match request.parse(bytes) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD => {
            let head = Head {
                method: request.method.unwrap_or_default().to_string(),
                target: request.path.unwrap_or("/").to_string(),
                version: request.version.unwrap_or(1),
                headers: request
                    .headers
                    .iter()
                    .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
                    .collect(),
            };
            Ok(Some((head, len)))
        }
        Ok(httparse::Status::Complete(_)) => Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) if bytes.len() >= MAX_HEAD => Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooLarge),
        Err(e) => Err(HeadError::Malformed(match e {
            httparse::Error::Version => "not HTTP/1.x",
            httparse::Error::Token | httparse::Error::HeaderName => "a bad method or header name",
            httparse::Error::HeaderValue => "a bad header value",
            httparse::Error::NewLine => "a bad line ending",
            _ => "not an HTTP request",
        })),
    }
}

/// Reads a head from `socket`, which must be done by `deadline`. Returns the head and what
/// came after it in the same reads (the start of a body, at most `MAX_HEAD` bytes).
pub fn read(socket: &TcpStream, deadline: Instant) -> Result<(Head, Vec<u8>), HeadError> {
    read_with(socket, deadline, parse)
}

/// Reads from `socket` until `parse` finds a whole head (a request's or, for the client side,
/// a response's), all of it by `deadline` and within `MAX_HEAD` bytes, however slowly the
/// bytes come. Returns the head and what came after it in the same reads.
pub fn read_with<T>(
    mut socket: &TcpStream,
    deadline: Instant,
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, HeadError>,
) -> Result<(T, Vec<u8>), HeadError> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut filled = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HeadError::TimedOut);
        }
        // Each read waits only for what is left of the whole head's time.
        socket.set_read_timeout(Some(left)).map_err(|_| HeadError::Closed)?;
        match socket.read(&mut buf[filled..]) {
            Ok(0) => return Err(HeadError::Closed),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(HeadError::TimedOut);
            }
            Err(_) => return Err(HeadError::Closed),
        }
        if let Some((head, len)) = parse(&buf[..filled])? {
            buf.truncate(filled);
            return Ok((head, buf.split_off(len)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn head(text: &str) -> Head {
        parse(text.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn a_browser_request_parses() {
        let text = "GET /radio?x=1 HTTP/1.1\r\nHost: radio.example:8080\r\nIcy-MetaData: 1\r\n\r\nrest";
        let (head, len) = parse(text.as_bytes()).unwrap().unwrap();
        assert_eq!(len, text.len() - 4);
        assert_eq!((head.method.as_str(), head.path(), head.version), ("GET", "/radio", 1));
        assert_eq!(head.header("icy-metadata"), Some("1"));
        assert_eq!(head.header("HOST"), Some("radio.example:8080"));
        assert_eq!(head.header("range"), None);
    }

    #[test]
    fn an_incomplete_head_waits_and_a_long_one_is_refused() {
        assert_eq!(parse(b"GET /radio HTTP/1.1\r\nHost: x\r\n"), Ok(None));
        let mut long = b"GET / HTTP/1.1\r\nX-Filler: ".to_vec();
        long.resize(MAX_HEAD, b'a');
        assert_eq!(parse(&long), Err(HeadError::TooLarge));
        let mut many = "GET / HTTP/1.1\r\n".to_string();
        for i in 0..=MAX_HEADERS {
            many.push_str(&format!("X-{i}: y\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(parse(many.as_bytes()), Err(HeadError::TooLarge));
        assert_eq!(HeadError::TooLarge.status(), Some(431));
    }

    #[test]
    fn garbage_is_malformed() {
        let garbage: [&[u8]; 3] = [
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"GET / SPDY/3\r\n\r\n",
            b"GET /\x01 HTTP/1.1\r\n\r\n",
        ];
        for garbage in garbage {
            let got = parse(garbage);
            assert!(matches!(got, Err(HeadError::Malformed(_))), "{garbage:?}: {got:?}");
        }
    }

    #[test]
    fn absolute_targets_and_queries_reduce_to_the_path() {
        assert_eq!(head("GET http://host:1/songs/3.mp3?a HTTP/1.1\r\n\r\n").path(), "/songs/3.mp3");
        assert_eq!(head("GET http://host HTTP/1.1\r\n\r\n").path(), "/");
        assert_eq!(head("GET /status.json#x HTTP/1.0\r\n\r\n").path(), "/status.json");
    }

    #[test]
    fn body_lengths_must_be_plain_and_agree() {
        let length = |fields: &str| head(&format!("POST /request/1 HTTP/1.1\r\n{fields}\r\n")).body_length();
        assert_eq!(length(""), Ok(0));
        assert_eq!(length("Content-Length: 12\r\n"), Ok(12));
        assert_eq!(length("Content-Length: 5, 5\r\n"), Ok(5));
        assert!(matches!(length("Content-Length: 5\r\nContent-Length: 6\r\n"), Err(HeadError::Malformed(_))));
        assert!(matches!(length("Content-Length: -1\r\n"), Err(HeadError::Malformed(_))));
        assert_eq!(length("Transfer-Encoding: chunked\r\n"), Err(HeadError::LengthRequired));
        assert_eq!(length("Content-Length: 99999999999999999999999\r\n"), Ok(u64::MAX));
    }

    proptest! {
        #[test]
        fn no_input_panics_and_nothing_longer_than_the_limit_is_accepted(bytes in proptest::collection::vec(any::<u8>(), 0..10_000)) {
            if let Ok(Some((_, len))) = parse(&bytes) {
                prop_assert!(len <= MAX_HEAD && len <= bytes.len());
            }
        }
    }
}
