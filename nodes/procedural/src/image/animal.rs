//! Animals of the land and the air: a four-legged animal sitting up (standing, from the side)
//! with its kind's ears, and a bird with wings, a beak and feet.

use candle_core::Result;
use showrunner_backend::View;

use super::INK;
use super::being::{Ears, Hide, neckwear, round_eye};
use super::face::filled;
use super::look::Features;
use super::portrait::{Body, inked};
use super::props::GOLD;
use crate::raster::{Canvas, Rgb, Shape};

/// Beaks and birds' feet.
const BEAK: Rgb = Rgb(0.95, 0.62, 0.16);

/// A four-legged animal: sitting up from the front and the back, standing from the side.
pub(super) fn draw_beast(
    c: &mut Canvas,
    view: View,
    f: &Features,
    b: &Body,
    hide: Hide,
    ears: Ears,
    horn: bool,
) -> Result<()> {
    if view == View::Side {
        return beast_side(c, b, hide, ears, horn);
    }
    let u = b.u;
    let front = view == View::Front;
    let tail = if front {
        Shape::capsule((b.x(9.0), b.y(90.0)), (b.x(21.0), b.y(72.0)), 2.6 * u)
    } else {
        Shape::capsule((b.cx, b.y(88.0)), (b.x(-20.0), b.y(95.0)), 2.6 * u)
    };
    let main = if front { hide.main } else { hide.main.scale(0.92) };
    inked(
        c,
        &[
            (tail, hide.main),
            (Shape::ellipse(b.cx, b.y(80.0), 17.0 * u * b.breadth, 16.0 * u), main),
            (Shape::ellipse(b.cx, b.y(58.0), 12.0 * u * b.breadth, 22.0 * u), main),
        ],
    )?;
    if front {
        filled(c, &[(Shape::ellipse(b.cx, b.y(56.0), 6.0 * u, 14.0 * u), hide.pale)])?;
        for s in [-1.0, 1.0] {
            inked(
                c,
                &[
                    (
                        Shape::capsule((b.x(s * 5.0), b.y(62.0)), (b.x(s * 6.0), b.y(93.0)), 3.2 * u),
                        hide.main,
                    ),
                    (Shape::ellipse(b.x(s * 6.5), b.y(96.0), 4.0 * u, 2.3 * u), hide.pale),
                ],
            )?;
        }
    }
    let w = 11.0 * u * f.face_w;
    let ear_parts = [-1.0, 1.0].map(|s| (ear(ears, b.cx + s * w * 0.7, b.y(16.0), u, s), hide.main));
    if ears != Ears::Floppy {
        inked(c, &ear_parts)?;
    }
    inked(c, &[(Shape::ellipse(b.cx, b.y(24.0), w, 10.0 * u), main)])?;
    if ears == Ears::Floppy {
        inked(c, &ear_parts.map(|(shape, colour)| (shape, colour.scale(0.8))))?;
    }
    if front {
        let mut face = vec![
            (Shape::ellipse(b.cx, b.y(29.0), 5.5 * u, 4.0 * u), hide.pale),
            (Shape::ellipse(b.cx, b.y(27.2), 1.8 * u, 1.2 * u), INK),
            (Shape::capsule((b.cx, b.y(28.0)), (b.cx, b.y(30.5)), 0.3 * u), INK),
        ];
        for s in [-1.0, 1.0] {
            face.extend(round_eye(b.cx + s * 4.6 * u * f.face_w, b.y(22.0), u, 0.0));
        }
        filled(c, &face)?;
    }
    if horn {
        let spike = vec![
            (b.cx - 1.6 * u, b.y(15.0)),
            (b.cx + 1.6 * u, b.y(15.0)),
            (b.cx, b.y(3.0)),
        ];
        inked(c, &[(Shape::Polygon(spike), GOLD)])?;
    }
    neckwear(c, b, hide, (b.cx - 8.0 * u, b.cx + 8.0 * u), b.y(36.0))
}

