//! Interiors: walls, floors and windows, shelves, kitchens, workshops, cabins, halls.

use candle_core::{Result, Tensor};
use showrunner_story::rng::Rng;

use super::INK;
use super::exterior::ground;
use super::scene::{Room, Stage, Time, lit, unit};
use crate::raster::{Canvas, Fill, Rgb, Shape};

pub(super) fn interior(room: Room, time: Time, (w, h): (usize, usize), rng: &mut Rng) -> Result<Canvas> {
    let s = Stage {
        w: w as f32,
        h: h as f32,
        horizon: h as f32 * (0.68 + 0.06 * unit(rng)),
        time,
    };
    let light = time.indoor();
    let wall = lit(wall_colour(room, rng), light);
    let mut c = Canvas::filled(w, h, wall)?;
    let gradient = c.rows_gradient(0.0, s.horizon, wall.scale(0.8), wall)?;
    c.set(&gradient.broadcast_as((3, h, w))?)?;
    floor(&mut c, &s, lit(Rgb(0.55, 0.38, 0.24), light))?;
    match room {
        Room::Library => shelves(&mut c, &s, rng)?,
        Room::Kitchen => kitchen(&mut c, &s, rng)?,
        Room::Workshop => workshop(&mut c, &s, rng)?,
        Room::Lighthouse => porthole(&mut c, &s, rng)?,
        Room::Station => arches(&mut c, &s, rng)?,
        Room::Plain => plain_room(&mut c, &s, rng)?,
    }
    if time == Time::Night {
        pendant(&mut c, &s, rng)?;
    }
    Ok(c)
}

pub(super) fn wall_colour(room: Room, rng: &mut Rng) -> Rgb {
    let (hue, sat, light) = match room {
        Room::Library => (0.07, 0.3, 0.45),
        Room::Kitchen => (0.12, 0.35, 0.78),
        Room::Workshop => (0.08, 0.15, 0.55),
        Room::Lighthouse => (0.1, 0.08, 0.7),
        Room::Station => (0.58, 0.1, 0.72),
        Room::Plain => (unit(rng), 0.25, 0.66),
    };
    Rgb::hsl(hue + 0.04 * (unit(rng) - 0.5), sat, light)
}

pub(super) fn floor(c: &mut Canvas, s: &Stage, wood: Rgb) -> Result<()> {
    ground(c, s, s.horizon, wood.scale(0.8), wood)?;
    let boards = c
        .ys()
        .affine(1.0, -f64::from(s.horizon))?
        .relu()?
        .sqrt()?
        .affine(2.2, 0.0)?
        .sin()?;
    let lines = boards
        .affine(6.0, -5.0)?
        .clamp(0f32, 1f32)?
        .broadcast_mul(&c.row_ramp(s.horizon + 2.0, s.horizon + 3.0)?)?;
    c.composite(&wood.scale(0.6).tensor()?, &lines.affine(0.5, 0.0)?)?;
    c.fill(
        &Shape::rect(-1.0, s.horizon - s.h * 0.025, s.w + 1.0, s.horizon),
        wood.scale(0.55),
    )
}

/// A window showing the sky of the scene's time over distant land or sea.
pub(super) fn window(c: &mut Canvas, s: &Stage, shape: &Shape, sea: bool) -> Result<()> {
    let (x0, y0, x1, y1) = shape.bbox();
    let (top, bottom) = s.time.sky();
    c.paint(
        shape,
        s.h * 0.012,
        1.0,
        &Fill::Solid(Rgb(0.93, 0.9, 0.84).scale(s.time.indoor().1)),
    )?;
    let view = c.rows_gradient(y0, y1, top, bottom)?;
    c.paint(shape, 0.0, 1.0, &Fill::Image(&view))?;
    let land = if sea {
        Rgb(0.15, 0.35, 0.55)
    } else {
        Rgb(0.3, 0.5, 0.28)
    };
    let strip = shape.clone().and(Shape::rect(x0, y0 + (y1 - y0) * 0.72, x1, y1));
    c.paint(&strip, 0.0, 0.9, &Fill::Solid(lit(land, s.time.light())))?;
    let bar = Rgb(0.93, 0.9, 0.84).scale(s.time.indoor().1);
    c.fill(&Shape::rect((x0 + x1) / 2.0 - 1.5, y0, (x0 + x1) / 2.0 + 1.5, y1), bar)?;
    c.fill(&Shape::rect(x0, (y0 + y1) / 2.0 - 1.5, x1, (y0 + y1) / 2.0 + 1.5), bar)
}

pub(super) fn shelves(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let wood = lit(Rgb(0.36, 0.22, 0.12), s.time.indoor());
    let (x0, x1, y0, y1) = (s.w * 0.04, s.w * 0.96, s.h * 0.1, s.horizon - s.h * 0.02);
    c.fill(&Shape::rect(x0, y0, x1, y1), wood)?;
    let books = book_spines(c, s, rng)?;
    let rows = 4;
    let step = (y1 - y0) / rows as f32;
    for i in 0..rows {
        let top = y0 + step * i as f32;
        let height = step * (0.72 + 0.12 * unit(rng));
        c.paint(
            &Shape::rect(x0 + 6.0, top + step - 4.0 - height, x1 - 6.0, top + step - 4.0),
            0.0,
            1.0,
            &Fill::Image(&books),
        )?;
    }
    Ok(())
}

