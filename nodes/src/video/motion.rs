//! The `procedural` video model: animates a keyframe by its shot's camera movement with a
//! moving crop window and bilinear sampling, and joins clips with dissolves that keep the
//! total length.
//!
//! The keyframe is first fitted to the output's aspect ratio ("cover": centred, cropping the
//! longer side). The camera is a window inside that fitted area, given by its centre and a zoom
//! (window side = fitted side / zoom), eased with smoothstep so every move starts and ends at
//! rest:
//!
//! | movement | window |
//! |---|---|
//! | static | centred; a slight breathing zoom, 1 → 1.02 → 1 |
//! | pan left / right | zoom 1.15; the window slides from one edge to the other |
//! | zoom in / out | centred; zoom 1 → 1.3 / 1.3 → 1 |

use image::RgbImage;
use image::imageops::{self, FilterType};

use super::encode::check_format;
use crate::backend::{BackendError, BackendResult, VideoModel};
use crate::model::{Generator, Movement, Settings, Shot};

/// The zoom of the window while panning: the keyframe is upscaled by this much so the window
/// has room to slide.
const PAN_ZOOM: f64 = 1.15;
/// The zoom a zoom-in ends at (and a zoom-out starts at).
const MAX_ZOOM: f64 = 1.3;
/// The peak of the static shot's breathing zoom.
const BREATH: f64 = 0.02;

/// The number of frames of a `duration_s` shot at `fps`: `round(duration_s × fps)`, at least 1.
///
/// # Errors
///
/// [`BackendError::Invalid`] when the duration is negative or not finite, or `fps` is 0.
pub fn frame_count(duration_s: f64, fps: u32) -> BackendResult<u32> {
    if !duration_s.is_finite() || duration_s < 0.0 {
        return Err(BackendError::Invalid(format!(
            "shot duration {duration_s} s is not a length"
        )));
    }
    if fps == 0 {
        return Err(BackendError::Invalid("frame rate 0".into()));
    }
    let frames = (duration_s * f64::from(fps)).round();
    if frames > f64::from(u32::MAX) {
        return Err(BackendError::Invalid(format!(
            "shot duration {duration_s} s is too long"
        )));
    }
    Ok((frames as u32).max(1))
}

/// The embedded video model: no weights; deterministic (the same keyframe, shot and settings
/// give the same frames).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProceduralVideo;

impl VideoModel for ProceduralVideo {
    fn generator(&self, seed: u64) -> Generator {
        Generator {
            backend: "procedural".into(),
            model: "procedural-video-1".into(),
            seed,
        }
    }

    fn clip(&self, keyframe: &RgbImage, shot: &Shot, settings: &Settings) -> BackendResult<Vec<RgbImage>> {
        let (width, height) = (settings.width, settings.height);
        check_format(width, height, settings.fps)?;
        if keyframe.width() == 0 || keyframe.height() == 0 {
            return Err(BackendError::Invalid("the keyframe is empty".into()));
        }
        let frames = frame_count(shot.duration_s, settings.fps)?;
        let source = prefilter(keyframe, width, height);
        let fitted = cover(source.width(), source.height(), width, height);
        let mut sampler = Sampler::new(width, height);
        Ok((0..frames)
            .map(|i| {
                let t = if frames > 1 {
                    f64::from(i) / f64::from(frames - 1)
                } else {
                    0.0
                };
                let (cx, cy, zoom) = camera(shot.camera.movement, t);
                let w = fitted.w / zoom;
                let h = fitted.h / zoom;
                let x0 = fitted.x + cx * fitted.w - w / 2.0;
                let y0 = fitted.y + cy * fitted.h - h / 2.0;
                sampler.sample(&source, Rect { x: x0, y: y0, w, h })
            })
            .collect())
    }
}

/// A rectangle in source pixels.
#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

/// The centred part of a `sw`×`sh` source with the aspect ratio of `dw`×`dh`.
fn cover(sw: u32, sh: u32, dw: u32, dh: u32) -> Rect {
    let (sw, sh, dw, dh) = (f64::from(sw), f64::from(sh), f64::from(dw), f64::from(dh));
    if sw * dh > sh * dw {
        let w = sh * dw / dh;
        Rect {
            x: (sw - w) / 2.0,
            y: 0.0,
            w,
            h: sh,
        }
    } else {
        let h = sw * dh / dw;
        Rect {
            x: 0.0,
            y: (sh - h) / 2.0,
            w: sw,
            h,
        }
    }
}

