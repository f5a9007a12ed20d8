//! Ctrl-C. At the prompt, rustyline owns the terminal in raw mode and reads Ctrl-C as a key
//! (it clears the line). While a command runs the terminal is back in its normal mode, and
//! Ctrl-C is a SIGINT, which would kill the client: this module catches it (with `ctrlc`) and
//! turns it into a request to cancel the `wait` or `sleep` that runs. In script mode there is
//! nothing to return to: the client says GOODBYE and exits with status 130, as a shell does.
//!
//! `ctrlc` also catches SIGTERM and SIGHUP, the same way. A signal that arrives while
//! rustyline owns the terminal cannot be a Ctrl-C typed there, so it means "leave": the
//! client says GOODBYE, puts the terminal back as it found it, and exits with status 130.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use rustix::termios::{OptionalActions, Termios, tcgetattr, tcsetattr};

use crate::link::Link;
use crate::playback::Playback;
use crate::repl::Mode;

/// The exit status of a client ended by a signal: 128 + SIGINT, as shells report it.
pub const INTERRUPTED: i32 = 130;

/// A signal this soon after a command ended still counts as a Ctrl-C typed at that command:
/// rustyline may not have taken the terminal yet, and a person who pressed Ctrl-C just as a
/// `wait` ended wants the prompt, not to leave.
const GRACE: Duration = Duration::from_secs(1);

/// Ctrl-C as the REPL sees it.
#[derive(Debug)]
pub struct Interrupt {
    requests: Sender<()>,
    cancel: Receiver<()>,
    /// A command runs: the terminal is in its normal mode and Ctrl-C is a signal.
    busy: AtomicBool,
    /// When the last command ended.
    idle_since: Mutex<Instant>,
}

impl Interrupt {
    /// Catches the signals for `mode`. Fails if a handler is already installed (the client
    /// installs one, once) or the OS refuses; the client then runs without, as before.
    pub fn install(mode: Mode, link: Arc<Link>, playback: Arc<Playback>) -> Result<Arc<Interrupt>, String> {
        // At most one pending request: ten Ctrl-C cancel one command, not the next ten.
        let (requests, cancel) = bounded(1);
        let interrupt = Arc::new(Interrupt {
            requests,
            cancel,
            busy: AtomicBool::new(false),
            idle_since: Mutex::new(Instant::now()),
        });
        // The terminal as it is before rustyline changes it, to put back when leaving.
        let terminal = tcgetattr(io::stdin()).ok();
        let handler = Arc::clone(&interrupt);
        ctrlc::set_handler(move || match mode {
            Mode::Script => leave(&link, None),
            Mode::Interactive if handler.typed_at_a_command() => {
                let _ = handler.requests.try_send(());
                playback.wake();
            }
            Mode::Interactive => leave(&link, terminal.as_ref()),
        })
        .map_err(|e| e.to_string())?;
        Ok(interrupt)
    }

    /// A command starts: Ctrl-C from now on is for it. A request left from an earlier one
    /// (Ctrl-C during a `list`, which does not wait for it) is forgotten.
    pub fn command_starts(&self) {
        while self.cancel.try_recv().is_ok() {}
        self.busy.store(true, Ordering::SeqCst);
    }

    /// The command ended; the prompt comes next.
    pub fn command_ended(&self) {
        *self.idle_since.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.busy.store(false, Ordering::SeqCst);
    }

    /// Waits up to `duration`; `true` if Ctrl-C cut it short.
    pub fn sleep(&self, duration: Duration) -> bool {
        self.cancel.recv_timeout(duration).is_ok()
    }

    /// Whether Ctrl-C was pressed (and takes the request).
    pub fn take(&self) -> bool {
        self.cancel.try_recv().is_ok()
    }

    fn typed_at_a_command(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
            || self.idle_since.lock().unwrap_or_else(PoisonError::into_inner).elapsed() < GRACE
    }
}

/// Says GOODBYE, puts the terminal back if it was changed, and exits. Runs on the signal
/// thread while the REPL may be anywhere: it touches neither standard output (whose lock a
/// script holds during a command) nor rustyline.
fn leave(link: &Link, terminal: Option<&Termios>) -> ! {
    link.close();
    // Not eprintln!, which panics when standard error is gone (SIGHUP: the terminal closed).
    let mut stderr = io::stderr();
    if let Some(terminal) = terminal {
        let _ = tcsetattr(io::stdin(), OptionalActions::Now, terminal);
        let _ = writeln!(stderr);
    }
    let _ = writeln!(stderr, "jukebox-client: interrupted");
    std::process::exit(INTERRUPTED)
}
