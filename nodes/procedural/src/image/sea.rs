//! Creatures of the sea, upright in the portrait's frame: a whale, dolphin, shark or fish
//! breaching, an octopus on its arms, a turtle standing in its shell.

use candle_core::Result;
use showrunner_backend::View;

use super::INK;
use super::being::{Hide, neckwear, round_eye as eye};
use super::face::filled;
use super::portrait::{Body, inked};
use crate::raster::{Canvas, Rgb, Shape};

/// A sea creature breaching, tail down: flukes, fins, a pale belly, eyes and a long mouth;
/// `dorsal` adds a back fin, and a whale (no dorsal) has a blowhole.
pub(super) fn draw_swimmer(c: &mut Canvas, view: View, b: &Body, hide: Hide, dorsal: bool) -> Result<()> {
    let u = b.u;
    let side = view == View::Side;
    let half = if side { 15.0 * u } else { 21.0 * u * b.breadth };
    let body = Shape::ellipse(b.cx, b.y(48.0), half, 38.0 * u);
    let tail = Shape::Polygon(vec![
        (b.cx - 9.0 * u, b.y(78.0)),
        (b.cx + 9.0 * u, b.y(78.0)),
        (b.cx + 3.0 * u, b.y(93.0)),
        (b.cx - 3.0 * u, b.y(93.0)),
    ]);
    let flukes = if side {
        Shape::Polygon(vec![
            (b.cx - 2.0 * u, b.y(88.0)),
            (b.cx - 12.0 * u, b.y(93.0)),
            (b.cx - 11.0 * u, b.y(97.0)),
            (b.cx + 11.0 * u, b.y(97.0)),
            (b.cx + 12.0 * u, b.y(93.0)),
            (b.cx + 2.0 * u, b.y(88.0)),
        ])
    } else {
        Shape::Polygon(vec![
            (b.cx, b.y(86.0)),
            (b.x(-17.0), b.y(90.0)),
            (b.x(-14.0), b.y(99.0)),
            (b.cx, b.y(95.0)),
            (b.x(14.0), b.y(99.0)),
            (b.x(17.0), b.y(90.0)),
        ])
    };
    inked(c, &[(flukes, hide.dark), (tail, hide.main)])?;
    if dorsal {
        let fin = match view {
            View::Side => vec![
                (b.cx - 13.0 * u, b.y(40.0)),
                (b.cx - 13.0 * u, b.y(56.0)),
                (b.cx - 23.0 * u, b.y(54.0)),
            ],
            _ => vec![
                (b.cx - 3.0 * u, b.y(14.0)),
                (b.cx + 3.0 * u, b.y(14.0)),
                (b.cx + u, b.y(2.0)),
            ],
        };
        inked(c, &[(Shape::Polygon(fin), hide.dark)])?;
    }
    let fins: Vec<f32> = if side { vec![1.0] } else { vec![-1.0, 1.0] };
    let fin = |s: f32| {
        let x = |h: f32| if side { b.cx + s * h * 0.7 * u } else { b.x(s * h) };
        Shape::Polygon(vec![
            (x(16.0), b.y(52.0)),
            (x(33.0), b.y(70.0)),
            (x(30.0), b.y(74.0)),
            (x(13.0), b.y(64.0)),
        ])
    };
    let back_fins: Vec<_> = fins.iter().map(|&s| (fin(s), hide.dark)).collect();
    if view == View::Front || view == View::Back {
        inked(c, &back_fins)?;
    }
    let main = if view == View::Back {
        hide.main.scale(0.9)
    } else {
        hide.main
    };
    inked(c, &[(body.clone(), main)])?;
    if side {
        inked(c, &back_fins)?;
    }
    let mut parts = Vec::new();
    match view {
        View::Front => {
            parts.push((
                Shape::ellipse(b.cx, b.y(56.0), 12.0 * u * b.breadth, 27.0 * u),
                hide.pale,
            ));
            let mouth = Shape::ellipse(b.cx, b.y(34.0), half * 0.72, 5.0 * u).minus(Shape::ellipse(
                b.cx,
                b.y(32.6),
                half * 0.75,
                5.0 * u,
            ));
            parts.push((mouth, INK));
            for s in [-1.0, 1.0] {
                parts.extend(eye(b.x(s * 11.0), b.y(29.0), u, 0.0));
            }
        }
        View::Side => {
            let belly = Shape::ellipse(b.cx + 7.0 * u, b.y(56.0), 8.0 * u, 27.0 * u).and(body);
            parts.push((belly, hide.pale));
            parts.push((
                Shape::capsule((b.cx + 14.2 * u, b.y(30.0)), (b.cx + 3.0 * u, b.y(36.0)), 0.5 * u),
                INK,
            ));
            parts.extend(eye(b.cx + 8.0 * u, b.y(29.0), u, 0.6));
        }
        View::Back => {
            parts.push((Shape::ellipse(b.cx, b.y(42.0), 2.5 * u, 14.0 * u), hide.dark));
        }
    }
    if !dorsal && view != View::Side {
        parts.push((Shape::ellipse(b.cx, b.y(13.0), 2.0 * u, 0.8 * u), INK));
    }
    filled(c, &parts)?;
    let reach = if side { 14.5 } else { 19.5 * b.breadth };
    neckwear(c, b, hide, (b.cx - reach * u, b.cx + reach * u), b.y(41.0))
}