/// Shrinks a keyframe much larger than the output first (bilinear sampling alone would alias),
/// so that its fitted area is about the output size at the largest zoom.
fn prefilter(keyframe: &RgbImage, width: u32, height: u32) -> std::borrow::Cow<'_, RgbImage> {
    let fitted = cover(keyframe.width(), keyframe.height(), width, height);
    let scale = fitted.w / (f64::from(width) * MAX_ZOOM);
    if scale <= 1.5 {
        return std::borrow::Cow::Borrowed(keyframe);
    }
    let w = ((f64::from(keyframe.width()) / scale).round() as u32).max(1);
    let h = ((f64::from(keyframe.height()) / scale).round() as u32).max(1);
    std::borrow::Cow::Owned(imageops::resize(keyframe, w, h, FilterType::Triangle))
}

/// Smoothstep: eases in and out.
fn ease(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The camera at time `t` in `[0, 1]`: the window's centre (as fractions of the fitted area)
/// and its zoom.
fn camera(movement: Movement, t: f64) -> (f64, f64, f64) {
    let e = ease(t);
    let half = 0.5 / PAN_ZOOM;
    match movement {
        Movement::Static => (0.5, 0.5, 1.0 + BREATH * (1.0 - (std::f64::consts::TAU * t).cos()) / 2.0),
        Movement::PanRight => (half + e * (1.0 - 2.0 * half), 0.5, PAN_ZOOM),
        Movement::PanLeft => (1.0 - half - e * (1.0 - 2.0 * half), 0.5, PAN_ZOOM),
        Movement::ZoomIn => (0.5, 0.5, 1.0 + (MAX_ZOOM - 1.0) * e),
        Movement::ZoomOut => (0.5, 0.5, MAX_ZOOM - (MAX_ZOOM - 1.0) * e),
    }
}

/// Bilinear resampling of a window of a source image into a fixed-size output, with per-row and
/// per-column tables and 8-bit fixed-point weights.
struct Sampler {
    width: u32,
    height: u32,
    /// Per output column: left source column, right source column, weight of the right one.
    cols: Vec<(usize, usize, u32)>,
    /// Per output row: upper source row, lower source row, weight of the lower one.
    rows: Vec<(usize, usize, u32)>,
}

/// One axis of the tables: `n` output samples across `[start, start + len)` of a source of
/// `size` pixels, clamped to the edge.
fn axis(table: &mut Vec<(usize, usize, u32)>, n: u32, start: f64, len: f64, size: u32) {
    table.clear();
    let last = f64::from(size - 1);
    let step = len / f64::from(n);
    for i in 0..n {
        let s = (start + (f64::from(i) + 0.5) * step - 0.5).clamp(0.0, last);
        let lo = s.floor();
        let frac = ((s - lo) * 256.0).round() as u32;
        let lo = lo as usize;
        let hi = (lo + 1).min(size as usize - 1);
        table.push((lo, hi, frac.min(256)));
    }
}

impl Sampler {
    fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            cols: Vec::with_capacity(width as usize),
            rows: Vec::with_capacity(height as usize),
        }
    }

    fn sample(&mut self, source: &RgbImage, window: Rect) -> RgbImage {
        axis(&mut self.cols, self.width, window.x, window.w, source.width());
        axis(&mut self.rows, self.height, window.y, window.h, source.height());
        let src = source.as_raw();
        let stride = source.width() as usize * 3;
        let mut out = vec![0u8; self.width as usize * self.height as usize * 3];
        for (row_out, &(y0, y1, fy)) in out.chunks_exact_mut(self.width as usize * 3).zip(&self.rows) {
            let upper = &src[y0 * stride..(y0 + 1) * stride];
            let lower = &src[y1 * stride..(y1 + 1) * stride];
            for (px, &(x0, x1, fx)) in row_out.chunks_exact_mut(3).zip(&self.cols) {
                for c in 0..3 {
                    let top = u32::from(upper[x0 * 3 + c]) * (256 - fx) + u32::from(upper[x1 * 3 + c]) * fx;
                    let bottom = u32::from(lower[x0 * 3 + c]) * (256 - fx) + u32::from(lower[x1 * 3 + c]) * fx;
                    px[c] = ((top * (256 - fy) + bottom * fy + (1 << 15)) >> 16) as u8;
                }
            }
        }
        RgbImage::from_raw(self.width, self.height, out).unwrap_or_else(|| RgbImage::new(self.width, self.height))
    }
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

/// The dissolve at one cut: how many of the outgoing clip's last frames (`tail`) and of the
/// incoming clip's first frames (`head`) it takes, and how much of the other clip each gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Dissolve {
    pub(crate) tail: usize,
    pub(crate) head: usize,
}

impl Dissolve {
    /// The dissolve of `overlap` frames centred on a cut from a clip of `outgoing` frames to one
    /// of `incoming` frames (none when the frames at the cut differ in size).
    pub(crate) fn at_cut(overlap: u32, outgoing: usize, incoming: usize, same_size: bool) -> Self {
        let k = overlap as usize;
        if k == 0 || !same_size {
            return Self::default();
        }
        Self {
            tail: (k - k / 2).min(outgoing / 2),
            head: (k / 2).min(incoming / 2),
        }
    }

