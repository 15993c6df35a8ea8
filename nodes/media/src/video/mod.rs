//! Video: H.264 encoding and decoding (OpenH264), Opus audio (ropus), MP4 muxing (muxide),
//! reading an MP4's tracks, and dissolves between clips.
//!
//! - [`encode`]: RGB frames → an H.264 Annex-B [`EncodedStream`] with per-frame boundaries.
//! - [`opus`]: 48 kHz mono PCM → an [`OpusTrack`] of 20 ms packets, and back.
//! - [`mux`]: an [`EncodedStream`] (and an [`OpusTrack`]) → a fast-start MP4 whose video track
//!   lasts frames / fps.
//! - [`decode`]: an Annex-B stream (or several concatenated) → RGB frames.
//! - [`demux`]: an MP4's H.264 track → an Annex-B stream again; its Opus track → packets.
//! - [`join`]: clips' streams → one stream with dissolves at the cuts, frame by frame.
//! - [`mp4_info`](mod@mp4_info): duration, frame count, size and codec of an MP4's video track,
//!   and what its audio track holds.
//! - [`dissolve`]: [`frame_count`], a shot's frames, and [`crossfade_join`], dissolves that keep
//!   the total length.
//!
//! OpenH264 is built from source (the `openh264` crate's bundled build, with `nasm` assembly
//! when `nasm` is installed). Cisco's patent licence for H.264 covers only the OpenH264 binaries
//! Cisco distributes, not builds from source.

pub mod decode;
pub mod demux;
pub mod dissolve;
pub mod encode;
pub mod join;
pub mod mp4_info;
pub mod mux;
pub mod opus;

/// The frame type: 8-bit RGB, row-major (re-exported from `image`).
pub use image::RgbImage;

pub use decode::{decode_stream, decode_stream_each};
pub use demux::{OpusPackets, mp4_annex_b, mp4_opus};
pub use dissolve::{Cut, crossfade_join, ease, frame_count, transitions_join};
pub use encode::{EncodedFrame, EncodedStream, H264Encoder, check_format, encode_frames};
pub use join::{join_audio, join_streams};
pub use mp4_info::{AudioInfo, Mp4Info, mp4_info};
pub use mux::{mux_mp4, mux_mp4_with_audio};
pub use opus::{OPUS_RATE, OpusTrack, decode_opus, encode_opus};

use crate::error::MediaError;

/// Encodes frames (all of one even size) at `fps` and muxes them: returns the MP4 file and the
/// raw H.264 Annex-B stream of the same frames (for joining clips without demuxing).
///
/// # Errors
///
/// As [`encode_frames`] and [`mux_mp4`].
pub fn encode_clip(frames: &[RgbImage], fps: u32) -> Result<(Vec<u8>, Vec<u8>), MediaError> {
    let stream = encode_frames(frames, fps)?;
    let mp4 = mux_mp4(&stream, stream.width, stream.height, fps)?;
    Ok((mp4, stream.annex_b))
}

/// As [`encode_clip`], with `audio` (48 kHz mono PCM, as long as the frames last) encoded as
/// Opus into the MP4 beside the video.
///
/// # Errors
///
/// As [`encode_clip`] and [`encode_opus`].
pub fn encode_clip_with_audio(frames: &[RgbImage], fps: u32, audio: &[f32]) -> Result<(Vec<u8>, Vec<u8>), MediaError> {
    let stream = encode_frames(frames, fps)?;
    let track = encode_opus(audio)?;
    let mp4 = mux_mp4_with_audio(&stream, stream.width, stream.height, fps, &track)?;
    Ok((mp4, stream.annex_b))
}

/// Frames and measures shared by the video tests.
#[cfg(test)]
pub(crate) mod test_frames {
    use super::RgbImage;

    /// A synthetic animation: a soft gradient background with a bright disc moving across it.
    pub(crate) fn animation(frames: u32, width: u32, height: u32) -> Vec<RgbImage> {
        (0..frames)
            .map(|t| {
                let cx = 20.0 + f64::from(t) * 4.0;
                let cy = f64::from(height) / 2.0 + (f64::from(t) / 6.0).sin() * 40.0;
                RgbImage::from_fn(width, height, |x, y| {
                    let (fx, fy) = (f64::from(x), f64::from(y));
                    let d = ((fx - cx).powi(2) + (fy - cy).powi(2)).sqrt();
                    let disc = (1.0 - (d - 30.0) / 4.0).clamp(0.0, 1.0);
                    let r = 60.0 + 120.0 * fx / f64::from(width);
                    let g = 50.0 + 100.0 * fy / f64::from(height);
                    let b = 140.0 + 40.0 * ((fx + fy + f64::from(t) * 3.0) / 25.0).sin();
                    let mix = |base: f64, top: f64| (base * (1.0 - disc) + top * disc).round() as u8;
                    image::Rgb([mix(r, 250.0), mix(g, 220.0), mix(b, 60.0)])
                })
            })
            .collect()
    }

