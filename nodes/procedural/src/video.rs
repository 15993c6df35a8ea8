//! The `procedural` video model: animates a keyframe by its shot's camera movement with a
//! moving crop window and bilinear sampling.
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

use showrunner_backend::{BackendError, BackendResult, VideoModel};
use showrunner_media::MediaError;
use showrunner_media::video::{check_format, ease, frame_count};
use showrunner_story::model::{Generator, Movement, Settings, Shot};

/// The zoom of the window while panning: the keyframe is upscaled by this much so the window
/// has room to slide.
const PAN_ZOOM: f64 = 1.15;
/// The zoom a zoom-in ends at (and a zoom-out starts at).
const MAX_ZOOM: f64 = 1.3;
/// The peak of the static shot's breathing zoom.
const BREATH: f64 = 0.02;

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
        check_format(width, height, settings.fps).map_err(media_error)?;
        if keyframe.width() == 0 || keyframe.height() == 0 {
            return Err(BackendError::Invalid("the keyframe is empty".into()));
        }
        let frames = frame_count(shot.duration_s, settings.fps).map_err(media_error)?;
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

/// A media failure as the backend's: bad input stays bad input.
fn media_error(e: MediaError) -> BackendError {
    match e {
        MediaError::Invalid(message) => BackendError::Invalid(message),
        MediaError::Failed(message) => BackendError::Failed(message),
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

#[cfg(test)]
mod tests {
    use super::*;
    use showrunner_story::fixtures;
    use showrunner_story::model::{Angle, Camera, ShotType};

    fn shot(movement: Movement, duration_s: f64) -> Shot {
        Shot {
            scene_id: "sc1".into(),
            camera: Camera {
                shot_type: ShotType::Wide,
                angle: Angle::EyeLevel,
                movement,
            },
            duration_s,
            seed: 7,
            transition: None,
            generated_by: ProceduralVideo.generator(7),
            ..fixtures::shot("s1")
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

    #[test]
    fn a_procedural_clip_round_trips_with_its_shot_duration() -> Result<(), Box<dyn std::error::Error>> {
        let settings = Settings {
            width: 160,
            height: 90,
            fps: 24,
            ..Settings::default()
        };
        let key = keyframe(160, 90);
        let shot = Shot {
            scene_id: "sc1".into(),
            camera: Camera {
                shot_type: ShotType::Medium,
                angle: Angle::Low,
                movement: Movement::PanRight,
            },
            duration_s: 1.25,
            transition: None,
            generated_by: ProceduralVideo.generator(1),
            ..fixtures::shot("s1")
        };
        let frames = ProceduralVideo.clip(&key, &shot, &settings)?;
        let (mp4, annex_b) = showrunner_media::video::encode_clip(&frames, settings.fps)?;
        let info = showrunner_media::video::mp4_info(&mp4)?;
        assert_eq!(info.frames, 30);
        assert!((info.duration_s - 1.25).abs() < 1.0 / 24.0);
        assert_eq!(showrunner_media::video::decode_stream(&annex_b)?.len(), 30);
        Ok(())
    }
}
