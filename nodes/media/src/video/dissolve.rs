//! Frame counts and dissolves: how many frames a shot gets, and clips joined with a dissolve at
//! each cut that keeps the total length.

use image::RgbImage;

use crate::error::{MediaError, MediaResult};

/// The number of frames of a `duration_s` shot at `fps`: `round(duration_s × fps)`, at least 1.
///
/// # Errors
///
/// [`MediaError::Invalid`] when the duration is negative or not finite, or `fps` is 0.
pub fn frame_count(duration_s: f64, fps: u32) -> MediaResult<u32> {
    if !duration_s.is_finite() || duration_s < 0.0 {
        return Err(MediaError::Invalid(format!(
            "shot duration {duration_s} s is not a length"
        )));
    }
    if fps == 0 {
        return Err(MediaError::Invalid("frame rate 0".into()));
    }
    let frames = (duration_s * f64::from(fps)).round();
    if frames > f64::from(u32::MAX) {
        return Err(MediaError::Invalid(format!("shot duration {duration_s} s is too long")));
    }
    Ok((frames as u32).max(1))
}

/// Smoothstep: eases in and out.
pub fn ease(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// `a` mixed toward `b` by `alpha` in `[0, 1]`.
pub(crate) fn blend(a: &RgbImage, b: &RgbImage, alpha: f64) -> RgbImage {
    let w = (alpha.clamp(0.0, 1.0) * 256.0).round() as u32;
    let data = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&p, &q)| ((u32::from(p) * (256 - w) + u32::from(q) * w + 128) >> 8) as u8)
        .collect();
    RgbImage::from_raw(a.width(), a.height(), data).unwrap_or_else(|| a.clone())
}

/// How one clip gives way to the next at a cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Straight from the one clip's last frame to the next one's first.
    Hard,
    /// A dissolve of `frames` frames centred on the cut.
    Dissolve {
        /// How many frames it takes, across both clips.
        frames: u32,
    },
    /// Out to a solid colour and back in from it, over `frames` frames centred on the cut
    /// (`FADE TO BLACK`, `BURN TO PINK`).
    Fade {
        /// How many frames it takes, across both clips.
        frames: u32,
        /// The colour, as RGB.
        colour: [u8; 3],
    },
}

/// The transition at one cut: how many of the outgoing clip's last frames (`tail`) and of the
/// incoming clip's first frames (`head`) it takes, and what they blend with: the other clip's
/// frame at the cut, or a solid colour (`through`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Dissolve {
    pub(crate) tail: usize,
    pub(crate) head: usize,
    through: Option<[u8; 3]>,
}

impl Dissolve {
    /// The transition `cut` centred on a cut from a clip of `outgoing` frames to one of
    /// `incoming` frames (a dissolve becomes a hard cut when the frames at the cut differ in
    /// size; a fade does not need them alike).
    pub(crate) fn at_cut(cut: Cut, outgoing: usize, incoming: usize, same_size: bool) -> Self {
        let (k, through) = match cut {
            Cut::Hard => (0, None),
            Cut::Dissolve { frames } if same_size => (frames as usize, None),
            Cut::Dissolve { .. } => (0, None),
            Cut::Fade { frames, colour } => (frames as usize, Some(colour)),
        };
        if k == 0 {
            return Self::default();
        }
        Self {
            tail: (k - k / 2).min(outgoing / 2),
            head: (k / 2).min(incoming / 2),
            through,
        }
    }

    fn span(self) -> f64 {
        (self.tail + self.head) as f64 + 1.0
    }

    /// The `m`-th of the outgoing clip's last `tail` frames, blended toward the incoming clip's
    /// first frame (a dissolve) or toward the colour (a fade, reaching it on the last frame).
    pub(crate) fn tail_frame(self, frame: &RgbImage, next_first: &RgbImage, m: usize) -> RgbImage {
        match self.through {
            None => blend(frame, next_first, ease((m as f64 + 1.0) / self.span())),
            Some(colour) => blend(
                frame,
                &solid_like(frame, colour),
                ease((m as f64 + 1.0) / self.tail as f64),
            ),
        }
    }