    /// The peak signal-to-noise ratio of `b` against `a`, in dB.
    pub(crate) fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
        let mse = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(&p, &q)| (f64::from(p) - f64::from(q)).powi(2))
            .sum::<f64>()
            / a.as_raw().len() as f64;
        if mse == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (255.0 * 255.0 / mse).log10()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_frames::{animation, psnr};
    use super::*;

    #[test]
    fn a_two_second_animation_encodes_muxes_and_decodes() -> Result<(), MediaError> {
        let frames = animation(48, 320, 240);
        let (mp4, annex_b) = encode_clip(&frames, 24)?;

        let info = mp4_info(&mp4)?;
        assert!((info.duration_s - 2.0).abs() < 1e-9, "duration {}", info.duration_s);
        assert_eq!(
            (info.frames, info.width, info.height, info.codec.as_str()),
            (48, 320, 240, "avc1")
        );

        let decoded = decode_stream(&annex_b)?;
        assert_eq!(decoded.len(), 48);
        for (i, (original, back)) in frames.iter().zip(&decoded).enumerate() {
            assert_eq!(back.dimensions(), (320, 240));
            let db = psnr(original, back);
            assert!(db > 30.0, "frame {i}: PSNR {db:.1} dB");
        }
        Ok(())
    }

    #[test]
    fn a_clip_with_audio_keeps_both_tracks_in_step() -> Result<(), MediaError> {
        let frames = animation(30, 96, 64);
        let samples = 30 * OPUS_RATE as usize / 24;
        let audio: Vec<f32> = (0..samples).map(|i| ((i as f32) * 0.05).sin() * 0.3).collect();
        let (mp4, annex_b) = encode_clip_with_audio(&frames, 24, &audio)?;
        let info = mp4_info(&mp4)?;
        assert_eq!(info.frames, 30);
        let track = info.audio.ok_or_else(|| MediaError::Failed("no audio track".into()))?;
        assert_eq!(
            (track.codec.as_str(), track.sample_rate, track.channels),
            ("Opus", 48_000, 1)
        );
        assert_eq!(track.pre_skip, Some(opus::PRE_SKIP as u16));
        let frame = opus::FRAME_SAMPLES as f64 / f64::from(OPUS_RATE);
        let late = track.playable_s() - info.duration_s;
        assert!(
            (0.0..frame).contains(&late),
            "audio {} s, video {} s",
            track.playable_s(),
            info.duration_s
        );
        let packets = mp4_opus(&mp4)?.ok_or_else(|| MediaError::Failed("no Opus packets".into()))?;
        assert_eq!(packets.packets.len() as u32, track.packets);
        assert_eq!(decode_stream(&mp4_annex_b(&mp4)?)?.len(), 30);
        assert_eq!(decode_stream(&annex_b)?.len(), 30);
        let (silent, _) = encode_clip(&frames, 24)?;
        assert_eq!(mp4_info(&silent)?.audio, None);
        assert_eq!(mp4_opus(&silent)?, None);
        Ok(())
    }

    #[test]
    fn a_joined_video_lasts_the_sum_of_its_shots() -> Result<(), MediaError> {
        let durations = [0.5, 1.0, 0.75];
        let clips: Vec<Vec<RgbImage>> = durations
            .iter()
            .map(|&d| frame_count(d, 24).map(|n| animation(n, 96, 64)))
            .collect::<Result<_, _>>()?;
        let joined = crossfade_join(clips, 8);
        let (mp4, _) = encode_clip(&joined, 24)?;
        let info = mp4_info(&mp4)?;
        let want: f64 = durations.iter().sum();
        assert!(
            (info.duration_s - want).abs() <= 1.0 / 24.0,
            "{} s, want {want} s",
            info.duration_s
        );
        assert_eq!(info.frames, 54);
        Ok(())
    }
}
