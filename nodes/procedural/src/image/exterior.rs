//! Exteriors: sky, sun or moon, clouds, sea, beach, harbour, city, street, woods, open land.

use candle_core::{Result, Tensor};
use showrunner_story::rng::{Rng, hash_str};

use super::INK;
use super::scene::{Place, Stage, Time, lit, unit};
use crate::raster::{Canvas, Fill, Rgb, Shape, blend};

pub(super) fn exterior(place: Place, time: Time, (w, h): (usize, usize), rng: &mut Rng) -> Result<Canvas> {
    let s = Stage {
        w: w as f32,
        h: h as f32,
        horizon: h as f32 * (0.55 + 0.1 * unit(rng)),
        time,
    };
    let mut c = sky(&s, (w, h))?;
    let sun_x = celestial(&mut c, &s, rng)?;
    clouds(&mut c, &s, rng)?;
    match place {
        Place::Water { beach, harbour } => water(&mut c, &s, (beach, harbour), sun_x, rng)?,
        Place::City => city(&mut c, &s, rng)?,
        Place::Woods { dense } => woods(&mut c, &s, dense, rng)?,
        _ => open(&mut c, &s, matches!(place, Place::Open { sandy: true }), rng)?,
    }
    Ok(c)
}

pub(super) fn sky(s: &Stage, (w, h): (usize, usize)) -> Result<Canvas> {
    let (top, bottom) = s.time.sky();
    let mut c = Canvas::filled(w, h, top)?;
    let gradient = c.rows_gradient(0.0, s.horizon, top, bottom)?;
    c.set(&gradient.broadcast_as((3, h, w))?)?;
    if s.time == Time::Night {
        stars(&mut c, s, w, h)?;
    }
    Ok(c)
}

pub(super) fn stars(c: &mut Canvas, s: &Stage, w: usize, h: usize) -> Result<()> {
    let mut rng = Rng::new(hash_str("stars") ^ (w as u64) << 20 ^ h as u64);
    let mut field = vec![0f32; w * h];
    for _ in 0..(w * h / 700) {
        let (x, y) = (
            rng.below(w),
            (unit(&mut rng) * unit(&mut rng) * s.horizon * 0.9) as usize,
        );
        field[y.min(h - 1) * w + x] = 0.4 + 0.6 * unit(&mut rng);
    }
    let mask = Tensor::from_vec(field, (1, h, w), &candle_core::Device::Cpu)?;
    c.composite(&Rgb(1.0, 1.0, 0.92).tensor()?, &mask)
}