/// One ear on side `s` at (`x`, `y`).
fn ear(ears: Ears, x: f32, y: f32, u: f32, s: f32) -> Shape {
    match ears {
        Ears::Pointed => Shape::Polygon(vec![
            (x - 4.0 * u, y + 2.0 * u),
            (x + 4.0 * u, y + 2.0 * u),
            (x + s * 2.0 * u, y - 9.0 * u),
        ]),
        Ears::Round => Shape::circle(x + s * u, y, 4.0 * u),
        Ears::Long => Shape::ellipse(x - s * u, y - 9.0 * u, 2.8 * u, 10.0 * u),
        Ears::Floppy => Shape::ellipse(x + s * 4.0 * u, y + 10.0 * u, 3.5 * u, 8.0 * u),
    }
}

/// A four-legged animal standing, facing right.
fn beast_side(c: &mut Canvas, b: &Body, hide: Hide, ears: Ears, horn: bool) -> Result<()> {
    let u = b.u;
    let far = hide.main.scale(0.85);
    let leg = |x: f32, shade: Rgb| {
        (
            Shape::capsule((b.cx + x * u, b.y(66.0)), (b.cx + (x + 1.0) * u, b.y(95.0)), 3.0 * u),
            shade,
        )
    };
    inked(
        c,
        &[
            (
                Shape::capsule((b.cx - 17.0 * u, b.y(58.0)), (b.cx - 25.0 * u, b.y(44.0)), 2.4 * u),
                hide.main,
            ),
            leg(-11.0, far),
            leg(9.0, far),
        ],
    )?;
    inked(
        c,
        &[
            (Shape::ellipse(b.cx - 2.0 * u, b.y(63.0), 18.0 * u, 11.0 * u), hide.main),
            leg(-8.0, hide.main),
            leg(12.0, hide.main),
            (
                Shape::capsule((b.cx + 10.0 * u, b.y(58.0)), (b.cx + 14.0 * u, b.y(44.0)), 5.0 * u),
                hide.main,
            ),
        ],
    )?;
    let at = (b.cx + 12.0 * u, b.y(34.0));
    let ear_shape = ear(ears, at.0, at.1, u, 1.0);
    if ears != Ears::Floppy {
        inked(c, &[(ear_shape.clone(), hide.main)])?;
    }
    inked(
        c,
        &[
            (Shape::ellipse(b.cx + 15.0 * u, b.y(40.0), 8.0 * u, 7.5 * u), hide.main),
            (Shape::ellipse(b.cx + 21.5 * u, b.y(43.0), 5.5 * u, 3.6 * u), hide.pale),
        ],
    )?;
    if ears == Ears::Floppy {
        inked(c, &[(ear_shape, hide.dark)])?;
    }
    let mut face = vec![(Shape::circle(b.cx + 26.5 * u, b.y(42.0), 1.3 * u), INK)];
    face.extend(round_eye(b.cx + 17.0 * u, b.y(38.0), u, 0.5));
    filled(c, &face)?;
    if horn {
        let spike = vec![
            (b.cx + 15.0 * u, b.y(34.0)),
            (b.cx + 18.0 * u, b.y(34.0)),
            (b.cx + 21.0 * u, b.y(23.0)),
        ];
        inked(c, &[(Shape::Polygon(spike), GOLD)])?;
    }
    let collar = Shape::capsule((b.cx + 9.5 * u, b.y(51.0)), (b.cx + 17.0 * u, b.y(48.0)), 2.0 * u);
    inked(c, &[(collar, hide.scarf)])
}

