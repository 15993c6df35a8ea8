//! MP4 muxing with `muxide`: an [`EncodedStream`] becomes a fast-start MP4 (`moov` before
//! `mdat`) with one H.264 (`avc1`) track, and an Opus audio track beside it when there is one
//! ([`mux_mp4_with_audio`]).
//!
//! Frame `i` is stamped `i / fps` seconds. muxide gives each sample the gap to the next one and
//! the last sample the gap before it, so the track lasts exactly `frames / fps` (to the 90 kHz
//! tick). A one-frame stream has no gap to copy, so muxide gives its sample one tick; this module
//! then rewrites the four durations (`stts`, `mdhd`, `tkhd`, `mvhd`) in place to one frame time.
//!
//! Audio packet `k` is stamped `k × 20 ms`, so the audio track lasts its packets: the track's
//! samples, the encoder's delay (the `dOps` pre-skip) and the silence padding the last packet,
//! at most one packet past the video.

use muxide::api::{AudioCodec, MuxerBuilder, VideoCodec};

use super::encode::{EncodedStream, check_format};
use super::mp4_info::{be_u32, be_u64, child, descend, video_trak};
use super::opus::{FRAME_SAMPLES, OPUS_RATE, OpusTrack};
use crate::error::MediaError;

/// muxide's media timescale (ticks per second) for video tracks.
const MEDIA_TIMESCALE: u32 = 90_000;

/// Muxes an H.264 stream into an MP4 file (fast start on) of `width`×`height` at `fps`.
///
/// The track's duration is `frames / fps`; IDR frames are marked as sync samples.
///
/// # Errors
///
/// [`MediaError::Invalid`] when the stream is empty, its first frame is not a keyframe, or
/// `width`/`height`/`fps` are unusable or differ from the stream's; [`MediaError::Failed`] when
/// muxide refuses the stream.
pub fn mux_mp4(stream: &EncodedStream, width: u32, height: u32, fps: u32) -> Result<Vec<u8>, MediaError> {
    mux(stream, width, height, fps, None)
}

/// Muxes an H.264 stream and a mono Opus track into an MP4 file, as [`mux_mp4`] does the video
/// alone.
///
/// # Errors
///
/// As [`mux_mp4`]; [`MediaError::Invalid`] when the audio track has no packets.
pub fn mux_mp4_with_audio(
    stream: &EncodedStream,
    width: u32,
    height: u32,
    fps: u32,
    audio: &OpusTrack,
) -> Result<Vec<u8>, MediaError> {
    if audio.packets.is_empty() {
        return Err(MediaError::Invalid("an audio track without packets".into()));
    }
    mux(stream, width, height, fps, Some(audio))
}

fn mux(
    stream: &EncodedStream,
    width: u32,
    height: u32,
    fps: u32,
    audio: Option<&OpusTrack>,
) -> Result<Vec<u8>, MediaError> {
    check_format(width, height, fps)?;
    if (stream.width, stream.height, stream.fps) != (width, height, fps) {
        return Err(MediaError::Invalid(format!(
            "the stream is {}×{} at {} fps, not {width}×{height} at {fps} fps",
            stream.width, stream.height, stream.fps
        )));
    }
    match stream.frames.first() {
        None => return Err(MediaError::Invalid("no frames to mux".into())),
        Some(first) if !first.keyframe => {
            return Err(MediaError::Invalid("the stream does not start with a keyframe".into()));
        }
        Some(_) => {}
    }

    let audio_bytes: usize = audio.map_or(0, |a| a.packets.iter().map(|p| p.len() + 16).sum());
    let capacity = stream.annex_b.len() + 4096 + stream.frames.len() * 32 + audio_bytes;
    let mut builder = MuxerBuilder::new(Vec::with_capacity(capacity))
        .video(VideoCodec::H264, width, height, f64::from(fps))
        .with_fast_start(true);
    if audio.is_some() {
        builder = builder.audio(AudioCodec::Opus, OPUS_RATE, 1);
    }
    let mut muxer = builder
        .build()
        .map_err(|e| MediaError::Failed(format!("cannot start the MP4 muxer: {e}")))?;
    for (index, frame) in stream.frames.iter().enumerate() {
        let data = stream
            .frame_bytes(index)
            .ok_or_else(|| MediaError::Invalid(format!("frame {index} lies outside the stream")))?;
        let pts = index as f64 / f64::from(fps);
        muxer
            .write_video(pts, data, frame.keyframe)
            .map_err(|e| MediaError::Failed(format!("MP4 muxing failed at frame {index}: {e}")))?;
    }
    for (index, packet) in audio.iter().flat_map(|a| &a.packets).enumerate() {
        let pts = (index * FRAME_SAMPLES) as f64 / f64::from(OPUS_RATE);
        muxer
            .write_audio(pts, packet)
            .map_err(|e| MediaError::Failed(format!("MP4 muxing failed at audio packet {index}: {e}")))?;
    }
    muxer
        .finish_in_place()
        .map_err(|e| MediaError::Failed(format!("cannot finish the MP4: {e}")))?;
    let mut mp4 = muxer.into_writer();
    if stream.frames.len() == 1 {
        set_single_frame_duration(&mut mp4, fps)?;
    }
    Ok(mp4)
}

