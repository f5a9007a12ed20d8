//! Conversion of decoded audio to the one format that everything downstream plays or encodes:
//! 44.1 kHz interleaved stereo. The library's songs are 8 to 48 kHz, mono or stereo; the
//! client's sound card and the station's encoder each take one format, so every decoded frame
//! passes through a [`Resampler`] first.

/// The sample rate of every output and of the station's encoder, in Hz.
pub const SAMPLE_RATE: u32 = 44_100;

/// Interleaved stereo: the channel count of every output and of the station's encoder.
pub const CHANNELS: u16 = 2;

/// Converts decoded frames to the output format: mono is doubled, other sample rates are
/// linearly interpolated (continuously across frames).
#[derive(Debug, Default)]
pub struct Resampler {
    /// Position of the next output frame, in input frames, counted from `last` (or from the
    /// first frame of the first call).
    phase: f64,
    /// The last input frame of the previous call (left, right).
    last: Option<(i16, i16)>,
}

impl Resampler {
    /// Appends `data` (interleaved, `channels` channels at `rate` Hz) as 44.1 kHz stereo.
    pub fn convert(&mut self, data: &[i16], channels: usize, rate: u32, out: &mut Vec<i16>) {
        let frames: Vec<(i16, i16)> = match channels {
            1 => data.iter().map(|&s| (s, s)).collect(),
            2 => data.chunks_exact(2).map(|f| (f[0], f[1])).collect(),
            _ => return,
        };
        if rate == SAMPLE_RATE {
            out.extend(frames.iter().flat_map(|&(l, r)| [l, r]));
            return;
        }
        if rate == 0 {
            return;
        }
        let step = f64::from(rate) / f64::from(SAMPLE_RATE);
        // Input frames with the previous call's last frame in front, at index 0.
        let mut input = Vec::with_capacity(frames.len() + 1);
        input.extend(self.last);
        input.extend_from_slice(&frames);
        if input.is_empty() {
            return;
        }
        while self.phase + 1.0 < input.len() as f64 {
            let i = self.phase as usize;
            let t = self.phase - i as f64;
            let (l0, r0) = input[i];
            let (l1, r1) = input[i + 1];
            let lerp = |a: i16, b: i16| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as i16;
            out.push(lerp(l0, l1));
            out.push(lerp(r0, r1));
            self.phase += step;
        }
        self.phase -= (input.len() - 1) as f64;
        self.last = input.last().copied();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_is_doubled_and_44k_passes_unchanged() {
        let mut out = Vec::new();
        Resampler::default().convert(&[1, 2, 3], 1, 44_100, &mut out);
        assert_eq!(out, [1, 1, 2, 2, 3, 3]);
    }

    #[test]
    fn half_rate_doubles_the_frame_count() {
        let mut resampler = Resampler::default();
        let mut out = Vec::new();
        let input: Vec<i16> = (0..100).flat_map(|i| [i * 10, -i * 10]).collect();
        resampler.convert(&input[..100], 2, 22_050, &mut out);
        resampler.convert(&input[100..], 2, 22_050, &mut out);
        assert!((198..=200).contains(&(out.len() / 2)), "{} frames", out.len() / 2);
        // Linear interpolation between 0 and 10 gives 5 in between.
        assert_eq!(&out[..6], &[0, 0, 5, -5, 10, -10]);
    }
}
