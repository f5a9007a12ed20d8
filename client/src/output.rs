//! Where decoded audio goes: the sound card (rodio), nowhere at real time, or a WAV file at
//! real time. Every output pulls from the [`PcmQueue`] at the pace it plays. While playback is
//! paused the queue hands out silence, which every output plays at real time: a WAV file
//! records the pause as silence of its length.
//!
//! A WAV file starts with the first sample played, not when the client started, so two
//! recordings cannot be lined up by their contents' timing alone: the WAV output also writes
//! the wall-clock time at which it played its first sample beside the file, in `PATH.start`
//! (see [`start_stamp_path`]). With it, two clients' recordings of the radio can be compared
//! sample for sample at the same moment.

use std::fmt;
use std::num::NonZero;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::pcm::{CHANNELS, PcmQueue, SAMPLE_RATE};
use crate::{Event, EventSender, explain};

/// The `--output` choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSpec {
    /// The sound card if there is one, else silence with a warning.
    Auto,
    /// The sound card, or fail.
    Device,
    /// Decode and keep real time, make no sound.
    Null,
    /// Write exactly what is played to a WAV file (44.1 kHz, 16-bit stereo), at real time: from
    /// the first sample played, including the silence of a pause and of audio arriving late in
    /// a song or between two songs of the play queue, but not the time with nothing to play
    /// (after `stop`, between songs started by hand, before a new stream's first sample).
    Wav(PathBuf),
}

impl FromStr for OutputSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(OutputSpec::Auto),
            "device" => Ok(OutputSpec::Device),
            "null" => Ok(OutputSpec::Null),
            _ => match s.strip_prefix("wav:") {
                Some("") => Err("wav: needs a file name, as in wav:out.wav".into()),
                Some(path) => Ok(OutputSpec::Wav(PathBuf::from(path))),
                None => Err(format!("unknown output {s:?}: use auto, device, null or wav:PATH")),
            },
        }
    }
}

impl fmt::Display for OutputSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputSpec::Auto => f.write_str("auto"),
            OutputSpec::Device => f.write_str("device"),
            OutputSpec::Null => f.write_str("null"),
            OutputSpec::Wav(path) => write!(f, "wav:{}", path.display()),
        }
    }
}

/// Why an output could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// No sound card could be opened. What rodio says about it ("Failed to get the config for
    /// the given device") is left out: it names ALSA's internals, not what the user can do.
    #[error("no sound card found")]
    NoDevice,
    /// The WAV file could not be created.
    #[error("cannot write {}: {why}", path.display())]
    Wav {
        /// The file.
        path: PathBuf,
        /// Why, in words.
        why: String,
    },
}

/// A running output; dropping it stops playback.
pub struct Output {
    _device: Option<(rodio::MixerDeviceSink, rodio::Player)>,
    stop: Arc<AtomicBool>,
    clock: Option<thread::JoinHandle<()>>,
    /// What was opened, for the user.
    pub description: String,
    /// `auto` found no sound card and plays silently. The caller tells the user, at start-up
    /// and before anything else, so the warning is always in the same place.
    pub without_device: bool,
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output").field("description", &self.description).finish_non_exhaustive()
    }
}

impl Output {
    /// Opens `spec`. `Auto` without a sound card plays silently and sets
    /// [`Output::without_device`]. Failures while playing (a full disk under a WAV file) are
    /// reported to `events`.
    pub fn open(spec: &OutputSpec, queue: Arc<PcmQueue>, events: EventSender) -> Result<Output, OutputError> {
        match spec {
            OutputSpec::Device => open_device(queue),
            OutputSpec::Auto => open_device(Arc::clone(&queue)).or_else(|_| {
                let mut output = start_clock(queue, events, None, "silent output (no sound card)".into());
                output.without_device = true;
                Ok(output)
            }),
            OutputSpec::Null => Ok(start_clock(queue, events, None, "silent output".into())),
            OutputSpec::Wav(path) => {
                // A stamp left by an earlier recording would date this one.
                let stamp = start_stamp_path(path);
                match std::fs::remove_file(&stamp) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(OutputError::Wav { path: stamp, why: explain::io(&e) });
                    }
                    _ => {}
                }
                let spec = hound::WavSpec {
                    channels: CHANNELS,
                    sample_rate: SAMPLE_RATE,
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                };
                let writer = hound::WavWriter::create(path, spec)
                    .map_err(|e| OutputError::Wav { path: path.clone(), why: wav_error(&e) })?;
                let wav = Wav { writer, stamp: Some(stamp) };
                Ok(start_clock(queue, events, Some(wav), format!("WAV file {}", path.display())))
            }
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(clock) = self.clock.take() {
            let _ = clock.join();
        }
    }
}

fn open_device(queue: Arc<PcmQueue>) -> Result<Output, OutputError> {
    let mut sink = with_stderr_silenced(rodio::DeviceSinkBuilder::open_default_sink)
        .map_err(|_| OutputError::NoDevice)?;
    sink.log_on_drop(false);
    let player = rodio::Player::connect_new(sink.mixer());
    player.append(QueueSource::new(queue));
    Ok(Output {
        _device: Some((sink, player)),
        stop: Arc::new(AtomicBool::new(false)),
        clock: None,
        description: "sound card".into(),
        without_device: false,
    })
}