/// Writes `value` big-endian at `at`, as 32 or 64 bits by the box version.
fn put_duration(mp4: &mut [u8], at: usize, wide: bool, value: u64) -> Result<(), MediaError> {
    let bytes: Vec<u8> = if wide {
        value.to_be_bytes().to_vec()
    } else {
        u32::try_from(value)
            .map_err(|_| MediaError::Failed("duration overflow".into()))?
            .to_be_bytes()
            .to_vec()
    };
    let slot = mp4
        .get_mut(at..at + bytes.len())
        .ok_or_else(|| MediaError::Failed("the MP4 muxide wrote is cut short".into()))?;
    slot.copy_from_slice(&bytes);
    Ok(())
}

/// Gives the only sample of a one-frame MP4 a duration of one frame (muxide gives it one tick).
fn set_single_frame_duration(mp4: &mut [u8], fps: u32) -> Result<(), MediaError> {
    let media = u64::from((MEDIA_TIMESCALE + fps / 2) / fps);
    let data: &[u8] = mp4;
    let moov = child(data, 0..data.len(), b"moov")?;
    let mvhd = child(data, moov.payload.clone(), b"mvhd")?.payload.start;
    let trak = video_trak(data)?;
    let tkhd = child(data, trak.payload.clone(), b"tkhd")?.payload.start;
    let mdhd = descend(data, trak.payload.clone(), &[b"mdia", b"mdhd"])?.payload.start;
    let stts = descend(data, trak.payload, &[b"mdia", b"minf", b"stbl", b"stts"])?
        .payload
        .start;
    if be_u32(data, stts + 4)? != 1 || be_u32(data, stts + 8)? != 1 {
        return Err(MediaError::Failed("unexpected `stts` in a one-frame MP4".into()));
    }
    let movie_timescale = |at: usize, wide: bool| be_u32(data, at + if wide { 20 } else { 12 });
    let mvhd_wide = data.get(mvhd) == Some(&1);
    let mvhd_scale = u64::from(movie_timescale(mvhd, mvhd_wide)?);
    let movie = media * mvhd_scale / u64::from(MEDIA_TIMESCALE);
    // The movie lasts its longest track: an audio track may outlast the frame.
    let movie_now = if mvhd_wide {
        be_u64(data, mvhd + 24)?
    } else {
        u64::from(be_u32(data, mvhd + 16)?)
    };
    let mdhd_wide = data.get(mdhd) == Some(&1);
    let tkhd_wide = data.get(tkhd) == Some(&1);

    // stts: version/flags, entry_count, then (sample_count, sample_delta).
    put_duration(mp4, stts + 12, false, media)?;
    // mdhd/mvhd: version/flags, creation, modification, timescale, duration.
    put_duration(mp4, mdhd + if mdhd_wide { 24 } else { 16 }, mdhd_wide, media)?;
    put_duration(
        mp4,
        mvhd + if mvhd_wide { 24 } else { 16 },
        mvhd_wide,
        movie.max(movie_now),
    )?;
    // tkhd: version/flags, creation, modification, track_id, reserved, duration.
    put_duration(mp4, tkhd + if tkhd_wide { 28 } else { 20 }, tkhd_wide, movie)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use image::RgbImage;

    use super::super::encode::encode_frames;
    use super::super::mp4_info::mp4_info;
    use super::*;

    fn frames(n: u32) -> Vec<RgbImage> {
        (0..n)
            .map(|t| RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 3 + t) as u8, (y * 5) as u8, 90])))
            .collect()
    }

    #[test]
    fn track_duration_is_frames_over_fps() -> Result<(), MediaError> {
        for (n, fps) in [(1, 24), (2, 24), (25, 25), (31, 30), (10, 7)] {
            let stream = encode_frames(&frames(n), fps)?;
            let info = mp4_info(&mux_mp4(&stream, 64, 48, fps)?)?;
            assert_eq!(info.frames, n);
            let want = f64::from(n) / f64::from(fps);
            assert!(
                (info.duration_s - want).abs() < 1e-3,
                "{n} frames at {fps}: {} s",
                info.duration_s
            );
            assert_eq!((info.width, info.height, info.codec.as_str()), (64, 48, "avc1"));
        }
        Ok(())
    }

    #[test]
    fn mismatched_or_empty_streams_are_refused() -> Result<(), MediaError> {
        let stream = encode_frames(&frames(3), 24)?;
        assert!(matches!(mux_mp4(&stream, 64, 48, 25), Err(MediaError::Invalid(_))));
        assert!(matches!(mux_mp4(&stream, 63, 48, 24), Err(MediaError::Invalid(_))));
        let mut empty = stream.clone();
        empty.frames.clear();
        assert!(matches!(mux_mp4(&empty, 64, 48, 24), Err(MediaError::Invalid(_))));
        let mut headless = stream;
        headless.frames.remove(0);
        assert!(matches!(mux_mp4(&headless, 64, 48, 24), Err(MediaError::Invalid(_))));
        Ok(())
    }

    #[test]
    fn the_mp4_is_fast_start() -> Result<(), MediaError> {
        let mp4 = mux_mp4(&encode_frames(&frames(4), 24)?, 64, 48, 24)?;
        let moov = mp4.windows(4).position(|w| w == b"moov");
        let mdat = mp4.windows(4).position(|w| w == b"mdat");
        assert!(matches!((moov, mdat), (Some(a), Some(b)) if a < b));
        Ok(())
    }
}
