//! `--icecast` against the real Icecast 2.4 (Debian's `icecast2`), started in a temporary
//! folder on a free port: ffmpeg listening on Icecast's mount hears our station and its
//! titles; a killed and restarted Icecast gets our source (and the title) back; a wrong
//! password is named in our log while our own listeners go on; and a relay of that Icecast
//! mount (`--relay http://…`, an ICY station like any other) re-serves its audio and titles,
//! and keeps its listeners through an Icecast restart.
//!
//! Each test says SKIPPED and passes when icecast2 or ffmpeg is not installed, unless
//! `JUKEBOX_REQUIRE_PLAYERS` is set (`scripts/deps.sh test` installs them).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Binary, tone_mp3};
use serde_json::Value;

const MOUNT: &str = "/jukebox.mp3";
const PASSWORD: &str = "s3cret+source";

/// `program`'s path, or None (with a message) when it is not installed.
fn installed(program: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|path| path.is_file());
    if found.is_none() {
        // CI installs every player (scripts/deps.sh test) and says so: a skip there is a failure.
        assert!(
            std::env::var_os("JUKEBOX_REQUIRE_PLAYERS").is_none(),
            "{program} is not installed (Debian package {package}) and JUKEBOX_REQUIRE_PLAYERS is set"
        );
        eprintln!("SKIPPED: {program} is not installed (Debian package {package}; scripts/deps.sh test)");
    }
    found
}

/// Both programs these tests need, or None when one is missing.
fn programs() -> Option<(PathBuf, PathBuf)> {
    Some((installed("icecast2", "icecast2")?, installed("ffmpeg", "ffmpeg")?))
}

/// A folder of `n` songs of `seconds` each, titled "Song 1", "Song 2", ... by "Tester N".
fn songs(n: usize, seconds: f32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("01.mp3");
    tone_mp3(&first, seconds, 440.0, "Song 1", "Tester 1");
    for i in 2..=n {
        let path = dir.path().join(format!("{i:02}.mp3"));
        std::fs::copy(&first, &path).unwrap();
        let mut tag = id3::Tag::new();
        id3::TagLike::set_title(&mut tag, format!("Song {i}"));
        id3::TagLike::set_artist(&mut tag, format!("Tester {i}"));
        tag.write_to_path(&path, id3::Version::Id3v24).unwrap();
    }
    dir
}

/// What `Song N` by `Tester N` is called in a StreamTitle.
fn titles(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("Tester {i} - Song {i}")).collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until `ready` gives a value, polling every 50 ms; panics with `what` after `within`.
fn wait_for<T>(within: Duration, what: impl Fn() -> String, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = ready() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited {within:?} for {}", what());
        thread::sleep(Duration::from_millis(50));
    }
}

/// `GET path` on `addr`, the whole answer: (status, body); None when nobody answers.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut socket = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(socket, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut bytes = Vec::new();
    socket.read_to_end(&mut bytes).ok()?;
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let status = std::str::from_utf8(&bytes[..end]).ok()?.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, bytes[end..].to_vec()))
}

/// A real Icecast in a temporary folder, on a port of 127.0.0.1; killed when dropped.
struct Icecast {
    program: PathBuf,
    dir: tempfile::TempDir,
    addr: SocketAddr,
    child: Option<Child>,
}