/// Runs `f` with standard error pointed at /dev/null. Without a sound card, ALSA itself prints
/// half a dozen lines of its configuration errors for every device rodio tries, before rodio
/// returns the error that the client then reports once, in words. Used only while the output
/// is opened, at start-up, before any other thread of the client prints. If standard error
/// cannot be redirected, `f` runs anyway and ALSA may be heard.
fn with_stderr_silenced<T>(f: impl FnOnce() -> T) -> T {
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else { return f() };
    // An owned copy of the real standard error, closed when it goes out of scope.
    let Ok(saved) = rustix::io::dup(std::io::stderr()) else { return f() };
    if rustix::stdio::dup2_stderr(&null).is_err() {
        return f();
    }
    let result = f();
    let _ = rustix::stdio::dup2_stderr(&saved);
    result
}

/// Samples a device output copies from the queue at a time (about 12 ms): small, so a switch
/// is heard at once, and checked against the queue's generation on every sample anyway.
const DEVICE_BLOCK: usize = 1024;

/// Samples of silence played when the queue is empty (about 3 ms).
const SILENCE_BLOCK: usize = 256;

/// An endless rodio source that plays the queue, and silence while it is empty. It never
/// blocks: the audio callback must not wait for the network.
struct QueueSource {
    queue: Arc<PcmQueue>,
    block: Vec<i16>,
    next: usize,
    filled: usize,
    generation: u64,
    /// The last sample handed out was a left one: the next must be its right, or the
    /// channels swap for the rest of the session.
    mid_frame: bool,
}

impl QueueSource {
    fn new(queue: Arc<PcmQueue>) -> Self {
        let generation = queue.generation();
        QueueSource { queue, block: vec![0; DEVICE_BLOCK], next: 0, filled: 0, generation, mid_frame: false }
    }
}

impl Iterator for QueueSource {
    type Item = rodio::Sample;

    fn next(&mut self) -> Option<rodio::Sample> {
        let generation = self.queue.generation();
        if generation != self.generation {
            self.generation = generation;
            self.next = self.filled;
            // A switch between a left sample and its right one: finish the frame with silence,
            // so the new stream starts on a left sample.
            if self.mid_frame {
                self.mid_frame = false;
                return Some(0.0);
            }
        }
        // Paused: silence at once, on a frame boundary, and the block keeps the samples taken
        // so far, so that resuming plays the very next one.
        if !self.mid_frame && self.queue.is_paused() {
            return Some(0.0);
        }
        if self.next == self.filled {
            self.next = 0;
            self.filled = match self.queue.take(&mut self.block) {
                // Underrun or idle: a short block of silence, then ask again.
                0 => {
                    self.block[..SILENCE_BLOCK].fill(0);
                    SILENCE_BLOCK
                }
                n => n,
            };
        }
        let sample = self.block[self.next];
        self.next += 1;
        self.mid_frame = !self.mid_frame;
        Some(f32::from(sample) / 32_768.0)
    }
}

impl rodio::Source for QueueSource {
    fn current_span_len(&self) -> Option<usize> {
        None
    }

