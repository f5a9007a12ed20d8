//! The real client in a real terminal (tmux), typed at as a person would.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A tmux server of our own, killed when the test ends.
pub struct Terminal {
    socket: String,
}

impl Terminal {
    pub fn start(command: &str) -> Terminal {
        let socket = format!("jukebox-test-{}-{:?}", std::process::id(), std::thread::current().id())
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "");
        let terminal = Terminal { socket };
        let started = terminal.tmux(&["new-session", "-d", "-s", "t", "-x", "100", "-y", "30", command]);
        assert!(started.status.success(), "this test needs tmux (apt-get install tmux): {started:?}");
        terminal
    }

    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux").args(["-L", &self.socket]).args(args).output().expect("run tmux")
    }

    /// What the terminal shows, with lines that wrapped joined again.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-J", "-t", "t"]).stdout).into_owned()
    }

    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
    }

    pub fn press(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "t", key]);
    }

    /// Waits until the screen shows `text`; returns the screen.
    pub fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(Instant::now() < deadline, "waited for {text:?}; the screen shows:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Presses Enter after `command`, and waits until the client has read the line: the
    /// cursor has left the line that shows it.
    pub fn enter(&self, command: &str) {
        let typed = format!("jukebox> {command}");
        self.wait_for(&typed);
        self.press("Enter");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen();
            let line = screen.lines().collect::<Vec<_>>().iter().rposition(|l| l.trim_end() == typed);
            let cursor =
                String::from_utf8_lossy(&self.tmux(&["display", "-p", "-t", "t", "#{cursor_y}"]).stdout)
                    .trim()
                    .parse::<usize>()
                    .ok();
            if let (Some(line), Some(cursor)) = (line, cursor)
                && cursor > line
            {
                return;
            }
            assert!(Instant::now() < deadline, "{command:?} was not entered; the screen shows:\n{screen}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&self) -> bool {
        self.tmux(&["has-session", "-t", "t"]).status.success()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// An `XDG_STATE_HOME` for clients in a terminal whose history no test looks at, so that no
/// test writes to the history of the person who runs it.
pub fn state_home() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("terminal-state");
    std::fs::create_dir_all(&dir).expect("create the tests' state folder");
    dir
}
