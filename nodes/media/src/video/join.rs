//! Joining clips' H.264 streams into one video with the dissolves of
//! [`crossfade_join`](super::dissolve::crossfade_join), frame by frame: decode, dissolve, encode,
//! without demuxing and without holding the episode's frames in memory; and joining their Opus
//! audio tracks end to end ([`join_audio`]).

use image::RgbImage;

use super::decode::decode_stream_each;
use super::demux::mp4_opus;
use super::dissolve::{Cut, Dissolve};
use super::encode::{EncodedStream, H264Encoder};
use super::opus::decode_opus;
use crate::error::MediaError;

/// The audio of clips' MP4 files (in order) as one 48 kHz mono track: each clip's Opus track
/// decoded, its pre-skip dropped, and cut or padded with silence to `lengths[i]` samples (the
/// clip's length), so each clip's sound starts where its frames start in the joined video (the
/// dissolves keep every frame). A clip without an audio track is silence. `None` when no clip
/// has audio.
///
/// # Errors
///
/// [`MediaError::Invalid`] when a file is not an MP4 or its audio track is not Opus or does
/// not decode.
pub fn join_audio(files: &[&[u8]], lengths: &[usize]) -> Result<Option<Vec<f32>>, MediaError> {
    let mut track = Vec::with_capacity(lengths.iter().sum());
    let mut any = false;
    for (file, &len) in files.iter().zip(lengths) {
        match mp4_opus(file)? {
            Some(opus) => {
                any = true;
                track.extend(decode_opus(&opus.packets, usize::from(opus.pre_skip), len)?);
            }
            None => track.resize(track.len() + len, 0.0),
        }
    }
    Ok(any.then_some(track))
}

/// What the first pass learns of a clip.
struct ClipEnds {
    /// Index into the streams.
    stream: usize,
    /// Frames in the clip.
    frames: usize,
    first: RgbImage,
    last: RgbImage,
}

/// Joins clips' Annex-B streams (in order) into one stream at `fps`, with `cuts[i]` between the
/// `i`-th stream and the next (a missing one is [`Cut::Hard`]), keeping the total frame count,
/// exactly as [`transitions_join`](super::dissolve::transitions_join) does on decoded frames
/// (the output is the same as encoding `transitions_join` of the decoded clips).
///
/// Each stream is decoded twice (once for its length and end frames, once to re-encode), so
/// memory holds only each clip's first and last frame. Streams without frames are skipped.
///
/// # Errors
///
/// [`MediaError::Invalid`] when there are no frames at all, a stream does not decode, or the
/// clips differ in size (one stream has one size); [`MediaError::Failed`] when encoding fails.
pub fn join_streams(streams: &[&[u8]], fps: u32, cuts: &[Cut]) -> Result<EncodedStream, MediaError> {
    // First pass: each clip's length and end frames.
    let mut clips: Vec<ClipEnds> = Vec::with_capacity(streams.len());
    for (stream, annex_b) in streams.iter().enumerate() {
        let mut ends: Option<(RgbImage, RgbImage)> = None;
        let frames = decode_stream_each(annex_b, |frame| {
            match &mut ends {
                Some((_, last)) => *last = frame,
                None => ends = Some((frame.clone(), frame)),
            }
            Ok(())
        })?;
        if let Some((first, last)) = ends {
            clips.push(ClipEnds {
                stream,
                frames: frames as usize,
                first,
                last,
            });
        }
    }
    let Some(opening) = clips.first() else {
        return Err(MediaError::Invalid("no frames to join".into()));
    };
    let mut encoder = H264Encoder::new(opening.first.width(), opening.first.height(), fps)?;

    // The dissolve at each cut: `cuts[i]` lies between clips `i` and `i + 1`.
    let cuts: Vec<Dissolve> = clips
        .windows(2)
        .map(|pair| {
            let same_size = pair[0].last.dimensions() == pair[1].first.dimensions();
            // The cut just before the incoming clip (past a skipped empty stream, its outgoing one).
            let cut = pair[1]
                .stream
                .checked_sub(1)
                .and_then(|c| cuts.get(c))
                .copied()
                .unwrap_or(Cut::Hard);
            Dissolve::at_cut(cut, pair[0].frames, pair[1].frames, same_size)
        })
        .collect();

    // Second pass: decode, dissolve at the ends, encode.
    for (i, clip) in clips.iter().enumerate() {
        let before = i.checked_sub(1).and_then(|c| Some((cuts.get(c)?, &clips.get(c)?.last)));
        let after = cuts.get(i).zip(clips.get(i + 1).map(|next| &next.first));
        let mut index = 0usize;
        let decoded = decode_stream_each(streams[clip.stream], |mut frame| {
            if let Some((cut, previous_last)) = before
                && index < cut.head
            {
                frame = cut.head_frame(previous_last, &frame, index);
            }
            if let Some((cut, next_first)) = after {
                let start = clip.frames - cut.tail;
                if index >= start {
                    frame = cut.tail_frame(&frame, next_first, index - start);
                }
            }
            index += 1;
            encoder.push(&frame)
        })?;
        if decoded as usize != clip.frames {
            return Err(MediaError::Failed(format!(
                "clip {} gave {} frames, then {decoded}",
                clip.stream, clip.frames
            )));
        }
    }
    Ok(encoder.finish())
}

