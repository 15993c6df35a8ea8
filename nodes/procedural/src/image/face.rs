//! Heads and faces: eyes, mouth, marks and hair, from the front and in profile.

use candle_core::Result;

use super::INK;
use super::look::{Features, HairStyle};
use super::portrait::{Body, inked};
use super::props::Parts;
use crate::raster::{Canvas, Fill, Rgb, Shape};

pub(super) fn draw_head_front(c: &mut Canvas, f: &Features, b: &Body) -> Result<()> {
    let (hx, hy, rx, ry) = b.head;
    let u = b.u;
    let mut parts = vec![
        (
            Shape::ellipse(hx - rx * 0.98, hy + 0.8 * u, 1.4 * u, 2.2 * u),
            f.skin.scale(0.95),
        ),
        (
            Shape::ellipse(hx + rx * 0.98, hy + 0.8 * u, 1.4 * u, 2.2 * u),
            f.skin.scale(0.95),
        ),
        (Shape::ellipse(hx, hy, rx, ry), f.skin),
    ];
    if f.square_jaw {
        parts.push((
            Shape::round_rect(hx - rx * 0.86, hy, hx + rx * 0.86, hy + ry * 0.96, 2.5 * u),
            f.skin,
        ));
    }
    inked(c, &parts)?;
    draw_face(c, f, b)?;
    if f.style != HairStyle::Bald {
        let cap = Shape::ellipse(hx, hy - 1.2 * u, rx * 1.07, ry * 0.98).minus(Shape::ellipse(
            hx,
            hy + 2.6 * u,
            rx * 0.93,
            ry * 0.86,
        ));
        inked(c, &[(cap, f.hair)])?;
    }
    Ok(())
}

pub(super) const EYE_WHITE: Rgb = Rgb(0.97, 0.97, 0.95);
pub(super) const LIPS: Rgb = Rgb(0.62, 0.24, 0.24);
pub(super) const BLUSH: Rgb = Rgb(0.95, 0.45, 0.45);

/// Paints the parts in order, without outlines.
pub(super) fn filled(c: &mut Canvas, parts: &[(Shape, Rgb)]) -> Result<()> {
    for (shape, colour) in parts {
        c.fill(shape, *colour)?;
    }
    Ok(())
}

/// An eye centred at `e`, `narrow` as wide as from the front, looking `look` eye-widths aside,
/// with its brow and the glasses' rim.
pub(super) fn eye(f: &Features, e: (f32, f32), u: f32, narrow: f32, look: f32) -> Parts {
    let brow = if f.thick_brows { 0.65 } else { 0.4 } * u;
    let mut parts = vec![
        (Shape::ellipse(e.0, e.1, 1.7 * u * narrow, 1.25 * u), EYE_WHITE),
        (Shape::circle(e.0 + look * u, e.1, u * narrow.max(0.8)), f.eyes),
        (Shape::circle(e.0 + look * 1.5 * u, e.1, 0.45 * u), INK),
        (
            Shape::capsule((e.0 - 1.6 * u, e.1 - 2.4 * u), (e.0 + 1.6 * u, e.1 - 2.6 * u), brow),
            f.hair.scale(0.8),
        ),
    ];
    if f.glasses {
        parts.push((
            Shape::circle(e.0, e.1, 2.4 * u).minus(Shape::circle(e.0, e.1, 1.9 * u)),
            INK,
        ));
    }
    parts
}

/// Freckles and age lines on one side (`s` = ±1) of a face seen from the front.
pub(super) fn marks(f: &Features, b: &Body, s: f32) -> Parts {
    let (hx, hy, rx, _) = b.head;
    let u = b.u;
    let mut parts = Vec::new();
    if f.freckles {
        for (dx, dy) in [(-0.8, 2.3), (0.6, 2.6), (0.0, 3.4)] {
            parts.push((
                Shape::circle(hx + s * (0.6 * rx + dx * u), hy + dy * u, 0.3 * u),
                f.skin.scale(0.72),
            ));
        }
    }
    if f.lined {
        let e = (hx + s * 0.45 * rx, hy + 0.4 * u);
        let line = Shape::capsule(
            (e.0 + s * 2.2 * u, e.1 + 0.2 * u),
            (e.0 + s * 3.0 * u, e.1 + 0.9 * u),
            0.18 * u,
        );
        parts.push((line, f.skin.scale(0.7)));
    }
    parts
}