    fn span(self) -> f64 {
        (self.tail + self.head) as f64 + 1.0
    }

    /// How much of the incoming clip's first frame the `m`-th of the outgoing clip's last
    /// `tail` frames gets.
    pub(crate) fn tail_alpha(self, m: usize) -> f64 {
        ease((m as f64 + 1.0) / self.span())
    }

    /// How much of its own the incoming clip's `m`-th frame (of its first `head`) keeps over the
    /// outgoing clip's last frame.
    pub(crate) fn head_alpha(self, m: usize) -> f64 {
        ease(((self.tail + m) as f64 + 1.0) / self.span())
    }
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
/// the k frames. Because every move in [`ProceduralVideo`] starts and ends at rest, the held end
/// frame sits well under the moving one. A clip gives at most half its frames to each of its two
/// dissolves, so dissolves never overlap; a dissolve between frames of different sizes becomes a
/// plain cut, as does `overlap_frames` 0. Empty clips are skipped.
///
/// [`join_streams`](super::join::join_streams) does the same from the clips' H.264 streams
/// without holding every frame in memory.
pub fn crossfade_join(clips: Vec<Vec<RgbImage>>, overlap_frames: u32) -> Vec<RgbImage> {
    let mut clips: Vec<Vec<RgbImage>> = clips.into_iter().filter(|c| !c.is_empty()).collect();
    // The untouched boundary frames: each clip's first and last, before any dissolve changes them.
    let ends: Vec<(RgbImage, RgbImage)> = clips
        .iter()
        .filter_map(|c| Some((c.first()?.clone(), c.last()?.clone())))
        .collect();
    for i in 1..clips.len() {
        let (out_last, in_first) = (&ends[i - 1].1, &ends[i].0);
        let same_size = out_last.dimensions() == in_first.dimensions();
        let dissolve = Dissolve::at_cut(overlap_frames, clips[i - 1].len(), clips[i].len(), same_size);
        let outgoing = clips[i - 1].len();
        for (m, frame) in clips[i - 1][outgoing - dissolve.tail..].iter_mut().enumerate() {
            *frame = blend(frame, in_first, dissolve.tail_alpha(m));
        }
        for (m, frame) in clips[i][..dissolve.head].iter_mut().enumerate() {
            *frame = blend(out_last, frame, dissolve.head_alpha(m));
        }
    }
    clips.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Angle, Camera, ShotType};

    fn shot(movement: Movement, duration_s: f64) -> Shot {
        Shot {
            id: "s1".into(),
            scene_id: "sc1".into(),
            camera: Camera {
                shot_type: ShotType::Wide,
                angle: Angle::EyeLevel,
                movement,
            },
            duration_s,
            visual_desc: String::new(),
            dialogue: Vec::new(),
            first_frame_desc: String::new(),
            last_frame_desc: None,
            motion_desc: String::new(),
            character_ids: Vec::new(),
            seed: 7,
            generated_by: ProceduralVideo.generator(7),
        }
    }

    fn settings(width: u32, height: u32, fps: u32) -> Settings {
        Settings {
            width,
            height,
            fps,
            ..Settings::default()
        }
    }