impl Icecast {
    /// Writes a configuration (source password [`PASSWORD`]) and starts Icecast on a free port.
    fn start(program: &Path) -> Icecast {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        std::fs::create_dir(&log).unwrap();
        // As root, Icecast must be told to become someone else (it refuses to run as root),
        // who must be able to reach the folder and write its logs.
        let root = unsafe { libc::geteuid() } == 0;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o777)).unwrap();
        let owner =
            if root { "<changeowner><user>nobody</user><group>nogroup</group></changeowner>" } else { "" };
        let port = free_port();
        let config = format!(
            "<icecast>
  <limits><clients>20</clients><sources>2</sources><source-timeout>10</source-timeout>
    <header-timeout>5</header-timeout><burst-size>65536</burst-size></limits>
  <authentication>
    <source-password>{PASSWORD}</source-password>
    <admin-user>admin</admin-user><admin-password>not-the-source-password</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths>
    <basedir>/usr/share/icecast2</basedir><logdir>{log}</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>{owner}</security>
</icecast>
",
            log = log.display()
        );
        std::fs::write(dir.path().join("icecast.xml"), config).unwrap();
        let mut icecast =
            Icecast { program: program.to_path_buf(), dir, addr: ([127, 0, 0, 1], port).into(), child: None };
        icecast.run();
        icecast
    }

    /// Starts the process (again) and waits until it accepts connections.
    fn run(&mut self) {
        let out = std::fs::File::create(self.dir.path().join("icecast.out")).unwrap();
        let child = Command::new(&self.program)
            .arg("-c")
            .arg(self.dir.path().join("icecast.xml"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start icecast2");
        self.child = Some(child);
        wait_for(
            Duration::from_secs(10),
            || format!("Icecast to listen:\n{}", self.logs()),
            || TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).ok(),
        );
    }

    /// Kills it without warning (SIGKILL), as a crash would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The source URL for `--icecast`, with `password`.
    fn url(&self, password: &str) -> String {
        format!("http://source:{password}@{}{MOUNT}", self.addr)
    }

    /// The title Icecast shows on our mount, if a source feeds it ("" before the first).
    fn title(&self) -> Option<String> {
        let (status, body) = get(self.addr, "/status-json.xsl")?;
        let json: Value = serde_json::from_slice(&body).ok().filter(|_| status == 200)?;
        let source = &json["icestats"]["source"];
        let source = if source.is_array() { &source[0] } else { source };
        source.get("listenurl")?;
        Some(source.get("title").and_then(Value::as_str).unwrap_or_default().to_string())
    }

    /// Waits until our source feeds the mount and Icecast shows a title; returns it.
    fn wait_for_title(&self, within: Duration) -> String {
        wait_for(
            within,
            || format!("a source with a title on Icecast:\n{}", self.logs()),
            || self.title().filter(|t| !t.is_empty()),
        )
    }

    fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("icecast.out"), read("log/error.log"))
    }

    fn listen_url(&self) -> String {
        format!("http://{}{MOUNT}", self.addr)
    }
}

impl Drop for Icecast {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where the binary serves HTTP, from its log.
fn http_addr(server: &Binary) -> SocketAddr {
    let log = server.wait_for_log("HTTP on http://");
    let rest = log.split("HTTP on http://").nth(1).unwrap();
    rest.split('/').next().unwrap().parse().expect("an address")
}

/// The title on the air now, from our `/status.json`, as a StreamTitle writes it.
fn on_air(http: SocketAddr) -> Option<String> {
    let (status, body) = get(http, "/status.json")?;
    let json: Value = serde_json::from_slice(&body).ok().filter(|_| status == 200)?;
    let now = json.get("now")?;
    Some(format!("{} - {}", now["artist"].as_str()?, now["title"].as_str()?))
}

/// Records every song our station puts on the air, from `/status.json`, until dropped.
struct Aired {
    titles: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Aired {
    fn record(http: SocketAddr) -> Aired {
        let titles = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (Arc::clone(&titles), Arc::clone(&stop));
        thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                if let Some(title) = on_air(http) {
                    let mut seen = seen.lock().unwrap();
                    if seen.last() != Some(&title) {
                        seen.push(title);
                    }
                }
                thread::sleep(Duration::from_millis(100));
            }
        });
        Aired { titles, stop }
    }

    fn titles(&self) -> Vec<String> {
        self.titles.lock().unwrap().clone()
    }
}

impl Drop for Aired {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What ffmpeg made of `seconds` of a stream: the titles it saw, in order (repeats and empty
/// titles left out), its complaints, and the decoded audio's length and loudness.
struct Heard {
    titles: Vec<String>,
    complaints: Vec<String>,
    seconds: f64,
    rms: f64,
    log: String,
}

/// Listens to `url` with ffmpeg for `seconds` of audio, into a WAV file in `dir`.
fn ffmpeg_listens(ffmpeg: &Path, url: &str, seconds: u32, dir: &Path) -> Heard {
    let out = dir.join("heard.wav");
    let output = Command::new(ffmpeg)
        .args(["-nostdin", "-hide_banner", "-loglevel", "repeat+level+verbose", "-icy", "1", "-i", url])
        .args(["-t", &seconds.to_string(), "-y"])
        .arg(&out)
        .output()
        .expect("run ffmpeg");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "ffmpeg failed:\n{log}");
    let mut titles: Vec<String> = Vec::new();
    for line in log.lines() {
        // ffmpeg says so at verbose level whenever an ICY block brings a new title.
        if let Some(title) = line.split("Metadata update for StreamTitle: ").nth(1)
            && !title.trim().is_empty()
            && titles.last().map(String::as_str) != Some(title.trim())
        {
            titles.push(title.trim().to_string());
        }
    }
    let complaints = log
        .lines()
        .filter(|l| l.contains("[error]") || l.contains("[warning]"))
        .map(str::to_string)
        .collect();
    let (seconds, rms) = wav_seconds_and_rms(&out);
    Heard { titles, complaints, seconds, rms, log }
}

/// Seconds and loudness (RMS of 16-bit samples) of a WAV file of 44.1 kHz 16-bit stereo.
fn wav_seconds_and_rms(path: &Path) -> (f64, f64) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let data = bytes.windows(4).position(|w| w == b"data").expect("a data chunk") + 8;
    let samples: Vec<i16> =
        bytes[data..].chunks_exact(2).map(|pair| i16::from_le_bytes([pair[0], pair[1]])).collect();
    let rms =
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len().max(1) as f64).sqrt();
    (samples.len() as f64 / 2.0 / 44_100.0, rms)
}