pub(super) fn draw_face(c: &mut Canvas, f: &Features, b: &Body) -> Result<()> {
    let (hx, hy, rx, _) = b.head;
    let u = b.u;
    for s in [-1.0f32, 1.0] {
        let cheek = Shape::ellipse(hx + s * 0.6 * rx, hy + 2.8 * u, 1.6 * u, u);
        c.paint(&cheek, 0.0, 0.35, &Fill::Solid(BLUSH))?;
        filled(c, &eye(f, (hx + s * 0.45 * rx, hy + 0.4 * u), u, 1.0, 0.0))?;
        filled(c, &marks(f, b, s))?;
    }
    let mut parts = vec![(
        Shape::capsule((hx, hy + 1.2 * u), (hx + 0.4 * u, hy + 2.8 * u), 0.55 * u),
        f.skin.scale(0.84),
    )];
    if f.glasses {
        let bridge = Shape::capsule(
            (hx - 0.45 * rx + 2.4 * u, hy + 0.4 * u),
            (hx + 0.45 * rx - 2.4 * u, hy + 0.4 * u),
            0.3 * u,
        );
        parts.push((bridge, INK));
    }
    if f.beard {
        let beard =
            Shape::ellipse(hx, hy + 3.5 * u, rx * 0.95, 6.0 * u).minus(Shape::ellipse(hx, hy + 0.2 * u, rx, 5.5 * u));
        parts.push((beard, f.hair));
    }
    parts.push((
        Shape::capsule((hx - 2.0 * u, hy + 4.8 * u), (hx + 2.0 * u, hy + 4.8 * u), 0.45 * u),
        LIPS,
    ));
    filled(c, &parts)
}

pub(super) fn draw_head_side(c: &mut Canvas, f: &Features, b: &Body) -> Result<()> {
    let (hx, hy, rx, ry) = b.head;
    let u = b.u;
    let mut head = vec![
        (Shape::ellipse(hx + rx * 1.02, hy + 1.4 * u, 1.5 * u, 1.7 * u), f.skin),
        (Shape::ellipse(hx, hy, rx * 1.04, ry), f.skin),
    ];
    if f.square_jaw {
        head.push((
            Shape::round_rect(hx - rx * 0.6, hy, hx + rx * 0.95, hy + ry * 0.96, 2.5 * u),
            f.skin,
        ));
    }
    inked(c, &head)?;
    let e = (hx + rx * 0.58, hy + 0.4 * u);
    let mut parts = eye(f, e, u, 0.6, 0.3);
    if f.glasses {
        parts.push((
            Shape::capsule((e.0 - 2.3 * u, e.1), (hx - 0.5 * u, e.1 - 0.5 * u), 0.3 * u),
            INK,
        ));
    }
    if f.beard {
        let jaw = Shape::ellipse(hx + 0.25 * rx, hy + 3.5 * u, rx * 0.8, 6.0 * u);
        parts.push((
            jaw.minus(Shape::ellipse(hx + 0.3 * rx, hy + 0.2 * u, rx, 5.5 * u)),
            f.hair,
        ));
    }
    parts.push((
        Shape::capsule((hx + rx * 0.62, hy + 4.8 * u), (hx + rx * 0.9, hy + 4.7 * u), 0.45 * u),
        LIPS,
    ));
    filled(c, &parts)?;
    if f.style != HairStyle::Bald {
        let face = Shape::ellipse(hx + 3.4 * u, hy + 2.8 * u, rx * 0.9, ry * 0.86);
        inked(
            c,
            &[(
                Shape::ellipse(hx - 0.4 * u, hy - 1.2 * u, rx * 1.12, ry).minus(face),
                f.hair,
            )],
        )?;
    }
    inked(
        c,
        &[(
            Shape::ellipse(hx - 0.8 * u, hy + u, 1.4 * u, 2.2 * u),
            f.skin.scale(0.95),
        )],
    )
}
