//! Robots: plating, a boxy head with an antenna and lamp eyes, jointed arms and column legs,
//! wearing the outfit as panels over the plating and holding the props as a person does.

use candle_core::Result;
use showrunner_backend::View;

use super::face::filled;
use super::look::{Features, Garment, Outfit};
use super::portrait::{Body, inked, skirt};
use super::props::{draw_props, prop_parts};
use crate::raster::{Canvas, Rgb, Shape};

/// The robot's colours: plating, joints, lamps.
#[derive(Debug, Clone, Copy)]
struct Metal {
    plate: Rgb,
    joint: Rgb,
    lamp: Rgb,
}

/// Draws a robot seen from `view`.
pub(super) fn draw_robot(c: &mut Canvas, view: View, f: &Features, o: &Outfit, b: &Body, plate: Rgb) -> Result<()> {
    let m = Metal {
        plate,
        joint: plate.scale(0.68),
        lamp: f.eyes.mix(Rgb(1.0, 0.97, 0.8), 0.65),
    };
    match view {
        View::Front => front(c, f, o, b, m),
        View::Side => side(c, f, o, b, m),
        View::Back => back(c, f, o, b, m),
    }
}

fn front(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body, m: Metal) -> Result<()> {
    let u = b.u;
    legs(c, b, m, [-6.0, 6.0], 1.0)?;
    torso(c, o, b, m)?;
    let mut clothes = Vec::new();
    match o.garment {
        Garment::Coat | Garment::Jacket => {
            for s in [-1.0, 1.0] {
                clothes.push(Shape::round_rect(
                    b.x(s * 12.6).min(b.x(s * 3.8)),
                    b.y(21.0),
                    b.x(s * 12.6).max(b.x(s * 3.8)),
                    b.y(56.5),
                    2.0 * u,
                ));
            }
        }
        Garment::Top => clothes.push(Shape::round_rect(b.x(-12.4), b.y(31.0), b.x(12.4), b.y(56.5), 2.0 * u)),
        Garment::Overalls | Garment::Dress => {
            clothes.push(Shape::round_rect(b.x(-8.0), b.y(29.0), b.x(8.0), b.y(55.0), 1.5 * u));
            for s in [-1.0, 1.0] {
                clothes.push(Shape::capsule(
                    (b.x(s * 6.5), b.y(30.0)),
                    (b.x(s * 9.5), b.y(21.0)),
                    0.9 * u,
                ));
            }
        }
    }
    inked(c, &[(Shape::Union(clothes), o.clothing)])?;
    filled(c, &[(Shape::circle(b.cx, b.y(25.0), 1.5 * u), m.lamp)])?;
    arms(c, b, m)?;
    draw_props(c, o, b, 1.0)?;
    head(c, f, b, m, Face::Front)
}

fn back(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body, m: Metal) -> Result<()> {
    let u = b.u;
    legs(c, b, m, [-6.0, 6.0], 1.0)?;
    torso(c, o, b, m)?;
    let clothes = match o.garment {
        Garment::Coat | Garment::Jacket => Shape::round_rect(b.x(-12.6), b.y(21.0), b.x(12.6), b.y(56.5), 2.0 * u),
        Garment::Top => Shape::round_rect(b.x(-12.4), b.y(31.0), b.x(12.4), b.y(56.5), 2.0 * u),
        Garment::Overalls | Garment::Dress => Shape::Union(vec![
            Shape::capsule((b.x(-7.0), b.y(21.0)), (b.x(6.0), b.y(40.0)), 0.9 * u),
            Shape::capsule((b.x(7.0), b.y(21.0)), (b.x(-6.0), b.y(40.0)), 0.9 * u),
            Shape::rect(b.x(-12.0), b.y(40.0), b.x(12.0), b.y(43.0)),
        ]),
    };
    if matches!(o.garment, Garment::Top | Garment::Overalls | Garment::Dress) {
        let plate = Shape::round_rect(b.cx - 6.0 * u, b.y(24.0), b.cx + 6.0 * u, b.y(38.0), 1.5 * u);
        inked(c, &[(plate, m.joint)])?;
        let bolts: Vec<_> = [(-4.5, 25.5), (4.5, 25.5), (-4.5, 36.5), (4.5, 36.5)]
            .map(|(h, v)| (Shape::circle(b.cx + h * u, b.y(v), 0.7 * u), m.plate))
            .into();
        filled(c, &bolts)?;
    }
    inked(c, &[(clothes, o.clothing)])?;
    arms(c, b, m)?;
    draw_props(c, o, b, -1.0)?;
    head(c, f, b, m, Face::Back)
}

fn side(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body, m: Metal) -> Result<()> {
    let u = b.u;
    let narrow = Body {
        breadth: b.breadth * 0.6,
        ..*b
    };
    legs(c, &narrow, m, [-3.0, 2.0], 1.6)?;
    torso(c, o, &narrow, m)?;
    let clothes = match o.garment {
        Garment::Coat | Garment::Jacket => {
            Shape::round_rect(narrow.x(-12.6), b.y(22.0), narrow.x(12.6), b.y(56.5), 2.0 * u)
        }
        Garment::Top => Shape::round_rect(narrow.x(-12.4), b.y(31.0), narrow.x(12.4), b.y(56.5), 2.0 * u),
        Garment::Overalls | Garment::Dress => {
            Shape::round_rect(narrow.x(4.0), b.y(29.0), narrow.x(12.8), b.y(55.0), 1.5 * u)
        }
    };
    inked(c, &[(clothes, o.clothing)])?;
    let hand = (b.cx + 1.5 * u + b.sway * 0.5, b.y(50.0));
    inked(
        c,
        &[
            (Shape::circle(b.cx - 0.5 * u, b.y(24.0), 2.8 * u), m.joint),
            (Shape::capsule((b.cx - 0.5 * u, b.y(25.0)), hand, 2.4 * u), m.plate),
            (Shape::circle(hand.0, hand.1 + 1.5 * u, 3.0 * u), m.joint),
        ],
    )?;
    if let Some(prop) = o.props.first() {
        inked(c, &prop_parts(prop, (hand.0, hand.1 + 1.5 * u), u, 1.0))?;
    }
    head(c, f, b, m, Face::Side)
}

