//! Mono PCM (`f32` in `[-1, 1]`): resampling, mixing, fades, and 16-bit WAV.

use std::f64::consts::PI;
use std::io::Cursor;

use crate::error::MediaError;

/// Zero crossings of the resampling filter's sinc on each side of its centre: a longer filter
/// has a steeper cut-off.
const SINC_ZEROS: f64 = 16.0;

/// The resampling filter's cut-off, as a fraction of the lower of the two Nyquist frequencies:
/// the rest is the transition band, so the alias of a tone at the new Nyquist is attenuated.
const CUTOFF: f64 = 0.94;

/// Resamples `samples` from `from` Hz to `to` Hz with a band-limited (windowed-sinc) filter:
/// the output has `round(len × to / from)` samples, and sample `j` is the signal at time
/// `j / to`. Before and after the input the signal is taken as silence.
///
/// The filter is a sinc at `CUTOFF` of the lower Nyquist frequency under a Blackman window
/// `SINC_ZEROS` zero crossings wide on each side: flat to about 10 kHz for 22,050 Hz speech
/// going to 48 kHz, with its side lobes 74 dB down. Output sample `j` lies at input position
/// `j × down / up` (the rates' ratio in lowest terms), so its fractional part takes only `up`
/// values: the filter's taps are computed once for each (320 phases from 22,050 Hz to 48 kHz).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || samples.is_empty() || from == 0 || to == 0 {
        return samples.to_vec();
    }
    let divisor = gcd(u64::from(from), u64::from(to));
    let (up, down) = (u64::from(to) / divisor, u64::from(from) / divisor);
    let out_len = (samples.len() as f64 * f64::from(to) / f64::from(from)).round() as usize;
    // The cut-off as a fraction of the input's sample rate (so the sinc is in input samples).
    let band = CUTOFF * (f64::from(to) / f64::from(from)).min(1.0);
    let half_width = SINC_ZEROS / band;
    let reach = half_width.ceil() as usize;
    // Taps for input samples centre - reach + 1 ..= centre + reach, for a fractional position.
    let taps = |fraction: f64| -> Vec<f32> {
        (0..2 * reach)
            .map(|k| {
                let x = fraction + reach as f64 - 1.0 - k as f64;
                if x.abs() >= half_width {
                    0.0
                } else {
                    (band * sinc(band * x) * blackman(x / half_width)) as f32
                }
            })
            .collect()
    };
    // Every phase that occurs, or, for rates with a huge ratio, each sample's own taps.
    let phases = usize::try_from(up)
        .ok()
        .filter(|&up| up <= out_len.max(1) * 2 && up <= MAX_PHASES);
    let table: Vec<Vec<f32>> = phases.map_or_else(Vec::new, |up| (0..up).map(|p| taps(p as f64 / up as f64)).collect());
    (0..out_len as u64)
        .map(|j| {
            let position = j * down;
            let centre = (position / up) as usize;
            let phase = position % up;
            let own;
            let weights = match table.get(phase as usize) {
                Some(weights) => weights,
                None => {
                    own = taps(phase as f64 / up as f64);
                    &own
                }
            };
            let first = (centre + 1).saturating_sub(reach);
            let skip = first + reach - 1 - centre;
            let window = samples
                .get(first..(centre + reach + 1).min(samples.len()))
                .unwrap_or_default();
            window.iter().zip(&weights[skip..]).map(|(s, w)| s * w).sum()
        })
        .collect()
}

/// The most filter phases [`resample`] keeps in a table (320 for 22,050 Hz to 48 kHz).
const MAX_PHASES: usize = 4_096;

/// The greatest common divisor.
fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// `sin(πx) / (πx)`.
fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

/// The Blackman window at `x` in `[-1, 1]` (1 at the centre, 0 at the ends).
fn blackman(x: f64) -> f64 {
    0.42 + 0.5 * (PI * x).cos() + 0.08 * (2.0 * PI * x).cos()
}

/// Adds `source × gain` into `track` from sample `at` on; what would fall past the end of the
/// track is left out.
pub fn mix_into(track: &mut [f32], source: &[f32], at: usize, gain: f32) {
    if let Some(room) = track.get_mut(at..) {
        for (out, sample) in room.iter_mut().zip(source) {
            *out += sample * gain;
        }
    }
}

/// Fades the last `len` samples (all of them when shorter) down to silence, along a raised
/// cosine, so a cut sound ends without a click.
pub fn fade_out(samples: &mut [f32], len: usize) {
    let len = len.min(samples.len());
    let start = samples.len() - len;
    for (k, sample) in samples[start..].iter_mut().enumerate() {
        let remaining = (len - k) as f64 / (len + 1) as f64;
        *sample *= (0.5 - 0.5 * (PI * remaining).cos()) as f32;
    }
}

/// Clamps every sample into `[-1, 1]` (a mix can add up past full scale).
pub fn clamp(samples: &mut [f32]) {
    for sample in samples {
        *sample = sample.clamp(-1.0, 1.0);
    }
}

