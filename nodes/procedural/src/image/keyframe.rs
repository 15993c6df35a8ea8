//! Keyframe composition: where each character of a shot stands and how large, the figures
//! keyed off their backdrop and composed over the scene, the camera's framing and the grade.

use candle_core::{Result, Tensor};
use image::RgbImage;
use showrunner_story::model::{Angle, Camera, Character, Shot, ShotType};
use showrunner_story::rng::Rng;

use super::scene::unit;
use crate::raster::{Canvas, Fill, Rgb, Shape, blend, resample};

/// Where one cast member goes: the window of its portrait (portrait pixels) drawn into the box
/// `dest` of the frame (frame pixels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Placement {
    pub(super) member: usize,
    pub(super) window: (f32, f32, f32, f32),
    pub(super) dest: (f32, f32, f32, f32),
}

/// The figure in a portrait: its box (pixels unlike the corner colour) and its head's centre x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct FigureBox {
    pub(super) x0: f32,
    pub(super) y0: f32,
    pub(super) x1: f32,
    pub(super) y1: f32,
    pub(super) head_x: f32,
}

pub(super) fn figure_box(p: &RgbImage) -> FigureBox {
    let corner = p.get_pixel(0, 0).0;
    let differs = |x: u32, y: u32| {
        let q = p.get_pixel(x, y).0;
        (0..3)
            .map(|i| (i32::from(q[i]) - i32::from(corner[i])).pow(2))
            .sum::<i32>()
            > 650
    };
    let (w, h) = (p.width(), p.height());
    let rows: Vec<u32> = (0..h).filter(|&y| (0..w).step_by(2).any(|x| differs(x, y))).collect();
    let cols: Vec<u32> = (0..w).filter(|&x| (0..h).step_by(2).any(|y| differs(x, y))).collect();
    let (Some(&y0), Some(&y1), Some(&x0), Some(&x1)) = (rows.first(), rows.last(), cols.first(), cols.last()) else {
        return FigureBox {
            x0: 0.0,
            y0: 0.0,
            x1: w as f32,
            y1: h as f32,
            head_x: w as f32 / 2.0,
        };
    };
    let head_rows = y0..(y0 + (y1 - y0) / 8).max(y0 + 1);
    let (sum, n) = head_rows
        .flat_map(|y| (x0..=x1).map(move |x| (x, y)))
        .filter(|&(x, y)| differs(x, y))
        .fold((0u64, 0u64), |(s, n), (x, _)| (s + u64::from(x), n + 1));
    let head_x = if n == 0 {
        (x0 + x1) as f32 / 2.0
    } else {
        sum as f32 / n as f32 + 0.5
    };
    FigureBox {
        x0: x0 as f32,
        y0: y0 as f32,
        x1: x1 as f32 + 1.0,
        y1: y1 as f32 + 1.0,
        head_x,
    }
}

/// The cast members in the shot with a non-empty portrait, in the shot's order, each once.
pub(super) fn members(shot: &Shot, cast: &[(&Character, &RgbImage)]) -> Vec<usize> {
    let mut out = Vec::new();
    for id in &shot.character_ids {
        let found = cast
            .iter()
            .position(|(c, p)| &c.id == id && p.width() > 0 && p.height() > 0);
        if let Some(i) = found
            && !out.contains(&i)
        {
            out.push(i);
        }
    }
    out
}

/// Where each character of the shot goes, from the shot and the portraits alone (keyframes and
/// consistency scores both use it).
pub(super) fn placements(shot: &Shot, cast: &[(&Character, &RgbImage)], (w, h): (usize, usize)) -> Vec<Placement> {
    let members = members(shot, cast);
    let mut rng = Rng::derive(shot.seed, &shot.id);
    let frame = (w as f32, h as f32);
    let n = members.len();
    match shot.camera.shot_type {
        ShotType::CloseUp => members
            .first()
            .map(|&m| close_up(m, figure_box(cast[m].1), frame, &mut rng))
            .into_iter()
            .collect(),
        ShotType::Medium => members
            .iter()
            .enumerate()
            .map(|(k, &m)| medium(m, (k, n), cast[m].1, frame, &mut rng))
            .collect(),
        ShotType::Wide => members
            .iter()
            .enumerate()
            .map(|(k, &m)| wide(m, (k, n), cast[m].1, frame, &mut rng))
            .collect(),
    }
}