    /// A textured keyframe: gradients with a checker, so any motion shows.
    fn keyframe(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            let check = if (x / 16 + y / 16) % 2 == 0 { 40 } else { 0 };
            image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 100 + check])
        })
    }

    fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
        let sum: u64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(&p, &q)| u64::from(p.abs_diff(q)))
            .sum();
        sum as f64 / a.as_raw().len() as f64
    }

    #[test]
    fn frame_count_rounds_and_is_at_least_one() -> BackendResult<()> {
        assert_eq!(frame_count(2.0, 24)?, 48);
        assert_eq!(frame_count(1.52, 25)?, 38);
        assert_eq!(frame_count(0.0, 24)?, 1);
        assert_eq!(frame_count(0.01, 24)?, 1);
        assert!(frame_count(-1.0, 24).is_err());
        assert!(frame_count(f64::NAN, 24).is_err());
        assert!(frame_count(1.0, 0).is_err());
        Ok(())
    }

    #[test]
    fn every_movement_gives_the_right_frames_and_moves() -> BackendResult<()> {
        let key = keyframe(160, 90);
        let settings = settings(160, 90, 24);
        for movement in [
            Movement::Static,
            Movement::PanLeft,
            Movement::PanRight,
            Movement::ZoomIn,
            Movement::ZoomOut,
        ] {
            let frames = ProceduralVideo.clip(&key, &shot(movement, 1.5), &settings)?;
            assert_eq!(frames.len(), 36, "{movement:?}");
            assert!(frames.iter().all(|f| f.dimensions() == (160, 90)), "{movement:?}");
            let ends = mean_abs_diff(&frames[0], &frames[35]);
            if movement == Movement::Static {
                // Breathes in and back out: the ends match, the middle is slightly closer.
                assert!(ends < 0.5, "{movement:?}: {ends}");
                assert!(mean_abs_diff(&frames[0], &frames[18]) > 0.5);
            } else {
                assert!(ends > 5.0, "{movement:?}: first and last frames differ by only {ends}");
            }
        }
        Ok(())
    }

    #[test]
    fn pans_and_zooms_go_the_right_way() -> BackendResult<()> {
        // A keyframe whose red grows left to right, green top to bottom.
        let key = keyframe(320, 180);
        let settings = settings(160, 90, 10);
        let red = |f: &RgbImage| f.pixels().map(|p| f64::from(p[0])).sum::<f64>() / f64::from(f.width() * f.height());
        let right = ProceduralVideo.clip(&key, &shot(Movement::PanRight, 1.0), &settings)?;
        assert!(
            red(&right[9]) > red(&right[0]) + 10.0,
            "pan right shows more of the right"
        );
        let left = ProceduralVideo.clip(&key, &shot(Movement::PanLeft, 1.0), &settings)?;
        assert!(red(&left[9]) + 10.0 < red(&left[0]), "pan left shows more of the left");
        // Zoom in: the last frame's corners are closer to the centre colour.
        let zoom = ProceduralVideo.clip(&key, &shot(Movement::ZoomIn, 1.0), &settings)?;
        let corner = |f: &RgbImage| f64::from(f.get_pixel(0, 0)[0]);
        assert!(corner(&zoom[9]) > corner(&zoom[0]) + 10.0);
        let out = ProceduralVideo.clip(&key, &shot(Movement::ZoomOut, 1.0), &settings)?;
        assert!(
            mean_abs_diff(&out[9], &zoom[0]) < 1.0,
            "zoom out ends where zoom in starts"
        );
        Ok(())
    }

    #[test]
    fn clips_are_deterministic_and_fit_any_keyframe() -> BackendResult<()> {
        let settings = settings(64, 36, 12);
        let s = shot(Movement::ZoomIn, 1.0);
        for key in [keyframe(64, 36), keyframe(50, 80), keyframe(1000, 400), keyframe(1, 1)] {
            let a = ProceduralVideo.clip(&key, &s, &settings)?;
            let b = ProceduralVideo.clip(&key, &s, &settings)?;
            assert_eq!(a, b);
            assert_eq!(a.len(), 12);
            assert!(a.iter().all(|f| f.dimensions() == (64, 36)));
        }
        Ok(())
    }

    #[test]
    fn a_still_keyframe_at_the_output_size_comes_back_unchanged_at_the_start() -> BackendResult<()> {
        let key = keyframe(64, 36);
        let frames = ProceduralVideo.clip(&key, &shot(Movement::ZoomIn, 1.0), &settings(64, 36, 12))?;
        assert_eq!(frames[0], key);
        Ok(())
    }

    #[test]
    fn bad_requests_are_refused() {
        let key = keyframe(64, 36);
        let s = shot(Movement::Static, 1.0);
        assert!(matches!(
            ProceduralVideo.clip(&key, &s, &settings(65, 36, 24)),
            Err(BackendError::Invalid(_))
        ));
        assert!(matches!(
            ProceduralVideo.clip(&key, &s, &settings(64, 36, 0)),
            Err(BackendError::Invalid(_))
        ));
        assert!(matches!(
            ProceduralVideo.clip(&RgbImage::new(0, 0), &s, &settings(64, 36, 24)),
            Err(BackendError::Invalid(_))
        ));
        assert!(matches!(
            ProceduralVideo.clip(&key, &shot(Movement::Static, -2.0), &settings(64, 36, 24)),
            Err(BackendError::Invalid(_))
        ));
    }

    #[test]
    fn generator_names_the_procedural_model() {
        let g = ProceduralVideo.generator(42);
        assert_eq!(
            (g.backend.as_str(), g.model.as_str(), g.seed),
            ("procedural", "procedural-video-1", 42)
        );
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
    fn crossfade_join_cuts_between_different_sizes() {
        let small = vec![RgbImage::from_pixel(4, 4, image::Rgb([0; 3])); 5];
        let joined = crossfade_join(vec![small, solid(5, 200)], 4);
        assert_eq!(joined.len(), 10);
        assert_eq!(joined[4].get_pixel(0, 0)[0], 0);
        assert_eq!(joined[5].get_pixel(0, 0)[0], 200);
    }
}