/// A sample as 16-bit PCM: clamped, scaled by 32,767 and rounded.
pub fn to_i16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16
}

/// A mono 16-bit PCM WAV file of `samples` at `sample_rate`.
///
/// # Errors
///
/// [`MediaError::Invalid`] for a sample rate of 0 or a file past WAV's 4 GiB.
pub fn wav(samples: &[f32], sample_rate: u32) -> Result<Vec<u8>, MediaError> {
    if sample_rate == 0 {
        return Err(MediaError::Invalid("a WAV file needs a sample rate".into()));
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let failed = |e: hound::Error| MediaError::Invalid(format!("writing the WAV: {e}"));
    let mut bytes = Cursor::new(Vec::with_capacity(44 + 2 * samples.len()));
    let mut writer = hound::WavWriter::new(&mut bytes, spec).map_err(failed)?;
    let mut pcm = writer.get_i16_writer(u32::try_from(samples.len()).unwrap_or(u32::MAX));
    for &sample in samples {
        pcm.write_sample(to_i16(sample));
    }
    pcm.flush().map_err(failed)?;
    writer.finalize().map_err(failed)?;
    Ok(bytes.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: u32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (2.0 * PI * hz * i as f64 / f64::from(rate)).sin() as f32 * 0.5)
            .collect()
    }

    fn rms(samples: &[f32]) -> f64 {
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
    }

    #[test]
    fn a_tone_keeps_its_pitch_and_level_through_22050_to_48000() {
        // 22,050 Hz uses the table of 320 phases; 22,051 Hz has 48,000 phases, each sample's
        // taps computed on their own.
        for rate in [22_050, 22_051] {
            let input = tone(440.0, rate, rate as usize);
            let output = resample(&input, rate, 48_000);
            assert_eq!(output.len(), 48_000);
            let want = tone(440.0, 48_000, 48_000);
            // Away from the edges (where the filter sees the silence around the input).
            let inner = 2_000..46_000;
            let worst = output[inner.clone()]
                .iter()
                .zip(&want[inner])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-3, "{rate} Hz: largest error {worst}");
        }
    }

    #[test]
    fn downsampling_removes_what_the_new_rate_cannot_hold() {
        // 15 kHz is above 11,025 Hz, the Nyquist frequency of 22,050 Hz: it must not alias.
        let high = resample(&tone(15_000.0, 48_000, 48_000), 48_000, 22_050);
        let low = resample(&tone(1_000.0, 48_000, 48_000), 48_000, 22_050);
        assert_eq!(high.len(), 22_050);
        let inner = 1_000..21_000;
        assert!(rms(&high[inner.clone()]) < 1e-3, "{}", rms(&high[inner.clone()]));
        assert!((rms(&low[inner]) - 0.5 / 2f64.sqrt()).abs() < 1e-3);
    }

    #[test]
    fn equal_rates_and_empty_input_pass_through() {
        let input = tone(100.0, 8_000, 50);
        assert_eq!(resample(&input, 8_000, 8_000), input);
        assert!(resample(&[], 22_050, 48_000).is_empty());
    }

    #[test]
    fn mixing_adds_at_an_offset_and_stops_at_the_end() {
        let mut track = vec![0.5f32; 6];
        mix_into(&mut track, &[1.0, 1.0, 1.0, 1.0], 4, 0.25);
        assert_eq!(track, [0.5, 0.5, 0.5, 0.5, 0.75, 0.75]);
        mix_into(&mut track, &[1.0], 9, 1.0);
        assert_eq!(track.len(), 6);
        let mut loud = vec![0.9f32, -0.9];
        mix_into(&mut loud, &[0.5, -0.5], 0, 1.0);
        clamp(&mut loud);
        assert_eq!(loud, [1.0, -1.0]);
    }

    #[test]
    fn a_fade_out_ends_in_silence_and_leaves_the_start() {
        let mut samples = vec![1.0f32; 10];
        fade_out(&mut samples, 4);
        assert_eq!(&samples[..6], &[1.0; 6]);
        assert!(samples[6] < 1.0 && samples[6] > samples[7] && samples[8] > samples[9]);
        assert!(samples[9] > 0.0 && samples[9] < 0.2);
        let mut short = vec![1.0f32; 2];
        fade_out(&mut short, 10);
        assert!(short[0] > short[1]);
    }

    #[test]
    fn a_wav_holds_the_samples_as_16_bit_pcm() -> Result<(), Box<dyn std::error::Error>> {
        let samples = [0.0, 0.5, -1.0, 2.0];
        let bytes = wav(&samples, 22_050)?;
        let mut reader = hound::WavReader::new(Cursor::new(bytes))?;
        assert_eq!(reader.spec().sample_rate, 22_050);
        assert_eq!(reader.spec().channels, 1);
        let back: Vec<i16> = reader.samples::<i16>().collect::<Result<_, _>>()?;
        assert_eq!(back, [0, 16_384, -32_767, 32_767]);
        assert!(wav(&samples, 0).is_err());
        Ok(())
    }
}
