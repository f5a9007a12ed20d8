//! The one door to minimp3's C decoder (`minimp3-sys`), and the only `unsafe` code of the
//! workspace's own crates.
//!
//! The `minimp3` wrapper crate is not used: it pulls in `slice-ring-buffer`, which has double
//! frees (RUSTSEC-2025-0044), and describes itself as unsound. What we need of the C library
//! is two functions, wrapped here behind a safe [`FrameDecoder`]: the decoder state
//! and the sample buffer are owned Rust values, every call hands the C code a slice it may read
//! and a buffer of the size it documents, and nothing the C code returns is trusted without a
//! bounds check.

use minimp3_sys as ffi;

/// The most samples (all channels together) that minimp3 writes for one frame; the output
/// buffer must hold this many (minimp3.h: `MINIMP3_MAX_SAMPLES_PER_FRAME`).
const MAX_SAMPLES_PER_FRAME: usize = ffi::MINIMP3_MAX_SAMPLES_PER_FRAME as usize;

/// One decoded frame, borrowed from the decoder until its next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// Interleaved samples: `channels` per instant.
    pub samples: &'a [i16],
    /// 1 (mono) or 2 (stereo).
    pub channels: usize,
    /// The frame's sample rate in Hz, which the output may need to convert.
    pub sample_rate: u32,
}

/// minimp3's decoder state. MP3 frames depend on the ones before them (the bit reservoir), so
/// one decoder decodes one stream, fed whole frames in order.
pub struct FrameDecoder {
    /// Boxed: about 6.5 KiB, and the C code keeps no pointer to it between calls, so it may
    /// live anywhere; a box keeps the struct that holds the decoder small to move.
    state: Box<ffi::mp3dec_t>,
    pcm: Box<[i16; MAX_SAMPLES_PER_FRAME]>,
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameDecoder")
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        // Plain data, built field by field so that no `zeroed` is needed; mp3dec_init would
        // only clear `header` anyway, which marks the state as "no previous frame".
        let state = Box::new(ffi::mp3dec_t {
            mdct_overlap: [[0.0; 288]; 2],
            qmf_state: [0.0; 960],
            reserv: 0,
            free_format_bytes: 0,
            header: [0; 4],
            reserv_buf: [0; 511],
        });
        FrameDecoder { state, pcm: Box::new([0; MAX_SAMPLES_PER_FRAME]) }
    }
}

impl FrameDecoder {
    /// Decodes one whole MPEG audio frame (header included). `None` for a frame that holds no
    /// audio (a Xing/Info header frame) or that minimp3 cannot decode.
    ///
    /// Hand it exactly one frame at a time: minimp3 resets its state, and so loses the bit
    /// reservoir and audio, when it is handed part of a frame.
    pub fn decode(&mut self, frame: &[u8]) -> Option<Decoded<'_>> {
        let len = i32::try_from(frame.len()).ok()?;
        let mut info = ffi::mp3dec_frame_info_t {
            frame_bytes: 0,
            frame_offset: 0,
            channels: 0,
            hz: 0,
            layer: 0,
            bitrate_kbps: 0,
        };
        // SAFETY: minimp3 reads at most `len` bytes from `frame`, which is a live slice of
        // exactly `len` bytes; it writes at most MINIMP3_MAX_SAMPLES_PER_FRAME samples into
        // `pcm`, which holds exactly that many; `state` and `info` are valid, initialised and
        // exclusively borrowed for the call, and the C code keeps none of these pointers after
        // it returns. It touches no global state, so decoders on other threads are unaffected.
        let per_channel = unsafe {
            ffi::mp3dec_decode_frame(&mut *self.state, frame.as_ptr(), len, self.pcm.as_mut_ptr(), &mut info)
        };
        let channels = usize::try_from(info.channels).ok().filter(|c| (1..=2).contains(c))?;
        let count = usize::try_from(per_channel).ok()?.checked_mul(channels)?;
        if count == 0 || count > self.pcm.len() {
            return None;
        }
        let sample_rate = u32::try_from(info.hz).ok().filter(|&hz| hz > 0)?;
        Some(Decoded { samples: &self.pcm[..count], channels, sample_rate })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song() -> Vec<u8> {
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../music/01-morning-scale.mp3")).unwrap()
    }

    #[test]
    fn a_whole_song_decodes_frame_by_frame() {
        let file = song();
        let mut decoder = FrameDecoder::default();
        let mut samples = 0;
        for span in jukebox_protocol::mp3::frames(&file) {
            if let Some(decoded) = decoder.decode(&file[span.offset..span.offset + span.header.len]) {
                assert_eq!(decoded.sample_rate, 44_100);
                assert!(matches!(decoded.channels, 1 | 2));
                assert_eq!(decoded.samples.len() % decoded.channels, 0);
                samples += decoded.samples.len() / decoded.channels;
            }
        }
        // The sample song lasts about 25 s.
        assert!((24 * 44_100..27 * 44_100).contains(&samples), "{samples} samples per channel");
    }

    #[test]
    fn garbage_and_partial_frames_give_nothing_and_never_panic() {
        let mut decoder = FrameDecoder::default();
        assert_eq!(decoder.decode(&[]), None);
        assert_eq!(decoder.decode(&[0xFF]), None);
        assert_eq!(decoder.decode(&[0u8; 5000]), None);
        let noise: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for piece in noise.chunks(417) {
            let _ = decoder.decode(piece);
        }
        // Half a real frame.
        let file = song();
        let first = jukebox_protocol::mp3::frames(&file).nth(1).unwrap();
        assert_eq!(decoder.decode(&file[first.offset..first.offset + first.header.len / 2]), None);
    }
}