/// A bird standing: an egg of a body, wings, a round head with a beak, and feet; an owl has
/// ear tufts and big eyes.
pub(super) fn draw_bird(c: &mut Canvas, view: View, f: &Features, b: &Body, hide: Hide, owl: bool) -> Result<()> {
    let u = b.u;
    let side = view == View::Side;
    let (hx, half) = if side {
        (b.cx + 3.0 * u, 13.0 * u)
    } else {
        (b.cx, 15.0 * u * b.breadth)
    };
    let body = Shape::ellipse(b.cx, b.y(60.0), half, 27.0 * u);
    let tail = if side {
        Shape::Polygon(vec![
            (b.cx - 9.0 * u, b.y(72.0)),
            (b.cx - 22.0 * u, b.y(88.0)),
            (b.cx - 13.0 * u, b.y(91.0)),
        ])
    } else {
        Shape::Polygon(vec![
            (b.cx - 6.0 * u, b.y(80.0)),
            (b.cx + 6.0 * u, b.y(80.0)),
            (b.cx, b.y(95.0)),
        ])
    };
    let feet: Vec<f32> = if side { vec![0.0] } else { vec![-4.5, 4.5] };
    let mut behind: Vec<(Shape, Rgb)> = feet
        .iter()
        .map(|&h| {
            (
                Shape::capsule((b.cx + h * u, b.y(84.0)), (b.cx + (h + 1.0) * u, b.y(96.0)), 1.2 * u),
                BEAK,
            )
        })
        .collect();
    if view != View::Front {
        behind.push((tail, hide.dark));
    }
    inked(c, &behind)?;
    let main = if view == View::Back {
        hide.main.scale(0.92)
    } else {
        hide.main
    };
    inked(c, &[(body.clone(), main)])?;
    let mut parts = Vec::new();
    match view {
        View::Front => parts.push((
            Shape::ellipse(b.cx, b.y(64.0), 9.5 * u * b.breadth, 20.0 * u),
            hide.pale,
        )),
        View::Side => parts.push((
            Shape::ellipse(b.cx + 6.0 * u, b.y(64.0), 6.0 * u, 20.0 * u).and(body),
            hide.pale,
        )),
        View::Back => {}
    }
    filled(c, &parts)?;
    let wings: Vec<(Shape, Rgb)> = if side {
        vec![(Shape::ellipse(b.cx - 3.0 * u, b.y(58.0), 8.0 * u, 16.0 * u), hide.dark)]
    } else {
        [-1.0, 1.0]
            .map(|s| (Shape::ellipse(b.x(s * 14.0), b.y(58.0), 5.0 * u, 17.0 * u), hide.dark))
            .into()
    };
    inked(c, &wings)?;
    let r = if owl { 13.0 } else { 10.5 } * u * f.face_w;
    if owl {
        let tufts = [-1.0, 1.0].map(|s| {
            let x = |h: f32| hx + s * h * u;
            (
                Shape::Polygon(vec![(x(4.0), b.y(18.0)), (x(11.0), b.y(20.0)), (x(10.0), b.y(9.0))]),
                hide.main,
            )
        });
        inked(c, &tufts)?;
    }
    inked(c, &[(Shape::ellipse(hx, b.y(26.0), r, 10.5 * u), main)])?;
    let mut face = Vec::new();
    match view {
        View::Front => {
            let (dx, size) = if owl { (5.5, 1.8) } else { (4.5, 1.0) };
            for s in [-1.0, 1.0] {
                if owl {
                    face.push((Shape::circle(hx + s * dx * u, b.y(24.0), 4.5 * u), hide.pale));
                }
                face.extend(round_eye(hx + s * dx * u, b.y(24.0), size * u, 0.0));
            }
            face.push((
                Shape::Polygon(vec![
                    (hx - 2.0 * u, b.y(28.0)),
                    (hx + 2.0 * u, b.y(28.0)),
                    (hx, b.y(33.0)),
                ]),
                BEAK,
            ));
        }
        View::Side => {
            face.extend(round_eye(hx + 4.0 * u, b.y(24.0), if owl { 1.6 } else { 1.0 } * u, 0.5));
            let tip = hx + r + 6.0 * u;
            face.push((
                Shape::Polygon(vec![
                    (hx + r - 1.0 * u, b.y(24.5)),
                    (hx + r - 1.0 * u, b.y(29.5)),
                    (tip, b.y(27.5)),
                ]),
                BEAK,
            ));
        }
        View::Back => {}
    }
    filled(c, &face)?;
    let reach = if side { 10.0 } else { 11.0 * b.breadth };
    neckwear(c, b, hide, (hx - reach * u, hx + reach * u), b.y(37.5))
}