/// The sun or moon; returns its x, for reflections.
pub(super) fn celestial(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<f32> {
    let x = s.w * (0.15 + 0.7 * unit(rng));
    let (y, r, colour, glow) = match s.time {
        Time::Day => (
            s.horizon * (0.18 + 0.15 * unit(rng)),
            s.h * 0.05,
            Rgb(1.0, 0.98, 0.86),
            Rgb(1.0, 0.97, 0.85),
        ),
        Time::Night => (
            s.horizon * (0.15 + 0.2 * unit(rng)),
            s.h * 0.045,
            Rgb(0.96, 0.95, 0.86),
            Rgb(0.7, 0.75, 0.9),
        ),
        Time::Dusk => (
            s.horizon - s.h * 0.02,
            s.h * 0.08,
            Rgb(1.0, 0.55, 0.25),
            Rgb(1.0, 0.6, 0.3),
        ),
        Time::Dawn => (
            s.horizon - s.h * 0.04,
            s.h * 0.06,
            Rgb(1.0, 0.92, 0.72),
            Rgb(1.0, 0.75, 0.7),
        ),
        Time::Other(_) => return Ok(x),
    };
    c.soft(&Shape::circle(x, y, r * 4.5), r * 4.5, 0.55, &Fill::Solid(glow))?;
    let disc = Shape::circle(x, y, r);
    let disc = if s.time == Time::Night {
        disc.minus(Shape::circle(x + 0.45 * r, y - 0.2 * r, r * 0.85))
    } else {
        disc
    };
    c.fill(&disc, colour)?;
    Ok(x)
}

pub(super) fn clouds(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let colour = match s.time {
        Time::Night => return Ok(()),
        Time::Dusk => Rgb(0.95, 0.66, 0.6),
        Time::Dawn => Rgb(1.0, 0.9, 0.88),
        _ => Rgb(0.98, 0.98, 0.99),
    };
    for _ in 0..2 + rng.below(4) {
        let (x, y, r) = (
            s.w * unit(rng),
            s.horizon * (0.1 + 0.45 * unit(rng)),
            s.h * (0.035 + 0.035 * unit(rng)),
        );
        let puff = Shape::Union(vec![
            Shape::ellipse(x, y, 2.2 * r, r),
            Shape::ellipse(x - 1.4 * r, y + 0.3 * r, 1.4 * r, 0.75 * r),
            Shape::ellipse(x + 1.5 * r, y + 0.2 * r, 1.6 * r, 0.8 * r),
            Shape::ellipse(x + 0.3 * r, y - 0.55 * r, 1.3 * r, 0.9 * r),
        ]);
        c.paint(&puff, 0.0, 0.85, &Fill::Solid(colour))?;
    }
    Ok(())
}

/// Fills everything below `y0` with a vertical gradient.
pub(super) fn ground(c: &mut Canvas, s: &Stage, y0: f32, far: Rgb, near: Rgb) -> Result<()> {
    let gradient = c.rows_gradient(y0, s.h, far, near)?;
    c.paint(
        &Shape::rect(-1.0, y0, s.w + 1.0, s.h + 1.0),
        0.0,
        1.0,
        &Fill::Image(&gradient),
    )
}

pub(super) fn water(
    c: &mut Canvas,
    s: &Stage,
    (beach, harbour): (bool, bool),
    sun_x: f32,
    rng: &mut Rng,
) -> Result<()> {
    let light = s.time.light();
    let far = s.time.sky().1.mix(lit(Rgb(0.2, 0.45, 0.6), light), 0.55);
    ground(c, s, s.horizon, far, lit(Rgb(0.06, 0.24, 0.4), light))?;
    waves(c, s, rng)?;
    let depth = s.h - s.horizon;
    let shine = Shape::ellipse(sun_x, s.horizon + depth * 0.3, s.w * 0.04, depth * 0.3);
    c.soft(
        &shine,
        s.w * 0.04,
        0.35,
        &Fill::Solid(s.time.sky().1.mix(Rgb(1.0, 1.0, 0.9), 0.5)),
    )?;
    for _ in 0..1 + rng.below(2) {
        boat(c, s, rng)?;
    }
    if beach {
        sand(c, s, rng)?;
    }
    if harbour {
        quay(c, s, rng)?;
    }
    Ok(())
}

/// Light wave crests on the water, spaced wider towards the viewer.
pub(super) fn waves(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let k = std::f64::consts::TAU / f64::from(s.w / (10.0 + 8.0 * unit(rng)));
    let rows = c
        .ys()
        .affine(1.0, -f64::from(s.horizon))?
        .relu()?
        .sqrt()?
        .affine(1.6, 0.0)?
        .sin()?;
    let jitter = c
        .ys()
        .affine(0.37, f64::from(unit(rng)) * 6.0)?
        .sin()?
        .affine(9.0, 0.0)?;
    let cols = c.xs().affine(k, 0.0)?.broadcast_add(&jitter)?.sin()?;
    let crest = cols.broadcast_mul(&rows)?.affine(5.0, -3.0)?.clamp(0f32, 1f32)?;
    let below = c.row_ramp(s.horizon + 1.0, s.horizon + 4.0)?;
    let mask = crest.broadcast_mul(&below)?.affine(0.35, 0.0)?;
    c.composite(&lit(Rgb(0.85, 0.93, 1.0), s.time.light()).tensor()?, &mask)
}

pub(super) fn boat(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let depth = 0.15 + 0.35 * unit(rng);
    let (x, y) = (s.w * (0.1 + 0.8 * unit(rng)), s.horizon + (s.h - s.horizon) * depth);
    let k = s.h * 0.05 * (0.6 + depth);
    let light = s.time.light();
    let hull = Shape::Polygon(vec![
        (x - 2.0 * k, y),
        (x + 2.0 * k, y),
        (x + 1.5 * k, y + 0.7 * k),
        (x - 1.5 * k, y + 0.7 * k),
    ]);
    let hull_colour = *rng.pick(&[Rgb(0.7, 0.2, 0.15), Rgb(0.92, 0.92, 0.88), Rgb(0.2, 0.3, 0.55)]);
    c.paint(&hull, 1.0, 1.0, &Fill::Solid(INK))?;
    c.fill(&hull, lit(hull_colour, light))?;
    c.fill(
        &Shape::capsule((x, y), (x, y - 2.6 * k), 0.08 * k),
        lit(Rgb(0.35, 0.25, 0.15), light),
    )?;
    let sail = Shape::Polygon(vec![
        (x + 0.15 * k, y - 2.5 * k),
        (x + 0.15 * k, y - 0.3 * k),
        (x + 1.6 * k, y - 0.3 * k),
    ]);
    c.fill(&sail, lit(Rgb(0.96, 0.94, 0.88), light))
}

pub(super) fn sand(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let (mut yl, mut yr) = (s.h * (0.72 + 0.06 * unit(rng)), s.h * (0.82 + 0.08 * unit(rng)));
    if rng.below(2) == 0 {
        std::mem::swap(&mut yl, &mut yr);
    }
    let light = s.time.light();
    let shore = Shape::Polygon(vec![
        (-1.0, yl),
        (s.w + 1.0, yr),
        (s.w + 1.0, s.h + 1.0),
        (-1.0, s.h + 1.0),
    ]);
    let gradient = c.rows_gradient(
        yl.min(yr),
        s.h,
        lit(Rgb(0.86, 0.76, 0.55), light),
        lit(Rgb(0.95, 0.86, 0.64), light),
    )?;
    c.paint(&shore, 0.0, 1.0, &Fill::Image(&gradient))?;
    c.paint(
        &Shape::capsule((-1.0, yl), (s.w + 1.0, yr), s.h * 0.006),
        0.0,
        0.8,
        &Fill::Solid(lit(Rgb(1.0, 1.0, 1.0), light)),
    )
}

pub(super) fn quay(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    let top = s.h * (0.82 + 0.05 * unit(rng));
    let stone = lit(Rgb(0.52, 0.5, 0.47), light);
    c.fill(&Shape::rect(-1.0, top, s.w + 1.0, s.h + 1.0), stone)?;
    c.fill(&Shape::rect(-1.0, top, s.w + 1.0, top + s.h * 0.015), stone.scale(1.2))?;
    jetty(c, s, top, rng)?;
    for i in 0..3 {
        let x = s.w * (0.1 + 0.35 * i as f32) + s.w * 0.05 * unit(rng);
        c.fill(
            &Shape::round_rect(x, top - s.h * 0.03, x + s.h * 0.025, top + s.h * 0.01, s.h * 0.008),
            lit(Rgb(0.15, 0.15, 0.17), light),
        )?;
    }
    Ok(())
}

/// A wooden jetty running from one side out over the water.
pub(super) fn jetty(c: &mut Canvas, s: &Stage, quay: f32, rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    let deck = s.horizon + (quay - s.horizon) * (0.35 + 0.25 * unit(rng));
    let (x0, x1) = if rng.below(2) == 0 {
        (-1.0, s.w * 0.42)
    } else {
        (s.w * 0.58, s.w + 1.0)
    };
    let wood = lit(Rgb(0.45, 0.32, 0.2), light);
    let post = s.h * 0.008;
    let mut x = x0 + s.w * 0.03;
    while x < x1 {
        c.fill(
            &Shape::rect(x - post, deck, x + post, deck + s.h * 0.07),
            wood.scale(0.6),
        )?;
        x += s.w * 0.06;
    }
    c.fill(&Shape::rect(x0, deck - s.h * 0.012, x1, deck + s.h * 0.012), wood)?;
    c.fill(
        &Shape::rect(x0, deck + s.h * 0.008, x1, deck + s.h * 0.014),
        wood.scale(0.7),
    )
}

pub(super) fn city(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    let mut fronts: Option<Tensor> = None;
    let mut x = -s.w * 0.05 * unit(rng);
    while x < s.w {
        let (bw, bh) = (s.w * (0.07 + 0.08 * unit(rng)), s.horizon * (0.3 + 0.5 * unit(rng)));
        let hue = if rng.below(2) == 0 {
            0.05 + 0.06 * unit(rng)
        } else {
            0.55 + 0.1 * unit(rng)
        };
        let colour = lit(Rgb::hsl(hue, 0.18, 0.38 + 0.25 * unit(rng)), light);
        c.fill(&Shape::rect(x, s.horizon - bh, x + bw, s.horizon + 1.0), colour)?;
        c.fill(
            &Shape::rect(x - 2.0, s.horizon - bh - 3.0, x + bw + 2.0, s.horizon - bh + 2.0),
            colour.scale(0.75),
        )?;
        let inner = c.mask(&Shape::rect(
            x + bw * 0.12,
            s.horizon - bh + s.h * 0.03,
            x + bw * 0.88,
            s.horizon - s.h * 0.03,
        ))?;
        fronts = Some(match fronts {
            Some(f) => f.maximum(&inner)?,
            None => inner,
        });
        x += bw + s.w * 0.015 * unit(rng);
    }
    if let Some(fronts) = fronts {
        windows(c, s, &fronts)?;
    }
    street(c, s, rng)
}

/// A grid of windows over the building fronts; at night some are lit.
pub(super) fn windows(c: &mut Canvas, s: &Stage, fronts: &Tensor) -> Result<()> {
    let (px, py) = (f64::from(s.h * 0.035), f64::from(s.h * 0.05));
    let tau = std::f64::consts::TAU;
    let gx = c
        .xs()
        .affine(tau / px, 0.0)?
        .sin()?
        .affine(6.0, -0.6)?
        .clamp(0f32, 1f32)?;
    let gy = c
        .ys()
        .affine(tau / py, 0.0)?
        .sin()?
        .affine(6.0, -0.6)?
        .clamp(0f32, 1f32)?;
    let grid = gx.broadcast_mul(&gy)?.mul(fronts)?;
    if s.time != Time::Night {
        return c.composite(
            &lit(Rgb(0.72, 0.8, 0.9), s.time.light()).tensor()?,
            &grid.affine(0.75, 0.0)?,
        );
    }
    let cx = c.xs().affine(1.0 / px, 0.0)?.floor()?.affine(12.9898, 0.0)?;
    let cy = c.ys().affine(1.0 / py, 0.0)?.floor()?.affine(78.233, 0.0)?;
    let noise = cx.broadcast_add(&cy)?.sin()?.affine(43758.547, 0.0)?;
    let lit_cells = noise.sub(&noise.floor()?)?.affine(20.0, -9.0)?.clamp(0f32, 1f32)?;
    let glass = blend(
        &Rgb(0.08, 0.1, 0.16).tensor()?,
        &Rgb(1.0, 0.84, 0.45).tensor()?,
        &lit_cells,
    )?;
    c.composite(&glass, &grid)
}

pub(super) fn street(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    let kerb = s.horizon + (s.h - s.horizon) * 0.22;
    c.fill(
        &Shape::rect(-1.0, s.horizon, s.w + 1.0, kerb),
        lit(Rgb(0.64, 0.62, 0.6), light),
    )?;
    ground(
        c,
        s,
        kerb,
        lit(Rgb(0.36, 0.36, 0.38), light),
        lit(Rgb(0.26, 0.26, 0.28), light),
    )?;
    let lane = kerb + (s.h - kerb) * 0.45;
    let dash = f64::from(s.w / 9.0);
    let dashes = c
        .xs()
        .affine(std::f64::consts::TAU / dash, f64::from(unit(rng)) * 6.0)?
        .sin()?
        .affine(8.0, 0.0)?
        .clamp(0f32, 1f32)?;
    let band = c.mask(&Shape::rect(-1.0, lane, s.w + 1.0, lane + s.h * 0.015))?;
    c.composite(
        &lit(Rgb(0.92, 0.88, 0.7), light).tensor()?,
        &band.broadcast_mul(&dashes)?,
    )?;
    if matches!(s.time, Time::Night | Time::Dusk) {
        for i in 0..3 {
            let x = s.w * (0.15 + 0.35 * i as f32);
            lamp_post(c, s, x, kerb)?;
        }
    }
    Ok(())
}

pub(super) fn lamp_post(c: &mut Canvas, s: &Stage, x: f32, base: f32) -> Result<()> {
    let top = base - s.h * 0.38;
    c.soft(
        &Shape::circle(x, top, s.h * 0.12),
        s.h * 0.12,
        0.5,
        &Fill::Solid(Rgb(1.0, 0.85, 0.5)),
    )?;
    c.fill(&Shape::capsule((x, base), (x, top), s.h * 0.006), Rgb(0.12, 0.12, 0.14))?;
    c.fill(&Shape::circle(x, top, s.h * 0.018), Rgb(1.0, 0.92, 0.65))
}

pub(super) fn woods(c: &mut Canvas, s: &Stage, dense: bool, rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    ground(
        c,
        s,
        s.horizon,
        lit(Rgb(0.42, 0.6, 0.3), light),
        lit(Rgb(0.2, 0.42, 0.16), light),
    )?;
    let line = lit(Rgb(0.16, 0.33, 0.18), light);
    let mut x = -s.w * 0.02;
    while x < s.w * 1.02 {
        let r = s.w * (0.025 + 0.025 * unit(rng));
        c.fill(&Shape::ellipse(x, s.horizon - r * 0.4, r, r * (1.2 + unit(rng))), line)?;
        x += r * 1.2;
    }
    if !dense {
        let path = Shape::Polygon(vec![
            (s.w * 0.48, s.horizon),
            (s.w * 0.52, s.horizon),
            (s.w * 0.72, s.h + 1.0),
            (s.w * 0.3, s.h + 1.0),
        ]);
        c.fill(&path, lit(Rgb(0.82, 0.72, 0.52), light))?;
    }
    let mut bases: Vec<(f32, f32)> = (0..if dense { 9 } else { 5 })
        .map(|_| {
            let x = unit(rng);
            let x = if dense || x < 0.5 {
                x * if dense { 1.0 } else { 0.5 }
            } else {
                0.5 + x * 0.5
            };
            (s.w * x, s.horizon + (s.h - s.horizon) * (0.05 + 0.9 * unit(rng)))
        })
        .collect();
    bases.sort_by(|a, b| a.1.total_cmp(&b.1));
    for (x, y) in bases {
        tree(c, s, (x, y), rng)?;
    }
    Ok(())
}

pub(super) fn tree(c: &mut Canvas, s: &Stage, (x, base): (f32, f32), rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    let near = (base - s.horizon) / (s.h - s.horizon).max(1.0);
    let th = s.h * (0.22 + 0.4 * near);
    let bark = lit(Rgb(0.36, 0.24, 0.14), light);
    c.fill(
        &Shape::Polygon(vec![
            (x - th * 0.05, base),
            (x + th * 0.05, base),
            (x + th * 0.025, base - th * 0.6),
            (x - th * 0.025, base - th * 0.6),
        ]),
        bark,
    )?;
    let leaves = lit(Rgb::hsl(0.27 + 0.08 * unit(rng), 0.45, 0.3 + 0.08 * unit(rng)), light);
    let crown = Shape::Union(vec![
        Shape::ellipse(x, base - th * 0.74, th * 0.27, th * 0.26),
        Shape::ellipse(x - th * 0.2, base - th * 0.56, th * 0.21, th * 0.17),
        Shape::ellipse(x + th * 0.2, base - th * 0.58, th * 0.22, th * 0.18),
        Shape::ellipse(x, base - th * 0.52, th * 0.22, th * 0.13),
    ]);
    c.paint(&crown, 1.0, 1.0, &Fill::Solid(leaves.scale(0.55)))?;
    c.fill(&crown, leaves)?;
    let lit_side = Shape::ellipse(x - th * 0.08, base - th * 0.8, th * 0.17, th * 0.14);
    c.soft(&lit_side, th * 0.12, 0.5, &Fill::Solid(leaves.scale(1.35)))
}

pub(super) fn open(c: &mut Canvas, s: &Stage, sandy: bool, rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    let (far, near) = if sandy {
        (Rgb(0.88, 0.72, 0.5), Rgb(0.8, 0.6, 0.38))
    } else {
        (Rgb(0.45, 0.62, 0.32), Rgb(0.28, 0.5, 0.2))
    };
    for i in 0..3 {
        let x = s.w * (0.2 + 0.3 * i as f32 + 0.15 * (unit(rng) - 0.5));
        let hill = Shape::ellipse(
            x,
            s.horizon + s.h * 0.08,
            s.w * (0.25 + 0.15 * unit(rng)),
            s.h * (0.12 + 0.1 * unit(rng)),
        );
        c.fill(
            &hill,
            lit(far.mix(near, 0.3 * i as f32).scale(0.85 + 0.1 * i as f32), light),
        )?;
    }
    ground(c, s, s.horizon + s.h * 0.06, lit(far, light), lit(near, light))
}