/// Small full figures spread across the frame, feet on the ground.
pub(super) fn wide(
    member: usize,
    (k, n): (usize, usize),
    portrait: &RgbImage,
    (w, h): (f32, f32),
    rng: &mut Rng,
) -> Placement {
    let fb = figure_box(portrait);
    let slot = w * 0.76 / n as f32;
    let cx = w * 0.12 + slot * (k as f32 + 0.5) + slot * 0.15 * (unit(rng) - 0.5);
    let mut scale = h * 0.46 / 336.0 * (0.94 + 0.1 * unit(rng));
    scale = scale.min(slot * 0.95 / (fb.x1 - fb.x0).max(1.0));
    let feet = h * (0.86 + 0.06 * unit(rng));
    let window = (fb.x0 - 4.0, fb.y0 - 4.0, fb.x1 + 4.0, fb.y1 + 4.0);
    let dest = (
        cx - (fb.head_x - window.0) * scale,
        feet - (fb.y1 - window.1) * scale,
        cx + (window.2 - fb.head_x) * scale,
        feet + 4.0 * scale,
    );
    Placement { member, window, dest }
}

/// Larger figures cut at the waist by the bottom of the frame.
pub(super) fn medium(
    member: usize,
    (k, n): (usize, usize),
    portrait: &RgbImage,
    (w, h): (f32, f32),
    rng: &mut Rng,
) -> Placement {
    let fb = figure_box(portrait);
    let tall = fb.y1 - fb.y0;
    let window = (0.0, fb.y0 - 0.12 * tall, portrait.width() as f32, fb.y0 + 0.56 * tall);
    let slot = w / n as f32;
    let cx = slot * (k as f32 + 0.5) + slot * 0.1 * (unit(rng) - 0.5);
    let scale = (h * 1.02 / (window.3 - window.1)).min(slot * 1.05 / (fb.x1 - fb.x0).max(1.0));
    let dest = (
        cx - fb.head_x * scale,
        h - (window.3 - window.1) * scale,
        cx + (window.2 - fb.head_x) * scale,
        h,
    );
    Placement { member, window, dest }
}

/// The head and shoulders filling the frame, a little off centre.
pub(super) fn close_up(member: usize, fb: FigureBox, (w, h): (f32, f32), rng: &mut Rng) -> Placement {
    let tall = fb.y1 - fb.y0;
    let (top, bottom) = (fb.y0 - 0.03 * tall, fb.y0 + 0.36 * tall);
    let half = (bottom - top) * w / h / 2.0;
    let window = (fb.head_x - half, top, fb.head_x + half, bottom);
    let shift = w * 0.08 * (unit(rng) - 0.5) * 2.0;
    Placement {
        member,
        window,
        dest: (shift, 0.0, w + shift, h),
    }
}