    /// The incoming clip's `m`-th frame (of its first `head`), faded in from the outgoing
    /// clip's last frame (a dissolve) or from the colour (a fade).
    pub(crate) fn head_frame(self, previous_last: &RgbImage, frame: &RgbImage, m: usize) -> RgbImage {
        match self.through {
            None => blend(previous_last, frame, ease(((self.tail + m) as f64 + 1.0) / self.span())),
            Some(colour) => blend(
                &solid_like(frame, colour),
                frame,
                ease((m as f64 + 1.0) / (self.head as f64 + 1.0)),
            ),
        }
    }
}

/// A frame of `like`'s size in one colour.
fn solid_like(like: &RgbImage, colour: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(like.width(), like.height(), image::Rgb(colour))
}

/// Joins clips into one sequence of frames with a dissolve of `overlap_frames` frames at each
/// cut, **keeping the total frame count** (the sum of the clips' counts), so the video's length
/// stays the sum of its shots' durations and every shot keeps its place in time (subtitles stay
/// in sync).
///
/// Rather than overlapping the clips (which would shorten the video), each dissolve is centred on
/// the cut and happens in place: over the last ⌈k/2⌉ frames of the outgoing clip, its own frames
/// fade toward the incoming clip's first frame; over the first ⌊k/2⌋ frames of the incoming clip,
/// its own frames fade in from the outgoing clip's last frame. The mix follows a smoothstep over
/// the k frames. Because every move in the procedural video model starts and ends at rest, the held end
/// frame sits well under the moving one. A clip gives at most half its frames to each of its two
/// dissolves, so dissolves never overlap; a dissolve between frames of different sizes becomes a
/// plain cut, as does `overlap_frames` 0. Empty clips are skipped.
///
/// [`join_streams`](super::join::join_streams) does the same from the clips' H.264 streams
/// without holding every frame in memory.
pub fn crossfade_join(clips: Vec<Vec<RgbImage>>, overlap_frames: u32) -> Vec<RgbImage> {
    let cuts = vec![Cut::Dissolve { frames: overlap_frames }; clips.len().saturating_sub(1)];
    transitions_join(clips, &cuts)
}