/// A `[3, 1, W]` row of book spines of random widths and colours.
pub(super) fn book_spines(c: &Canvas, s: &Stage, rng: &mut Rng) -> Result<Tensor> {
    const SPINES: [Rgb; 6] = [
        Rgb(0.6, 0.15, 0.12),
        Rgb(0.15, 0.3, 0.5),
        Rgb(0.2, 0.42, 0.25),
        Rgb(0.75, 0.6, 0.3),
        Rgb(0.4, 0.2, 0.4),
        Rgb(0.85, 0.8, 0.7),
    ];
    let w = c.width();
    let mut channels = vec![Vec::with_capacity(w), Vec::with_capacity(w), Vec::with_capacity(w)];
    while channels[0].len() < w {
        let colour = lit(*rng.pick(&SPINES), s.time.indoor()).scale(0.8 + 0.3 * unit(rng));
        let width = 3 + rng.below(7);
        for k in 0..width {
            let edge = if k == width - 1 { 0.45 } else { 1.0 };
            channels[0].push(colour.0 * edge);
            channels[1].push(colour.1 * edge);
            channels[2].push(colour.2 * edge);
        }
    }
    let flat: Vec<f32> = channels
        .into_iter()
        .flat_map(|mut ch| {
            ch.truncate(w);
            ch
        })
        .collect();
    Tensor::from_vec(flat, (3, 1, w), &candle_core::Device::Cpu)
}

pub(super) fn kitchen(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let light = s.time.indoor();
    let counter_top = s.horizon - s.h * 0.2;
    let tiles = Shape::rect(-1.0, counter_top - s.h * 0.16, s.w + 1.0, counter_top);
    c.fill(&tiles, lit(Rgb(0.9, 0.92, 0.9), light))?;
    let grout = c
        .xs()
        .affine(std::f64::consts::TAU / f64::from(s.h * 0.04), 0.0)?
        .cos()?
        .broadcast_maximum(
            &c.ys()
                .affine(std::f64::consts::TAU / f64::from(s.h * 0.04), 0.0)?
                .cos()?,
        )?
        .affine(8.0, -7.0)?
        .clamp(0f32, 1f32)?
        .mul(&c.mask(&tiles)?)?;
    c.composite(&lit(Rgb(0.6, 0.62, 0.6), light).tensor()?, &grout)?;
    let wx = s.w * (0.15 + 0.45 * unit(rng));
    window(
        c,
        s,
        &Shape::rect(wx, s.h * 0.1, wx + s.w * 0.25, counter_top - s.h * 0.22),
        false,
    )?;
    let cabinet = lit(Rgb::hsl(unit(rng), 0.3, 0.5), light);
    c.fill(
        &Shape::rect(-1.0, counter_top, s.w + 1.0, s.horizon + s.h * 0.02),
        cabinet,
    )?;
    c.fill(
        &Shape::rect(-1.0, counter_top - s.h * 0.015, s.w + 1.0, counter_top + s.h * 0.01),
        lit(Rgb(0.3, 0.28, 0.27), light),
    )?;
    for i in 0..6 {
        let x = s.w * (0.02 + 0.165 * i as f32);
        c.fill(
            &Shape::rect(x, counter_top + s.h * 0.03, x + 2.0, s.horizon - s.h * 0.01),
            cabinet.scale(0.7),
        )?;
        c.fill(
            &Shape::circle(x + s.w * 0.07, counter_top + s.h * 0.06, s.h * 0.006),
            Rgb(0.8, 0.75, 0.6),
        )?;
    }
    Ok(())
}

pub(super) fn workshop(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let light = s.time.indoor();
    let (x0, x1) = (s.w * (0.1 + 0.1 * unit(rng)), s.w * (0.75 + 0.1 * unit(rng)));
    let board = Shape::rect(x0, s.h * 0.12, x1, s.horizon - s.h * 0.22);
    c.fill(&board, lit(Rgb(0.72, 0.58, 0.4), light))?;
    let (_, by0, _, by1) = board.bbox();
    for i in 0..5 {
        let x = x0 + (x1 - x0) * (0.12 + 0.19 * i as f32);
        let y = by0 + (by1 - by0) * (0.25 + 0.3 * unit(rng));
        c.fill(
            &Shape::capsule((x, y), (x, y + (by1 - by0) * 0.4), s.h * 0.008),
            lit(Rgb(0.45, 0.3, 0.18), light),
        )?;
        c.fill(
            &Shape::rect(x - s.h * 0.02, y - s.h * 0.012, x + s.h * 0.02, y + s.h * 0.012),
            lit(Rgb(0.4, 0.42, 0.46), light),
        )?;
    }
    let top = s.horizon - s.h * 0.16;
    let bench = lit(Rgb(0.5, 0.33, 0.2), light);
    for x in [s.w * 0.14, s.w * 0.86] {
        c.fill(
            &Shape::rect(x - 4.0, top, x + 4.0, s.horizon + s.h * 0.06),
            bench.scale(0.7),
        )?;
    }
    c.fill(&Shape::rect(s.w * 0.1, top - s.h * 0.03, s.w * 0.9, top), bench)
}