#[test]
fn ffmpeg_on_icecast_hears_our_station_and_its_title_changes() {
    let Some((icecast2, ffmpeg)) = programs() else { return };
    let music = songs(3, 3.0);
    let icecast = Icecast::start(&icecast2);
    let url = icecast.url(PASSWORD);
    let server = Binary::start(music.path(), &["--db", "none", "--http", "0", "--icecast", &url]);
    let aired = Aired::record(http_addr(&server));
    icecast.wait_for_title(Duration::from_secs(15));

    let heard = ffmpeg_listens(&ffmpeg, &icecast.listen_url(), 8, music.path());
    assert!(heard.complaints.is_empty(), "ffmpeg complained: {:#?}\n{}", heard.complaints, heard.log);
    assert!((7.9..=8.1).contains(&heard.seconds), "{} s decoded", heard.seconds);
    assert!(heard.rms > 1000.0, "silent: RMS {}", heard.rms);
    // Songs of 3 s in 8 s of audio: the title changed, at least once, and in the order our
    // station aired the songs.
    let aired = aired.titles();
    assert!(heard.titles.len() >= 2, "no title change reached ffmpeg: {:?}\n{}", heard.titles, heard.log);
    assert!(heard.titles.iter().all(|t| titles(3).contains(t)), "{:?}", heard.titles);
    assert!(
        aired.windows(heard.titles.len()).any(|w| w == heard.titles.as_slice()),
        "ffmpeg heard {:?}; the station aired {aired:?}",
        heard.titles
    );
    let log = server.log.lock().unwrap().clone();
    assert!(log.contains(&format!("feeding Icecast at http://{}{MOUNT}", icecast.addr)), "{log}");
    assert!(!log.contains(PASSWORD), "the password reached the log:\n{log}");
}

#[test]
fn a_restarted_icecast_gets_our_source_and_the_current_title_back() {
    let Some((icecast2, ffmpeg)) = programs() else { return };
    // Songs longer than the test: the only title the new Icecast can show is the one we send
    // again when we reconnect.
    let music = songs(2, 40.0);
    let mut icecast = Icecast::start(&icecast2);
    let url = icecast.url(PASSWORD);
    let server = Binary::start(music.path(), &["--db", "none", "--http", "0", "--icecast", &url]);
    let http = http_addr(&server);
    let before = icecast.wait_for_title(Duration::from_secs(15));

    icecast.kill();
    server.wait_for_log("lost the connection to Icecast");
    icecast.run();
    let started = Instant::now();
    let title = icecast.wait_for_title(Duration::from_secs(15));
    eprintln!("the source came back {:?} after Icecast did", started.elapsed());
    assert_eq!(title, before, "the same song plays: the new Icecast shows its title");
    assert_eq!(on_air(http).as_deref(), Some(title.as_str()));

    let heard = ffmpeg_listens(&ffmpeg, &icecast.listen_url(), 3, music.path());
    assert!(heard.complaints.is_empty(), "ffmpeg complained: {:#?}\n{}", heard.complaints, heard.log);
    assert!(heard.rms > 1000.0 && heard.seconds >= 2.9, "{} s, RMS {}", heard.seconds, heard.rms);
    assert_eq!(heard.titles, [title], "{}", heard.log);

    let log = server.log.lock().unwrap().clone();
    assert!(log.contains("feeding Icecast at") && log.contains("again, after"), "{log}");
    // Once per change of state, and a few tries at most, not a line per try.
    let tries = log.matches("cannot reach Icecast").count();
    assert!(tries <= 3, "{tries} lines for one outage:\n{log}");
}

