//! `GET /songs/N.mp3`: one song's file as it is on disk (tags included), for a browser's audio
//! element or a download, with byte ranges so that a player can seek.
//!
//! Ranges (RFC 9110 §14): one range, `bytes=a-b`, `bytes=a-` or `bytes=-n`, is answered with
//! 206 and `Content-Range`; a range that starts past the end with 416 and
//! `Content-Range: bytes */LEN`. A request for several ranges gets the whole file (200), as a
//! server may ignore `Range`: no browser or player asks for several. `Range` is also ignored
//! when `If-Range` comes with it, since the server sends no validator it could match. A range
//! it cannot parse is ignored, as the RFC says.
//!
//! The file is opened with [`open_listed`] (without blocking, checked to be the file the scan
//! found) and sent through one [`BUFFER`]-sized buffer, never whole in memory.

use std::io::{self, Write};
use std::net::TcpStream;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use crossbeam_channel::TryRecvError;
use jukebox_protocol::SongId;
use tracing::debug;

use super::Reply;
use super::head::Head;
use crate::Shared;
use crate::library::open::open_listed;

/// Bytes read from the file and written to the socket at a time.
pub const BUFFER: usize = 64 * 1024;

/// What a `Range` header asks of a file of a given length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeAnswer {
    /// The whole file, 200 (no range, several, or one that cannot be parsed).
    Whole,
    /// These bytes, never empty and within the file: 206.
    Part(Range<u64>),
    /// A range that starts past the end (or a suffix of zero bytes): 416.
    Unsatisfiable,
}

/// Reads a `Range` header's value for a file of `len` bytes.
pub fn parse_range(value: &str, len: u64) -> RangeAnswer {
    let Some((unit, spec)) = value.trim().split_once('=') else { return RangeAnswer::Whole };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return RangeAnswer::Whole };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // The last `n` bytes.
        let Some(n) = number(last) else { return RangeAnswer::Whole };
        if n == 0 || len == 0 {
            return RangeAnswer::Unsatisfiable;
        }
        return RangeAnswer::Part(len - n.min(len)..len);
    }
    let Some(first) = number(first) else { return RangeAnswer::Whole };
    let last = if last.is_empty() {
        u64::MAX
    } else {
        match number(last) {
            Some(last) if last >= first => last,
            _ => return RangeAnswer::Whole,
        }
    };
    if first >= len {
        return RangeAnswer::Unsatisfiable;
    }
    RangeAnswer::Part(first..last.saturating_add(1).min(len))
}

/// Digits only; a number too large for u64 is as good as infinite.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(u64::MAX))
}