pub(super) fn porthole(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let stone = c
        .ys()
        .affine(std::f64::consts::TAU / f64::from(s.h * 0.06), 0.0)?
        .sin()?
        .affine(10.0, -9.0)?
        .clamp(0f32, 1f32)?;
    let above = c.row_ramp(s.horizon, s.horizon - 1.0)?;
    c.composite(
        &Rgb(0.0, 0.0, 0.0).tensor()?,
        &stone.broadcast_mul(&above)?.affine(0.15, 0.0)?,
    )?;
    let (x, y, r) = (s.w * (0.3 + 0.4 * unit(rng)), s.horizon * 0.45, s.h * 0.16);
    c.fill(
        &Shape::circle(x, y, r * 1.2),
        lit(Rgb(0.35, 0.35, 0.38), s.time.indoor()),
    )?;
    window(c, s, &Shape::circle(x, y, r), true)
}

pub(super) fn arches(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let n = 2 + rng.below(2);
    let span = s.w / n as f32;
    for i in 0..n {
        let x = span * (i as f32 + 0.5);
        let (half, top, bottom) = (span * 0.28, s.h * 0.12, s.horizon - s.h * 0.1);
        let arch = Shape::Union(vec![
            Shape::rect(x - half, top + half, x + half, bottom),
            Shape::circle(x, top + half, half),
        ]);
        window(c, s, &arch, false)?;
    }
    let clock = (s.w * 0.5, s.h * 0.08);
    c.fill(&Shape::circle(clock.0, clock.1, s.h * 0.05), Rgb(0.2, 0.2, 0.22))?;
    c.fill(&Shape::circle(clock.0, clock.1, s.h * 0.04), Rgb(0.96, 0.95, 0.9))?;
    c.fill(&Shape::capsule(clock, (clock.0, clock.1 - s.h * 0.03), 1.0), INK)?;
    c.fill(&Shape::capsule(clock, (clock.0 + s.h * 0.02, clock.1), 1.0), INK)?;
    c.fill(
        &Shape::rect(-1.0, s.horizon + s.h * 0.08, s.w + 1.0, s.horizon + s.h * 0.1),
        Rgb(0.95, 0.8, 0.2).scale(s.time.indoor().1),
    )
}

pub(super) fn plain_room(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let light = s.time.indoor();
    let left = rng.below(2) == 0;
    let (wx, px) = if left {
        (s.w * 0.1, s.w * 0.56)
    } else {
        (s.w * 0.62, s.w * 0.28)
    };
    window(
        c,
        s,
        &Shape::rect(wx, s.h * 0.14, wx + s.w * 0.26, s.horizon - s.h * 0.2),
        false,
    )?;
    let frame = Shape::rect(px, s.h * 0.2, px + s.w * 0.18, s.h * 0.42);
    c.paint(&frame, s.h * 0.012, 1.0, &Fill::Solid(lit(Rgb(0.55, 0.4, 0.15), light)))?;
    let art = c.rows_gradient(
        s.h * 0.2,
        s.h * 0.42,
        lit(Rgb::hsl(unit(rng), 0.4, 0.7), light),
        lit(Rgb::hsl(unit(rng), 0.5, 0.4), light),
    )?;
    c.paint(&frame, 0.0, 1.0, &Fill::Image(&art))?;
    let dx = if left { s.w * 0.86 } else { s.w * 0.02 };
    let door = Shape::round_rect(dx, s.h * 0.18, dx + s.w * 0.12, s.horizon, s.h * 0.01);
    c.paint(&door, 2.0, 1.0, &Fill::Solid(INK))?;
    c.fill(&door, lit(Rgb(0.45, 0.3, 0.2), light))?;
    c.fill(
        &Shape::circle(dx + s.w * 0.1, (s.h * 0.18 + s.horizon) / 2.0, s.h * 0.01),
        Rgb(0.85, 0.7, 0.3),
    )
}

pub(super) fn pendant(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let x = s.w * (0.3 + 0.4 * unit(rng));
    let y = s.h * 0.16;
    c.soft(
        &Shape::circle(x, y + s.h * 0.08, s.h * 0.6),
        s.h * 0.6,
        0.35,
        &Fill::Solid(Rgb(1.0, 0.85, 0.55)),
    )?;
    c.fill(&Shape::capsule((x, -1.0), (x, y), 1.0), INK)?;
    let shade = Shape::ellipse(x, y + s.h * 0.03, s.h * 0.06, s.h * 0.04).minus(Shape::rect(
        x - s.h * 0.07,
        y + s.h * 0.03,
        x + s.h * 0.07,
        y + s.h * 0.1,
    ));
    c.fill(&shade, Rgb(0.2, 0.3, 0.25))?;
    c.fill(&Shape::circle(x, y + s.h * 0.035, s.h * 0.015), Rgb(1.0, 0.95, 0.75))
}
