//! What a station's response head means for relaying it, without I/O: a redirect to follow, a
//! stream to read (and how), or a refusal a person understands. Every text the station chose
//! is made printable and cut short before it goes into an error ([`shown`]).

use jukebox_protocol::text::printable;

use super::IcyError;
use crate::http::client::{ResponseHead, Url};

/// The largest `icy-metaint` accepted: Icecast sends 16000, SHOUTcast 8192 or 32768. A larger
/// one is a broken or hostile station.
pub const MAX_METAINT: usize = 1024 * 1024;

/// The longest text of the station's that an error quotes, in characters.
const MAX_QUOTED: usize = 120;

/// What the head says to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Ask again there (an `http://` URL).
    Redirect(Url),
    /// The body is the stream.
    Stream {
        /// Audio bytes between metadata blocks, if the station sends them.
        metaint: Option<usize>,
        /// The station's name (`icy-name`), printable; empty if it gave none.
        name: String,
    },
}

/// Judges the head a station answered `url` with.
pub fn judge(url: &Url, head: &ResponseHead) -> Result<Answer, IcyError> {
    if matches!(head.status, 301 | 302 | 303 | 307 | 308)
        && let Some(location) = head.header("location")
    {
        let next = url.join(location).map_err(|_| IcyError::BadRedirect { location: shown(location) })?;
        if next.scheme() != "http" {
            return Err(IcyError::BadRedirect { location: shown(location) });
        }
        return Ok(Answer::Redirect(next));
    }
    if head.status != 200 {
        return Err(IcyError::Status { status: head.status, reason: shown(&head.reason) });
    }
    if let Some(kind) = head.header("content-type") {
        check_content_type(kind)?;
    }
    if head.header("transfer-encoding").is_some_and(|te| !te.eq_ignore_ascii_case("identity")) {
        return Err(IcyError::Chunked);
    }
    let metaint = match head.header("icy-metaint") {
        None => None,
        Some(value) => match value.parse::<usize>() {
            Ok(n) if (1..=MAX_METAINT).contains(&n) => Some(n),
            _ => return Err(IcyError::BadMetaint { value: shown(value) }),
        },
    };
    let name = ["icy-name", "ice-name", "x-audiocast-name"]
        .iter()
        .find_map(|field| head.header(field).filter(|v| !v.is_empty()))
        .map(shown)
        .unwrap_or_default();
    Ok(Answer::Stream { metaint, name })
}

/// Refuses a `Content-Type` that is not MPEG audio, naming what it is when it is a format
/// stations commonly use.
fn check_content_type(value: &str) -> Result<(), IcyError> {
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let format = match essence.as_str() {
        "audio/mpeg"
        | "audio/mp3"
        | "audio/mpeg3"
        | "audio/x-mpeg"
        | "audio/x-mp3"
        | "audio/mpg"
        | "application/octet-stream" => return Ok(()),
        "audio/aac" | "audio/aacp" | "audio/x-aac" | "audio/mp4" => "AAC".to_string(),
        "application/ogg" | "audio/ogg" | "audio/opus" => "Ogg".to_string(),
        "audio/flac" | "audio/x-flac" => "FLAC".to_string(),
        _ => shown(value),
    };
    Err(IcyError::NotMp3 { format })
}

/// A text the station chose, safe for a log and short.
pub fn shown(text: &str) -> String {
    let safe = printable(text);
    match safe.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &safe[..cut]),
        None => safe.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, headers: &[(&str, &str)]) -> ResponseHead {
        ResponseHead {
            status,
            reason: "Whatever".into(),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        }
    }

    fn url() -> Url {
        Url::parse("http://radio.example:8000/live?x=1").unwrap()
    }

    #[test]
    fn redirects_are_resolved_relative_to_the_url_asked() {
        let to = |location: &str| judge(&url(), &head(302, &[("location", location)]));
        assert_eq!(
            to("/other").unwrap(),
            Answer::Redirect(Url::parse("http://radio.example:8000/other").unwrap())
        );
        assert_eq!(
            to("http://b.example/s").unwrap(),
            Answer::Redirect(Url::parse("http://b.example/s").unwrap())
        );
        assert!(matches!(to("https://secure.example/s"), Err(IcyError::BadRedirect { .. })));
        assert!(matches!(to("http://[::1"), Err(IcyError::BadRedirect { .. })));
        // A redirect without a place to go is an answer like any other non-200.
        assert!(matches!(judge(&url(), &head(301, &[])), Err(IcyError::Status { status: 301, .. })));
    }

    #[test]
    fn statuses_formats_and_encodings_that_cannot_be_relayed_are_refused() {
        let error = |h: ResponseHead| judge(&url(), &h).unwrap_err().to_string();
        assert_eq!(error(head(404, &[])), "the station answered 404 Whatever");
        assert_eq!(
            error(head(200, &[("content-type", "audio/aacp")])),
            "the station streams AAC; jukebox relays MP3 only"
        );
        assert_eq!(
            error(head(200, &[("content-type", "application/ogg")])),
            "the station streams Ogg; jukebox relays MP3 only"
        );
        assert_eq!(
            error(head(200, &[("content-type", "text/html\x1b[2J")])),
            "the station streams text/html[2J; jukebox relays MP3 only"
        );
        assert!(matches!(
            judge(&url(), &head(200, &[("transfer-encoding", "chunked")])),
            Err(IcyError::Chunked)
        ));
        for bad in ["0", "1048577", "-1", "lots"] {
            assert!(matches!(
                judge(&url(), &head(200, &[("icy-metaint", bad)])),
                Err(IcyError::BadMetaint { .. })
            ));
        }
    }

    #[test]
    fn an_mpeg_stream_gives_its_interval_and_printable_name() {
        let ok = head(
            200,
            &[
                ("content-type", "audio/mpeg; charset=x"),
                ("icy-metaint", "16000"),
                ("icy-name", "Old\nSchool"),
            ],
        );
        assert_eq!(
            judge(&url(), &ok).unwrap(),
            Answer::Stream { metaint: Some(16000), name: "Old School".into() }
        );
        assert_eq!(
            judge(&url(), &head(200, &[])).unwrap(),
            Answer::Stream { metaint: None, name: String::new() }
        );
    }

    #[test]
    fn quoted_texts_are_cut_short() {
        assert_eq!(shown(&"é".repeat(500)).chars().count(), MAX_QUOTED + 1);
        assert_eq!(shown("short"), "short");
    }
}