/// Answers a request for song `id`.
pub(super) fn serve(
    socket: &TcpStream,
    head: &Head,
    head_only: bool,
    shared: &Shared,
    id: SongId,
) -> io::Result<u16> {
    let library = shared.catalog.current();
    let Some(song) = library.get(id) else {
        return super::error(socket, 404, &format!("no song with id {id}"), head_only);
    };
    let (file, len) = match open_listed(shared.catalog.root(), &song.path, &song.real) {
        Ok(opened) => opened,
        Err(e) => {
            // The error names the file: it was sanitized for logs by `show`.
            debug!("cannot serve song {id}: {e}");
            return super::error(socket, 404, &format!("song {id} cannot be read now"), head_only);
        }
    };
    let answer = match head.header("range") {
        Some(range) if head.header("if-range").is_none() => parse_range(range, len),
        _ => RangeAnswer::Whole,
    };
    let reply = Reply::new(200)
        .header("Content-Type", "audio/mpeg")
        .header("Accept-Ranges", "bytes")
        .header("Cache-Control", "no-cache");
    let (reply, range) = match answer {
        RangeAnswer::Whole => (reply, 0..len),
        RangeAnswer::Part(range) => {
            let content_range = format!("bytes {}-{}/{len}", range.start, range.end - 1);
            (reply.status(206).header("Content-Range", content_range), range)
        }
        RangeAnswer::Unsatisfiable => {
            let reply = Reply::new(416).header("Content-Range", format!("bytes */{len}"));
            return reply.send(socket, "text/plain; charset=utf-8", b"range not satisfiable\n", head_only);
        }
    };
    let status = reply.code();
    reply.length(range.end - range.start).write_head(socket)?;
    if head_only {
        return Ok(status);
    }
    let mut buf = vec![0u8; BUFFER.min(usize::try_from(range.end - range.start).unwrap_or(BUFFER)).max(1)];
    let mut at = range.start;
    let mut out = socket;
    while at < range.end {
        if matches!(shared.shutdown.try_recv(), Err(TryRecvError::Disconnected)) {
            return Err(io::Error::other("the server is shutting down"));
        }
        let want = usize::try_from(range.end - at).unwrap_or(usize::MAX).min(buf.len());
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            // The file shrank since it was opened: the body is cut short, and the connection's
            // close tells the client so.
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank while it was sent"));
        }
        out.write_all(&buf[..n])?;
        at += n as u64;
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use RangeAnswer::{Part, Unsatisfiable, Whole};

    #[test]
    fn the_three_forms_of_one_range() {
        assert_eq!(parse_range("bytes=100-199", 1000), Part(100..200));
        assert_eq!(parse_range("bytes=5-", 1000), Part(5..1000));
        assert_eq!(parse_range("bytes=-10", 1000), Part(990..1000));
        assert_eq!(parse_range("bytes=0-0", 1000), Part(0..1));
        assert_eq!(parse_range(" Bytes = 1 - 2 ", 1000), Part(1..3), "lenient with spaces and case");
    }

    #[test]
    fn ranges_past_the_end_are_cut_or_unsatisfiable() {
        assert_eq!(parse_range("bytes=900-5000", 1000), Part(900..1000));
        assert_eq!(parse_range("bytes=-5000", 1000), Part(0..1000));
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=1000-1001", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=99999999999999999999999-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-99999999999999999999999", 1000), Part(5..1000));
    }

    #[test]
    fn what_cannot_be_parsed_or_asks_for_several_gets_the_whole_file() {
        for value in [
            "bytes=200-100",
            "bytes=a-b",
            "bytes=-",
            "items=1-2",
            "bytes=1-2,4-5",
            "bytes 1-2",
            "",
            "bytes=--1",
            "bytes=+1-2",
        ] {
            assert_eq!(parse_range(value, 1000), Whole, "{value:?}");
        }
    }

    proptest! {
        #[test]
        fn a_range_is_always_inside_the_file_and_never_empty(value in ".{0,40}", len in 0u64..10_000) {
            if let Part(r) = parse_range(&value, len) {
                prop_assert!(r.start < r.end && r.end <= len, "{:?} of {}", r, len);
            }
        }

        #[test]
        fn first_last_ranges_mean_what_they_say(a in 0u64..3000, extra in 0u64..3000, len in 0u64..2000) {
            let b = a + extra;
            let got = parse_range(&format!("bytes={a}-{b}"), len);
            if a >= len {
                prop_assert_eq!(got, Unsatisfiable);
            } else {
                prop_assert_eq!(got, Part(a..(b + 1).min(len)));
            }
            let open = parse_range(&format!("bytes={a}-"), len);
            prop_assert_eq!(open, if a >= len { Unsatisfiable } else { Part(a..len) });
        }

        #[test]
        fn suffix_ranges_take_the_last_bytes(n in 0u64..3000, len in 0u64..2000) {
            let got = parse_range(&format!("bytes=-{n}"), len);
            if n == 0 || len == 0 {
                prop_assert_eq!(got, Unsatisfiable);
            } else {
                prop_assert_eq!(got, Part(len - n.min(len)..len));
            }
        }
    }
}
