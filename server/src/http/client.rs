//! The client side of HTTP, for talking to other servers: an ICY station the server relays
//! (`GET`, `relay::icy`) and an Icecast it feeds (`PUT` and the admin's metadata, `icecast`).
//! One request per connection; a response head is bounded like a request's ([`MAX_HEAD`], and
//! a deadline for the whole of it) and parsed by `httparse`. SHOUTcast's `ICY 200 OK` status
//! line is read as `HTTP/1.0 200 OK`.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use base64::Engine;
pub use url::Url;

use super::head::{HeadError, MAX_HEAD, MAX_HEADERS};

/// A response's head. Names of header fields are kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// The reason phrase, as sent.
    pub reason: String,
    /// Header fields in the order sent: (lower-case name, value; bytes that are not UTF-8
    /// replaced).
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// The value of the first field named `name` (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    }
}

/// The host and port `url` names (the scheme's default port when it names none), for
/// connecting and for the `Host` field.
pub fn authority(url: &Url) -> io::Result<(String, u16)> {
    let host = url
        .host_str()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{url} names no host")))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{url} names no port")))?;
    // An IPv6 host comes bracketed from `host_str`; the resolver wants it bare.
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_string(), port))
}

/// Connects to `host:port`, trying each address it resolves to, each for at most `timeout`.
pub fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"))))
}

/// `Authorization: Basic` credentials for `user` and `password`.
pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// The user and password of `url` (`http://source:hackme@host/`), percent-decoded (a `+`
/// stays a plus: only forms mean a space by it).
pub fn credentials(url: &Url) -> Option<(String, String)> {
    let decode = |s: &str| {
        let query = format!("x={}", s.replace('+', "%2B"));
        url::form_urlencoded::parse(query.as_bytes()).next().map(|(_, v)| v.into_owned())
    };
    let user = decode(url.username()).unwrap_or_default();
    let password = url.password().and_then(decode).unwrap_or_default();
    (!user.is_empty() || !password.is_empty()).then_some((user, password))
}

/// Parses the response head at the start of `bytes`: `Ok(None)` while it is incomplete and may
/// still fit, else the head and its length in bytes (what follows is the body).
pub fn parse_response(bytes: &[u8]) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    // SHOUTcast 1 answers `ICY 200 OK`; the rest of its head is HTTP's.
    let shoutcast = bytes.starts_with(b"ICY ");
    let owned;
    let bytes = if shoutcast {
        owned = [b"HTTP/1.0".as_slice(), &bytes[3..]].concat();
        &owned[..]
    } else {
        bytes
    };
    let shift = if shoutcast { 5 } else { 0 };
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut fields);
    match response.parse(bytes) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD => {
            let head = ResponseHead {
                status: response.code.unwrap_or(0),
                reason: response.reason.unwrap_or_default().to_string(),
                headers: response
                    .headers
                    .iter()
                    .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
                    .collect(),
            };
            Ok(Some((head, len - shift)))
        }
        Ok(httparse::Status::Complete(_)) => Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) if bytes.len() >= MAX_HEAD => Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooLarge),
        Err(_) => Err(HeadError::Malformed("not an HTTP response")),
    }
}

/// Reads a response head from `socket`, which must be done by `deadline`. Returns the head and
/// what came after it in the same reads (the start of the body, at most [`MAX_HEAD`] bytes).
pub fn read_response(socket: &TcpStream, deadline: Instant) -> Result<(ResponseHead, Vec<u8>), HeadError> {
    super::head::read_with(socket, deadline, parse_response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_icecast_head_parses_and_keeps_the_body() {
        let text = b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-metaint: 16000\r\n\r\n\xff\xfb";
        let (head, len) = parse_response(text).unwrap().unwrap();
        assert_eq!((head.status, head.reason.as_str()), (200, "OK"));
        assert_eq!(head.header("ICY-METAINT"), Some("16000"));
        assert_eq!(&text[len..], b"\xff\xfb");
    }

    #[test]
    fn a_shoutcast_status_line_reads_as_http() {
        let text = b"ICY 200 OK\r\nicy-name: Old School\r\nicy-metaint: 8192\r\n\r\nAUDIO";
        let (head, len) = parse_response(text).unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.header("icy-name"), Some("Old School"));
        assert_eq!(&text[len..], b"AUDIO");
        assert_eq!(parse_response(b"ICY 200 OK\r\nicy-name: x\r\n"), Ok(None));
    }

    #[test]
    fn garbage_and_huge_heads_are_refused() {
        assert!(matches!(parse_response(b"\x16\x03\x01 hello\r\n\r\n"), Err(HeadError::Malformed(_))));
        let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        long.resize(MAX_HEAD, b'a');
        assert_eq!(parse_response(&long), Err(HeadError::TooLarge));
    }

    #[test]
    fn credentials_come_decoded_from_the_url() {
        let url = Url::parse("http://source:p%40ss@icecast.example:8000/jukebox.mp3").unwrap();
        assert_eq!(credentials(&url), Some(("source".into(), "p@ss".into())));
        let plus = Url::parse("http://source:a+b%20c@h/x").unwrap();
        assert_eq!(credentials(&plus), Some(("source".into(), "a+b c".into())));
        assert_eq!(basic_auth("source", "hackme"), "Basic c291cmNlOmhhY2ttZQ==");
        assert_eq!(authority(&url).unwrap(), ("icecast.example".into(), 8000));
        assert_eq!(credentials(&Url::parse("http://host/x").unwrap()), None);
        let plus = Url::parse("http://a+b:c+d%2B@host/x").unwrap();
        assert_eq!(credentials(&plus), Some(("a+b".into(), "c+d+".into())));
        assert_eq!(authority(&Url::parse("http://[::1]/x").unwrap()).unwrap(), ("::1".into(), 80));
    }

    proptest! {
        #[test]
        fn no_input_panics_and_nothing_longer_than_the_limit_is_accepted(bytes in proptest::collection::vec(any::<u8>(), 0..10_000)) {
            if let Ok(Some((_, len))) = parse_response(&bytes) {
                prop_assert!(len <= MAX_HEAD && len <= bytes.len());
            }
        }

        #[test]
        fn icy_heads_parse_whatever_follows(body in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut bytes = b"ICY 200 OK\r\nicy-metaint: 10\r\n\r\n".to_vec();
            let head_len = bytes.len();
            bytes.extend_from_slice(&body);
            let (_, len) = parse_response(&bytes).unwrap().unwrap();
            prop_assert_eq!(len, head_len);
        }
    }
}
