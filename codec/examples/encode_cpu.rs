//! What the station's pipeline costs in CPU: decodes the sample songs, converts them to
//! 44.1 kHz stereo and encodes them at 128 kbit/s, each stage timed on its own by the thread's
//! CPU clock (so other load on the machine does not count), and prints real-time factors:
//! seconds of audio per CPU second. The figure that matters for the station is the sum of
//! the three, since it runs them for every second on air.
//!
//! ```text
//! cargo run --release -p jukebox-codec --example encode_cpu [-- RUNS [MUSIC_DIR]]
//! ```
//!
//! RUNS (default 5) repeats every stage; the medians are printed last. The sample songs are
//! all 44.1 kHz, where conversion only copies (or doubles mono), so the conversion is also
//! timed with the same samples taken as 48 kHz and as 22.05 kHz, which interpolates.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jukebox_codec::{DEFAULT_BITRATE_KBPS, Encoder, FrameDecoder, Resampler, SAMPLE_RATE};
use rustix::time::{ClockId, clock_gettime};

/// One decoded frame, owned.
struct Frame {
    samples: Vec<i16>,
    channels: usize,
    rate: u32,
}

/// CPU time this thread has used so far.
fn thread_cpu() -> Duration {
    let now = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(now.tv_sec.unsigned_abs(), now.tv_nsec.unsigned_abs() as u32)
}

/// Runs `stage` and returns its result with the CPU time it took.
fn timed<T>(stage: impl FnOnce() -> T) -> (T, Duration) {
    let start = thread_cpu();
    let result = stage();
    (result, thread_cpu().saturating_sub(start))
}

fn songs(dir: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("mp3")))
        .collect();
    paths.sort();
    paths.iter().map(std::fs::read).collect()
}

/// Decodes every frame of every song, keeping only a count: the decoder's cost alone.
fn decode_only(songs: &[Vec<u8>]) -> u64 {
    let mut samples = 0;
    for song in songs {
        let mut decoder = FrameDecoder::default();
        for span in jukebox_protocol::mp3::frames(song) {
            if let Some(decoded) = decoder.decode(&song[span.offset..span.offset + span.header.len]) {
                samples += (decoded.samples.len() / decoded.channels) as u64;
            }
        }
    }
    samples
}

fn decode_all(songs: &[Vec<u8>]) -> Vec<Frame> {
    let mut frames = Vec::new();
    for song in songs {
        let mut decoder = FrameDecoder::default();
        for span in jukebox_protocol::mp3::frames(song) {
            if let Some(d) = decoder.decode(&song[span.offset..span.offset + span.header.len]) {
                frames.push(Frame { samples: d.samples.to_vec(), channels: d.channels, rate: d.sample_rate });
            }
        }
    }
    frames
}

/// Converts every frame, as if decoded at `rate` (or at its own rate), one converted frame at
/// a time as the station would; returns the input's length in seconds and the output.
fn resample(frames: &[Frame], rate: Option<u32>) -> (f64, Vec<Vec<i16>>) {
    let mut resampler = Resampler::default();
    let mut seconds = 0.0;
    let mut out = Vec::with_capacity(frames.len());
    for frame in frames {
        let rate = rate.unwrap_or(frame.rate);
        let mut pcm = Vec::new();
        resampler.convert(&frame.samples, frame.channels, rate, &mut pcm);
        seconds += (frame.samples.len() / frame.channels) as f64 / f64::from(rate);
        out.push(pcm);
    }
    (seconds, out)
}

/// Encodes the converted frames into one stream; returns its frame count.
fn encode(pieces: &[Vec<i16>]) -> Result<usize, jukebox_codec::EncodeError> {
    let mut encoder = Encoder::new(DEFAULT_BITRATE_KBPS)?;
    let mut stream = Vec::new();
    let mut frames = 0;
    for piece in pieces {
        frames += encoder.encode(piece, &mut stream)?;
        // The station would send these now; keep memory flat.
        stream.clear();
    }
    Ok(frames + encoder.flush(&mut stream)?)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(5).max(1);
    let dir =
        args.next().map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../music"), PathBuf::from);
    let songs = songs(&dir)?;
    if songs.is_empty() {
        return Err(format!("no .mp3 files in {}", dir.display()).into());
    }
    let frames = decode_all(&songs);

    const STAGES: [&str; 5] = ["decode", "resample 44.1k", "resample 48k", "resample 22.05k", "encode 128k"];
    let mut factors: Vec<Vec<f64>> = vec![Vec::new(); STAGES.len()];
    println!("real-time factor: seconds of audio per CPU second ({} songs)", songs.len());
    println!("{:>4} {}", "run", STAGES.map(|s| format!("{s:>16}")).join(""));
    for run in 1..=runs {
        let (samples, decode_cpu) = timed(|| decode_only(&songs));
        let audio = samples as f64 / f64::from(SAMPLE_RATE);
        let mut row = vec![audio / decode_cpu.as_secs_f64()];
        let mut converted = Vec::new();
        for rate in [None, Some(48_000), Some(22_050)] {
            let ((seconds, out), cpu) = timed(|| resample(&frames, rate));
            row.push(seconds / cpu.as_secs_f64());
            if rate.is_none() {
                converted = out;
            }
        }
        let pairs: usize = converted.iter().map(|piece| piece.len() / 2).sum();
        let (encoded, encode_cpu) = timed(|| encode(&converted));
        encoded?;
        row.push(pairs as f64 / f64::from(SAMPLE_RATE) / encode_cpu.as_secs_f64());
        println!("{run:>4} {}", row.iter().map(|f| format!("{f:>16.1}")).collect::<String>());
        for (all, factor) in factors.iter_mut().zip(row) {
            all.push(factor);
        }
    }
    let medians: Vec<f64> = factors.iter_mut().map(|f| median(f)).collect();
    println!("{:>4} {}", "med", medians.iter().map(|f| format!("{f:>16.1}")).collect::<String>());
    let pipeline = 1.0 / (1.0 / medians[0] + 1.0 / medians[2] + 1.0 / medians[4]);
    println!("decode + resample 48k + encode: {pipeline:.1} s of audio per CPU second");
    Ok(())
}