#[test]
fn a_wrong_password_is_named_in_the_log_and_our_listeners_go_on() {
    let Some((icecast2, _)) = programs() else { return };
    let music = songs(2, 10.0);
    let icecast = Icecast::start(&icecast2);
    let url = icecast.url("not-the-password");
    let server = Binary::start(music.path(), &["--db", "none", "--http", "0", "--icecast", &url]);
    let http = http_addr(&server);
    let log = server.wait_for_log("Icecast refused the source password");
    assert!(!log.contains("not-the-password"), "the password reached the log:\n{log}");
    assert_eq!(icecast.title(), None, "no source on Icecast");

    // Our own radio plays on: an HTTP listener gets MP3 frames.
    let mut radio = TcpStream::connect(http).unwrap();
    radio.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(radio, "GET /radio HTTP/1.0\r\nHost: {http}\r\n\r\n").unwrap();
    let mut bytes = vec![0u8; 32 * 1024];
    radio.read_exact(&mut bytes).expect("audio from our own /radio");
    let body = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(bytes.starts_with(b"HTTP/1.0 200") || bytes.starts_with(b"HTTP/1.1 200"));
    assert_eq!(&bytes[body..body + 2], [0xFF, 0xFB], "an MPEG-1 Layer III frame");
    assert!(on_air(http).is_some());
}

#[test]
fn a_relay_of_an_icecast_mount_re_serves_its_audio_and_titles_and_keeps_its_listeners_through_a_restart() {
    let Some((icecast2, ffmpeg)) = programs() else { return };
    let music = songs(3, 3.0);
    let mut icecast = Icecast::start(&icecast2);
    let url = icecast.url(PASSWORD);
    let origin = Binary::start(music.path(), &["--db", "none", "--http", "0", "--icecast", &url]);
    let aired = Aired::record(http_addr(&origin));
    icecast.wait_for_title(Duration::from_secs(15));
    let mount = icecast.listen_url();
    let relay = Binary::start_args(&["--relay", &mount, "0", "--bind", "127.0.0.2", "--http", "0"]);
    relay.wait_for_log("relay: relaying http://");
    let relay_http = relay.http.expect("the relay serves HTTP");

    // ffmpeg on the relay's /radio: Icecast's stream, decoded cleanly, with its titles.
    let heard = ffmpeg_listens(&ffmpeg, &format!("http://{relay_http}/radio"), 8, music.path());
    assert!(heard.complaints.is_empty(), "ffmpeg complained: {:#?}\n{}", heard.complaints, heard.log);
    assert!(heard.rms > 1000.0 && heard.seconds >= 7.9, "{} s, RMS {}", heard.seconds, heard.rms);
    let aired = aired.titles();
    // Until Icecast's stream names a song, the relay titles it with the station's name (when
    // the relay's first metadata block came before Icecast had the title of its new source).
    let mut heard = heard;
    if heard.titles.first().is_some_and(|t| t == "jukebox radio") {
        heard.titles.remove(0);
    }
    assert!(
        heard.titles.len() >= 2,
        "no title change reached the relay's listener: {:?}\n{}",
        heard.titles,
        heard.log
    );
    assert!(
        aired.windows(heard.titles.len()).any(|w| w == heard.titles.as_slice()),
        "the relay's listener heard {:?}; the origin aired {aired:?}",
        heard.titles
    );

    // A native listener of the relay stays connected while Icecast dies and comes back.
    let listener = common::listener::listen(relay.addr, false);
    common::listener::wait(&listener, Duration::from_secs(10), "audio from the relay", |h| h.seconds() > 2.0);
    icecast.kill();
    relay.wait_for_log(&format!("relay: lost {mount}"));
    icecast.run();
    icecast.wait_for_title(Duration::from_secs(15));
    wait_for(
        Duration::from_secs(20),
        || format!("the relay to reconnect:\n{}", relay.log.lock().unwrap()),
        || (relay.log.lock().unwrap().matches("relay: relaying http://").count() >= 2).then_some(()),
    );
    let now = listener.lock().unwrap().seconds();
    common::listener::wait(&listener, Duration::from_secs(10), "audio after Icecast came back", |h| {
        h.seconds() > now + 2.0
    });
    let heard = listener.lock().unwrap();
    common::listener::assert_continuous(&heard);
    eprintln!("a listener of the relay heard {:.1} s of silence while Icecast restarted", heard.silence());
}