/// A placed figure's pixels clipped to the frame: its colours `[3, h, w]`, its opacity
/// `[1, h, w]` (the portrait's backdrop keyed out) and its corner in the frame; `None` when it
/// is off frame. Colours are resampled premultiplied, so no backdrop bleeds into the edges.
pub(super) fn figure_patch(
    portrait: &RgbImage,
    p: &Placement,
    (w, h): (usize, usize),
) -> Result<Option<(Tensor, Tensor, usize, usize)>> {
    let (dx0, dy0, dx1, dy1) = p.dest;
    let (wx0, wy0, wx1, wy1) = p.window;
    let ix0 = dx0.floor().max(0.0) as usize;
    let iy0 = dy0.floor().max(0.0) as usize;
    let ix1 = (dx1.ceil().max(0.0) as usize).min(w);
    let iy1 = (dy1.ceil().max(0.0) as usize).min(h);
    if ix1 <= ix0 || iy1 <= iy0 || dx1 <= dx0 || dy1 <= dy0 {
        return Ok(None);
    }
    let sx = |x: usize| wx0 + (x as f32 - dx0) * (wx1 - wx0) / (dx1 - dx0);
    let sy = |y: usize| wy0 + (y as f32 - dy0) * (wy1 - wy0) / (dy1 - dy0);
    let window = (sx(ix0), sy(iy0), sx(ix1), sy(iy1));
    let Some((crop, (cx, cy))) = crop_portrait(portrait, window)? else {
        return Ok(None);
    };
    let c = portrait.get_pixel(0, 0).0;
    let alpha = key(
        &crop,
        Rgb(
            f32::from(c[0]) / 255.0,
            f32::from(c[1]) / 255.0,
            f32::from(c[2]) / 255.0,
        ),
    )?;
    let local = (window.0 - cx, window.1 - cy, window.2 - cx, window.3 - cy);
    let (pw, ph) = (ix1 - ix0, iy1 - iy0);
    let colour = resample(&crop.broadcast_mul(&alpha)?, local, pw, ph)?;
    let colour = colour
        .broadcast_div(&resample(&alpha, local, pw, ph)?.clamp(1e-3f32, 1f32)?)?
        .clamp(0f32, 1f32)?;
    // A slightly softened edge: where only the softening reaches, the colour is black, which
    // reads as the figure's ink outline.
    let soft = alpha
        .pad_with_same(1, 1, 1)?
        .pad_with_same(2, 1, 1)?
        .unsqueeze(0)?
        .avg_pool2d_with_stride(3, 1)?
        .squeeze(0)?;
    let mask = resample(&soft, local, pw, ph)?;
    Ok(Some((colour, mask, ix0, iy0)))
}

/// The part of a portrait under `window` (with a small margin) as `[3, h, w]`, and its corner;
/// `None` when the window misses the portrait.
pub(super) fn crop_portrait(portrait: &RgbImage, window: (f32, f32, f32, f32)) -> Result<Option<(Tensor, (f32, f32))>> {
    let (pw, ph) = (portrait.width() as f32, portrait.height() as f32);
    let x0 = (window.0.floor() - 2.0).clamp(0.0, pw) as usize;
    let x1 = (window.2.ceil() + 2.0).clamp(0.0, pw) as usize;
    let y0 = (window.1.floor() - 2.0).clamp(0.0, ph) as usize;
    let y1 = (window.3.ceil() + 2.0).clamp(0.0, ph) as usize;
    if x1 <= x0 || y1 <= y0 {
        return Ok(None);
    }
    let source = Canvas::from_image(portrait)?;
    let crop = source.with_tensor(|t| t.narrow(1, y0, y1 - y0)?.narrow(2, x0, x1 - x0)?.contiguous())?;
    Ok(Some((crop, (x0 as f32, y0 as f32))))
}

/// The opacity `[1, h, w]` of what is not `backdrop`, eroded by a pixel to drop the
/// anti-aliased rim where the backdrop shows through.
pub(super) fn key(image: &Tensor, backdrop: Rgb) -> Result<Tensor> {
    let distance = image
        .broadcast_sub(&backdrop.tensor()?)?
        .sqr()?
        .sum_keepdim(0)?
        .sqrt()?;
    let alpha = distance.affine(1.0 / 0.06, -0.04 / 0.06)?.clamp(0f32, 1f32)?;
    let padded = alpha
        .neg()?
        .pad_with_same(1, 1, 1)?
        .pad_with_same(2, 1, 1)?
        .unsqueeze(0)?;
    padded.max_pool2d_with_stride(3, 1)?.squeeze(0)?.neg()
}

