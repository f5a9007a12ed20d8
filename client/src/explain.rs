//! Failures said in words a person can act on. An `io::Error` from the OS displays as
//! "Connection refused (os error 111)", or, for a read that timed out, "Resource temporarily
//! unavailable (os error 11)": true, but it names neither the server nor what to do. Nothing
//! the client prints passes an OS error's own text on; it goes through here.

use std::io::{self, ErrorKind};
use std::time::Duration;

use crate::connection::seconds;

/// What went wrong, in a few words and without an OS error number. Errors the OS reported
/// are described by their kind; errors made up by a library keep their own text, which has
/// no number.
pub fn io(error: &io::Error) -> String {
    if error.raw_os_error().is_none()
        && let Some(inner) = error.get_ref()
    {
        return inner.to_string();
    }
    match error.kind() {
        ErrorKind::NotFound => "no such file or directory".into(),
        ErrorKind::ConnectionReset => "the connection was reset".into(),
        ErrorKind::ConnectionAborted => "the connection was aborted".into(),
        ErrorKind::BrokenPipe => "the other end closed the connection".into(),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => "no route to the host".into(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut => "timed out".into(),
        ErrorKind::StorageFull => "the disk is full".into(),
        // `ErrorKind`'s own words ("permission denied", "read-only filesystem..."): no number.
        kind => kind.to_string(),
    }
}

/// Why connecting to `addr` failed, as a whole sentence that says what to check.
pub fn connect(addr: &str, error: &io::Error, timeout: Duration) -> String {
    match error.kind() {
        ErrorKind::ConnectionRefused => {
            format!("nothing is listening on {addr} (connection refused); is the server running?")
        }
        ErrorKind::TimedOut | ErrorKind::WouldBlock => format!(
            "no answer from {addr} within {} s; are the host and port right, and is it reachable?",
            seconds(timeout)
        ),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
            format!("cannot reach {addr}: no route to the host; is the network up?")
        }
        ErrorKind::AddrNotAvailable => {
            format!("cannot connect to {addr}: that address is not available here")
        }
        _ => format!("cannot connect to {addr}: {}", io(error)),
    }
}

/// Why the name in `host` gave no address. The resolver's own text ("Name or service not
/// known", "Temporary failure in name resolution") is left out: whether the name is wrong or
/// the DNS unreachable, the user checks the same two things.
pub fn lookup(host: &str) -> String {
    format!("cannot find the host {host:?}; is the name right, and is the network up?")
}

/// Why the handshake with `addr` failed, where the connection itself had succeeded.
pub fn handshake(addr: &str, error: &io::Error, timeout: Duration) -> String {
    match error.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => {
            format!("no answer from {addr} within {} s; is it a jukebox server?", seconds(timeout))
        }
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
            format!("{addr} hung up without answering the handshake: it is not a jukebox server")
        }
        _ => format!("the handshake with {addr} failed: {}", io(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn no_os_error_number_reaches_the_user() {
        // Every errno Linux has, from EPERM (1) to EHWPOISON (133).
        for code in 1..=133 {
            let text = io(&os(code));
            assert!(!text.contains("os error") && !text.is_empty(), "errno {code}: {text}");
            let text = connect("h:1", &os(code), Duration::from_secs(10));
            assert!(!text.contains("os error"), "errno {code}: {text}");
            let text = handshake("h:1", &os(code), Duration::from_secs(10));
            assert!(!text.contains("os error"), "errno {code}: {text}");
        }
    }

    #[test]
    fn the_usual_failures_say_what_to_check() {
        let refused = connect("127.0.0.1:9", &os(111), Duration::from_secs(10));
        assert_eq!(
            refused,
            "nothing is listening on 127.0.0.1:9 (connection refused); is the server running?"
        );
        let silent = handshake("h:1", &io::Error::from(ErrorKind::WouldBlock), Duration::from_millis(500));
        assert_eq!(silent, "no answer from h:1 within 0.5 s; is it a jukebox server?");
        assert_eq!(io(&os(104)), "the connection was reset");
        assert_eq!(io(&os(13)), "permission denied");
        assert!(lookup("nowhere.invalid").contains("cannot find the host \"nowhere.invalid\""));
        // A library's own message has no number and is kept.
        assert_eq!(io(&io::Error::other("WAV header too large")), "WAV header too large");
    }
}