/// Joins clips as [`crossfade_join`] does, with `cuts[i]` the transition between the `i`-th
/// and the next of the clips (a missing one is [`Cut::Hard`]); at a cut next to an empty clip,
/// the empty clip's outgoing cut is the one used. Keeps the total frame count.
pub fn transitions_join(clips: Vec<Vec<RgbImage>>, cuts: &[Cut]) -> Vec<RgbImage> {
    // The cut into each kept clip: the one just before it.
    let into: Vec<Cut> = (0..clips.len())
        .map(|i| i.checked_sub(1).and_then(|c| cuts.get(c)).copied().unwrap_or(Cut::Hard))
        .collect();
    let (mut clips, into): (Vec<Vec<RgbImage>>, Vec<Cut>) =
        clips.into_iter().zip(into).filter(|(c, _)| !c.is_empty()).unzip();
    // The untouched boundary frames: each clip's first and last, before any dissolve changes them.
    let ends: Vec<(RgbImage, RgbImage)> = clips
        .iter()
        .filter_map(|c| Some((c.first()?.clone(), c.last()?.clone())))
        .collect();
    for i in 1..clips.len() {
        let (out_last, in_first) = (&ends[i - 1].1, &ends[i].0);
        let same_size = out_last.dimensions() == in_first.dimensions();
        let dissolve = Dissolve::at_cut(into[i], clips[i - 1].len(), clips[i].len(), same_size);
        let outgoing = clips[i - 1].len();
        for (m, frame) in clips[i - 1][outgoing - dissolve.tail..].iter_mut().enumerate() {
            *frame = dissolve.tail_frame(frame, in_first, m);
        }
        for (m, frame) in clips[i][..dissolve.head].iter_mut().enumerate() {
            *frame = dissolve.head_frame(out_last, frame, m);
        }
    }
    clips.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_rounds_and_is_at_least_one() -> MediaResult<()> {
        assert_eq!(frame_count(2.0, 24)?, 48);
        assert_eq!(frame_count(1.52, 25)?, 38);
        assert_eq!(frame_count(0.0, 24)?, 1);
        assert_eq!(frame_count(0.01, 24)?, 1);
        assert!(frame_count(-1.0, 24).is_err());
        assert!(frame_count(f64::NAN, 24).is_err());
        assert!(frame_count(1.0, 0).is_err());
        Ok(())
    }

    fn solid(n: usize, value: u8) -> Vec<RgbImage> {
        vec![RgbImage::from_pixel(8, 8, image::Rgb([value; 3])); n]
    }

    #[test]
    fn crossfade_join_keeps_the_total_frame_count() {
        for overlap in [0, 1, 2, 5, 12, 100] {
            let clips = vec![solid(10, 0), solid(3, 100), solid(1, 50), solid(24, 200)];
            let joined = crossfade_join(clips, overlap);
            assert_eq!(joined.len(), 38, "overlap {overlap}");
        }
        assert!(crossfade_join(Vec::new(), 6).is_empty());
        assert_eq!(crossfade_join(vec![Vec::new(), solid(4, 9), Vec::new()], 6).len(), 4);
    }

    #[test]
    fn crossfade_join_dissolves_monotonically_across_the_cut() {
        let joined = crossfade_join(vec![solid(10, 0), solid(10, 240)], 6);
        let values: Vec<u8> = joined.iter().map(|f| f.get_pixel(0, 0)[0]).collect();
        // Untouched before and after the six-frame dissolve centred on the cut (frames 7..13).
        assert!(values[..7].iter().all(|&v| v == 0), "{values:?}");
        assert!(values[13..].iter().all(|&v| v == 240), "{values:?}");
        assert!(values[7..13].windows(2).all(|w| w[0] < w[1]), "{values:?}");
        assert!(values[7] > 0 && values[12] < 240, "{values:?}");
        // The dissolve's midpoint sits on the cut.
        assert!(values[9] < 120 && values[10] > 120, "{values:?}");
    }

    #[test]
    fn each_cut_has_its_own_transition() {
        let clips = vec![solid(10, 100), solid(10, 200), solid(10, 50), solid(10, 150)];
        let pink = [255, 105, 180];
        let cuts = [
            Cut::Hard,
            Cut::Fade {
                frames: 8,
                colour: pink,
            },
            Cut::Dissolve { frames: 4 },
        ];
        let joined = transitions_join(clips, &cuts);
        assert_eq!(joined.len(), 40);
        let px = |i: usize| joined[i].get_pixel(0, 0).0;
        // A hard cut: 100 then 200, untouched.
        assert_eq!((px(9)[0], px(10)[0]), (100, 200));
        // The fade reaches pink on the outgoing clip's last frame and comes back from it.
        assert_eq!(px(19), pink);
        assert!(px(15)[0] == 200 && px(16)[1] < 200, "{:?}", px(16));
        assert!(px(20) != pink && px(20)[1] < 105 && px(20)[1] > 50, "{:?}", px(20));
        assert_eq!(px(24), [50; 3]);
        // The dissolve blends the two clips' values.
        assert!(px(29)[0] > 50 && px(30)[0] < 150, "{:?} {:?}", px(29), px(30));
        // A fade needs no frames of one size; a missing cut is hard.
        let small = vec![RgbImage::from_pixel(4, 4, image::Rgb([0; 3])); 4];
        let faded = transitions_join(vec![small, solid(4, 200)], &cuts[1..2]);
        assert_eq!(faded[3].get_pixel(0, 0).0, pink);
        let hard = transitions_join(vec![solid(4, 0), solid(4, 200)], &[]);
        assert_eq!(hard[4].get_pixel(0, 0)[0], 200);
    }

    #[test]
    fn crossfade_join_cuts_between_different_sizes() {
        let small = vec![RgbImage::from_pixel(4, 4, image::Rgb([0; 3])); 5];
        let joined = crossfade_join(vec![small, solid(5, 200)], 4);
        assert_eq!(joined.len(), 10);
        assert_eq!(joined[4].get_pixel(0, 0)[0], 0);
        assert_eq!(joined[5].get_pixel(0, 0)[0], 200);
    }
}