#[cfg(test)]
mod tests {
    use super::super::decode::decode_stream;
    use super::super::dissolve::crossfade_join;
    use super::super::encode::encode_frames;
    use super::*;

    fn clip(n: u32, shade: u32) -> Vec<RgbImage> {
        (0..n)
            .map(|t| {
                RgbImage::from_fn(48, 32, |x, y| {
                    image::Rgb([(x * 4 + t * 2) as u8, (y * 6 + shade) as u8, shade as u8])
                })
            })
            .collect()
    }

    #[test]
    fn joining_streams_matches_joining_frames() -> Result<(), MediaError> {
        let streams: Vec<EncodedStream> = [(12, 20), (5, 120), (1, 60), (9, 220)]
            .into_iter()
            .map(|(n, shade)| encode_frames(&clip(n, shade), 24))
            .collect::<Result<_, _>>()?;
        let refs: Vec<&[u8]> = streams.iter().map(|s| s.annex_b.as_slice()).chain([&[][..]]).collect();
        for overlap in [0, 3, 8] {
            let joined = join_streams(&refs, 24, &[Cut::Dissolve { frames: overlap }; 4])?;
            assert_eq!(joined.frame_count(), 27);
            let decoded: Vec<Vec<RgbImage>> = streams
                .iter()
                .map(|s| decode_stream(&s.annex_b))
                .collect::<Result<_, _>>()?;
            let expected = encode_frames(&crossfade_join(decoded, overlap), 24)?;
            assert_eq!(joined, expected, "overlap {overlap}");
        }
        // Mixed transitions as on frames.
        let cuts = [
            Cut::Hard,
            Cut::Fade {
                frames: 4,
                colour: [255, 105, 180],
            },
            Cut::Dissolve { frames: 6 },
        ];
        let decoded: Vec<Vec<RgbImage>> = streams
            .iter()
            .map(|s| decode_stream(&s.annex_b))
            .collect::<Result<_, _>>()?;
        let expected = encode_frames(&super::super::dissolve::transitions_join(decoded, &cuts), 24)?;
        assert_eq!(join_streams(&refs[..4], 24, &cuts)?, expected);
        Ok(())
    }

    #[test]
    fn audio_tracks_join_end_to_end_with_silence_for_a_silent_clip() -> Result<(), MediaError> {
        use super::super::{encode_clip, encode_clip_with_audio};
        let rate = 48_000usize;
        // Clip lengths at 24 fps: 12 frames = 0.5 s, 6 frames = 0.25 s.
        let tone = |len: usize| -> Vec<f32> { (0..len).map(|i| ((i as f32) * 0.06).sin() * 0.5).collect() };
        let (a, _) = encode_clip_with_audio(&clip(12, 20), 24, &tone(rate / 2))?;
        let (b, _) = encode_clip(&clip(6, 120), 24)?;
        let (c, _) = encode_clip_with_audio(&clip(6, 60), 24, &tone(rate / 4))?;
        let lengths = [rate / 2, rate / 4, rate / 4];
        let track = join_audio(&[&a, &b, &c], &lengths)?.ok_or_else(|| MediaError::Failed("no audio".into()))?;
        assert_eq!(track.len(), rate);
        let level = |range: std::ops::Range<usize>| {
            (track[range.clone()].iter().map(|s| s * s).sum::<f32>() / range.len() as f32).sqrt()
        };
        let (first, gap, last) = (
            level(1_000..rate / 2 - 1_000),
            level(rate / 2 + 500..3 * rate / 4 - 500),
            level(3 * rate / 4 + 1_000..rate - 1_000),
        );
        assert!(
            (first - 0.35).abs() < 0.05 && (last - 0.35).abs() < 0.05,
            "{first} {last}"
        );
        assert!(gap < 0.01, "{gap}");
        assert_eq!(join_audio(&[&b], &[rate / 4])?, None);
        assert_eq!(join_audio(&[], &lengths)?, None);
        Ok(())
    }

    #[test]
    fn nothing_to_join_or_clips_of_different_sizes_are_refused() -> Result<(), MediaError> {
        assert!(matches!(join_streams(&[], 24, &[]), Err(MediaError::Invalid(_))));
        assert!(matches!(join_streams(&[&[]], 24, &[]), Err(MediaError::Invalid(_))));
        let a = encode_frames(&clip(4, 0), 24)?;
        let b = encode_frames(&[RgbImage::new(32, 32)], 24)?;
        assert!(matches!(
            join_streams(&[&a.annex_b, &b.annex_b], 24, &[Cut::Hard]),
            Err(MediaError::Invalid(_))
        ));
        Ok(())
    }
}