/// The two leg columns at `at` (horizontal offsets) with their feet, pushed `toe` units forward.
fn legs(c: &mut Canvas, b: &Body, m: Metal, at: [f32; 2], toe: f32) -> Result<()> {
    let u = b.u;
    for (i, h) in at.into_iter().enumerate() {
        let shade = if i == 0 && toe > 1.0 { 0.85 } else { 1.0 };
        let (x0, x1) = (b.x(h) - 3.0 * u, b.x(h) + 3.0 * u);
        inked(
            c,
            &[
                (Shape::rect(x0, b.y(54.0), x1, b.y(93.0)), m.joint.scale(shade)),
                (
                    Shape::round_rect(x0 - 1.5 * u, b.y(91.5), x1 + 1.5 * u * toe * toe, b.y(98.0), u),
                    m.plate.scale(0.8 * shade),
                ),
            ],
        )?;
    }
    Ok(())
}

/// The neck, a long garment's skirt, and the plated torso.
fn torso(c: &mut Canvas, o: &Outfit, b: &Body, m: Metal) -> Result<()> {
    let u = b.u;
    inked(
        c,
        &[(
            Shape::rect(b.cx - 2.5 * u, b.y(15.0), b.cx + 2.5 * u, b.y(21.0)),
            m.joint,
        )],
    )?;
    if let Some(skirt) = skirt(o.garment, b) {
        inked(c, &[(skirt, o.clothing)])?;
    }
    inked(
        c,
        &[(
            Shape::round_rect(b.x(-12.0), b.y(20.0), b.x(12.0), b.y(56.0), 3.0 * u),
            m.plate,
        )],
    )
}

/// Both arms: shoulder joints, plated arms and gripper hands where a person's hands are.
fn arms(c: &mut Canvas, b: &Body, m: Metal) -> Result<()> {
    let u = b.u;
    for s in [-1.0f32, 1.0] {
        let hand = (b.x(s * 14.5) + s * b.sway, b.y(50.0));
        inked(
            c,
            &[
                (Shape::circle(b.x(s * 12.5), b.y(24.0), 2.8 * u), m.joint),
                (Shape::capsule((b.x(s * 13.0), b.y(25.0)), hand, 2.4 * u), m.plate),
                (Shape::circle(hand.0, hand.1 + 1.5 * u, 3.0 * u), m.joint),
            ],
        )?;
    }
    Ok(())
}

/// Which way the head faces the viewer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Face {
    Front,
    Side,
    Back,
}

/// The antenna, the box of the head, its bolts, and the lamp eyes and grille of a face.
fn head(c: &mut Canvas, f: &Features, b: &Body, m: Metal, face: Face) -> Result<()> {
    let u = b.u;
    let half = if face == Face::Side { 6.0 } else { 7.5 } * u * f.face_w;
    let top = b.y(2.5);
    inked(
        c,
        &[
            (Shape::capsule((b.cx, b.y(-1.0)), (b.cx, top), 0.5 * u), m.joint),
            (Shape::circle(b.cx, b.y(-1.0), 1.4 * u), m.lamp),
        ],
    )?;
    let bolts: Vec<f32> = match face {
        Face::Side => vec![b.cx - 1.0 * u],
        _ => vec![b.cx - half - 0.6 * u, b.cx + half + 0.6 * u],
    };
    let mut parts: Vec<(Shape, Rgb)> = bolts
        .into_iter()
        .map(|x| (Shape::circle(x, b.y(9.5), 1.6 * u), m.joint))
        .collect();
    parts.insert(
        0,
        (
            Shape::round_rect(b.cx - half, top, b.cx + half, b.y(16.5), 2.5 * u),
            m.plate,
        ),
    );
    inked(c, &parts)?;
    let (eyes, grille): (Vec<(f32, f32)>, (f32, f32)) = match face {
        Face::Front => (vec![(-5.2, -1.6), (1.6, 5.2)], (-4.0, 4.0)),
        Face::Side => (vec![(2.8, half / u - 0.4)], (3.0, half / u - 0.4)),
        Face::Back => {
            let vents = [11.0, 13.0, 15.0].map(|v| {
                (
                    Shape::capsule((b.cx - 4.0 * u, b.y(v)), (b.cx + 4.0 * u, b.y(v)), 0.4 * u),
                    m.joint,
                )
            });
            return filled(c, &vents);
        }
    };
    let mut face_parts: Vec<(Shape, Rgb)> = eyes
        .into_iter()
        .map(|(a, z)| {
            (
                Shape::round_rect(b.cx + a * u, b.y(7.0), b.cx + z * u, b.y(10.5), 0.8 * u),
                m.lamp,
            )
        })
        .collect();
    let (a, z) = grille;
    face_parts.push((Shape::rect(b.cx + a * u, b.y(12.5), b.cx + z * u, b.y(14.6)), m.joint));
    for k in 1..4 {
        let x = b.cx + (a + (z - a) * k as f32 / 4.0) * u;
        face_parts.push((Shape::rect(x - 0.2 * u, b.y(12.5), x + 0.2 * u, b.y(14.6)), m.plate));
    }
    filled(c, &face_parts)
}