pub(super) fn render_keyframe(
    shot: &Shot,
    background: &RgbImage,
    cast: &[(&Character, &RgbImage)],
    (w, h): (usize, usize),
    seed: u64,
) -> Result<RgbImage> {
    let window = framing(
        (background.width() as f32, background.height() as f32),
        (w as f32, h as f32),
        &shot.camera,
    );
    let bg = Canvas::from_image(background)?;
    let mut c = Canvas::owning(bg.with_tensor(|t| resample(t, window, w, h))?)?;
    for p in placements(shot, cast, (w, h)) {
        let portrait = cast[p.member].1;
        if shot.camera.shot_type == ShotType::Wide {
            let (x0, _, x1, y1) = p.dest;
            let shadow = Shape::ellipse(
                (x0 + x1) / 2.0,
                y1 - (y1 - p.dest.1) * 0.03,
                (x1 - x0) * 0.32,
                (x1 - x0) * 0.06,
            );
            c.paint(&shadow, 0.0, 0.3, &Fill::Solid(Rgb(0.05, 0.05, 0.08)))?;
        }
        if let Some((patch, mask, x0, y0)) = figure_patch(portrait, &p, (w, h))? {
            c.composite_at(&patch, &mask, x0, y0)?;
        }
    }
    grade(&mut c, shot.camera.angle, seed)?;
    c.to_image()
}

/// The window of the background a shot sees: the whole scene for a wide shot, closer for
/// tighter shots; a low camera sees more sky, a high one more ground.
pub(super) fn framing((bw, bh): (f32, f32), (w, h): (f32, f32), camera: &Camera) -> (f32, f32, f32, f32) {
    let zoom = match camera.shot_type {
        ShotType::Wide => 1.06,
        ShotType::Medium => 1.3,
        ShotType::CloseUp => 1.7,
    };
    let (cw, ch) = if bw / bh > w / h {
        (bh * w / h, bh)
    } else {
        (bw, bw * h / w)
    };
    let (cw, ch) = (cw / zoom, ch / zoom);
    let tilt = match camera.angle {
        Angle::EyeLevel => 0.0,
        Angle::Low => -0.85,
        Angle::High => 0.85,
    };
    let x0 = (bw - cw) / 2.0;
    let y0 = (bh - ch) / 2.0 * (1.0 + tilt);
    (x0, y0, x0 + cw, y0 + ch)
}

/// A slight vignette and tint by the camera's angle, and a light falling from one side (by the
/// seed).
pub(super) fn grade(c: &mut Canvas, angle: Angle, seed: u64) -> Result<()> {
    let (w, h) = (c.width() as f64, c.height() as f64);
    let r2 = c
        .xs()
        .affine(2.0 / w, -1.0)?
        .sqr()?
        .broadcast_add(&c.ys().affine(2.0 / h, -1.0)?.sqr()?)?;
    let (strength, tint, ramp) = match angle {
        Angle::EyeLevel => (0.1, Rgb(1.0, 1.0, 1.0), c.row_ramp(0.0, h as f32)?),
        Angle::Low => (0.18, Rgb(0.9, 0.93, 1.02), c.row_ramp(h as f32, 0.0)?),
        Angle::High => (0.1, Rgb(1.05, 1.01, 0.92), c.row_ramp(0.0, h as f32)?),
    };
    let vignette = r2.affine(-strength / 2.0, 1.0)?;
    let tinted = blend(&Rgb(1.0, 1.0, 1.0).tensor()?, &tint.tensor()?, &ramp)?;
    let side = if seed.is_multiple_of(2) { 0.05 } else { -0.05 };
    let light = c.column_ramp(0.0, w as f32)?.affine(side, 1.0 - side / 2.0)?;
    let factor = vignette.broadcast_mul(&tinted)?.broadcast_mul(&light)?;
    c.multiply(&factor)
}