    fn channels(&self) -> rodio::ChannelCount {
        NonZero::new(CHANNELS).unwrap_or(NonZero::<u16>::MIN)
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        NonZero::new(SAMPLE_RATE).unwrap_or(NonZero::<u32>::MIN)
    }

    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

/// How often the clock of the silent and WAV outputs ticks.
const TICK: Duration = Duration::from_millis(10);

type WavWriter = hound::WavWriter<std::io::BufWriter<std::fs::File>>;

/// Where the WAV output at `path` writes the wall-clock time of its first sample: `PATH.start`,
/// one line holding nanoseconds since the Unix epoch (1970-01-01 00:00:00 UTC), written when
/// that sample is played. Sample `n` of the file played `n / 44100` seconds later, for as long
/// as nothing stopped playback (a stream running dry is recorded as silence; the time with
/// nothing to play, after `stop` or between songs started by hand, is not).
pub fn start_stamp_path(path: &std::path::Path) -> PathBuf {
    let mut stamp = path.as_os_str().to_owned();
    stamp.push(".start");
    PathBuf::from(stamp)
}

/// A WAV file being written, and where its start is to be stamped until it has been.
struct Wav {
    writer: WavWriter,
    stamp: Option<PathBuf>,
}

/// Plays the queue at real time without a device: each tick takes as many samples as the time
/// that passed is worth. Time spent with an empty queue is lost, as on a device.
fn start_clock(queue: Arc<PcmQueue>, events: EventSender, wav: Option<Wav>, description: String) -> Output {
    let stop = Arc::new(AtomicBool::new(false));
    let running = Arc::clone(&stop);
    let clock = thread::Builder::new()
        .name("playback clock".into())
        .spawn(move || run_clock(&queue, &events, wav, &running));
    Output { _device: None, stop, clock: clock.ok(), description, without_device: false }
}

fn run_clock(queue: &PcmQueue, events: &EventSender, mut wav: Option<Wav>, stop: &AtomicBool) {
    let mut block = vec![0i16; 2 * SAMPLE_RATE as usize * usize::from(CHANNELS) / 10];
    let mut last = Instant::now();
    let mut owed_frames = 0.0f64;
    while !stop.load(Ordering::SeqCst) {
        thread::sleep(TICK);
        let now = Instant::now();
        let wall = SystemTime::now();
        owed_frames += now.duration_since(last).as_secs_f64() * f64::from(SAMPLE_RATE);
        last = now;
        let frames = (owed_frames as usize).min(block.len() / usize::from(CHANNELS));
        owed_frames -= frames as f64;
        let asked = frames * usize::from(CHANNELS);
        let mut n = queue.take(&mut block[..asked]);
        if let Some(out) = wav.as_mut()
            && out.stamp.is_none()
            && n < asked
            && queue.is_starving()
        {
            // The queue ran dry in the middle of a song, or between two songs of the play
            // queue (the network is late): a sound card plays silence, and so the recording
            // has it, where it was heard.
            block[n..asked].fill(0);
            n = asked;
        }
        if let Some(out) = wav.as_mut()
            && n > 0
        {
            // The samples taken now play from now on: the first of them starts the file.
            if let Some(stamp) = out.stamp.take() {
                let nanos = wall.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
                if let Err(e) = std::fs::write(&stamp, format!("{nanos}\n")) {
                    events.send(Event::Warning(format!(
                        "cannot write {}: {}",
                        stamp.display(),
                        explain::io(&e)
                    )));
                }
            }
            let writer = &mut out.writer;
            let written =
                block[..n].iter().try_for_each(|&s| writer.write_sample(s)).and_then(|()| writer.flush());
            if let Err(e) = written {
                events.send(Event::Warning(format!("stopped writing the WAV file: {}", wav_error(&e))));
                wav = None;
            }
        }
    }
    if let Some(Wav { writer, .. }) = wav
        && let Err(e) = writer.finalize()
    {
        events.send(Event::Warning(format!("the WAV file may be incomplete: {}", wav_error(&e))));
    }
}

/// A WAV failure in words: hound's I/O errors carry the OS's error number.
fn wav_error(error: &hound::Error) -> String {
    match error {
        hound::Error::IoError(e) => explain::io(e),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_between_left_and_right_keeps_the_channels_in_place() {
        let (events, _receiver) = crate::event_channel();
        let queue = Arc::new(PcmQueue::new(events));
        let now = |stream| crate::pcm::NowPlaying {
            stream: jukebox_protocol::StreamId(stream),
            song: jukebox_protocol::SongId(1),
            title: String::new(),
            artist: String::new(),
            duration: Duration::from_secs(1),
        };
        queue.start(now(1));
        // Left samples are 1, right samples -1.
        queue.push(jukebox_protocol::StreamId(1), &[1, -1, 1, -1]);
        let mut source = QueueSource::new(Arc::clone(&queue));
        assert_eq!(source.next(), Some(1.0 / 32_768.0)); // a left sample, then a switch
        queue.start(now(2));
        queue.push(jukebox_protocol::StreamId(2), &[2, -2, 2, -2]);
        let rest: Vec<f32> = (0..5).map_while(|_| source.next()).map(|s| s * 32_768.0).collect();
        assert_eq!(rest, [0.0, 2.0, -2.0, 2.0, -2.0], "silence for the right channel, then left first");
    }

    #[test]
    fn a_device_pauses_mid_block_and_resumes_with_the_next_sample() {
        let (events, _receiver) = crate::event_channel();
        let queue = Arc::new(PcmQueue::new(events));
        let now = crate::pcm::NowPlaying {
            stream: jukebox_protocol::StreamId(1),
            song: jukebox_protocol::SongId(1),
            title: String::new(),
            artist: String::new(),
            duration: Duration::from_secs(1),
        };
        queue.start(now);
        queue.push(jukebox_protocol::StreamId(1), &[1, -1, 2, -2, 3, -3]);
        let mut source = QueueSource::new(Arc::clone(&queue));
        let mut play =
            |n: usize| -> Vec<f32> { (0..n).map_while(|_| source.next()).map(|s| s * 32_768.0).collect() };
        // The block holds all six samples; a pause after a left sample finishes its frame.
        assert_eq!(play(3), [1.0, -1.0, 2.0]);
        queue.pause();
        assert_eq!(play(5), [-2.0, 0.0, 0.0, 0.0, 0.0]);
        queue.resume();
        assert_eq!(play(2), [3.0, -3.0]);
    }

    #[test]
    fn output_specs_parse_and_print_back() {
        for text in ["auto", "device", "null", "wav:/tmp/x.wav"] {
            assert_eq!(text.parse::<OutputSpec>().unwrap().to_string(), text);
        }
        assert!("wav:".parse::<OutputSpec>().is_err());
        assert!("speakers".parse::<OutputSpec>().unwrap_err().contains("auto, device, null or wav:PATH"));
    }
}