/// An octopus: a round head with big eyes over eight curling arms.
pub(super) fn draw_octopus(c: &mut Canvas, view: View, b: &Body, hide: Hide) -> Result<()> {
    let u = b.u;
    let (shift, arms) = match view {
        View::Side => (-2.0 * u, 4),
        _ => (0.0, 8),
    };
    let span = if arms == 8 { 26.0 } else { 16.0 };
    let mut parts = Vec::new();
    for i in 0..arms {
        let t = i as f32 / (arms - 1) as f32;
        let start = (b.cx + shift + (t - 0.5) * 24.0 * u * b.breadth, b.y(48.0));
        let end = (
            b.cx + shift + (t - 0.5) * 2.0 * span * u * b.breadth,
            b.y(90.0 + (i % 2) as f32 * 5.0),
        );
        let shade = if i % 2 == 0 { hide.main } else { hide.main.scale(0.9) };
        parts.push((Shape::capsule(start, end, 2.8 * u), shade));
        parts.push((Shape::circle(end.0, end.1, 3.2 * u), shade));
    }
    inked(c, &parts)?;
    let half = if view == View::Side { 13.0 } else { 17.0 * b.breadth } * u;
    inked(
        c,
        &[(Shape::ellipse(b.cx + shift, b.y(28.0), half, 24.0 * u), hide.main)],
    )?;
    let mut face = Vec::new();
    match view {
        View::Front => {
            for s in [-1.0, 1.0] {
                face.extend(eye(b.x(s * 7.0), b.y(36.0), u * 1.5, 0.0));
            }
        }
        View::Side => face.extend(eye(b.cx + 6.0 * u, b.y(36.0), u * 1.5, 0.5)),
        View::Back => face.push((Shape::ellipse(b.cx, b.y(20.0), 8.0 * u, 10.0 * u), hide.pale)),
    }
    filled(c, &face)?;
    neckwear(
        c,
        b,
        hide,
        (b.cx + shift - half * 0.8, b.cx + shift + half * 0.8),
        b.y(49.0),
    )
}

/// A turtle standing in its shell: a pale plastron in front, a patterned carapace behind.
pub(super) fn draw_turtle(c: &mut Canvas, view: View, b: &Body, hide: Hide) -> Result<()> {
    let u = b.u;
    let shell = hide.main.mix(Rgb(0.45, 0.32, 0.15), 0.6);
    let mut limbs = Vec::new();
    for s in [-1.0, 1.0] {
        limbs.push((
            Shape::capsule((b.x(s * 8.0), b.y(80.0)), (b.x(s * 9.0), b.y(95.0)), 3.6 * u),
            hide.main,
        ));
        limbs.push((
            Shape::capsule((b.x(s * 15.0), b.y(44.0)), (b.x(s * 24.0), b.y(62.0)), 3.2 * u),
            hide.main,
        ));
    }
    inked(c, &limbs)?;
    let head = match view {
        View::Side => Shape::ellipse(b.cx + 6.0 * u, b.y(22.0), 9.0 * u, 8.0 * u),
        _ => Shape::ellipse(b.cx, b.y(22.0), 9.0 * u, 9.0 * u),
    };
    inked(c, &[(head, hide.main)])?;
    let shell_shape = Shape::ellipse(b.cx, b.y(58.0), 19.0 * u * b.breadth, 28.0 * u);
    let mut parts = Vec::new();
    match view {
        View::Back => {
            inked(c, &[(shell_shape, shell)])?;
            for (h, v) in [(0.0, 46.0), (-8.0, 58.0), (8.0, 58.0), (0.0, 70.0), (0.0, 58.0)] {
                parts.push((Shape::circle(b.x(h), b.y(v), 4.5 * u), shell.mix(hide.pale, 0.35)));
            }
        }
        View::Front => {
            inked(
                c,
                &[
                    (shell_shape, shell),
                    (
                        Shape::ellipse(b.cx, b.y(60.0), 14.0 * u * b.breadth, 24.0 * u),
                        hide.pale,
                    ),
                ],
            )?;
            for v in [50.0, 60.0, 70.0] {
                parts.push((
                    Shape::rect(b.x(-12.0), b.y(v) - 0.3 * u, b.x(12.0), b.y(v) + 0.3 * u),
                    hide.pale.scale(0.8),
                ));
            }
            for s in [-1.0, 1.0] {
                parts.extend(eye(b.x(s * 3.8), b.y(20.0), u, 0.0));
            }
            parts.push((
                Shape::ellipse(b.cx, b.y(25.0), 4.0 * u, 1.6 * u).minus(Shape::ellipse(
                    b.cx,
                    b.y(24.2),
                    4.2 * u,
                    1.6 * u,
                )),
                INK,
            ));
        }
        View::Side => {
            let narrow = Shape::ellipse(b.cx - 2.0 * u, b.y(58.0), 14.0 * u, 28.0 * u);
            inked(c, &[(narrow, shell)])?;
            parts.push((Shape::ellipse(b.cx + 8.0 * u, b.y(60.0), 4.0 * u, 24.0 * u), hide.pale));
            parts.extend(eye(b.cx + 9.0 * u, b.y(20.0), u, 0.5));
        }
    }
    filled(c, &parts)?;
    neckwear(c, b, hide, (b.cx - 8.0 * u, b.cx + 8.0 * u), b.y(31.0))
}
